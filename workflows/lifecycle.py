"""Partners' lifecycle stages: prospect, recruited, onboarded, activated, producing, strategic.

Every change goes through `move_stage`: the partner's stage and the day it entered it, a history row (from, to,
who, when, why) that is never changed or removed, and the CRM write of the partner's Account, in one transaction.
Automatic rules run in the transaction of the event that causes them and never move a partner backwards: the
first registration makes a recruited or onboarded partner activated, the first won deal makes it producing (an
undo of that very win takes the move back), and a producing partner meeting the program's strategic criteria is
proposed to its manager, once. People (partner managers and admins) move partners anywhere, by
`/partner stage` or the partner card's menu (workflows/partner_card.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlmodel import Session

from storage.actors import Actor
from storage.db import transaction
from storage.lifecycle import (
    entered_stage_at,
    has_other_registration,
    has_other_win,
    latest_stage_event,
    lock_partner,
    won_by_currency,
)
from storage.models import Partner, PartnerStage, PartnerStageEvent, Registration
from storage.queries import claim_request
from workflows.amounts import shown
from workflows.program import Program
from workflows.routing import value_in_base_currency
from workflows.services import ACK_LOCK_TIMEOUT, NotAllowed, NotFound, Services

STAGES = tuple(PartnerStage)
RULE_FIRST_REGISTRATION = "rule:first_registration"
RULE_FIRST_WIN = "rule:first_win"
RULE_STRATEGIC = "rule:strategic"
IMPORT = "import"
WON_WINDOW = timedelta(days=365)  # "the last 12 months" of the strategic criteria
MAX_REASON = 1000


def rank(stage: PartnerStage | str) -> int:
    return STAGES.index(PartnerStage(stage))


def stage_label(stage: PartnerStage | str) -> str:
    return PartnerStage(stage).value.capitalize()


def stage_named(word: str) -> PartnerStage | None:
    """`Producing`, `producing,` -> producing; anything else None."""
    cleaned = word.strip().strip(".,;:!?").lower()
    return PartnerStage(cleaned) if cleaned in PartnerStage.__members__ else None


def stage_list() -> str:
    return ", ".join(stage.value for stage in STAGES)


def move_stage(session: Session, partner: Partner, to: PartnerStage, *, actor: str, now: datetime,
               reason: str | None = None, registration_id: int | None = None,
               since: datetime | None = None) -> PartnerStageEvent:
    """Record a stage change (a new partner's first stage too): the partner, its history and its CRM write.

    `since` is when the partner entered `to` (now, unless a move is being taken back to where it was)."""
    previous = partner.stage if partner.id is not None else None
    partner.stage, partner.stage_since, partner.updated_at = to, since or now, now
    session.add(partner)
    session.flush()
    event = PartnerStageEvent(partner_id=partner.id, from_stage=previous, to_stage=to, actor=actor,
                              reason=(reason or None) and reason[:3000], registration_id=registration_id, at=now)
    session.add(event)
    return event


# Automatic rules, called by the workflows in the transaction of the event ------------------------------------

def after_registration_submitted(session: Session, partner: Partner, registration: Registration, *,
                                 now: datetime) -> None:
    """A recruited or onboarded partner's first registration makes it activated."""
    waiting = (PartnerStage.recruited, PartnerStage.onboarded)
    if partner.stage not in waiting:  # the usual case: no lock, no query
        return
    partner = lock_partner(session, partner.id)
    if partner.stage in waiting and not has_other_registration(session, partner.id, registration.id):
        move_stage(session, partner, PartnerStage.activated, actor=RULE_FIRST_REGISTRATION, now=now,
                   reason=f"first registration: {registration.reference}", registration_id=registration.id)


def after_deal_won(session: Session, services: Services, partner: Partner, registration: Registration, *,
                   now: datetime) -> None:
    """A partner's first won deal makes it producing (from any earlier stage)."""
    if rank(partner.stage) < rank(PartnerStage.producing):
        partner = lock_partner(session, partner.id)
        if rank(partner.stage) < rank(PartnerStage.producing) and not has_other_win(session, partner.id,
                                                                                    registration.id):
            move_stage(session, partner, PartnerStage.producing, actor=RULE_FIRST_WIN, now=now,
                       reason=f"first won deal: {registration.reference}", registration_id=registration.id)


def after_win_undone(session: Session, partner: Partner, registration: Registration, *, actor_slack_id: str,
                     now: datetime) -> None:
    """An undone win takes back the move to producing it caused, if nothing has moved the partner since and no other
    won deal keeps it producing. Whatever else happened stays as it is (and in the history)."""
    if partner.stage != PartnerStage.producing:
        return
    partner = lock_partner(session, partner.id)
    latest = latest_stage_event(session, partner.id)
    if (latest is None or latest.actor != RULE_FIRST_WIN or latest.registration_id != registration.id
            or partner.stage != latest.to_stage or latest.from_stage is None
            or has_other_win(session, partner.id, registration.id)):
        return
    since = entered_stage_at(session, partner.id, latest.from_stage, before_id=latest.id)
    move_stage(session, partner, latest.from_stage, actor=actor_slack_id, now=now, since=since,
               reason=f"the win of {registration.reference} that made it producing was undone",
               registration_id=registration.id)


@dataclass(frozen=True)
class WonFigures:
    """A partner's won deals in the last 12 months, the value in the base currency."""

    deals: int
    value: Decimal
    currency: str
    unconverted: tuple[str, ...] = ()  # currencies without an exchange rate: their value is not counted

    def describe(self) -> str:
        text = f"{self.deals} deal{'s' if self.deals != 1 else ''} won for {shown(self.value)} {self.currency}"
        if self.unconverted:
            text += f" (not counting {', '.join(self.unconverted)}: no exchange rate)"
        return text


def won_figures(session: Session, program: Program, partner_id: int, *, now: datetime) -> WonFigures:
    """Deals won and their value in the routing base currency over the last 12 months."""
    deals, value, unconverted = 0, Decimal(0), []
    for currency, count, total in won_by_currency(session, partner_id, now - WON_WINDOW):
        deals += count
        converted = value_in_base_currency(total, currency, program.routing)
        if converted is None:
            unconverted.append(currency)
        else:
            value += converted
    return WonFigures(deals, value.quantize(Decimal("0.01")), program.routing.base_currency, tuple(unconverted))


# People's changes ------------------------------------------------------------------------------------------

@dataclass
class StageOutcome:
    """What a stage change or a proposal decision did; `message` is plain text (the handler escapes it)."""

    changed: bool
    message: str
    replayed: bool = False
    partner_id: int | None = None


def replayed(session: Session, request_key: str | None, now: datetime) -> bool:
    """A button press Slack delivered again: it was applied the first time, so it does nothing now."""
    return bool(request_key) and not claim_request(session, request_key, now)


def clean_reason(reason: str | None) -> str | None:
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON:
        raise NotAllowed(f"Keep the reason under {MAX_REASON} characters.")
    return reason or None


def ensure_changes_stages(actor: Actor) -> None:
    if not (actor.is_internal and actor.runs_program):
        raise NotAllowed("Only partner managers and admins can change a partner's stage.")


def apply_stage_change(session: Session, services: Services, actor: Actor, partner: Partner, stage: PartnerStage, *,
                       reason: str | None, now: datetime) -> StageOutcome:
    """A person moves a locked partner to `stage` (any way: people may move partners back)."""
    if partner.stage == stage:
        return StageOutcome(False, f"{partner.name} is already {stage.value}: nothing changed.", partner_id=partner.id)
    before = partner.stage
    move_stage(session, partner, stage, actor=actor.slack_user_id, now=now, reason=reason)
    return StageOutcome(True, f"{partner.name} moved from {before.value} to {stage.value}.", partner_id=partner.id)


def change_stage(services: Services, *, actor: Actor, partner_id: int, stage: PartnerStage,
                 reason: str | None = None, request_key: str | None = None) -> StageOutcome:
    """The partner card's stage menu: committed before the ack; the partner id is the menu's claim, re-checked."""
    ensure_changes_stages(actor)
    reason = clean_reason(reason)
    now = services.clock()
    with transaction(services.engine, lock_timeout=ACK_LOCK_TIMEOUT) as session:
        if replayed(session, request_key, now):
            return StageOutcome(False, "", replayed=True)
        partner = lock_partner(session, partner_id, actor)
        if partner is None:
            raise NotFound("That partner is no longer in the program.")
        outcome = apply_stage_change(session, services, actor, partner, stage, reason=reason, now=now)
    services.kick()
    return outcome
