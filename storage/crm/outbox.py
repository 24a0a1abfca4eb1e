"""The outbox from the writer's side: due rows grouped per registration, and what happens to them after a try."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import exists, func
from sqlmodel import Session, select

from storage.crm.mapping import EVENT_TARGETS, REVENUE, targets_for
from storage.crm.models import CrmMirroredWrite, UsageRevenue
from storage.models import CrmOutbox, OutboxStatus, Partner, Registration

BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)


@dataclass
class WriteGroup:
    """All pending outbox rows of one registration, sent together as one set of Salesforce records."""

    registration: Registration
    partner: Partner
    rows: list[CrmOutbox]
    targets: frozenset[str]
    months: set[str] | None  # revenue months to send; None means all of them
    revenue: list[tuple[str, object]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # permanent: Salesforce refused a record
    retry_reasons: list[str] = field(default_factory=list)  # transient: try again later

    @property
    def reference(self) -> str:
        return self.registration.reference

    def fail(self, message: str, *, transient: bool = False) -> None:
        (self.retry_reasons if transient else self.errors).append(message)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.retry_reasons


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


def load_due_groups(
    session: Session, *, now: datetime, after_id: int, limit: int, urgent_only: bool, mirror_mode: bool
) -> tuple[list[WriteGroup], int]:
    """The next `limit` registrations with a due row past `after_id`, each with all its pending rows.

    Returns the groups and the cursor for the next call. Rows with an unknown event are failed here.
    """
    first_id = func.min(CrmOutbox.id)
    heads = session.exec(
        select(CrmOutbox.registration_id, first_id)
        .where(CrmOutbox.id > after_id, *_due_filter(now, urgent_only, mirror_mode))
        .group_by(CrmOutbox.registration_id)
        .order_by(first_id)
        .limit(limit)
    ).all()
    if not heads:
        return [], after_id
    registration_ids = [registration_id for registration_id, _ in heads]
    rows = session.exec(
        select(CrmOutbox)
        .where(CrmOutbox.registration_id.in_(registration_ids), CrmOutbox.status == OutboxStatus.pending)
        .order_by(CrmOutbox.id)
    ).all()
    registrations = {r.id: r for r in session.exec(select(Registration).where(Registration.id.in_(registration_ids)))}
    partner_ids = {r.partner_id for r in registrations.values()}
    partners = {p.id: p for p in session.exec(select(Partner).where(Partner.id.in_(partner_ids)))}
    revenue = session.exec(
        select(UsageRevenue).where(UsageRevenue.registration_id.in_(registration_ids)).order_by(UsageRevenue.month)
    ).all()
    by_registration: dict[int, list[CrmOutbox]] = {}
    for row in rows:
        if row.event not in EVENT_TARGETS:
            row.status, row.last_error = OutboxStatus.failed, f"unknown CRM event {row.event!r}"
            session.add(row)
            continue
        by_registration.setdefault(row.registration_id, []).append(row)
    groups = []
    for registration_id in registration_ids:
        group_rows = by_registration.get(registration_id)
        if not group_rows:
            continue
        registration = registrations[registration_id]
        usage_rows = [r for r in group_rows if r.event == "usage"]
        months = {r.payload.get("month") for r in usage_rows}
        group = WriteGroup(
            registration=registration,
            partner=partners[registration.partner_id],
            rows=group_rows,
            targets=targets_for(r.event for r in group_rows),
            months=None if None in months else months,
            revenue=[(u.month, u.amount) for u in revenue if u.registration_id == registration_id],
        )
        if REVENUE not in group.targets:
            group.months = set()
        groups.append(group)
    return groups, heads[-1][1]


def mark_mirrored(session: Session, groups: list[WriteGroup], now: datetime) -> None:
    """Remember that these rows are in the local mirror (they stay pending for Salesforce)."""
    ids = [row.id for group in groups for row in group.rows]
    known = set(session.exec(select(CrmMirroredWrite.outbox_id).where(CrmMirroredWrite.outbox_id.in_(ids))))
    for outbox_id in ids:
        if outbox_id not in known:
            session.add(CrmMirroredWrite(outbox_id=outbox_id, mirrored_at=now))


def settle(session: Session, group: WriteGroup, *, now: datetime, rng: random.Random) -> str:
    """Record the outcome of a group's try on its rows: "written", "failed" or "retrying"."""
    # A refused record wins over a passing failure: retrying cannot fix it, `crm retry` after a fix can.
    outcome = "failed" if group.errors else "retrying" if group.retry_reasons else "written"
    message = "; ".join(group.errors or group.retry_reasons)[:3000] or None
    for row in group.rows:
        row.attempts += 1
        if outcome == "written":
            row.status, row.written_at, row.last_error = OutboxStatus.written, now, None
        elif outcome == "failed":
            row.status, row.last_error = OutboxStatus.failed, message
        else:
            row.last_error = message
            row.next_attempt_at = now + backoff_delay(row.attempts, rng)
        session.add(row)
    return outcome

