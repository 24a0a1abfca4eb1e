"""The database engine and sessions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, create_engine

from storage import crm, models  # noqa: F401  (registers the tables)


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
            cursor.close()

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


def database_answers(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure means "not healthy"
        return False


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """A write transaction that commits on success and rolls back (leaving nothing half-written) on error.

    On SQLite it starts with BEGIN IMMEDIATE: writers queue for the lock up front instead of reading a
    snapshot that another writer may change before they write (a double click would otherwise apply twice).
    PostgreSQL locks rows (`with_for_update`) or takes advisory locks where the workflows need it.
    """
    with Session(engine, expire_on_commit=False) as session:
        if engine.dialect.name == "sqlite":
            session.connection().exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def insert_once(engine: Engine, row: SQLModel) -> bool:
    """Insert a row whose unique key marks something done; False when it was already there."""
    try:
        with transaction(engine) as session:
            session.add(row)
        return True
    except IntegrityError:
        return False
