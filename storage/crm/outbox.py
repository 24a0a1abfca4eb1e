"""The outbox from the writer's side: due rows grouped per registration, upsell or partner, and what happens to them
after a try."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Row, bindparam, exists, func, insert, update
from sqlmodel import Session, select

from storage.crm.mapping import EVENT_TARGETS, REVENUE, targets_for
from storage.crm.models import CrmMirroredWrite, UsageRevenue
from storage.crm.partners import PARTNER_EVENT_TARGETS
from storage.crm.upsell_mapping import UPSELL_EVENT_TARGETS
from storage.models import CrmOutbox, CustomerAccount, OutboxStatus, Partner, Registration, Upsell

BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)
ID_BATCH = 5_000  # ids per IN list, well under SQLite's and PostgreSQL's bound-parameter limits
REGISTRATION, UPSELL, PARTNER = "registration", "upsell", "partner"  # what an outbox row is about
Subject = tuple[str, int]  # (REGISTRATION, UPSELL or PARTNER, its id)


@dataclass
class WriteGroup:
    """All pending outbox rows of one registration, upsell or partner, sent together as one set of Salesforce
    records. A partner's own group (its stage) has neither a registration nor an upsell."""

    partner: Partner
    rows: list[Row]  # id, subject_id, event, payload, attempts of each pending outbox row
    targets: frozenset[str]
    registration: Registration | None = None
    upsell: Upsell | None = None
    account: CustomerAccount | None = None  # the upsell's customer
    months: set[str] | None = None  # revenue months to send; None means all of them
    revenue: list[tuple[str, object]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # permanent: Salesforce refused a record
    retry_reasons: list[str] = field(default_factory=list)  # transient: try again later

    @property
    def reference(self) -> str:
        if self.registration is not None:
            return self.registration.reference
        return self.upsell.reference if self.upsell is not None else partner_reference(self.partner.id)

    def fail(self, message: str, *, transient: bool = False) -> None:
        (self.retry_reasons if transient else self.errors).append(message)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.retry_reasons


def partner_reference(partner_id: int) -> str:
    """How `partnerbot crm status` and `crm retry` name a partner's own rows: PARTNER-00003."""
    return f"PARTNER-{partner_id:05d}"


def backoff_delay(attempts: int, rng: random.Random) -> timedelta:
    """Exponential backoff with jitter: half the step fixed, half random, capped at an hour."""
    step = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** max(0, attempts - 1)))
    return step / 2 + step / 2 * rng.random()


def _due_filter(now: datetime, urgent_only: bool, mirror_mode: bool):
    conditions = [CrmOutbox.status == OutboxStatus.pending, CrmOutbox.next_attempt_at <= now]
    if urgent_only:
        conditions.append(CrmOutbox.urgent.is_(True))
    if mirror_mode:
        conditions.append(~exists().where(CrmMirroredWrite.outbox_id == CrmOutbox.id))
    return conditions


def count_due(session: Session, *, now: datetime, urgent_only: bool = False, mirror_mode: bool = False) -> int:
    query = select(func.count()).select_from(CrmOutbox).where(*_due_filter(now, urgent_only, mirror_mode))
    return session.exec(query).one()


def _subject(registration_id: int | None, upsell_id: int | None, partner_id: int | None) -> Subject:
    if registration_id is not None:
        return REGISTRATION, registration_id
    return (UPSELL, upsell_id) if upsell_id is not None else (PARTNER, partner_id)


def _heads(session: Session, conditions: list, after_id: int, limit: int) -> list[tuple[Subject, int]]:
    """(subject, its first due row id) of the next `limit` registrations, upsells or partners past `after_id`, in
    row order.

    Pages through due rows by id instead of grouping the whole backlog: a GROUP BY over every pending row
    made each chunk cost as much as the backlog, so a large drain grew with its square.
    """
    heads: dict[Subject, int] = {}
    page_size = limit * 2
    cursor = after_id
    while len(heads) < limit:
        page = session.execute(
            select(CrmOutbox.id, CrmOutbox.registration_id, CrmOutbox.upsell_id, CrmOutbox.partner_id)
            .where(CrmOutbox.id > cursor, *conditions)
            .order_by(CrmOutbox.id)
            .limit(page_size)
        ).all()
        for row_id, registration_id, upsell_id, partner_id in page:
            heads.setdefault(_subject(registration_id, upsell_id, partner_id), row_id)
            if len(heads) == limit:
                break
        if len(page) < page_size:
            break
        cursor = page[-1][0]
    return list(heads.items())


def _pending_rows(session: Session, column, ids: list[int], known: dict[str, frozenset[str]]) -> dict[int, list[Row]]:
    """The pending rows of these registrations (or upsells, or partners), by id; a row with an event not in `known`
    is failed."""
    # Plain rows, not ORM objects: the outcome is written back with set-based updates (settle_groups). The
    # status is checked here, not in SQL: given both, SQLite picked the status index and read every pending
    # row of the backlog for each chunk; a registration's own rows are few.
    rows = session.execute(
        select(
            CrmOutbox.id,
            column.label("subject_id"),
            CrmOutbox.event,
            CrmOutbox.payload,
            CrmOutbox.attempts,
            CrmOutbox.status,
        )
        .where(column.in_(ids))
        .order_by(CrmOutbox.id)
    ).all()
    by_subject: dict[int, list[Row]] = {}
    for row in rows:
        if row.status != OutboxStatus.pending:
            continue
        if row.event not in known:
            session.execute(
                update(CrmOutbox)
                .where(CrmOutbox.id == row.id)
                .values(status=OutboxStatus.failed, last_error=f"unknown CRM event {row.event!r}")
            )
            continue
        by_subject.setdefault(row.subject_id, []).append(row)
    return by_subject


def _registration_groups(session: Session, registration_ids: list[int]) -> dict[Subject, WriteGroup]:
    by_registration = _pending_rows(session, CrmOutbox.registration_id, registration_ids, EVENT_TARGETS)
    registrations = {r.id: r for r in session.exec(select(Registration).where(Registration.id.in_(registration_ids)))}
    partner_ids = {r.partner_id for r in registrations.values()}
    partners = {p.id: p for p in session.exec(select(Partner).where(Partner.id.in_(partner_ids)))}
    revenue: dict[int, list[tuple[str, object]]] = {}
    for registration_id, month, amount in session.execute(
        select(UsageRevenue.registration_id, UsageRevenue.month, UsageRevenue.amount)
        .where(UsageRevenue.registration_id.in_(registration_ids))
        .order_by(UsageRevenue.month)
    ):
        revenue.setdefault(registration_id, []).append((month, amount))
    groups = {}
    for registration_id, group_rows in by_registration.items():
        registration = registrations[registration_id]
        usage_rows = [r for r in group_rows if r.event == "usage"]
        months = {r.payload.get("month") for r in usage_rows}
        group = WriteGroup(
            registration=registration,
            partner=partners[registration.partner_id],
            rows=group_rows,
            targets=targets_for(r.event for r in group_rows),
            months=None if None in months else months,
            revenue=revenue.get(registration_id, []),
        )
        if REVENUE not in group.targets:
            group.months = set()
        groups[(REGISTRATION, registration_id)] = group
    return groups


def _upsell_groups(session: Session, upsell_ids: list[int]) -> dict[Subject, WriteGroup]:
    by_upsell = _pending_rows(session, CrmOutbox.upsell_id, upsell_ids, UPSELL_EVENT_TARGETS)
    upsells = {u.id: u for u in session.exec(select(Upsell).where(Upsell.id.in_(list(by_upsell))))}
    account_ids = {u.account_id for u in upsells.values()}
    accounts = {a.id: a for a in session.exec(select(CustomerAccount).where(CustomerAccount.id.in_(account_ids)))}
    partner_ids = {u.partner_id for u in upsells.values()}
    partners = {p.id: p for p in session.exec(select(Partner).where(Partner.id.in_(partner_ids)))}
    groups = {}
    for upsell_id, group_rows in by_upsell.items():
        upsell = upsells[upsell_id]
        groups[(UPSELL, upsell_id)] = WriteGroup(
            upsell=upsell,
            account=accounts[upsell.account_id],
            partner=partners[upsell.partner_id],
            rows=group_rows,
            targets=targets_for((r.event for r in group_rows), UPSELL_EVENT_TARGETS),
            months=set(),
        )
    return groups


def _partner_groups(session: Session, partner_ids: list[int]) -> dict[Subject, WriteGroup]:
    """Partners' own rows (their stage): each partner's Account, nothing else."""
    by_partner = _pending_rows(session, CrmOutbox.partner_id, partner_ids, PARTNER_EVENT_TARGETS)
    partners = {p.id: p for p in session.exec(select(Partner).where(Partner.id.in_(list(by_partner))))}
    return {(PARTNER, partner_id): WriteGroup(partner=partners[partner_id], rows=group_rows, months=set(),
                                              targets=targets_for((r.event for r in group_rows),
                                                                  PARTNER_EVENT_TARGETS))
            for partner_id, group_rows in by_partner.items()}


def load_due_groups(
    session: Session, *, now: datetime, after_id: int, limit: int, urgent_only: bool, mirror_mode: bool
) -> tuple[list[WriteGroup], int]:
    """The next `limit` registrations, upsells or partners with a due row past `after_id`, each with all its pending
    rows.

    Returns the groups and the cursor for the next call. Rows with an unknown event are failed here.
    """
    heads = _heads(session, _due_filter(now, urgent_only, mirror_mode), after_id, limit)
    if not heads:
        return [], after_id
    registration_ids = [subject_id for (kind, subject_id), _ in heads if kind == REGISTRATION]
    upsell_ids = [subject_id for (kind, subject_id), _ in heads if kind == UPSELL]
    partner_ids = [subject_id for (kind, subject_id), _ in heads if kind == PARTNER]
    groups: dict[Subject, WriteGroup] = {}
    if registration_ids:
        groups |= _registration_groups(session, registration_ids)
    if upsell_ids:
        groups |= _upsell_groups(session, upsell_ids)
    if partner_ids:
        groups |= _partner_groups(session, partner_ids)
    return [groups[subject] for subject, _ in heads if subject in groups], heads[-1][1]


def mark_mirrored(session: Session, groups: list[WriteGroup], now: datetime) -> None:
    """Remember that these rows are in the local mirror (they stay pending for Salesforce)."""
    ids = [row.id for group in groups for row in group.rows]
    known = set(session.scalars(select(CrmMirroredWrite.outbox_id).where(CrmMirroredWrite.outbox_id.in_(ids))))
    new = [{"outbox_id": outbox_id, "mirrored_at": now} for outbox_id in ids if outbox_id not in known]
    if new:
        session.execute(insert(CrmMirroredWrite), new)


def outcome_of(group: WriteGroup) -> str:
    """"failed", "retrying" or "written": a refused record wins over a passing failure, as retrying cannot fix it."""
    return "failed" if group.errors else "retrying" if group.retry_reasons else "written"


def settle_groups(session: Session, groups: list[WriteGroup], *, now: datetime, rng: random.Random) -> dict[str, list]:
    """Record each group's outcome on its rows, set-based; returns the groups by outcome."""
    by_outcome: dict[str, list[WriteGroup]] = {"written": [], "failed": [], "retrying": []}
    for group in groups:
        by_outcome[outcome_of(group)].append(group)
    written = [row.id for group in by_outcome["written"] for row in group.rows]
    for start in range(0, len(written), ID_BATCH):
        session.execute(
            update(CrmOutbox)
            .where(CrmOutbox.id.in_(written[start : start + ID_BATCH]))
            .values(status=OutboxStatus.written, written_at=now, last_error=None, attempts=CrmOutbox.attempts + 1)
        )
    for group in by_outcome["failed"]:  # rare, and each group has its own message
        session.execute(
            update(CrmOutbox)
            .where(CrmOutbox.id.in_([row.id for row in group.rows]))
            .values(status=OutboxStatus.failed, last_error=_message(group), attempts=CrmOutbox.attempts + 1)
        )
    retrying = [
        {"b_id": row.id, "b_error": _message(group), "b_next": now + backoff_delay(row.attempts + 1, rng)}
        for group in by_outcome["retrying"]
        for row in group.rows
    ]
    if retrying:
        session.execute(
            update(CrmOutbox.__table__)
            .where(CrmOutbox.__table__.c.id == bindparam("b_id"))
            .values(
                last_error=bindparam("b_error"),
                next_attempt_at=bindparam("b_next"),
                attempts=CrmOutbox.__table__.c.attempts + 1,
            ),
            retrying,
        )
    return by_outcome


def _message(group: WriteGroup) -> str | None:
    return "; ".join(group.errors or group.retry_reasons)[:3000] or None
