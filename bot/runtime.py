"""Assembling a running bot from settings: database, program, Slack client, services and app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from slack_bolt import App
from slack_sdk import WebClient
from sqlalchemy.engine import Engine

from bot.app import build_services, create_app, make_client
from bot.settings import Settings
from storage.db import create_schema, make_engine
from workflows.program import Program, load_program
from workflows.services import Services, utc_clock


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    client: WebClient
    services: Services
    app: App


def open_database(settings: Settings) -> Engine:
    engine = make_engine(settings.database_url)
    create_schema(engine)
    return engine


def build_runtime(settings: Settings, *, program: Program | None = None, engine: Engine | None = None,
                  process_before_response: bool = False, clock: Callable[[], datetime] = utc_clock) -> Runtime:
    """Everything `serve`, the demo and the tests run; the Web API must already answer (auth.test)."""
    program = program or load_program(settings.program_file)
    engine = engine or open_database(settings)
    client = make_client(settings)
    services = build_services(engine=engine, program=program, client=client, clock=clock)
    app = create_app(settings, services, client, process_before_response=process_before_response)
    return Runtime(settings, engine, client, services, app)
