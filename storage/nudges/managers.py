"""Queries of the manager roll-up: partners stuck in a stage, counted and named per manager, and who may press
its Nudge them all. A partner without a manager counts as the first program runner's (`runner`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, false, func, literal, or_
from sqlmodel import Session, select

from storage.actors import Actor
from storage.models import Partner, PartnerStage, Role
from storage.nudges.models import Nudge, NudgeKind
from storage.nudges.partners import ACTIVATION_STAGES, REENGAGEMENT_STAGES, registered_since

STUCK_STAGES = ACTIVATION_STAGES + REENGAGEMENT_STAGES


@dataclass(frozen=True)
class Stuck:
    """When a partner counts as stuck: recruited or onboarded since before `entered_before` with no registration
    since it entered the stage (the activation nudge's rule); activated or producing since before `quiet_since`
    with no registration since then (the re-engagement nudge's)."""

    entered_before: datetime
    quiet_since: datetime

    def clause(self, stages: tuple[PartnerStage, ...] = STUCK_STAGES):
        groups = []
        if wanted := [s for s in ACTIVATION_STAGES if s in stages]:
            groups.append(and_(Partner.stage.in_(wanted), Partner.stage_since <= self.entered_before,
                               ~registered_since(Partner.stage_since)))
        if wanted := [s for s in REENGAGEMENT_STAGES if s in stages]:
            groups.append(and_(Partner.stage.in_(wanted), Partner.stage_since <= self.quiet_since,
                               ~registered_since(self.quiet_since)))
        if not groups:
            return false()
        # Stated once more as one range of the index on (stage, stage_since), so it is searched, not scanned.
        latest = max(self.entered_before, self.quiet_since)
        return and_(Partner.stage.in_(stages), Partner.stage_since <= latest, or_(*groups))


def _owner(runner: str | None):
    """Whose roll-up a partner is in: its manager's, else the first program runner's."""
    return func.coalesce(Partner.manager_slack_id, literal(runner)) if runner else Partner.manager_slack_id


def owners_with_stuck_partners(session: Session, stuck: Stuck, runner: str | None, *, after: str | None,
                               limit: int) -> list[str]:
    """The managers (by Slack id, in order past `after`) who have at least one stuck partner."""
    owner = _owner(runner).label("owner")
    query = select(owner).where(stuck.clause(), owner.is_not(None))
    if after is not None:
        query = query.where(owner > after)
    return list(session.exec(query.group_by(owner).order_by(owner).limit(limit)).all())


def stuck_counts(session: Session, stuck: Stuck, runner: str | None,
                 owners: list[str]) -> dict[str, dict[PartnerStage, int]]:
    """How many partners each of `owners` has stuck, per stage: one aggregate."""
    owner = _owner(runner)
    counts: dict[str, dict[PartnerStage, int]] = {who: {} for who in owners}
    if not owners:
        return counts
    rows = session.exec(select(owner, Partner.stage, func.count()).where(stuck.clause(), owner.in_(owners))
                        .group_by(owner, Partner.stage)).all()
    for who, stage, count in rows:
        counts[who][PartnerStage(stage)] = count
    return counts


def stuck_names(session: Session, stuck: Stuck, runner: str | None, owner_id: str, stage: PartnerStage, *,
                limit: int) -> list[str]:
    """The names of one manager's partners stuck in `stage`, the longest stuck first."""
    return list(session.exec(select(Partner.name).where(stuck.clause((stage,)), _owner(runner) == owner_id)
                             .order_by(Partner.stage_since, Partner.id).limit(limit)).all())


def stuck_partners(session: Session, stuck: Stuck, runner: str | None, owner_id: str | None,
                   stages: tuple[PartnerStage, ...]) -> list[int]:
    """The ids of one manager's partners stuck in `stages` (Nudge them all); every manager's when `owner_id` is
    None (an admin's digest covers the program)."""
    query = select(Partner.id).where(stuck.clause(stages))
    if owner_id is not None:
        query = query.where(_owner(runner) == owner_id)
    return list(session.exec(query.order_by(Partner.stage_since, Partner.id)).all())


def nudged_in_stage(session: Session, kind: str, partner_ids: list[int]) -> set[int]:
    """Which of these partners got a nudge of `kind` since they entered their stage (by ix_nudge_partner)."""
    return set(session.exec(select(Nudge.partner_id).join(Partner, Partner.id == Nudge.partner_id).where(
        Nudge.partner_id.in_(partner_ids), Nudge.kind == kind, Nudge.created_at >= Partner.stage_since)
        .distinct()).all())


# A partner manager's own DM whose buttons only they (or an admin) may press: the roll-up's Nudge them all, and the
# weekly digest's buttons (its Nudge N stuck partners is the same press).
MANAGER_DMS = (NudgeKind.rollup, NudgeKind.digest)


def rollup_for_actor(session: Session, nudge_id: int, actor: Actor, *, lock: bool = False,
                     kinds: tuple[NudgeKind, ...] = MANAGER_DMS) -> Nudge | None:
    """The roll-up (or digest) nudge, if this actor may press its buttons: the manager it was sent to, or an admin."""
    query = select(Nudge).where(Nudge.id == nudge_id, Nudge.kind.in_(kinds))
    if not (actor.is_internal and actor.role == Role.admin):
        query = query.where(Nudge.recipient == actor.slack_user_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.exec(query).first()


def rollup_exists(session: Session, nudge_id: int, kinds: tuple[NudgeKind, ...] = MANAGER_DMS) -> bool:
    return session.exec(select(Nudge.id).where(Nudge.id == nudge_id, Nudge.kind.in_(kinds))).first() \
        is not None
