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
from storage.crm.outbox import PARTNER, REGISTRATION, UPSELL, partner_reference
from storage.crm.state import load_state, over_threshold
from storage.models import CrmOutbox, OutboxStatus, Partner, Registration, Upsell, utcnow

# As Registration.reference, Upsell.reference and outbox.partner_reference write them.
PREFIXES = {REGISTRATION: "REG", UPSELL: "UPS", PARTNER: "PARTNER"}


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
        status.failures = [(_row_reference(r), r.event, r.last_error or "") for r in failed_rows]
    return status


def _row_reference(row: CrmOutbox) -> str:
    if row.registration_id is not None:
        return f"{PREFIXES[REGISTRATION]}-{row.registration_id:05d}"
    if row.upsell_id is not None:
        return f"{PREFIXES[UPSELL]}-{row.upsell_id:05d}"
    return partner_reference(row.partner_id)


def retry_failed(
    engine: Engine, *, now: datetime | None = None, registration_id: int | None = None, upsell_id: int | None = None,
    partner_id: int | None = None,
) -> int:
    """Put refused writes back in the queue (after the data or the Salesforce rule was fixed): all of them, or
    those of one registration, one upsell or one partner (its stage)."""
    now = now or utcnow()
    with Session(engine) as session:
        query = select(CrmOutbox).where(CrmOutbox.status == OutboxStatus.failed)
        if registration_id is not None:
            query = query.where(CrmOutbox.registration_id == registration_id)
        if upsell_id is not None:
            query = query.where(CrmOutbox.upsell_id == upsell_id)
        if partner_id is not None:
            query = query.where(CrmOutbox.partner_id == partner_id)
        rows = session.exec(query).all()
        for row in rows:
            row.status, row.attempts, row.next_attempt_at = OutboxStatus.pending, 0, now
            session.add(row)
        session.commit()
        return len(rows)


def parse_reference(text: str) -> tuple[str, int]:
    """`REG-00042`, `reg-42` or `42` -> ("registration", 42); `UPS-00007` or `ups-7` -> ("upsell", 7);
    `PARTNER-00003` -> ("partner", 3); ValueError otherwise."""
    cleaned = text.strip().upper()
    kind = next((k for k, prefix in PREFIXES.items() if cleaned.startswith(prefix + "-")), REGISTRATION)
    number = cleaned.removeprefix(PREFIXES[kind] + "-")
    if not number.isdigit():
        raise ValueError(f"not a registration, upsell or partner id: {text!r} (use 42, REG-00042, UPS-00007 or "
                         "PARTNER-00003)")
    return kind, int(number)


def mirror_of(engine: Engine, reference: str | int) -> list[CrmRecord]:
    """The local mirror's records for one registration (an id or a reference), one upsell (UPS-00007) or one
    partner's Account (PARTNER-00003): what Salesforce has, or will have."""
    kind, number = (REGISTRATION, reference) if isinstance(reference, int) else parse_reference(reference)
    model = {REGISTRATION: Registration, UPSELL: Upsell, PARTNER: Partner}[kind]
    with Session(engine) as session:
        deal = session.get(model, number)
        if deal is None:
            raise ValueError(f"no {kind} {PREFIXES[kind]}-{number:05d}")
        return records_of(session, deal)
