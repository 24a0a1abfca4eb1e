"""CRM fixtures: the local HTTPS Salesforce fake, settings pointing at it, and the CLI's environment."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The fake lives in tests/ so a benchmark can import it too; make it importable whatever pytest's import mode.
for folder in (Path(__file__).parent, Path(__file__).parent.parent):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from salesforce_fake import FakeSalesforce  # noqa: E402

import storage.crm  # noqa: F401,E402  (registers the CRM tables before the engine fixture creates the schema)
from bot.settings import load_settings  # noqa: E402


@pytest.fixture
def fake(tmp_path):
    with FakeSalesforce(tmp_path, timeout_seconds=0.4) as server:
        yield server


@pytest.fixture
def sf_settings(fake, database_url):
    """Access-token settings for the fake, as an admin would set SALESFORCE_* variables."""
    return load_settings(
        database_url=database_url,
        salesforce_instance_url=fake.base_url,
        salesforce_access_token=fake.access_token,
        salesforce_ca_bundle=fake.ca_bundle,
        _env_file=None,
    )


@pytest.fixture
def bare_settings(database_url):
    """No Salesforce settings at all: the local mirror only."""
    return load_settings(database_url=database_url, _env_file=None)


@pytest.fixture
def notes():
    """A notify() that collects what partner managers would be told."""
    return []


@pytest.fixture
def cli_env(monkeypatch, database_url, tmp_path):
    """The CLI reads its settings from the environment; run where no developer's .env is."""
    for name in (
        "SALESFORCE_INSTANCE_URL",
        "SALESFORCE_ACCESS_TOKEN",
        "SALESFORCE_USERNAME",
        "SALESFORCE_PASSWORD",
        "SALESFORCE_SECURITY_TOKEN",
        "SALESFORCE_CONSUMER_KEY",
        "SALESFORCE_PRIVATE_KEY_FILE",
        "PROGRAM_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
