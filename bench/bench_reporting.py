"""Reporting at scale (issue 11): every weekly digest's figures and the quarterly report over a million registrations.

The data set is bench_scale.py's (5,000 partners, a million registrations over three years, about 8.5% still
protecting a company), with 100 partner managers sharing the partners and 2 admins, grown here with what reports
read besides registrations: the won deals' customer accounts (landing zone, partner attached, product lines), an
upsell for every 20 registrations on those accounts (open, accepted, won with the product line it added, lost,
declined), and the monthly usage of every usage-based deal still running (approved or won), month by month since
its approval.

Then a fresh process (so its memory is the reports' alone) builds, through workflows/reporting.py as the digest
job and `partnerbot report` do:
- every partner manager's digest (their partners) and every admin's (the whole program): the figures of last week
  in the reader's time zone, of the week before (the changes), lead to close by partner type, the 12 weeks of the
  chart, and the count of App Home's waiting list; time per digest (p50 / p99) and for all of them;
- the full quarterly report, every figure (`partnerbot report --period quarter`) and by partner
  (`partnerbot report --period quarter --by partner --format csv`), through the CLI's own function;
- the process's peak resident memory (its RSS high-water mark, Linux's VmHWM; elsewhere getrusage's ru_maxrss),
  and what it was before the reports (Python, the libraries and the engine).
Target (issue 11): all digests within 10 s and under 500 MB, on SQLite and on PostgreSQL.

`--plans` prints, after the timings, every report query the plans show reading a deal table whole (none expected).

Usage: python bench/bench_reporting.py [--registrations 1000000] [--plans]
PostgreSQL too when PARTNERBOT_BENCH_DATABASE_URL is set (its tables are dropped and made anew);
`--databases postgresql` for that one only.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for bench_scale and tests
sys.path.insert(0, str(Path(__file__).resolve().parent))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from sqlalchemy import insert, select as sa_select, text  # noqa: E402
from sqlmodel import SQLModel  # noqa: E402

from bench_scale import LINES, NOW, PARTNERS, grow, p, seed_people, settle  # noqa: E402
from storage.crm.models import UsageRevenue  # noqa: E402
from storage.db import create_schema, make_engine, transaction  # noqa: E402
from storage.models import (  # noqa: E402
    AccountPartner,
    AccountProductLine,
    CustomerAccount,
    Registration,
    Upsell,
)

MANAGERS, ADMINS = 100, 2
UPSELL_EVERY = 20  # registrations per upsell
ZONES = ("Europe/Berlin", "America/New_York", "America/Los_Angeles", "Asia/Tokyo", "UTC")
RATES = {"EUR": Decimal("1.08"), "GBP": Decimal("1.27")}
UPSELL_STATUSES = (("won",) * 6 + ("lost",) * 4 + ("declined",) * 3 + ("accepted",) * 3 + ("open",) * 2
                   + ("rejected", "duplicate_review"))
DIGEST_SECONDS, DIGEST_MB = 10, 500  # issue 11's target for all digests
GIVE_UP = 10 * DIGEST_SECONDS  # the digests still to build then are left out, so a slow run still ends
BATCH = 20_000


# --- the data set -----------------------------------------------------------------------------------------------

def build(url: str, registrations: int) -> None:
    """bench_scale's partners and registrations, 100 managers and 2 admins, then the accounts, upsells and usage."""
    engine = make_engine(url)
    SQLModel.metadata.drop_all(engine)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    create_schema(engine)
    seed_people(engine, managers=MANAGERS, admins=ADMINS)
    rng = random.Random(11)
    grow(engine, 0, registrations, rng)
    accounts, upsells, months = customers(engine, rng)
    settle(engine)
    engine.dispose()
    print(f"  {registrations:,} registrations, {accounts:,} accounts, {upsells:,} upsells, "
          f"{months:,} months of usage", flush=True)


def _chunks(engine, query, size: int = BATCH):
    """The rows of `query` (ordered by id, its first column) in chunks, by id range."""
    after = 0
    while True:
        with engine.connect() as connection:
            rows = connection.execute(query.where(Registration.id > after).order_by(Registration.id)
                                      .limit(size)).all()
        if not rows:
            return
        yield rows
        after = rows[-1][0]


def _bulk(engine, table, rows: list[dict]) -> None:
    if rows:
        with transaction(engine) as session:
            session.execute(insert(table.__table__), rows)


def customers(engine, rng: random.Random) -> tuple[int, int, int]:
    """Each won registration's customer as an account (landing zone: its product line; owner: its AE; created when
    it was won), its partner attached; one upsell per UPSELL_EVERY registrations on those accounts, a won one
    adding its product line; the usage months of the running usage-based deals. Returns how many of each."""
    total = 0
    with engine.connect() as connection:
        total = connection.execute(sa_select(Registration.id).order_by(Registration.id.desc()).limit(1)).scalar()
    wanted_upsells = total // UPSELL_EVERY
    won = sa_select(Registration.id, Registration.partner_id, Registration.submitted_by_slack_id,
                    Registration.company, Registration.product_line, Registration.assigned_to_slack_id,
                    Registration.closed_at, Registration.currency).where(Registration.status == "won")
    accounts = []  # (account id, partner, contact, landing zone, owner, landed, currency)
    for rows in _chunks(engine, won):
        _bulk(engine, CustomerAccount, [
            {"id": rid, "name": name, "name_key": name.lower(), "domain": f"customer{rid}.example",
             "owner_slack_id": owner, "landing_zone": line, "currency": currency, "source_registration_id": rid,
             "created_at": closed, "updated_at": closed}
            for rid, _, _, name, line, owner, closed, currency in rows])
        _bulk(engine, AccountPartner, [
            {"account_id": rid, "partner_id": partner, "registration_id": rid, "submitted_by_slack_id": contact,
             "attached_at": closed} for rid, partner, contact, _, _, _, closed, _ in rows])
        _bulk(engine, AccountProductLine, [
            {"account_id": rid, "product_line": line, "since": closed} for rid, _, _, _, line, _, closed, _ in rows])
        accounts += [(rid, partner, contact, line, owner, closed, currency)
                     for rid, partner, contact, _, line, owner, closed, currency in rows]
    upsells = _upsells(engine, rng, accounts, wanted_upsells)
    return len(accounts), upsells, _usage(engine, rng)


def _upsells(engine, rng: random.Random, accounts: list[tuple], wanted: int) -> int:
    """`wanted` upsells on random accounts, flagged 10 to 400 days after landing (none in the future)."""
    rows, lines, next_id = [], [], 1
    for _ in range(wanted):
        account, partner, contact, zone, owner, landed, currency = rng.choice(accounts)
        created = landed + timedelta(days=rng.uniform(10, 400))
        if created >= NOW:
            created = landed + (NOW - landed) * rng.random()
        status = rng.choice(UPSELL_STATUSES)
        accepted = closed = final = None
        if status in ("accepted", "won", "lost"):
            accepted = min(created + timedelta(days=rng.uniform(0.2, 10)), NOW - timedelta(hours=1))
        if status in ("won", "lost", "declined", "rejected"):
            closed = (accepted or created) + timedelta(days=rng.uniform(1, 90))
            if closed >= NOW:
                closed = (accepted or created) + (NOW - (accepted or created)) * rng.random()
        expected = Decimal(rng.randrange(1_000, 60_000))
        if status == "won":
            final = (expected * Decimal(rng.uniform(0.7, 1.3))).quantize(Decimal("1"))
        target = rng.choice([line for line in LINES if line != zone] + ["Premium plan"])
        rows.append({
            "id": next_id, "account_id": account, "partner_id": partner, "flagged_by_slack_id": contact,
            "attribution": "partner_sourced" if rng.random() < 0.7 else "partner_influenced",
            "signal": rng.choice(("plan_upgrade", "more_seats", "usage_growth", "new_product_line")),
            "target": target, "expected_value": expected, "currency": currency or "USD",
            "recurrence": rng.choice(("monthly", "one_time")), "timeline": "1-3m", "notes": "", "status": status,
            "assigned_to_slack_id": owner, "final_amount": final, "created_at": created,
            "updated_at": closed or accepted or created, "accepted_at": accepted, "closed_at": closed})
        if status == "won" and target in LINES:
            lines.append({"account_id": account, "product_line": target, "since": closed, "upsell_id": next_id})
        next_id += 1
        if len(rows) == BATCH:
            _bulk(engine, Upsell, rows)
            rows = []
    _bulk(engine, Upsell, rows)
    unique = {(row["account_id"], row["product_line"]): row for row in reversed(lines)}  # the first win adds it
    for start in range(0, len(unique), BATCH):
        _bulk(engine, AccountProductLine, list(unique.values())[start:start + BATCH])
    return wanted


def _months(since: datetime) -> list[str]:
    """YYYY-MM from since's month to NOW's month (at most 24)."""
    year, month, out = since.year, since.month, []
    while (year, month) <= (NOW.year, NOW.month):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out[-24:]


def _usage(engine, rng: random.Random) -> int:
    """Each running usage-based deal's monthly revenue since its approval: its starting usage, growing or not."""
    running = sa_select(Registration.id, Registration.approved_at, Registration.created_at,
                        Registration.starting_monthly_usage).where(
        Registration.pricing_model == "usage_based", Registration.status.in_(("approved", "won")))
    count = 0
    for rows in _chunks(engine, running):
        batch = []
        for rid, approved, created, starting in rows:
            amount, trend = Decimal(starting or 1000), rng.uniform(-0.02, 0.06)
            for month in _months(approved or created):
                batch.append({"registration_id": rid, "month": month, "amount": amount.quantize(Decimal("0.01")),
                              "recorded_by_slack_id": "UAE0001", "recorded_at": NOW})
                amount *= Decimal(1 + trend + rng.uniform(-0.03, 0.03))
        for start in range(0, len(batch), BATCH):
            _bulk(engine, UsageRevenue, batch[start:start + BATCH])
        count += len(batch)
    return count


# --- the measurement (in its own process) -----------------------------------------------------------------------

def services_for(url: str):
    from handlers.notify import SlackNotifier
    from workflows.program import Program
    from workflows.services import Services

    program = Program.model_validate({"routing": {"exchange_rates": RATES}})
    return Services(engine=make_engine(url), program=program, notifier=SlackNotifier(program, lambda: NOW),
                    clock=lambda: NOW)


def readers(services) -> list[tuple[str, bool, str]]:
    """(Slack id, admin, time zone) of every partner manager and admin, as the digest job finds them."""
    from sqlmodel import Session

    from storage.models import Role
    from storage.queries import program_runners

    with Session(services.engine) as session:
        runners = program_runners(session)
    return [(m.slack_user_id, m.role == Role.admin, ZONES[n % len(ZONES)]) for n, m in enumerate(runners)]


def digest(services, slack_id: str, admin: bool, zone: str, shared: dict | None = None) -> None:
    """One digest as the digest job builds it (workflows/digest.py digest_content): last week's figures in the
    reader's zone and the week before's headline, lead to close by type, the chart's 12 weeks, and App Home's
    waiting count; `shared` is the run's figures per scope and week (the admins share theirs)."""
    from workflows.digest import Reader, digest_content

    digest_content(services, Reader(slack_id, "", admin, zone), NOW, shared=shared)


def quarterly(services, by) -> str:
    """`partnerbot report --period quarter [--by partner] --format csv`, through the CLI's own function."""
    from bot.cli_report import Format, _content
    from workflows.periods import Period
    from workflows.reporting import Scope, compute_figures, lead_to_close_by

    period = Period.parse("quarter", NOW, services.program.nudges.default_time_zone)
    text_of, _ = _content(services, period, Scope.everything(), by, 5, compute_figures, lead_to_close_by)
    return text_of(Format.csv)


def peak_mb() -> float:
    """The process's resident memory high-water mark in MB: Linux's VmHWM, which starts anew at exec (getrusage's
    ru_maxrss keeps the parent's from before it, so a child started by this big process would report that)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)


def measure(url: str) -> dict:
    """Every digest, then the quarterly report (every figure, and by partner); seconds and the RSS high-water mark."""
    from workflows.report_figures import GroupBy

    services = services_for(url)
    people = readers(services)
    before = peak_mb()
    from workflows.digest import Reader, share_manager_weeks

    started, managers, admins, shared = time.perf_counter(), [], [], {}
    # As the digest job does: the managers' figures computed together per week and zone (each digest then reads
    # its share; this time counts in "every digest", not in each manager's).
    share_manager_weeks(services, [Reader(s, "", a, z) for s, a, z in people], NOW, shared, {})
    batch = time.perf_counter() - started
    # The admins' first: the whole program is the largest scope. Past GIVE_UP seconds the rest are left out (said).
    for slack_id, admin, zone in sorted(people, key=lambda person: not person[1]):
        if time.perf_counter() - started > GIVE_UP:
            break
        one = time.perf_counter()
        digest(services, slack_id, admin, zone, shared)
        (admins if admin else managers).append(time.perf_counter() - one)
    digests = time.perf_counter() - started
    digests_mb = peak_mb()
    report = {}
    for name, by in (("every figure", None), ("by partner", GroupBy.partner)):
        one = time.perf_counter()
        lines = quarterly(services, by).count("\n") - 1
        report[name] = (time.perf_counter() - one, lines)
    return {"managers": managers, "admins": admins, "readers": len(people), "digests": digests, "report": report,
            "batch": batch,
            "start_mb": before,
            "digests_mb": digests_mb, "peak_mb": peak_mb()}


# --- query plans ------------------------------------------------------------------------------------------------

DEAL_TABLES = ("registration", "upsell", "usage_revenue", "customer_account", "account_partner",
               "account_product_line")


def whole_reads(url: str) -> list[tuple[str, str]]:
    """(statement, plan) of every report query (a manager's digest, an admin's, the quarterly reports) whose plan
    reads a deal table whole (SQLite: SCAN table; PostgreSQL: Seq Scan)."""
    from tests.test_query_plans import plans
    from workflows.report_figures import GroupBy

    services = services_for(url)
    people = readers(services)
    manager = next(person for person in people if not person[1])
    admin = next(person for person in people if person[1])
    found = []
    for run in (lambda _: digest(services, *manager), lambda _: digest(services, *admin),
                lambda _: quarterly(services, None), lambda _: quarterly(services, GroupBy.partner)):
        for plan in plans(services.engine, run):
            lines = [line for line in plan.splitlines() if any(
                line.strip().startswith((f"SCAN {t}", f"-> Seq Scan on {t} ", f"Seq Scan on {t} ")) or
                f"Seq Scan on {t} " in line for t in DEAL_TABLES)]
            if lines:
                found.append(("\n".join(lines), plan))
    return found


# --- the run ----------------------------------------------------------------------------------------------------

def child(url: str, what: str) -> dict | list:
    """Run `what` (measure or plans) in a fresh Python process: its peak memory is the reports' alone."""
    done = subprocess.run([sys.executable, __file__, f"--{what}", url], check=True, capture_output=True, text=True,
                          env=os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    return json.loads(done.stdout.splitlines()[-1])


def table_of(name: str, registrations: int, result: dict, load_seconds: float) -> Table:
    ms = lambda seconds: f"{seconds * 1000:,.0f}"  # noqa: E731
    managers, admins = result["managers"], result["admins"]
    table = Table(title=f"{name}: reports over {registrations:,} registrations (data generated in "
                        f"{load_seconds:,.0f} s)")
    for column, justify in (("what", "left"), ("how many", "right"), ("total s", "right"),
                            ("p50 ms", "right"), ("p99 ms", "right"), ("max ms", "right")):
        table.add_column(column, justify=justify)
    if "batch" in result:  # the managers' figures, computed together per week and zone before their digests
        table.add_row("partner managers' figures, batched per week and zone", f"{len(managers)}",
                      f"{result['batch']:.2f}", "", "", "")
    for label, samples in ((f"digest of a partner manager ({PARTNERS // MANAGERS} partners), its share",
                            managers), ("digest of an admin (whole program)", admins)):
        if samples:
            table.add_row(label, f"{len(samples)}", f"{sum(samples):.2f}", ms(statistics.median(samples)),
                          ms(p(samples, 0.99)), ms(max(samples)))
    built = len(managers) + len(admins)
    every = "every digest" if built == result["readers"] else \
        f"{built} of {result['readers']} digests (given up after {GIVE_UP} s)"
    table.add_row(f"[bold]{every}[/]", f"{built}", f"[bold]{result['digests']:.2f}[/]", "", "", "")
    for label, (seconds, lines) in result["report"].items():
        table.add_row(f"quarterly report, {label}", f"{lines:,} rows", f"{seconds:.2f}", "", "", "")
    verdict = "met" if built == result["readers"] and result["digests"] <= DIGEST_SECONDS and \
        result["digests_mb"] <= DIGEST_MB else "MISSED"
    table.caption = (f"Peak RSS of the measuring process (VmHWM): {result['start_mb']:.0f} MB "
                     f"before the reports, {result['digests_mb']:.0f} MB after every digest, {result['peak_mb']:.0f} MB "
                     f"after the quarterly report. Target (every digest within {DIGEST_SECONDS} s and under "
                     f"{DIGEST_MB} MB): {verdict}.")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registrations", type=int, default=int(os.environ.get("SCALE", 1_000_000)))
    parser.add_argument("--databases", default="sqlite,postgresql",
                        help="sqlite, postgresql or both (PostgreSQL needs PARTNERBOT_BENCH_DATABASE_URL)")
    parser.add_argument("--plans", action="store_true", help="also list the report queries that read a table whole")
    parser.add_argument("--sqlite-file", type=Path, help="build the SQLite database there and keep it (default: a "
                                                         "temporary file, removed at the end)")
    parser.add_argument("--measure", metavar="URL", help=argparse.SUPPRESS)  # the measuring child process
    parser.add_argument("--plans-of", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure or args.plans_of:
        print(json.dumps(measure(args.measure) if args.measure else whole_reads(args.plans_of)))
        return
    console = Console()
    with tempfile.TemporaryDirectory() as folder:
        targets = []
        if "sqlite" in args.databases:
            targets.append(("SQLite", f"sqlite:///{(args.sqlite_file or Path(folder) / 'reporting.db').resolve()}"))
        if "postgresql" in args.databases and os.environ.get("PARTNERBOT_BENCH_DATABASE_URL"):
            targets.append(("PostgreSQL", os.environ["PARTNERBOT_BENCH_DATABASE_URL"]))
        for name, url in targets:
            console.print(f"[bold]{name}[/]")
            started = time.perf_counter()
            build(url, args.registrations)
            loaded = time.perf_counter() - started
            console.print(table_of(name, args.registrations, child(url, "measure"), loaded))
            if args.plans:
                whole = child(url, "plans-of")
                console.print(f"{name}: {len(whole)} report queries read a deal table whole", style="bold")
                for lines, plan in whole:
                    console.print(plan, markup=False, highlight=False)


if __name__ == "__main__":
    main()
