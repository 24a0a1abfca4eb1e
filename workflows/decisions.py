"""Deciding a registration: an AE accepts or rejects it; a partner manager clears or rejects a conflict."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from sqlmodel import Session

from storage.actors import Actor
from storage.db import transaction
from storage.models import OPEN_STATUSES, AttributionType, Partner, Registration, RegistrationStatus, ReviewKind
from storage.queries import registration_for_decision, registrations_due_to_expire, serialize_conflict_checks
from workflows.conflicts import approved_winners, find_conflicts
from workflows.history import change_status, record_attribution_change
from workflows.registrations import remember_messages, send_to_review
from workflows.services import ConflictEvidence, NotAllowed, NotFound, OverrideReasonNeeded, Services, WorkflowError

MAX_REASON = 1000


class Decision(StrEnum):
    approve = "approve"
    reject = "reject"


@dataclass
class DecisionOutcome:
    registration: Registration
    partner: Partner
    changed: bool
    message: str


def _load_for(session: Session, registration_id: int, actor: Actor) -> Registration:
    registration = registration_for_decision(session, registration_id, actor)
    if registration is not None:
        return registration
    if session.get(Registration, registration_id) is None:
        raise NotFound(f"Registration {registration_id} does not exist.")
    if actor.is_partner:
        raise NotAllowed("Partners can't approve or reject registrations, including their own.")
    raise NotAllowed("Only the assigned reviewer or a partner manager can decide this registration.")


def _clean_reason(reason: str | None, *, required: bool, what: str) -> str | None:
    reason = (reason or "").strip()
    if required and not reason:
        raise WorkflowError(f"Give a reason for {what}.")
    if len(reason) > MAX_REASON:
        raise WorkflowError(f"Keep the reason under {MAX_REASON} characters.")
    return reason or None


def ensure_can_decide(services: Services, *, actor: Actor, registration_id: int) -> None:
    """Raises unless this actor may still decide this registration (before asking for a reason).

    A plain read, not a write transaction: it must not queue behind writers while a trigger_id ages.
    """
    with Session(services.engine) as session:
        registration = _load_for(session, registration_id, actor)
        if registration.status not in OPEN_STATUSES:
            raise WorkflowError(f"{registration.reference} was already {registration.status.replace('_', ' ')}.")


def _make_co_sell(session: Session, winners: list[ConflictEvidence], registration: Registration, now) -> None:
    """An override protects both partners: every registration involved becomes a co-sell, in the CRM too."""
    registration.attribution = AttributionType.co_sell
    for winner in winners:
        if winner.registration.attribution != AttributionType.co_sell:
            winner.registration.attribution = AttributionType.co_sell
            session.add(winner.registration)
            record_attribution_change(session, winner.registration, now=now)


def decide_registration(
    services: Services, *, actor: Actor, registration_id: int, decision: Decision, reason: str | None = None
) -> DecisionOutcome:
    """Apply a reviewer's decision once; a second click, or a decision on a closed registration, changes nothing."""
    now = services.clock()
    announce = Announcement()
    with transaction(services.engine) as session:
        # Decisions and registrations check conflicts one at a time: two rival approvals must see each other.
        serialize_conflict_checks(session)
        registration = _load_for(session, registration_id, actor)
        partner = session.get(Partner, registration.partner_id)
        if registration.status not in OPEN_STATUSES:
            return DecisionOutcome(registration, partner, False,
                                   f"{registration.reference} was already {registration.status.replace('_', ' ')}.")
        conflicts = find_conflicts(session, domain=registration.domain, key=registration.company_key,
                                   program=services.program, now=now, exclude_id=registration.id)
        winners = approved_winners(conflicts, registration.partner_id)
        announce.previous_review = (registration.review_channel_id, registration.review_message_ts)

        if decision is Decision.reject:
            reason = _clean_reason(reason, required=True, what="rejecting")
            registration.decision_reason = reason
            change_status(session, registration, RegistrationStatus.rejected, actor_slack_id=actor.slack_user_id,
                          now=now, reason=reason)
            message = f"{registration.reference} rejected."
        elif registration.review_kind is ReviewKind.conflict:
            reason = _clean_reason(reason, required=False, what="overriding an approved registration")
            if winners and reason is None:
                first = winners[0]
                raise OverrideReasonNeeded(
                    f"{first.partner.name}'s {first.registration.reference} was approved first.",
                    [w.registration.id for w in winners])
            if winners:
                registration.override_reason = reason
                _make_co_sell(session, winners, registration, now)
                announce.co_sell = [(w.registration, w.partner) for w in winners]
            send_to_review(session, services, registration, partner, [], actor_slack_id=actor.slack_user_id,
                           reason=f"conflict cleared by {actor.slack_user_id}" + (f": {reason}" if reason else ""))
            if registration.assigned_to_slack_id is None:
                raise WorkflowError("Nobody can take this lead: import AEs or a partner manager first.")
            announce.review_conflicts = []
            message = f"Conflict cleared: {registration.reference} is routed to <@{registration.assigned_to_slack_id}>."
        elif winners and not registration.override_reason:
            # A rival was approved after this one was routed: first approved wins, so it goes back for review.
            send_to_review(session, services, registration, partner, conflicts, actor_slack_id=actor.slack_user_id,
                           reason=f"{winners[0].registration.reference} was approved first")
            announce.review_conflicts = conflicts
            message = (f"{winners[0].registration.reference} for the same company was approved first, so "
                       f"{registration.reference} went to the partner manager as a conflict.")
        else:
            registration.approved_at = now
            registration.protection_expires_at = now + timedelta(days=services.program.protection_window_days)
            change_status(session, registration, RegistrationStatus.approved, actor_slack_id=actor.slack_user_id,
                          now=now, reason=_clean_reason(reason, required=False, what="approving"))
            message = (f"{registration.reference} approved; protected until "
                       f"{registration.protection_expires_at:%d %b %Y}.")

    _announce_decision(services, registration, partner, actor, announce)
    return DecisionOutcome(registration, partner, True, message)


@dataclass
class Announcement:
    """What a decision must tell people once it is committed."""

    previous_review: tuple[str | None, str | None] = (None, None)
    review_conflicts: list[ConflictEvidence] | None = None  # set when the registration goes to a new reviewer
    co_sell: list[tuple[Registration, Partner]] = field(default_factory=list)


def _announce_decision(services: Services, registration: Registration, partner: Partner, actor: Actor,
                       announce: Announcement) -> None:
    notifier = services.notifier
    settled = Registration.model_validate(registration.model_dump())
    settled.review_channel_id, settled.review_message_ts = announce.previous_review
    notifier.review_settled(settled, partner, actor_slack_id=actor.slack_user_id)
    for other, other_partner in announce.co_sell:
        notifier.partner_update(other, other_partner, actor_slack_id=actor.slack_user_id)
    if announce.review_conflicts is None:
        notifier.partner_update(registration, partner, actor_slack_id=actor.slack_user_id)
        return
    review = notifier.review_requested(registration, partner, announce.review_conflicts)
    if review is not None:
        registration.review_channel_id, registration.review_message_ts = review.channel_id, review.ts
        remember_messages(services, registration)


def close_deal(services: Services, *, actor: Actor, registration_id: int, won: bool) -> DecisionOutcome:
    """An approved registration's deal is won or lost: the partner is told and the CRM updated, once."""
    now = services.clock()
    with transaction(services.engine) as session:
        registration = _load_for(session, registration_id, actor)
        partner = session.get(Partner, registration.partner_id)
        if registration.status != RegistrationStatus.approved:
            return DecisionOutcome(registration, partner, False,
                                   f"{registration.reference} is {registration.status.replace('_', ' ')}: only "
                                   "approved registrations can be marked won or lost.")
        registration.closed_at = now
        change_status(session, registration, RegistrationStatus.won if won else RegistrationStatus.lost,
                      actor_slack_id=actor.slack_user_id, now=now)
        review = (registration.review_channel_id, registration.review_message_ts)
    _announce_decision(services, registration, partner, actor, Announcement(previous_review=review))
    return DecisionOutcome(registration, partner, True, f"{registration.reference} marked {registration.status}.")


def expire_registrations(services: Services) -> int:
    """Approved registrations whose protection window has ended become expired; partners are told."""
    now = services.clock()
    with transaction(services.engine) as session:
        due = registrations_due_to_expire(session, now)
        for registration in due:
            change_status(session, registration, RegistrationStatus.expired, actor_slack_id=None, now=now,
                          reason="protection window ended")
        partners = {r.id: session.get(Partner, r.partner_id) for r in due}
    for registration in due:
        services.notifier.partner_update(registration, partners[registration.id], actor_slack_id=None)
    return len(due)
