"""The background process of `partnerbot serve`: the worker and (unless SCHEDULER=off) the scheduler, apart from
the one answering Slack.

Work after an ack (checking and routing registrations, sending the Slack and CRM outboxes, reminders)
would otherwise share the request process's interpreter lock with the next ack. The request process only
stores and wakes this one; this one exits when its parent is gone, and the parent starts it again if it
dies, so work is neither stranded nor done by two processes (the worker's leadership lock sees to that).

App Home is read and rendered here too: the request process passes on who opened it. A view is published
whole each time, so one lost with this process (it is restarted) comes back at the user's next visit.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from dataclasses import dataclass

from bot.settings import Settings
from workflows.program import Program

logger = logging.getLogger(__name__)
WATCH_INTERVAL = 2.0


@dataclass
class Background:
    settings: Settings
    program: Program
    process: multiprocessing.Process | None = None

    def __post_init__(self):
        self._context = multiprocessing.get_context("spawn")  # no fork of a process that already has threads
        self._writer = None
        self._stopping = threading.Event()

    def start(self) -> "Background":
        self._spawn()
        threading.Thread(target=self._watch, name="background-watch", daemon=True).start()
        return self

    def _spawn(self) -> None:
        # Kicks go down a pipe: a write never blocks the ack (non-blocking; a full pipe means wakes are
        # already pending), and the child sees end-of-file when this process ends, however it ends.
        reader, writer = self._context.Pipe(duplex=False)
        self.process = self._context.Process(target=background_main, name="partnerbot-worker", daemon=True,
                                             args=(os.getpid(), self.settings, self.program, reader))
        self.process.start()
        reader.close()
        os.set_blocking(writer.fileno(), False)
        self._writer = writer

    def _watch(self) -> None:
        delay = WATCH_INTERVAL
        while not self._stopping.wait(delay):
            if self.process is not None and not self.process.is_alive() and not self._stopping.is_set():
                logger.error("the background worker exited (code %s); starting it again in %.0f s",
                             self.process.exitcode, delay)
                self._spawn()
                delay = min(60.0, delay * 2)  # a child that cannot start is not restarted in a tight loop
            else:
                delay = WATCH_INTERVAL

    def kick(self) -> None:
        """Something was stored that the worker should do or send now."""
        self._send(KICK)

    def publish_home(self, user_id: str, team_id: str | None) -> None:
        """Publish this user's App Home from the background process."""
        if user_id.isalnum() and (team_id or "-").isalnum():  # Slack's ids; nothing else goes down the pipe
            self._send(f"{HOME} {user_id} {team_id or '-'}\n".encode())

    def _send(self, line: bytes) -> None:
        try:
            os.write(self._writer.fileno(), line)  # under PIPE_BUF: written whole or not at all
        except OSError:
            pass  # full: the child has wakes pending; gone: the watch starts a new one, which looks anyway

    def stop(self) -> None:
        self._stopping.set()
        if self._writer is not None:
            self._writer.close()  # the child reads end-of-file and stops
        if self.process is not None:
            self.process.join(timeout=15)
            if self.process.is_alive():
                self.process.terminate()


KICK, HOME = b"k\n", "h"  # the pipe's lines: wake the worker; publish App Home for "h USER TEAM"


def _wake_on_kicks(reader, worker, homes: "HomePublisher", parent_gone: threading.Event) -> None:
    """Each line from the parent wakes the worker or asks for an App Home; end-of-file means the parent has
    stopped or died."""
    pending = b""
    while True:
        try:
            data = os.read(reader.fileno(), 4096)
        except OSError:
            data = b""
        if not data:
            parent_gone.set()
            return
        *lines, pending = (pending + data).split(b"\n")
        for line in lines:
            parts = line.decode("ascii", "replace").split(" ")
            if len(parts) == 3 and parts[0] == HOME:
                homes.request(parts[1], None if parts[2] == "-" else parts[2])
        worker.kick()


class HomePublisher:
    """Publishes the App Homes asked for, one at a time on its own thread; asked twice before it gets to a
    user, it publishes once."""

    def __init__(self, services, client):
        self.services, self.client = services, client
        self._waiting: dict[str, str | None] = {}
        self._ready = threading.Condition()
        threading.Thread(target=self._run, name="app-home", daemon=True).start()

    def request(self, user_id: str, team_id: str | None) -> None:
        with self._ready:
            self._waiting[user_id] = team_id
            self._ready.notify()

    def _run(self) -> None:
        from handlers.home import publish_home
        from workflows.people import identify

        while True:
            with self._ready:
                while not self._waiting:
                    self._ready.wait()
                user_id = next(iter(self._waiting))
                team_id = self._waiting.pop(user_id)
            try:
                publish_home(self.services, self.client, identify(self.services, user_id=user_id, team_id=team_id))
            except Exception:  # noqa: BLE001 - the next visit publishes it again
                logger.exception("could not publish App Home for %s", user_id)


def background_main(parent_pid: int, settings: Settings, program: Program, reader) -> None:
    """The child: a worker woken by the parent's kicks and, unless SCHEDULER=off, the scheduler (whose jobs run
    while it leads: one scheduler acts per deployment)."""
    from bot.app import build_services, make_client
    from bot.runtime import freeze_long_lived, yield_cpu_to_acks
    from bot.scheduler import JobContext, Scheduler
    from bot.worker import Worker, make_outbox_client
    from storage.db import make_engine

    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    yield_cpu_to_acks()
    engine = make_engine(settings.database_url, background=True)  # makes way for the acks' writes
    services = build_services(engine=engine, program=program, client=make_client(settings), settings=settings)
    worker = Worker(services, make_outbox_client(settings)).start()
    parent_gone = threading.Event()
    homes = HomePublisher(services, make_client(settings))
    threading.Thread(target=_wake_on_kicks, args=(reader, worker, homes, parent_gone), daemon=True).start()
    scheduler = Scheduler(JobContext(services, settings)).start() if settings.scheduler == "on" else None
    if scheduler is None:
        logger.info("SCHEDULER=off: no scheduled jobs in this process (`partnerbot scheduler` runs them)")
    freeze_long_lived()
    try:
        while not parent_gone.wait(0.5) and os.getppid() == parent_pid:
            pass
    finally:
        if scheduler is not None:
            scheduler.stop()
        worker.stop()
        engine.dispose()
