"""`partnerbot serve`: the long-running process."""

from __future__ import annotations

import logging
import sys

from slack_sdk.errors import SlackApiError

from bot.background import Background
from bot.runtime import build_runtime, freeze_long_lived
from bot.server import SafeSocketModeHandler, bind_http, make_wsgi_app
from bot.settings import Settings, StartupProblem
from workflows.people import open_partner_desks
from workflows.program import Program

logger = logging.getLogger(__name__)


def run_server(settings: Settings, program: Program) -> None:
    """Start the background process (worker and scheduler); serve Slack over HTTP on PORT, or over Socket Mode
    with /healthz on PORT."""
    # Listeners run on threads of this process; a shorter GIL switch interval (default 5 ms) lets the thread
    # answering the next Slack request get back in sooner, which is what the 3-second rule needs.
    sys.setswitchinterval(0.001)
    runtime = build_runtime(settings, program=program)
    # Bound before anything is posted or scheduled, so a taken port stops start-up with nothing half-done.
    server = bind_http(make_wsgi_app(None if settings.socket_mode else runtime.app, runtime.engine),
                       host=settings.host, port=settings.port)
    # Started first: it finishes what a previous process stored but did not do or send.
    background = Background(settings, program).start()
    runtime.services.kick = background.kick
    runtime.services.publish_home_later = background.publish_home
    queued = open_partner_desks(runtime.services)
    if queued:
        logger.info("queued the partner desk for %d partner channel(s)", queued)
    freeze_long_lived()
    try:
        if settings.socket_mode:
            handler = connect_socket_mode(runtime.app, settings)  # noqa: F841 - kept open while serving
            logger.info("connected over Socket Mode; health check on %s:%d", settings.host, server.port)
        else:
            logger.info("serving Slack requests on port %d at /slack/events", server.port)
        server.serve_forever()
    finally:
        background.stop()


def connect_socket_mode(app, settings: Settings) -> SafeSocketModeHandler:
    """Open the Socket Mode connection; an app-level token Slack refuses is a StartupProblem."""
    handler = SafeSocketModeHandler(app, settings.slack_app_token.get_secret_value())
    try:
        handler.connect()
    except SlackApiError as exc:
        raise StartupProblem(f"SLACK_APP_TOKEN: Slack refused the app-level token ({exc.response.get('error')}); "
                             "create one with the connections:write scope under Basic Information") from None
    return handler
