"""Pending work: what is owed after an ack, stored with the change that made it owed."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session, select

from storage.at_commit import insert_at_commit
from storage.models import PendingWork


def owe_work(session: Session, kind: str, subject_id: int, now: datetime, *, due: datetime | None = None) -> None:
    """Owe this work, due now or at `due` (the worker leaves it until then)."""
    insert_at_commit(session, PendingWork(kind=kind, subject_id=subject_id, created_at=now, next_attempt_at=due or now))


def due_work(session: Session, now: datetime, *, limit: int, kind: str | None = None,
             subject_id: int | None = None) -> list[PendingWork]:
    query = select(PendingWork).where(PendingWork.next_attempt_at <= now).order_by(PendingWork.id).limit(limit)
    if kind is not None:
        query = query.where(PendingWork.kind == kind)
    if subject_id is not None:
        query = query.where(PendingWork.subject_id == subject_id)
    return list(session.exec(query).all())


def work_owed(session: Session, work: PendingWork) -> bool:
    """Whether the row is still there (a read: another worker may have done it)."""
    return session.exec(select(PendingWork.id).where(PendingWork.id == work.id, PendingWork.kind == work.kind,
                                                     PendingWork.subject_id == work.subject_id)).first() is not None


def take_work(session: Session, work: PendingWork) -> bool:
    """Delete the row inside the transaction doing the work: True for the one transaction that gets it.

    Matched on what it is, not only its id: SQLite can give a deleted row's id to a new one.
    """
    return session.exec(delete(PendingWork).where(PendingWork.id == work.id, PendingWork.kind == work.kind,
                                                  PendingWork.subject_id == work.subject_id)).rowcount == 1


def postpone_work(session: Session, work_id: int, *, error: str, now: datetime) -> None:
    """The work failed: try again later (doubling, at most hourly); the row keeps the last error."""
    work = session.get(PendingWork, work_id)
    if work is None:
        return
    work.attempts += 1
    work.last_error = error[:500]
    work.next_attempt_at = now + timedelta(seconds=min(3600, 2 ** work.attempts))
    session.add(work)

