"""Deciding a registration: an AE accepts or rejects it; a partner manager clears or rejects a conflict."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlmodel import Session

from storage.actors import Actor
from storage.db import transaction
from storage.models import OPEN_STATUSES, AttributionType, Partner, Registration, RegistrationStatus, ReviewKind
from storage.nudges.models import NudgeKind
from storage.queries import (
    claim_request,
    registrations_due_to_expire,
    serialize_conflict_checks,
)
from workflows.accounts import ACCOUNT, account_for_win
from workflows.clearance_undo import CLEARED, Clearance
from workflows.conflicts import approved_winners, find_conflicts
from workflows.history import change_status, record_attribution_change
from workflows.lifecycle import after_deal_won
from workflows.nudges import settle_registration_nudges
from workflows.partner_names import ensure_names_no_other_partner
from workflows.reasons import LOST_REASONS, compose_reason, reject_reasons
from workflows.registrations import send_to_review
from workflows.review_access import load_for_reviewer
from workflows.services import (
    ACK_LOCK_TIMEOUT,
    ConflictEvidence,
    OverrideReasonNeeded,
    Services,
    WorkflowError,
    WriteBudget,
)
from workflows.undo import record_decision, snapshot

MAX_REASON = 1000


class Decision(StrEnum):
    approve = "approve"
    reject = "reject"


@dataclass
class DecisionOutcome:
    registration: Registration | None
    partner: Partner | None
    changed: bool
    message: str
    replayed: bool = False
    undo_id: int | None = None  # the decision, while it can be undone (workflows/undo.py)
    undo_until: datetime | None = None


_load_for = load_for_reviewer


def _clean_reason(reason: str | None, *, required: bool, what: str) -> str | None:
    reason = (reason or "").strip()
    if required and not reason:
        raise WorkflowError(f"Give a reason for {what}.")
    if len(reason) > MAX_REASON:
        raise WorkflowError(f"Keep the reason under {MAX_REASON} characters.")
    return reason or None


def ensure_can_decide(services: Services, *, actor: Actor, registration_id: int,
                      statuses: tuple[RegistrationStatus, ...] = OPEN_STATUSES) -> Registration:
    """The registration, unless this actor may not act on it in one of `statuses` (before opening a modal).

    A plain read, not a write transaction: it must not queue behind writers while a trigger_id ages.
    """
    with Session(services.engine) as session:
        registration = _load_for(session, registration_id, actor)
        if registration.status not in statuses:
            raise WorkflowError(f"{registration.reference} was already {registration.status.replace('_', ' ')}.")
        session.expunge(registration)
        return registration


def _make_co_sell(session: Session, winners: list[ConflictEvidence], registration: Registration, now) -> None:
    """An override protects both partners: every registration involved becomes a co-sell, in the CRM too."""
    registration.attribution = AttributionType.co_sell
    for winner in winners:
        if winner.registration.attribution != AttributionType.co_sell:
            winner.registration.attribution = AttributionType.co_sell
            session.add(winner.registration)
            record_attribution_change(session, winner.registration, now=now)


def decide_registration(
    services: Services, *, actor: Actor, registration_id: int, decision: Decision, reason: str | None = None,
    request_key: str | None = None, reason_choice: str | None = None,
) -> DecisionOutcome:
    """Apply a reviewer's decision once; a second click, or a decision on a closed registration, changes nothing.

    A rejection's reason is a standard wording (`reason_choice`), the reviewer's words (`reason`), or both; the
    reviewer's words may not name another partner. The decision and every message it owes are committed
    together, before the ack; the messages go out from the Slack outbox. Accepting, rejecting and clearing a
    conflict can be undone for a few minutes (workflows/undo.py). Raises DatabaseBusy when the database stays
    locked.
    """
    now = services.clock()
    notifier = services.notifier
    with transaction(services.engine, lock_timeout=ACK_LOCK_TIMEOUT) as session:
        if request_key and not claim_request(session, request_key, now):
            return _replayed()
        # Decisions and registrations check conflicts one at a time: two rival approvals must see each other.
        serialize_conflict_checks(session)
        registration = _load_for(session, registration_id, actor)
        partner = session.get(Partner, registration.partner_id)
        if registration.status not in OPEN_STATUSES:
            return DecisionOutcome(registration, partner, False,
                                   f"{registration.reference} was already "
                                   f"{registration.status.replace('_', ' ')}.")
        conflicts = find_conflicts(session, domain=registration.domain, key=registration.company_key,
                                   program=services.program, now=now, exclude_id=registration.id)
        winners = approved_winners(conflicts, registration.partner_id)
        acted_on = registration.review_message_key
        new_review: list[ConflictEvidence] | None = None
        before, from_status, undoable = snapshot(registration), registration.status, False
        clearance: Clearance | None = None

        if decision is Decision.reject:
            ensure_names_no_other_partner(session, reason, partner=partner, registration=registration)
            reason = _clean_reason(compose_reason(reject_reasons(registration.review_kind), reason_choice, reason),
                                   required=True, what="rejecting")
            registration.decision_reason = reason
            undoable = True
            change_status(session, registration, RegistrationStatus.rejected,
                          actor_slack_id=actor.slack_user_id, now=now, reason=reason)
            message = f"{registration.reference} rejected."
        elif registration.review_kind is ReviewKind.conflict:
            reason = _clean_reason(reason, required=False, what="overriding an approved registration")
            if winners and reason is None:
                first = winners[0]
                raise OverrideReasonNeeded(
                    f"{first.partner.name}'s {first.registration.reference} was approved first.",
                    [w.registration.id for w in winners])
            clearance = Clearance.before(registration, winners)
            if winners:
                registration.override_reason = reason
                _make_co_sell(session, winners, registration, now)
                for winner in winners:
                    clearance.partner_told(winner.registration.id, notifier.partner_update(
                        session, winner.registration, winner.partner, actor_slack_id=actor.slack_user_id))
            send_to_review(session, services, registration, partner, [], actor_slack_id=actor.slack_user_id,
                           reason=f"conflict cleared by {actor.slack_user_id}" + (f": {reason}" if reason else ""))
            if registration.assigned_to_slack_id is None:
                raise WorkflowError("Nobody can take this lead: import AEs or a partner manager first.")
            new_review, undoable = [], True
            message = (f"Conflict cleared: {registration.reference} is routed to "
                       f"<@{registration.assigned_to_slack_id}>.")
        elif winners and not registration.override_reason:
            # A rival was approved after this one was routed: first approved wins, so it goes back for review.
            send_to_review(session, services, registration, partner, conflicts,
                           actor_slack_id=actor.slack_user_id,
                           reason=f"{winners[0].registration.reference} was approved first")
            new_review = conflicts
            message = (f"{winners[0].registration.reference} for the same company was approved first, so "
                       f"{registration.reference} went to the partner manager as a conflict.")
        else:
            registration.approved_at = now
            registration.protection_expires_at = now + timedelta(days=services.program.protection_window_days)
            change_status(session, registration, RegistrationStatus.approved, actor_slack_id=actor.slack_user_id,
                          now=now, reason=_clean_reason(reason, required=False, what="approving"))
            message = (f"{registration.reference} approved; protected until "
                       f"{registration.protection_expires_at:%d %b %Y}.")
            undoable = True
        notifier.review_settled(session, registration, partner, review_key=acted_on,
                                actor_slack_id=actor.slack_user_id)
        told = None
        if new_review is None:
            told = notifier.partner_update(session, registration, partner, actor_slack_id=actor.slack_user_id)
        else:
            notifier.review_requested(session, registration, partner, new_review)
        if clearance is not None:
            clearance.review_key = registration.review_message_key  # the AE's request, which an undo withdraws
            before[CLEARED] = clearance.to_json()
        undo = record_decision(session, registration, actor_slack_id=actor.slack_user_id, from_status=from_status,
                               previous=before, partner_message_key=told, now=now) if undoable else None
    services.kick()
    return DecisionOutcome(registration, partner, True, message, undo_id=undo.id if undo else None,
                           undo_until=undo.undo_until if undo else None)


def _replayed() -> DecisionOutcome:
    """A request Slack delivered again: it was applied the first time, and answers as it did then."""
    return DecisionOutcome(None, None, False, "", replayed=True)


def close_deal(services: Services, *, actor: Actor, registration_id: int, won: bool,
               request_key: str | None = None, reason: str | None = None,
               reason_choice: str | None = None) -> DecisionOutcome:
    """An approved registration's deal is won or lost: the partner is told and the CRM updated, once.

    A lost deal needs a reason (a standard one, the reviewer's words, or both), kept for our team and sent to
    the CRM with the change; the partner is not shown it. A won deal's customer becomes an account (or joins
    its match) in the same transaction (workflows/accounts.py). Can be undone for a few minutes.
    """
    now = services.clock()
    with transaction(services.engine, lock_timeout=ACK_LOCK_TIMEOUT) as session:
        if request_key and not claim_request(session, request_key, now):
            return _replayed()
        registration = _load_for(session, registration_id, actor)
        partner = session.get(Partner, registration.partner_id)
        if registration.status != RegistrationStatus.approved:
            return DecisionOutcome(registration, partner, False,
                                   f"{registration.reference} is {registration.status.replace('_', ' ')}: only "
                                   "approved registrations can be marked won or lost.")
        reason = None if won else _clean_reason(
            compose_reason(LOST_REASONS, reason_choice, reason, needs_details=frozenset({"other"})),
            required=True, what="a lost deal")
        before = snapshot(registration)
        registration.closed_at, registration.close_reason = now, reason
        change_status(session, registration, RegistrationStatus.won if won else RegistrationStatus.lost,
                      actor_slack_id=actor.slack_user_id, now=now, reason=reason)
        if won:  # the customer is an account from now on, its owner the AE who won it
            before[ACCOUNT] = account_for_win(session, registration, now=now, owner_slack_id=(
                registration.assigned_to_slack_id or actor.slack_user_id)).to_json()
            after_deal_won(session, services, partner, registration, now=now)  # producing, maybe strategic
        services.notifier.review_settled(session, registration, partner,
                                         review_key=registration.review_message_key,
                                         actor_slack_id=actor.slack_user_id)
        settle_registration_nudges(session, services, registration.id, DEAL_NUDGES, actor_slack_id=actor.slack_user_id,
                                   now=now, note=f":white_check_mark: <@{actor.slack_user_id}> marked it "
                                                 f"{registration.status} on {now:%-d %b %Y}.")
        told = services.notifier.partner_update(session, registration, partner, actor_slack_id=actor.slack_user_id)
        undo = record_decision(session, registration, actor_slack_id=actor.slack_user_id,
                               from_status=RegistrationStatus.approved, previous=before, partner_message_key=told,
                               now=now)
    services.kick()
    return DecisionOutcome(registration, partner, True, f"{registration.reference} marked {registration.status}.",
                           undo_id=undo.id, undo_until=undo.undo_until)


# A closed deal's stalled-deal nudges and expiry warnings lose their buttons (Still working, Request extension).
DEAL_NUDGES = (NudgeKind.stalled_registration, NudgeKind.protection_expiry)
EXPIRY_BATCH = 50  # due registrations read per transaction (about 10 fit its write budget); it writes what fits


def expire_registrations(services: Services) -> int:
    """Approved registrations whose protection window has ended become expired; partners are told."""
    now = services.clock()
    with Session(services.engine) as session:  # a plain read: a run with nothing due takes no write lock
        if not registrations_due_to_expire(session, now, limit=1, lock=False):
            return 0
    expired = 0
    while True:
        with transaction(services.engine) as session:
            # Expired rows leave the query, so each transaction simply takes the next due ones.
            budget = WriteBudget(services.engine)  # from the start: the reads below hold the write lock too
            due, done = registrations_due_to_expire(session, now, limit=EXPIRY_BATCH), 0
            for registration in due:
                if done and budget.spent():
                    break
                change_status(session, registration, RegistrationStatus.expired, actor_slack_id=None, now=now,
                              reason="protection window ended")
                services.notifier.partner_update(session, registration,
                                                 session.get(Partner, registration.partner_id), actor_slack_id=None)
                done += 1
        expired += done
        services.kick()  # these messages go out while the next transaction is written
        if done == len(due) < EXPIRY_BATCH:
            return expired
