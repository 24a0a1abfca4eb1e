"""Reading and steering the outbox for people: counts, last error, API usage, re-queueing refused writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import exists, func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.settings import Settings
from storage.crm.client import auth_mode
from storage.crm.mirror import records_of
from storage.crm.models import CrmMirroredWrite, CrmRecord
from storage.crm.state import load_state, over_threshold
from storage.models import CrmOutbox, OutboxStatus, Registration, utcnow


@dataclass
class CrmStatus:
    """What `partnerbot crm status` shows."""

    auth_mode: str | None
    pending: int = 0
    pending_waiting: int = 0  # pending but backing off after a passing error
    pending_mirrored: int = 0  # pending for Salesforce, already in the local mirror
    failed: int = 0
    written: int = 0
    last_error: str | None = None
    last_error_at: datetime | None = None
    api_usage: tuple[int, int] | None = None
    api_checked_at: datetime | None = None
    over_threshold: bool = False
    mirror: dict[str, tuple[int, int]] = field(default_factory=dict)  # sObject -> (records, in Salesforce)
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # (reference, event, error)


def crm_status(
    engine: Engine, settings: Settings, *, now: datetime | None = None, list_failures: int = 10
) -> CrmStatus:
    """Outbox counts, the last error, API usage and the mirror's size."""
    now = now or utcnow()
    with Session(engine) as session:
        counts = dict(session.exec(select(CrmOutbox.status, func.count()).group_by(CrmOutbox.status)).all())
        pending = CrmOutbox.status == OutboxStatus.pending
        waiting = session.exec(select(func.count()).where(pending, CrmOutbox.next_attempt_at > now)).one()
        mirrored = session.exec(
            select(func.count()).where(pending, exists().where(CrmMirroredWrite.outbox_id == CrmOutbox.id))
        ).one()
        state = load_state(session)
        usage = (state.api_used, state.api_total) if state.api_total else None
        status = CrmStatus(
            auth_mode=auth_mode(settings),
            pending=counts.get(OutboxStatus.pending, 0),
            pending_waiting=waiting,
            pending_mirrored=mirrored,
            failed=counts.get(OutboxStatus.failed, 0),
            written=counts.get(OutboxStatus.written, 0),
            last_error=state.last_error,
            last_error_at=state.last_error_at,
            api_usage=usage,
            api_checked_at=state.api_checked_at,
            over_threshold=over_threshold(usage, settings.crm_api_usage_threshold),
        )
        for sobject, total, in_sf in session.exec(
            select(CrmRecord.sobject, func.count(), func.count(CrmRecord.salesforce_id)).group_by(CrmRecord.sobject)
        ).all():
            status.mirror[sobject] = (total, in_sf)
        failed_rows = session.exec(
            select(CrmOutbox)
            .where(CrmOutbox.status == OutboxStatus.failed)
            .order_by(CrmOutbox.id.desc())
            .limit(list_failures)
        ).all()
        status.failures = [(f"REG-{r.registration_id:05d}", r.event, r.last_error or "") for r in failed_rows]
    return status


def retry_failed(engine: Engine, *, now: datetime | None = None, registration_id: int | None = None) -> int:
    """Put refused writes back in the queue (after the data or the Salesforce rule was fixed)."""
    now = now or utcnow()
    with Session(engine) as session:
        query = select(CrmOutbox).where(CrmOutbox.status == OutboxStatus.failed)
        if registration_id is not None:
            query = query.where(CrmOutbox.registration_id == registration_id)
        rows = session.exec(query).all()
        for row in rows:
            row.status, row.attempts, row.next_attempt_at = OutboxStatus.pending, 0, now
            session.add(row)
        session.commit()
        return len(rows)


def parse_reference(text: str) -> int:
    """`REG-00042`, `reg-42` or `42` -> 42; ValueError otherwise."""
    cleaned = text.strip().upper().removeprefix("REG-")
    if not cleaned.isdigit():
        raise ValueError(f"not a registration id: {text!r} (use 42 or REG-00042)")
    return int(cleaned)


def mirror_of(engine: Engine, reference: str | int) -> list[CrmRecord]:
    """The local mirror's records for one registration (what Salesforce has, or will have)."""
    registration_id = reference if isinstance(reference, int) else parse_reference(reference)
    with Session(engine) as session:
        registration = session.get(Registration, registration_id)
        if registration is None:
            raise ValueError(f"no registration REG-{registration_id:05d}")
        return records_of(session, registration)
