"""Acks and memory under load: `partnerbot serve` beside a bare Bolt app, on a large database, jobs running.

Topology as in production: each app is its own process (`partnerbot serve` with its background worker, and
bench/bare_app.py served by the same waitress set-up); "Slack" (the local sandbox's Web API and its request
driver) is this process. Loopback only.

Two bare apps: "bare bolt" answers when Bolt's dispatch finds the ack (Bolt's default, which looks every 10 ms):
the Bolt app the target is judged against. "bare at ack" is served as `serve` is, answered the moment its listener
acks (bot/server.py AnswerAtAck): against it, what Partnerbot's own work before the ack costs shows.

1. The database gets bench_scale.py's people (5,000 partners, each with a Slack Connect channel and a
   contact; 40 AEs; a partner manager) and --registrations registrations; the sandbox knows the same people.
   The data is as of the bench's start, as in a program whose jobs kept up: serve's jobs (on the wall clock)
   find nothing overdue. --behind-days D dates it D days earlier instead, so they start with D days' work to
   catch up on (reminders, expiries and their messages).
2. Two measured series: each app gets --rate registration-form submissions a second (partner contacts), and
   half that many `/lead` commands and App Home opens (AEs), for --seconds; the driver times each ack. First
   with the jobs at their usual times (serve's own scheduler), then with a third process running the
   SLA-reminder and expiry jobs back to back on the same database, their clocks running fast
   (--job-hours-per-second) so they keep finding work: the worst case for lock contention.
3. Soak: Partnerbot alone at --soak-rate requests a second until it has had --soak requests in all (at most
   --soak-seconds). The resident memory of serve and of its worker is read at start, after 1,000, 2,500 and
   5,000 requests and after --soak.

Usage: python bench/bench_ack.py [--registrations N] [--rate R] [--seconds S] [--soak N] [--logs DIR]
Set PARTNERBOT_BENCH_DATABASE_URL to run against that (PostgreSQL) database as well; its tables are dropped.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import random
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import MetaData, func, update
from sqlmodel import Session, select

from bench_scale import PARTNERS, STAGES, company, grow, seed_people, settle
from processes import Processes, children, cpu, free_port, memory
from bot.demo_data import BOT_USER, OUR_TEAM
from bot.runtime import yield_cpu_to_acks
from bot.sandbox import Sandbox
from bot.scheduler import JOBS, JobContext
from handlers.blocks.registration import build_registration_modal
from handlers.common import DATABASE_BUSY
from handlers.notify import SlackNotifier
from storage.db import create_schema, make_engine, transaction
from storage.models import Partner
from storage.slack.models import SlackMessage, SlackMessageStatus
from workflows.decisions import expire_registrations
from workflows.program import Program
from workflows.reminders import remind_overdue_reviews
from workflows.services import Services

SUBMIT, LEAD, HOME = "submission", "/lead", "App Home"
KINDS = (SUBMIT, LEAD, HOME)
BARE, BARE_AT_ACK = "bare bolt", "bare at ack"
APPS = ("partnerbot", BARE, BARE_AT_ACK)  # the bare apps: bench/bare_app.py
AES = 40  # seed_people's UAE0000..UAE0039
# The partners whose contacts submit the form: those that have registered before (activated and later), as every
# partner holding bench_scale's registrations would be. A recruited or onboarded partner's first registration
# activates it (a lock of its row and a look for an earlier registration, before the ack): once per partner, not
# at each of its submissions as bench_scale's stages, given without regard to its registrations, would make it.
REGISTERING = [n for n in range(PARTNERS) if STAGES[n % len(STAGES)] in ("activated", "producing", "strategic")]
SLACK_LIMIT_MS = 3000.0
TARGET = 1.5
TIMEOUT = 10.0  # the driver's; an ack this late counts at this value, as a failure
# Where the job loop's clocks start in bench_scale's data as of AS_OF (they run --job-hours-per-second from
# there): the first reviews pass the 48-hour SLA at AS_OF + 8 h; approvals (at most 80 days old, protected 90)
# expire from AS_OF + 10 d.
REMINDERS_AFTER, EXPIRY_AFTER = timedelta(hours=8), timedelta(days=10)
DESK_POSTED = "1700000000.000100"  # the partner desks went out long before the bench
MEMORY_AFTER = (1_000, 2_500, 5_000)
# What the user types, by input block; only the blocks the form has are filled (the form changes as we build).
FORM = {"contact_name": "Jane Smith", "contact_email": "jane@bench.example.com", "region": "EMEA", "country": "GB",
        "product_line": "Platform", "estimated_value": "12000", "currency": "USD", "pricing_model": "subscription",
        "company_size": "51-200", "budget": "identified", "timeline": "3-6m", "attribution": "partner_sourced",
        "notes": "benchmark"}


# set-up -----------------------------------------------------------------------------------------------
def job_services(engine, clock) -> Services:
    program = Program()
    return Services(engine=engine, program=program, notifier=SlackNotifier(program, clock), clock=clock)


def prepare_database(url: str, registrations: int, as_of: datetime) -> None:
    """bench_scale's people and registrations as of `as_of`, with the partner desks posted (as on any live
    system)."""
    engine = make_engine(url)
    if engine.dialect.name != "sqlite":  # a database kept between runs: start from nothing
        existing = MetaData()
        existing.reflect(engine)
        existing.drop_all(engine)
    create_schema(engine)
    seed_people(engine, now=as_of)
    grow(engine, 0, registrations, random.Random(7), now=as_of)
    with transaction(engine) as session:  # else serve would post 5,000 desks while acks are measured
        session.execute(update(Partner).values(desk_message_ts=DESK_POSTED))
    catch_up(engine, as_of)
    settle(engine)  # the catch-up's writes, vacuumed and analysed as a live database's would be by now
    engine.dispose()


def catch_up(engine, as_of: datetime) -> None:
    """What a program whose jobs kept up has: every scheduled job (the CRM drain aside: no Salesforce here) run
    at `as_of`, and the messages they owed gone out. A first run on data that never had one would otherwise send
    each partner its first nudges (tens of thousands of messages) while the acks are measured."""
    services = job_services(engine, lambda: as_of)
    for job in JOBS:
        if job.name != "crm_drain":
            job.run(JobContext(services=services, settings=None))
    with transaction(engine) as session:
        owed = session.execute(select(SlackMessage.id, SlackMessage.channel)
                               .where(SlackMessage.status == SlackMessageStatus.pending)).all()
        if owed:
            session.execute(update(SlackMessage), [
                {"id": id_, "status": SlackMessageStatus.sent, "attempts": 1, "sent_at": as_of, "sent_channel": channel,
                 "sent_ts": f"{int(as_of.timestamp())}.{id_:06d}"} for id_, channel in owed])


def populate_sandbox(sandbox: Sandbox) -> None:
    """The same people in Slack: partner orgs with their contact and Slack Connect channel; our AEs and manager."""
    for n in range(AES):
        sandbox.add_user(f"UAE{n:04d}", OUR_TEAM[0], f"AE {n}", email=f"ae{n}@example.com", title="AE")
    sandbox.add_user("UPM0001", OUR_TEAM[0], "Manager", email="pm@example.com", title="Partner manager")
    for n in range(PARTNERS):
        sandbox.add_team(f"TP{n:05d}", f"Partner {n}")
        sandbox.add_user(f"UPC{n:05d}", f"TP{n:05d}", f"Contact {n}", email=f"contact{n}@partner{n}.example")
        sandbox.add_channel(f"CP{n:05d}", f"partner-{n}", members=[f"UPC{n:05d}", "UPM0001"], is_ext_shared=True)


def loop_jobs(url: str, hours_per_second: float, as_of: datetime) -> None:
    """The jobs back to back on the bench's database until terminated; a JSON line of totals every 10 runs."""
    stopping = threading.Event()  # SIGTERM ends the loop between runs, never inside a transaction
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    yield_cpu_to_acks()  # as the worker's process does
    engine = make_engine(url, background=True)
    started = time.monotonic()

    def clock_from(start: datetime):
        return lambda: start + timedelta(hours=(time.monotonic() - started) * hours_per_second)

    reminders = job_services(engine, clock_from(as_of + REMINDERS_AFTER))
    expiry = job_services(engine, clock_from(as_of + EXPIRY_AFTER))
    totals = Counter()
    try:
        while not stopping.is_set():
            try:
                totals["reminded"] += remind_overdue_reviews(reminders)
                totals["expired"] += expire_registrations(expiry)
            except Exception as error:  # noqa: BLE001 - counted and shown; the loop must go on
                totals["errors"] += 1
                print(f"job failed: {error!r}"[:500], flush=True)
            totals["runs"] += 1
            if totals["runs"] % 10 == 0:
                print(json.dumps({**totals, "seconds": time.monotonic() - started}), flush=True)
    finally:
        print(json.dumps({**totals, "seconds": time.monotonic() - started}), flush=True)
        engine.dispose()


# load -------------------------------------------------------------------------------------------------
@dataclass
class Sample:
    app: str
    kind: str
    ms: float
    ok: bool  # answered 200
    refused: str | None = None  # the form answered with errors: Partnerbot's "very busy, try again", or worse
    at: float = 0.0  # when it was sent (time.monotonic())
    error: str | None = None  # why it got no answer


@dataclass
class Load:
    """Plays the users: each send() is one request as Slack delivers it, its ack timed by the driver."""

    sandbox: Sandbox
    urls: dict[str, str]
    on_sent: object = None  # called with the app's request count after each request
    samples: list[Sample] = field(default_factory=list)
    sent: Counter = field(default_factory=Counter)

    def __post_init__(self):
        self.drivers = {app: self.sandbox.driver(url, timeout=TIMEOUT) for app, url in self.urls.items()}
        self.client = self.sandbox.client(timeout=TIMEOUT)
        self.program = Program()
        self.inputs = {block.block_id for block in self.modal(0).blocks if block.type == "input"}
        self.numbers = itertools.count()
        self.lock = threading.Lock()

    def send(self, app: str, kind: str) -> Sample:
        n, driver, at = next(self.numbers), self.drivers[app], time.monotonic()
        try:
            if kind == SUBMIT:
                partner = REGISTERING[n % len(REGISTERING)]
                contact = f"UPC{partner:05d}"
                response = driver.submit(contact, self.open_form(contact, partner), self.form(n))
            elif kind == LEAD:
                response = driver.command(f"UAE{n % AES:04d}", "/lead", f"lead{n}.example.com")
            else:
                response = driver.home_opened(f"UAE{n % AES:04d}")
            body = response.json if isinstance(response.json, dict) else {}
            errors = body.get("errors") if body.get("response_action") == "errors" else None
            sample = Sample(app, kind, response.elapsed * 1000, response.status == 200,
                            refused=json.dumps(errors)[:300] if errors else None, at=at)
        except Exception as error:  # noqa: BLE001 - no answer within TIMEOUT, the app gone, Slack refusing
            sample = Sample(app, kind, (time.monotonic() - at) * 1000, False, at=at,
                            error=f"{error.__class__.__name__}: {error}"[:200])
        self.samples.append(sample)
        with self.lock:
            self.sent[app] += 1
            count = self.sent[app]
        if self.on_sent:
            self.on_sent(app, count)
        return sample

    def open_form(self, user: str, partner: int) -> str:
        """The modal as the app opens it for a partner contact (Slack's side of it: not timed)."""
        return self.client.views_open(trigger_id=self.sandbox.issue_trigger(user),
                                      view=self.modal(partner))["view"]["id"]

    def modal(self, partner: int):
        return build_registration_modal(self.program, choose_partner=False, origin_channel_id=f"CP{partner:05d}",
                                        partner_name=f"Partner {partner}")

    def form(self, n: int) -> dict:
        name = company(random.Random(n), 20_000_000 + n)  # bench_scale's names: near-duplicates included
        values = dict(FORM, company=name, domain=f"{name.replace(' ', '-')}-{n}.com".lower())
        return {block: value for block, value in values.items() if block in self.inputs}


def measured_plan(rate: float, seconds: float) -> list[tuple[float, str, str]]:
    """(when, app, kind): each app `rate` submissions a second and half that many /lead and Home opens,
    evenly interleaved (the apps in turn, each a submission and then a /lead or Home open)."""
    step, plan, turns = 1.0 / rate, [], len(APPS)
    for slot in range(int(rate * seconds)):
        for turn, app in enumerate(APPS):
            plan.append((slot * step + turn * step / turns, app, SUBMIT))
            plan.append((slot * step + (turn + 0.5) * step / turns, app, LEAD if slot % 2 == 0 else HOME))
    return plan


def soak_plan(rate: float, count: int) -> list[tuple[float, str, str]]:
    """Partnerbot alone, `rate` requests a second: a quarter submissions, the rest /lead and Home opens."""
    mix = itertools.cycle((SUBMIT, LEAD, HOME, LEAD, SUBMIT, HOME, LEAD, HOME))
    return [(n / rate, "partnerbot", next(mix)) for n in range(count)]


def run_plan(load: Load, plan: list[tuple[float, str, str]], seconds: float, *,
             concurrency: int = 128) -> float:
    """Send each request at its time, up to `concurrency` at once (Slack does not wait for one ack before the
    next); a request with no free sender waits for one. Stops after `seconds`. Returns the latest send, in ms
    behind its time."""
    slots, behind, start = threading.BoundedSemaphore(concurrency), 0.0, time.perf_counter() + 0.2

    def send(app: str, kind: str) -> None:
        try:
            load.send(app, kind)
        finally:
            slots.release()

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="slack") as pool:
        for at, app, kind in plan:
            if time.perf_counter() - start > seconds:
                break
            delay = start + at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            slots.acquire()  # nothing waits in the pool's queue, so nothing is sent after the bench gives up
            behind = max(behind, time.perf_counter() - start - at)
            pool.submit(send, app, kind)
    return behind * 1000


def keep_gc_off_the_record(stop: threading.Event) -> None:
    """The sandbox keeps every call and view it saw: move them out of the collector's full passes.

    Otherwise those passes walk a record that grows with every request (over a second per pass by 10,000
    requests), freezing "Slack" (triggers expire before the app's views.open gets through) and the driver's
    clock (the freeze is timed as ack latency)."""
    while not stop.wait(1.0):
        gc.freeze()


class GcPauses:
    """The longest garbage-collection pause in this process: a stop of the driver's clock and of "Slack"."""

    def __init__(self) -> None:
        self.longest_ms, self._started = 0.0, 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.longest_ms = max(self.longest_ms, (time.perf_counter() - self._started) * 1000)


# the run ----------------------------------------------------------------------------------------------
QUIET, BUSY, SOAK = "jobs on their schedule", "jobs looping", "soak"


@dataclass
class Phase:
    name: str
    samples: list[Sample]
    behind_ms: float  # the latest send behind its time
    cpu: tuple[dict, dict]  # CPU seconds by role at its start and end


@dataclass
class Result:
    target: str
    phases: dict[str, Phase] = field(default_factory=dict)
    memory: list[tuple[str, dict]] = field(default_factory=list)  # (when, MB by role)
    jobs: dict = field(default_factory=dict)
    api_errors: Counter = field(default_factory=Counter)
    outbox: dict = field(default_factory=dict)
    logged: dict[str, Counter] = field(default_factory=dict)
    gc_pause_ms: float = 0.0


def bench(target: str, url: str, options: argparse.Namespace, console: Console) -> Result:
    started = time.monotonic()
    as_of = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=options.behind_days)
    prepare_database(url, options.registrations, as_of)
    console.print(f"  {options.registrations:,} registrations stored in {time.monotonic() - started:.0f} s")
    secret, token = secrets.token_hex(16), "xoxb-bench-" + secrets.token_hex(8)
    result, stop_freezing, pauses = Result(target), threading.Event(), GcPauses()
    with tempfile.TemporaryDirectory() as folder, \
            Sandbox(secret, token, team_id=OUR_TEAM[0], team_name=OUR_TEAM[1], bot_user_id=BOT_USER) as sandbox:
        processes = Processes(Path(folder))
        populate_sandbox(sandbox)
        gc.freeze()
        threading.Thread(target=keep_gc_off_the_record, args=(stop_freezing,), daemon=True).start()
        gc.callbacks.append(pauses)
        env = dict(os.environ, SLACK_BOT_TOKEN=token, SLACK_SIGNING_SECRET=secret, SLACK_API_URL=sandbox.api_url,
                   DATABASE_URL=url, LOG_LEVEL="WARNING")
        for name in ("SLACK_APP_TOKEN", "PROGRAM_FILE"):  # HTTP, and the built-in program rules the form is built with
            env.pop(name, None)
        logs = {name: Path(folder) / f"{name.replace(' ', '-')}.log" for name in (*APPS, "jobs")}
        ports = {app: free_port() for app in APPS}
        try:
            pids = {"serve": processes.start([sys.executable, "-m", "bot.cli", "serve"],
                                             dict(env, PORT=str(ports["partnerbot"])), logs["partnerbot"],
                                             ports["partnerbot"]).pid,
                    **{bare: processes.start([sys.executable, str(Path(__file__).with_name("bare_app.py"))],
                                             dict(env, PORT=str(ports[bare]), BARE_ANSWER_AT_ACK=str(int(at_ack))),
                                             logs[bare], ports[bare]).pid
                       for bare, at_ack in ((BARE, False), (BARE_AT_ACK, True))}}
            _wait_for_worker(pids["serve"])
            jobs = [sys.executable, __file__, "--jobs-loop", url, "--job-hours-per-second",
                    str(options.job_hours_per_second), "--as-of", as_of.isoformat()]
            drive(result, Load(sandbox, {app: f"http://127.0.0.1:{port}/slack/events" for app, port in ports.items()}),
                  pids, options, lambda: processes.start(jobs, env, logs["jobs"]), processes.stop, pauses)
            pauses_ms = pauses.longest_ms
        finally:
            processes.stop_all()
            stop_freezing.set()
            gc.callbacks.remove(pauses)
        result.gc_pause_ms = pauses_ms
        result.jobs = _last_json(logs["jobs"])
        result.api_errors = Counter(f"{c.method}: {c.response.get('error')}" for c in sandbox.calls() if not c.ok)
        result.logged = {name: logged_problems(log) for name, log in logs.items() if log.exists()}
        if options.logs:
            options.logs.mkdir(parents=True, exist_ok=True)
            for log in logs.values():
                if log.exists():
                    shutil.copy(log, options.logs / f"{target.lower()}-{log.name}")
    result.outbox = outbox_counts(url)
    return result


def drive(result: Result, load: Load, pids: dict[str, int], options: argparse.Namespace, start_jobs, stop_jobs,
          pauses: GcPauses) -> None:
    """Warm both apps; the series with the jobs at their usual times, then looping; the soak without the loop
    (it is about serve's memory). Memory at the checkpoints."""
    checkpoints = {*(c for c in MEMORY_AFTER if c < options.soak), options.soak}

    def on_sent(app: str, count: int) -> None:
        if app == "partnerbot" and count in checkpoints:
            result.memory.append((f"after {count:,} requests", memory(pids)))

    result.memory.append(("after start", memory(pids)))
    load.on_sent = on_sent
    for _ in range(10):  # warm: a live app has served these paths before
        for app, kind in itertools.product(APPS, KINDS):
            load.send(app, kind)
    pauses.longest_ms = 0.0
    for name in (QUIET, BUSY):
        if name == BUSY:
            jobs = start_jobs()
            pids["jobs"] = jobs.pid
            time.sleep(2)  # its imports done, it is into the loop
        result.phases[name] = run_phase(name, load, pids, measured_plan(options.rate, options.seconds),
                                        options.seconds)
    stop_jobs(jobs)
    plan = soak_plan(options.soak_rate, options.soak - load.sent["partnerbot"])
    result.phases[SOAK] = run_phase(SOAK, load, pids, plan, options.soak_seconds)
    if load.sent["partnerbot"] < options.soak:
        result.memory.append((f"after {load.sent['partnerbot']:,} (time up)", memory(pids)))


def run_phase(name: str, load: Load, pids: dict[str, int], plan: list, seconds: float) -> Phase:
    before, first = cpu(pids), len(load.samples)
    behind = run_plan(load, plan, seconds)
    return Phase(name, load.samples[first:], behind, (before, cpu(pids)))


def logged_problems(log: Path) -> Counter:
    """Warnings and errors a process logged (LOG_LEVEL=WARNING keeps only those), by level, logger and text."""
    found = Counter()
    for line in log.read_text(errors="replace").splitlines():
        for level in (" WARNING ", " ERROR ", " CRITICAL "):
            if level in line:
                found[f"{level.strip()} {line.split(level, 1)[1]}"[:160]] += 1
        if line.startswith(("Traceback", "job failed")):
            found[line[:160]] += 1
    return found


def _wait_for_worker(serve: int) -> None:
    """serve starts its background worker once it answers; let it import and settle before reading RSS."""
    deadline = time.monotonic() + 30
    while not children(serve) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(2)


def _last_json(log: Path) -> dict:
    if not log.exists():
        return {}
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


def outbox_counts(url: str) -> dict:
    """Messages in the Slack outbox by status, the failed ones by their last error."""
    engine = make_engine(url)
    with Session(engine) as session:
        rows = session.exec(select(SlackMessage.status, SlackMessage.last_error, func.count())
                            .group_by(SlackMessage.status, SlackMessage.last_error)).all()
    engine.dispose()
    counts = Counter()
    for status, error, count in rows:
        counts[str(status) if status != "failed" else f"failed ({error})"] += count
    return dict(counts)


# the report -------------------------------------------------------------------------------------------
def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def report(result: Result, options: argparse.Namespace, console: Console) -> None:
    behind = f"{options.behind_days:g} days behind the clock" if options.behind_days else "as of the start"
    console.print(f"[bold]{result.target}, {options.registrations:,} registrations ({behind})[/]: acks (ms) with "
                  f"each app getting "
                  f"{options.rate:g} form submissions, {options.rate / 2:g} /lead and {options.rate / 2:g} App Home "
                  f"opens a second for {options.seconds:g} s")
    for name in (QUIET, BUSY):
        _ack_table(result.phases[name], console)
    console.print("  >3 s: acks Slack would have given up on; failed: not answered 200; busy: the form answered "
                  "\"very busy, try again\"")
    soak = result.phases[SOAK]
    table = Table(title=f"soak: Partnerbot alone, {len(soak.samples):,} requests at up to {options.soak_rate:g} a "
                        f"second, a quarter of them submissions (sent up to {soak.behind_ms:.0f} ms late)")
    for column in ("request", "n", "p50", "p99", "max", ">3 s", "failed", "busy"):
        table.add_column(column, justify="left" if column == "request" else "right")
    for kind in KINDS:
        samples = [s for s in soak.samples if s.kind == kind]
        if samples:
            table.add_row(kind, *_latency_cells(samples))
    console.print(table)

    rss = Table(title="resident memory of `partnerbot serve` (MB)")
    for column in ("when", "serve", "its worker", "other", "in all", BARE):
        rss.add_column(column, justify="left" if column == "when" else "right")
    for label, row in result.memory:
        cells = [row.get(role, 0.0) for role in ("serve", "worker", "other")]
        rss.add_row(label, *(f"{mb:.0f}" for mb in cells), f"{sum(cells):.0f}", f"{row.get(BARE, 0):.0f}")
    console.print(rss)
    console.print("  other: serve's other child, multiprocessing's resource tracker")
    console.print(_cpu_table(result))

    jobs = result.jobs
    console.print(f"  the job loop: {jobs.get('runs', 0):,} runs of both jobs in {jobs.get('seconds', 0):.0f} s; "
                  f"{jobs.get('reminded', 0):,} reminders, {jobs.get('expired', 0):,} expiries, "
                  f"{jobs.get('errors', 0)} failures")
    console.print(f"  the driver's process: longest garbage-collection pause {result.gc_pause_ms:.0f} ms")
    console.print(f"  Slack outbox at the end: {result.outbox}")
    errors = ", ".join(f"{name} x{count}" for name, count in result.api_errors.most_common()) or "none"
    console.print(f"  Web API errors the sandbox answered: {errors}")
    samples = [s for phase in result.phases.values() for s in phase.samples]
    for text, count in Counter(s.refused for s in samples if s.refused and not _busy(s)).most_common(3):
        console.print(f"  [red]form refused x{count}:[/] {text}")
    for text, count in Counter(s.error for s in samples if s.error).most_common(3):
        console.print(f"  [red]no answer x{count}:[/] {text}")
    for name, found in result.logged.items():
        for line, count in found.most_common(3):
            console.print(f"  {name} logged x{count}: {line}")


def _ack_table(phase: Phase, console: Console) -> None:
    by = {}
    for sample in phase.samples:
        by.setdefault((sample.kind, sample.app), []).append(sample)
    table = Table(title=f"{phase.name} (sent up to {phase.behind_ms:.0f} ms late)")
    for column in ("request", "app", "n", "p50", "p99", "max", ">3 s", "failed", "busy", "p99/bare",
                   "p99/at ack"):
        table.add_column(column, justify="left" if column in ("request", "app") else "right")
    verdicts = []
    for kind in KINDS:
        p99 = {app: percentile([s.ms for s in by[(kind, app)]], 0.99) for app in APPS}
        for app in APPS:
            table.add_row(kind, app, *_latency_cells(by[(kind, app)]), f"{p99[app] / p99[BARE]:.2f}x",
                          f"{p99[app] / p99[BARE_AT_ACK]:.2f}x")
        ratio, worst = p99["partnerbot"] / p99[BARE], max(s.ms for s in by[(kind, "partnerbot")])
        verdicts.append(f"{kind} p99 {ratio:.2f}x the bare app's: {'within' if ratio <= TARGET else '[red]OUTSIDE[/]'}"
                        f" {TARGET}x (and {p99['partnerbot'] / p99[BARE_AT_ACK]:.2f}x the bare app answered at its "
                        f"ack); max {worst:.0f} ms: "
                        f"{'far from' if worst < SLACK_LIMIT_MS / 3 else '[red]near or over[/]'} 3 s")
    console.print(table)
    for line in verdicts:
        console.print(f"  {phase.name}: Partnerbot {line}")


def _cpu_table(result: Result) -> Table:
    """Cores busy on average in each phase, by process, and what the rest of the machine used meanwhile."""
    roles = ("serve", "worker", BARE, BARE_AT_ACK, "jobs", "Slack (this process)")
    table = Table(title=f"CPU: cores busy on average (of {os.cpu_count()}); the rest of the machine includes other "
                        "users and any database server")
    for column in ("phase", *roles, "rest of the machine"):
        table.add_column(column, justify="left" if column == "phase" else "right")
    for phase in result.phases.values():
        before, after = phase.cpu
        wall = after["wall"] - before["wall"]
        used = {role: (after.get(role, 0.0) - before.get(role, 0.0)) / wall for role in (*roles, "other", "machine")}
        rest = used["machine"] - sum(used[role] for role in (*roles, "other"))
        table.add_row(phase.name, *(f"{used[role]:.2f}" for role in roles), f"{rest:.2f}")
    return table


def _busy(sample: Sample) -> bool:
    return sample.refused is not None and json.dumps(DATABASE_BUSY)[1:-1] in sample.refused


def _latency_cells(samples: list[Sample]) -> list[str]:
    ms = [s.ms for s in samples]
    return [str(len(ms)), f"{statistics.median(ms):.1f}", f"{percentile(ms, 0.99):.1f}", f"{max(ms):.1f}",
            str(sum(m >= SLACK_LIMIT_MS for m in ms)), str(sum(not s.ok for s in samples)),
            str(sum(_busy(s) for s in samples))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--registrations", type=int, default=100_000, help="registrations in the database")
    parser.add_argument("--rate", type=float, default=10.0, help="form submissions a second, per app")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the measured series")
    parser.add_argument("--soak", type=int, default=10_000, help="Partnerbot requests in all, then RSS")
    parser.add_argument("--soak-seconds", type=float, default=300.0, help="time limit of the soak")
    parser.add_argument("--soak-rate", type=float, default=40.0, help="requests a second in the soak")
    parser.add_argument("--job-hours-per-second", type=float, default=0.1,
                        help="how fast the jobs' clock runs (work for them: reminders as reviews pass another "
                             "SLA period, expiries)")
    parser.add_argument("--behind-days", type=float, default=0.0,
                        help="the data as of this many days before the bench starts: serve's jobs, on the wall "
                             "clock, start with that much work to catch up on (0: a program whose jobs kept up)")
    parser.add_argument("--no-sqlite", action="store_true", help="only PostgreSQL (PARTNERBOT_BENCH_DATABASE_URL)")
    parser.add_argument("--logs", type=Path, help="keep the processes' logs in this folder")
    parser.add_argument("--samples", type=Path, help="write every timed request here (JSON) to look into")
    parser.add_argument("--jobs-loop", metavar="DATABASE_URL", help=argparse.SUPPRESS)
    parser.add_argument("--as-of", type=datetime.fromisoformat, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.jobs_loop:
        loop_jobs(options.jobs_loop, options.job_hours_per_second, options.as_of)
        return 0
    # Sandbox threads answer the apps' Web API calls in this process: let the driver's threads in promptly.
    sys.setswitchinterval(0.001)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop what we started, as on Ctrl-C
    console = Console(width=132)
    targets = [] if options.no_sqlite else [("SQLite", None)]
    if os.environ.get("PARTNERBOT_BENCH_DATABASE_URL"):
        targets.append(("PostgreSQL", os.environ["PARTNERBOT_BENCH_DATABASE_URL"]))
    with tempfile.TemporaryDirectory() as folder:
        for target, url in targets:
            console.print(f"[bold]{target}[/]")
            result = bench(target, url or f"sqlite:///{Path(folder) / 'bench.db'}", options, console)
            report(result, options, console)
            if options.samples:
                with options.samples.with_suffix(f".{target.lower()}.json").open("w") as file:
                    json.dump({name: [asdict(s) for s in phase.samples] for name, phase in result.phases.items()},
                              file)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("interrupted; everything the bench started is stopped")
