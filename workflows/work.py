"""Doing stored work after the ack: each row once, in order, and again after a crash or restart."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlmodel import Session

from storage.db import SnapshotChanged, transaction
from storage.work import due_work, postpone_work, take_work, work_owed
from workflows.services import Services

logger = logging.getLogger(__name__)

# kind -> function(services, session, subject_id), run in the transaction that deletes the work row
PROCESSORS: dict[str, Callable[[Services, Session, int], None]] = {}
READ_FIRST_TRIES = 3  # SQLite: tries that read before taking the write lock; then one that holds it throughout


def processor(kind: str):
    """Register the function that does one kind of pending work."""
    def register(function):
        PROCESSORS[kind] = function
        return function
    return register


def run_pending_work(services: Services, kind: str | None = None, subject_id: int | None = None, *,
                     limit: int = 100) -> int:
    """Do the work that is due (optionally one kind or subject); returns how many rows were done."""
    done = 0
    with Session(services.engine) as session:
        due = due_work(session, services.clock(), limit=limit, kind=kind, subject_id=subject_id)
    for work in due:
        try:
            done += _do(services, work)
        except Exception as error:  # noqa: BLE001 - one bad row must not stop the others
            logger.exception("pending work %s #%s (%s %s) failed; it will be tried again", work.kind, work.id,
                             work.kind, work.subject_id)
            with transaction(services.engine) as session:
                postpone_work(session, work.id, error=f"{error.__class__.__name__}: {error}", now=services.clock())
    return done


class _DoneElsewhere(Exception):
    """The work row was gone when this transaction came to take it: another worker did it."""


def _do(services: Services, work) -> int:
    """Do one row's work and take the row in the same transaction (a crash undoes both); 1 when done here.

    The work reads before it writes, so on SQLite it runs `read_first`: the write lock is held only from its
    first write to the commit, not through the reads before (the acks wait behind it). If anything was written
    in between, it is done again from the start; after READ_FIRST_TRIES, the usual way (the lock from BEGIN).
    """
    for attempt in range(READ_FIRST_TRIES + 1):
        try:
            with transaction(services.engine, read_first=attempt < READ_FIRST_TRIES) as session:
                if not work_owed(session, work):
                    return 0
                PROCESSORS[work.kind](services, session, work.subject_id)
                if not take_work(session, work):
                    raise _DoneElsewhere()  # roll back whatever this run wrote
            return 1
        except SnapshotChanged:
            continue
        except _DoneElsewhere:
            return 0
    return 0  # not reached: the last try holds the lock from BEGIN
