"""The database helpers that acks rely on: bounded waits for locks, and nothing left behind by them."""

from __future__ import annotations

import pytest

from storage.db import SQLITE_BUSY_TIMEOUT_MS, transaction


def test_a_short_wait_for_locks_does_not_stay_on_the_pooled_connection(engine):
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's busy_timeout is a connection setting; PostgreSQL's lock_timeout is SET LOCAL")
    for _ in range(3):
        with transaction(engine, lock_timeout=0.2):
            pass
    connections = [engine.raw_connection() for _ in range(3)]  # whichever the pool hands out next
    try:
        for connection in connections:
            assert connection.cursor().execute("PRAGMA busy_timeout").fetchone()[0] == SQLITE_BUSY_TIMEOUT_MS
    finally:
        for connection in connections:
            connection.close()


def test_lock_timeout_is_local_to_its_transaction(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    with transaction(engine, lock_timeout=0.2) as session:
        assert session.connection().exec_driver_sql("SHOW lock_timeout").scalar() == "200ms"
    with transaction(engine) as session:
        assert session.connection().exec_driver_sql("SHOW lock_timeout").scalar() == "0"
