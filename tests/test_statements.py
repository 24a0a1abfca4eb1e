"""INSERT ... ON CONFLICT in the session's dialect: claims that insert once, upserts of many rows in few statements."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event
from sqlmodel import Session, select

from storage.db import transaction
from storage.models import ProcessedEvent
from storage.nudges.models import SlackUserZone
from storage.queries import claim_request
from storage.statements import ROWS_PER_STATEMENT, upsert_rows


def test_upsert_rows_inserts_new_rows_and_updates_existing_ones_in_a_statement_per_chunk(engine, now):
    with transaction(engine) as session:
        upsert_rows(session, SlackUserZone, key="slack_user_id",
                    rows=[{"slack_user_id": f"U{n}", "tz": "UTC", "fetched_at": now} for n in range(3)])
    statements = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    later, count = now + timedelta(days=8), ROWS_PER_STATEMENT * 2 + 1
    with transaction(engine) as session:
        upsert_rows(session, SlackUserZone, key="slack_user_id",
                    rows=[{"slack_user_id": f"U{n}", "tz": "Europe/Paris" if n % 2 else None, "fetched_at": later}
                          for n in range(count)])
    assert sum(s.lstrip().upper().startswith("INSERT") for s in statements) == 3
    with Session(engine) as session:
        zones = {z.slack_user_id: z for z in session.exec(select(SlackUserZone))}
    assert len(zones) == count
    assert zones["U1"].tz == "Europe/Paris" and zones["U2"].tz is None  # the three stored first are updated
    assert zones["U0"].fetched_at.replace(tzinfo=None) == later.replace(tzinfo=None)


def test_a_request_is_claimed_once_and_a_replay_leaves_the_transaction_usable(engine, now):
    with transaction(engine) as session:
        assert claim_request(session, "view:1", now)
        assert not claim_request(session, "view:1", now)  # the same delivery again, in the same transaction
    with transaction(engine) as session:
        assert not claim_request(session, "view:1", now)  # a replay, later
        session.add(ProcessedEvent(event_id="view:2", received_at=now))  # still usable after the refusal
    with Session(engine) as session:
        assert {e.event_id for e in session.exec(select(ProcessedEvent))} == {"view:1", "view:2"}
