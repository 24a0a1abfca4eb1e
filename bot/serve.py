"""`partnerbot serve`: the long-running process."""

from __future__ import annotations

import logging
import sys

from bot.runtime import build_runtime
from bot.scheduler import build_scheduler
from bot.server import HttpServer, make_wsgi_app
from bot.settings import Settings
from workflows.people import open_partner_desks, tell_program_runners
from workflows.program import Program

logger = logging.getLogger(__name__)


def run_server(settings: Settings, program: Program) -> None:
    """Start the scheduler and serve Slack over HTTP on PORT, or over Socket Mode with /healthz on PORT."""
    # Work after an ack runs on threads of this process; a shorter GIL switch interval (default 5 ms) lets
    # the thread answering the next Slack request get back in sooner, which is what the 3-second rule needs.
    sys.setswitchinterval(0.001)
    runtime = build_runtime(settings, program=program)
    posted = open_partner_desks(runtime.services)
    if posted:
        logger.info("posted the partner desk in %d partner channel(s)", posted)
    scheduler = build_scheduler(runtime.services, extra_jobs=crm_jobs(runtime))
    scheduler.start()
    try:
        if settings.socket_mode:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            handler = SocketModeHandler(runtime.app, settings.slack_app_token.get_secret_value())
            handler.connect()
            logger.info("connected over Socket Mode; health check on port %d", settings.port)
            HttpServer(make_wsgi_app(None, runtime.engine), host="0.0.0.0", port=settings.port).serve_forever()
        else:
            logger.info("serving Slack requests on port %d at /slack/events", settings.port)
            HttpServer(make_wsgi_app(runtime.app, runtime.engine), host="0.0.0.0", port=settings.port).serve_forever()
    finally:
        scheduler.shutdown(wait=False)


def crm_jobs(runtime) -> dict:
    """The CRM outbox drain, every minute; what partner managers must hear goes to them in Slack."""
    from storage.crm.writer import drain_outbox

    def drain() -> None:
        drain_outbox(runtime.engine, runtime.settings, notify=lambda text: tell_program_runners(runtime.services, text))

    return {"crm_drain": (drain, 1)}
