"""Queries of partners' lifecycle: their stage history, the figures the rules and the partner card read, and who
may see a partner's card or change its stage (the permission filters live here, as in storage/queries.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import case, false, func, or_, true
from sqlmodel import Session, select

from storage.actors import Actor
from storage.models import (
    OPEN_STATUSES,
    OPEN_UPSELL_STATUSES,
    Partner,
    PartnerContact,
    PartnerStageEvent,
    Registration,
    RegistrationStatus,
    Role,
    StageProposal,
    TeamMember,
    Upsell,
    UpsellStatus,
)


def _sees_partner_cards(actor: Actor):
    """Partner cards (`/partner show`) are for our own team: every internal user sees every partner's."""
    return true() if actor.is_internal else false()


def _changes_stages(actor: Actor):
    """Only partner managers and admins move partners between stages."""
    return true() if actor.is_internal and actor.runs_program else false()


def partners_named(session: Session, actor: Actor, text: str, *, may_change: bool = False,
                   limit: int = 10) -> list[Partner]:
    """Partners whose name contains `text` (any case; `%` and `_` taken literally) that this actor may see, or
    change the stage of with `may_change`; the partner picker's match. Exact names first, then by name."""
    wanted = text.strip().lower()
    allowed = _changes_stages(actor) if may_change else _sees_partner_cards(actor)
    exact = case((func.lower(Partner.name) == wanted, 0), else_=1)
    query = (select(Partner).where(allowed, func.lower(Partner.name).contains(wanted, autoescape=True))
             .order_by(exact, Partner.name).limit(limit))
    return list(session.exec(query).all())


def partner_for_card(session: Session, actor: Actor, partner_id: int) -> Partner | None:
    return session.exec(select(Partner).where(Partner.id == partner_id, _sees_partner_cards(actor))).first()


def lock_partner(session: Session, partner_id: int, actor: Actor | None = None) -> Partner | None:
    """The partner, re-read and locked (PostgreSQL; SQLite writers are serial already) so that two stage changes
    of one partner happen one after the other. With an `actor`, only if that actor may change its stage."""
    query = select(Partner).where(Partner.id == partner_id)
    if actor is not None:
        query = query.where(_changes_stages(actor))
    return session.exec(query.with_for_update().execution_options(populate_existing=True)).first()


def stage_history(session: Session, partner_id: int, *, limit: int | None = None) -> list[PartnerStageEvent]:
    """A partner's stage changes, newest first."""
    query = (select(PartnerStageEvent).where(PartnerStageEvent.partner_id == partner_id)
             .order_by(PartnerStageEvent.id.desc()).limit(limit))
    return list(session.exec(query).all())


def latest_stage_event(session: Session, partner_id: int) -> PartnerStageEvent | None:
    history = stage_history(session, partner_id, limit=1)
    return history[0] if history else None


def entered_stage_at(session: Session, partner_id: int, stage, *, before_id: int) -> datetime | None:
    """When the partner last entered `stage`, by a change older than event `before_id`."""
    return session.exec(select(PartnerStageEvent.at).where(
        PartnerStageEvent.partner_id == partner_id, PartnerStageEvent.to_stage == stage,
        PartnerStageEvent.id < before_id).order_by(PartnerStageEvent.id.desc()).limit(1)).first()


def has_other_registration(session: Session, partner_id: int, registration_id: int) -> bool:
    return session.exec(select(Registration.id).where(Registration.partner_id == partner_id,
                                                      Registration.id != registration_id).limit(1)).first() is not None


def has_other_win(session: Session, partner_id: int, registration_id: int) -> bool:
    return session.exec(select(Registration.id).where(
        Registration.partner_id == partner_id, Registration.status == RegistrationStatus.won,
        Registration.id != registration_id).limit(1)).first() is not None


def won_by_currency(session: Session, partner_id: int, since: datetime) -> list[tuple[str, int, Decimal]]:
    """(currency, deals, value) of the partner's deals won since `since`: one aggregate, by index."""
    rows = session.exec(select(Registration.currency, func.count(), func.sum(Registration.estimated_value)).where(
        Registration.partner_id == partner_id, Registration.status == RegistrationStatus.won,
        Registration.closed_at >= since).group_by(Registration.currency).order_by(Registration.currency)).all()
    return [(currency, count, Decimal(str(total or 0))) for currency, count, total in rows]


def proposal_of(session: Session, partner_id: int, stage) -> StageProposal | None:
    return session.exec(select(StageProposal).where(StageProposal.partner_id == partner_id,
                                                    StageProposal.to_stage == stage)).first()


def proposal_for_decision(session: Session, actor: Actor, proposal_id: int) -> StageProposal | None:
    """The proposal if this actor may accept or dismiss it: whom it was sent to, the partner's manager now, or an
    admin. Locked where the database can, so two clicks decide it once."""
    if not actor.is_internal:
        return None
    mine = or_(StageProposal.recipient_slack_id == actor.slack_user_id,
               Partner.manager_slack_id == actor.slack_user_id, true() if actor.role == Role.admin else false())
    query = (select(StageProposal).join(Partner, Partner.id == StageProposal.partner_id)
             .where(StageProposal.id == proposal_id, mine).with_for_update(of=StageProposal))
    return session.exec(query).first()


def proposal_exists(session: Session, proposal_id: int) -> bool:
    return session.get(StageProposal, proposal_id) is not None


@dataclass
class CardFigures:
    """What the partner card counts, each from one aggregate query."""

    registrations: dict[str, int] = field(default_factory=dict)  # status -> count
    upsells: dict[str, int] = field(default_factory=dict)
    decided: int = 0  # registrations old enough to be decided
    decided_won: int = 0
    won_recently: list[tuple[str, int, Decimal]] = field(default_factory=list)  # (currency, deals, value)
    last_activity: datetime | None = None

    @property
    def open_registrations(self) -> int:
        return sum(self.registrations.get(str(s), 0) for s in (*OPEN_STATUSES, RegistrationStatus.approved))

    @property
    def won_registrations(self) -> int:
        return self.registrations.get(str(RegistrationStatus.won), 0)

    @property
    def open_upsells(self) -> int:
        return sum(self.upsells.get(str(s), 0) for s in OPEN_UPSELL_STATUSES)

    @property
    def won_upsells(self) -> int:
        return self.upsells.get(str(UpsellStatus.won), 0)


def card_figures(session: Session, partner_id: int, *, decided_before: datetime, won_since: datetime) -> CardFigures:
    """Counts for the partner card, without loading a registration or an upsell."""
    figures = CardFigures()
    latest = []
    for status, count, last in session.exec(select(Registration.status, func.count(), func.max(Registration.updated_at))
                                            .where(Registration.partner_id == partner_id)
                                            .group_by(Registration.status)).all():
        figures.registrations[str(status)] = count
        latest.append(last)
    for status, count, last in session.exec(select(Upsell.status, func.count(), func.max(Upsell.updated_at))
                                            .where(Upsell.partner_id == partner_id).group_by(Upsell.status)).all():
        figures.upsells[str(status)] = count
        latest.append(last)
    won = case((Registration.status == RegistrationStatus.won, 1), else_=0)
    decided, decided_won = session.exec(select(func.count(), func.coalesce(func.sum(won), 0)).where(
        Registration.partner_id == partner_id, Registration.created_at <= decided_before)).one()
    figures.decided, figures.decided_won = decided, int(decided_won)
    figures.won_recently = won_by_currency(session, partner_id, won_since)
    figures.last_activity = max((at for at in latest if at is not None), default=None)
    return figures


def contacts_of(session: Session, partner_id: int) -> list[str]:
    return list(session.exec(select(PartnerContact.slack_user_id).where(PartnerContact.partner_id == partner_id)
                             .order_by(PartnerContact.slack_user_id)).all())


def member_name(session: Session, slack_user_id: str | None) -> str | None:
    if not slack_user_id:
        return None
    return session.exec(select(TeamMember.name).where(TeamMember.slack_user_id == slack_user_id)).first()
