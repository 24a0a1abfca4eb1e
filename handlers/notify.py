"""The Slack side of the workflows' Notifier: renders each message and queues it in the Slack outbox.

Every method is called inside the workflow's transaction, so a message is owed exactly when the change it
reports is committed; the outbox sender (storage/slack/sender.py) delivers it after the ack.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlmodel import Session

from handlers.blocks.messages import (
    Message,
    build_notice,
    build_partner_chased,
    build_partner_desk,
    build_partner_update,
    build_registration_root,
)
from handlers.blocks.review import (
    build_reminder_handled,
    build_review_handed_over,
    build_review_reminder,
    build_review_request,
    build_review_settled,
)
from handlers.blocks.partner_actions import (
    build_edited_for_reviewer,
    build_edited_in_thread,
    build_partner_note,
    build_partner_note_for_reviewer,
    build_withdrawn_for_reviewer,
    edit_note,
)
from handlers.blocks.review_threads import (
    build_co_sell_withdrawn,
    build_decision_withdrawn,
    build_partner_question,
    build_partner_reply,
)
from handlers.blocks.text import escape, quoted, status_label
from handlers.notify_digest import DigestNotices
from handlers.notify_lifecycle import LifecycleNotices
from handlers.notify_nudges import NudgeNotices
from handlers.notify_protection import ProtectionNotices
from handlers.notify_upsells import UpsellNotices, message_blocks
from storage.models import Partner, Registration, RegistrationStatus
from storage.reviews import reminder_keys, thread_root_key
from storage.slack.outbox import enqueue_pin, enqueue_post, enqueue_update
from workflows.program import Program
from workflows.services import ConflictEvidence

logger = logging.getLogger(__name__)


def root_key(registration: Registration) -> str:
    return thread_root_key(registration.id)


def slack_message_link(client: WebClient) -> Callable[[str, str], str | None]:
    """Slack's permalink of a message (chat.getPermalink), or None when Slack cannot give one."""
    def message_link(channel: str, ts: str) -> str | None:
        try:
            return client.chat_getPermalink(channel=channel, message_ts=ts).get("permalink")
        except (SlackApiError, OSError):
            logger.warning("no permalink for %s/%s", channel, ts, exc_info=True)
            return None
    return message_link


def slack_user_time_zone(client: WebClient) -> Callable[[str], str | None]:
    """A person's time zone as Slack gives it (users.info `tz`), or None when it cannot say."""
    def user_time_zone(user_id: str) -> str | None:
        try:
            return (client.users_info(user=user_id).get("user") or {}).get("tz") or None
        except (SlackApiError, OSError):
            logger.warning("no time zone for %s", user_id, exc_info=True)
            return None
    return user_time_zone


class SlackNotifier(UpsellNotices, LifecycleNotices, NudgeNotices, ProtectionNotices, DigestNotices):
    def __init__(self, program: Program, clock):
        self.program = program
        self.clock = clock

    def _post(self, session: Session, *, key: str, lane: str, channel: str, message: Message,
              parent_key: str | None = None, partner_id: int | None = None, new_key: bool = False) -> None:
        enqueue_post(session, key=key, lane=lane, channel=channel, text=message.text, blocks=message_blocks(message),
                     now=self.clock(), parent_key=parent_key, partner_id=partner_id, new_key=new_key)

    def _update(self, session: Session, *, lane: str, parent_key: str, message: Message) -> None:
        enqueue_update(session, lane=lane, parent_key=parent_key, text=message.text, blocks=message_blocks(message),
                       now=self.clock())

    def registration_received(self, session: Session, registration: Registration, partner: Partner) -> None:
        """The root of the registration's thread in the partner's channel (a DM to the submitter when it has none,
        or when its people may see only their own registrations); its replies follow the root."""
        channel = registration.partner_channel_id or registration.submitted_by_slack_id
        received = registration.model_copy(update={"status": RegistrationStatus.received})
        self._post(session, key=root_key(registration), lane=f"reg:{registration.id}:partner", channel=channel,
                   message=build_registration_root(received, partner), partner_id=partner.id,
                   new_key=True)  # the registration was inserted in this transaction (and none is ever deleted)

    def partner_update(self, session: Session, registration: Registration, partner: Partner, *,
                       actor_slack_id: str | None) -> str:
        """A threaded update under the root, and the root itself shows the new status; returns the update's key."""
        lane, root = f"reg:{registration.id}:partner", root_key(registration)
        key = f"{root}:update:{uuid.uuid4().hex[:12]}"
        self._post(session, key=key, lane=lane, channel="", parent_key=root,
                   message=build_partner_update(registration, self.program.approval_sla_hours), partner_id=partner.id)
        self._update(session, lane=lane, parent_key=root, message=build_registration_root(registration, partner))
        return key

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
        outcome = (f"conflict cleared by <@{actor_slack_id}>; now with <@{registration.assigned_to_slack_id}>."
                   if registration.status == RegistrationStatus.under_review
                   else f"{status_label(registration.status)} by <@{actor_slack_id}>.")
        self._settle_reminders(session, registration, partner, outcome)

    def _settle_reminders(self, session: Session, registration: Registration, partner: Partner, outcome: str) -> None:
        """Reminders about a review lose their buttons once it is handled (one update each, at most a few)."""
        for key in reminder_keys(session, registration.id):
            self._update(session, lane=f"reg:{registration.id}:review", parent_key=key,
                         message=build_reminder_handled(registration, partner, outcome))

    def review_handed_over(self, session: Session, registration: Registration, partner: Partner, *,
                           review_key: str | None, actor_slack_id: str, previous_assignee: str | None,
                           reason: str | None) -> None:
        if review_key:
            self._update(session, lane=f"reg:{registration.id}:review", parent_key=review_key,
                         message=build_review_handed_over(registration, partner, actor_slack_id=actor_slack_id,
                                                          reason=reason))
        self._settle_reminders(session, registration, partner,
                               f"reassigned to <@{registration.assigned_to_slack_id}> by <@{actor_slack_id}>.")

    def review_restored(self, session: Session, registration: Registration, partner: Partner, *,
                        review_key: str | None, conflicts: list[ConflictEvidence], actor_slack_id: str) -> None:
        """After an undo the review message is what it was before the decision, buttons and all."""
        note = f":leftwards_arrow_with_hook: Decision undone by <@{actor_slack_id}>."
        if review_key:
            message = (build_review_request(registration, partner, conflicts, note=note)
                       if registration.status == RegistrationStatus.under_review
                       else build_review_settled(registration, partner, actor_slack_id,
                                                 note=f"{status_label(registration.status)} · {note}"))
            self._update(session, lane=f"reg:{registration.id}:review", parent_key=review_key, message=message)
        self._settle_reminders(session, registration, partner, f"the decision was undone by <@{actor_slack_id}>; "
                                                               "it is in your review message again.")

    def decision_withdrawn(self, session: Session, registration: Registration, partner: Partner, *,
                           withdrawn: RegistrationStatus, told: bool) -> None:
        """The root shows the restored status; a reply says the decision was withdrawn, if it had been told."""
        lane, root = f"reg:{registration.id}:partner", root_key(registration)
        if told:
            self._post(session, key=f"{root}:withdrawn:{uuid.uuid4().hex[:12]}", lane=lane, channel="",
                       parent_key=root, message=build_decision_withdrawn(registration, withdrawn),
                       partner_id=partner.id)
        self._update(session, lane=lane, parent_key=root, message=build_registration_root(registration, partner))

    def review_withdrawn(self, session: Session, registration: Registration, partner: Partner, *,
                         review_key: str, actor_slack_id: str) -> None:
        note = (f":leftwards_arrow_with_hook: <@{actor_slack_id}> undid the conflict clearance: this lead is back "
                f"with <@{registration.assigned_to_slack_id}> as a channel conflict. Nothing to do here.")
        self._update(session, lane=f"reg:{registration.id}:review", parent_key=review_key,
                     message=build_review_settled(registration, partner, actor_slack_id, note=note))

    def co_sell_withdrawn(self, session: Session, registration: Registration, partner: Partner) -> None:
        self._post(session, key=f"{root_key(registration)}:co-sell-withdrawn:{uuid.uuid4().hex[:12]}",
                   lane=f"reg:{registration.id}:partner", channel="", parent_key=root_key(registration),
                   message=build_co_sell_withdrawn(registration), partner_id=partner.id)

    def question_to_partner(self, session: Session, registration: Registration, partner: Partner, *,
                            asker_slack_id: str, question: str) -> None:
        root = root_key(registration)
        self._post(session, key=f"{root}:question:{uuid.uuid4().hex[:12]}", lane=f"reg:{registration.id}:partner",
                   channel="", parent_key=root, partner_id=partner.id,
                   message=build_partner_question(registration, asker_slack_id, question))

    def partner_replied(self, session: Session, registration: Registration, partner: Partner, *, recipient: str,
                        author_slack_id: str, text: str, link: str | None) -> None:
        self._post(session, key=f"reg:{registration.id}:reply:{uuid.uuid4().hex[:12]}",
                   lane=f"reg:{registration.id}:review", channel=recipient,
                   message=build_partner_reply(registration, partner, author_slack_id, text, link))

    def tell_user(self, session: Session, slack_user_id: str, text: str, *, key: str | None = None) -> None:
        """Plain text (escaped, so it can carry names and Salesforce's messages safely)."""
        self._post(session, key=key or f"notice:{uuid.uuid4().hex}", lane=f"notice:{slack_user_id}",
                   channel=slack_user_id, message=build_notice(escape(text)))

    def partner_desk(self, session: Session, partner: Partner, *, again: bool = False) -> None:
        """The desk in the partner's channel: once per channel, or `again` (a new post at the bottom) on request."""
        key = f"desk:{partner.id}:{partner.slack_channel_id}" + (f":{uuid.uuid4().hex[:12]}" if again else "")
        lane = f"desk:{partner.id}"
        self._post(session, key=key, lane=lane, channel=partner.slack_channel_id, partner_id=partner.id,
                   message=build_partner_desk(partner, self.program.protection_window_days))
        # Pinned once posted, so it stays in reach. Its own lane: a pin being retried never holds up a desk, and
        # a failed one leaves the desk as it is (the sender pins only a posted parent).
        enqueue_pin(session, lane=f"{lane}:pin", parent_key=key, now=self.clock())

    def review_overdue(self, session: Session, registration: Registration, partner: Partner, *, recipient: str,
                       hours_waiting: int, key: str, link: str | None = None) -> None:
        self._post(session, key=key, lane=f"reg:{registration.id}:review", channel=recipient,
                   message=build_review_reminder(registration, partner, hours_waiting,
                                                 self.program.approval_sla_hours, link=link),
                   new_key=True)  # a reminder's key, recorded in this transaction (workflows/reminders.py)

    def review_chased(self, session: Session, registration: Registration, partner: Partner, *, key: str,
                      hours_waiting: int) -> None:
        """A reply in the registration's thread: the approval SLA was missed and we are chasing it."""
        self._post(session, key=key, lane=f"reg:{registration.id}:partner", channel="",
                   parent_key=root_key(registration), partner_id=partner.id,
                   message=build_partner_chased(registration, hours_waiting, self.program.approval_sla_hours),
                   new_key=True)  # a reminder's key, recorded in this transaction (workflows/reminders.py)

    def partner_withdrew(self, session: Session, registration: Registration, partner: Partner, *,
                         actor_slack_id: str, reason: str) -> None:
        """The review message (and its reminders) show the withdrawal in place; its reviewer is told in a DM."""
        note = (f"{status_label(registration.status)} by the partner (<@{actor_slack_id}>):\n"
                f"{quoted(reason, 1500)}")
        if registration.review_message_key:
            self._update(session, lane=f"reg:{registration.id}:review", parent_key=registration.review_message_key,
                         message=build_review_settled(registration, partner, actor_slack_id, note=note))
        self._settle_reminders(session, registration, partner, f"withdrawn by the partner (<@{actor_slack_id}>).")
        if registration.assigned_to_slack_id:
            self._post(session, key=f"reg:{registration.id}:withdrawn", lane=f"reg:{registration.id}:review",
                       channel=registration.assigned_to_slack_id,
                       message=build_withdrawn_for_reviewer(registration, partner, actor_slack_id, reason))

    def partner_note(self, session: Session, registration: Registration, partner: Partner, *,
                     author_slack_id: str, text: str) -> None:
        """A partner's update: in the registration's thread, and to its AE in a DM."""
        suffix = uuid.uuid4().hex[:12]
        root = root_key(registration)
        self._post(session, key=f"{root}:note:{suffix}", lane=f"reg:{registration.id}:partner", channel="",
                   parent_key=root, partner_id=partner.id,
                   message=build_partner_note(registration, author_slack_id, text))
        if registration.assigned_to_slack_id:
            self._post(session, key=f"reg:{registration.id}:note:{suffix}", lane=f"reg:{registration.id}:review",
                       channel=registration.assigned_to_slack_id,
                       message=build_partner_note_for_reviewer(registration, partner, author_slack_id, text))

    def registration_edited(self, session: Session, registration: Registration, partner: Partner, *,
                            actor_slack_id: str, changed: str, review_key: str | None,
                            reviewer: str | None) -> None:
        """A reply in the thread and the root with the new values; a review under way is settled in place (its
        reminders too) and its reviewer told in a DM."""
        lane, root = f"reg:{registration.id}:partner", root_key(registration)
        self._post(session, key=f"{root}:edited:{uuid.uuid4().hex[:12]}", lane=lane, channel="", parent_key=root,
                   partner_id=partner.id, message=build_edited_in_thread(registration, actor_slack_id, changed))
        self._update(session, lane=lane, parent_key=root, message=build_registration_root(registration, partner))
        if review_key is None:
            return
        note = edit_note(actor_slack_id, changed)
        self._update(session, lane=f"reg:{registration.id}:review", parent_key=review_key,
                     message=build_review_settled(registration, partner, actor_slack_id, note=note))
        self._settle_reminders(session, registration, partner, note)
        if reviewer:
            self._post(session, key=f"reg:{registration.id}:edited:{uuid.uuid4().hex[:12]}",
                       lane=f"reg:{registration.id}:review", channel=reviewer,
                       message=build_edited_for_reviewer(registration, partner, actor_slack_id, changed))
