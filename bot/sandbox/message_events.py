"""`message` events other than a person's new message, shaped as Slack sends them: an edit (`message_changed`),
a deletion (`message_deleted`) and the bot's own post, which Slack delivers to the app too (Bolt drops it as a
self event)."""

from __future__ import annotations

from bot.sandbox.api_common import message_dict
from bot.sandbox.state import Channel, Message, State


def channel_type(channel: Channel) -> str:
    """The `channel_type` of a message event: im, group (private channel) or channel."""
    return "im" if channel.is_im else ("group" if channel.is_private else "channel")


def _as_event(state: State, channel: Channel, message: Message) -> dict:
    """A stored message as message events carry it (inside an edit or a deletion, or as the event itself)."""
    data = message_dict(state, message)
    if message.thread_ts and message.thread_ts != message.ts:
        parent = state.find_message(channel.id, message.thread_ts)
        if parent is not None:
            data["parent_user_id"] = parent.user
    if channel.is_ext_shared:
        data.update(user_team=data["team"], source_team=data["team"])
    return data


def message_changed(state: State, channel: Channel, before: Message, after: Message, edit_ts: str) -> dict:
    """The event of an edit: no `user` or `text` of its own; the edited message and the previous one inside."""
    edited = _as_event(state, channel, after)
    edited["edited"] = {"user": after.user, "ts": edit_ts}
    return {"type": "message", "subtype": "message_changed", "hidden": True, "channel": channel.id,
            "channel_type": channel_type(channel), "ts": edit_ts, "event_ts": edit_ts, "message": edited,
            "previous_message": _as_event(state, channel, before)}


def message_deleted(state: State, channel: Channel, deleted: Message, event_ts: str) -> dict:
    """The event of a deletion: the deleted message's ts and the message as it was."""
    return {"type": "message", "subtype": "message_deleted", "hidden": True, "channel": channel.id,
            "channel_type": channel_type(channel), "ts": event_ts, "event_ts": event_ts, "deleted_ts": deleted.ts,
            "previous_message": _as_event(state, channel, deleted)}


def bot_post(state: State, channel: Channel, message: Message) -> dict:
    """The event of a message the bot posted (chat.postMessage with its bot token): the bot's user, bot_id and
    app_id, and no subtype."""
    event = _as_event(state, channel, message)
    event.update(channel=channel.id, channel_type=channel_type(channel), event_ts=message.ts,
                 bot_profile={"id": state.bot_id, "app_id": state.app_id, "name": state.users[state.bot_user_id].name,
                              "deleted": False, "team_id": state.team_id})
    return event
