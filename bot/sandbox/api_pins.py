"""Emulated pins.add: Slack's arguments (channel, timestamp) and answers, pins recorded per channel."""

from __future__ import annotations

from bot.sandbox.api_common import ApiError, channel_arg, require
from bot.sandbox.state import State


def add(state: State, args: dict) -> dict:
    channel = channel_arg(state, args, allow_user=False)
    ts = require(args, "timestamp", "no_item_specified")
    if state.bot_user_id not in channel.members:
        raise ApiError("not_in_channel")
    if state.find_message(channel.id, ts) is None:
        raise ApiError("message_not_found")
    with state.lock:
        pinned = state.pins.setdefault(channel.id, [])
        if ts in pinned:
            raise ApiError("already_pinned")
        pinned.append(ts)
    return {}


HANDLERS = {"pins.add": add}
