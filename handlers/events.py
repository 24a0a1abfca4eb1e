"""Events: mentions, the bot joining a channel (partner desk), App Home; and de-duplication of retries."""

from __future__ import annotations

import re

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from handlers.blocks.lists import build_deal_status, build_help
from handlers.blocks.messages import build_desk_prompt
from handlers.blocks.text import escape
from handlers.common import DATABASE_BUSY, actor_of, acting_user, answer, answer_text
from handlers.home import publish_home
from handlers.ids import Event
from workflows.people import channel_id_changed, deals_for, first_delivery, open_desk_in_channel, repost_partner_desk
from workflows.questions import forward_partner_reply, is_registration_thread
from workflows.services import DatabaseBusy, Services, WorkflowError

DESK_WORDS = re.compile(r"\bdesk\b", re.IGNORECASE)
LEAD_WORDS = re.compile(r"\b(lead|leads|register|registration|deal)\b", re.IGNORECASE)
# “status of Acme?”, “what's the status on acme.com”, “Acme status?”: the deal's status, for whoever may see it.
STATUS_OF = re.compile(r"\bstatus\s+(?:of|for|on)\s+(.+)", re.IGNORECASE | re.DOTALL)
STATUS_AFTER = re.compile(r"(.+?)\s+status\b", re.IGNORECASE | re.DOTALL)
MENTION = re.compile(r"<@[A-Z0-9]+>")
FILLER = frozenset("what what's whats is the a my our of deal deals registration lead please".split())


def asked_status_of(text: str) -> str | None:
    """The company or domain a mention asks the status of, or None when it asks something else."""
    text = MENTION.sub(" ", text).strip()
    match = STATUS_OF.search(text) or STATUS_AFTER.search(text)
    if not match:
        return None
    words = [w.strip("?!,;:'\"“”") for w in match.group(1).split()]
    words = [w for w in words if w and w.lower().rstrip(".") not in FILLER]
    asked = " ".join(words).rstrip(".")
    return asked or None
# Messages people write: plain ones, replies also sent to the channel, and ones with a file.
PEOPLES_MESSAGES = (None, "thread_broadcast", "file_share")


def _first_delivery(services: Services, body: dict) -> bool:
    """Slack re-delivers an event it thinks failed: each event_id runs once. Checked inside the listener,
    after Bolt's automatic ack, so a busy database never delays the ack into a retry. (Events that change
    what is stored mark themselves handled in the transaction that changes it.)"""
    event_id = body.get("event_id")
    return not event_id or first_delivery(services, event_id)


def register(app: App, services: Services) -> None:
    @app.event(Event.app_mention.value)
    def handle_mention(event: dict, body: dict, context: BoltContext, client: WebClient):
        """“@Partnerbot lead” answers with the Register button; “status of Acme?” privately with that deal's status
        (if the asker may see it); anything else, privately, with what the user can do."""
        channel, text = event.get("channel"), event.get("text")
        if not (isinstance(channel, str) and isinstance(text, str)) or not _first_delivery(services, body):
            return
        thread_ts = event.get("thread_ts") or event.get("ts")
        asked = asked_status_of(text)
        if asked:
            # Privately: the answer goes through the asker's own permission filter, and only they see it.
            actor = actor_of(services, context, body)
            if actor.slack_user_id:
                answer(client, actor.slack_user_id, build_deal_status(deals_for(services, actor, search=asked),
                                                                      actor, asked),
                       channel_id=channel, thread_ts=thread_ts)
            return
        if DESK_WORDS.search(text):
            # Partners can't run /partner desk in a Slack Connect channel: a mention posts the desk again.
            actor = actor_of(services, context, body)
            try:
                repost_partner_desk(services, actor=actor, channel_id=channel)
            except DatabaseBusy:
                answer_text(client, actor.slack_user_id, DATABASE_BUSY, channel_id=channel)
            except WorkflowError as refused:
                if actor.slack_user_id:
                    answer_text(client, actor.slack_user_id, escape(str(refused)), channel_id=channel)
            return
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
        """App Home lists an internal user's leads, with their buttons; others see what they can do."""
        if event.get("tab", "home") != "home":
            return
        if services.publish_home_later is not None:  # a view, published again whole: a retry needs no check
            user_id, team_id = acting_user(context, body)
            if user_id:
                services.publish_home_later(user_id, team_id)
            return
        if _first_delivery(services, body):
            publish_home(services, client, actor_of(services, context, body))

    @app.event(Event.message.value)
    def handle_message(event: dict, body: dict, context: BoltContext, client: WebClient):
        """A partner's reply in a registration's thread goes to its reviewer; every other message is left alone."""
        channel, text, ts, thread_ts = (event.get(k) for k in ("channel", "text", "ts", "thread_ts"))
        if not all(isinstance(v, str) and v for v in (channel, text, ts, thread_ts)) or thread_ts == ts:
            return
        if event.get("subtype") not in PEOPLES_MESSAGES or event.get("bot_id"):
            return
        if services.bot_user_id and f"<@{services.bot_user_id}>" in text:
            return  # a mention: app_mention answers it
        if not is_registration_thread(services, channel, thread_ts):
            return
        user_id, team_id = acting_user(context, body)
        link = services.message_link(channel, ts) if services.message_link else None  # no transaction open
        forward_partner_reply(services, channel_id=channel, thread_ts=thread_ts, user_id=user_id, team_id=team_id,
                              text=text, link=link, event_id=body.get("event_id"))
