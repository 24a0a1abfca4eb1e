"""Assembling a running bot from settings: database, program, Slack client, services and app."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import NoSuchModuleError, SQLAlchemyError

from bot.app import build_services, create_app, make_client
from bot.settings import Settings, StartupProblem
from storage.db import create_schema, make_engine
from workflows.program import Program, load_program
from workflows.services import Services, utc_clock

SLACK_CHECK_SECONDS = 5
REFUSED_TOKEN = {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive",
                 "not_allowed_token_type", "no_permission", "ekm_access_denied"}


def freeze_long_lived() -> None:
    """Everything built at start-up lives as long as the process: keep it out of the garbage collector's full
    passes, which otherwise walk it all (about 100 ms on a small machine) in the middle of an ack or of a
    registration's processing."""
    gc.collect()
    gc.freeze()


BACKGROUND_NICENESS = 10


def yield_cpu_to_acks() -> None:
    """Lower this process's CPU priority: work after the ack (processing, outboxes, jobs) runs in the
    background process, and on a small machine its bursts would otherwise take the cores the next ack needs.
    The scheduler still gives it every idle cycle, so it keeps up; it only waits while an ack is being made."""
    try:
        os.nice(BACKGROUND_NICENESS)
    except OSError:  # not allowed here (some containers): the process runs at the usual priority
        pass


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    client: WebClient
    services: Services
    app: App


def open_database(settings: Settings, *, background: bool = False) -> Engine:
    """The engine at the current schema; a database that can't be reached or written is a StartupProblem.
    `background`: for work done after the acks (the jobs), which makes way for theirs (storage.db.make_engine)."""
    os.environ.setdefault("PGCONNECT_TIMEOUT", "10")  # libpq waits for ever on an unanswering host otherwise
    try:
        engine = make_engine(settings.database_url, background=background)
        create_schema(engine)
    except (SQLAlchemyError, ImportError, OSError) as exc:
        raise StartupProblem(describe_database_error(exc, settings.database_url)) from exc
    return engine


def describe_database_error(exc: Exception, url: str) -> str:
    """One line: what failed at which (password-free) URL, and what to check."""
    safe_url = make_url(url).render_as_string(hide_password=True)
    if isinstance(exc, (NoSuchModuleError, ImportError)):
        return (f"DATABASE_URL: no driver is installed for {safe_url.split('://')[0]}:// "
                "(for PostgreSQL: pip install -e '.[postgres]' and a postgresql+psycopg:// URL)")
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
    password = make_url(url).password
    if password:
        reason = reason.replace(str(password), "***")
    if any(word in reason.lower() for word in ("permission", "readonly", "read-only", "denied", "unable to open")):
        fix = "check that the database user (or this process, for a SQLite file) may read and write it"
    elif "authentication" in reason.lower():
        fix = "check the user and password in DATABASE_URL"
    else:
        fix = "check that the database server is running and the URL's host, port and name are right"
    return f"DATABASE_URL: {safe_url} failed: {reason}; {fix}"


def check_slack(settings: Settings) -> None:
    """auth.test once, waiting a few seconds at most: a refused token or an unreachable Slack is a StartupProblem."""
    quiet = logging.getLogger(__name__ + ".slack_check")
    quiet.setLevel(logging.CRITICAL)  # the failure becomes our one line, not an SDK error log as well
    client = WebClient(token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url,
                       timeout=SLACK_CHECK_SECONDS, retry_handlers=[], logger=quiet)
    try:
        client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
        if error in REFUSED_TOKEN:
            raise StartupProblem(f"SLACK_BOT_TOKEN: Slack refused the token ({error}); copy the Bot User OAuth "
                                 "Token (xoxb-…) from your app's OAuth & Permissions page") from None
        raise StartupProblem(f"SLACK_API_URL: {settings.slack_api_url} did not answer like Slack's Web API "
                             f"({error or 'HTTP ' + str(exc.response.status_code)}); check SLACK_API_URL") from None
    except (OSError, ValueError) as exc:  # URLError, refused connections, DNS failures and timeouts are OSErrors
        reason = getattr(exc, "reason", None) or exc.__class__.__name__
        raise StartupProblem(f"SLACK_API_URL: can't reach {settings.slack_api_url} ({reason}); check the network, "
                             "proxy settings (HTTPS_PROXY) or SLACK_API_URL") from None


def build_runtime(settings: Settings, *, program: Program | None = None, engine: Engine | None = None,
                  process_before_response: bool = False, clock: Callable[[], datetime] = utc_clock) -> Runtime:
    """Everything `serve`, the demo and the tests run; the Web API must already answer (auth.test)."""
    program = program or load_program(settings.program_file)
    engine = engine or open_database(settings)
    client = make_client(settings)
    services = build_services(engine=engine, program=program, client=client, clock=clock, settings=settings)
    app = create_app(settings, services, client, process_before_response=process_before_response)
    return Runtime(settings, engine, client, services, app)
