"""`partnerbot jobs list|run` and `partnerbot scheduler`: the scheduled jobs, seen and run by operators."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime

import typer
from rich.console import Console
from rich.table import Table

from bot.scheduler import JOBS, JobContext, Scheduler, job_named, run_job, who_runs
from storage.jobs import JobOutcome, JobRun, job_runs
from storage.leadership import is_held

jobs_app = typer.Typer(help="The scheduled jobs: their schedules and last runs; run one now.", no_args_is_help=True)
console = Console(soft_wrap=True)
logger = logging.getLogger(__name__)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "never"


def _last_run(run: JobRun | None) -> tuple[str, str, str]:
    """(when, outcome, result) of the last run; a run under way shows as running since its start."""
    if run is None or run.started_at is None:
        return "never", "", ""
    if run.finished_at is None or run.finished_at < run.started_at:
        previous = f"before: {run.outcome}" if run.outcome else ""
        return f"{_when(run.started_at)}", "[yellow]running[/]", previous
    colour = "green" if run.outcome == JobOutcome.ok else "red"
    return _when(run.started_at), f"[{colour}]{run.outcome}[/]", run.result or ""


@jobs_app.command("list")
def list_jobs() -> None:
    """Each job: its schedule, its last run (outcome and result) and its next run."""
    from bot.cli import settings_or_exit
    from bot.runtime import open_database

    engine = open_database(settings_or_exit())
    runs, leading = job_runs(engine), is_held(engine, "scheduler")
    table = Table(title="Scheduled jobs")
    for column in ("Job", "Schedule", "Last run", "Outcome", "Result", "Next run"):
        table.add_column(column)
    for job in JOBS:
        run = runs.get(job.name)
        planned = "no scheduler running" if not leading else _when(run.next_run_at) if run and run.next_run_at \
            else "not planned"
        table.add_row(f"{job.name}\n[dim]{job.description}[/]", job.schedule.describe(), *_last_run(run), planned)
    console.print(table)
    if not leading:
        console.print("No scheduler holds the lead: `partnerbot serve` runs one (unless SCHEDULER=off), "
                      "`partnerbot scheduler` runs one alone.")


@jobs_app.command("run")
def run(name: str = typer.Argument(..., help="The job's name, as `partnerbot jobs list` shows it.")) -> None:
    """Run one job now in this process, record the run and print its result (exit 1 when it fails).

    Slack messages it queues are sent by `partnerbot serve`'s worker, which looks for them every second.
    """
    job = job_named(name)
    if job is None:
        console.print(f"[bold red]No job named {name!r}.[/] The jobs are: {', '.join(j.name for j in JOBS)}",
                      highlight=False)
        raise typer.Exit(2)
    context = _job_context()
    result = run_job(context, job, ran_by=who_runs("jobs run"))
    colour = "green" if result.outcome == JobOutcome.ok else "red"
    console.print(f"{job.name}: [{colour}]{result.outcome}[/]: {result.result}", highlight=False)
    raise typer.Exit(0 if result.outcome == JobOutcome.ok else 1)


def _job_context() -> JobContext:
    """The jobs' services, as `serve` builds them (the database at the current schema, Slack's answer to
    auth.test, Salesforce settings checked); problems end the command with one line each, exit 2."""
    from bot.app import build_services, make_client
    from bot.cli import checked_start
    from bot.runtime import open_database

    settings, program = checked_start("since the jobs tell people in Slack")
    engine = open_database(settings, background=True)  # jobs make way for serve's acks on the same database
    return JobContext(build_services(engine=engine, program=program, client=make_client(settings),
                                      settings=settings), settings)


def run_scheduler() -> None:
    """Run only the scheduler, in the foreground, until SIGTERM or Ctrl-C.

    Use it with `partnerbot serve` under SCHEDULER=off, or beside serve: one scheduler leads per database and the
    others stand by to take over. The Slack messages its jobs queue are sent by `partnerbot serve`'s worker, which
    looks for them every second.
    """
    context = _job_context()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    scheduler = Scheduler(context).start()
    logger.info("scheduler started (%d jobs); it runs them while it holds the lead", len(JOBS))
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        logger.info("scheduler stopping: letting running jobs finish")
        scheduler.stop()
        context.services.engine.dispose()
