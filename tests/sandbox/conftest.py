"""Fixtures for the sandbox tests: a started sandbox with a small directory and a real WebClient."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient

from bot.sandbox import Sandbox

SECRET = "sandbox-signing-secret"
TOKEN = "xoxb-sandbox-token"
OURS = "T0OURS"
NORTHWIND = "T0NORTH"
ALEX = "U0ALEX"  # internal AE
SAM = "U0SAM"  # internal, not in the partner channel
DANA = "U0DANA"  # Northwind, external
SHARED = "C0PARTNER"  # #partner-northwind, Slack Connect
INTERNAL = "C0DEALS"  # #deals, internal only


def populate(sandbox: Sandbox) -> Sandbox:
    """The directory every sandbox test uses."""
    sandbox.add_team(NORTHWIND, "Northwind", "northwind")
    sandbox.add_user(ALEX, OURS, "Alex Kim", email="alex@acme.test", tz="America/New_York", title="AE")
    sandbox.add_user(SAM, OURS, "Sam Lee", email="sam@acme.test")
    sandbox.add_user(DANA, NORTHWIND, "Dana Reyes", email="dana@northwind.test")
    sandbox.add_channel(SHARED, "partner-northwind", [ALEX, DANA], is_ext_shared=True)
    sandbox.add_channel(INTERNAL, "deals", [ALEX, SAM])
    return sandbox


@pytest.fixture
def sandbox():
    with Sandbox(SECRET, TOKEN) as started:
        yield populate(started)


@pytest.fixture
def client(sandbox) -> WebClient:
    return WebClient(token=TOKEN, base_url=sandbox.api_url)
