"""The upsell side of the Slack notifier: the thread root and its replies, the AE's copy, duplicates for the
partner manager, accept-SLA reminders and the partner's Join request. Mixed into handlers/notify.SlackNotifier,
whose `_post` and `_update` queue each message in the Slack outbox in the workflow's transaction."""

from __future__ import annotations

import logging

from sqlmodel import Session

from handlers.blocks.messages import Message
from handlers.blocks.text import quoted
from handlers.blocks.upsell_handshake import (
    build_join_answered,
    build_join_request,
    build_partner_joined,
    build_upsell_reminder,
    build_upsell_reminder_handled,
    build_upsell_step,
)
from handlers.blocks.upsells import build_duplicate_review, build_upsell_root, upsell_status_label
from storage.models import CustomerAccount, Partner, Upsell, UpsellStatus
from storage.slack.outbox import message_by_key
from storage.upsells import (
    duplicate_review_key,
    join_invitation_key,
    upsell_copy_key,
    upsell_reminder_keys,
    upsell_root_key,
)

logger = logging.getLogger(__name__)


def message_blocks(message: Message) -> list[dict]:
    return [block.to_dict() if hasattr(block, "to_dict") else block for block in message.blocks]


def _partner_lane(upsell: Upsell) -> str:
    return f"ups:{upsell.id}:partner"


def _reminder_lane(upsell: Upsell) -> str:
    return f"ups:{upsell.id}:reminders"


class UpsellNotices:
    def upsell_flagged(self, session: Session, upsell: Upsell, account: CustomerAccount, partner: Partner) -> None:
        """The root of the upsell's thread in the partner's channel (a DM to the flagger when it has none, or when
        its people may see only their own), mentioning the account's executive; its key is kept on the upsell.
        A root in a DM is out of the executive's sight, so they get a copy of it, buttons and all."""
        root = upsell_root_key(upsell.id)
        upsell.root_message_key = root
        session.add(upsell)
        message = build_upsell_root(upsell, account, partner)
        self._post(session, key=root, lane=_partner_lane(upsell), partner_id=partner.id, message=message,
                   channel=upsell.partner_channel_id or upsell.flagged_by_slack_id)
        assignee = upsell.assigned_to_slack_id
        if upsell.partner_channel_id is None and assignee and assignee != upsell.flagged_by_slack_id:
            self._post(session, key=upsell_copy_key(upsell.id), lane=f"ups:{upsell.id}:assignee", channel=assignee,
                       message=message)

    def upsell_changed(self, session: Session, upsell: Upsell, account: CustomerAccount, partner: Partner) -> None:
        """The root (and the executive's copy, if any) show the upsell's current status and buttons, in place."""
        message = build_upsell_root(upsell, account, partner)
        self._update(session, lane=_partner_lane(upsell), parent_key=upsell_root_key(upsell.id), message=message)
        if message_by_key(session, upsell_copy_key(upsell.id)) is not None:
            self._update(session, lane=f"ups:{upsell.id}:assignee", parent_key=upsell_copy_key(upsell.id),
                         message=message)

    def upsell_decided(self, session: Session, upsell: Upsell, account: CustomerAccount, partner: Partner, *,
                       actor_slack_id: str) -> None:
        """A step taken (accepted, declined, won, lost): a reply in the thread, the root updated in place, and the
        accept-SLA reminders lose their buttons once it is answered."""
        root = upsell.root_message_key
        if root:
            # One reply per status reached: a status is reached once, so the key makes it owed once.
            self._post(session, key=f"{root}:{upsell.status.value}", lane=_partner_lane(upsell), channel="",
                       parent_key=root, partner_id=partner.id,
                       message=build_upsell_step(upsell, account, partner, actor_slack_id))
        self.upsell_changed(session, upsell, account, partner)
        if upsell.status in (UpsellStatus.accepted, UpsellStatus.declined):
            for key in upsell_reminder_keys(session, upsell.id):
                self._update(session, lane=_reminder_lane(upsell), parent_key=key,
                             message=build_upsell_reminder_handled(upsell, account, partner, actor_slack_id))

    def upsell_overdue(self, session: Session, upsell: Upsell, account: CustomerAccount, partner: Partner, *,
                       recipient: str, hours_waiting: int, key: str, link: str | None = None) -> None:
        """The accept-SLA reminder: a DM with Accept / Decline, to the AE, later to the partner's manager too."""
        self._post(session, key=key, lane=_reminder_lane(upsell), channel=recipient,
                   message=build_upsell_reminder(upsell, account, partner, hours_waiting,
                                                 self.program.upsell.accept_sla_hours, link=link),
                   new_key=True)  # a reminder's key, recorded in this transaction (workflows/reminders.py)

    def upsell_join_asked(self, session: Session, upsell: Upsell, account: CustomerAccount, partner: Partner, *,
                          contacts: list[str]) -> None:
        """The partner's listed contacts are asked by DM, each with Join (they cannot see the thread root)."""
        if not contacts:
            logger.warning("upsell %s asks %s in, which has no listed contact to ask", upsell.id, partner.id)
        message = build_join_request(upsell, account, partner)
        for contact in contacts:
            self._post(session, key=join_invitation_key(upsell.id, contact), lane=f"ups:{upsell.id}:join",
                       channel=contact, partner_id=partner.id, message=message)

    def upsell_joined(self, session: Session, upsell: Upsell, account: CustomerAccount, partner: Partner, *,
                      actor_slack_id: str, contacts: list[str]) -> None:
        """The partner is on it: a reply in the thread, the root shows it, and the DM requests lose their Join."""
        if upsell.root_message_key:
            self._post(session, key=f"{upsell.root_message_key}:joined", lane=_partner_lane(upsell), channel="",
                       parent_key=upsell.root_message_key, partner_id=partner.id,
                       message=build_partner_joined(upsell, partner, actor_slack_id))
        self.upsell_changed(session, upsell, account, partner)
        answered = build_join_answered(upsell, account, partner, actor_slack_id)
        for contact in contacts:
            key = join_invitation_key(upsell.id, contact)
            if message_by_key(session, key) is not None:
                self._update(session, lane=f"ups:{upsell.id}:join", parent_key=key, message=answered)

    def upsell_duplicate_review(self, session: Session, upsell: Upsell, original: Upsell, account: CustomerAccount,
                                partner: Partner, original_partner: Partner) -> None:
        """A DM to the partner manager with both upsells and both partners, and Approve / Reject."""
        if upsell.assigned_to_slack_id is None:
            logger.warning("duplicate upsell %s has nobody to review it: import the team first", upsell.id)
            return
        self._post(session, key=duplicate_review_key(upsell.id), lane=f"ups:{upsell.id}:review",
                   channel=upsell.assigned_to_slack_id,
                   message=build_duplicate_review(upsell, original, account, partner, original_partner))

    def upsell_duplicate_decided(self, session: Session, upsell: Upsell, original: Upsell | None,
                                 account: CustomerAccount, partner: Partner, original_partner: Partner | None, *,
                                 actor_slack_id: str) -> None:
        """The duplicate's review shows who decided what, in place of its buttons."""
        outcome = f"{upsell_status_label(upsell.status)}: decided by <@{actor_slack_id}>"
        if upsell.decision_reason:
            outcome += f".\n{quoted(upsell.decision_reason, 1000)}"
        self._update(session, lane=f"ups:{upsell.id}:review", parent_key=duplicate_review_key(upsell.id),
                     message=build_duplicate_review(upsell, original, account, partner, original_partner,
                                                    outcome=outcome))
