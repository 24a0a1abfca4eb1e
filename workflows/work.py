"""Doing stored work after the ack: each row once, in order, and again after a crash or restart."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlmodel import Session

from storage.db import transaction
from storage.work import due_work, postpone_work, take_work
from workflows.services import Services

logger = logging.getLogger(__name__)

# kind -> function(services, session, subject_id), run in the transaction that deletes the work row
PROCESSORS: dict[str, Callable[[Services, Session, int], None]] = {}


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
            with transaction(services.engine) as session:
                # Taken and done in one transaction: a crash undoes both, and a second worker finds it gone.
                if not take_work(session, work):
                    continue
                PROCESSORS[work.kind](services, session, work.subject_id)
            done += 1
        except Exception as error:  # noqa: BLE001 - one bad row must not stop the others
            logger.exception("pending work %s #%s (%s %s) failed; it will be tried again", work.kind, work.id,
                             work.kind, work.subject_id)
            with transaction(services.engine) as session:
                postpone_work(session, work.id, error=f"{error.__class__.__name__}: {error}", now=services.clock())
    return done
