"""The sender's search for what may go now costs what may go, not what the outbox holds or what waits.

Work is counted, not timed: on SQLite the virtual machine's steps (sqlite3's progress handler), on PostgreSQL
the buffers its statements touched (EXPLAIN ANALYZE). The outbox then grows tenfold in what cannot go and the search
must return the same rows for about the same work.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import insert
from sqlmodel import Session

from storage.slack.models import SlackMessage, SlackMessageKind, SlackMessageStatus
from storage.slack.outbox import due_messages
from tests.test_query_plans import analyze, statements

HELD = ["D0AE1", "D0AE2", "D0AE3"]  # channels the sender is pacing: their posts must wait


def message(n: int, now, *, channel: str, lane: str | None = None, kind=SlackMessageKind.post, status=None,
            due=None, parent_key=None) -> dict:
    return dict(key=f"m{n}", lane=lane or f"lane{n}", kind=kind, channel=channel, text="x", blocks=[],
                parent_key=parent_key, status=status or SlackMessageStatus.pending, attempts=0, maybe_sent=False,
                next_attempt_at=due or now, created_at=now)


def fill(engine, now, scale: int) -> None:
    """`scale` sets how much cannot go: sent history, paced channels' backlogs, a thread's replies behind its
    root in a paced channel, updates retrying later. (A handful of posts retrying later, not scaled: a channel's
    posts are read in the order they were queued, so the ones not due yet ahead of a due one are stepped over.)"""
    later = now + timedelta(minutes=5)
    rows, n = [], 0

    def add(count, **kw):
        nonlocal n
        for _ in range(count):
            rows.append(message(n, now, **kw))
            n += 1

    add(40 * scale, channel="C0PARTNER", status=SlackMessageStatus.sent)
    add(20 * scale, channel=HELD[0])
    add(5 * scale, channel=HELD[1])
    add(1 + 10 * scale, channel=HELD[2], lane="thread")  # a root and its replies, waiting for the channel's pace
    add(5 * scale, channel="C0LATER", kind=SlackMessageKind.update, due=later)
    add(5, channel="C0LATER", due=later)
    with Session(engine) as session:
        session.exec(insert(SlackMessage), params=rows)
        session.commit()


def sendable(engine, now) -> list[str]:
    """What may go, queued last: a post to the channel with the sent history, two to a free channel (the second
    waits for the channel's pace), one behind the posts retrying later, an update and a pin."""
    channels = ["C0PARTNER", "C0FREE", "C0FREE", "C0LATER"]
    rows = [message(10**6 + i, now, channel=channel) for i, channel in enumerate(channels)]
    rows += [message(10**6 + 4, now, channel="C0FREE", kind=SlackMessageKind.update),
             message(10**6 + 5, now, channel="C0PIN", kind=SlackMessageKind.pin)]
    with Session(engine) as session:
        session.exec(insert(SlackMessage), params=rows)
        session.commit()
    return ["m1000000", "m1000001", "m1000003", "m1000004", "m1000005"]


def empty_outbox(engine) -> None:
    """As new: on PostgreSQL a DELETE leaves the rows' index entries until a vacuum, and the next fill's searches
    would step over them."""
    with engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM slack_outbox" if engine.dialect.name == "sqlite"
                                   else "TRUNCATE slack_outbox")


def search(session, now, paced=HELD):
    return due_messages(session, now, limit=100, skip_channels=paced)


def work(engine, run) -> int:
    """The work of the statements `run(session)` sends, counted as described above."""
    return sum(_work(engine, statement, parameters) for statement, parameters in statements(engine, run))


def _work(engine, statement, parameters) -> int:
    if engine.dialect.name == "sqlite":
        steps = 0

        def count():
            nonlocal steps
            steps += 1
            return 0

        raw = engine.raw_connection()
        try:
            raw.driver_connection.set_progress_handler(count, 10)
            raw.cursor().execute(statement, parameters).fetchall()
            raw.driver_connection.set_progress_handler(None, 0)
        finally:
            raw.close()
        return steps
    with engine.connect() as connection:
        [plan] = connection.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement,
                                            parameters).one()
    plan = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]
    return plan["Shared Hit Blocks"] + plan["Shared Read Blocks"]


@pytest.mark.parametrize("paced", [True, False], ids=["the oldest must wait", "the oldest may go"])
def test_the_due_search_reads_what_may_go_not_what_waits_or_was_sent(engine, now, paced):
    """Paced: the oldest due rows all wait (the paced channels' backlogs), so it looks channel by channel; not
    paced: the oldest due rows may go, and a batch of them is all it reads."""
    measured = []
    for scale in (100, 1000):  # ten times as much that cannot go, queued before the same sendable rows
        empty_outbox(engine)
        fill(engine, now, scale)
        expected = sendable(engine, now) if paced else [f"m{40 * scale + n}" for n in range(100)]
        analyze(engine)
        with Session(engine) as session:
            assert [row.key for row in search(session, now, HELD if paced else ())] == expected
        measured.append(work(engine, lambda session: search(session, now, HELD if paced else ())))
    small, large = measured
    assert large < 1.5 * small, (small, large)


def test_looking_channel_by_channel_stops_once_a_batch_is_found(engine, now):
    """The oldest due rows all wait (the paced channels' backlogs), and behind them one post to each of hundreds
    of free channels: the search steps through channels only until it has a batch, so ten times as many free
    channels cost it about the same."""
    measured = []
    for free in (200, 2000):
        empty_outbox(engine)
        fill(engine, now, 100)
        with Session(engine) as session:
            session.exec(insert(SlackMessage), params=[message(10**6 + i, now, channel=f"C1{i:05d}")
                                                       for i in range(free)])
            session.commit()
        analyze(engine)
        with Session(engine) as session:  # the first free channels', in channel order
            assert [row.key for row in search(session, now)] == [f"m{10**6 + i}" for i in range(100)]
        measured.append(work(engine, lambda session: search(session, now)))
    small, large = measured
    assert large < 1.5 * small, (small, large)
