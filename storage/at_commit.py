"""Rows inserted when their transaction commits: before an ack, in one round trip with the COMMIT.

A partner's submission writes a registration and then rows that hang off it (its history, the CRM write, the
work owed, the thread root, its conflict-index keys) and reads none of them back. Added to the ORM, each is one
INSERT ... RETURNING id, one round trip to PostgreSQL, and on a busy machine each round trip waits its turn for a
core. A transaction begun with `transaction(..., inserts_at_commit=True)` keeps them instead, and at its commit
sends them as plain INSERTs with the COMMIT in one psycopg pipeline: one round trip for all. Anywhere else (and on
SQLite, which has no round trips) `insert_at_commit` is `session.add`, and `insert_rows_at_commit` inserts at once.

Only for rows nothing reads back in the same transaction: a query does not see them before the commit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, SQLModel

WAITING = "partnerbot.inserts_at_commit"  # Session.info key: [(table, row or values)] in the order added


def keep_inserts_for_commit(session: Session) -> None:
    session.info[WAITING] = []


def insert_at_commit(session: Session, row: SQLModel) -> None:
    """Add a new row whose id nobody needs before the commit (it is not set on `row`)."""
    waiting = session.info.get(WAITING)
    if waiting is None:
        session.add(row)
    else:
        waiting.append((row.__table__, row))


def insert_rows_at_commit(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert these rows (a dict each, the same columns in each) now, or at the commit in such a transaction."""
    waiting = session.info.get(WAITING)
    if waiting is None:
        session.execute(insert(table), rows)
    else:
        waiting.extend((table, values) for values in rows)


def commit(session: Session) -> None:
    """Commit, inserting the rows kept for it last (after the ORM's own writes, which they may refer to)."""
    waiting = session.info.pop(WAITING, None)
    if not waiting:
        session.commit()
        return
    session.flush()
    if session.get_bind().dialect.name != "postgresql":
        _insert(session, waiting)
        session.commit()
        return
    import psycopg  # PostgreSQL's driver, installed with it (the `postgres` extra)

    connection = session.connection()
    try:
        # The INSERTs and the COMMIT are sent together and answered together (the pipeline's one Sync, as it
        # ends): one round trip. COMMIT is sent as BEGIN was (storage.db.transaction), so the driver finds the
        # transaction ended and sends nothing more when the session commits.
        with connection.connection.driver_connection.pipeline():
            _insert(session, waiting)
            connection.exec_driver_sql("COMMIT")
    except psycopg.Error as error:  # raised as the pipeline ends, outside SQLAlchemy: given its exception classes
        raise DBAPIError.instance(None, None, error, psycopg.Error) from error
    session.commit()


def _insert(session: Session, waiting: list[tuple[Table, Any]]) -> None:
    by_table: dict[Table, list[dict[str, Any]]] = {}  # tables in the order first added, each table's rows in order
    for table, row in waiting:
        by_table.setdefault(table, []).append(row if isinstance(row, dict) else _values(row))
    for table, rows in by_table.items():
        # inline(): no RETURNING for the new ids, so nothing waits for an answer before the COMMIT.
        session.execute(insert(table).inline(), rows)


def _values(row: SQLModel) -> dict[str, Any]:
    """The row's column values as the ORM would insert them: an unset (None) primary key left to the database."""
    values = {}
    for attribute in sa_inspect(type(row)).column_attrs:
        value = getattr(row, attribute.key)
        if value is None and attribute.columns[0].primary_key:
            continue
        values[attribute.columns[0].key] = value
    return values
