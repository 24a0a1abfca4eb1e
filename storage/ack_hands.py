"""Acks first: how background work on a database makes way for the requests Slack is waiting on.

A process answering Slack holds up a "hand" (8 bytes in a file every process using the database maps); background
work (the worker, the scheduler's jobs, `partnerbot jobs`) checks it and waits. `storage.db` wires it into the
engines and transactions; `bot.server` holds a hand while it answers (`answering`).
"""

from __future__ import annotations

import hashlib
import mmap
import os
import struct
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine

# SQLite has one write lock and serves those waiting for it in no order: a writer that sleeps in SQLite's
# busy handler (1, 2, 5 ... 100 ms) loses to one that commits and begins again at once. So the process that
# answers Slack asks for the lock every ACK_RETRY_SECONDS, and a background process (the worker and its jobs)
# leaves BACKGROUND_GAP_SECONDS between one write transaction and its next: an ack waits for one background
# transaction at most, never for a run of them.
ACK_RETRY_SECONDS = 0.0005
BACKGROUND_GAP_SECONDS = 0.005
# That still leaves an ack waiting for a whole background transaction (a job's batch: its write budget, 50 ms,
# longer on a busy machine). So an ack that finds the lock taken raises its hand: it writes the time into a
# small file beside the database that every process on it maps (`<database>-acks`), and a background
# transaction checks for a hand between rows (`acks_waiting`, through WriteBudget) and commits what it has:
# the ack waits for one row, not one batch. A hand not raised again for HAND_FRESH_SECONDS is down.
HAND_FRESH_SECONDS = 0.005
# A background transaction does not begin while a hand is up (at most this long, so a stream of acks never
# stops the background): the ack that raised it gets the lock without waiting for a transaction begun just
# before it. `serve` raises a hand as a form submission or button press arrives, before the milliseconds of
# parsing and checking that come before its write, so background work already under way commits by then.
HAND_YIELD_SECONDS = 0.1
# PostgreSQL has no such lock: there an ack waits for the cores, which on a small machine it shares with the
# database server and the background work. So on PostgreSQL `serve` holds a hand up for every request from the
# moment it is signed until its answer is ready (`answering`), and a background engine on the same machine takes
# no connection from its pool while one is up (at most HAND_YIELD_SECONDS): its next transaction or read waits
# for the ack instead of taking turns with it for a core. The hand's file lives in the temporary directory, named
# after the database (`hand_path`); a hand not lowered (a process killed mid-request) is down after
# HAND_HELD_SECONDS.
HAND_HELD_SECONDS = 0.5


class RaisedHand:
    """Until when an ack has its hand up (monotonic seconds, which are one clock for every process on the machine),
    in 8 bytes shared by every process on one database."""

    def __init__(self, path: str | None):
        self._cell: mmap.mmap | bytearray = bytearray(8)  # an in-memory database: this process is all there is
        self._lock, self._holders = threading.Lock(), 0
        if path:
            try:
                descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:  # a directory we may not write in: acks still wait for one background transaction
                return
            try:
                status = os.fstat(descriptor)
                if status.st_uid != os.geteuid():  # someone else's file (a shared /tmp): not ours
                    return
                if status.st_size < 8:
                    os.ftruncate(descriptor, 8)  # a file of 8 bytes keeps them: no race with another process
                self._cell = mmap.mmap(descriptor, 8)
            finally:
                os.close(descriptor)

    def raise_(self, seconds: float = HAND_FRESH_SECONDS) -> None:
        struct.pack_into("d", self._cell, 0, time.monotonic() + seconds)

    def raised(self) -> bool:
        # A time further ahead than a hand is ever raised for is from before the machine started again (the file
        # outlives the processes; the monotonic clock does not): not a hand.
        return 0 < struct.unpack_from("d", self._cell)[0] - time.monotonic() <= HAND_HELD_SECONDS

    @contextmanager
    def held(self) -> Iterator[None]:
        """Up while this process answers any request (its threads counted), down when it answers none."""
        with self._lock:
            self._holders += 1
            self.raise_(HAND_HELD_SECONDS)
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if not self._holders:
                    struct.pack_into("d", self._cell, 0, 0.0)


class WriteGap:
    """When a background engine's next write transaction may begin (monotonic seconds)."""

    def __init__(self, seconds: float):
        self.seconds, self.free_at = seconds, 0.0

    def wait(self) -> None:
        delay = self.free_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def ended(self) -> None:
        self.free_at = time.monotonic() + self.seconds


BACKGROUND: "weakref.WeakKeyDictionary[Engine, WriteGap]" = weakref.WeakKeyDictionary()
HANDS: "weakref.WeakKeyDictionary[Engine, RaisedHand]" = weakref.WeakKeyDictionary()


def attach(engine: Engine, *, background: bool) -> None:
    """Give a new engine its hand; a `background` engine (a process working after the acks: the worker, the
    scheduler's jobs) makes way for them: on SQLite its write transactions leave BACKGROUND_GAP_SECONDS between them
    and wait for a raised hand (`storage.db.transaction`), on PostgreSQL it takes no connection while one is up."""
    hand = HANDS[engine] = RaisedHand(hand_path(engine))
    if not background:
        return
    if engine.dialect.name == "sqlite":
        BACKGROUND[engine] = WriteGap(BACKGROUND_GAP_SECONDS)
        return

    @event.listens_for(engine, "checkout")
    def _make_way_for_acks(_dbapi_connection, _record, _proxy) -> None:
        make_way(hand)


def acks_waiting(engine: Engine) -> bool:
    """An ack is waiting for SQLite's write lock (in any process on this database): commit and make way.
    (Never on PostgreSQL: committing early frees no lock there, it only adds a commit.)"""
    hand = HANDS.get(engine)
    return hand is not None and engine.dialect.name == "sqlite" and hand.raised()


def ack_coming(engine: Engine) -> None:
    """A request that writes before its ack has arrived: background work on this (SQLite) database commits at its
    next row and begins nothing new for a moment (HAND_FRESH_SECONDS), so the write finds the lock free."""
    hand = HANDS.get(engine)
    if hand is not None and engine.dialect.name == "sqlite":
        hand.raise_()


@contextmanager
def answering(engine: Engine | None, *, may_write: bool) -> Iterator[None]:
    """A request from Slack is being answered. SQLite: one that `may_write` before its ack raises a hand as it
    arrives (`ack_coming`). PostgreSQL: every request holds a hand up until its answer is ready, and background
    work on this machine takes no connection meanwhile (see HAND_HELD_SECONDS). No engine: nothing to tell."""
    hand = HANDS.get(engine) if engine is not None else None
    if hand is None:
        yield
        return
    if engine.dialect.name == "sqlite":
        if may_write:
            ack_coming(engine)
        yield
        return
    with hand.held():
        yield


def hand_path(engine: Engine) -> str | None:
    """The file every process on this machine using the database shares its hand through: `<database>-acks`
    beside a SQLite file; for a server, one in the temporary directory named by a digest of its address."""
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        return f"{database}-acks" if database and database != ":memory:" and "mode=memory" not in str(engine.url) \
            else None
    address = engine.url.set(password=None, query={}).render_as_string(hide_password=True)
    return str(Path(tempfile.gettempdir()) / f"partnerbot-{hashlib.sha256(address.encode()).hexdigest()[:16]}-acks")


def make_way(hand: RaisedHand | None) -> None:
    """A background transaction about to begin (on PostgreSQL, any use of a background connection) waits while an
    ack's hand is up (at most HAND_YIELD_SECONDS)."""
    if hand is None or not hand.raised():
        return
    until = time.monotonic() + HAND_YIELD_SECONDS
    while hand.raised() and time.monotonic() < until:
        time.sleep(ACK_RETRY_SECONDS)
