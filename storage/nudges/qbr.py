"""Queries of the QBR brief: strategic partners a page at a time, and one partner's quarter in SQL aggregates (no
registration or upsell is loaded)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func
from sqlmodel import Session, select

from storage.models import (
    OPEN_STATUSES,
    Partner,
    PartnerStage,
    PartnerStageEvent,
    Registration,
    RegistrationStatus,
    Upsell,
    UpsellStatus,
)

Amounts = list[tuple[str, int, Decimal]]  # (currency, how many, their value)


@dataclass
class QuarterCounts:
    """One partner's quarter: registrations submitted, deals won and lost, upsells flagged and won."""

    registrations: int = 0
    won: Amounts = field(default_factory=list)
    lost: int = 0
    upsells_flagged: int = 0
    upsells_won: Amounts = field(default_factory=list)

    @property
    def won_deals(self) -> int:
        return sum(count for _, count, _ in self.won)

    @property
    def upsells_won_count(self) -> int:
        return sum(count for _, count, _ in self.upsells_won)


def strategic_partners(session: Session, *, after: int | None, limit: int) -> list[Partner]:
    query = select(Partner).where(Partner.stage == PartnerStage.strategic)
    if after is not None:
        query = query.where(Partner.id > after)
    return list(session.exec(query.order_by(Partner.id).limit(limit)).all())


def _amounts(rows) -> Amounts:
    return [(currency, count, Decimal(str(total or 0))) for currency, count, total in rows]


def quarter_registrations(session: Session, partner_id: int, start: datetime, end: datetime) -> int:
    """Registrations submitted in [start, end), by index on (partner, created)."""
    return session.exec(select(func.count()).select_from(Registration).where(
        Registration.partner_id == partner_id, Registration.created_at >= start,
        Registration.created_at < end)).one()


def quarter_closed(session: Session, partner_id: int, start: datetime, end: datetime) -> list[tuple]:
    """(status, currency, deals, value) of the deals won or lost in [start, end), by index on (partner, status,
    closed)."""
    return list(session.exec(select(Registration.status, Registration.currency, func.count(),
                                    func.sum(Registration.estimated_value)).where(
        Registration.partner_id == partner_id,
        Registration.status.in_((RegistrationStatus.won, RegistrationStatus.lost)),
        Registration.closed_at >= start, Registration.closed_at < end)
        .group_by(Registration.status, Registration.currency).order_by(Registration.currency)).all())


def quarter_counts(session: Session, partner_id: int, start: datetime, end: datetime) -> QuarterCounts:
    """What happened with the partner in [start, end): each figure one aggregate."""
    counts = QuarterCounts(registrations=quarter_registrations(session, partner_id, start, end))
    closed = quarter_closed(session, partner_id, start, end)
    counts.won = _amounts((currency, count, total) for status, currency, count, total in closed
                          if status == RegistrationStatus.won)
    counts.lost = sum(count for status, _, count, _ in closed if status == RegistrationStatus.lost)
    counts.upsells_flagged = session.exec(select(func.count()).select_from(Upsell).where(
        Upsell.partner_id == partner_id, Upsell.created_at >= start, Upsell.created_at < end)).one()
    counts.upsells_won = _amounts(session.exec(select(
        Upsell.currency, func.count(), func.sum(func.coalesce(Upsell.final_amount, Upsell.expected_value))).where(
        Upsell.partner_id == partner_id, Upsell.status == UpsellStatus.won, Upsell.closed_at >= start,
        Upsell.closed_at < end).group_by(Upsell.currency).order_by(Upsell.currency)).all())
    return counts


def open_pipeline(session: Session, partner_id: int) -> Amounts:
    """The partner's registrations open now (in review or approved, not yet won or lost), by currency."""
    return _amounts(session.exec(select(Registration.currency, func.count(), func.sum(Registration.estimated_value))
                                 .where(Registration.partner_id == partner_id,
                                        Registration.status.in_((*OPEN_STATUSES, RegistrationStatus.approved)))
                                 .group_by(Registration.currency).order_by(Registration.currency)).all())


def stage_changes(session: Session, partner_id: int, start: datetime, end: datetime, *,
                  limit: int) -> list[PartnerStageEvent]:
    """The partner's stage changes in [start, end), oldest first, at most `limit` (the newest ones)."""
    newest = list(session.exec(select(PartnerStageEvent).where(
        PartnerStageEvent.partner_id == partner_id, PartnerStageEvent.at >= start, PartnerStageEvent.at < end)
        .order_by(PartnerStageEvent.id.desc()).limit(limit)).all())
    return newest[::-1]
