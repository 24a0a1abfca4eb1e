"""The Slack side of the workflows' Notifier: renders each message and queues it in the Slack outbox.

Every method is called inside the workflow's transaction, so a message is owed exactly when the change it
reports is committed; the outbox sender (storage/slack/sender.py) delivers it after the ack.
"""

from __future__ import annotations

import uuid

from sqlmodel import Session

from handlers.blocks.messages import (
    Message,
    build_notice,
    build_partner_desk,
    build_partner_update,
    build_registration_root,
)
from handlers.blocks.review import build_review_reminder, build_review_request, build_review_settled
from handlers.blocks.text import escape
from storage.models import Partner, Registration, RegistrationStatus
from storage.slack.outbox import enqueue_post, enqueue_update
from workflows.program import Program
from workflows.services import ConflictEvidence


def _blocks(message: Message) -> list[dict]:
    return [block.to_dict() if hasattr(block, "to_dict") else block for block in message.blocks]


def root_key(registration: Registration) -> str:
    return f"reg:{registration.id}:root"


class SlackNotifier:
    def __init__(self, program: Program, clock):
        self.program = program
        self.clock = clock

    def _post(self, session: Session, *, key: str, lane: str, channel: str, message: Message,
              parent_key: str | None = None, partner_id: int | None = None) -> None:
        enqueue_post(session, key=key, lane=lane, channel=channel, text=message.text, blocks=_blocks(message),
                     now=self.clock(), parent_key=parent_key, partner_id=partner_id)

    def _update(self, session: Session, *, lane: str, parent_key: str, message: Message) -> None:
        enqueue_update(session, lane=lane, parent_key=parent_key, text=message.text, blocks=_blocks(message),
                       now=self.clock())

    def registration_received(self, session: Session, registration: Registration, partner: Partner) -> None:
        """The root of the registration's thread in the partner's channel (a DM when it has none)."""
        channel = registration.partner_channel_id or registration.submitted_by_slack_id
        received = registration.model_copy(update={"status": RegistrationStatus.received})
        self._post(session, key=root_key(registration), lane=f"reg:{registration.id}:partner", channel=channel,
                   message=build_registration_root(received, partner), partner_id=partner.id)

    def partner_update(self, session: Session, registration: Registration, partner: Partner, *,
                       actor_slack_id: str | None) -> None:
        """A threaded update under the root, and the root itself shows the new status."""
        lane, root = f"reg:{registration.id}:partner", root_key(registration)
        self._post(session, key=f"{root}:update:{uuid.uuid4().hex[:12]}", lane=lane, channel="", parent_key=root,
                   message=build_partner_update(registration, self.program.approval_sla_hours), partner_id=partner.id)
        self._update(session, lane=lane, parent_key=root, message=build_registration_root(registration, partner))

    def review_requested(self, session: Session, registration: Registration, partner: Partner,
                         conflicts: list[ConflictEvidence]) -> None:
        """A DM to the reviewer; its key is kept on the registration so the decision can update it."""
        key = f"reg:{registration.id}:review:{uuid.uuid4().hex[:12]}"
        registration.review_message_key = key
        session.add(registration)
        self._post(session, key=key, lane=f"reg:{registration.id}:review", channel=registration.assigned_to_slack_id,
                   message=build_review_request(registration, partner, conflicts))

    def review_settled(self, session: Session, registration: Registration, partner: Partner, *,
                       review_key: str | None, actor_slack_id: str) -> None:
        """The review DM that was acted on is updated in place to show the outcome."""
        if review_key:
            self._update(session, lane=f"reg:{registration.id}:review", parent_key=review_key,
                         message=build_review_settled(registration, partner, actor_slack_id))

    def tell_user(self, session: Session, slack_user_id: str, text: str, *, key: str | None = None) -> None:
        """Plain text (escaped, so it can carry names and Salesforce's messages safely)."""
        self._post(session, key=key or f"notice:{uuid.uuid4().hex}", lane=f"notice:{slack_user_id}",
                   channel=slack_user_id, message=build_notice(escape(text)))

    def partner_desk(self, session: Session, partner: Partner) -> None:
        self._post(session, key=f"desk:{partner.id}:{partner.slack_channel_id}", lane=f"desk:{partner.id}",
                   channel=partner.slack_channel_id, partner_id=partner.id,
                   message=build_partner_desk(partner, self.program.protection_window_days))

    def review_overdue(self, session: Session, registration: Registration, partner: Partner, *, recipient: str,
                       hours_waiting: int, key: str) -> None:
        self._post(session, key=key, lane=f"reg:{registration.id}:review", channel=recipient,
                   message=build_review_reminder(registration, partner, hours_waiting,
                                                 self.program.approval_sla_hours))
