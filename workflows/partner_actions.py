"""What a partner does to its own registration: withdraw it (open or approved, with a reason).

Who may act is decided in storage (registration_for_partner): the partner's people who may see the
registration, or whoever of our team registered it for them. Changes are committed before the ack with the
request's key, so a replayed click or submission applies once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from storage.actors import Actor
from storage.db import transaction
from storage.models import OPEN_STATUSES, Partner, Registration, RegistrationStatus
from storage.queries import claim_request, registration_for_partner
from workflows.history import DEAL_WITHDRAWN, change_status
from workflows.services import ACK_LOCK_TIMEOUT, NotFound, Services, WorkflowError

WITHDRAWABLE = (*OPEN_STATUSES, RegistrationStatus.approved)
MAX_REASON = 1000


@dataclass
class PartnerActionOutcome:
    registration: Registration | None
    changed: bool
    message: str
    replayed: bool = False


def _load(session: Session, registration_id: int, actor: Actor) -> Registration:
    registration = registration_for_partner(session, registration_id, actor)
    if registration is None:
        # The same answer whether it does not exist or belongs to someone else: nothing to learn from it.
        raise NotFound("I can't find that registration among yours.")
    return registration


def ensure_can_withdraw(services: Services, *, actor: Actor, registration_id: int) -> Registration:
    """The registration, unless this actor may not withdraw it now (checked before opening the reason modal)."""
    with Session(services.engine) as session:
        registration = _load(session, registration_id, actor)
        if registration.status not in WITHDRAWABLE:
            raise WorkflowError(f"{registration.reference} is {registration.status.replace('_', ' ')}: "
                                "only open or approved registrations can be withdrawn.")
        session.expunge(registration)
        return registration


def withdraw_registration(services: Services, *, actor: Actor, registration_id: int, reason: str | None,
                          request_key: str | None = None) -> PartnerActionOutcome:
    """The partner takes its registration back: it stops protecting the company, the reviewer's message shows it
    (and the reviewer is told), the partner's thread says so, and the CRM hears it. A reason is required: it is
    what our team learns from a withdrawal."""
    reason = (reason or "").strip()
    if not reason:
        raise WorkflowError("Say why you are withdrawing it: our team sees this.")
    if len(reason) > MAX_REASON:
        raise WorkflowError(f"Keep the reason under {MAX_REASON} characters.")
    now = services.clock()
    with transaction(services.engine, lock_timeout=ACK_LOCK_TIMEOUT) as session:
        if request_key and not claim_request(session, request_key, now):
            return PartnerActionOutcome(None, False, "", replayed=True)
        registration = _load(session, registration_id, actor)
        if registration.status not in WITHDRAWABLE:
            return PartnerActionOutcome(registration, False, f"{registration.reference} was already "
                                                             f"{registration.status.replace('_', ' ')}.")
        partner = session.get(Partner, registration.partner_id)
        was_approved = registration.status == RegistrationStatus.approved
        change_status(session, registration, RegistrationStatus.withdrawn, actor_slack_id=actor.slack_user_id,
                      now=now, reason=reason, crm_event=DEAL_WITHDRAWN if was_approved else None)
        services.notifier.partner_withdrew(session, registration, partner, actor_slack_id=actor.slack_user_id,
                                           reason=reason)
        services.notifier.partner_update(session, registration, partner, actor_slack_id=actor.slack_user_id)
    services.kick()
    return PartnerActionOutcome(registration, True, f"{registration.reference} withdrawn.")
