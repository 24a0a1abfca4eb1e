"""The database engine and sessions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, SQLModel, create_engine

from storage import crm, models, slack  # noqa: F401  (registers the tables)


SQLITE_BUSY_TIMEOUT_MS = 30_000  # matches the connect timeout below


def make_engine(url: str) -> Engine:
    """An engine for SQLite (WAL, foreign keys on, safe across threads) or PostgreSQL."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

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
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


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


@contextmanager
def transaction(engine: Engine, *, lock_timeout: float | None = None) -> Iterator[Session]:
    """A write transaction that commits on success and rolls back (leaving nothing half-written) on error.

    On SQLite it starts with BEGIN IMMEDIATE: writers queue for the lock up front instead of reading a
    snapshot that another writer may change before they write (a double click would otherwise apply twice).
    PostgreSQL locks rows (`with_for_update`) or takes advisory locks where the workflows need it.

    `lock_timeout` (seconds) bounds the wait for locks, for work done before a Slack ack: past it the
    transaction is rolled back and DatabaseBusy raised, instead of the ack arriving too late.
    """
    sqlite = engine.dialect.name == "sqlite"
    with Session(engine, expire_on_commit=False) as session:
        try:
            if lock_timeout is not None:
                if sqlite:
                    session.connection().exec_driver_sql(f"PRAGMA busy_timeout = {int(lock_timeout * 1000)}")
                else:
                    session.connection().exec_driver_sql(f"SET LOCAL lock_timeout = '{int(lock_timeout * 1000)}ms'")
            if sqlite:
                session.connection().exec_driver_sql("BEGIN IMMEDIATE")
            yield session
            session.commit()
        except OperationalError as error:
            session.rollback()
            if lock_timeout is not None and _is_lock_timeout(error):
                raise DatabaseBusy("the database is busy") from error
            raise
        except BaseException:
            session.rollback()
            raise


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
