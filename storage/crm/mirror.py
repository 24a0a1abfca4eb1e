"""The local CRM mirror: the Salesforce records Partnerbot wants, kept in the database with their Ids."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, insert, or_, update
from sqlmodel import Session, select

from storage.crm import mapping, upsell_mapping
from storage.crm.mapping import ACCOUNT, LEAD, OPPORTUNITY, PARTNER, REVENUE
from storage.crm.models import CrmRecord
from storage.crm.outbox import WriteGroup
from storage.models import CustomerAccount, Partner, Registration, Upsell

ORDER = (ACCOUNT, LEAD, OPPORTUNITY, REVENUE, PARTNER)  # parents before the records that point at them


@dataclass
class MirrorRow:
    """The columns of a mirror row the writer reads and sets; saved with set-based statements, not the ORM."""

    sobject: str
    external_key: str
    field_values: dict[str, Any]
    version: int = 1
    salesforce_id: str | None = None
    synced_version: int | None = None
    synced_at: datetime | None = None
    insert: dict[str, Any] | None = None  # its columns while it waits to be inserted (after the Salesforce write)


MIRROR_COLUMNS = (
    CrmRecord.sobject,
    CrmRecord.external_key,
    CrmRecord.field_values,
    CrmRecord.version,
    CrmRecord.salesforce_id,
    CrmRecord.synced_version,
    CrmRecord.synced_at,
)


@dataclass
class Wanted:
    """One record a group needs in Salesforce, and its mirror row."""

    sobject: str
    key: str
    fields: dict[str, Any]
    group: WriteGroup
    record: MirrorRow | None = None
    created: bool | None = None  # Salesforce's answer for this drain: True when the upsert created it
    # Partners' own groups (their stage) whose Account another group of the chunk brought: they fail with it.
    also: list[WriteGroup] = field(default_factory=list)

    def fail(self, message: str, *, transient: bool = False) -> None:
        for group in (self.group, *self.also):
            group.fail(message, transient=transient)


def _account_needed(targets: frozenset[str]) -> bool:
    return bool(targets & {LEAD, OPPORTUNITY, PARTNER})


def _creating(existing: MirrorRow | None) -> bool:
    """Whether an Opportunity write creates the record (so it carries the create-only fields)."""
    return existing is None or existing.salesforce_id is None


def _partner_account(group: WriteGroup, accounts: dict[str, Wanted]) -> list[Wanted]:
    """The partner's Account, once per chunk (several deals of one partner share it). A partner's own group (its
    stage) that meets its Account already wanted hangs on to it: it is written, or fails, with it."""
    key = mapping.partner_key(group.partner)
    if key in accounts:
        if group.registration is None and group.upsell is None:
            accounts[key].also.append(group)
        return []
    accounts[key] = Wanted(ACCOUNT, key, mapping.to_salesforce_account(group.partner), group)
    return [accounts[key]]


def _registration_wanted(group: WriteGroup, known: dict, accounts: dict[str, Wanted]) -> list[Wanted]:
    reg, partner = group.registration, group.partner
    wanted = _partner_account(group, accounts) if _account_needed(group.targets) else []
    if LEAD in group.targets:
        wanted.append(Wanted(LEAD, reg.reference, mapping.to_salesforce_lead(reg, partner), group))
    if OPPORTUNITY in group.targets:
        existing = known.get((OPPORTUNITY, reg.reference))
        fields = mapping.to_salesforce_opportunity(reg, partner, revenue=group.revenue, creating=_creating(existing),
                                                   sent=existing.field_values if existing else None)
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
    return wanted


def _upsell_wanted(group: WriteGroup, known: dict, accounts: dict[str, Wanted], opportunity_type: str) -> list[Wanted]:
    """The customer's Account, the expansion Opportunity and, once the partner is credited, the partner's Account
    and Partner record; nothing before the upsell is accepted."""
    upsell, account, partner = group.upsell, group.account, group.partner
    if not upsell_mapping.in_salesforce(upsell):
        return []
    wanted = []
    key = upsell_mapping.customer_mirror_key(account)
    if key not in accounts:
        accounts[key] = Wanted(ACCOUNT, key, upsell_mapping.to_salesforce_customer_account(account), group)
        wanted.append(accounts[key])
    credited = upsell_mapping.partner_credited(upsell)
    if credited:
        wanted += _partner_account(group, accounts)
    creating = _creating(known.get((OPPORTUNITY, upsell.reference)))
    fields = upsell_mapping.to_salesforce_upsell_opportunity(upsell, account, partner, creating=creating,
                                                             opportunity_type=opportunity_type)
    wanted.append(Wanted(OPPORTUNITY, upsell.reference, fields, group))
    if credited:
        wanted.append(Wanted(PARTNER, upsell.reference, mapping.to_salesforce_partner(upsell, partner), group))
    return wanted


def wanted_records(
    groups: list[WriteGroup],
    known: dict[tuple[str, str], MirrorRow],
    *,
    opportunity_type: str = upsell_mapping.DEFAULT_OPPORTUNITY_TYPE,
) -> list[Wanted]:
    """Every record the groups need, parents first; an Opportunity not yet in Salesforce gets its create-only fields.
    Each Account is wanted once per chunk.

    `opportunity_type` is the `Type` of a new upsell's expansion Opportunity (program.upsell.opportunity_type).
    """
    wanted: list[Wanted] = []
    accounts: dict[str, Wanted] = {}
    for group in groups:
        if group.upsell is not None:
            wanted += _upsell_wanted(group, known, accounts, opportunity_type)
        elif group.registration is not None:
            wanted += _registration_wanted(group, known, accounts)
        else:  # a partner's own rows: its Account, with its stage
            wanted += _partner_account(group, accounts)
    wanted.sort(key=lambda w: ORDER.index(w.sobject))
    return wanted


def known_records(session: Session, groups: list[WriteGroup]) -> dict[tuple[str, str], MirrorRow]:
    """Mirror rows of these groups' registrations, upsells and partners, by (sObject, key)."""
    registration_ids = [g.registration.id for g in groups if g.registration is not None]
    upsell_ids = [g.upsell.id for g in groups if g.upsell is not None]
    partner_ids = list({g.partner.id for g in groups})
    mine = [and_(CrmRecord.sobject == ACCOUNT, CrmRecord.partner_id.in_(partner_ids))]
    if registration_ids:
        mine.append(CrmRecord.registration_id.in_(registration_ids))
    if upsell_ids:
        mine.append(CrmRecord.upsell_id.in_(upsell_ids))
    rows = session.execute(select(*MIRROR_COLUMNS).where(or_(*mine)))
    return {(r.sobject, r.external_key): MirrorRow(*r) for r in rows}


def _owners(item: Wanted) -> dict[str, int | None]:
    """The mirror row's links: a partner's Account its partner, a customer's Account nothing (customers' Accounts
    are found by key), every other record its registration or upsell and partner."""
    group = item.group
    if item.sobject == ACCOUNT:
        customer = item.key.startswith(upsell_mapping.CUSTOMER_MIRROR_PREFIX)
        return {"registration_id": None, "upsell_id": None, "partner_id": None if customer else group.partner.id}
    return {
        "registration_id": group.registration.id if group.registration is not None else None,
        "upsell_id": group.upsell.id if group.upsell is not None else None,
        "partner_id": group.partner.id,
    }


_by_key = (CrmRecord.sobject == bindparam("b_sobject")) & (CrmRecord.external_key == bindparam("b_key"))


def save_mirror(
    session: Session,
    wanted: list[Wanted],
    known: dict[tuple[str, str], MirrorRow],
    now: datetime,
    *,
    defer_inserts: bool = False,
) -> None:
    """Store the wanted values; attach each Wanted to its mirror row, set-based.

    With `defer_inserts`, new rows are inserted by `save_synced` with Salesforce's answer, not twice written.
    """
    # Accounts are shared by deals (a partner's by its deals, a customer's by its upsells); their rows may exist
    # without matching known_records' filter. Every other row carries its registration or upsell, so
    # known_records found it: looking those up again by (sObject, key) scanned the whole mirror for each chunk.
    missing = [w.key for w in wanted if w.sobject == ACCOUNT and (w.sobject, w.key) not in known]
    if missing:
        for row in session.execute(
            select(*MIRROR_COLUMNS).where(CrmRecord.sobject == ACCOUNT, CrmRecord.external_key.in_(missing))
        ):
            known[(row.sobject, row.external_key)] = MirrorRow(*row)
    updates = []
    for item in wanted:
        row = known.get((item.sobject, item.key))
        if row is None:
            row = MirrorRow(item.sobject, item.key, item.fields)
            known[(item.sobject, item.key)] = row
            row.insert = {
                "sobject": item.sobject,
                "external_key": item.key,
                **_owners(item),
                "field_values": item.fields,
                "version": 1,
                "mirrored_at": now,
            }
        else:
            # Upsert semantics: fields not sent keep their value (an AE's stage stays as it was).
            merged = row.field_values | item.fields
            if merged != row.field_values:
                row.field_values, row.version = merged, row.version + 1
                values = {"field_values": merged, "mirrored_at": now, "version": row.version}
                if row.insert is not None:  # a key met twice in one chunk, before its row is in the database
                    row.insert |= values
                else:
                    updates.append({"b_sobject": row.sobject, "b_key": row.external_key} | values)
        item.record = row
    if not defer_inserts:
        _insert_new(session, wanted)
    if updates:
        session.execute(update(CrmRecord.__table__).where(_by_key), updates)


def _insert_new(session: Session, wanted: list[Wanted]) -> set[int]:
    """Insert the rows still waiting, with their Salesforce Id and synced version; returns their `id()`s."""
    rows, done = [], set()
    for item in wanted:
        row = item.record
        if row is None or row.insert is None:
            continue
        rows.append(row.insert | {"salesforce_id": row.salesforce_id, "synced_version": row.synced_version,
                                  "synced_at": row.synced_at})
        row.insert = None
        done.add(id(row))
    if rows:
        session.execute(insert(CrmRecord), rows)
    return done


def save_synced(session: Session, wanted: list[Wanted], now: datetime) -> None:
    """Store the Salesforce Ids and synced versions this drain's writes set: new rows inserted, others updated."""
    seen = _insert_new(session, wanted)
    rows = []
    for item in wanted:
        row = item.record
        if row is None or row.synced_at != now or id(row) in seen:
            continue
        seen.add(id(row))
        rows.append({"b_sobject": row.sobject, "b_key": row.external_key, "salesforce_id": row.salesforce_id,
                     "synced_version": row.synced_version, "synced_at": now})
    if rows:
        session.execute(update(CrmRecord.__table__).where(_by_key), rows)


def records_of(session: Session, deal: Registration | Upsell | Partner) -> list[CrmRecord]:
    """The mirror rows of one registration or upsell, with its partner's Account (and an upsell's customer's),
    parents first; of a partner, its Account."""
    if isinstance(deal, Partner):
        rows, accounts = [], session.exec(
            select(CrmRecord).where(CrmRecord.partner_id == deal.id, CrmRecord.sobject == ACCOUNT)).all()
    elif isinstance(deal, Upsell):
        rows = session.exec(select(CrmRecord).where(CrmRecord.upsell_id == deal.id)).all()
        customer = session.get(CustomerAccount, deal.account_id)
        theirs = [CrmRecord.external_key == upsell_mapping.customer_mirror_key(customer)]
        if upsell_mapping.partner_credited(deal):
            theirs.append(CrmRecord.partner_id == deal.partner_id)
        accounts = session.exec(select(CrmRecord).where(CrmRecord.sobject == ACCOUNT, or_(*theirs))).all()
    else:
        rows = session.exec(select(CrmRecord).where(CrmRecord.registration_id == deal.id)).all()
        accounts = session.exec(
            select(CrmRecord).where(CrmRecord.partner_id == deal.partner_id, CrmRecord.sobject == ACCOUNT)
        ).all()
    return sorted(
        [*accounts, *rows], key=lambda r: (ORDER.index(r.sobject) if r.sobject in ORDER else 99, r.external_key)
    )
