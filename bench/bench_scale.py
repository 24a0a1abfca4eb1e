"""Scale: what one registration, a list and a job cost as the database grows to a million registrations.

The data set is generated here, in bulk (5,000 partners, about 8.5% of registrations inside their
protection window, realistic company names with near-duplicates), on SQLite and, when
PARTNERBOT_BENCH_DATABASE_URL is set, on PostgreSQL. At each size it measures, through the same
workflows the bot runs:
- processing one registration after its ack (conflict check, scoring, routing, storing): p50/p99;
- the deals list of a partner contact, an AE and a partner manager, and App Home;
- the SLA-reminder and expiry jobs with nothing due: before any review is overdue, and again right after a
  backlog was worked off;
- the Slack sender's search for what may go with that backlog's messages owed (among the sent thread roots),
  when every channel owed a post must wait for its pace, when the last batch's channels must, and when none must.

Usage: python bench/bench_scale.py [MAX_ROWS]   (default 1,000,000; sizes 1,000 / 100,000 / 1,000,000 up to it)
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository's tests/ for its lead factory

from rich.console import Console  # noqa: E402
from rich.table import Table
from sqlalchemy import event, func, insert, select as sa_select, text
from sqlalchemy.exc import ProgrammingError
from sqlmodel import Session, SQLModel, select

from storage import sla_clock
from storage.conflict_index import index_unindexed
from storage.db import checkpoint, create_schema, make_engine, transaction
from storage.models import Partner, PartnerContact, Registration, TeamMember
from storage.reviews import thread_root_key
from storage.slack.models import SlackMessage, SlackMessageStatus
from storage.slack.outbox import due_messages
from storage.slack.sender import MAX_SKIPPED_CHANNELS
from bot.runtime import freeze_long_lived
from handlers.notify import SlackNotifier
from tests.support import lead
from workflows.decisions import expire_registrations
from workflows.people import deals_for, home_for, identify
from workflows.program import Program
from workflows.registrations import PROCESS_REGISTRATION, submit_registration
from workflows.reminders import remind_overdue_reviews
from workflows.services import Services
from workflows.work import run_pending_work

PARTNERS = 5_000
SAMPLES = 200  # registrations processed at each size: enough for a p99 that is not just the maximum
NOW = datetime(2026, 11, 2, 15, 0, tzinfo=timezone.utc)
WORDS = ("acme globex initech umbrella stark wayne wonka tyrell cyberdyne soylent hooli vandelay pied piper "
         "aperture black mesa oscorp massive dynamic nakatomi gringotts monarch virtucon dunder mifflin "
         "sterling cooper prestige worldwide bluth planet express").split()
REGIONS, LINES = ("EMEA", "North America", "APAC"), ("Platform", "Integrations", "Analytics")
ATTRIBUTIONS = ("partner_sourced",) * 7 + ("partner_influenced",) * 2 + ("co_sell",)
CURRENCIES = ("USD",) * 7 + ("EUR", "EUR", "GBP")
PRICING = ("subscription",) * 3 + ("one_time",) * 2 + ("usage_based",)


def company(rng: random.Random, n: int) -> str:
    """Names that collide and nearly collide the way real ones do, plus a unique tail for most."""
    base = " ".join(rng.sample(WORDS, 2))
    return f"{base} {n}" if rng.random() < 0.9 else base + rng.choice(("", "s", " group", " labs"))


TYPES = ("referral", "reseller", "agency", "reseller", "msp", "technology", "reseller", "distributor")
TIERS = ("registered", "silver", "silver", "gold", "platinum")
# Most partners of a grown program produce; some are early or quiet (the funnel and its stuck partners).
STAGES = ("producing",) * 9 + ("activated",) * 4 + ("strategic", "onboarded", "recruited", "prospect")


def seed_people(engine, *, managers: int = 1, admins: int = 0, now: datetime = NOW) -> None:
    """40 AEs, `managers` partner managers (UPM0001...) sharing the partners round-robin, `admins` admins
    (UAD0001...), and the partners with one contact each, across types, tiers and lifecycle stages, as of `now`."""
    with transaction(engine) as session:
        session.execute(insert(TeamMember.__table__), [
            {"slack_user_id": f"UAE{n:04d}", "name": f"AE {n}", "email": f"ae{n}@example.com", "role": "ae",
             "territories": [REGIONS[n % 3]], "product_lines": [LINES[n % 3]]} for n in range(40)] + [
            {"slack_user_id": f"UPM{n:04d}", "name": f"Manager {n}", "email": f"pm{n}@example.com",
             "role": "partner_manager", "territories": [], "product_lines": []} for n in range(1, managers + 1)] + [
            {"slack_user_id": f"UAD{n:04d}", "name": f"Admin {n}", "email": f"admin{n}@example.com", "role": "admin",
             "territories": [], "product_lines": []} for n in range(1, admins + 1)])
        session.execute(insert(Partner.__table__), [
            {"name": f"Partner {n}", "type": "referral" if n % 4 == 0 else TYPES[n % len(TYPES)],
             "tier": TIERS[n % len(TIERS)], "stage": STAGES[n % len(STAGES)],
             "stage_since": now - timedelta(days=(n * 37) % 700, hours=n % 24), "domain": f"partner{n}.example",
             "slack_team_id": f"TP{n:05d}", "slack_channel_id": f"CP{n:05d}",
             "manager_slack_id": f"UPM{n % managers + 1:04d}", "created_at": now, "updated_at": now}
            for n in range(PARTNERS)])
        session.execute(insert(PartnerContact.__table__), [
            {"partner_id": n + 1, "slack_user_id": f"UPC{n:05d}"} for n in range(PARTNERS)])


def grow(engine, start: int, stop: int, rng: random.Random, now: datetime = NOW) -> None:
    """Registrations start..stop-1, in bulk, as of `now`: most old and closed, about 8.5% still protecting a
    company. Approved a few days after submission, won or lost up to four months later (never after `now`); mostly
    partner-sourced, in three currencies, a sixth of them usage-based with a starting monthly usage."""
    batch = []
    for n in range(start, stop):
        created = now - timedelta(days=rng.uniform(0, 3 * 365))
        protecting = rng.random() < 0.085
        if protecting:
            created = now - timedelta(days=rng.uniform(0, 80))
        status = rng.choice(("approved", "under_review")) if protecting else rng.choice(
            ("won", "lost", "rejected", "expired"))
        if status == "under_review":  # waiting for a decision, within the 48-hour SLA
            created = now - timedelta(hours=rng.uniform(0, 40))
        name = company(rng, n)
        partner = rng.randrange(PARTNERS)
        batch.append({
            "partner_id": partner + 1, "submitted_by_slack_id": f"UPC{partner:05d}", "submitted_by_team_id": None,
            "company": name, "company_key": name.lower(), "domain": f"{name.replace(' ', '')}.example".lower(),
            "contact_name": "Jane Doe", "contact_email": "jane@example.com", "region": REGIONS[n % 3],
            "product_line": LINES[n % 3], "estimated_value": Decimal(rng.randrange(5_000, 200_000)),
            "company_size": "51-200", "budget": "approved", "timeline": "1-3m", "notes": "", "status": status,
            "conflict_with": [], "score_breakdown": {}, "assigned_to_slack_id": f"UAE{n % 40:04d}",
            "created_at": created, "updated_at": created,
            "approved_at": created if status == "approved" else None,
            "protection_expires_at": created + timedelta(days=90) if status == "approved" else None,
            **history(rng, status, created, now),
        })
        if len(batch) == 20_000:
            _insert(engine, batch)
            batch = []
    if batch:
        _insert(engine, batch)
    settle(engine)


def history(rng: random.Random, status: str, created: datetime, now: datetime) -> dict:
    """What a deal became: when a won or lost one was approved and closed, its attribution, currency and pricing
    (the same keys for every row: a bulk insert takes its columns from the first)."""
    row = {"attribution": rng.choice(ATTRIBUTIONS), "currency": rng.choice(CURRENCIES), "closed_at": None}
    pricing = rng.choice(PRICING)
    row |= {"pricing_model": pricing,
            "starting_monthly_usage": Decimal(rng.randrange(500, 20_000)) if pricing == "usage_based" else None}
    if status in ("won", "lost"):
        approved = min(created + timedelta(days=rng.uniform(0.5, 5)), now - timedelta(hours=2))
        closed = approved + timedelta(days=rng.uniform(10, 120))
        if closed >= now:  # not closed in the future: somewhere between its approval and now
            closed = approved + (now - approved) * rng.random()
        row |= {"approved_at": approved, "closed_at": closed, "updated_at": closed}
    return row


def settle(engine) -> None:
    """After a bulk load, what the database does on its own within minutes (PostgreSQL's autovacuum sees
    that many new rows): statistics, and on PostgreSQL a vacuum, which also marks the pages all-visible that
    index-only scans rely on. Measuring in the middle of that would time the load's aftermath, which a
    program that grew over years never has. On PostgreSQL then a CHECKPOINT: otherwise the load's gigabyte of
    dirty pages is written out by the checkpoints of the next minutes, while the bench measures (each spread over
    4.5 minutes, its final sync of tens of thousands of files stalling commits for seconds), which a live
    database's checkpoints, each writing its last five minutes' changes, never do."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM (ANALYZE)"))
            try:
                connection.execute(text("CHECKPOINT"))
            except ProgrammingError:  # PostgreSQL 15+: a superuser's, or a member of pg_checkpoint's
                print(f"  (no CHECKPOINT after the load: GRANT pg_checkpoint TO {engine.url.username}; without it "
                      "the load's pages are written out while the bench measures)", flush=True)
    else:
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    checkpoint(engine)


def _insert(engine, rows: list[dict]) -> None:
    with transaction(engine) as session:
        before = session.execute(sa_select(func.coalesce(func.max(Registration.id), 0))).scalar()
        session.execute(insert(Registration.__table__), rows)
        index_unindexed(session)  # what change_status does for each registration the bot stores
        sla_clock.start_missing(session, (sla_clock.REVIEW,), after_id=before)  # and the reviews' clocks, as their status change
        # Their threads, as the bot posted them: the reminders' and expiry's replies go under these roots.
        live = session.execute(sa_select(Registration.id, Registration.partner_id, Registration.created_at).where(
            Registration.id > before, Registration.status.in_(("under_review", "approved")))).all()
        if live:
            session.execute(insert(SlackMessage.__table__), [
                {"key": thread_root_key(rid), "lane": f"reg:{rid}:partner", "kind": "post",
                 "channel": f"CP{pid - 1:05d}", "text": "", "blocks": [], "partner_id": pid, "status": "sent",
                 "attempts": 1, "maybe_sent": False, "next_attempt_at": at, "created_at": at, "sent_at": at,
                 "sent_channel": f"CP{pid - 1:05d}", "sent_ts": f"{at.timestamp():.6f}"} for rid, pid, at in live])
    checkpoint(engine)  # the worker folds the write-ahead log back between rounds


class WriteHolds:
    """How long each transaction that wrote held the database (SQLite: from BEGIN IMMEDIATE to COMMIT)."""

    def __init__(self, engine):
        self.engine, self.held, self.began = engine, [], {}

    def __enter__(self):
        event.listen(self.engine, "begin", self._begin)
        event.listen(self.engine, "commit", self._commit)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "begin", self._begin)
        event.remove(self.engine, "commit", self._commit)

    def _begin(self, connection):
        self.began[id(connection)] = time.perf_counter()

    def _commit(self, connection):
        started = self.began.pop(id(connection), None)
        if started is not None:
            self.held.append((time.perf_counter() - started) * 1000)


def timed(function, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(services: Services, rng: random.Random) -> dict[str, list[float]]:
    contact = identify(services, user_id="UPC00007", team_id="TP00007")
    ae = identify(services, user_id="UAE0003", team_id="T0OURS")
    manager = identify(services, user_id="UPM0001", team_id="T0OURS")
    processing = []
    freeze_long_lived()  # as the worker does once started: its long-lived objects stay out of full collections
    for n in range(SAMPLES):
        name = company(rng, 10_000_000 + n)
        submission = submit_registration(services, actor=contact, lead=lead(company=name, domain=f"new{n}-{rng.randrange(10**9)}.com"))
        started = time.perf_counter()
        run_pending_work(services, PROCESS_REGISTRATION, submission.registration.id)
        processing.append((time.perf_counter() - started) * 1000)
    checkpoint(services.engine)  # as the worker does between rounds
    return {
        "process one registration": processing,
        "deals list: partner contact": timed(lambda: deals_for(services, contact), 20),
        "deals list: AE": timed(lambda: deals_for(services, ae), 20),
        "deals list: partner manager": timed(lambda: deals_for(services, manager), 20),
        "App Home: AE": timed(lambda: home_for(services, ae), 20),
        "SLA reminders, nothing due": timed(lambda: remind_overdue_reviews(services), 5),
        "expiry, nothing due": timed(lambda: expire_registrations(services), 5),
    }


def sender_search(engine, now: datetime) -> dict[str, list[float]]:
    """The Slack sender's search for what may go now, with the backlog's messages owed beside the sent thread
    roots: as when each channel owed a post has just had one (paced, so nothing may go: the worst case); as when
    the channels of the last batch (the 100 owed the longest) have just had theirs; and with none paced."""
    pending = SlackMessage.status == SlackMessageStatus.pending
    with Session(engine) as session:
        owed = session.exec(select(func.count()).select_from(SlackMessage).where(pending)).one()
        channels = list(session.exec(select(SlackMessage.channel).where(pending).group_by(SlackMessage.channel)
                                     .order_by(func.min(SlackMessage.id))).all())

    def search(paced):
        with Session(engine) as session:
            return due_messages(session, now, limit=100, skip_channels=paced)

    label = f"Slack sender's search, {owed:,} messages owed to {len(channels):,} channels"
    return {f"{label}, all paced ({len(search(channels[:MAX_SKIPPED_CHANNELS]))} found)":
            timed(lambda: search(channels[:MAX_SKIPPED_CHANNELS]), 5),
            f"{label}, the last batch's 100 paced ({len(search(channels[:100]))} found)":
            timed(lambda: search(channels[:100]), 5),
            f"{label}, none paced ({len(search(()))} found)": timed(lambda: search(()), 5)}


def run(url: str, sizes: list[int]) -> dict[int, dict[str, list[float]]]:
    engine = make_engine(url)
    SQLModel.metadata.drop_all(engine)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    create_schema(engine)
    seed_people(engine)
    rng = random.Random(7)
    # The jobs see "nothing due" at NOW: reviews waiting are recent, approvals unexpired (they are at most
    # 80 days old and protected for 90).
    program = Program()
    services = Services(engine=engine, program=program, notifier=SlackNotifier(program, lambda: NOW),
                        clock=lambda: NOW)
    results, have = {}, 0
    for size in sizes:
        started = time.perf_counter()
        grow(engine, have, size, rng)
        have = size
        print(f"  {size:,} registrations generated in {time.perf_counter() - started:.0f} s", flush=True)
        results[size] = measure(services, rng)
        have += SAMPLES
    # Last, as they change the data: the jobs with a backlog (a weekend without the scheduler).
    for operation, job, days in (("SLA reminders", remind_overdue_reviews, 3), ("expiry", expire_registrations, 12)):
        later = Services(engine=engine, program=program, notifier=SlackNotifier(program, lambda: NOW),
                         clock=lambda days=days: NOW + timedelta(days=days))
        with WriteHolds(engine) as holds:
            started = time.perf_counter()
            done = job(later)
            took = (time.perf_counter() - started) * 1000
        results[sizes[-1]][f"{operation}, {days} days' backlog: {done:,} items"] = [took]
        if holds.held:  # a small run may have nothing to expire
            results[sizes[-1]][f"  its {len(holds.held):,} write transactions, each"] = holds.held
        # Run again at once: what was due is done, though the reviews stay overdue (nobody decides them here): a
        # run reads only the reviews whose next period has come (none), not every overdue one.
        results[sizes[-1]][f"{operation}, nothing due after that backlog"] = timed(lambda: job(later), 3)
    results[sizes[-1]].update(sender_search(engine, NOW + timedelta(days=12)))
    engine.dispose()
    return results


def main() -> None:
    limit = int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ.get("SCALE", 1_000_000))
    sizes = [s for s in (1_000, 100_000, 1_000_000) if s < limit] + [limit]
    console = Console()
    targets = []
    with tempfile.TemporaryDirectory() as folder:
        targets.append(("SQLite", f"sqlite:///{Path(folder) / 'scale.db'}"))
        if os.environ.get("PARTNERBOT_BENCH_DATABASE_URL"):
            targets.append(("PostgreSQL", os.environ["PARTNERBOT_BENCH_DATABASE_URL"]))
        for name, url in targets:
            console.print(f"[bold]{name}[/]")
            results = run(url, sizes)
            table = Table(title=f"{name}: ms (p50 / p99) by registrations stored")
            table.add_column("operation")
            for size in sizes:
                table.add_column(f"{size:,}", justify="right")
            for operation in results[sizes[-1]]:
                table.add_row(operation, *(f"{statistics.median(results[s][operation]):.1f} / "
                                           f"{p(results[s][operation], 0.99):.1f}" if operation in results[s]
                                           else "" for s in sizes))
            console.print(table)


if __name__ == "__main__":
    main()
