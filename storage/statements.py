"""Statements the two databases spell differently (INSERT ... ON CONFLICT), in the session's dialect, and the
row-value cursor both read pages by."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import literal, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session


ROWS_PER_STATEMENT = 500  # well under either database's limit of bound parameters


def upsert(session: Session, table, *, key: str | tuple[str, ...], values: dict) -> None:
    """Insert the row of `values`, or update the one whose `key` column(s) match (a unique key): one statement, so
    two writers at the same moment cannot both try to create it."""
    upsert_rows(session, table, key=key, rows=[values])


def upsert_rows(session: Session, table, *, key: str | tuple[str, ...], rows: list[dict]) -> None:
    """`upsert` for many rows (each with the same columns, keys not None) in a few statements, not one per row: a
    write transaction that stays short."""
    keys = [key] if isinstance(key, str) else list(key)
    # In key order: two runs upserting the same rows lock them in the same order, so neither waits for the other
    # in a cycle (a deadlock on PostgreSQL).
    rows = sorted(rows, key=lambda row: tuple(row[k] for k in keys))
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        statement = _insert(session, table).values(rows[start:start + ROWS_PER_STATEMENT])
        session.exec(statement.on_conflict_do_update(
            index_elements=keys, set_={column: statement.excluded[column] for column in rows[0] if column not in keys}))


def insert_new(session: Session, table, *, key: str, values: dict) -> bool:
    """Insert the row of `values` unless one with the same `key` (a unique column) is there: one statement, no
    savepoint. On PostgreSQL a concurrent transaction's uncommitted row with that key is waited for. True when
    this inserted it."""
    column = getattr(table, "__table__", table).c[key]
    return session.exec(_insert(session, table).values(**values).on_conflict_do_nothing(index_elements=[key])
                        .returning(column)).first() is not None


def _insert(session: Session, table):
    """INSERT in this session's dialect, which knows ON CONFLICT."""
    return (postgresql if session.get_bind().dialect.name == "postgresql" else sqlite).insert(table)


def past(at, row_id, after: tuple[datetime, int]):
    """Rows after the cursor (at, id) in (at, id) order, as a row value: the index range starts at the cursor (an
    OR of columns scans from the start)."""
    return tuple_(at, row_id) > tuple_(literal(after[0], at.type), literal(after[1]))
