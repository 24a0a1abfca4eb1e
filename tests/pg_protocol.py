"""What went over the wire to PostgreSQL: libpq's own trace of the protocol, cut into round trips.

Every round trip ends with the server's ReadyForQuery (the answer to a Sync, or to a simple Query), and the client
waits for it; what the client sent before it went out together. Statements are named by the start of their text.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.engine import Engine


class RoundTrips(list):
    """The round trips, in order: each the statements the client sent in it (the text up to its first " (")."""


@contextmanager
def round_trips(engine: Engine) -> Iterator[RoundTrips]:
    """The round trips made on `engine`'s connections checked out meanwhile (filled in as the block ends)."""
    trips, traced = RoundTrips(), []
    with tempfile.TemporaryFile("w+") as file:
        def trace(dbapi_connection, _record, _proxy) -> None:
            import psycopg  # PostgreSQL's driver: only there when the tests run on PostgreSQL

            # Statements by their text: psycopg prepares one run five times on a connection, then sends its name.
            dbapi_connection.prepare_threshold = None
            dbapi_connection.pgconn.trace(file.fileno())
            dbapi_connection.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
            traced.append(dbapi_connection)

        event.listen(engine, "checkout", trace)
        try:
            yield trips
        finally:
            event.remove(engine, "checkout", trace)
            for connection in traced:
                connection.pgconn.untrace()  # flushes what libpq buffered
                connection.prepare_threshold = 5
            file.seek(0)
            trips.extend(_cut(file.read().splitlines()))


def _cut(lines: list[str]) -> list[list[str]]:
    trips, sent = [], []
    for line in lines:
        fields = line.split("\t", 3)  # a statement's text may go on over lines: its first is enough
        if len(fields) < 4:
            continue
        side, message, rest = fields[0], fields[2], fields[3]
        if side == "F" and message == "Parse":  # ` "name" "text" 0`
            sent.append(_named(rest[rest.index('" "') + 3:]))
        elif side == "F" and message == "Query":  # ` "text"`
            sent.append(_named(rest[2:]))
        elif side == "B" and message == "ReadyForQuery":
            trips.append(sent)
            sent = []
    return trips


def _named(text: str) -> str:
    return re.sub(r'"( \d+)*$', "", text).split(" (")[0]
