"""The worker: does stored work after the ack and drains the Slack outbox, woken by each commit.

One per process. At start it picks up whatever a crashed or stopped process left (pending work, messages
not yet sent or whose send had no answer), so nothing acknowledged is lost after a restart.
"""

from __future__ import annotations

import logging
import threading
import time

from slack_sdk import WebClient

from bot.settings import Settings
from storage.db import checkpoint, optimize
from storage.leadership import Leadership
from storage.slack.models import SlackMessage
from storage.slack.sender import POST_INTERVAL, SlackSender, default_backoff
from workflows.delivery import report_failed_delivery
from workflows.digest_chart import render_file
from workflows.services import Services
from workflows.work import run_pending_work

logger = logging.getLogger(__name__)
OPTIMIZE_EVERY = 3600.0
SEND_TIMEOUT = 10  # seconds for one Web API call; a slower answer counts as "outcome unknown"


def make_outbox_client(settings: Settings) -> WebClient:
    """The outbox's own Web API client, without retry handlers: a blind retry of a post that Slack may have
    received would post it twice, so the outbox decides when and whether to try again."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    return WebClient(token=token, base_url=settings.slack_api_url, timeout=SEND_TIMEOUT, retry_handlers=[])


class Worker:
    """Runs `run_once` on a thread when kicked (and every `interval` seconds for retries that come due).

    `inline=True` runs it in the kicking thread instead: tests and the demo see every effect when the
    request that caused it returns.
    """

    def __init__(self, services: Services, client: WebClient, *, inline: bool = False, interval: float = 1.0,
                 backoff=default_backoff, wake=None, post_interval: float = POST_INTERVAL):
        self.services, self.inline, self.interval = services, inline, interval
        # Messages a channel must wait for (Slack's pace, a 429) are sent by a later round: `interval` brings it.
        self.sender = SlackSender(services.engine, client, clock=services.clock, backoff=backoff,
                                  on_failed=self._failed, post_interval=post_interval, render_file=render_file)
        # Only one worker per database sends: a previous process still finishing keeps it until it exits.
        self.leadership = Leadership(services.engine)
        self._lock = threading.Lock()
        self._wake = wake if wake is not None else threading.Event()  # a multiprocessing.Event across processes
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_optimize = 0.0  # at the first round, then hourly
        services.kick = self.kick

    def _failed(self, message: SlackMessage) -> None:
        report_failed_delivery(self.services, message)

    def kick(self) -> None:
        if self.inline:
            self.run_once()
        else:
            self._wake.set()

    def run_once(self) -> None:
        """Do due work, then send due messages, until neither has anything due."""
        with self._lock:
            if not self.leadership.try_acquire():
                logger.info("another worker is sending for this database; waiting for it to finish")
                return
            for _ in range(100):
                done = run_pending_work(self.services)
                report = self.sender.drain(still_leader=self.leadership.try_acquire)
                if not done and not (report.sent or report.failed):
                    break
            checkpoint(self.services.engine)
            if time.monotonic() >= self._next_optimize:
                # Fresh planner statistics keep SQLite on the composite indexes as the tables grow.
                optimize(self.services.engine)
                self._next_optimize = time.monotonic() + OPTIMIZE_EVERY

    def start(self) -> "Worker":
        self._thread = threading.Thread(target=self._loop, name="worker", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()  # before the round: a kick during it means another round right after
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - the worker must outlive a bad round (the database restarting...)
                logger.exception("worker round failed; trying again shortly")
            self._wake.wait(self.interval)

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        with self._lock:
            self.leadership.release()
