"""Pure builders of the request bodies Slack sends to an app: commands, interactions and event envelopes."""

from __future__ import annotations

import copy
import time
from datetime import date
from typing import Any

from bot.sandbox import blockkit
from bot.sandbox.api_common import message_dict, view_dict
from bot.sandbox.state import Channel, Message, SandboxError, State, View

VERIFICATION_TOKEN = "sandbox-verification-token"

# element type -> (state key, how a Python value becomes Slack's value)
_TEXT_TYPES = {"plain_text_input", "email_text_input", "url_text_input", "number_input", "rich_text_input"}
_SIMPLE_KEYS = {
    "datepicker": "selected_date",
    "timepicker": "selected_time",
    "datetimepicker": "selected_date_time",
    "users_select": "selected_user",
    "conversations_select": "selected_conversation",
    "channels_select": "selected_channel",
    "multi_users_select": "selected_users",
    "multi_conversations_select": "selected_conversations",
    "multi_channels_select": "selected_channels",
}


def action_ts() -> str:
    return f"{time.time():.6f}"


def user_object(state: State, user_id: str) -> dict:
    user = state.users[user_id]
    return {"id": user.id, "username": user.name, "name": user.name, "team_id": user.team_id}


def team_object(state: State, team_id: str | None = None) -> dict:
    team = state.teams[team_id or state.team_id]
    return {"id": team.id, "domain": team.domain}


def command_form(state: State, user_id: str, command: str, text: str, channel: Channel,
                 trigger_id: str, response_url: str) -> dict[str, str]:
    """The form fields of a slash command request."""
    team = state.teams[state.team_id]
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team.id,
        "team_domain": team.domain,
        "channel_id": channel.id,
        "channel_name": channel.name,
        "user_id": user_id,
        "user_name": state.users[user_id].name,
        "command": command,
        "text": text,
        "api_app_id": state.app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def message_action(state: State, user_id: str, callback_id: str, channel: Channel, message: Message,
                   trigger_id: str, response_url: str) -> dict:
    """A message shortcut's payload (type message_action): the message it was run on, its channel, who ran it."""
    return {
        "type": "message_action",
        "token": VERIFICATION_TOKEN,
        "action_ts": action_ts(),
        "team": team_object(state),
        "user": user_object(state, user_id),
        "channel": {"id": channel.id, "name": channel.name},
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": trigger_id,
        "response_url": response_url,
        "message_ts": message.ts,
        "message": message_dict(state, message),
    }


def _option(element: dict, value: Any) -> dict:
    if isinstance(value, dict):
        return copy.deepcopy(value)
    if element.get("type", "").endswith("external_select"):
        # External options come from the app at runtime; build one the way Slack echoes it back.
        return {"text": {"type": "plain_text", "text": str(value), "emoji": True}, "value": str(value)}
    for option in blockkit.all_options(element):
        if option.get("value") == str(value):
            return copy.deepcopy(option)
    offered = [o.get("value") for o in blockkit.all_options(element)]
    raise SandboxError(f"option {value!r} is not offered by {element.get('action_id')!r} (offered: {offered})")


def selection(element: dict, value: Any) -> dict:
    """The selection part of an action or a state value for `element` set to a Python value."""
    kind = element.get("type", "")
    if kind in _TEXT_TYPES:
        return {"value": None if value is None else str(value)}
    if kind in ("static_select", "external_select", "radio_buttons", "overflow"):
        return {"selected_option": None if value is None else _option(element, value)}
    if kind in ("checkboxes", "multi_static_select", "multi_external_select"):
        return {"selected_options": [_option(element, v) for v in (value or [])]}
    if kind in _SIMPLE_KEYS:
        if isinstance(value, date):
            value = value.isoformat()
        return {_SIMPLE_KEYS[kind]: value}
    raise SandboxError(f"the sandbox cannot set a {kind!r} element")


def message_container(state: State, channel: Channel, message: Message | None, ephemeral_ts: str | None) -> dict:
    """container/channel/message parts of a block_actions payload on a message."""
    ts = message.ts if message else ephemeral_ts
    container = {"type": "message", "message_ts": ts, "channel_id": channel.id, "is_ephemeral": message is None}
    if message and message.thread_ts:
        container["thread_ts"] = message.thread_ts
    parts = {"container": container, "channel": {"id": channel.id, "name": channel.name}}
    if message is not None:  # Slack does not echo ephemeral messages back
        parts["message"] = message_dict(state, message)
    return parts


def block_actions(state: State, user_id: str, block: dict, element: dict, selected: Any, *,
                  surface: dict, trigger_id: str, response_url: str | None) -> dict:
    """A block_actions payload for one element clicked or changed on a message or view."""
    action = {"type": element.get("type"), "action_id": element.get("action_id"),
              "block_id": block.get("block_id"), "action_ts": action_ts()}
    if element.get("type") == "button":
        action["text"] = copy.deepcopy(element.get("text"))
        if "value" in element:
            action["value"] = element["value"]
        if "style" in element:
            action["style"] = element["style"]
    else:
        action.update(selection(element, selected))
    payload = {
        "type": "block_actions",
        "user": user_object(state, user_id),
        "api_app_id": state.app_id,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id,
        # Slack Connect: `team` is the workspace the app is installed in; the clicker's is user.team_id.
        "team": team_object(state),
        "enterprise": None,
        "is_enterprise_install": False,
        "state": {"values": {}},
        "actions": [action],
        **surface,
    }
    if response_url:
        payload["response_url"] = response_url
    return payload


def view_surface(state: State, view: View, values: dict | None = None) -> dict:
    data = view_dict(state, view)
    data["state"] = {"values": values or {}}
    return {"container": {"type": "view", "view_id": view.id}, "view": data}


def submission_values(view: View, values: dict) -> dict:
    """view.state.values for a submission; refuses what Slack's client would refuse."""
    unknown = set(values) - {b.get("block_id") for b in view.blocks if b.get("type") == "input"}
    if unknown:
        raise SandboxError(f"no input blocks {sorted(unknown)} in view {view.callback_id!r}")
    state_values: dict = {}
    for block in view.blocks:
        if block.get("type") != "input":
            continue
        element, block_id = block["element"], block["block_id"]
        # A field the user leaves untouched is submitted with what the app prefilled, as in Slack: a select's
        # initial option as the app gave it (an external select's text is the app's, not its value).
        value = values[block_id] if block_id in values else element.get("initial_option") or initial_value(element)
        if value in (None, "", []) and not block.get("optional"):
            raise SandboxError(f"required input {block_id!r} is empty: Slack would not let the user submit")
        state_values[block_id] = {element["action_id"]: {"type": element["type"], **selection(element, value)}}
    return state_values


def initial_value(element: dict):
    """What an input shows before the user types: its initial_value or the value of its initial_option."""
    if "initial_value" in element:
        return element["initial_value"]
    option = element.get("initial_option")
    return option.get("value") if isinstance(option, dict) else None


def view_submission(state: State, user_id: str, view: View, state_values: dict, trigger_id: str) -> dict:
    """A view_submission payload."""
    user_team = state.users[user_id].team_id
    view_data = view_surface(state, view, state_values)["view"]
    # A modal opened from a Slack Connect channel carries the user's workspace; Bolt reads app_installed_team_id.
    view_data["team_id"] = user_team
    return {
        "type": "view_submission",
        "team": team_object(state, user_team),
        "user": user_object(state, user_id),
        "api_app_id": state.app_id,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id,
        "view": view_data,
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def block_suggestion(state: State, user_id: str, view: View, block: dict, element: dict, value: str) -> dict:
    """A block_suggestion (options load) payload for an external_select in a view."""
    return {
        "type": "block_suggestion",
        "user": user_object(state, user_id),
        "container": {"type": "view", "view_id": view.id},
        "api_app_id": state.app_id,
        "token": VERIFICATION_TOKEN,
        "action_id": element.get("action_id"),
        "block_id": block.get("block_id"),
        "value": value,
        "team": team_object(state),
        "enterprise": None,
        "is_enterprise_install": False,
        "view": view_surface(state, view)["view"],
    }


def event_envelope(state: State, event: dict, *, event_id: str, event_time: int) -> dict:
    """An event_callback envelope as Slack wraps an event for our installation."""
    inner = event.get("message") or event.get("previous_message")  # an edit's or a deletion's author
    actor = event.get("user") if isinstance(event.get("user"), str) else \
        inner.get("user") if isinstance(inner, dict) and isinstance(inner.get("user"), str) else None
    channel_id = event.get("channel") if isinstance(event.get("channel"), str) else None
    if channel_id is None and isinstance(event.get("item"), dict):
        channel_id = event["item"].get("channel")
    channel = state.channels.get(channel_id or "")
    shared = bool(channel and channel.is_ext_shared)
    # In a shared channel Slack puts the acting user's workspace in the envelope's team_id;
    # only authorizations[] names the installation the event is delivered to.
    source_team = state.users[actor].team_id if actor in state.users else state.team_id
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": source_team,
        "context_team_id": source_team,
        "context_enterprise_id": None,
        "api_app_id": state.app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": event_time,
        "authorizations": [{"enterprise_id": None, "team_id": state.team_id, "user_id": state.bot_user_id,
                            "is_bot": True, "is_enterprise_install": False}],
        "is_ext_shared_channel": shared,
        "event_context": f"4-{event_id}",
    }
