"""What a partner does to its own registration: add an update for the AE, or withdraw it (with a reason).

Who may act is decided in storage (registration_for_partner): the partner's people who may see the
registration, or whoever of our team registered it for them. Each is committed before the ack, once per request
(workflows/acting.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlmodel import Session

from storage.actors import Actor
from storage.models import OPEN_STATUSES, Partner, Registration, RegistrationNote, RegistrationStatus
from storage.queries import registration_for_partner
from workflows.acting import ActionOutcome, act_on_registration, required_text
from workflows.history import DEAL_WITHDRAWN, change_status
from workflows.services import NotFound, Services, WorkflowError

WITHDRAWABLE = (*OPEN_STATUSES, RegistrationStatus.approved)
UPDATABLE = WITHDRAWABLE  # updates are for deals still in play; a closed one has nobody to read them
MAX_REASON = 1000
MAX_UPDATE = 2000


def _load(session: Session, registration_id: int, actor: Actor) -> Registration:
    registration = registration_for_partner(session, registration_id, actor)
    if registration is None:
        # The same answer whether it does not exist or belongs to someone else: nothing to learn from it.
        raise NotFound("I can't find that registration among yours.")
    return registration


def _loader(registration_id: int, actor: Actor) -> Callable[[Session], Registration]:
    return lambda session: _load(session, registration_id, actor)


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


def add_partner_update(services: Services, *, actor: Actor, registration_id: int, text: str | None,
                       request_key: str | None = None) -> ActionOutcome:
    """A partner's note on its registration: stored, shown in the registration's thread and sent to the AE.

    It changes no status and leaves `updated_at` alone, so the approval SLA keeps counting."""
    text = required_text(text, MAX_UPDATE, "Write the update: the account executive reads it.")

    def note(session: Session, registration: Registration, partner: Partner, now: datetime) -> str:
        session.add(RegistrationNote(registration_id=registration.id, author_slack_id=actor.slack_user_id,
                                     text=text, created_at=now))
        services.notifier.partner_note(session, registration, partner, author_slack_id=actor.slack_user_id,
                                       text=text)
        told = f" and sent to <@{registration.assigned_to_slack_id}>" if registration.assigned_to_slack_id else ""
        return f"Update added to {registration.reference}{told}."
    return act_on_registration(services, request_key=request_key, load=_loader(registration_id, actor),
                               allowed=UPDATABLE, refusal=lambda r: _not_now(r, "get updates"), work=note)


def withdraw_registration(services: Services, *, actor: Actor, registration_id: int, reason: str | None,
                          request_key: str | None = None) -> ActionOutcome:
    """The partner takes its registration back: it stops protecting the company, the reviewer's message shows it
    (and the reviewer is told), the partner's thread says so, and the CRM hears it. A reason is required: it is
    what our team learns from a withdrawal."""
    reason = required_text(reason, MAX_REASON, "Say why you are withdrawing it: our team sees this.")

    def withdraw(session: Session, registration: Registration, partner: Partner, now: datetime) -> str:
        was_approved = registration.status == RegistrationStatus.approved
        change_status(session, registration, RegistrationStatus.withdrawn, actor_slack_id=actor.slack_user_id,
                      now=now, reason=reason, crm_event=DEAL_WITHDRAWN if was_approved else None)
        services.notifier.partner_withdrew(session, registration, partner, actor_slack_id=actor.slack_user_id,
                                           reason=reason)
        services.notifier.partner_update(session, registration, partner, actor_slack_id=actor.slack_user_id)
        return f"{registration.reference} withdrawn."
    return act_on_registration(services, request_key=request_key, load=_loader(registration_id, actor),
                               allowed=WITHDRAWABLE, work=withdraw,
                               refusal=lambda r: f"{r.reference} was already {r.status.replace('_', ' ')}.")
