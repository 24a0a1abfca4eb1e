"""Events: mentions, the bot joining a channel (partner desk), App Home; and de-duplication of retries."""

from __future__ import annotations

import re

from slack_bolt import App, BoltContext, BoltResponse
from slack_sdk import WebClient

from handlers.blocks.lists import build_help, build_home
from handlers.blocks.messages import build_desk_prompt
from handlers.common import actor_of
from handlers.ids import Event
from workflows.people import channel_id_changed, first_delivery, home_for, open_desk_in_channel
from workflows.services import Services

LEAD_WORDS = re.compile(r"\b(lead|leads|register|registration|deal)\b", re.IGNORECASE)


def register(app: App, services: Services) -> None:
    @app.middleware
    def skip_event_retries(body: dict, next):
        """Slack re-delivers an event it thinks failed; run each event_id once and tell Slack to stop."""
        if body.get("type") == "event_callback" and body.get("event_id"):
            if not first_delivery(services, body["event_id"]):
                return BoltResponse(status=200, body="", headers={"X-Slack-No-Retry": "1"})
        return next()

    @app.event(Event.app_mention.value)
    def handle_mention(event: dict, body: dict, context: BoltContext, client: WebClient):
        """“@Partnerbot lead” answers with the Register button; anything else with what the user can do."""
        thread_ts = event.get("thread_ts") or event.get("ts")
        if LEAD_WORDS.search(event.get("text", "")):
            message = build_desk_prompt()
        else:
            message = build_help(actor_of(services, context, body))
        client.chat_postMessage(channel=event["channel"], thread_ts=thread_ts, text=message.text,
                                blocks=message.blocks)

    @app.event(Event.member_joined_channel.value)
    def handle_member_joined(event: dict):
        """When the bot itself joins a partner's channel, it posts the partner desk there."""
        if event.get("user") == services.bot_user_id:
            open_desk_in_channel(services, event["channel"])

    @app.event(Event.channel_id_changed.value)
    def handle_channel_id_changed(event: dict):
        """A channel shared with a partner can get a new id: keep the partner and its threads attached."""
        channel_id_changed(services, event["old_channel_id"], event["new_channel_id"])

    @app.event(Event.app_home_opened.value)
    def handle_home_opened(event: dict, body: dict, context: BoltContext, client: WebClient):
        """App Home lists an internal user's leads; others see what they can do."""
        if event.get("tab", "home") != "home":
            return
        actor = actor_of(services, context, body)
        if actor.is_internal:
            view = build_home(home_for(services, actor), actor)
        else:
            help_message = build_help(actor)
            view = {"type": "home", "blocks": [b.to_dict() for b in help_message.blocks]}
        client.views_publish(user_id=actor.slack_user_id, view=view)
