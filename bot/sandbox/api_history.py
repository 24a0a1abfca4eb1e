"""Emulated conversations.history and conversations.replies: Slack's order, time window, cursors and threads."""

from __future__ import annotations

import base64
import binascii
from decimal import Decimal, InvalidOperation
from typing import Callable

from bot.sandbox.api_common import ApiError, channel_arg, flag, message_dict
from bot.sandbox.state import Channel, Message, State

HISTORY_LIMIT = (100, 999)  # (default, maximum): Slack quietly clamps larger limits
REPLIES_LIMIT = (1000, 1000)


def _limit(args: dict, default: int, maximum: int) -> int:
    try:
        limit = int(args.get("limit") or default)
    except (TypeError, ValueError):
        limit = default
    return min(limit, maximum) if limit > 0 else default


def _ts_arg(args: dict, name: str) -> Decimal | None:
    value = args.get(name)
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ApiError(f"invalid_ts_{name}") from None


def _window(args: dict) -> Callable[[str], bool]:
    """Whether a ts is inside oldest..latest; `inclusive` only matters at those two edges."""
    oldest, latest = _ts_arg(args, "oldest") or Decimal(0), _ts_arg(args, "latest")
    inclusive = flag(args, "inclusive")

    def inside(ts: str) -> bool:
        value = Decimal(ts)
        after = value >= oldest if inclusive else value > oldest
        before = latest is None or (value <= latest if inclusive else value < latest)
        return after and before

    return inside


def encode_cursor(ts: str) -> str:
    """Slack's history cursors are base64 of `next_ts:<ts without the dot>`, naming the next message."""
    return base64.b64encode(f"next_ts:{ts.replace('.', '')}".encode()).decode()


def _cursor(args: dict) -> Decimal | None:
    raw = args.get("cursor")
    if not raw:
        return None
    try:
        text = base64.b64decode(str(raw), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError("invalid_cursor") from None
    digits = text.removeprefix("next_ts:")
    if not text.startswith("next_ts:") or not digits.isdigit() or len(digits) <= 6:
        raise ApiError("invalid_cursor")
    return Decimal(f"{digits[:-6]}.{digits[-6:]}")


def _readable_channel(state: State, args: dict) -> Channel:
    """The conversation to read: Slack wants a conversation id here and a bot that is a member of it."""
    channel = channel_arg(state, args, allow_user=False)
    if state.bot_user_id not in channel.members:
        raise ApiError("not_in_channel")
    return channel


def _is_reply(message: Message) -> bool:
    return message.thread_ts is not None and message.thread_ts != message.ts


def _threads(state: State, channel_id: str) -> dict[str, list[Message]]:
    """Replies of a channel by parent ts, oldest first (built once per call: channels can be long)."""
    threads: dict[str, list[Message]] = {}
    for message in sorted(state.messages.get(channel_id, []), key=lambda m: Decimal(m.ts)):
        if _is_reply(message):
            threads.setdefault(message.thread_ts or "", []).append(message)
    return threads


def thread_message_dict(state: State, message: Message, threads: dict[str, list[Message]], *,
                        metadata: bool = False) -> dict:
    """A message as history and replies show it: with thread counters on parents and links on replies."""
    data = message_dict(state, message, metadata=metadata)
    replies = [] if _is_reply(message) else threads.get(message.ts, [])
    if replies:
        users = list(dict.fromkeys(m.user for m in replies))
        data.update(thread_ts=message.ts, reply_count=len(replies), reply_users_count=len(users),
                    reply_users=users, latest_reply=replies[-1].ts, is_locked=False, subscribed=False)
    if _is_reply(message):
        parent = state.find_message(message.channel, message.thread_ts or "")
        if parent is not None:
            data["parent_user_id"] = parent.user
        if message.reply_broadcast:
            data["subtype"] = "thread_broadcast"
            if parent is not None:
                data["root"] = thread_message_dict(state, parent, threads, metadata=metadata)
    return data


def _page(found: list[Message], limit: int) -> tuple[list[Message], dict]:
    page, rest = found[:limit], found[limit:]
    next_cursor = encode_cursor(rest[0].ts) if rest else ""
    return page, {"has_more": bool(rest), "response_metadata": {"next_cursor": next_cursor}}


def conversations_history(state: State, args: dict) -> dict:
    channel = _readable_channel(state, args)
    limit, inside, start = _limit(args, *HISTORY_LIMIT), _window(args), _cursor(args)
    with_metadata = flag(args, "include_all_metadata")
    with state.lock:
        # Thread replies stay in their thread unless they were also sent to the channel.
        found = [m for m in state.messages.get(channel.id, [])
                 if (not _is_reply(m) or m.reply_broadcast) and inside(m.ts)
                 and (start is None or Decimal(m.ts) <= start)]
        found.sort(key=lambda m: Decimal(m.ts), reverse=True)
        page, paging = _page(found, limit)
        threads = _threads(state, channel.id)
        messages = [thread_message_dict(state, m, threads, metadata=with_metadata) for m in page]
    return {"messages": messages, **paging, "pin_count": 0}


def conversations_replies(state: State, args: dict) -> dict:
    channel = _readable_channel(state, args)
    ts = args.get("ts")
    if ts in (None, ""):
        raise ApiError("invalid_arguments", response_metadata={"messages": ["[ERROR] missing required field: ts"]})
    limit, inside, start = _limit(args, *REPLIES_LIMIT), _window(args), _cursor(args)
    with_metadata = flag(args, "include_all_metadata")
    with state.lock:
        named = state.find_message(channel.id, str(ts))
        # A reply's ts names its whole thread, as the parent's does.
        parent = state.find_message(channel.id, named.thread_ts or "") if named and _is_reply(named) else named
        if parent is None:
            raise ApiError("thread_not_found")
        threads = _threads(state, channel.id)
        replies = [m for m in threads.get(parent.ts, [])
                   if inside(m.ts) and (start is None or Decimal(m.ts) >= start)]
        # The parent heads the first page only (and counts against its limit); later pages are replies.
        found = replies if start is not None else [parent, *replies]
        page, paging = _page(found, limit)
        messages = [thread_message_dict(state, m, threads, metadata=with_metadata) for m in page]
    return {"messages": messages, **paging}


HANDLERS = {
    "conversations.history": conversations_history,
    "conversations.replies": conversations_replies,
}
