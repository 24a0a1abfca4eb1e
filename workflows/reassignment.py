"""Reassign: a reviewer hands a lead to another AE, or sends it back to routing, without deciding it.

The partner is not told anything: for them the lead is still under review. The old review message says who
has it now; the new reviewer gets the review request.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from storage.actors import Actor
from storage.db import transaction
from storage.models import Partner, Registration, RegistrationStatus, ReviewKind, Role, TeamMember
from storage.queries import account_executives, claim_request
from workflows.history import change_status
from workflows.routing import route_lead
from workflows.review_access import load_for_reviewer
from workflows.services import ACK_LOCK_TIMEOUT, Services, WorkflowError

MAX_REASON = 1000
ROUTING_REASON_LIMIT = 500  # Registration.routing_reason


class ChooseAnother(WorkflowError):
    """The chosen reviewer can't take it: not an AE, already has it, or routing has nobody else."""


@dataclass
class ReassignOutcome:
    registration: Registration | None
    changed: bool
    message: str
    replayed: bool = False


def reassign_choices(services: Services, *, exclude: str | None = None) -> list[tuple[str, str]]:
    """(Slack id, name) of the AEs a review can be handed to, by name."""
    with Session(services.engine) as session:
        return sorted(((ae.slack_user_id, ae.name) for ae in account_executives(session)
                       if ae.slack_user_id != exclude), key=lambda pair: pair[1].casefold())


def _route_again(session: Session, services: Services, registration: Registration, partner: Partner,
                 previous: str | None) -> tuple[str | None, str]:
    """The routing rules' pick other than the previous reviewer (round-robin moves on when it picks them)."""
    now = services.clock()
    decision = route_lead(session, registration, partner, services.program.routing, now)
    if decision.assignee_slack_id == previous:
        decision = route_lead(session, registration, partner, services.program.routing, now)
    return decision.assignee_slack_id, decision.reason


def reassign_registration(services: Services, *, actor: Actor, registration_id: int, to_slack_id: str | None,
                          reason: str | None = None, request_key: str | None = None) -> ReassignOutcome:
    """Hand an AE review to `to_slack_id` (an AE), or back to the routing rules when None (a reason is then
    required). Committed before the ack; a replayed request changes nothing."""
    now = services.clock()
    reason = (reason or "").strip() or None
    if reason and len(reason) > MAX_REASON:
        raise WorkflowError(f"Keep the reason under {MAX_REASON} characters.")
    if to_slack_id is None and reason is None:
        raise WorkflowError("Say why it goes back to routing: the next reviewer sees it.")
    with transaction(services.engine, lock_timeout=ACK_LOCK_TIMEOUT) as session:
        if request_key and not claim_request(session, request_key, now):
            return ReassignOutcome(None, False, "", replayed=True)
        registration = load_for_reviewer(session, registration_id, actor)
        if registration.status != RegistrationStatus.under_review or registration.review_kind != ReviewKind.ae:
            return ReassignOutcome(registration, False, f"{registration.reference} is "
                                   f"{registration.status.replace('_', ' ')}: only a lead waiting for an AE's "
                                   "decision can be reassigned.")
        partner = session.get(Partner, registration.partner_id)
        previous = registration.assigned_to_slack_id
        if to_slack_id is not None:
            member = session.exec(select(TeamMember).where(TeamMember.slack_user_id == to_slack_id)).first()
            if member is None or member.role != Role.ae:
                raise ChooseAnother("Choose one of our account executives.")
            if to_slack_id == previous:
                raise ChooseAnother(f"{registration.reference} is already with {member.name}.")
            member.last_assigned_at = now
            session.add(member)
            new, why = to_slack_id, f"reassigned by {actor.name or actor.slack_user_id}"
        else:
            new, routed = _route_again(session, services, registration, partner, previous)
            if new is None or new == previous:
                raise ChooseAnother("Routing has nobody else for this lead: choose an AE instead.")
            why = f"sent back to routing by {actor.name or actor.slack_user_id}; {routed}"
        acted_on = registration.review_message_key
        registration.assigned_to_slack_id = new
        registration.routing_reason = (f"{why}: {reason}" if reason else why)[:ROUTING_REASON_LIMIT]
        change_status(session, registration, RegistrationStatus.under_review, actor_slack_id=actor.slack_user_id,
                      now=now, reason=f"reassigned from {previous} to {new}" + (f": {reason}" if reason else ""))
        services.notifier.review_handed_over(session, registration, partner, review_key=acted_on,
                                             actor_slack_id=actor.slack_user_id, previous_assignee=previous,
                                             reason=reason)
        services.notifier.review_requested(session, registration, partner, [])
    services.kick()
    return ReassignOutcome(registration, True, f"{registration.reference} is now with <@{new}>.")
