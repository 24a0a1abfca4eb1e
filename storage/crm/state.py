"""The writer's state row: API usage and its threshold notice, error notices, and the lease that keeps drains single."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from storage.crm.models import CrmSyncState
from storage.models import utcnow

logger = logging.getLogger(__name__)
LEASE = timedelta(minutes=10)
USAGE_RECHECK = timedelta(minutes=15)  # how stale "over the threshold" may get before asking Salesforce again
AUTH_NOTICE_EVERY = timedelta(hours=1)


def load_state(session: Session) -> CrmSyncState:
    state = session.get(CrmSyncState, 1)
    if state is None:
        state = CrmSyncState(id=1)
        session.add(state)
        try:
            session.flush()
        except IntegrityError:  # another process created it first
            session.rollback()
            state = session.get(CrmSyncState, 1)
    return state


def acquire_lease(engine: Engine, owner: str) -> bool:
    """Take the drain lease unless another live drain holds it (so a Partner is never created twice)."""
    with Session(engine) as session:
        load_state(session)
        session.commit()
    wall = utcnow()
    with engine.begin() as connection:
        taken = connection.execute(
            update(CrmSyncState)
            .where(CrmSyncState.id == 1, or_(CrmSyncState.lease_until.is_(None), CrmSyncState.lease_until < wall))
            .values(lease_owner=owner, lease_until=wall + LEASE)
        )
        return taken.rowcount == 1


def renew_lease(engine: Engine, owner: str) -> None:
    """Keep the lease through a long drain (a large backlog takes more than one lease period)."""
    with engine.begin() as connection:
        connection.execute(
            update(CrmSyncState)
            .where(CrmSyncState.id == 1, CrmSyncState.lease_owner == owner)
            .values(lease_until=utcnow() + LEASE)
        )


def release_lease(engine: Engine, owner: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(CrmSyncState)
            .where(CrmSyncState.id == 1, CrmSyncState.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
        )


def over_threshold(usage: tuple[int | None, int | None] | None, threshold: float) -> bool:
    if not usage or not usage[1] or usage[0] is None:
        return False
    return usage[0] / usage[1] > threshold


def safe_notify(notify: Callable[[str], object], text: str) -> None:
    """Tell partner managers; a failing notifier must never stop CRM writes."""
    try:
        notify(text)
    except Exception:  # noqa: BLE001
        logger.exception("CRM notification failed")


def threshold_text(usage: tuple[int, int], threshold: float) -> str:
    used, total = usage
    return (
        f"Salesforce API usage is at {used:,}/{total:,} ({used / total:.0%}), over the {threshold:.0%} "
        "threshold. Partnerbot is holding non-urgent CRM writes until usage drops; nothing is lost."
    )


def note_usage(state: CrmSyncState, usage: tuple[int, int] | None, threshold: float, notify, now: datetime) -> bool:
    """Store the latest usage; tell partner managers once when it crosses the threshold. True when over."""
    if usage:
        state.api_used, state.api_total, state.api_checked_at = usage[0], usage[1], now
    over = over_threshold((state.api_used, state.api_total), threshold)
    if over and state.threshold_notified_at is None:
        safe_notify(notify, threshold_text((state.api_used, state.api_total), threshold))
        state.threshold_notified_at = now
    elif not over:
        state.threshold_notified_at = None
    return over


def note_error(state: CrmSyncState, message: str, now: datetime, *, notify=None) -> None:
    """Keep the last error for `crm status`; with `notify`, tell partner managers at most once an hour."""
    state.last_error, state.last_error_at = message[:3000], now
    if notify is not None and (state.auth_notified_at is None or now - state.auth_notified_at >= AUTH_NOTICE_EVERY):
        safe_notify(
            notify,
            f"Partnerbot cannot write to Salesforce: {message[:500]} "
            "CRM writes are kept and will be sent once this is fixed.",
        )
        state.auth_notified_at = now
