"""Undo: a reviewer's decision (accept, reject, won, lost, a conflict cleared) can be taken back for
UNDO_MINUTES after it was made.

Undo restores the registration as it was, records the step in the status history, tells the CRM through its
outbox, puts the review message back with its buttons, and tells the partner the decision was withdrawn if
they had been told of it (a message still waiting in the Slack outbox is simply not sent). A clearance's own
part (co-sells, the AE's review request) is workflows/clearance_undo.py; what a win did to its customer account,
workflows/accounts.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from storage.actors import Actor
from storage.db import transaction
from storage.models import Partner, Registration, RegistrationStatus, ReviewDecision, ReviewKind
from storage.queries import claim_request, serialize_conflict_checks
from storage.reviews import latest_decision, withhold_unsent, withhold_unsent_crm
from workflows.accounts import take_back_win
from workflows.clearance_undo import Clearance, is_clearance, restore_clearance
from workflows.conflicts import find_conflicts
from workflows.history import REOPENED, UNDONE, change_status
from workflows.lifecycle import after_win_undone
from workflows.review_access import load_for_reviewer
from workflows.services import ACK_LOCK_TIMEOUT, NotAllowed, Services

UNDO_MINUTES = 5
# What a decision may change on a registration, kept as it was so an undo can put it back.
RESTORED_FIELDS = ("decision_reason", "close_reason", "approved_at", "protection_expires_at", "closed_at")
_TIMES = {"approved_at", "protection_expires_at", "closed_at"}


def snapshot(registration: Registration) -> dict:
    """The fields a decision may change, as JSON."""
    values = {}
    for name in RESTORED_FIELDS:
        value = getattr(registration, name)
        values[name] = value.isoformat() if isinstance(value, datetime) else value
    return values


def _restore(registration: Registration, previous: dict) -> None:
    for name in RESTORED_FIELDS:
        value = previous.get(name)
        setattr(registration, name, datetime.fromisoformat(value) if name in _TIMES and value else value)


def record_decision(session: Session, registration: Registration, *, actor_slack_id: str,
                    from_status: RegistrationStatus, previous: dict, partner_message_key: str | None,
                    now: datetime) -> ReviewDecision:
    """Keep what a decision replaced, undoable until UNDO_MINUTES from now."""
    decision = ReviewDecision(registration_id=registration.id, actor_slack_id=actor_slack_id,
                              from_status=from_status, to_status=registration.status, previous=previous,
                              partner_message_key=partner_message_key, decided_at=now,
                              undo_until=now + timedelta(minutes=UNDO_MINUTES))
    session.add(decision)
    session.flush()
    return decision


@dataclass
class UndoOutcome:
    registration: Registration | None
    changed: bool
    message: str
    replayed: bool = False


def undo_decision(services: Services, *, actor: Actor, decision_id: int,
                  request_key: str | None = None) -> UndoOutcome:
    """Take a decision back if it is still the registration's latest, within its window, by who made it (or a
    partner manager); otherwise change nothing and say why. Committed before the ack, as decisions are."""
    now = services.clock()
    with transaction(services.engine, lock_timeout=ACK_LOCK_TIMEOUT) as session:
        if request_key and not claim_request(session, request_key, now):
            return UndoOutcome(None, False, "", replayed=True)
        serialize_conflict_checks(session)  # a restored registration protects its company again
        decision = session.get(ReviewDecision, decision_id)
        if decision is None:
            raise NotAllowed("There is no decision of yours to undo here.")
        registration = load_for_reviewer(session, decision.registration_id, actor)
        if decision.actor_slack_id != actor.slack_user_id and not actor.runs_program:
            raise NotAllowed("Only who made this decision, or a partner manager, can undo it.")
        clearance = Clearance.of(decision.previous)
        what = f"{registration.reference} {decision_label(decision)}"
        if decision.undone_at is not None:
            return UndoOutcome(registration, False, f"{what}: that decision was already undone.")
        latest = latest_decision(session, registration.id)
        if latest is None or latest.id != decision.id or registration.status != decision.to_status or (
                clearance is not None and not clearance.still_current(registration)):
            return UndoOutcome(registration, False, f"{what}: it has changed since, so that decision can't be "
                                                    "undone any more.")
        if now >= decision.undo_until:
            return UndoOutcome(registration, False, f"{what}: too late to undo; decisions can be undone for "
                                                    f"{UNDO_MINUTES} minutes.")
        partner = session.get(Partner, registration.partner_id)
        _restore(registration, decision.previous)
        if decision.to_status == RegistrationStatus.won:
            take_back_win(session, registration, decision.previous, now=now)
        if clearance is not None:  # the CRM heard of no status change, only of the co-sells (undone there)
            restore_clearance(session, services.notifier, registration, partner, clearance,
                              actor_slack_id=actor.slack_user_id, now=now)
        change_status(session, registration, decision.from_status, actor_slack_id=actor.slack_user_id, now=now,
                      reason=f"undo of “{decision_label(decision)}” by {actor.slack_user_id}",
                      crm_event=None if clearance else _crm_event(session, decision))
        if decision.to_status == RegistrationStatus.won:  # the partner's move to producing, if this win made it
            after_win_undone(session, partner, registration, actor_slack_id=actor.slack_user_id, now=now)
        decision.undone_at, decision.undone_by_slack_id = now, actor.slack_user_id
        session.add(decision)
        if clearance is None:  # a clearance tells the registration's partner nothing
            told = not withhold_unsent(session, decision.partner_message_key)
            services.notifier.decision_withdrawn(session, registration, partner, withdrawn=decision.to_status,
                                                 told=told)
        conflicts = []
        if registration.review_kind == ReviewKind.conflict and registration.status == RegistrationStatus.under_review:
            conflicts = find_conflicts(session, domain=registration.domain, key=registration.company_key,
                                       program=services.program, now=now, exclude_id=registration.id)
        services.notifier.review_restored(session, registration, partner, review_key=registration.review_message_key,
                                          conflicts=conflicts, actor_slack_id=actor.slack_user_id)
    services.kick()
    if clearance is not None:
        return UndoOutcome(registration, True, f"Undone: {registration.reference} is a channel conflict again, "
                                               f"with <@{registration.assigned_to_slack_id}>.")
    return UndoOutcome(registration, True, f"Undone: {registration.reference} is "
                                           f"{registration.status.replace('_', ' ')} again.")


def decision_label(decision: ReviewDecision) -> str:
    """What the decision did, in a reviewer's words: "approved", "won", "conflict cleared"."""
    return "conflict cleared" if is_clearance(decision) else decision.to_status.replace("_", " ")


def _crm_event(session: Session, decision: ReviewDecision) -> str:
    """What the CRM hears: an approval it never received is withheld and only the Lead is refreshed."""
    if decision.to_status == RegistrationStatus.rejected:
        return REOPENED
    if decision.to_status == RegistrationStatus.approved and withhold_unsent_crm(
            session, decision.registration_id, "approved"):
        return REOPENED
    return UNDONE
