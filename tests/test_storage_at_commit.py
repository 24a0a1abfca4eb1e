"""Rows kept for the commit (storage/at_commit.py): inserted with it, whole or not at all, as the ORM would."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from storage.at_commit import insert_at_commit, insert_rows_at_commit
from storage.db import transaction
from storage.models import PendingWork, ProcessedEvent
from tests.pg_protocol import round_trips

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=timezone.utc)


def work(subject_id: int) -> PendingWork:
    return PendingWork(kind="bench", subject_id=subject_id, created_at=NOW, next_attempt_at=NOW + timedelta(hours=1))


def test_rows_kept_for_the_commit_are_inserted_with_it_as_the_orm_would_insert_them(engine):
    with transaction(engine) as session:
        session.add(work(1))  # the ORM's own, to compare with
    with transaction(engine, lock_timeout=1.5, inserts_at_commit=True) as session:
        insert_at_commit(session, work(2))
        insert_rows_at_commit(session, ProcessedEvent.__table__, [{"event_id": "kept-a", "received_at": NOW},
                                                                  {"event_id": "kept-b", "received_at": NOW}])
        insert_at_commit(session, work(3))
        assert session.exec(select(PendingWork).where(PendingWork.subject_id > 1)).all() == []  # not before
        assert session.get(ProcessedEvent, "kept-a") is None
    with Session(engine) as session:
        rows = session.exec(select(PendingWork).order_by(PendingWork.id)).all()
        assert [row.subject_id for row in rows] == [1, 2, 3]  # ids in the order added
        as_orm = rows[0].model_dump(exclude={"id", "subject_id"})
        assert all(row.model_dump(exclude={"id", "subject_id"}) == as_orm for row in rows[1:])
        assert as_orm["attempts"] == 0 and as_orm["last_error"] is None  # the model's defaults, as the ORM's
        assert {event.event_id for event in session.exec(select(ProcessedEvent)).all()} == {"kept-a", "kept-b"}


def test_elsewhere_a_row_for_the_commit_is_added_at_once(engine):
    with transaction(engine) as session:
        insert_at_commit(session, work(7))
        insert_rows_at_commit(session, ProcessedEvent.__table__, [{"event_id": "now", "received_at": NOW}])
        assert session.exec(select(PendingWork.subject_id)).all() == [7]
        assert session.get(ProcessedEvent, "now") is not None


def test_a_kept_row_that_cannot_be_inserted_leaves_nothing_of_its_transaction(engine):
    with transaction(engine) as session:
        session.add(ProcessedEvent(event_id="taken", received_at=NOW))
    with pytest.raises(IntegrityError):  # the database's refusal, as SQLAlchemy raises it anywhere else
        with transaction(engine, lock_timeout=1.5, inserts_at_commit=True) as session:
            session.add(work(1))
            session.flush()
            insert_at_commit(session, work(2))
            insert_at_commit(session, ProcessedEvent(event_id="taken", received_at=NOW))
    with transaction(engine, lock_timeout=1.5, inserts_at_commit=True) as session:  # the pooled connection, reused
        insert_at_commit(session, work(3))
    with Session(engine) as session:
        assert session.exec(select(PendingWork.subject_id)).all() == [3]
        if engine.dialect.name == "postgresql":
            driver = session.connection().connection.driver_connection
            assert not driver.autocommit and driver.pgconn.pipeline_status == 0


def test_on_postgresql_the_kept_rows_and_the_commit_are_one_round_trip(engine):
    """Sent in one pipeline: nothing waits for an answer between them (psycopg's pipeline ends with one Sync)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no round trips")
    with round_trips(engine) as trips, transaction(engine, lock_timeout=1.5, inserts_at_commit=True) as session:
        session.add(ProcessedEvent(event_id="orm", received_at=NOW))
        insert_at_commit(session, work(1))
        insert_rows_at_commit(session, ProcessedEvent.__table__, [{"event_id": "kept", "received_at": NOW}])
    assert trips == [["BEGIN", "SET LOCAL lock_timeout = '1500ms'", "INSERT INTO processed_event"],  # the ORM's
                     ["INSERT INTO pending_work", "INSERT INTO processed_event", "COMMIT"]]
    with Session(engine) as session:
        assert len(session.exec(select(ProcessedEvent)).all()) == 2 and session.exec(select(PendingWork)).one()
