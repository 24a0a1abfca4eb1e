"""Events: mentions, the bot joining a channel (partner desk), App Home; and de-duplication of retries."""

from __future__ import annotations

import re

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from handlers.blocks.lists import build_help, build_home
from handlers.blocks.messages import build_desk_prompt
from handlers.common import actor_of, answer
from handlers.ids import Event
from workflows.people import channel_id_changed, first_delivery, home_for, open_desk_in_channel
from workflows.services import Services

LEAD_WORDS = re.compile(r"\b(lead|leads|register|registration|deal)\b", re.IGNORECASE)


def _first_delivery(services: Services, body: dict) -> bool:
    """Slack re-delivers an event it thinks failed: each event_id runs once. Checked inside the listener,
    after Bolt's automatic ack, so a busy database never delays the ack into a retry. (Events that change
    what is stored mark themselves handled in the transaction that changes it.)"""
    event_id = body.get("event_id")
    return not event_id or first_delivery(services, event_id)


def register(app: App, services: Services) -> None:
    @app.event(Event.app_mention.value)
    def handle_mention(event: dict, body: dict, context: BoltContext, client: WebClient):
        """“@Partnerbot lead” answers with the Register button; anything else, privately, with what the user can do."""
        channel, text = event.get("channel"), event.get("text")
        if not (isinstance(channel, str) and isinstance(text, str)) or not _first_delivery(services, body):
            return
        thread_ts = event.get("thread_ts") or event.get("ts")
        if LEAD_WORDS.search(text):
            message = build_desk_prompt()
            client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=message.text, blocks=message.blocks)
            return
        # Help describes what this user may do (internal commands for our team): only they should see it.
        actor = actor_of(services, context, body)
        if actor.slack_user_id:
            answer(client, actor.slack_user_id, build_help(actor), channel_id=channel, thread_ts=thread_ts)

    @app.event(Event.member_joined_channel.value)
    def handle_member_joined(event: dict, body: dict):
        """When the bot itself joins a partner's channel, it posts the partner desk there."""
        channel = event.get("channel")
        if event.get("user") == services.bot_user_id and isinstance(channel, str):
            open_desk_in_channel(services, channel, event_id=body.get("event_id"))

    @app.event(Event.channel_id_changed.value)
    def handle_channel_id_changed(event: dict, body: dict):
        """A channel shared with a partner can get a new id: keep the partner and its threads attached."""
        old, new = event.get("old_channel_id"), event.get("new_channel_id")
        if isinstance(old, str) and isinstance(new, str):
            channel_id_changed(services, old, new, event_id=body.get("event_id"))

    @app.event(Event.app_home_opened.value)
    def handle_home_opened(event: dict, body: dict, context: BoltContext, client: WebClient):
        """App Home lists an internal user's leads; others see what they can do."""
        if event.get("tab", "home") != "home" or not _first_delivery(services, body):
            return
        actor = actor_of(services, context, body)
        if not actor.slack_user_id:
            return
        if actor.is_internal:
            view = build_home(home_for(services, actor), actor)
        else:
            help_message = build_help(actor)
            view = {"type": "home", "blocks": [b.to_dict() for b in help_message.blocks]}
        client.views_publish(user_id=actor.slack_user_id, view=view)
