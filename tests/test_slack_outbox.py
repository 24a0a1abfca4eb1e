"""The Slack outbox against the sandbox: retried in order, never posted twice, refusals reported once."""

from __future__ import annotations


import pytest
from slack_sdk import WebClient
from sqlmodel import Session, select

from bot.demo_data import BOT_USER, OUR_TEAM, import_demo_records, populate_sandbox
from bot.sandbox import Sandbox
from storage.db import transaction
from storage.slack.models import SlackMessage, SlackMessageStatus
from storage.slack.outbox import enqueue_post, enqueue_update, outbox_summary, retry_failed
from storage.slack.sender import SlackSender
from tests.support import MovingClock, RecordingNotifier
from workflows.delivery import report_failed_delivery
from workflows.program import Program
from workflows.services import Services


@pytest.fixture
def sandbox():
    with Sandbox("secret", "xoxb-outbox-test", team_id=OUR_TEAM[0], team_name=OUR_TEAM[1],
                 bot_user_id=BOT_USER) as box:
        populate_sandbox(box)
        yield box


@pytest.fixture
def clock():
    return MovingClock()


@pytest.fixture
def failures():
    return []


@pytest.fixture
def sender(engine, sandbox, clock, failures):
    client = WebClient(token="xoxb-outbox-test", base_url=sandbox.api_url, timeout=0.5, retry_handlers=[])
    return SlackSender(engine, client, clock=clock, backoff=lambda attempts: 1.0, on_failed=failures.append)


def owe(engine, clock, key, channel, text, *, parent_key=None, lane="lane-1", partner_id=None):
    with transaction(engine) as session:
        enqueue_post(session, key=key, lane=lane, channel=channel, text=text, blocks=[], now=clock(),
                     parent_key=parent_key, partner_id=partner_id)


def owe_update(engine, clock, parent_key, text, *, lane="lane-1"):
    with transaction(engine) as session:
        enqueue_update(session, lane=lane, parent_key=parent_key, text=text, blocks=[], now=clock())


def rows(engine) -> dict[str, SlackMessage]:
    with Session(engine) as session:
        return {row.key: row for row in session.exec(select(SlackMessage))}


def texts(sandbox, channel) -> list[str]:
    return [m.text for m in sandbox.messages(channel)]


@pytest.mark.parametrize("fault", [
    {"status": 500, "after_effect": True},  # Slack posted it, then answered 500
    {"delay": 1.5, "after_effect": True},  # Slack posted it; the answer came after our timeout
    {"status": 500},  # Slack failed before posting
    {"delay": 1.5},  # nothing was posted and the answer never came in time
], ids=["500-after-post", "timeout-after-post", "500-before-post", "timeout-before-post"])
def test_an_unknown_outcome_is_looked_up_before_posting_again(engine, sandbox, sender, clock, fault):
    owe(engine, clock, "reg:1:root", "C0NORTH", "root message")
    sandbox.fail("chat.postMessage", **fault)
    first = sender.drain()
    assert first.retrying == 1 and first.sent == 0
    clock.skip(2)
    second = sender.drain()
    assert second.sent == 1
    assert texts(sandbox, "C0NORTH").count("root message") == 1
    row = rows(engine)["reg:1:root"]
    assert row.status == SlackMessageStatus.sent and not row.maybe_sent
    assert row.sent_ts == next(m.ts for m in sandbox.messages("C0NORTH") if m.text == "root message")
    assert second.found_already_sent == (1 if fault.get("after_effect") else 0)


def test_a_dm_whose_answer_was_lost_is_found_in_the_dm_history(engine, sandbox, sender, clock):
    owe(engine, clock, "reg:1:review:a", "U0ALEX", "please review")
    sandbox.fail("chat.postMessage", status=503, after_effect=True)
    sender.drain()
    clock.skip(2)
    assert sender.drain().found_already_sent == 1
    assert texts(sandbox, sandbox.dm_channel("U0ALEX")).count("please review") == 1


def test_replies_wait_for_their_root_and_updates_for_their_message(engine, sandbox, sender, clock):
    owe(engine, clock, "root", "C0NORTH", "root v1")
    owe(engine, clock, "reply-1", "", "first reply", parent_key="root")
    owe_update(engine, clock, "root", "root v2")
    owe(engine, clock, "other-lane", "C0GLOBEX", "not held up", lane="lane-2")
    sandbox.fail("chat.postMessage", status=429, retry_after=5)
    report = sender.drain()
    assert report.retrying == 1 and report.sent == 1  # the other lane went; this one waits out Retry-After
    assert texts(sandbox, "C0NORTH") == [] and texts(sandbox, "C0GLOBEX") == ["not held up"]
    clock.skip(3)
    assert sender.drain().sent == 0  # still within Retry-After
    clock.skip(3)
    assert sender.drain().sent == 1  # the root; its reply is paced (one post a second per channel)
    clock.skip(1.1)
    assert sender.drain().sent == 2  # the reply, then the update (chat.update is not paced per channel)
    [root] = [m for m in sandbox.messages("C0NORTH") if not m.thread_ts]
    assert root.text == "root v2" and root.edited
    assert [m.text for m in sandbox.messages("C0NORTH", thread_ts=root.ts)] == ["first reply"]


def test_updates_not_yet_tried_are_merged(engine, clock):
    owe(engine, clock, "root", "C0NORTH", "v1")
    owe_update(engine, clock, "root", "v2")
    owe_update(engine, clock, "root", "v3")
    updates = [r for r in rows(engine).values() if r.parent_key == "root"]
    assert [u.text for u in updates] == ["v3"]


def test_enqueueing_the_same_key_twice_owes_one_message(engine, sandbox, sender, clock):
    owe(engine, clock, "desk:1:C0NORTH", "C0NORTH", "desk")
    owe(engine, clock, "desk:1:C0NORTH", "C0NORTH", "desk")
    sender.drain()
    assert texts(sandbox, "C0NORTH") == ["desk"]


def test_a_refused_channel_fails_its_thread_and_is_reported_once(engine, sandbox, sender, clock, failures):
    import_demo_records(engine)
    sandbox.add_channel("C0GONE", "partner-gone", members=["U0DANA"], is_ext_shared=True, bot_member=False)
    owe(engine, clock, "root", "C0GONE", "root", partner_id=1)
    owe(engine, clock, "reply", "", "reply", parent_key="root", partner_id=1)
    report = sender.drain()
    assert report.failed == 1 and [f.key for f in failures] == ["root"]  # the reply fails with it, unreported
    stored = rows(engine)
    assert stored["root"].last_error == "not_in_channel" and stored["reply"].last_error == "parent_failed"
    assert {r.status for r in stored.values()} == {SlackMessageStatus.failed}
    clock.skip(3600)
    assert sender.drain().sent == 0  # never retried by itself

    services = Services(engine=engine, program=Program(), notifier=RecordingNotifier(), clock=clock)
    assert report_failed_delivery(services, failures[0]) == 1
    [(_, recipient, text)] = services.notifier.calls
    assert recipient == "U0PRIYA"  # Northwind's partner manager
    assert "Northwind Consulting" in text and "C0GONE" in text and "not_in_channel" in text

    with Session(engine) as session:
        summary = outbox_summary(session)
    assert summary.counts["failed"] == 2 and summary.last_error in ("not_in_channel", "parent_failed")

    sandbox.state.channels["C0GONE"].members.append(BOT_USER)  # someone invites the bot
    with transaction(engine) as session:
        assert retry_failed(session, clock()) == 2
    assert sender.drain().sent == 1
    clock.skip(1.1)
    assert sender.drain().sent == 1
    [root] = [m for m in sandbox.messages("C0GONE") if not m.thread_ts]
    assert [m.text for m in sandbox.messages("C0GONE", thread_ts=root.ts)] == ["reply"]


def test_transient_errors_give_up_after_many_tries(engine, sandbox, sender, clock, failures):
    owe(engine, clock, "root", "C0NORTH", "root")
    sandbox.fail("chat.postMessage", status=500, times=100)
    for _ in range(30):
        sender.drain()
        clock.skip(3600)
    stored = rows(engine)["root"]
    assert stored.status == SlackMessageStatus.failed and stored.last_error == "http_500"
    assert [f.key for f in failures] == ["root"]


@pytest.mark.parametrize("fault", [{"status": 500}, {"status": 429, "retry_after": 1}, {"delay": 1.5}],
                         ids=["500", "429", "timeout"])
def test_a_failed_update_in_place_is_retried_until_the_message_shows_it(engine, sandbox, sender, clock, fault):
    owe(engine, clock, "root", "C0NORTH", "received")
    sender.drain()
    owe_update(engine, clock, "root", "approved")
    sandbox.fail("chat.update", **fault)
    assert sender.drain().retrying == 1
    clock.skip(2)
    assert sender.drain().sent == 1
    [root] = sandbox.messages("C0NORTH")
    assert root.text == "approved"


def test_an_update_queued_while_an_older_one_is_being_sent_is_sent_too(engine, sandbox, sender, clock):
    import threading

    owe(engine, clock, "root", "C0NORTH", "received")
    sender.drain()
    owe_update(engine, clock, "root", "under review")
    sandbox.fail("chat.update", delay=0.3, after_effect=True)  # Slack is slow to answer this one
    newer = threading.Timer(0.1, lambda: owe_update(engine, clock, "root", "approved"))  # a decision, meanwhile
    newer.start()
    sender.drain()
    newer.join()
    sender.drain()
    [root] = sandbox.messages("C0NORTH")
    assert root.text == "approved"


def test_rate_limits_delay_a_burst_to_one_channel_but_fail_none_of_it(engine, sandbox, sender, clock, failures):
    for n in range(30):
        owe(engine, clock, f"reg:{n}:root", "C0NORTH", f"root {n}", lane=f"reg:{n}")
    sandbox.fail("chat.postMessage", status=429, retry_after=1, times=20)
    for _ in range(60):  # one post a drain: 20 refused, 30 sent
        sender.drain()
        clock.skip(1.1)
    stored = rows(engine)
    assert {r.status for r in stored.values()} == {SlackMessageStatus.sent} and not failures
    assert sorted(texts(sandbox, "C0NORTH")) == sorted(f"root {n}" for n in range(30))
    assert max(r.attempts for r in stored.values()) == 1  # waiting out a 429 is not a failed try
