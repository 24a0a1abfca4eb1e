"""Helpers shared by the emulated Web API methods: errors, argument parsing and Slack-shaped objects."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from bot.sandbox.state import Channel, Message, State, View


class ApiError(Exception):
    """Answer `{"ok": false, "error": code, **extra}` (HTTP 200, as Slack does)."""

    def __init__(self, code: str, **extra: Any) -> None:
        super().__init__(code)
        self.code = code
        self.extra = extra


def invalid_blocks(errors: list[str], code: str = "invalid_blocks") -> ApiError:
    return ApiError(code, errors=errors, response_metadata={"messages": [f"[ERROR] {e}" for e in errors]})


def json_arg(args: dict, name: str) -> Any:
    """An argument that form-encoded callers send as a JSON string (blocks, view, attachments)."""
    value = args.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise ApiError(f"invalid_{name}_format" if name in ("blocks", "metadata") else "invalid_arguments") from None
    return value


def flag(args: dict, name: str) -> bool:
    value = args.get(name)
    return value is True or str(value).lower() in ("true", "1")


def require(args: dict, name: str, error: str = "invalid_arguments") -> str:
    value = args.get(name)
    if value in (None, ""):
        raise ApiError(error)
    return str(value)


def channel_arg(state: State, args: dict, name: str = "channel", *, allow_user: bool = True) -> Channel:
    """The channel an argument names; Slack answers `channel_not_found` for missing or unknown ids.

    A user id means the bot's DM only where Slack accepts one (chat.postMessage does, history does not)."""
    value = str(args.get(name) or "")
    channel = state.resolve_channel(value) if value and (allow_user or value in state.channels) else None
    # A private channel the bot is not in is invisible to it, so Slack cannot tell it from a missing one.
    if channel is None or (channel.is_private and state.bot_user_id not in channel.members):
        raise ApiError("channel_not_found")
    return channel


def message_dict(state: State, message: Message, *, metadata: bool = False) -> dict:
    """A message object as chat.* methods and interaction payloads show it (`metadata` when asked for)."""
    data: dict[str, Any] = {
        "type": "message",
        "user": message.user,
        "text": message.text,
        "ts": message.ts,
        "team": state.users[message.user].team_id if message.user in state.users else state.team_id,
        "blocks": message.blocks,
    }
    if message.bot_id:
        data.update(bot_id=message.bot_id, app_id=state.app_id)
    if message.thread_ts:
        data["thread_ts"] = message.thread_ts
    if message.edited:
        data["edited"] = {"user": message.user, "ts": message.ts}
    if metadata and message.metadata is not None:
        data["metadata"] = copy.deepcopy(message.metadata)
    if message.files:
        data["files"] = copy.deepcopy(message.files)
        data["upload"] = True
    return data


def view_hash(view_id: str, version: int) -> str:
    return f"{1700000000 + version}.{hashlib.sha1(f'{view_id}:{version}'.encode()).hexdigest()[:8]}"


def view_dict(state: State, view: View) -> dict:
    """A view object as views.* methods and interaction payloads show it."""
    data = {
        "id": view.id,
        "team_id": state.team_id,
        "type": view.type,
        "blocks": view.blocks,
        "private_metadata": view.private_metadata,
        "callback_id": view.callback_id,
        "state": {"values": {}},
        "hash": view.hash,
        "title": view.raw.get("title"),
        "clear_on_close": bool(view.raw.get("clear_on_close", False)),
        "notify_on_close": bool(view.raw.get("notify_on_close", False)),
        "close": view.raw.get("close"),
        "submit": view.raw.get("submit"),
        "previous_view_id": view.previous_view_id,
        "root_view_id": view.root_view_id,
        "app_id": state.app_id,
        "external_id": view.external_id,
        "app_installed_team_id": state.team_id,
        "bot_id": state.bot_id,
    }
    return data


def permalink(state: State, message: Message) -> str:
    domain = state.teams[state.team_id].domain
    link = f"https://{domain}.slack.com/archives/{message.channel}/p{message.ts.replace('.', '')}"
    if message.thread_ts and message.thread_ts != message.ts:
        link += f"?thread_ts={message.thread_ts}&cid={message.channel}"
    return link
