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

from datetime import datetime, timedelta

from sqlmodel import Session

from storage.lifecycle import entered_stage_at, has_other_registration, has_other_win, latest_stage_event, lock_partner
from storage.models import Partner, PartnerStage, PartnerStageEvent, Registration
from workflows.services import Services

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
