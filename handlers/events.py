"""Events: mentions, the bot joining a channel (partner desk), App Home; and de-duplication of retries."""

from __future__ import annotations

import logging
import re

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from handlers.blocks.lists import build_deal_status, build_help
from handlers.blocks.messages import build_desk_prompt
from handlers.blocks.signals import build_signal_suggestion
from handlers.blocks.text import escape
from handlers.common import DATABASE_BUSY, actor_of, acting_user, answer, answer_text
from handlers.home import publish_home
from handlers.ids import Event
from workflows.people import channel_id_changed, deals_for, first_delivery, open_desk_in_channel, repost_partner_desk
from workflows.questions import forward_partner_reply, is_registration_thread
from workflows.services import DatabaseBusy, Services, WorkflowError
from workflows.signals import ChannelMessage, Suggestion, claim_suggestion, release_suggestion

logger = logging.getLogger(__name__)

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


# Messages people write: plain ones, replies also sent to the channel, and ones with a file. Edits
# (message_changed), deletions, joins and bots' messages have other subtypes.
PEOPLES_MESSAGES = (None, "thread_broadcast", "file_share")
SLACK_MARKUP = re.compile(r"<([^<>]*)>")


def plain_text(text: str) -> str:
    """A message's text as people read it: `<https://acme.com|acme.com>` -> `acme.com`, `<@U1>` -> `@U1`,
    `<#C1|deals>` -> `#deals`, `&amp;` -> `&` (for matching and for prefilling a form; escape it again for mrkdwn)."""
    def shown(markup: re.Match) -> str:
        target, _, label = markup.group(1).partition("|")
        if target[:1] in ("@", "#"):  # a person or a channel
            return target[0] + label.lstrip("@#") if label else target
        if target.startswith("!"):  # <!here>, <!subteam^S1|@sales>
            return label or "@" + target[1:].split("^")[0]
        return label or target.removeprefix("mailto:")
    return SLACK_MARKUP.sub(shown, text).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _first_delivery(services: Services, body: dict) -> bool:
    """Slack re-delivers an event it thinks failed: each event_id runs once. Checked inside the listener,
    after Bolt's automatic ack, so a busy database never delays the ack into a retry. (Events that change
    what is stored mark themselves handled in the transaction that changes it.)"""
    event_id = body.get("event_id")
    return not event_id or first_delivery(services, event_id)


# Slack's own failures: the message may have been posted all the same.
UNCLEAR_ERRORS = frozenset({"internal_error", "fatal_error", "request_timeout", "service_unavailable"})


def _refused(error: SlackApiError) -> bool:
    """Slack answered and did not post (`user_not_in_channel`, `is_archived`, rate limited after our retries),
    as opposed to its own failure (a 5xx, `internal_error`), after which the message may have been shown."""
    status, code = error.response.status_code, error.response.get("error")
    return status == 429 or (status == 200 and code not in UNCLEAR_ERRORS)


def send_suggestion(services: Services, client: WebClient, suggestion: Suggestion) -> None:
    """The suggestion, privately to the message's author; one Slack refused gives its daily slot back (nobody
    saw it), one that may have been shown keeps it (two would nag). Logged without the message's text."""
    message = build_signal_suggestion(suggestion)
    try:
        client.chat_postEphemeral(channel=suggestion.channel_id, user=suggestion.user_id, text=message.text,
                                  blocks=message.blocks, thread_ts=suggestion.thread_ts)
    except SlackApiError as error:
        refused = _refused(error)
        logger.warning("upsell suggestion on account %s in %s not sent: %s (%s)", suggestion.account_id,
                       suggestion.channel_id, error.response.get("error"),
                       "slot given back" if refused else "may have been shown, slot kept")
        if refused:
            release_suggestion(services, suggestion)


def suggest_from_message(services: Services, client: WebClient, message: ChannelMessage) -> None:
    """Expansion signals: read, decide, take the day's slot, send. Nobody asked for a suggestion, so a failure
    is logged, never answered with an apology."""
    try:
        suggestion = claim_suggestion(services, message)
        if suggestion is not None:
            send_suggestion(services, client, suggestion)
    except Exception:  # noqa: BLE001 - the message's author asked nothing: no apology for a passive feature
        logger.exception("expansion signal of a message in %s not handled", message.channel_id)


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
        """A partner's reply in a registration's thread goes to its reviewer. With expansion signals on, a message
        in a partner's channel naming one of its accounts and a signal phrase gets its author a private
        suggestion. Every other message is left alone, at the cost of a few dictionary reads."""
        channel, text, ts = (event.get(k) for k in ("channel", "text", "ts"))
        if not all(isinstance(v, str) and v for v in (channel, text, ts)):
            return
        if event.get("subtype") not in PEOPLES_MESSAGES or event.get("bot_id"):
            return
        if services.bot_user_id and (event.get("user") == services.bot_user_id
                                     or f"<@{services.bot_user_id}>" in text):
            return  # our own, or a mention: app_mention answers it
        thread_ts = event.get("thread_ts")
        in_thread = isinstance(thread_ts, str) and bool(thread_ts) and thread_ts != ts
        user_id, team_id = acting_user(context, body)
        if in_thread and is_registration_thread(services, channel, thread_ts):
            link = services.message_link(channel, ts) if services.message_link else None  # no transaction open
            forward_partner_reply(services, channel_id=channel, thread_ts=thread_ts, user_id=user_id,
                                  team_id=team_id, text=text, link=link, event_id=body.get("event_id"))
            return
        if not services.program.signals.enabled or not isinstance(user_id, str) or channel.startswith("D"):
            return  # signals off, or a DM (never a partner's channel)
        # Never in a thread the bot started (a registration's, an upsell's, the desk's); Slack names the thread's
        # author in every reply, and a reply without it is left alone rather than guessed about.
        if in_thread and event.get("parent_user_id") in (None, services.bot_user_id):
            return
        suggest_from_message(services, client, ChannelMessage(
            channel_id=channel, user_id=user_id, team_id=team_id, text=plain_text(text),
            thread_ts=thread_ts if in_thread else None, event_id=body.get("event_id")))
