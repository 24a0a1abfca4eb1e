"""Render recorded sandbox traffic as a readable conversation (for `partnerbot demo`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from bot.sandbox import blockkit
from bot.sandbox.state import Call, Channel, Inbound, Team, User

if TYPE_CHECKING:
    from bot.sandbox.state import State

RENDERED_CALLS = {"chat.postMessage", "chat.update", "chat.postEphemeral", "chat.delete", "views.open",
                  "views.push", "views.update", "views.publish", "response_url", "pins.add",
                  "files.completeUploadExternal"}
_LINK = re.compile(r"<([^<>]+)>")


@dataclass(frozen=True)
class Directory:
    """Names the transcript needs: our team, the bot, and who/where everything is."""

    team_id: str
    bot_user_id: str
    teams: dict[str, Team]
    users: dict[str, User]
    channels: dict[str, Channel]

    @classmethod
    def of(cls, state: State) -> Directory:
        with state.lock:
            return cls(state.team_id, state.bot_user_id, dict(state.teams), dict(state.users), dict(state.channels))


def who(directory: Directory, user_id: str | None) -> str:
    """`Dana (Northwind, external)`, `Alex (AE)`, `Partnerbot` or the raw id."""
    user = directory.users.get(user_id or "")
    if user is None:
        return user_id or "someone"
    if user.id == directory.bot_user_id:
        return user.real_name
    if user.team_id != directory.team_id:
        team = directory.teams.get(user.team_id)
        return f"{user.real_name} ({team.name if team else user.team_id}, external)"
    return f"{user.real_name} ({user.title})" if user.title else user.real_name


def where(directory: Directory, channel_id: str | None) -> str:
    """`#partner-northwind`, `DM to Alex (AE)` or the raw id."""
    channel = directory.channels.get(channel_id or "")
    if channel is None:
        return channel_id or "?"
    if channel.is_im:
        return f"DM to {who(directory, channel.user)}"
    return f"#{channel.name}"


def readable(directory: Directory, text: str) -> str:
    """mrkdwn with Slack's <…> references turned into names and entities unescaped."""

    def replace(match: re.Match) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            return "@" + (label or who(directory, target[1:]).split(" (")[0])
        if target.startswith("#"):
            channel = directory.channels.get(target[1:])
            return "#" + (label or (channel.name if channel else target[1:]))
        if target.startswith("!"):
            name = target[1:].split("^")[0]
            return label or f"@{name}"
        if target.startswith("mailto:"):
            return label or target[7:]
        return f"{label} ({target})" if label and label != target else target

    text = _LINK.sub(replace, text or "")
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _body(directory: Directory, text: str, blocks: list[dict]) -> list[str]:
    lines = blockkit.flatten(blocks) if blocks else [text]
    out: list[str] = []
    for line in lines:
        out.extend(readable(directory, line).splitlines() or [""])
    return out or [""]


def _said(prefix: str, body: list[str]) -> list[str]:
    return [prefix + body[0]] + ["    " + line for line in body[1:]]


def render_call(directory: Directory, call: Call) -> list[str]:
    """Lines for one outgoing Web API call (empty for calls a reader does not care about)."""
    if call.method not in RENDERED_CALLS:
        return []
    if not call.ok:
        return [f"  ✗ {call.method} failed: {call.response.get('error')}"]
    args, bot = call.args, who(directory, directory.bot_user_id)
    blocks = args.get("blocks") if isinstance(args.get("blocks"), list) else []
    if call.method == "chat.postMessage":
        thread = "(thread) " if args.get("thread_ts") else ""
        return _said(f"{where(directory, call.response.get('channel'))}  {bot} → {thread}",
                     _body(directory, args.get("text", ""), blocks))
    if call.method == "chat.update":
        return _said(f"{where(directory, call.response.get('channel'))}  {bot} ✎ edited: ",
                     _body(directory, args.get("text", ""), blocks))
    if call.method == "chat.postEphemeral":
        return _said(f"{where(directory, args.get('channel'))}  {bot} → only {who(directory, args.get('user'))}"
                     " sees: ", _body(directory, args.get("text", ""), blocks))
    if call.method == "chat.delete":
        return [f"{where(directory, args.get('channel'))}  {bot} deleted a message"]
    if call.method == "files.completeUploadExternal":
        titles = ", ".join(str(f.get("title") or f.get("id")) for f in call.response.get("files") or [])
        return [f"{where(directory, args.get('channel_id'))}  {bot} 📎 shared a file: {titles}"]
    if call.method == "pins.add":
        return [f"{where(directory, args.get('channel'))}  {bot} 📌 pinned the message above"]
    if call.method == "response_url":
        context = args.get("_context", {})
        kind = "→" if args.get("response_type") == "in_channel" else \
            f"→ only {who(directory, context.get('user'))} sees:"
        if args.get("replace_original"):
            kind = "✎ replaced the message:"
        return _said(f"{where(directory, context.get('channel'))}  {bot} {kind} ",
                     _body(directory, args.get("text", ""), blocks))
    return _render_view(directory, call)


def _render_view(directory: Directory, call: Call) -> list[str]:
    view = call.response.get("view") or {}
    title = blockkit.plain(view.get("title"))
    lines = [part for line in blockkit.flatten(view.get("blocks") or [])
             for part in readable(directory, line).splitlines() or [""]]
    if view.get("submit"):
        lines.append(f"[{blockkit.plain(view['submit'])}]")
    owner = who(directory, call.args.get("user_id")) if call.method == "views.publish" else None
    heading = {
        "views.open": f'  ▭ modal "{title}"',
        "views.push": f'  ▭ modal pushed "{title}"',
        "views.update": f'  ▭ modal updated "{title}"' if view.get("type") == "modal" else "  ▭ Home tab updated",
        "views.publish": f"Home tab for {owner}",
    }[call.method]
    return [heading] + ["    " + line for line in lines]


def render_inbound(directory: Directory, entry: Inbound) -> list[str]:
    """Lines for one request the driver sent (a person acting in Slack)."""
    actor, place, detail = who(directory, entry.user), where(directory, entry.channel), entry.detail
    if entry.kind == "command":
        line = f"{place}  {actor} ran {detail['command']} {detail.get('text', '')}".rstrip()
    elif entry.kind == "click":
        target = f"[{detail.get('label')}]"
        line = (f"{place}  {actor} clicked {target}" if entry.channel
                else f'  ▭ {actor} clicked {target} in "{detail.get("view", "")}"')
        if detail.get("confirm"):
            answer = "cancelled" if detail.get("cancelled") else "confirmed"
            line += f' and {answer} “{detail["confirm"]}”'
        if detail.get("cancelled"):
            return [line]
    elif entry.kind == "shortcut":
        line = f"{place}  {actor} ran the shortcut {detail.get('callback_id')} on a message"
    elif entry.kind == "submit":
        line = f'  ▭ {actor} submitted "{detail.get("title")}"'
        if detail.get("outcome") == "errors":
            errors = "; ".join(f"{k}: {v}" for k, v in (detail.get("errors") or {}).items())
            line += f" → errors: {errors}"
        if entry.status != 200:
            line += f"  ✗ app answered HTTP {entry.status}"
        return [line] + _typed(detail) + _answered_view(directory, detail)
    elif entry.kind == "close":
        line = f'  ▭ {actor} closed "{detail.get("title")}" with [{detail.get("close")}]'
        if entry.status not in (0, 200):
            line += f"  ✗ app answered HTTP {entry.status}"
        return [line]
    elif entry.kind == "event":
        line = _render_event(directory, entry, actor, place)
    else:
        return []
    if not line:
        return []
    if entry.status != 200:
        line += f"  ✗ app answered HTTP {entry.status}"
    return [line]


def _typed(detail: dict) -> list[str]:
    """What the user had typed or chosen in the submitted modal, one field a line."""
    return [f"      {label}: {shown}".replace("\n", " ⏎ ") for label, shown in detail.get("fields") or []]


def _answered_view(directory: Directory, detail: dict) -> list[str]:
    """The view the app answered a submission with (`response_action` update or push)."""
    view = detail.get("view")
    if not isinstance(view, dict):
        return []
    verb = "pushed" if detail.get("outcome") == "pushed" else "updated"
    lines = [f'  ▭ modal {verb} "{blockkit.plain(view.get("title"))}"']
    lines += ["    " + part for line in blockkit.flatten(view.get("blocks") or [])
              for part in readable(directory, line).splitlines() or [""]]
    buttons = [blockkit.plain(view.get(key)) for key in ("submit", "close") if view.get(key)]
    if buttons:
        lines.append("    " + " ".join(f"[{b}]" for b in buttons))
    return lines


def _render_event(directory: Directory, entry: Inbound, actor: str, place: str) -> str:
    detail = entry.detail
    retry = f" (retry {detail['retry']})" if detail.get("retry") else ""
    if detail.get("type") == "app_mention":
        return f"{place}  {actor}: {readable(directory, detail.get('text') or '')}{retry}"
    if detail.get("type") == "member_joined_channel":
        return f"{place}  {actor} joined the channel{retry}"
    if detail.get("type") == "app_home_opened":
        return f"Home tab  {actor} opened the Home tab{retry}"
    if detail.get("type") == "message" and detail.get("subtype") == "message_deleted":
        return f"{place}  {actor} deleted a message{retry}"
    if detail.get("type") == "message":
        thread = "(thread) " if detail.get("thread") else ""
        thread += "(edited) " if detail.get("subtype") == "message_changed" else ""
        return f"{place}  {actor} → {thread}{readable(directory, detail.get('text') or '')}{retry}"
    return f"(event {detail.get('type')}){retry}"


def render(directory: Directory, entries: Iterable[Call | Inbound]) -> list[str]:
    """Lines for recorded calls and inbound requests, in the order they happened."""
    lines: list[str] = []
    for entry in sorted(entries, key=lambda e: e.seq):
        lines.extend(render_inbound(directory, entry) if isinstance(entry, Inbound) else render_call(directory, entry))
    return lines


class Transcript:
    """Incremental view of a sandbox's traffic: `new_lines()` returns what happened since the last call."""

    def __init__(self, state: State) -> None:
        self.state = state
        self._calls_seen = 0
        self._inbound_seen = 0
        self._generation = state.generation

    def lines(self) -> list[str]:
        with self.state.lock:
            entries = list(self.state.calls) + list(self.state.inbound)
        return render(Directory.of(self.state), entries)

    def new_lines(self) -> list[str]:
        with self.state.lock:
            if self.state.generation != self._generation:  # the sandbox was reset
                self._calls_seen = self._inbound_seen = 0
                self._generation = self.state.generation
            calls = self.state.calls[self._calls_seen:]
            inbound = self.state.inbound[self._inbound_seen:]
            self._calls_seen += len(calls)
            self._inbound_seen += len(inbound)
        return render(Directory.of(self.state), list(calls) + list(inbound))
