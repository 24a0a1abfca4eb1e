"""Nudges at scale: 10,000 due nudges across 1,000 partner channels, sent within Slack's limits.

1,000 onboarded partners, each with its own Slack Connect channel, have registered nothing. The real nudge job
(workflows/nudge_jobs.py send_due_nudges) runs once a day for 10 days while nothing is sent (the worker is off:
an outage), with the activation nudge set to repeat daily, so 10 nudges are owed in every channel: 10,000 in the
Slack outbox, all due. Then the worker starts, as `partnerbot serve` runs it (its loop, its pacing of one post a
second per channel), against the local Slack sandbox failing 5% of chat.postMessage calls with 429 Retry-After.

Reported: time to send them all, messages sent, duplicates (an outbox key posted more than once, from the
messages' metadata in the sandbox), lost (a nudge owed but never posted), 429s, and the highest rate any channel
saw (posts in any 1 s window; Slack's limit is about 1). Working hours cover the whole week here: the benchmark
measures sending, not waiting for Monday morning.

Usage: python bench/bench_nudges.py [--partners 1000] [--per-channel 10] [--rate 0.05]
PostgreSQL too when PARTNERBOT_BENCH_DATABASE_URL is set (its tables are dropped and made anew).
"""

from __future__ import annotations

import argparse
import bisect
import os
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from rich.console import Console
from rich.table import Table
from slack_sdk import WebClient
from sqlalchemy import func, insert
from sqlmodel import Session, SQLModel, select

from bot.app import build_services
from bot.sandbox import Sandbox
from bot.worker import Worker
from storage.db import create_schema, make_engine
from storage.models import Partner, PartnerStage, PartnerType
from storage.nudges.models import Nudge
from storage.slack.models import SlackMessage, SlackMessageStatus
from storage.slack.sender import POST_INTERVAL
from workflows.nudge_jobs import send_due_nudges
from workflows.program import Program

TOKEN = "xoxb-bench-nudges"
MANAGERS = 10
TIME_LIMIT = 1800.0  # seconds for the sending to finish


class ShiftedClock:
    """Real time moved by whole days: the job's ten daily runs, then sending on the last day (in real time, so
    the worker's pacing and Slack's Retry-After run as they would)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset


@dataclass
class Result:
    owed: int
    create_seconds: float
    send_seconds: float
    sent: int
    failed: int
    duplicates: int
    lost: int
    refused: int
    calls: int
    busiest: int  # most posts one channel got within any 1 s


def program(per_channel: int) -> Program:
    return Program.model_validate({"nudges": {
        "working_hours": {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00",
                          "end": "24:00"},
        "activation": {"after_days": 14, "every_days": 1, "max_times": per_channel},
        # the partner nudges alone: no manager's weekly roll-up or QBR brief (DMs, not partner channels)
        "rollup": {"enabled": False}, "qbr": {"enabled": False}}})


def fresh_engine(url: str):
    engine = make_engine(url)
    if engine.dialect.name != "sqlite":  # a database kept between runs: start from nothing
        SQLModel.metadata.drop_all(engine)
        with engine.begin() as connection:  # else the migrations think the schema is already there
            connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    create_schema(engine)
    return engine


def seed(engine, sandbox: Sandbox, partners: int, now: datetime) -> list[str]:
    """Onboarded partners that stalled: each a channel in Slack, a manager, no registration."""
    sandbox.add_team("T0PARTNERS", "Partner orgs")
    for n in range(MANAGERS):
        sandbox.add_user(f"UPM{n:04d}", sandbox.team_id, f"Manager {n}", tz="America/New_York",
                         title="Partner manager")
    channels = [f"C{n:08d}" for n in range(partners)]
    for channel in channels:
        sandbox.add_channel(channel, f"partner-{channel.lower()}")
    joined = now - timedelta(days=14, hours=1)
    with engine.begin() as connection:
        connection.execute(insert(Partner), [
            {"name": f"Partner {n:05d}", "type": PartnerType.reseller, "stage": PartnerStage.onboarded,
             "stage_since": joined, "slack_channel_id": channel, "manager_slack_id": f"UPM{n % MANAGERS:04d}",
             "created_at": joined, "updated_at": joined}
            for n, channel in enumerate(channels)])
    return channels


def busiest_second(times: list[float]) -> int:
    """The most of these moments (sorted) that fall within any one second."""
    return max((bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times)), default=0)


def run(url: str, partners: int, per_channel: int, rate: float) -> Result:
    clock = ShiftedClock()
    with Sandbox("bench-secret", TOKEN) as sandbox:
        engine = fresh_engine(url)
        channels = seed(engine, sandbox, partners, clock())
        client = WebClient(token=TOKEN, base_url=sandbox.api_url, timeout=5, retry_handlers=[])
        services = build_services(engine=engine, program=program(per_channel), client=client, clock=clock)

        started = time.perf_counter()
        for day in range(per_channel):  # the daily job, while nothing is sent
            clock.offset = timedelta(days=day)
            send_due_nudges(services)
        create_seconds = time.perf_counter() - started
        with Session(engine) as session:
            owed = session.exec(select(func.count()).select_from(Nudge)).one()

        sandbox.fail_randomly("chat.postMessage", rate, kinds=("429",), seed=10)
        outbox = WebClient(token=TOKEN, base_url=sandbox.api_url, timeout=5, retry_handlers=[])
        worker = Worker(services, outbox)  # production settings: a round a second, one post a second a channel
        started = time.perf_counter()
        worker.start()
        try:
            worker.kick()
            while _pending(engine):
                if time.perf_counter() - started > TIME_LIMIT:
                    raise SystemExit("the nudges were not all sent within the time limit")
                time.sleep(0.2)
        finally:
            worker.stop()
        send_seconds = time.perf_counter() - started
        sandbox.stop_failing()

        keys = Counter(((m.metadata or {}).get("event_payload") or {}).get("key") for m in sandbox.messages())
        posts = defaultdict(list)
        calls = sandbox.calls("chat.postMessage")
        for call in calls:
            if call.ok:
                posts[call.response["channel"]].append(call.time)
        with Session(engine) as session:
            message_keys = session.exec(select(Nudge.message_key)).all()
            statuses = {status: count for status, count in
                        session.exec(select(SlackMessage.status, func.count()).group_by(SlackMessage.status))}
        engine.dispose()
    assert set(posts) <= set(channels)
    return Result(
        owed=owed, create_seconds=create_seconds, send_seconds=send_seconds,
        sent=statuses.get(SlackMessageStatus.sent, 0), failed=statuses.get(SlackMessageStatus.failed, 0),
        duplicates=sum(count - 1 for key, count in keys.items() if key and count > 1),
        lost=sum(1 for key in message_keys if not keys.get(key)),
        refused=sum(1 for c in calls if c.status == 429), calls=len(calls),
        busiest=max((busiest_second(sorted(times)) for times in posts.values()), default=0))


def _pending(engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(SlackMessage)
                            .where(SlackMessage.status == SlackMessageStatus.pending)).one()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partners", type=int, default=1000, help="partners, each with its own channel")
    parser.add_argument("--per-channel", type=int, default=10, help="nudges owed in each channel (at most 20)")
    parser.add_argument("--rate", type=float, default=0.05, help="share of chat.postMessage calls answered 429")
    options = parser.parse_args()
    console = Console(width=160)  # the table stays whole when printed to a log
    targets = [("SQLite", None)]
    if os.environ.get("PARTNERBOT_BENCH_DATABASE_URL"):
        targets.append(("PostgreSQL", os.environ["PARTNERBOT_BENCH_DATABASE_URL"]))
    table = Table(title=f"Nudges: {options.partners * options.per_channel:,} due across {options.partners:,} "
                        f"partner channels, {options.rate:.0%} of posts answered 429 "
                        f"(pace: one post per {POST_INTERVAL:g} s per channel)")
    for column in ("database", "nudges owed", "created in", "sent in", "sent", "failed", "duplicates", "lost",
                   "429s / posts tried", "busiest channel"):
        table.add_column(column, justify="left" if column == "database" else "right")
    broken = False
    with tempfile.TemporaryDirectory() as folder:
        for name, url in targets:
            result = run(url or f"sqlite:///{Path(folder) / 'bench.db'}", options.partners, options.per_channel,
                         options.rate)
            table.add_row(name, f"{result.owed:,}", f"{result.create_seconds:.1f} s", f"{result.send_seconds:.1f} s",
                          f"{result.sent:,}", f"{result.failed}", f"{result.duplicates}", f"{result.lost}",
                          f"{result.refused:,} / {result.calls:,}", f"{result.busiest} post/s")
            broken |= bool(result.duplicates or result.lost or result.failed or result.busiest > 1
                           or result.owed != options.partners * options.per_channel)
    console.print(table)
    if broken:
        raise SystemExit("target missed: 0 duplicates, 0 lost, every nudge owed, no channel above 1 post/s")


if __name__ == "__main__":
    main()
