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
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

from rich.console import Console
from sqlalchemy import MetaData, func, update
from sqlmodel import Session, select

from ack_load import AES, GcPauses, Load, keep_gc_off_the_record, measured_plan, run_plan, soak_plan
from ack_report import APPS, BARE, BARE_AT_ACK, BUSY, KINDS, QUIET, SOAK, Phase, Result, report
from bench_scale import PARTNERS, grow, seed_people, settle
from processes import Processes, children, cpu, free_port, memory
from bot.demo_data import BOT_USER, OUR_TEAM
from bot.runtime import yield_cpu_to_acks
from bot.sandbox import Sandbox
from bot.scheduler import JOBS, JobContext
from handlers.notify import SlackNotifier
from storage.db import create_schema, lazy_commits, make_engine, transaction
from storage.models import Partner
from storage.slack.models import SlackMessage, SlackMessageStatus
from workflows.decisions import expire_registrations
from workflows.program import Program
from workflows.reminders import remind_overdue_reviews
from workflows.services import Services

# Where the job loop's clocks start in bench_scale's data as of AS_OF (they run --job-hours-per-second from
# there): the first reviews pass the 48-hour SLA at AS_OF + 8 h; approvals (at most 80 days old, protected 90)
# expire from AS_OF + 10 d.
REMINDERS_AFTER, EXPIRY_AFTER = timedelta(hours=8), timedelta(days=10)
DESK_POSTED = "1700000000.000100"  # the partner desks went out long before the bench
MEMORY_AFTER = (1_000, 2_500, 5_000)


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
                with lazy_commits():  # as the scheduler runs these jobs (bot.scheduler.run_job)
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


# the run ----------------------------------------------------------------------------------------------
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
