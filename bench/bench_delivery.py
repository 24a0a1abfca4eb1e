"""Slack delivery under faults: owed messages across many channels, with a share of Slack calls failing.

Every channel gets a thread root, replies under it and an update of the root (so order matters), all
queued in the Slack outbox; the local sandbox fails a fraction of every Web API call (429 with
Retry-After, 5xx and timeouts, half of them after Slack already posted). The real sender drains it.
Reported: time to drain, messages sent, duplicates (a key posted more than once) and lost (owed but not
in Slack at the end; failed rows count as lost).

Usage: python bench/bench_delivery.py [MESSAGES] [CHANNELS] [FAILURE_RATE]   (default 5000 500 0.05)
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from rich.console import Console
from slack_sdk import WebClient
from sqlmodel import Session, select

from bot.sandbox import Sandbox
from storage.db import create_schema, make_engine, transaction
from storage.slack.models import SlackMessage, SlackMessageStatus
from storage.slack.outbox import enqueue_post, enqueue_update, next_due_at
from storage.slack.sender import SlackSender

FAILING_METHODS = ("chat.postMessage", "chat.update", "conversations.history", "conversations.replies")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def owe_messages(engine, channels: list[str], total: int) -> int:
    """Per channel: a root, replies under it, and one update of the root at the end."""
    per_channel = max(3, total // len(channels))
    owed = 0
    with transaction(engine) as session:
        for channel in channels:
            root = f"bench:{channel}:root"
            lane = f"bench:{channel}"
            enqueue_post(session, key=root, lane=lane, channel=channel, text=f"root {channel}", blocks=[],
                         now=utcnow())
            for n in range(per_channel - 2):
                enqueue_post(session, key=f"{root}:reply:{n}", lane=lane, channel="", parent_key=root,
                             text=f"reply {n}", blocks=[], now=utcnow())
            enqueue_update(session, lane=lane, parent_key=root, text=f"root {channel} (updated)", blocks=[],
                           now=utcnow())
            owed += per_channel
    return owed


def drain_until_done(sender: SlackSender, engine, deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        sender.drain()
        with Session(engine) as session:
            due = next_due_at(session)
        if due is None:
            return
        # Due rows may still wait for their channel's pace: come back shortly, as the worker's loop does.
        time.sleep(max(0.05, min(1.0, (due - utcnow()).total_seconds())))
    raise SystemExit("the outbox did not drain within the time limit")


def run(total: int, channel_count: int, rate: float, database_url: str | None) -> dict:
    token = "xoxb-bench-delivery"
    with tempfile.TemporaryDirectory() as folder, Sandbox("bench-secret", token) as sandbox:
        engine = make_engine(database_url or f"sqlite:///{Path(folder) / 'bench.db'}")
        create_schema(engine)
        with transaction(engine) as session:
            session.exec(SlackMessage.__table__.delete())  # a reused PostgreSQL database starts empty
        channels = [f"C{n:08d}" for n in range(channel_count)]
        for channel in channels:
            sandbox.add_channel(channel, f"partner-{channel.lower()}")
        owed = owe_messages(engine, channels, total)
        for method in FAILING_METHODS:
            sandbox.fail_randomly(method, rate, kinds=("429", "500", "timeout"), seed=hash(method) % 1000,
                                  timeout_delay=0.6)
        client = WebClient(token=token, base_url=sandbox.api_url, timeout=0.3, retry_handlers=[])
        sender = SlackSender(engine, client, clock=utcnow)
        started = time.perf_counter()
        drain_until_done(sender, engine, deadline_s=600)
        elapsed = time.perf_counter() - started
        sandbox.stop_failing()

        keys = Counter()
        for channel in channels:
            for message in sandbox.messages(channel):
                key = ((message.metadata or {}).get("event_payload") or {}).get("key")
                if key:
                    keys[key] += 1
        with Session(engine) as session:
            stored = session.exec(select(SlackMessage)).all()
        posts = [r for r in stored if r.kind == "post"]
        sent = sum(1 for r in stored if r.status == SlackMessageStatus.sent)
        failed = sum(1 for r in stored if r.status == SlackMessageStatus.failed)
        updated = sum(1 for channel in channels for m in sandbox.messages(channel)
                      if not m.thread_ts and m.text.endswith("(updated)"))
        calls = sandbox.calls()
        engine.dispose()
    return {
        "owed": owed, "seconds": elapsed, "sent": sent, "failed": failed,
        "duplicates": sum(count - 1 for count in keys.values() if count > 1),
        "lost": sum(1 for r in posts if keys[r.key] == 0) + (channel_count - updated),
        "calls": len(calls), "faults": sum(1 for c in calls if getattr(c, "fault", None) is not None),
    }


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    channel_count = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    rate = float(sys.argv[3]) if len(sys.argv) > 3 else 0.05
    console = Console()
    targets = [("SQLite", None)]
    if os.environ.get("PARTNERBOT_BENCH_DATABASE_URL"):
        targets.append(("PostgreSQL", os.environ["PARTNERBOT_BENCH_DATABASE_URL"]))
    for name, url in targets:
        result = run(total, channel_count, rate, url)
        console.print(
            f"[bold]Slack delivery ({name})[/]: {result['owed']:,} messages owed across {channel_count} channels, "
            f"{rate:.0%} of Slack calls failing ({result['faults']:,} faults in {result['calls']:,} calls): "
            f"drained in {result['seconds']:.1f} s; {result['sent']:,} sent, {result['failed']} failed, "
            f"{result['duplicates']} duplicates, {result['lost']} lost.")
        if result["duplicates"] or result["lost"]:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
