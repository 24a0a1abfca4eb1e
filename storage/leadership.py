"""One holder per database at a time of each leadership (the worker's, the scheduler's), released by the
operating system when its process dies.

SQLite: an exclusive `flock` on a file beside the database. PostgreSQL: a session advisory lock held on
a connection of its own (a pooled connection handed back would silently drop or leak the lock). Neither
needs a timeout to recover from `kill -9`: the kernel closes the file, the server ends the session.
"""

from __future__ import annotations

import fcntl
import logging
import os

from sqlalchemy.engine import Engine

logger = logging.getLogger(__name__)
# One advisory lock number per leadership, each distinct from the others the code takes in the same (bigint) key
# space: REGISTRATION_LOCK (storage/queries.py) and ACCOUNT_LOCK (storage/accounts.py). The worker's number never
# changes: an older process still running during an upgrade must keep excluding the new one.
LEADERSHIP_LOCKS = {"worker": 7_202_612, "scheduler": 7_202_614}


def lock_file(engine: Engine, name: str) -> str | None:
    """SQLite: the file beside the database that `name`'s leader holds locked; None for an in-memory database."""
    database = engine.url.database
    return None if not database or database == ":memory:" else f"{database}.{name}.lock"


def is_held(engine: Engine, name: str) -> bool:
    """Whether some process leads as `name` now, looked at without taking the lead from anyone (or keeping it)."""
    if engine.dialect.name == "sqlite":
        path = lock_file(engine, name)
        if path is None or not os.path.exists(path):
            return False
        descriptor = os.open(path, os.O_RDONLY)
        # A shared lock is refused while a leader holds its exclusive one; ours is let go at once (a process asking
        # for the lead in that very instant is refused and asks again at its next turn).
        try:
            fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(descriptor)  # closing releases the shared lock, if we got it
        return False
    number = LEADERSHIP_LOCKS[name]
    with engine.connect() as connection:  # a bigint key shows in pg_locks as its two halves
        return bool(connection.exec_driver_sql(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
            "AND classid = %s AND objid = %s AND database = (SELECT oid FROM pg_database "
            "WHERE datname = current_database())" % (number >> 32, number & 0xFFFFFFFF)).scalar())


class Leadership:
    def __init__(self, engine: Engine, name: str = "worker"):
        if name not in LEADERSHIP_LOCKS:
            raise ValueError(f"no advisory lock number for leadership {name!r}: add one to LEADERSHIP_LOCKS")
        self.engine, self.name = engine, name
        self._file: int | None = None
        self._connection = None
        self.held = False

    def try_acquire(self) -> bool:
        """True when this process now holds it (or still does); False while another process does."""
        if self.held and self._still_held():
            return True
        if self.engine.dialect.name == "sqlite":
            self.held = self._lock_file()
        else:
            self.held = self._lock_session()
        return self.held

    def _lock_file(self) -> bool:
        path = lock_file(self.engine, self.name)
        if path is None:
            return True  # an in-memory database has only this process
        descriptor = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            return False
        self._file = descriptor
        return True

    def _still_held(self) -> bool:
        """A PostgreSQL session can be cut (server restart, idle timeout, a proxy): the lock goes with it."""
        if self._connection is None:
            return True
        try:
            cursor = self._connection.cursor()
            cursor.execute("SELECT 1")
            cursor.fetchone()
            self._connection.commit()
            return True
        except Exception:  # noqa: BLE001 - any failure means the session, and so the lock, is gone
            logger.warning("the %s's database session was lost, and its lead with it; taking the lead again "
                           "before going on", self.name)
            self.release()
            return False

    def _lock_session(self) -> bool:
        connection = self.engine.raw_connection()
        connection.detach()  # out of the pool for good: the lock lives as long as this session
        acquired = False
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT pg_try_advisory_lock(%s)" % LEADERSHIP_LOCKS[self.name])
            acquired = bool(cursor.fetchone()[0])
            connection.commit()
        finally:
            if acquired:
                self._connection = connection
            else:
                connection.close()
        return acquired

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            os.close(self._file)
            self._file = None
        if self._connection is not None:
            try:
                self._connection.close()  # ending the session releases the advisory lock
            except Exception:  # noqa: BLE001 - a dead connection has released it already
                logger.debug("closing the leadership connection failed", exc_info=True)
            self._connection = None
        self.held = False
