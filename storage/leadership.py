"""One worker per database at a time, released by the operating system when its process dies.

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
WORKER_LOCK = 7_202_612  # any constant distinct from the conflict-check lock


class Leadership:
    def __init__(self, engine: Engine, name: str = "worker"):
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
        database = self.engine.url.database
        if not database or database == ":memory:":
            return True  # an in-memory database has only this process
        descriptor = os.open(f"{database}.{self.name}.lock", os.O_CREAT | os.O_RDWR, 0o600)
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
            logger.warning("the worker's database session was lost; taking the lead again before sending")
            self.release()
            return False

    def _lock_session(self) -> bool:
        connection = self.engine.raw_connection()
        connection.detach()  # out of the pool for good: the lock lives as long as this session
        acquired = False
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT pg_try_advisory_lock(%s)" % WORKER_LOCK)
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
