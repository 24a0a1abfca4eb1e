"""What a partner does to its own registration: add an update for the AE, or withdraw it (with a reason).

Who may act is decided in storage (registration_for_partner): the partner's people who may see the
registration, or whoever of our team registered it for them. Changes are committed before the ack with the
request's key, so a replayed click or submission applies once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from storage.actors import Actor
from storage.db import transaction
from storage.models import OPEN_STATUSES, Partner, Registration, RegistrationNote, RegistrationStatus
from storage.queries import claim_request, registration_for_partner
from workflows.history import DEAL_WITHDRAWN, change_status
from workflows.services import ACK_LOCK_TIMEOUT, NotFound, Services, WorkflowError

WITHDRAWABLE = (*OPEN_STATUSES, RegistrationStatus.approved)
UPDATABLE = WITHDRAWABLE  # updates are for deals still in play; a closed one has nobody to read them
MAX_REASON = 1000
MAX_UPDATE = 2000


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


def _not_now(registration: Registration, what: str) -> str:
    return (f"{registration.reference} is {registration.status.replace('_', ' ')}: only open or approved "
            f"registrations can {what}.")


def ensure_can_act(services: Services, *, actor: Actor, registration_id: int, withdraw: bool) -> Registration:
    """The registration, unless this actor may not withdraw it (`withdraw`) or add an update to it now; checked
    before a modal opens. A plain read: it must not queue behind writers while a trigger_id ages."""
    with Session(services.engine) as session:
        registration = _load(session, registration_id, actor)
        if registration.status not in (WITHDRAWABLE if withdraw else UPDATABLE):
            raise WorkflowError(_not_now(registration, "be withdrawn" if withdraw else "get updates"))
        session.expunge(registration)
        return registration


def _required(text: str | None, limit: int, missing: str) -> str:
    text = (text or "").strip()
    if not text:
        raise WorkflowError(missing)
    if len(text) > limit:
        raise WorkflowError(f"Keep it under {limit} characters.")
    return text


def _act(services: Services, *, actor: Actor, registration_id: int, request_key: str | None, allowed: tuple,
         refusal: Callable[[Registration], str],
         work: Callable[[Session, Registration, Partner, datetime], str]) -> PartnerActionOutcome:
    """Every partner action: once per request, committed before the ack, on a registration this actor may act for
    and in one of the `allowed` statuses; `work` does the change in the transaction and says what happened."""
    now = services.clock()
    with transaction(services.engine, lock_timeout=ACK_LOCK_TIMEOUT) as session:
        if request_key and not claim_request(session, request_key, now):
            return PartnerActionOutcome(None, False, "", replayed=True)
        registration = _load(session, registration_id, actor)
        if registration.status not in allowed:
            return PartnerActionOutcome(registration, False, refusal(registration))
        message = work(session, registration, session.get(Partner, registration.partner_id), now)
    services.kick()
    return PartnerActionOutcome(registration, True, message)


def add_partner_update(services: Services, *, actor: Actor, registration_id: int, text: str | None,
                       request_key: str | None = None) -> PartnerActionOutcome:
    """A partner's note on its registration: stored, shown in the registration's thread and sent to the AE.

    It changes no status and leaves `updated_at` alone, so the approval SLA keeps counting."""
    text = _required(text, MAX_UPDATE, "Write the update: the account executive reads it.")

    def note(session: Session, registration: Registration, partner: Partner, now: datetime) -> str:
        session.add(RegistrationNote(registration_id=registration.id, author_slack_id=actor.slack_user_id,
                                     text=text, created_at=now))
        services.notifier.partner_note(session, registration, partner, author_slack_id=actor.slack_user_id,
                                       text=text)
        told = f" and sent to <@{registration.assigned_to_slack_id}>" if registration.assigned_to_slack_id else ""
        return f"Update added to {registration.reference}{told}."
    return _act(services, actor=actor, registration_id=registration_id, request_key=request_key,
                allowed=UPDATABLE, refusal=lambda r: _not_now(r, "get updates"), work=note)


def withdraw_registration(services: Services, *, actor: Actor, registration_id: int, reason: str | None,
                          request_key: str | None = None) -> PartnerActionOutcome:
    """The partner takes its registration back: it stops protecting the company, the reviewer's message shows it
    (and the reviewer is told), the partner's thread says so, and the CRM hears it. A reason is required: it is
    what our team learns from a withdrawal."""
    reason = _required(reason, MAX_REASON, "Say why you are withdrawing it: our team sees this.")

    def withdraw(session: Session, registration: Registration, partner: Partner, now: datetime) -> str:
        was_approved = registration.status == RegistrationStatus.approved
        change_status(session, registration, RegistrationStatus.withdrawn, actor_slack_id=actor.slack_user_id,
                      now=now, reason=reason, crm_event=DEAL_WITHDRAWN if was_approved else None)
        services.notifier.partner_withdrew(session, registration, partner, actor_slack_id=actor.slack_user_id,
                                           reason=reason)
        services.notifier.partner_update(session, registration, partner, actor_slack_id=actor.slack_user_id)
        return f"{registration.reference} withdrawn."
    return _act(services, actor=actor, registration_id=registration_id, request_key=request_key,
                allowed=WITHDRAWABLE, refusal=lambda r: f"{r.reference} was already {r.status.replace('_', ' ')}.",
                work=withdraw)
