"""The expansion-signal workflow on a real database: what a message costs (no query with signals off or without a
phrase, one read with a phrase), and simultaneous deliveries never taking more than the day's slots."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import pytest
from sqlalchemy import event
from sqlmodel import Session, select

from bot.demo_data import import_demo_records
from storage.models import Reminder
from tests.conftest import FIXED_NOW
from tests.support import RecordingNotifier
from tests.test_concurrency import run_together
from tests.test_e2e_signals import add_account
from workflows.program import Program, SignalRules
from workflows.services import Services
from workflows.signals import ChannelMessage, claim_suggestion


@pytest.fixture
def services(engine) -> Services:
    import_demo_records(engine)
    add_account(engine, "Acme Inc.", "acme.com", "Northwind Consulting")
    return Services(engine=engine, program=Program(signals=SignalRules(enabled=True)), notifier=RecordingNotifier(),
                    our_team_id="T0OURS", clock=lambda: FIXED_NOW)


def said(text: str, event_id: str | None = None) -> ChannelMessage:
    """Dana (Northwind, external) writes in Northwind's shared channel."""
    return ChannelMessage(channel_id="C0NORTH", user_id="U0DANA", team_id="T0NORTH", text=text, event_id=event_id)


@contextmanager
def statements(engine) -> Iterator[list[str]]:
    """The SQL statements run on the engine meanwhile."""
    seen: list[str] = []

    def record(_connection, _cursor, statement, *_):
        seen.append(statement)
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_what_a_message_costs(services, engine):
    with statements(engine) as seen:
        assert claim_suggestion(replace(services, program=Program()), said("Acme needs more seats")) is None
        assert claim_suggestion(services, said("Acme says hello")) is None  # no phrase
    assert seen == []
    with statements(engine) as seen:
        assert claim_suggestion(services, said("Hooli needs more seats")) is None  # names none of the accounts
    assert len(seen) == 1 and "customer_account" in seen[0]
    with statements(engine) as seen:
        assert claim_suggestion(services, said("Acme needs more seats", "Ev1")) is not None
    inserts = [s.split("(")[0].split()[-1] for s in seen if s.lstrip().upper().startswith("INSERT")]
    assert sorted(inserts) == ["processed_event", "reminder"]  # the delivery and the day's slot: no message


@pytest.mark.parametrize("per_day", [1, 2])
def test_simultaneous_deliveries_never_take_more_than_the_days_slots(services, engine, per_day):
    services = replace(services, program=Program(signals=SignalRules(enabled=True, per_account_per_day=per_day)))
    outcomes = []

    def deliver(event_id: str):
        return lambda: outcomes.append(claim_suggestion(services, said("Acme needs more seats", event_id)))
    run_together([deliver(f"Ev{n}") for n in range(4)])
    assert len([o for o in outcomes if o is not None]) == per_day
    with Session(engine) as session:
        assert len(session.exec(select(Reminder)).all()) == per_day
