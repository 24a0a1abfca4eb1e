"""The collaborators every workflow is given: database, program rules, notifier and clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage.ack_hands import acks_waiting
from storage.db import DatabaseBusy  # noqa: F401  (workflows raise DatabaseBusy; handlers catch it here)
from storage.models import CustomerAccount, Partner, Registration, RegistrationStatus, StageProposal, Upsell
from storage.nudges.models import Nudge
from storage.protection import ExtensionRequest
from workflows.program import Program


@dataclass(frozen=True)
class ConflictEvidence:
    """Another registration that protects the same company, and how it matched."""

    registration: Registration
    partner: Partner
    match: str


class Notifier(Protocol):
    """What workflows tell people, queued in the caller's transaction; the Slack one is handlers/notify.py."""

    def registration_received(self, session: Session, registration: Registration, partner: Partner) -> None: ...

    def partner_update(self, session: Session, registration: Registration, partner: Partner, *,
                       actor_slack_id: str | None) -> str | None:
        """Returns the key of the update it queued, so an undo can tell whether the partner saw it."""

    def review_requested(self, session: Session, registration: Registration, partner: Partner,
                         conflicts: list[ConflictEvidence]) -> None: ...

    def review_settled(self, session: Session, registration: Registration, partner: Partner, *,
                       review_key: str | None, actor_slack_id: str) -> None: ...

    def tell_user(self, session: Session, slack_user_id: str, text: str, *, key: str | None = None) -> None: ...

    def strategic_proposed(self, session: Session, proposal: StageProposal, partner: Partner) -> None:
        """The partner's manager is asked, once, to make a producing partner strategic (workflows/lifecycle.py)."""

    def strategic_decided(self, session: Session, proposal: StageProposal, partner: Partner) -> None:
        """The proposal shows the decision in place of its buttons."""

    def nudge(self, session: Session, nudge: Nudge, content, *, parent_key: str | None = None) -> None:
        """A nudge's message (workflows/nudges.py NudgeContent), to go out at `nudge.deliver_at`; a reply in the
        thread of the message queued under `parent_key` when given."""

    def nudge_answered(self, session: Session, nudge: Nudge, *, until: datetime | None = None,
                       note: str | None = None) -> None:
        """The nudge shows who answered it (`note`, else the answer recorded on it) in place of its buttons."""

    def digest(self, session: Session, nudge: Nudge, content) -> None:
        """The weekly digest (workflows/digest.py DigestContent) to its recipient in a DM, and its chart after it
        (an upload: the digest goes whether or not the chart does)."""

    def digest_full_report(self, session: Session, nudge: Nudge, content) -> bool:
        """The digest's Full report: every section in full, in the digest's thread (a DM: private), once per
        digest; True when it is queued now (False: it was already)."""

    def extension_requested(self, session: Session, request: ExtensionRequest, registration: Registration,
                            partner: Partner) -> None:
        """A partner's request for more protection, to its decider in a DM with Extend / Decline (once)."""

    def extension_decided(self, session: Session, request: ExtensionRequest, registration: Registration,
                          partner: Partner) -> None:
        """The decider's message shows the decision; the partner is told in the registration's thread."""

    def partner_desk(self, session: Session, partner: Partner, *, again: bool = False) -> None:
        """The partner desk in the partner's channel; `again` posts it anew (the first one scrolled away)."""

    def review_overdue(self, session: Session, registration: Registration, partner: Partner, *, recipient: str,
                       hours_waiting: int, key: str, link: str | None = None) -> None:
        """`link` points at the review message the reminder is about, when the recipient can open it."""

    def review_chased(self, session: Session, registration: Registration, partner: Partner, *, key: str,
                      hours_waiting: int) -> None:
        """The partner hears, in the registration's thread, that its approval SLA was missed and is chased."""

    def partner_withdrew(self, session: Session, registration: Registration, partner: Partner, *,
                         actor_slack_id: str, reason: str) -> None:
        """The partner withdrew it: the review message and reminders show it, the reviewer is told."""

    def partner_note(self, session: Session, registration: Registration, partner: Partner, *,
                     author_slack_id: str, text: str) -> None:
        """A partner's update: shown in the registration's thread and sent to its AE."""

    def registration_edited(self, session: Session, registration: Registration, partner: Partner, *,
                            actor_slack_id: str, changed: str, review_key: str | None,
                            reviewer: str | None) -> None:
        """The partner edited it (`changed` names the fields): its thread and root show it; a review under way
        (`review_key`, its reminders) is settled and its `reviewer` told, since it is checked and routed anew."""

    def review_handed_over(self, session: Session, registration: Registration, partner: Partner, *,
                           review_key: str | None, actor_slack_id: str, previous_assignee: str | None,
                           reason: str | None) -> None:
        """The previous reviewer's message says who has the review now (a new request goes to them)."""

    def review_restored(self, session: Session, registration: Registration, partner: Partner, *,
                        review_key: str | None, conflicts: list[ConflictEvidence], actor_slack_id: str) -> None:
        """After an undo: the review message shows the restored state and its buttons again."""

    def decision_withdrawn(self, session: Session, registration: Registration, partner: Partner, *,
                           withdrawn: RegistrationStatus, told: bool) -> None:
        """After an undo: the partner's root shows the restored status; a thread reply says so if they were told."""

    def review_withdrawn(self, session: Session, registration: Registration, partner: Partner, *,
                         review_key: str, actor_slack_id: str) -> None:
        """After a conflict clearance is undone: the review request it sent the AE loses its buttons, saying so."""

    def co_sell_withdrawn(self, session: Session, registration: Registration, partner: Partner) -> None:
        """After an override is undone: the partner told of the co-sell hears, in its thread, that it is withdrawn."""

    def question_to_partner(self, session: Session, registration: Registration, partner: Partner, *,
                            asker_slack_id: str, question: str) -> None:
        """A reviewer's question, in the registration's thread where the partner sees it."""

    def partner_replied(self, session: Session, registration: Registration, partner: Partner, *, recipient: str,
                        author_slack_id: str, text: str, link: str | None) -> None:
        """A partner's reply in the registration's thread, for the reviewer."""

    def upsell_flagged(self, session: Session, upsell: Upsell, account: CustomerAccount, partner: Partner) -> None:
        """The upsell's thread root (its key kept on the upsell), mentioning the account's executive."""

    def upsell_changed(self, session: Session, upsell: Upsell, account: CustomerAccount, partner: Partner) -> None:
        """The upsell's root shows its current status and the buttons that status allows, updated in place."""

    def upsell_decided(self, session: Session, upsell: Upsell, account: CustomerAccount, partner: Partner, *,
                       actor_slack_id: str) -> None:
        """A step its AE took (accepted, declined, won, lost): a reply in its thread, its root updated in place."""

    def upsell_overdue(self, session: Session, upsell: Upsell, account: CustomerAccount, partner: Partner, *,
                       recipient: str, hours_waiting: int, key: str, link: str | None = None) -> None:
        """The accept-SLA reminder to `recipient` (the AE, later the partner's manager), with Accept / Decline."""

    def upsell_join_asked(self, session: Session, upsell: Upsell, account: CustomerAccount, partner: Partner, *,
                          contacts: list[str]) -> None:
        """The partner asked in by DM (its `contacts`), with Join, where it cannot see the upsell's thread."""

    def upsell_joined(self, session: Session, upsell: Upsell, account: CustomerAccount, partner: Partner, *,
                      actor_slack_id: str, contacts: list[str]) -> None:
        """The partner said it is involved: told in the thread, the root and the DM requests updated."""

    def upsell_duplicate_review(self, session: Session, upsell: Upsell, original: Upsell, account: CustomerAccount,
                                partner: Partner, original_partner: Partner) -> None:
        """Another partner's open upsell on the same account and target: the evidence to the partner manager."""

    def upsell_duplicate_decided(self, session: Session, upsell: Upsell, original: Upsell | None,
                                 account: CustomerAccount, partner: Partner, original_partner: Partner | None, *,
                                 actor_slack_id: str) -> None:
        """The duplicate's review shows the decision in place of its buttons."""


# Work done before a Slack ack may wait this long for the database's locks; the ack must come within 3 s.
ACK_LOCK_TIMEOUT = 1.5

# A job working through a backlog commits once it has written for this long, so the write lock it holds (all
# of SQLite) is free again for the acks waiting behind it, within about 100 ms; at once when an ack is waiting.
WRITE_BUDGET_SECONDS = 0.05


class WriteBudget:
    """Elapsed time since a transaction began writing, against WRITE_BUDGET_SECONDS (wall time, not the clock
    the workflows are given: this is about how long a lock is held, not about business time); spent early when
    an ack waits for `engine`'s write lock (SQLite: see storage.ack_hands.acks_waiting)."""

    def __init__(self, engine: Engine | None = None, seconds: float | None = None):
        self.engine = engine
        self.deadline = time.perf_counter() + (WRITE_BUDGET_SECONDS if seconds is None else seconds)

    def spent(self) -> bool:
        return time.perf_counter() >= self.deadline or (self.engine is not None and acks_waiting(self.engine))


class WorkflowError(Exception):
    """A rule said no; the message is safe to show the user as it is."""


class NotAllowed(WorkflowError):
    pass


class NotFound(WorkflowError):
    pass


class OverrideReasonNeeded(WorkflowError):
    """Approving would override an earlier approved registration: a written reason is required."""

    def __init__(self, message: str, winner_ids: list[int]):
        super().__init__(message)
        self.winner_ids = winner_ids


def utc_clock() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Services:
    engine: Engine
    program: Program
    notifier: Notifier
    clock: Callable[[], datetime] = utc_clock
    our_team_id: str | None = None
    bot_user_id: str | None = None
    # Wakes the worker that processes stored work and drains the outboxes (set by whoever runs one).
    kick: Callable[[], None] = lambda: None
    # Hands "publish App Home for (user, their team)" to the background process, which reads and renders it
    # there instead of beside the next ack; None (tests, the demo): the listener publishes it itself.
    publish_home_later: Callable[[str, str | None], None] | None = None
    # Slack's permalink of a message (conversation id, ts), asked of Slack outside any transaction; None
    # without a Slack client (tests of workflows) or when Slack cannot say.
    message_link: Callable[[str, str], str | None] | None = None
    # A person's IANA time zone from Slack (users.info), asked outside any transaction; None without a Slack
    # client, or when Slack gives none: nudges then use the program's default zone.
    user_time_zone: Callable[[str], str | None] | None = None
    # Salesforce's direct (non-partner) figures: (start, end, weeks_start, tz=) -> DirectFigures, read outside any
    # transaction (storage/crm/reporting.direct_figures); None when Salesforce is not configured ("not connected").
    read_direct: Callable[..., Any] | None = None
