"""Emulated chat.* methods and the `response_url` webhooks Slack hands to commands and actions."""

from __future__ import annotations

import copy
import re

from bot.sandbox import blockkit
from bot.sandbox.api_common import (
    ApiError,
    channel_arg,
    flag,
    invalid_blocks,
    json_arg,
    message_dict,
    permalink,
    require,
)
from bot.sandbox.state import Ephemeral, Message, State

MAX_TEXT = 40000
EVENT_TYPE = re.compile(r"[a-zA-Z0-9_]{1,255}")


def _content(args: dict, *, required: bool = True) -> tuple[str, list[dict]]:
    """(text, blocks) of a chat.* call, checked against Slack's limits."""
    text = args.get("text")
    blocks = json_arg(args, "blocks")
    if required and not text and not blocks:
        raise ApiError("no_text")
    if blocks is not None:
        errors = blockkit.validate_blocks(blocks, limit=blockkit.MAX_MESSAGE_BLOCKS)
        if errors:
            raise invalid_blocks(errors)
    if text and len(str(text)) > MAX_TEXT:
        raise ApiError("msg_too_long")
    return ("" if text is None else str(text)), blockkit.assign_ids(blocks or [])


def _metadata(args: dict) -> dict | None:
    """The `metadata` argument (an object, or a JSON string from form callers) checked as Slack checks it."""
    if args.get("metadata") in (None, ""):
        return None
    metadata = json_arg(args, "metadata")
    if not isinstance(metadata, dict):
        raise ApiError("invalid_metadata_format")
    event_type, payload = metadata.get("event_type"), metadata.get("event_payload")
    if not isinstance(event_type, str) or not EVENT_TYPE.fullmatch(event_type) or not isinstance(payload, dict):
        raise ApiError("invalid_metadata_schema")
    return {"event_type": event_type, "event_payload": copy.deepcopy(payload)}


def post_message(state: State, args: dict) -> dict:
    channel = channel_arg(state, args)
    text, blocks = _content(args)
    metadata = _metadata(args)
    if state.bot_user_id not in channel.members:
        raise ApiError("not_in_channel")
    thread_ts = args.get("thread_ts") or None
    message = Message(
        channel.id,
        state.next_ts(),
        text,
        blocks,
        state.bot_user_id,
        thread_ts=str(thread_ts) if thread_ts else None,
        bot_id=state.bot_id,
        reply_broadcast=flag(args, "reply_broadcast"),
        metadata=metadata,
    )
    with state.lock:
        state.messages.setdefault(channel.id, []).append(message)
    return {"channel": channel.id, "ts": message.ts, "message": message_dict(state, message, metadata=True)}


def _own_message(state: State, args: dict, refusal: str):
    """The bot's own message named by `channel` and `ts` (Slack refuses to edit anyone else's)."""
    channel = channel_arg(state, args)
    ts = require(args, "ts", "message_not_found")
    message = state.find_message(channel.id, ts)
    if message is None:
        raise ApiError("message_not_found")
    if message.user != state.bot_user_id:
        raise ApiError(refusal)
    return channel, ts, message


def update(state: State, args: dict) -> dict:
    channel, ts, message = _own_message(state, args, "cant_update_message")
    has_text, has_blocks = args.get("text") is not None, args.get("blocks") is not None
    text, blocks = _content(args, required=False)
    if not has_text and not has_blocks:
        raise ApiError("no_text")
    with state.lock:
        if has_text:
            message.text = text
        if has_blocks:
            message.blocks = blocks
        message.edited = True
    return {"channel": channel.id, "ts": ts, "text": message.text, "message": message_dict(state, message)}


def post_ephemeral(state: State, args: dict) -> dict:
    channel = channel_arg(state, args)
    user = require(args, "user", "user_not_found")
    if user not in state.users:
        raise ApiError("user_not_found")
    if user not in channel.members:
        raise ApiError("user_not_in_channel")
    text, blocks = _content(args)
    ephemeral = Ephemeral(channel.id, user, state.next_ts(), text, blocks, args.get("thread_ts") or None)
    with state.lock:
        state.ephemerals.append(ephemeral)
    return {"message_ts": ephemeral.ts}


def get_permalink(state: State, args: dict) -> dict:
    channel = channel_arg(state, args)
    message = state.find_message(channel.id, str(args.get("message_ts", "")))
    if message is None:
        raise ApiError("message_not_found")
    return {"channel": channel.id, "permalink": permalink(state, message)}


def delete(state: State, args: dict) -> dict:
    channel, ts, message = _own_message(state, args, "cant_delete_message")
    with state.lock:
        state.messages[channel.id].remove(message)
    return {"channel": channel.id, "ts": ts}


def response_url(state: State, token: str, body: dict) -> dict:
    """Apply a POST to a response_url the driver handed out (respond() in Bolt)."""
    context = state.response_urls.get(token)
    if context is None:
        raise ApiError("expired_url")
    channel_id, user = context["channel"], context["user"]
    if flag(body, "delete_original"):
        original = state.find_message(channel_id, context.get("message_ts") or "")
        if original is not None:
            with state.lock:
                state.messages[channel_id].remove(original)
        return {}
    text, blocks = _content(body)
    if flag(body, "replace_original") and context.get("message_ts"):
        original = state.find_message(channel_id, context["message_ts"])
        if original is None:
            raise ApiError("message_not_found")
        with state.lock:
            original.text, original.blocks, original.edited = text, blocks, True
        return {}
    if body.get("response_type") == "in_channel":
        message = Message(channel_id, state.next_ts(), text, blocks, state.bot_user_id,
                          thread_ts=body.get("thread_ts"), bot_id=state.bot_id)
        with state.lock:
            state.messages.setdefault(channel_id, []).append(message)
        return {}
    with state.lock:
        state.ephemerals.append(Ephemeral(channel_id, user, state.next_ts(), text, copy.deepcopy(blocks)))
    return {}


HANDLERS = {
    "chat.postMessage": post_message,
    "chat.update": update,
    "chat.postEphemeral": post_ephemeral,
    "chat.getPermalink": get_permalink,
    "chat.delete": delete,
}
