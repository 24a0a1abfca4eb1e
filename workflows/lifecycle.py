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

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlmodel import Session

from storage.actors import Actor
from storage.crm.partners import record_partner_stage
from storage.db import transaction
from storage.lifecycle import (
    entered_stage_at,
    has_other_registration,
    has_other_win,
    latest_stage_event,
    lock_partner,
    member_name,
    proposal_exists,
    proposal_for_decision,
    proposal_of,
    won_by_currency,
)
from storage.models import Partner, PartnerStage, PartnerStageEvent, ProposalStatus, Registration, StageProposal
from storage.queries import claim_request, program_runners
from workflows.amounts import shown
from workflows.program import Program
from workflows.routing import total_in_base_currency
from workflows.services import ACK_LOCK_TIMEOUT, NotAllowed, NotFound, Services

logger = logging.getLogger(__name__)

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
                              reason=reason[:3000] if reason else None, registration_id=registration_id, at=now)
    session.add(event)
    record_partner_stage(session, partner, now=now)
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
    """A partner's first won deal makes it producing (from any earlier stage); a producing partner that now meets
    the strategic criteria is proposed to its manager."""
    if rank(partner.stage) < rank(PartnerStage.producing):
        partner = lock_partner(session, partner.id)
        if rank(partner.stage) < rank(PartnerStage.producing) and not has_other_win(session, partner.id,
                                                                                    registration.id):
            move_stage(session, partner, PartnerStage.producing, actor=RULE_FIRST_WIN, now=now,
                       reason=f"first won deal: {registration.reference}", registration_id=registration.id)
    if partner.stage == PartnerStage.producing:
        propose_strategic(session, services, partner, registration, now=now)


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
    deals, value, unconverted = total_in_base_currency(won_by_currency(session, partner_id, now - WON_WINDOW),
                                                       program.routing)
    return WonFigures(deals, value, program.routing.base_currency, unconverted)


def criteria_text(program: Program) -> str:
    criteria = program.lifecycle.strategic
    parts = []
    if criteria.min_won_deals is not None:
        parts.append(f"{criteria.min_won_deals} deals")
    if criteria.min_won_value is not None:
        parts.append(f"{shown(criteria.min_won_value)} {program.routing.base_currency}")
    return " or ".join(parts) + " won in 12 months"


def meets_strategic(figures: WonFigures, program: Program) -> bool:
    criteria = program.lifecycle.strategic
    return ((criteria.min_won_deals is not None and figures.deals >= criteria.min_won_deals)
            or (criteria.min_won_value is not None and figures.value >= criteria.min_won_value))


def _proposal_recipient(session: Session, partner: Partner) -> str | None:
    """The partner's manager, else the first partner manager or admin (as conflicts go)."""
    if partner.manager_slack_id:
        return partner.manager_slack_id
    runners = program_runners(session)
    return runners[0].slack_user_id if runners else None


def propose_strategic(session: Session, services: Services, partner: Partner, registration: Registration | None,
                      *, now: datetime) -> StageProposal | None:
    """Propose a producing partner that meets the criteria as strategic to its manager: once per partner, ever."""
    program = services.program
    if not program.lifecycle.strategic.enabled or proposal_of(session, partner.id, PartnerStage.strategic):
        return None
    figures = won_figures(session, program, partner.id, now=now)
    if not meets_strategic(figures, program):
        return None
    recipient = _proposal_recipient(session, partner)
    if recipient is None:
        logger.warning("partner %s meets the strategic criteria but nobody manages the program", partner.id)
        return None
    partner = lock_partner(session, partner.id)  # two wins at once: the second sees the first one's proposal
    if partner.stage != PartnerStage.producing or proposal_of(session, partner.id, PartnerStage.strategic):
        return None
    proposal = StageProposal(partner_id=partner.id, to_stage=PartnerStage.strategic, rule=RULE_STRATEGIC,
                             reason=f"{figures.describe()} in the last 12 months (the program asks for "
                                    f"{criteria_text(program)})",
                             recipient_slack_id=recipient, registration_id=registration.id if registration else None,
                             proposed_at=now)
    session.add(proposal)
    session.flush()
    services.notifier.strategic_proposed(session, proposal, partner)
    return proposal


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
    if stage == PartnerStage.producing:
        propose_strategic(session, services, partner, None, now=now)
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


def decide_proposal(services: Services, *, actor: Actor, proposal_id: int, accept: bool,
                    request_key: str | None = None) -> StageOutcome:
    """The manager's Make strategic / Dismiss on a proposal, once: committed before the ack; a second click changes
    nothing and says why. Only whom it was sent to, the partner's manager or an admin may decide it."""
    now = services.clock()
    with transaction(services.engine, lock_timeout=ACK_LOCK_TIMEOUT) as session:
        if replayed(session, request_key, now):
            return StageOutcome(False, "", replayed=True)
        proposal = proposal_for_decision(session, actor, proposal_id)
        if proposal is None:
            if proposal_exists(session, proposal_id):
                raise NotAllowed("Only the partner's manager or an admin can decide this proposal.")
            raise NotFound("That proposal no longer exists.")
        partner = lock_partner(session, proposal.partner_id)
        if proposal.status != ProposalStatus.pending:
            who = member_name(session, proposal.decided_by_slack_id) or proposal.decided_by_slack_id
            return StageOutcome(False, f"{partner.name}: this proposal was already {proposal.status.value} by {who} "
                                       f"on {proposal.decided_at:%-d %b %Y}; nothing changed.", partner_id=partner.id)
        if accept and partner.stage != PartnerStage.producing and partner.stage != proposal.to_stage:
            return StageOutcome(False, f"{partner.name} is {partner.stage.value} now, not producing, so it can't be "
                                       "made strategic from here; use /partner stage if you mean it.",
                                partner_id=partner.id)
        proposal.status = ProposalStatus.accepted if accept else ProposalStatus.dismissed
        proposal.decided_by_slack_id, proposal.decided_at = actor.slack_user_id, now
        session.add(proposal)
        if accept and partner.stage != proposal.to_stage:
            move_stage(session, partner, proposal.to_stage, actor=actor.slack_user_id, now=now,
                       reason=f"strategic proposal accepted: {proposal.reason}")
        services.notifier.strategic_decided(session, proposal, partner)
    services.kick()
    done = f"{partner.name} is strategic now." if accept else f"Dismissed: {partner.name} stays {partner.stage.value}."
    return StageOutcome(True, done, partner_id=partner.id)
