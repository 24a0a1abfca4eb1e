"""The app factory: one WebClient, the workflows' collaborators, and a Bolt App with every listener."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from sqlalchemy.engine import Engine

from bot.settings import Settings
from handlers import (
    digest,
    events,
    home,
    leads,
    nudges,
    partner,
    protection,
    review_tools,
    reviews,
    upsell_reviews,
    upsells,
)
from handlers.common import SOMETHING_WENT_WRONG, acting_user, answer_text
from handlers.notify import SlackNotifier, slack_message_link, slack_user_time_zone
from workflows.program import Program
from workflows.services import Services, utc_clock

logger = logging.getLogger(__name__)

LISTENER_MODULES = (events, leads, reviews, review_tools, home, partner, upsells, upsell_reviews, nudges, protection,
                    digest)


def make_client(settings: Settings) -> WebClient:
    """The one Web API client: honours 429 Retry-After and retries dropped connections.

    5xx answers are not retried: Slack may have posted the message already, and a retry would post it twice.
    """
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    return WebClient(token=token, base_url=settings.slack_api_url, retry_handlers=[
        ConnectionErrorRetryHandler(max_retry_count=2),
        RateLimitErrorRetryHandler(max_retry_count=3),
    ])


def build_services(*, engine: Engine, program: Program, client: WebClient,
                   clock: Callable[[], datetime] = utc_clock) -> Services:
    """The workflows' collaborators; asks Slack who we are (our team and bot user) once."""
    identity = client.auth_test()
    return Services(engine=engine, program=program, notifier=SlackNotifier(program, clock), clock=clock,
                    our_team_id=identity.get("team_id"), bot_user_id=identity.get("user_id"),
                    message_link=slack_message_link(client), user_time_zone=slack_user_time_zone(client))


def _handle_error(error: Exception, body: dict, context, client: WebClient,
                  response: BoltResponse | None) -> BoltResponse | None:
    """Anything a listener did not expect: the traceback goes to the log, a plain apology to the user.

    Bolt answers Slack 500 when a listener raises before its response is sent; Slack then shows a bare
    error, so the answer becomes the listener's own ack if it gave one, else an apology (4xx or, for a
    slash command, the apology as its reply).
    """
    logger.exception("listener failed: %s", error.__class__.__name__, exc_info=error)
    answer = _answer_after_failure(body, context, response)
    if answer is None or SOMETHING_WENT_WRONG not in (answer.body or ""):  # else the reply itself apologises
        _tell_user_sorry(body, context, client)
    return answer


def _answer_after_failure(body: dict, context, response: BoltResponse | None) -> BoltResponse | None:
    if response is None:  # Slack already has its answer: the failure came after the ack
        return None
    acked = getattr(context.get("ack"), "response", None)
    if acked is not None and acked is not response:
        return acked
    if "command" in body:
        return BoltResponse(status=200, body={"response_type": "ephemeral", "text": SOMETHING_WENT_WRONG})
    return BoltResponse(status=400, body="")


def _tell_user_sorry(body: dict, context, client: WebClient) -> None:
    try:
        user_id, _ = acting_user(context, body if isinstance(body, dict) else {})
        if isinstance(user_id, str) and user_id:
            answer_text(client, user_id, SOMETHING_WENT_WRONG)
    except Exception:  # noqa: BLE001 - telling the user is best effort
        logger.exception("could not tell the user about the failure")


def create_app(settings: Settings, services: Services, client: WebClient, *,
               process_before_response: bool = False) -> App:
    """A Bolt App wired to our listeners. No module-level App: tests and the demo each build their own."""
    app = App(
        client=client,
        signing_secret=settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None,
        process_before_response=process_before_response,
        token_verification_enabled=False,
        raise_error_for_unhandled_request=False,
    )
    app.error(_handle_error)
    for module in LISTENER_MODULES:
        module.register(app, services)
    return app
