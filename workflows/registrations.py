"""Registering a lead: store it, check for channel conflict, score it, route it, and tell everyone."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlmodel import Session

from storage.actors import Actor
from storage.db import transaction
from storage.models import Partner, Registration, RegistrationStatus, ReviewKind
from storage.queries import partner_record, program_runners, serialize_conflict_checks
from workflows.conflicts import find_conflicts
from workflows.history import change_status
from workflows.lead_form import LeadInput
from workflows.routing import route_lead
from workflows.scoring import score_lead
from workflows.services import ConflictEvidence, NotAllowed, NotFound, Services

logger = logging.getLogger(__name__)


@dataclass
class RegistrationOutcome:
    registration: Registration
    partner: Partner
    conflicts: list[ConflictEvidence] = field(default_factory=list)


def _registering_partner(session: Session, actor: Actor, lead: LeadInput) -> Partner:
    if actor.is_partner:
        partner = session.get(Partner, actor.partner_id)
    elif actor.is_internal:
        if lead.partner_id is None:
            raise NotAllowed("Choose the partner you are registering this lead for.")
        partner = session.get(Partner, lead.partner_id)
    else:
        raise NotAllowed("Only partners and our own team can register leads.")
    if partner is None:
        raise NotFound("That partner is no longer in the program. Ask your partner manager.")
    return partner


def conflict_reviewer(session: Session, partner: Partner) -> str | None:
    """Conflicts go to the partner's own manager, else to the first partner manager or admin."""
    if partner.manager_slack_id:
        return partner.manager_slack_id
    runners = program_runners(session)
    return runners[0].slack_user_id if runners else None


def send_to_review(session: Session, services: Services, registration: Registration, partner: Partner,
                   conflicts: list[ConflictEvidence], *, actor_slack_id: str | None, reason: str | None = None) -> None:
    """Conflicts go to the partner manager; clean leads are routed to an AE."""
    now = services.clock()
    if conflicts:
        registration.review_kind = ReviewKind.conflict
        registration.assigned_to_slack_id = conflict_reviewer(session, partner)
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


def register_lead(services: Services, *, actor: Actor, lead: LeadInput) -> RegistrationOutcome:
    """Store a registration with its score, conflicts and reviewer in one transaction, then notify."""
    now = services.clock()
    with transaction(services.engine) as session:
        serialize_conflict_checks(session)
        partner = _registering_partner(session, actor, lead)
        fields = {k: v for k, v in lead.__dict__.items() if k != "partner_id"}
        registration = Registration(**fields, partner_id=partner.id, submitted_by_slack_id=actor.slack_user_id,
                                    submitted_by_team_id=actor.team_id, created_at=now, updated_at=now,
                                    partner_channel_id=partner.slack_channel_id)
        change_status(session, registration, RegistrationStatus.received, actor_slack_id=actor.slack_user_id, now=now)
        score = score_lead(lead, partner_record(session, partner.id), services.program.scoring.weights)
        registration.score, registration.score_breakdown = score.total, score.breakdown
        conflicts = find_conflicts(session, domain=lead.domain, key=lead.company_key, program=services.program,
                                   now=now, exclude_id=registration.id)
        send_to_review(session, services, registration, partner, conflicts, actor_slack_id=actor.slack_user_id)
    try:
        announce_registration(services, registration, partner, conflicts)
    except Exception:  # noqa: BLE001 - the registration is stored; a retry by the user would duplicate it
        logger.exception("registration %s is stored but announcing it failed", registration.reference)
    return RegistrationOutcome(registration, partner, conflicts)


def announce_registration(services: Services, registration: Registration, partner: Partner,
                          conflicts: list[ConflictEvidence]) -> None:
    """Tell the partner (threaded) and the reviewer; remember where, to update those messages later."""
    notifier = services.notifier
    root = notifier.registration_received(registration, partner)
    if root is not None:
        registration.partner_channel_id, registration.partner_thread_ts = root.channel_id, root.ts
    if registration.status == RegistrationStatus.under_review:
        notifier.partner_update(registration, partner, actor_slack_id=None)
    review = notifier.review_requested(registration, partner, conflicts) if registration.assigned_to_slack_id else None
    if review is not None:
        registration.review_channel_id, registration.review_message_ts = review.channel_id, review.ts
    if root is not None or review is not None:
        remember_messages(services, registration)


def remember_messages(services: Services, registration: Registration) -> None:
    """Store the Slack message coordinates of a registration (its other fields stay as committed)."""
    with transaction(services.engine) as session:
        stored = session.get(Registration, registration.id)
        for name in ("partner_channel_id", "partner_thread_ts", "review_channel_id", "review_message_ts"):
            setattr(stored, name, getattr(registration, name))
