"""The database engine and sessions."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, InvalidatePoolError, OperationalError
from sqlmodel import Session, SQLModel, create_engine

from storage import ack_hands, at_commit
from storage import crm, models, nudges, protection, slack  # noqa: F401  (registers the tables)
from storage.ack_hands import ACK_RETRY_SECONDS, RaisedHand, WriteGap, make_way


SQLITE_BUSY_TIMEOUT_MS = 30_000  # matches the connect timeout below


def make_engine(url: str, *, background: bool = False) -> Engine:
    """An engine for SQLite (WAL, foreign keys on, safe across threads) or PostgreSQL.

    `background`: the engine of a process that works after the acks (the worker and the scheduler's jobs);
    it makes way for the acks' (`storage.ack_hands.attach`).
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        ack_hands.attach(engine, background=background)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            if ":memory:" not in url:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
                # No checkpoint inside a request's commit (it syncs the file: a latency spike before an ack);
                # the worker checkpoints between rounds (see `checkpoint`), and the last connection on close.
                cursor.execute("PRAGMA wal_autocheckpoint=0")
            cursor.close()

        @event.listens_for(engine, "checkin")
        def _sqlite_default_busy_timeout(dbapi_connection, _record):
            # A transaction may have shortened the wait for locks (lock_timeout); the next user of this
            # pooled connection gets the default again, whichever connection that transaction ran on.
            if dbapi_connection is not None:
                dbapi_connection.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")

        return engine
    # No JIT compilation: our queries, reports included, run in milliseconds, and PostgreSQL compiling one whose
    # estimated cost passes jit_above_cost (a report's landing zones, with their correlated subqueries) took over
    # a second where the query itself took 20 ms (bench/bench_reporting.py).
    engine = create_engine(url, pool_size=10, max_overflow=10, connect_args={"options": "-c jit=off"})
    _ping_when_idle(engine)
    ack_hands.attach(engine, background=background)
    return engine


# PostgreSQL: a pooled connection left unused for PING_IDLE_SECONDS is checked before it is used again (the server
# may have restarted, or a proxy dropped it, meanwhile), and replaced, with every other one as old, if it is gone.
# One in use a moment ago is not: on a busy bot that spares each request a round trip per transaction (SQLAlchemy's
# pool_pre_ping checks every checkout).
PING_IDLE_SECONDS = 1.0


def _ping_when_idle(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _stamp(_dbapi_connection, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection, record, _proxy) -> None:
        if time.monotonic() - record.info.get("idle_since", float("-inf")) < PING_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            if engine.dialect.is_disconnect(error, dbapi_connection, None):
                raise InvalidatePoolError("a pooled connection was gone") from error  # the pool connects afresh
            raise


MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def create_schema(engine: Engine) -> None:
    """Bring the database to the current schema with the Alembic migrations (creating it when empty)."""
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "head")


def checkpoint(engine: Engine) -> None:
    """Fold SQLite's write-ahead log back into the database without blocking readers or writers."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")


def optimize(engine: Engine) -> None:
    """Keep SQLite's planner statistics fresh (the worker may call this now and then); PostgreSQL autovacuums.

    Without statistics SQLite may pick the status index over a composite one and scan thousands of rows.
    The analysis limit keeps each index's sample small, so this holds the write lock for milliseconds.
    """
    if engine.dialect.name != "sqlite":
        return
    # The write lock first (BEGIN IMMEDIATE, waiting for it): PRAGMA optimize reads, then writes its statistics,
    # and SQLite refuses that upgrade at once ("database is locked", no wait) while another connection writes.
    with transaction(engine) as session:
        connection = session.connection()
        connection.exec_driver_sql("PRAGMA analysis_limit=1000")
        analysed = connection.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first() is not None
        connection.exec_driver_sql("PRAGMA optimize" if analysed else "ANALYZE")


def database_answers(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure means "not healthy"
        return False


class DatabaseBusy(Exception):
    """The write lock could not be had in time: nothing was written, the user may simply try again."""


def _is_lock_timeout(error: OperationalError) -> bool:
    message = str(getattr(error, "orig", error)).lower()
    return ("database is locked" in message or "lock timeout" in message or "lock_timeout" in message
            or getattr(getattr(error, "orig", None), "sqlstate", None) == "55P03")


class SnapshotChanged(Exception):
    """SQLite: another transaction wrote after this one's reads (`read_first`), so it was rolled back; run it again."""


@contextmanager
def transaction(engine: Engine, *, lock_timeout: float | None = None,
                read_first: bool = False, inserts_at_commit: bool = False) -> Iterator[Session]:
    """A write transaction that commits on success and rolls back (leaving nothing half-written) on error.

    On SQLite it starts with BEGIN IMMEDIATE: writers queue for the lock up front instead of reading a
    snapshot that another writer may change before they write (a double click would otherwise apply twice).
    PostgreSQL locks rows (`with_for_update`) or takes advisory locks where the workflows need it.

    `read_first` (SQLite; background work that reads for a while before it writes): BEGIN DEFERRED, so the
    write lock is taken at the first write, not during the reads. If anyone wrote in between or holds the lock
    then, that first write fails, everything is rolled back and SnapshotChanged raised: the caller runs it
    again, so what commits was read and written as if alone, as with BEGIN IMMEDIATE.

    `lock_timeout` (seconds) bounds the wait for locks, for work done before a Slack ack: past it the
    transaction is rolled back and DatabaseBusy raised, instead of the ack arriving too late.

    `inserts_at_commit`: rows added with `storage.at_commit.insert_at_commit` are inserted at the commit, in one
    round trip with it on PostgreSQL (for a transaction that does not read them back: a submission's).
    """
    sqlite = engine.dialect.name == "sqlite"
    gap = ack_hands.BACKGROUND.get(engine) if sqlite else None
    settings = [] if sqlite else [
        *([f"lock_timeout = '{int(lock_timeout * 1000)}ms'"] if lock_timeout is not None else []),
        *(["synchronous_commit = off"] if _LAZY_COMMITS.get() else [])]
    # PostgreSQL, a bounded wait or a lazy commit: BEGIN and SET LOCAL go out with the first statement, in one
    # round trip (`_BeginWithFirstStatement`), on a connection psycopg leaves in autocommit so that it sends no
    # BEGIN of its own. It still ends the transaction so begun with COMMIT or ROLLBACK (it does whenever the server
    # says one is open).
    begun = None
    with Session(engine.execution_options(isolation_level="AUTOCOMMIT") if settings else engine,
                 expire_on_commit=False) as session:
        try:
            if sqlite:
                _begin_sqlite(session, gap, lock_timeout=lock_timeout, read_first=read_first)
            elif settings:
                begun = _BeginWithFirstStatement(session.connection(), settings)
            if inserts_at_commit:
                at_commit.keep_inserts_for_commit(session)
            yield session
            at_commit.commit(session)
        except OperationalError as error:
            if begun is not None:
                begun.abandon()
            session.rollback()
            # At its first write SQLite answers at once, without waiting: BUSY_SNAPSHOT when someone wrote since
            # the reads, BUSY when someone holds the lock now (and will have written by the time it is free).
            if read_first and getattr(error.orig, "sqlite_errorname", None) in ("SQLITE_BUSY", "SQLITE_BUSY_SNAPSHOT"):
                raise SnapshotChanged() from error
            if lock_timeout is not None and _is_lock_timeout(error):
                raise DatabaseBusy("the database is busy") from error
            raise
        except BaseException:
            if begun is not None:
                begun.abandon()
            session.rollback()
            raise
        finally:
            if gap is not None:
                gap.ended()


class _BeginWithFirstStatement:
    """PostgreSQL: BEGIN and the transaction's SET LOCALs are sent with its first statement, in a psycopg pipeline
    that ends (a Sync, and the answers to all three) once that statement is sent: one round trip where they took
    two. Before an ack every round trip waits its turn for a core. The server's errors (a lock not had in time)
    are raised from that statement, as SQLAlchemy's, as they would be without the pipeline."""

    def __init__(self, connection, settings: list[str]):
        self.driver = connection.connection.driver_connection
        self.settings, self.pipeline, self.ended = settings, None, False
        event.listen(connection, "before_cursor_execute", self._before)
        event.listen(connection, "after_cursor_execute", self._after)

    def _before(self, *_args) -> None:
        if self.pipeline is not None or self.ended:
            return
        self.pipeline = self.driver.pipeline()
        self.pipeline.__enter__()
        self.driver.execute("BEGIN")
        for setting in self.settings:
            self.driver.execute(f"SET LOCAL {setting}")

    def _after(self, *_args) -> None:
        self._end()

    def _end(self) -> None:
        if self.pipeline is not None and not self.ended:
            self.ended = True
            self.pipeline.__exit__(None, None, None)  # the Sync: waits for the answers, raises the server's errors

    def abandon(self) -> None:
        """Before a rollback for an error already raised (a statement that failed before it was sent, say): out
        of the pipeline, whatever it answers."""
        with suppress(Exception):
            self._end()


# PostgreSQL waits at every commit until its write-ahead log is on disk (a flush, milliseconds on a busy disk), and
# an ack's commit waits behind any flush under way. A scheduled job's writes need not wait: what it does is
# derived again from stored rows by its next run, and what it owes anyone outside the database goes out after a
# durable commit that puts every earlier commit on disk with it (the Slack sender claims each message, committed,
# before its call) or is written again harmlessly (the CRM drain upserts by our key, and its own commits stay
# durable). So within `lazy_commits` a transaction commits with synchronous_commit off: a crash of the database
# server (not of our process) may lose its last fraction of a second of such commits, never half of one.
# SQLite in WAL mode with synchronous=NORMAL already commits without a sync.
_LAZY_COMMITS: ContextVar[bool] = ContextVar("lazy_commits", default=False)


@contextmanager
def lazy_commits(lazy: bool = True) -> Iterator[None]:
    """The transactions begun within (in this thread) commit without waiting for the disk, when `lazy`: for work
    whose writes are re-derived if lost, and that calls nothing outside the database before a durable commit."""
    token = _LAZY_COMMITS.set(lazy)
    try:
        yield
    finally:
        _LAZY_COMMITS.reset(token)


def single_reads(engine: Engine) -> Session:
    """A session for a lookup whose reads need not agree with each other (who is acting, before an ack): on
    PostgreSQL each read is its own transaction (autocommit), so no BEGIN goes before it and no ROLLBACK after,
    two round trips fewer. SQLite's driver begins nothing for a read anyway."""
    if engine.dialect.name != "postgresql":
        return Session(engine)
    # Not cached per engine: a weak-keyed cache would hold its key alive (the options engine refers to it).
    return Session(engine.execution_options(isolation_level="AUTOCOMMIT"))


@contextmanager
def read_snapshot(engine: Engine) -> Iterator[Session]:
    """A read-only transaction whose queries all see the database as it was at its first read (reports: figures
    that add up). SQLite: a deferred BEGIN (in WAL mode the snapshot holds no lock writers wait for); PostgreSQL:
    REPEATABLE READ, READ ONLY. Always rolled back: nothing is written."""
    with Session(engine, expire_on_commit=False) as session:
        connection = session.connection()
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        try:
            yield session
        finally:
            session.rollback()


def _begin_sqlite(session: Session, gap: WriteGap | None, *, lock_timeout: float | None,
                  read_first: bool) -> None:
    """The process answering Slack polls for the lock; a background one waits out its gap, then begins as asked
    (deferred for `read_first`, else holding the write lock from BEGIN)."""
    if gap is None and not read_first:
        _begin_polling(session, lock_timeout, ack_hands.HANDS.get(session.get_bind()))
        return
    if gap is not None:
        gap.wait()
        make_way(ack_hands.HANDS.get(session.get_bind()))
    connection = session.connection()
    if read_first:
        connection.exec_driver_sql("BEGIN")
        return
    if lock_timeout is not None:
        connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(lock_timeout * 1000)}")
    connection.exec_driver_sql("BEGIN IMMEDIATE")



def _begin_polling(session: Session, lock_timeout: float | None, hand: RaisedHand | None) -> None:
    """BEGIN IMMEDIATE on SQLite for a process that answers people, asking again every ACK_RETRY_SECONDS (its hand
    raised meanwhile) until `lock_timeout` (DatabaseBusy) or SQLite's usual wait ("database is locked") has passed."""
    driver = session.connection().connection.driver_connection
    deadline = time.monotonic() + (SQLITE_BUSY_TIMEOUT_MS / 1000 if lock_timeout is None else lock_timeout)
    driver.execute("PRAGMA busy_timeout = 0")
    while True:
        try:
            driver.execute("BEGIN IMMEDIATE")
            break
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) and "busy" not in str(error):
                raise
            if time.monotonic() >= deadline:
                if lock_timeout is None:
                    raise OperationalError("BEGIN IMMEDIATE", None, error) from error
                raise DatabaseBusy("the database is busy") from error
            if hand is not None:
                hand.raise_()
            time.sleep(ACK_RETRY_SECONDS)
    # Within the transaction (a read that meets a checkpoint, say), SQLite's own wait up to what is left.
    left_ms = max(1, int((deadline - time.monotonic()) * 1000))
    driver.execute(f"PRAGMA busy_timeout = {left_ms}")


def insert_once(engine: Engine, row: SQLModel, *, also=None) -> bool:
    """Insert a row whose unique key marks something done; False when it was already there.

    `also(session)` adds what must be stored with it (e.g. the message the reminder owes), all or nothing.
    """
    try:
        with transaction(engine) as session:
            session.add(row)
            session.flush()
            if also is not None:
                also(session)
        return True
    except IntegrityError:
        return False
