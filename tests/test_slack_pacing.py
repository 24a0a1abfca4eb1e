"""Sending within Slack's limits: one post a second per channel, 429s waited out, and no channel holds up another."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from datetime import datetime

import pytest
from slack_sdk import WebClient
from sqlmodel import Session, select

from bot.demo_data import BOT_USER, OUR_TEAM, populate_sandbox
from bot.sandbox import Sandbox
from bot.worker import Worker
from storage.db import transaction
from storage.slack.models import SlackMessage, SlackMessageKind, SlackMessageStatus
from storage.slack.outbox import enqueue_post, enqueue_update
from storage.slack.sender import POST_INTERVAL, SlackSender
from tests.support import MovingClock, RecordingNotifier
from workflows.program import Program
from workflows.services import Services, utc_clock

TOKEN = "xoxb-pacing-test"
# Eight partner channels and two DMs (a DM is paced by the user id it is sent to).
TARGETS = [f"C0PACE{n}" for n in range(8)] + ["U0ALEX", "U0PRIYA"]


@pytest.fixture
def sandbox():
    with Sandbox("secret", TOKEN, team_id=OUR_TEAM[0], team_name=OUR_TEAM[1], bot_user_id=BOT_USER) as box:
        populate_sandbox(box)
        for channel in TARGETS[:8]:
            box.add_channel(channel, f"partner-{channel.lower()}")
        yield box


class StoppedClock(MovingClock):
    """Time that moves only when the test skips it: pacing checked to the tenth of a second, however slow the
    machine (Slack's own record keeps real time)."""

    def __init__(self):
        super().__init__()
        self.start = utc_clock()

    def __call__(self) -> datetime:
        return self.start + self.skipped


def client(sandbox) -> WebClient:
    return WebClient(token=TOKEN, base_url=sandbox.api_url, timeout=2, retry_handlers=[])


def owe_threads(engine, clock, *, per_target: int = 20, threads: int = 4) -> list[list[str]]:
    """Per target, `threads` lanes of a root and replies under it; returns each lane's keys in order."""
    lanes = []
    with transaction(engine) as session:
        for target in TARGETS:
            for t in range(threads):
                lane, root = f"pace:{target}:{t}", f"pace:{target}:{t}:root"
                keys = [root] + [f"{root}:reply:{n}" for n in range(per_target // threads - 1)]
                for n, key in enumerate(keys):
                    enqueue_post(session, key=key, lane=lane, channel=target if n == 0 else "",
                                 parent_key=root if n else None, text=key, blocks=[], now=clock())
                lanes.append(keys)
    return lanes


def owe_posts(engine, clock, channel: str, count: int) -> None:
    """`count` posts to one channel, each in its own lane (so only the channel's pace orders them)."""
    with transaction(engine) as session:
        for n in range(count):
            enqueue_post(session, key=f"{channel}:{n}", lane=f"{channel}:{n}", channel=channel,
                         text=f"{channel} {n}", blocks=[], now=clock())


def posted_keys(sandbox) -> Counter:
    """How often each outbox key is in Slack (from the posted messages' metadata)."""
    return Counter(((m.metadata or {}).get("event_payload") or {}).get("key") for m in sandbox.messages())


def stored(engine) -> list[SlackMessage]:
    with Session(engine) as session:
        return list(session.exec(select(SlackMessage)).all())


def drain_until_sent(sender: SlackSender, engine, clock: StoppedClock, *, step: float = 1.1, rounds: int = 200):
    for _ in range(rounds):
        sender.drain()
        if all(r.status != SlackMessageStatus.pending for r in stored(engine)):
            return
        clock.skip(step)
    raise AssertionError("the outbox did not drain")


def test_two_hundred_messages_over_ten_channels_go_once_each_never_two_within_the_interval(engine, sandbox):
    """Through the worker's own loop on real time (a short interval, so the test is quick): nothing sleeps,
    the loop comes back for what had to wait, and Slack's record shows the gap in every conversation."""
    interval = 0.2
    lanes = owe_threads(engine, utc_clock)
    services = Services(engine=engine, program=Program(), notifier=RecordingNotifier(), clock=utc_clock)
    worker = Worker(services, client(sandbox), interval=0.05, post_interval=interval, backoff=lambda a: 0.05)
    started = time.monotonic()
    worker.start()
    try:
        worker.kick()
        sandbox.wait_for(lambda: all(r.status == SlackMessageStatus.sent for r in stored(engine)), timeout=60)
    finally:
        worker.stop()
    elapsed = time.monotonic() - started

    assert set(posted_keys(sandbox).values()) == {1} and len(posted_keys(sandbox)) == 200  # each once
    times = defaultdict(list)
    for call in sandbox.calls("chat.postMessage"):
        times[call.response["channel"]].append(call.time)
    assert len(times) == 10  # eight channels and two DM conversations
    closest = min(b - a for series in times.values() for a, b in zip(series, series[1:]))
    assert closest >= interval  # from Slack's side: never two posts in one conversation within the interval
    assert elapsed >= 19 * interval  # twenty posts a channel cannot go faster than the pace
    for keys in lanes:  # lane order kept: every thread's replies in the order they were owed
        root = next(m for m in sandbox.messages() if (m.metadata or {})["event_payload"]["key"] == keys[0])
        thread = sandbox.messages(root.channel, thread_ts=root.ts)
        assert [m.metadata["event_payload"]["key"] for m in thread] == keys[1:]


def test_one_post_a_second_per_channel_while_updates_and_other_channels_go_on(engine, sandbox):
    """Slack's pace on the injected clock: a channel gets its next post only a full second after the last."""
    clock = StoppedClock()
    sender = SlackSender(engine, client(sandbox), clock=clock)
    assert POST_INTERVAL == 1.0
    with transaction(engine) as session:
        for channel in ("C0NORTH", "C0GLOBEX"):
            enqueue_post(session, key=f"{channel}:root", lane=f"{channel}:a", channel=channel, text="root",
                         blocks=[], now=clock())
            enqueue_update(session, lane=f"{channel}:a", parent_key=f"{channel}:root", text="root, edited",
                           blocks=[], now=clock())
            for n in range(2):
                enqueue_post(session, key=f"{channel}:other:{n}", lane=f"{channel}:b{n}", channel=channel,
                             text=f"other {n}", blocks=[], now=clock())

    first = sender.drain()
    assert first.sent == 4  # each channel's root and its update (chat.update is limited per workspace, not paced)
    assert [m.text for m in sandbox.messages("C0NORTH")] == ["root, edited"]
    assert sender.drain().sent == 0
    clock.skip(0.9)
    assert sender.drain().sent == 0  # not yet a second since each channel's last post
    clock.skip(0.2)
    assert sender.drain().sent == 2  # one more per channel
    clock.skip(1.1)
    assert sender.drain().sent == 2
    assert {r.status for r in stored(engine)} == {SlackMessageStatus.sent}


def test_a_429_storm_loses_and_doubles_nothing(engine, sandbox):
    clock = StoppedClock()
    failures = []
    sender = SlackSender(engine, client(sandbox), clock=clock, backoff=lambda a: 1.0, on_failed=failures.append)
    owe_threads(engine, clock)
    sandbox.fail_randomly("chat.postMessage", 0.3, kinds=("429",), seed=10, retry_after=2)
    drain_until_sent(sender, engine, clock)

    refused = [c for c in sandbox.calls("chat.postMessage") if c.status == 429]
    assert len(refused) > 30  # the storm happened
    keys = posted_keys(sandbox)
    assert len(keys) == 200 and set(keys.values()) == {1}  # nothing lost, nothing posted twice
    rows = stored(engine)
    assert {r.status for r in rows} == {SlackMessageStatus.sent} and not failures
    assert max(r.attempts for r in rows) == 1  # waiting out Retry-After is not a failed try


def test_rows_of_a_held_channel_do_not_block_other_channels(engine, sandbox):
    """A channel told to wait 60 s owns the first 150 due rows; the one behind them goes in the same drain."""
    clock = StoppedClock()
    sender = SlackSender(engine, client(sandbox), clock=clock)
    owe_posts(engine, clock, "C0NORTH", 150)
    owe_posts(engine, clock, "C0GLOBEX", 1)
    sandbox.fail("chat.postMessage", status=429, retry_after=60)

    report = sender.drain(batch=100)
    assert report.retrying == 1 and report.sent == 1
    assert [m.text for m in sandbox.messages("C0GLOBEX")] == ["C0GLOBEX 0"] and sandbox.messages("C0NORTH") == []
    assert len(sandbox.calls("chat.postMessage")) == 2  # the held channel's other rows were never tried
    clock.skip(30)
    assert sender.drain().sent == 0  # still within Retry-After
    clock.skip(31)
    assert sender.drain().sent == 1  # then one post a second again
    assert [m.text for m in sandbox.messages("C0NORTH")] == ["C0NORTH 0"]


def test_while_the_oldest_rows_wait_every_channel_takes_its_turn(engine, sandbox):
    """A held channel owns the 450 oldest due rows, so the sender looks channel by channel, a batch at a time.
    Each look goes on after the last channel the previous one reached: the 50 channels behind the first 100 get
    their first post in the second look (with the second posts of the first 50, where it came round), not after
    the first 100 have all had their second."""
    clock = StoppedClock()
    sender = SlackSender(engine, client(sandbox), clock=clock, post_interval=0)
    owe_posts(engine, clock, "C0HELD", 450)
    channels = [f"C1TURN{n:03d}" for n in range(150)]
    for channel in channels:
        sandbox.add_channel(channel, channel.lower())
        owe_posts(engine, clock, channel, 2)
    sandbox.fail("chat.postMessage", status=429, retry_after=600)  # the first post, to C0HELD: held 10 minutes

    sender.drain(batch=100)
    order = [call.args.get("text") for call in sandbox.calls("chat.postMessage")]
    assert len(order) == 1 + 2 * 150 and order[0] == "C0HELD 0"
    first_look, second_look = set(order[1:101]), set(order[101:201])
    assert first_look == {f"{c} 0" for c in channels[:100]}
    assert second_look == {f"{c} 0" for c in channels[100:]} | {f"{c} 1" for c in channels[:50]}


def test_a_paced_channel_does_not_fill_the_batch(engine, sandbox):
    """After one post to a channel, its other rows are left out of the next query, not read and skipped."""
    clock = StoppedClock()
    sender = SlackSender(engine, client(sandbox), clock=clock)
    owe_posts(engine, clock, "C0NORTH", 250)
    for channel in TARGETS[:3]:
        owe_posts(engine, clock, channel, 1)
    assert sender.drain(batch=100).sent == 4  # one to #north, one to each other channel, in one drain


def test_a_rate_limited_update_holds_every_update_but_not_posts(engine, sandbox):
    """chat.update is limited per workspace: after its 429 no update is tried anywhere until Retry-After."""
    clock = StoppedClock()
    sender = SlackSender(engine, client(sandbox), clock=clock)
    with transaction(engine) as session:
        for channel in ("C0NORTH", "C0GLOBEX"):
            enqueue_post(session, key=f"{channel}:root", lane=channel, channel=channel, text="v1", blocks=[],
                         now=clock())
    sender.drain()
    clock.skip(1.1)
    with transaction(engine) as session:
        for channel in ("C0NORTH", "C0GLOBEX"):
            enqueue_update(session, lane=channel, parent_key=f"{channel}:root", text="v2", blocks=[], now=clock())
        enqueue_post(session, key="news", lane="news", channel="C0PACE0", text="news", blocks=[], now=clock())
    sandbox.fail("chat.update", status=429, retry_after=30)

    report = sender.drain()
    assert report.retrying == 1 and report.sent == 1  # the post went; one update refused, the other not tried
    assert len(sandbox.calls("chat.update")) == 1
    clock.skip(31)
    assert sender.drain().sent == 2
    assert {m.text for m in sandbox.messages() if m.channel in ("C0NORTH", "C0GLOBEX")} == {"v2"}
    assert all(r.kind != SlackMessageKind.update or r.attempts == 1 for r in stored(engine))
