"""What a partner does to its own registration: add an update for the AE, withdraw it (with a reason), or edit it
while it waits for a decision.

Who may act is decided in storage (registration_for_partner): the partner's people who may see the
registration, or whoever of our team registered it for them. Each is committed before the ack, once per request
(workflows/acting.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from storage.actors import Actor
from storage.conflict_index import index_keys
from storage.models import OPEN_STATUSES, Partner, Registration, RegistrationNote, RegistrationStatus
from storage.queries import registration_for_partner
from storage.work import owe_work
from workflows.acting import ActionOutcome, act_on_deal, required_text
from workflows.history import DEAL_WITHDRAWN, change_status
from workflows.lead_form import LeadInput
from workflows.registrations import PROCESS_REGISTRATION
from workflows.services import NotFound, Services, WorkflowError

WITHDRAWABLE = (*OPEN_STATUSES, RegistrationStatus.approved)
UPDATABLE = WITHDRAWABLE  # updates are for deals still in play; a closed one has nobody to read them
EDITABLE = OPEN_STATUSES  # a decision was taken on what was registered: after it, nothing is rewritten
MAX_REASON = 1000
MAX_UPDATE = 2000
EDITED = "edited"  # the CRM event of an edit: the Lead shows the new values (no Opportunity exists before approval)
# What an edit may change, and how the partner and the reviewer are told it changed. The region follows the
# country; the role (attribution) stays as registered, since the CRM recorded it at submission.
EDITED_FIELDS = {
    "company": "company", "domain": "domain", "contact_name": "contact", "contact_email": "contact",
    "country": "country", "region": "country", "product_line": "product line", "estimated_value": "amount",
    "currency": "currency", "pricing_model": "pricing model", "starting_monthly_usage": "starting monthly usage",
    "company_size": "company size", "budget": "budget", "timeline": "timeline", "notes": "notes",
}


@dataclass(frozen=True)
class PartnerAction:
    """What a partner may do to a registration in which statuses, and what it is told otherwise."""

    statuses: tuple[RegistrationStatus, ...]
    only: str


UPDATE = PartnerAction(UPDATABLE, "only open or approved registrations can get updates")
WITHDRAW = PartnerAction(WITHDRAWABLE, "only open or approved registrations can be withdrawn")
EDIT = PartnerAction(EDITABLE, "only a registration still waiting for a decision can be edited")


def _load(session: Session, registration_id: int, actor: Actor) -> Registration:
    registration = registration_for_partner(session, registration_id, actor)
    if registration is None:
        # The same answer whether it does not exist or belongs to someone else: nothing to learn from it.
        raise NotFound("I can't find that registration among yours.")
    return registration


def _loader(registration_id: int, actor: Actor) -> Callable[[Session], Registration]:
    return lambda session: _load(session, registration_id, actor)


def _not_now(registration: Registration, action: PartnerAction) -> str:
    return f"{registration.reference} is {registration.status.replace('_', ' ')}: {action.only}."


def ensure_can_act(services: Services, *, actor: Actor, registration_id: int, action: PartnerAction) -> Registration:
    """The registration, unless this actor may not take `action` on it now; checked before a modal opens. A plain
    read: it must not queue behind writers while a trigger_id ages."""
    with Session(services.engine) as session:
        registration = _load(session, registration_id, actor)
        if registration.status not in action.statuses:
            raise WorkflowError(_not_now(registration, action))
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
    return act_on_deal(services, request_key=request_key, load=_loader(registration_id, actor),
                       allowed=UPDATE.statuses, refusal=lambda r: _not_now(r, UPDATE), work=note)


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
    return act_on_deal(services, request_key=request_key, load=_loader(registration_id, actor),
                       allowed=WITHDRAW.statuses, work=withdraw,
                       refusal=lambda r: f"{r.reference} was already {r.status.replace('_', ' ')}.")


def _refuse_on_the_modal(message: str) -> str:
    """A refusal raised, not returned: the transaction stores nothing (not even the request) and the modal says why."""
    raise WorkflowError(message)


def edit_registration(services: Services, *, actor: Actor, registration_id: int, lead: LeadInput,
                      request_key: str | None = None) -> ActionOutcome:
    """The partner corrects its undecided registration (`lead`, validated as the form is): the changes and why
    are recorded, the CRM hears them, and the registration goes through the conflict check, scoring and routing
    again from the stored row; a review under way is settled (its message shows the edit, its reviewer is told).

    Refused with nothing stored when it was decided meanwhile or nothing changed, so the modal can say so."""
    def edit(session: Session, registration: Registration, partner: Partner, now: datetime) -> str:
        changed = [name for name in EDITED_FIELDS if getattr(lead, name) != getattr(registration, name)]
        if not changed:
            raise WorkflowError("Nothing changed: correct a field and save, or Cancel.")
        for name in changed:
            setattr(registration, name, getattr(lead, name))
        what = ", ".join(dict.fromkeys(EDITED_FIELDS[name] for name in changed))
        if registration.company_key != lead.company_key:
            registration.company_key = lead.company_key
            index_keys(session, [(registration.id, registration.company_key)])
        review_key, reviewer = registration.review_message_key, registration.assigned_to_slack_id
        # Unreviewed again, so processing takes it from the top (it skips a registration with a review kind).
        registration.review_kind, registration.assigned_to_slack_id, registration.conflict_with = None, None, []
        registration.routing_reason, registration.review_message_key = None, None
        change_status(session, registration, RegistrationStatus.received, actor_slack_id=actor.slack_user_id,
                      now=now, reason=f"edited: {what}", crm_event=EDITED)
        owe_work(session, PROCESS_REGISTRATION, registration.id, now)
        services.notifier.registration_edited(session, registration, partner, actor_slack_id=actor.slack_user_id,
                                              changed=what, review_key=review_key, reviewer=reviewer)
        return (f"{registration.reference} updated ({what}). We check and route it again; updates follow in its "
                "thread.")
    return act_on_deal(services, request_key=request_key, load=_loader(registration_id, actor),
                       allowed=EDIT.statuses, work=edit,
                       refusal=lambda r: _refuse_on_the_modal(_not_now(r, EDIT)))
