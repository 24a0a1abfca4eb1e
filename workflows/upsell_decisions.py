"""The handshake on an upsell: its owner AE accepts or declines it (why), then marks the accepted one won (the final
amount) or lost (why).

Who may decide is checked in storage (upsell_for_decision): the owner AE, the partner's manager, a partner manager
or an admin; partners never, not even on their own upsell. Each step is committed before the ack, once per request
(workflows/acting.py): the status and its history, a reply in the upsell's thread, its root updated in place, the
CRM told (accepted, won and lost: the expansion Opportunity starts at accept) and, for a win, the target among the
account's product lines. A second click, or one on an upsell that moved on, changes nothing and says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlmodel import Session

from storage.actors import Actor
from storage.crm.upsells import record_upsell_change
from storage.models import CustomerAccount, Partner, Upsell, UpsellStatus
from storage.upsells import upsell_for_decision
from workflows.accounts import add_product_line
from workflows.acting import ActionOutcome, act_on_deal, required_text
from workflows.amounts import shown
from workflows.partner_names import ensure_names_no_other_partner
from workflows.services import NotAllowed, Services, WorkflowError
from workflows.upsell_form import upsell_amount
from workflows.upsells import MAX_REASON, change_upsell_status

FINAL_AMOUNT = "final_amount"  # the Mark won modal's field (handlers/ids.py Block.final_amount)


class UpsellStep(StrEnum):
    accept = "accept"
    decline = "decline"
    won = "won"
    lost = "lost"


@dataclass(frozen=True)
class StepRule:
    """From which status a step goes to which, what the CRM is told, and what a click in another status hears."""

    source: UpsellStatus
    to: UpsellStatus
    crm_event: str | None
    only: str


STEPS = {
    UpsellStep.accept: StepRule(UpsellStatus.open, UpsellStatus.accepted, "accepted",
                                "only an open upsell can be accepted or declined"),
    UpsellStep.decline: StepRule(UpsellStatus.open, UpsellStatus.declined, None,
                                 "only an open upsell can be accepted or declined"),
    UpsellStep.won: StepRule(UpsellStatus.accepted, UpsellStatus.won, "won",
                             "only an accepted upsell can be marked won or lost"),
    UpsellStep.lost: StepRule(UpsellStatus.accepted, UpsellStatus.lost, "lost",
                              "only an accepted upsell can be marked won or lost"),
}
REASON_NEEDED = {
    UpsellStep.decline: "Write why you decline it: the partner reads it in the upsell's thread.",
    UpsellStep.lost: "Write why it was lost: the partner reads it in the upsell's thread.",
}


def _load(session: Session, upsell_id: int, actor: Actor) -> Upsell:
    upsell = upsell_for_decision(session, upsell_id, actor)
    if upsell is not None:
        return upsell
    # The same words whether or not the id exists, so a refusal tells nobody which upsells there are.
    if actor.is_partner:
        raise NotAllowed("Partners can't accept, decline or close upsells, including their own: the account's "
                         "executive does, and you'll see each step in the upsell's thread.")
    raise NotAllowed("Only the upsell's account executive, its partner's manager or an admin can do that.")


def _not_now(upsell: Upsell, step: UpsellStep) -> str:
    """Why a step does nothing in the upsell's status: it was taken already, or the upsell moved on."""
    rule = STEPS[step]
    status = upsell.status.replace("_", " ")
    if upsell.status == rule.to:
        return f"{upsell.reference} was already {status}: nothing changed."
    return f"{upsell.reference} is {status}: {rule.only}."


def ensure_can_take_step(services: Services, *, actor: Actor, upsell_id: int, step: UpsellStep) -> Upsell:
    """The upsell, unless this actor may not take `step` on it now (before a modal opens). A plain read: it must
    not queue behind writers while a trigger_id ages."""
    with Session(services.engine) as session:
        upsell = _load(session, upsell_id, actor)
        if upsell.status != STEPS[step].source:
            raise WorkflowError(_not_now(upsell, step))
        session.expunge(upsell)
        return upsell


def final_amount(raw: str | None, upsell: Upsell) -> Decimal:
    """The amount signed, as typed in the upsell's currency; a WorkflowError says what is wrong with it."""
    errors: dict[str, str] = {}
    value = upsell_amount(raw, "final amount", upsell.currency, upsell.recurrence, errors, FINAL_AMOUNT)
    if value is None:
        raise WorkflowError(errors[FINAL_AMOUNT])
    return value


def take_upsell_step(services: Services, *, actor: Actor, upsell_id: int, step: UpsellStep,
                     reason: str | None = None, amount: str | None = None,
                     request_key: str | None = None) -> ActionOutcome:
    """Accept, decline (`reason`), mark won (`amount`, as typed) or lost (`reason`), once. A blank reason, a reason
    naming another partner or a bad amount is refused with nothing stored (the modal says why); a click in another
    status changes nothing and says why."""
    rule = STEPS[step]
    if step in REASON_NEEDED:
        reason = required_text(reason, MAX_REASON, REASON_NEEDED[step])

    def take(session: Session, upsell: Upsell, partner: Partner, now: datetime) -> str:
        account = session.get(CustomerAccount, upsell.account_id)
        if reason is not None:
            ensure_names_no_other_partner(session, reason, partner=partner)
        message = _apply(session, upsell, account, step, reason=reason, amount=amount, now=now)
        change_upsell_status(session, upsell, rule.to, actor_slack_id=actor.slack_user_id, now=now, reason=reason)
        if rule.crm_event:
            record_upsell_change(session, upsell, rule.crm_event)
        services.notifier.upsell_decided(session, upsell, account, partner, actor_slack_id=actor.slack_user_id)
        return message

    return act_on_deal(services, request_key=request_key, load=lambda session: _load(session, upsell_id, actor),
                       allowed=(rule.source,), refusal=lambda upsell: _not_now(upsell, step), work=take)


def _apply(session: Session, upsell: Upsell, account: CustomerAccount, step: UpsellStep, *, reason: str | None,
           amount: str | None, now: datetime) -> str:
    """What the step records on the upsell (and, for a win, on the account); returns what the actor is told."""
    if step is UpsellStep.accept:
        upsell.accepted_at = now
        return (f"{upsell.reference} accepted: it is an expansion opportunity with you now. Mark it won or lost in "
                "its thread when it closes.")
    upsell.closed_at = now
    if step is UpsellStep.decline:
        upsell.decision_reason = reason
        return f"{upsell.reference} declined; the partner sees your reason in its thread."
    if step is UpsellStep.lost:
        upsell.close_reason = reason
        return f"{upsell.reference} marked lost; the partner sees your reason in its thread."
    upsell.final_amount = final_amount(amount, upsell)
    added = add_product_line(session, account, upsell.target, now=now, upsell_id=upsell.id)
    return (f"{upsell.reference} marked won at {shown(upsell.final_amount)} {upsell.currency}"
            + ("; the account has its new product line now." if added else "."))
