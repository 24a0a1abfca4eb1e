"""Queries of the partners' monthly scorecard (workflows/scorecard.py): who gets one, and the figures only a
scorecard shows. Every figure is filtered by the report's Scope here (storage/reporting.py registrations_in), so a
partner's scorecard can only ever count its own registrations (a referral contact's, only those they submitted)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import and_, case, func, select as sa_select
from sqlmodel import Session, select

from storage.models import Partner, PartnerContact, PartnerType, Registration, RegistrationStatus
from storage.reporting import DECIDED_STATUSES, registrations_in
from storage.reporting_scope import Scope


@dataclass(frozen=True)
class Activity:
    """Registrations in scope: submitted in the period (created_at), approved in it (approved_at), and won in it
    (closed_at; (currency, count, total estimated value) rows)."""

    submitted: int
    approved: int
    won: list[tuple[str, int, Decimal]]


def registration_activity(session: Session, scope: Scope, start: datetime, end: datetime) -> Activity:
    in_scope = registrations_in(scope)
    submitted = session.execute(sa_select(func.count()).select_from(Registration).where(
        in_scope, Registration.created_at >= start, Registration.created_at < end)).scalar_one()
    approved = session.execute(sa_select(func.count()).select_from(Registration).where(
        in_scope, Registration.approved_at >= start, Registration.approved_at < end)).scalar_one()
    won = session.execute(sa_select(Registration.currency, func.count(), func.sum(Registration.estimated_value))
                          .where(in_scope, Registration.status == RegistrationStatus.won,
                                 Registration.closed_at >= start, Registration.closed_at < end)
                          .group_by(Registration.currency).order_by(Registration.currency)).all()
    return Activity(int(submitted), int(approved),
                    [(currency, int(count), Decimal(str(total or 0))) for currency, count, total in won])


@dataclass(frozen=True)
class Expiring:
    reference: str
    company: str
    expires_at: datetime


def expiring_protections(session: Session, scope: Scope, now: datetime, until: datetime, *,
                         limit: int) -> tuple[list[Expiring], int]:
    """Approved registrations in scope whose protection ends in (now, until], soonest first (at most `limit`),
    and how many there are in all."""
    where = and_(registrations_in(scope), Registration.status == RegistrationStatus.approved,
                 Registration.protection_expires_at > now, Registration.protection_expires_at <= until)
    total = session.execute(sa_select(func.count()).select_from(Registration).where(where)).scalar_one()
    rows = session.exec(select(Registration).where(where)
                        .order_by(Registration.protection_expires_at, Registration.id).limit(limit)).all()
    return [Expiring(r.reference, r.company, r.protection_expires_at) for r in rows], int(total)


def partners_in_type_average(session: Session, partner_type: PartnerType | str, start: datetime,
                             end: datetime) -> int:
    """How many partners of this type have a decided registration submitted in [start, end): how many partners
    the type's average pools (too few, and it would tell one partner another's figures)."""
    decided = case((Registration.status.in_(DECIDED_STATUSES), Registration.partner_id))
    return int(session.execute(
        sa_select(func.count(func.distinct(decided))).select_from(Registration)
        .join(Partner, Partner.id == Registration.partner_id)
        .where(Partner.type == partner_type, Registration.created_at >= start, Registration.created_at < end)
    ).scalar_one())


def scorecard_partners(session: Session, *, after: int | None, limit: int) -> list[Partner]:
    """Partners with a shared channel, by id past `after`, created before now (a page of the scorecard job)."""
    query = select(Partner).where(Partner.slack_channel_id.is_not(None)).order_by(Partner.id).limit(limit)
    if after is not None:
        query = query.where(Partner.id > after)
    return list(session.exec(query).all())


def listed_contacts(session: Session, partner_ids: list[int]) -> dict[int, list[str]]:
    """The listed contacts' Slack ids of these partners, in the order they were added."""
    found: dict[int, list[str]] = {}
    if not partner_ids:
        return found
    rows = session.exec(select(PartnerContact.partner_id, PartnerContact.slack_user_id)
                        .where(PartnerContact.partner_id.in_(partner_ids)).order_by(PartnerContact.id)).all()
    for partner_id, slack_id in rows:
        found.setdefault(partner_id, []).append(slack_id)
    return found
