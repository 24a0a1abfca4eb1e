"""The database helpers that acks rely on: bounded waits for locks, and nothing left behind by them."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from datetime import datetime, timezone

import pytest

import storage.db as storage_db
from storage.ack_hands import HAND_YIELD_SECONDS, HANDS, ack_coming, acks_waiting, answering
from storage.db import (
    SQLITE_BUSY_TIMEOUT_MS,
    make_engine,
    optimize,
    single_reads,
    transaction,
)
from storage.models import ProcessedEvent
from workflows.services import WriteBudget


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


def test_an_ack_gets_the_sqlite_write_lock_between_a_background_loops_transactions(database_url, engine):
    """SQLite serves lock waiters in no order: without the background gap and the ack's quick retries, a job
    writing back to back keeps the lock and the ack waits until it gives up (DatabaseBusy after 1.5 s)."""
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL locks rows, not the whole database")
    background = make_engine(database_url, background=True)
    stop, held = threading.Event(), []

    def job_writing_back_to_back():
        while not stop.is_set():
            with transaction(background) as session:
                started = time.monotonic()
                session.add(ProcessedEvent(event_id=f"job-{uuid.uuid4().hex}", received_at=datetime.now(timezone.utc)))
                session.flush()
                time.sleep(0.04)  # a batch's worth of writing, with the lock held
                held.append(time.monotonic() - started)

    job = threading.Thread(target=job_writing_back_to_back, daemon=True)
    job.start()
    try:
        while len(held) < 2:
            time.sleep(0.01)
        waits = []
        for n in range(10):
            started = time.monotonic()
            with transaction(engine, lock_timeout=1.5) as session:
                session.add(ProcessedEvent(event_id=f"ack-{n}", received_at=datetime.now(timezone.utc)))
            waits.append(time.monotonic() - started)
            time.sleep(0.013)  # acks arrive at any moment of the job's transactions
    finally:
        stop.set()
        job.join()
        background.dispose()
    assert len(held) > 10  # the job really was writing all along
    assert max(waits) < 0.04 + 0.25, waits  # one job transaction at most, with room for a slow machine


def test_a_background_batch_commits_at_its_next_row_when_an_ack_raises_its_hand(database_url, engine):
    """A job's batch runs until its write budget is spent; an ack waiting for SQLite's write lock (here from
    another engine on the same file, as from serve beside its worker) cuts it short at the next row, so the ack
    waits for one row, not for the batch."""
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL locks rows, not the whole database")
    background = make_engine(database_url, background=True)
    stop, batches, begun = threading.Event(), [], threading.Event()

    def job_writing_long_batches():
        while not stop.is_set():
            with transaction(background) as session:
                budget, rows = WriteBudget(background, seconds=1.0), 0
                while not (rows and budget.spent()):
                    session.add(ProcessedEvent(event_id=f"job-{uuid.uuid4().hex}",
                                               received_at=datetime.now(timezone.utc)))
                    session.flush()
                    time.sleep(0.005)  # one row's worth of work, the lock held
                    rows += 1
                    begun.set()
            batches.append(rows)

    job = threading.Thread(target=job_writing_long_batches, daemon=True)
    job.start()
    try:
        begun.wait(5)
        time.sleep(0.3)  # well into a batch that would run on for 0.7 s
        waits = []
        for n in range(5):
            started = time.monotonic()
            with transaction(engine, lock_timeout=1.5) as session:
                session.add(ProcessedEvent(event_id=f"ack-{n}", received_at=datetime.now(timezone.utc)))
            waits.append(time.monotonic() - started)
            time.sleep(0.1)
    finally:
        stop.set()
        job.join()
        background.dispose()
    assert batches[0] > 40  # the first batch ran until the ack came, 0.3 s in
    assert max(waits) < 0.15, waits  # a row or two (5 ms each), with room for a slow machine; not the 0.7 s left


def test_a_background_transaction_begins_only_once_an_acks_hand_is_down_or_after_a_bound(database_url, engine):
    """`serve` raises a hand as an interactive request arrives (ack_coming): a background transaction on the same
    file does not begin while it is up, so the ack's write finds no transaction begun just before it; a stream of
    hands holds it back at most HAND_YIELD_SECONDS, and work already begun is not stopped."""
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL locks rows, not the whole database")
    background = make_engine(database_url, background=True)

    def begin_in_background() -> float:
        started = time.monotonic()
        with transaction(background) as session:
            session.add(ProcessedEvent(event_id=f"job-{uuid.uuid4().hex}", received_at=datetime.now(timezone.utc)))
        return time.monotonic() - started

    try:
        assert begin_in_background() < HAND_YIELD_SECONDS / 2  # no hand: at once
        ack_coming(engine)  # one request: held back until the hand is down, a few milliseconds
        assert begin_in_background() < HAND_YIELD_SECONDS / 2
        stop = threading.Event()

        def requests_arriving_all_the_time():
            while not stop.is_set():
                ack_coming(engine)
                time.sleep(0.001)

        stream = threading.Thread(target=requests_arriving_all_the_time, daemon=True)
        stream.start()
        try:
            waited = begin_in_background()
            started = time.monotonic()  # the process answering Slack is never held back by hands
            with transaction(engine, lock_timeout=1.5) as session:
                session.add(ProcessedEvent(event_id="ack-1", received_at=datetime.now(timezone.utc)))
            acked = time.monotonic() - started
        finally:
            stop.set()
            stream.join()
        assert HAND_YIELD_SECONDS <= waited < HAND_YIELD_SECONDS + 0.5  # held back, but never for good
        assert acked < HAND_YIELD_SECONDS / 2
    finally:
        background.dispose()


def test_a_hand_stamped_before_the_machine_restarted_is_not_raised(database_url, engine, monkeypatch):
    """The hand's file outlives the processes, the monotonic clock does not: a time ahead of it is not a hand (it
    would hold background work back until the new clock caught up, hours or days)."""
    if engine.dialect.name != "sqlite":
        pytest.skip("the hand is SQLite's")
    ack_coming(engine)
    assert acks_waiting(engine)
    real = time.monotonic
    monkeypatch.setattr("storage.ack_hands.time.monotonic", lambda: real() - 86_400)  # a day less uptime than then
    assert not acks_waiting(engine)


def test_on_postgresql_background_work_takes_no_connection_while_a_request_is_answered(database_url, engine):
    """There an ack waits for the cores, not for a lock: while `serve` answers a request (`answering`, any
    request), a background engine on the same machine takes no connection from its pool, until the answer is
    ready or for HAND_YIELD_SECONDS at most; nothing commits early for it (no lock to free), and the engine that
    answers is never held back."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's hand is for its write lock (the tests above)")
    background = make_engine(database_url, background=True)

    def read_in_background() -> float:
        started = time.monotonic()
        with background.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        return time.monotonic() - started

    def answer_for(seconds: float, inside: threading.Event) -> threading.Thread:
        def answer():
            with answering(engine, may_write=False):
                inside.set()
                time.sleep(seconds)
        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        inside.wait(5)
        return thread

    try:
        read_in_background()  # the pool's first connection made
        assert read_in_background() < HAND_YIELD_SECONDS / 2  # no request: at once
        request = answer_for(0.06, threading.Event())
        assert not acks_waiting(background) and not acks_waiting(engine)  # batches are not cut short for it
        started = time.monotonic()
        with engine.connect() as connection:  # serve's own engine is not held back
            connection.exec_driver_sql("SELECT 1")
        assert time.monotonic() - started < 0.05
        assert 0.03 <= read_in_background() < HAND_YIELD_SECONDS  # waited for the answer, not for the bound
        request.join()
        assert read_in_background() < HAND_YIELD_SECONDS / 2  # the answer was ready: the hand is down at once
        slow = answer_for(HAND_YIELD_SECONDS * 4, threading.Event())
        assert HAND_YIELD_SECONDS <= read_in_background() < HAND_YIELD_SECONDS * 3  # held back, never for good
        slow.join()
    finally:
        background.dispose()


def test_a_hand_held_by_requests_answered_at_once_is_down_only_when_the_last_answer_is_ready(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("only PostgreSQL holds a hand for the whole request")
    hand = HANDS[engine]
    first, second, release_first = threading.Event(), threading.Event(), threading.Event()

    def answer(inside: threading.Event, release: threading.Event | None):
        with answering(engine, may_write=True):
            inside.set()
            if release is not None:
                release.wait(5)

    thread = threading.Thread(target=answer, args=(first, release_first), daemon=True)
    thread.start()
    first.wait(5)
    assert hand.raised()
    answer(second, None)  # another request, answered while the first is not
    assert hand.raised()
    release_first.set()
    thread.join()
    assert not hand.raised()


def test_postgresql_compiles_no_query_just_in_time(engine):
    """JIT compilation cost a report's landing zones over a second for 20 ms of work (bench/bench_reporting.py):
    every connection of ours has it off, whatever the server's default."""
    if engine.dialect.name != "postgresql":
        pytest.skip("JIT compilation is PostgreSQL's")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SHOW jit").scalar() == "off"


def test_planner_statistics_wait_for_a_writer_instead_of_failing_the_workers_round(database_url, engine):
    """PRAGMA optimize reads, then writes its statistics: SQLite refuses that upgrade at once ("database is
    locked", without waiting) while another connection holds the write lock, which failed the worker's round."""
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL autovacuums; optimize does nothing there")
    worker = make_engine(database_url, background=True)

    def events(start: int, stop: int) -> None:
        with transaction(engine) as session:
            session.add_all(ProcessedEvent(event_id=f"e{n:05d}", received_at=datetime(2026, 1, 1 + n % 9, tzinfo=timezone.utc))
                            for n in range(start, stop))

    events(0, 50)
    optimize(worker)  # statistics exist: from now on it is PRAGMA optimize
    events(50, 20_000)  # grown 400 times over
    with worker.connect() as connection:  # the table grew and this connection used it: optimize analyses it
        connection.exec_driver_sql("SELECT count(*) FROM processed_event WHERE received_at = '2026-01-02'").all()
    writer = sqlite3.connect(engine.url.database, isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")
    threading.Timer(0.3, lambda: writer.execute("COMMIT")).start()
    try:
        started = time.monotonic()
        optimize(worker)
        assert time.monotonic() - started >= 0.25  # it waited for the writer
        with worker.connect() as connection:
            rows = connection.exec_driver_sql(  # an estimate (analysis_limit), no longer the 50 rows of before
                "SELECT stat FROM sqlite_stat1 WHERE idx = 'ix_processed_event_received_at'").scalar().split()[0]
        assert int(rows) > 1000
    finally:
        time.sleep(0.35)
        writer.close()
        worker.dispose()


def test_postgresql_checks_a_pooled_connection_only_after_it_sat_idle_and_replaces_one_that_is_gone(
        database_url, engine, monkeypatch):
    """Each request's transactions reuse a connection used a moment ago: no round trip to check it. One idle for
    PING_IDLE_SECONDS is checked first, and a server that ended its session meanwhile costs no failed request."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's pool; SQLite opens a file")
    pings = []
    checked = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda connection: pings.append(1) or checked(connection))

    def backend() -> int:
        with engine.connect() as connection:
            return connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()

    first = backend()
    assert backend() == first and pings == []  # used a moment ago: not checked
    other = make_engine(database_url)
    try:
        with other.connect() as connection:
            assert connection.exec_driver_sql("SELECT pg_terminate_backend(%d)" % first).scalar()
    finally:
        other.dispose()
    monkeypatch.setattr(storage_db, "PING_IDLE_SECONDS", 0.05)
    time.sleep(0.1)
    assert backend() != first  # checked, found gone, replaced: the caller never saw it
    assert pings == [1]


def test_single_reads_do_not_leave_autocommit_on_the_pooled_connection(engine):
    """PostgreSQL: a lookup before an ack reads without BEGIN and ROLLBACK; the transaction that next gets the
    same pooled connection is a transaction again (a write that leaked autocommit could be half-done)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's driver begins nothing for a read anyway")
    with single_reads(engine) as session:
        connection = session.connection()
        assert connection.connection.driver_connection.autocommit
        assert connection.exec_driver_sql("SELECT 1").scalar() == 1
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    with pytest.raises(RuntimeError):
        with transaction(engine) as session:
            assert session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar() == pid  # the same one
            session.add(ProcessedEvent(event_id="half-done", received_at=datetime.now(timezone.utc)))
            session.flush()
            raise RuntimeError("fails after its first write")
    with single_reads(engine) as session:
        assert session.get(ProcessedEvent, "half-done") is None
