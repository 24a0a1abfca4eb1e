"""How a PostgreSQL transaction begins: its settings (a bounded wait for locks before an ack, a lazy commit for a
job) local to it and sent with its first statement in one round trip, and the pooled connection left as it was
whatever that statement meets."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DataError, ProgrammingError

from storage.db import DatabaseBusy, lazy_commits, transaction
from storage.models import ProcessedEvent
from tests.pg_protocol import round_trips


def test_lock_timeout_is_local_to_its_transaction(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    with transaction(engine, lock_timeout=0.2) as session:
        assert session.connection().exec_driver_sql("SHOW lock_timeout").scalar() == "200ms"
    with transaction(engine) as session:
        assert session.connection().exec_driver_sql("SHOW lock_timeout").scalar() == "0"


def test_a_bounded_postgresql_transaction_is_one_transaction_begun_in_one_round_trip(engine):
    """Before an ack, BEGIN and the short lock wait are sent together on a connection left in autocommit: what
    follows must still be one transaction, committed whole or rolled back whole, and the pooled connection
    must not stay in autocommit for whoever uses it next."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: SQLite begins with BEGIN IMMEDIATE")
    with pytest.raises(RuntimeError), round_trips(engine) as trips:
        with transaction(engine, lock_timeout=0.3) as session:
            session.add(ProcessedEvent(event_id="bounded-half-done", received_at=datetime.now(timezone.utc)))
            session.flush()
            xid = session.connection().exec_driver_sql("SELECT pg_current_xact_id()::text").scalar()
            assert session.connection().exec_driver_sql("SELECT pg_current_xact_id()::text").scalar() == xid
            raise RuntimeError("fails after its first write")
    assert trips[0] == ["BEGIN", "SET LOCAL lock_timeout = '300ms'", "INSERT INTO processed_event"]
    assert trips[-1] == ["ROLLBACK"]
    with transaction(engine, lock_timeout=0.3) as session:
        session.add(ProcessedEvent(event_id="bounded-whole", received_at=datetime.now(timezone.utc)))
    with transaction(engine) as session:  # the same pooled connection, used a moment ago
        assert not session.connection().connection.driver_connection.autocommit
        assert session.connection().exec_driver_sql("SHOW lock_timeout").scalar() == "0"
        assert session.get(ProcessedEvent, "bounded-half-done") is None
        assert session.get(ProcessedEvent, "bounded-whole") is not None


def test_a_first_statement_that_fails_leaves_no_transaction_and_no_pipeline_on_the_pooled_connection(engine):
    """BEGIN and the settings wait in a pipeline for the first statement: whether that statement is refused by the
    server (a lock not had in time: DatabaseBusy, an error in the query) or by the driver before it is sent, the
    transaction is rolled back and the connection handed back as it was taken."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: SQLite begins with BEGIN IMMEDIATE")
    with transaction(engine) as session:
        session.add(ProcessedEvent(event_id="held", received_at=datetime.now(timezone.utc)))
    locked = {"event_id": "held"}
    with transaction(engine) as holder:
        holder.execute(text("SELECT 1 FROM processed_event WHERE event_id = :event_id FOR UPDATE"), locked)
        with pytest.raises(DatabaseBusy):
            with transaction(engine, lock_timeout=0.1) as session:
                session.execute(text("SELECT 1 FROM processed_event WHERE event_id = :event_id FOR UPDATE"), locked)
    with pytest.raises(DataError):
        with transaction(engine, lock_timeout=0.1) as session:
            session.execute(text("SELECT 1 / 0"))
    with pytest.raises(ProgrammingError):  # psycopg cannot send the value: nothing of the statement went out
        with transaction(engine, lock_timeout=0.1) as session:
            session.execute(text("SELECT :value"), {"value": object()})
    connections = [engine.raw_connection() for _ in range(3)]  # whichever the pool hands out next
    try:
        for connection in connections:
            driver = connection.driver_connection
            assert (driver.pgconn.pipeline_status, driver.autocommit, driver.info.transaction_status) == (0, False, 0)
            assert connection.cursor().execute("SHOW lock_timeout").fetchone()[0] == "0"
    finally:
        for connection in connections:
            connection.close()


def test_a_lazy_commit_is_local_to_its_transactions_and_begins_in_the_same_round_trip(engine):
    """Within lazy_commits a PostgreSQL transaction commits without waiting for its WAL flush, set with BEGIN in one
    statement (with a bounded wait's too); the pooled connection and transactions outside it wait as before."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: SQLite in WAL mode with synchronous=NORMAL does not sync at commit")
    with lazy_commits(), round_trips(engine) as trips:
        with transaction(engine) as session:
            session.add(ProcessedEvent(event_id="lazy-one", received_at=datetime.now(timezone.utc)))
            session.flush()
            assert session.connection().exec_driver_sql("SHOW synchronous_commit").scalar() == "off"
        with transaction(engine, lock_timeout=0.3) as session:
            assert session.connection().exec_driver_sql("SHOW lock_timeout").scalar() == "300ms"
            assert session.connection().exec_driver_sql("SHOW synchronous_commit").scalar() == "off"
        with lazy_commits(False), transaction(engine) as session:
            assert session.connection().exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
    assert trips[0] == ["BEGIN", "SET LOCAL synchronous_commit = off", "INSERT INTO processed_event"]
    assert ["BEGIN", "SET LOCAL lock_timeout = '300ms'", "SET LOCAL synchronous_commit = off",
            "SHOW lock_timeout"] in trips
    with transaction(engine) as session:  # outside: the same pooled connection, as it was
        assert not session.connection().connection.driver_connection.autocommit
        assert session.connection().exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
        assert session.get(ProcessedEvent, "lazy-one") is not None
