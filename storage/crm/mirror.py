"""The local CRM mirror: the Salesforce records Partnerbot wants, kept in the database with their Ids."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, tuple_
from sqlmodel import Session, select

from storage.crm import mapping
from storage.crm.mapping import ACCOUNT, LEAD, OPPORTUNITY, PARTNER, REVENUE
from storage.crm.models import CrmRecord
from storage.crm.outbox import WriteGroup
from storage.models import Registration

ORDER = (ACCOUNT, LEAD, OPPORTUNITY, REVENUE, PARTNER)  # parents before the records that point at them


@dataclass
class Wanted:
    """One record a group needs in Salesforce, and its mirror row."""

    sobject: str
    key: str
    fields: dict[str, Any]
    group: WriteGroup
    record: CrmRecord | None = None
    created: bool | None = None  # Salesforce's answer for this drain: True when the upsert created it


def _account_needed(targets: frozenset[str]) -> bool:
    return bool(targets & {LEAD, OPPORTUNITY, PARTNER})


def wanted_records(groups: list[WriteGroup], known: dict[tuple[str, str], CrmRecord]) -> list[Wanted]:
    """Every record the groups need, parents first; an Opportunity not yet in Salesforce gets its create-only fields."""
    wanted: list[Wanted] = []
    accounts: set[str] = set()
    for group in groups:
        reg, partner = group.registration, group.partner
        if _account_needed(group.targets):
            key = mapping.partner_key(partner)
            if key not in accounts:
                accounts.add(key)
                wanted.append(Wanted(ACCOUNT, key, mapping.to_salesforce_account(partner), group))
        if LEAD in group.targets:
            wanted.append(Wanted(LEAD, reg.reference, mapping.to_salesforce_lead(reg, partner), group))
        if OPPORTUNITY in group.targets:
            existing = known.get((OPPORTUNITY, reg.reference))
            creating = existing is None or existing.salesforce_id is None
            fields = mapping.to_salesforce_opportunity(reg, partner, revenue=group.revenue, creating=creating)
            wanted.append(Wanted(OPPORTUNITY, reg.reference, fields, group))
        if REVENUE in group.targets:
            for month, amount in group.revenue:
                if group.months is None or month in group.months:
                    fields = mapping.to_salesforce_revenue(reg, month, amount)
                    wanted.append(Wanted(REVENUE, mapping.revenue_key(reg, month), fields, group))
        # Every Opportunity write also makes sure its Partner record exists: one that failed before (or whose
        # approval write was refused) gets created by the next write of the deal; an existing one costs nothing.
        if group.targets & {PARTNER, OPPORTUNITY}:
            wanted.append(Wanted(PARTNER, reg.reference, mapping.to_salesforce_partner(reg, partner), group))
    wanted.sort(key=lambda w: ORDER.index(w.sobject))
    return wanted


def known_records(session: Session, groups: list[WriteGroup]) -> dict[tuple[str, str], CrmRecord]:
    """Mirror rows of these groups' registrations and partners, by (sObject, key)."""
    registration_ids = [g.registration.id for g in groups]
    partner_ids = list({g.partner.id for g in groups})
    rows = session.exec(
        select(CrmRecord).where(
            or_(
                CrmRecord.registration_id.in_(registration_ids),
                and_(CrmRecord.sobject == ACCOUNT, CrmRecord.partner_id.in_(partner_ids)),
            )
        )
    ).all()
    return {(r.sobject, r.external_key): r for r in rows}


def save_mirror(session: Session, wanted: list[Wanted], known: dict[tuple[str, str], CrmRecord], now: datetime) -> None:
    """Store the wanted values; attach each Wanted to its mirror row (created when new)."""
    missing = [(w.sobject, w.key) for w in wanted if (w.sobject, w.key) not in known]
    if missing:
        # Accounts are shared by partners; their rows may exist without matching this chunk's filter.
        for row in session.exec(
            select(CrmRecord).where(tuple_(CrmRecord.sobject, CrmRecord.external_key).in_(missing))
        ):
            known[(row.sobject, row.external_key)] = row
    for item in wanted:
        row = known.get((item.sobject, item.key))
        if row is None:
            is_account = item.sobject == ACCOUNT
            row = CrmRecord(
                sobject=item.sobject,
                external_key=item.key,
                registration_id=None if is_account else item.group.registration.id,
                partner_id=item.group.partner.id,
                field_values=item.fields,
                mirrored_at=now,
            )
            known[(item.sobject, item.key)] = row
        else:
            # Upsert semantics: fields not sent keep their value (an AE's stage stays as it was).
            merged = row.field_values | item.fields
            if merged != row.field_values:
                row.field_values, row.mirrored_at, row.version = merged, now, row.version + 1
        item.record = row
        session.add(row)
    session.flush()


def records_of(session: Session, registration: Registration) -> list[CrmRecord]:
    """The mirror rows of one registration and its partner's Account, parents first."""
    rows = session.exec(select(CrmRecord).where(CrmRecord.registration_id == registration.id)).all()
    accounts = session.exec(
        select(CrmRecord).where(CrmRecord.partner_id == registration.partner_id, CrmRecord.sobject == ACCOUNT)
    ).all()
    return sorted(
        [*accounts, *rows], key=lambda r: (ORDER.index(r.sobject) if r.sobject in ORDER else 99, r.external_key)
    )
