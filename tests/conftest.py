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
    create_schema(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def now() -> datetime:
    return FIXED_NOW
