"""The whole bot on loopback: the Slack sandbox, a real database, the app served over HTTP, and a driver.

`partnerbot demo`, the end-to-end tests and the benchmarks all run the bot this way.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine

from bot.demo_data import BOT_USER, OUR_TEAM, import_demo_records, populate_sandbox
from bot.runtime import Runtime, build_runtime
from bot.sandbox import Driver, Sandbox
from bot.server import EVENTS_PATH, HttpServer, make_wsgi_app
from bot.settings import load_settings
from bot.worker import Worker, make_outbox_client
from workflows.program import Program
from workflows.services import utc_clock


@dataclass
class LocalBot:
    sandbox: Sandbox
    runtime: Runtime
    server: HttpServer
    driver: Driver
    worker: Worker

    @property
    def services(self):
        return self.runtime.services

    @property
    def engine(self) -> Engine:
        return self.runtime.engine


@contextmanager
def local_bot(engine: Engine, program: Program | None = None, *, demo_data: bool = True,
              process_before_response: bool = False, clock: Callable[[], datetime] = utc_clock) -> Iterator[LocalBot]:
    """Start the sandbox and the app against `engine`; secrets are made up for this run only."""
    signing_secret, token = secrets.token_hex(16), "xoxb-sandbox-" + secrets.token_hex(8)
    with Sandbox(signing_secret, token, team_id=OUR_TEAM[0], team_name=OUR_TEAM[1], bot_user_id=BOT_USER) as sandbox:
        if demo_data:
            populate_sandbox(sandbox)
            import_demo_records(engine)
        settings = load_settings(slack_bot_token=token, slack_signing_secret=signing_secret,
                                 slack_api_url=sandbox.api_url, _env_file=None)
        runtime = build_runtime(settings, program=program or Program(), engine=engine,
                                process_before_response=process_before_response, clock=clock)
        # Inline when listeners finish before the response: a test sees every message its request caused.
        # The thread sends what comes due later (retries after a fault).
        # The sandbox never rate-limits, so nothing is paced here (tests/test_slack_pacing.py paces for real).
        worker = Worker(runtime.services, make_outbox_client(settings), inline=process_before_response,
                        backoff=lambda attempts: 0.05, interval=0.1, post_interval=0.0).start()
        server = HttpServer(make_wsgi_app(runtime.app, engine)).start()
        try:
            yield LocalBot(sandbox, runtime, server, sandbox.driver(server.url + EVENTS_PATH), worker)
        finally:
            server.stop()
            worker.stop()
