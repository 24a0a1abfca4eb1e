"""Registering a lead: store it, check for channel conflict, score it, route it, and tell everyone."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session, select

from storage.actors import Actor, acting_partner

from storage.db import transaction
from storage.models import OPEN_STATUSES, Partner, Registration, RegistrationStatus, ReviewKind
from storage.queries import (
    claimed_again_at,
    claim_request,
    partner_record,
    partner_manager_or_runner,
    registration_thread_channel,
    serialize_conflict_checks,
)
from storage.work import owe_work
from workflows.conflicts import find_conflicts
from workflows.history import change_status
from workflows.lifecycle import after_registration_submitted
from workflows.lead_form import BUDGETS, COMPANY_SIZES, TIMELINES, LeadDetails, LeadInput
from workflows.routing import route_lead
from workflows.scoring import score_lead
from workflows.services import ACK_LOCK_TIMEOUT, ConflictEvidence, NotAllowed, NotFound, Services
from workflows.work import processor, run_pending_work

logger = logging.getLogger(__name__)


@dataclass
class RegistrationOutcome:
    registration: Registration
    partner: Partner
    conflicts: list[ConflictEvidence] = field(default_factory=list)


def _registering_partner(session: Session, actor: Actor, lead: LeadInput) -> Partner:
    if actor.is_partner:
        partner = acting_partner(session, actor)
    elif actor.is_internal:
        if lead.partner_id is None:
            raise NotAllowed("Choose the partner you are registering this lead for.")
        partner = session.get(Partner, lead.partner_id)
    else:
        raise NotAllowed("Only partners and our own team can register leads.")
    if partner is None:
        raise NotFound("That partner is no longer in the program. Ask your partner manager.")
    return partner


def send_to_review(session: Session, services: Services, registration: Registration, partner: Partner,
                   conflicts: list[ConflictEvidence], *, actor_slack_id: str | None, reason: str | None = None) -> None:
    """Conflicts go to the partner manager; clean leads are routed to an AE."""
    now = services.clock()
    if conflicts:
        registration.review_kind = ReviewKind.conflict
        registration.assigned_to_slack_id = partner_manager_or_runner(session, partner)
        registration.conflict_with = [c.registration.id for c in conflicts]
        registration.routing_reason = "channel conflict: the partner manager reviews it first"
    else:
        decision = route_lead(session, registration, partner, services.program.routing, now)
        registration.review_kind = ReviewKind.ae
        registration.assigned_to_slack_id = decision.assignee_slack_id
        registration.routing_reason = decision.reason
    if registration.assigned_to_slack_id is None:
        logger.warning("registration %s has nobody to review it: import the team first", registration.id)
        session.add(registration)
        return
    change_status(session, registration, RegistrationStatus.under_review, actor_slack_id=actor_slack_id, now=now,
                  reason=reason or registration.routing_reason)


PROCESS_REGISTRATION = "registration"
# How long processing waits for the form's optional details step when Slack never says it was closed (a
# client that quit with it open): the reviewer gets one complete message, and nothing waits for ever.
DETAILS_GRACE = timedelta(minutes=10)


@dataclass
class Submission:
    """A registration stored before the ack; `duplicate` when the same submission was already stored."""

    registration: Registration | None
    partner: Partner | None
    duplicate: bool = False


def _first_submission(session: Session, actor: Actor, lead: LeadInput) -> Submission:
    """A replayed submission: the registration its first delivery stored (this submitter's latest of this
    company), so the replay is answered as the first was."""
    registration = session.exec(
        select(Registration).where(Registration.submitted_by_slack_id == actor.slack_user_id,
                                   Registration.company_key == lead.company_key)
        .order_by(Registration.created_at.desc(), Registration.id.desc()).limit(1)).first()
    partner = session.get(Partner, registration.partner_id) if registration else None
    return Submission(registration, partner, duplicate=True)


def submit_registration(services: Services, *, actor: Actor, lead: LeadInput,
                        request_key: str | None = None, details_to_follow: bool = False) -> Submission:
    """Store the registration as received, owe its processing and its thread root, in a few milliseconds.

    This is what the partner is told happened, so it is committed before the ack; the conflict check,
    scoring and routing follow from the stored row (`process_registration`). Raises DatabaseBusy when the
    database stays locked, so the form can say "try again" instead of accepting and then losing it.
    With `details_to_follow` the processing waits for the optional details step (`add_lead_details`,
    `skip_lead_details`), at most DETAILS_GRACE.
    """
    now = services.clock()
    # Its history, CRM write, owed work, index keys and thread root are read by no one before the commit: inserted
    # with it, in one round trip.
    with transaction(services.engine, lock_timeout=ACK_LOCK_TIMEOUT, inserts_at_commit=True) as session:
        if request_key and not claim_request(session, request_key, now):
            return _first_submission(session, actor, lead)
        partner = _registering_partner(session, actor, lead)
        fields = {k: v for k, v in lead.__dict__.items() if k != "partner_id"}
        registration = Registration(**fields, partner_id=partner.id, submitted_by_slack_id=actor.slack_user_id,
                                    submitted_by_team_id=actor.team_id, created_at=now, updated_at=now,
                                    partner_channel_id=registration_thread_channel(partner))
        change_status(session, registration, RegistrationStatus.received, actor_slack_id=actor.slack_user_id,
                      now=now)
        after_registration_submitted(session, partner, registration, now=now)
        owe_work(session, PROCESS_REGISTRATION, registration.id, now,
                 due=now + DETAILS_GRACE if details_to_follow else now)
        services.notifier.registration_received(session, registration, partner)
    services.kick()
    return Submission(registration, partner)


DETAIL_LABELS = {"company_size": COMPANY_SIZES, "budget": BUDGETS, "timeline": TIMELINES}


def _own_registration(session: Session, actor: Actor, registration_id: int) -> Registration:
    """The registration the details step names, if this actor submitted it (the view's metadata is a claim)."""
    registration = session.get(Registration, registration_id)
    if registration is None:
        raise NotFound("That registration no longer exists.")
    if registration.submitted_by_slack_id != actor.slack_user_id:
        raise NotAllowed("Only the person who registered this lead can add its details.")
    return registration


def add_lead_details(services: Services, *, actor: Actor, registration_id: int, details: LeadDetails,
                     request_key: str | None = None) -> Registration | None:
    """Store the optional details before the ack; the registration is then processed (or re-scored if the
    wait for them had already run out, and its reviewer told). None for a replayed submission."""
    now = services.clock()
    with transaction(services.engine, lock_timeout=ACK_LOCK_TIMEOUT) as session:
        if request_key and not claim_request(session, request_key, now):
            return None
        registration = _own_registration(session, actor, registration_id)
        for name in ("company_size", "budget", "timeline", "notes"):
            if getattr(details, name):
                setattr(registration, name, getattr(details, name))
        registration.updated_at = now
        session.add(registration)
        if registration.review_kind is None and registration.status == RegistrationStatus.received:
            owe_work(session, PROCESS_REGISTRATION, registration.id, now)  # the one waiting for them is then a no-op
        elif details.given:
            _rescore(session, services, registration, actor)
    services.kick()
    return registration


def _rescore(session: Session, services: Services, registration: Registration, actor: Actor) -> None:
    """Details that came after the review was requested: a new score, and the reviewer hears of it."""
    before = registration.score
    lead = LeadInput(**{name: getattr(registration, name) for name in LeadInput.__dataclass_fields__
                        if name != "partner_id"})
    score = score_lead(lead, partner_record(session, registration.partner_id), services.program.scoring.weights)
    registration.score, registration.score_breakdown = score.total, score.breakdown
    session.add(registration)
    if registration.assigned_to_slack_id and registration.status in OPEN_STATUSES:
        given = [DETAIL_LABELS[name].get(getattr(registration, name), "") for name in DETAIL_LABELS]
        summary = ", ".join(g for g in given if g) or "notes"
        services.notifier.tell_user(
            session, registration.assigned_to_slack_id,
            f"{registration.reference} {registration.company}: the partner added details ({summary}). "
            f"Score {before} -> {score.total}/100.")


def skip_lead_details(services: Services, *, actor: Actor, registration_id: int) -> None:
    """The details step was closed (Skip): the registration goes on now instead of after DETAILS_GRACE."""
    now = services.clock()
    with transaction(services.engine) as session:
        registration = _own_registration(session, actor, registration_id)
        if registration.review_kind is None and registration.status == RegistrationStatus.received:
            owe_work(session, PROCESS_REGISTRATION, registration.id, now)
    services.kick()


def _conflicts_to_check(session: Session, services: Services, registration: Registration,
                        now: datetime) -> list[ConflictEvidence]:
    """Open registrations submitted after this one are checked against it, not it against them: first
    submitted, first through, whatever order the worker gets to them in. An approved one counts whenever.
    An edited registration claims its company when edited: the open ones submitted before that came first."""
    edited_at = claimed_again_at(session, registration.id)

    def came_later(other: Registration) -> bool:
        if other.status not in OPEN_STATUSES:
            return False
        return other.created_at > edited_at if edited_at else other.id > registration.id

    return [c for c in find_conflicts(session, domain=registration.domain, key=registration.company_key,
                                      program=services.program, now=now, exclude_id=registration.id)
            if not came_later(c.registration)]


@processor(PROCESS_REGISTRATION)
def process_registration(services: Services, session: Session, registration_id: int) -> None:
    """After the ack, from the stored row: score, check conflicts, route, and owe the messages that follow."""
    now = services.clock()
    serialize_conflict_checks(session)
    registration = session.get(Registration, registration_id)
    if registration is None or registration.status != RegistrationStatus.received or registration.review_kind:
        return
    partner = session.get(Partner, registration.partner_id)
    lead = LeadInput(**{name: getattr(registration, name) for name in LeadInput.__dataclass_fields__
                        if name != "partner_id"})
    with session.no_autoflush:  # the score goes out with the status change: one UPDATE, not one per read
        score = score_lead(lead, partner_record(session, partner.id), services.program.scoring.weights)
        registration.score, registration.score_breakdown = score.total, score.breakdown
        conflicts = _conflicts_to_check(session, services, registration, now)
        send_to_review(session, services, registration, partner, conflicts,
                       actor_slack_id=registration.submitted_by_slack_id)
    if registration.status == RegistrationStatus.under_review:
        services.notifier.partner_update(session, registration, partner, actor_slack_id=None)
        services.notifier.review_requested(session, registration, partner, conflicts)


def register_lead(services: Services, *, actor: Actor, lead: LeadInput) -> RegistrationOutcome:
    """Submit and process at once (imports, scripts and tests that have no worker running)."""
    submission = submit_registration(services, actor=actor, lead=lead)
    run_pending_work(services, PROCESS_REGISTRATION, submission.registration.id)
    with Session(services.engine) as session:
        registration = session.get(Registration, submission.registration.id)
        partner = session.get(Partner, registration.partner_id)
        conflicts = [c for c in find_conflicts(session, domain=registration.domain, key=registration.company_key,
                                               program=services.program, now=registration.created_at,
                                               exclude_id=registration.id)
                     if c.registration.id in registration.conflict_with] if registration.conflict_with else []
    return RegistrationOutcome(registration, partner, conflicts)
