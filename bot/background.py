"""The background process of `partnerbot serve`: the worker and the scheduler, apart from the one answering Slack.

Work after an ack (checking and routing registrations, sending the Slack and CRM outboxes, reminders)
would otherwise share the request process's interpreter lock with the next ack. The request process only
stores and wakes this one; this one exits when its parent is gone, and the parent starts it again if it
dies, so work is neither stranded nor done by two processes (the worker's leadership lock sees to that).
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
        self._wake = self._context.Event()
        self._stop = self._context.Event()
        self._stopping = threading.Event()

    def start(self) -> "Background":
        self._spawn()
        threading.Thread(target=self._watch, name="background-watch", daemon=True).start()
        return self

    def _spawn(self) -> None:
        self.process = self._context.Process(
            target=background_main, name="partnerbot-worker", daemon=True,
            args=(os.getpid(), self.settings, self.program, self._wake, self._stop))
        self.process.start()

    def _watch(self) -> None:
        while not self._stopping.wait(WATCH_INTERVAL):
            if self.process is not None and not self.process.is_alive():
                logger.error("the background worker exited (code %s); starting it again", self.process.exitcode)
                self._spawn()

    def kick(self) -> None:
        """Something was stored that the worker should do or send now."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._stop.set()
        self._wake.set()
        if self.process is not None:
            self.process.join(timeout=15)
            if self.process.is_alive():
                self.process.terminate()


def background_main(parent_pid: int, settings: Settings, program: Program, wake, stop) -> None:
    """The child: a worker woken by the parent's kicks, and the scheduler's jobs, until the parent is gone."""
    from bot.app import build_services, make_client
    from bot.scheduler import build_scheduler
    from bot.worker import Worker, make_outbox_client
    from storage.db import make_engine

    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    engine = make_engine(settings.database_url)
    services = build_services(engine=engine, program=program, client=make_client(settings))
    worker = Worker(services, make_outbox_client(settings), wake=wake).start()
    scheduler = build_scheduler(services, extra_jobs=crm_jobs(engine, settings, services))
    scheduler.start()
    try:
        # A parent killed with SIGKILL cannot stop us: notice it is gone (we were re-parented) and exit.
        while not stop.is_set() and os.getppid() == parent_pid:
            stop.wait(0.5)
    finally:
        scheduler.shutdown(wait=False)
        worker.stop()
        engine.dispose()


def crm_jobs(engine, settings: Settings, services) -> dict:
    """The CRM outbox drain, every minute; what partner managers must hear goes to them in Slack."""
    from storage.crm.writer import drain_outbox
    from workflows.people import tell_program_runners

    def drain() -> None:
        drain_outbox(engine, settings, notify=lambda text: tell_program_runners(services, text))

    return {"crm_drain": (drain, 1)}
