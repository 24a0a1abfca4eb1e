"""OAuth scopes and event subscriptions: what the bot is granted and subscribes to (manifest.yml by default),
and the scope each emulated method needs."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.sandbox.api_common import ApiError
from bot.sandbox.state import Channel, State

# The repository root is the parent of bot/; the manifest is what a real install would grant.
MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"

# Methods whose scope does not depend on the conversation they touch.
FIXED_SCOPES = {
    "chat.postMessage": "chat:write",
    "chat.postEphemeral": "chat:write",
    "chat.update": "chat:write",
    "chat.delete": "chat:write",
    "conversations.open": "im:write",
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
    "pins.add": "pins:write",
    "team.info": "team:read",
    "users.info": "users:read",
    "users.lookupByEmail": "users:read.email",
}
# Methods that need `<type>:<suffix>`, the type being that of the conversation (channels, groups, im).
TYPED_SCOPES = {
    "conversations.history": "history",
    "conversations.replies": "history",
    "conversations.info": "read",
    "conversations.members": "read",
}


def manifest_scopes(path: Path = MANIFEST) -> list[str]:
    """The bot scopes manifest.yml declares (oauth_config.scopes.bot), in its order."""
    manifest = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return list(((manifest.get("oauth_config") or {}).get("scopes") or {}).get("bot") or [])


def manifest_events(path: Path = MANIFEST) -> list[str]:
    """The bot events manifest.yml subscribes to (settings.event_subscriptions.bot_events), in its order."""
    manifest = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return list(((manifest.get("settings") or {}).get("event_subscriptions") or {}).get("bot_events") or [])


def manifest_message_shortcuts(path: Path = MANIFEST) -> list[str]:
    """The callback ids of the message shortcuts manifest.yml declares (features.shortcuts, type message)."""
    manifest = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    shortcuts = (manifest.get("features") or {}).get("shortcuts") or []
    return [s["callback_id"] for s in shortcuts if isinstance(s, dict) and s.get("type") == "message"]


def message_subscription(channel: Channel) -> str:
    """The subscription that delivers `message` events of a conversation: message.channels/groups/im."""
    return f"message.{conversation_type(channel)}"


def conversation_type(channel: Channel) -> str:
    """The scope prefix of a conversation: im, groups (private channels) or channels."""
    if channel.is_im:
        return "im"
    return "groups" if channel.is_private else "channels"


def accepted_scopes(method: str) -> list[str]:
    """What Slack lists in `x-accepted-oauth-scopes` for a method (empty when the sandbox does not know)."""
    if method in FIXED_SCOPES:
        return [FIXED_SCOPES[method]]
    if method in TYPED_SCOPES:
        return [f"{kind}:{TYPED_SCOPES[method]}" for kind in ("channels", "groups", "im", "mpim")]
    return []


def needed_scope(state: State, method: str, args: dict) -> str | None:
    """The scope this call needs and the bot lacks, or None; unknown channels are left to the method."""
    if method in FIXED_SCOPES:
        needed = FIXED_SCOPES[method]
    elif method in TYPED_SCOPES:
        value = args.get("channel")
        channel = state.resolve_channel(str(value)) if value else None
        if channel is None:
            return None  # the method itself answers channel_not_found
        needed = f"{conversation_type(channel)}:{TYPED_SCOPES[method]}"
    else:
        return None
    with state.lock:
        granted = set(state.scopes)
    return None if needed in granted else needed


def check_scope(state: State, method: str, args: dict) -> None:
    """Raise Slack's missing_scope answer when the bot was not granted what `method` needs here."""
    needed = needed_scope(state, method, args)
    if needed is not None:
        with state.lock:
            provided = ",".join(state.scopes)
        raise ApiError("missing_scope", needed=needed, provided=provided)
