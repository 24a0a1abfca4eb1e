"""Shared fixtures: a real database (SQLite file by default, PostgreSQL when PARTNERBOT_TEST_DATABASE_URL is set)."""

from __future__ import annotations

import os
from datetime import datetime, timezone

import pytest
from sqlmodel import SQLModel

from storage.db import create_schema, make_engine

TEST_DATABASE_URL = os.environ.get("PARTNERBOT_TEST_DATABASE_URL")
FIXED_NOW = datetime(2026, 11, 2, 15, 0, tzinfo=timezone.utc)


@pytest.fixture
def database_url(tmp_path) -> str:
    return TEST_DATABASE_URL or f"sqlite:///{tmp_path / 'partnerbot-test.db'}"


@pytest.fixture
def engine(database_url):
    eng = make_engine(database_url)
    if TEST_DATABASE_URL:
        SQLModel.metadata.drop_all(eng)
        with eng.begin() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    create_schema(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def now() -> datetime:
    return FIXED_NOW


@pytest.fixture
def bot(engine):
    """The bot on loopback with the demo people, in the two partner channels; listeners finish before the ack
    response so tests can assert on their effects (test_e2e_surfaces also runs the production mode)."""
    from bot.local import local_bot

    with local_bot(engine, process_before_response=True) as running:
        running.driver.bot_joined("C0NORTH")
        running.driver.bot_joined("C0GLOBEX")
        yield running
