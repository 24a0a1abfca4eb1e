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

from storage.models import Partner, PartnerStage, PartnerStageEvent

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
