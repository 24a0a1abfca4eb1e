"""The Slack side of the workflows' Notifier: posts and updates messages through the Web API."""

from __future__ import annotations

import functools
import logging

from slack_sdk import WebClient

from handlers.blocks.messages import (
    Message,
    build_notice,
    build_partner_desk,
    build_partner_update,
    build_registration_root,
)
from handlers.blocks.text import escape
from handlers.blocks.review import build_review_reminder, build_review_request, build_review_settled
from storage.models import Partner, Registration, RegistrationStatus
from workflows.program import Program
from workflows.services import ConflictEvidence, MessageRef

logger = logging.getLogger(__name__)


def _never_raises(method):
    """A notification that fails is logged with its traceback; the stored change it reports stands."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except Exception:  # noqa: BLE001
            logger.exception("Slack notification %s failed", method.__name__)
            return None

    return wrapper


class SlackNotifier:
    def __init__(self, client: WebClient, program: Program):
        self.client = client
        self.program = program

    def post(self, channel: str, message: Message, *, thread_ts: str | None = None) -> MessageRef:
        response = self.client.chat_postMessage(channel=channel, text=message.text, blocks=message.blocks,
                                                thread_ts=thread_ts, unfurl_links=False)
        return MessageRef(response["channel"], response["ts"])

    def update(self, channel: str, ts: str, message: Message) -> None:
        self.client.chat_update(channel=channel, ts=ts, text=message.text, blocks=message.blocks)

    @_never_raises
    def registration_received(self, registration: Registration, partner: Partner) -> MessageRef | None:
        channel = partner.slack_channel_id or registration.submitted_by_slack_id
        # The root announces receipt; the review that follows is the first threaded update.
        received = registration.model_copy(update={"status": RegistrationStatus.received})
        return self.post(channel, build_registration_root(received, partner))

    @_never_raises
    def partner_update(self, registration: Registration, partner: Partner, *, actor_slack_id: str | None) -> None:
        if not registration.partner_thread_ts:
            return
        channel = registration.partner_channel_id
        self.post(channel, build_partner_update(registration, self.program.approval_sla_hours),
                  thread_ts=registration.partner_thread_ts)
        self.update(channel, registration.partner_thread_ts, build_registration_root(registration, partner))

    @_never_raises
    def review_requested(self, registration: Registration, partner: Partner,
                         conflicts: list[ConflictEvidence]) -> MessageRef | None:
        return self.post(registration.assigned_to_slack_id, build_review_request(registration, partner, conflicts))

    @_never_raises
    def review_settled(self, registration: Registration, partner: Partner, *, actor_slack_id: str) -> None:
        if registration.review_channel_id and registration.review_message_ts:
            self.update(registration.review_channel_id, registration.review_message_ts,
                        build_review_settled(registration, partner, actor_slack_id))

    @_never_raises
    def tell_user(self, slack_user_id: str, text: str) -> None:
        """Plain text (escaped, so it can carry names and Salesforce's messages safely)."""
        self.post(slack_user_id, build_notice(escape(text)))

    @_never_raises
    def partner_desk(self, partner: Partner) -> MessageRef | None:
        return self.post(partner.slack_channel_id, build_partner_desk(partner, self.program.protection_window_days))

    @_never_raises
    def review_overdue(self, registration: Registration, partner: Partner, *, recipient: str,
                       hours_waiting: int) -> None:
        self.post(recipient, build_review_reminder(registration, partner, hours_waiting,
                                                   self.program.approval_sla_hours))
