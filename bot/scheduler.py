"""The one scheduler: periodic jobs that call the same workflows the Slack handlers do.

JOBS is the registry: a job is one entry (name, schedule, what it does, the call). `Scheduler` runs them on
APScheduler while its process leads as "scheduler" (storage/leadership.py): one scheduler acts per deployment,
however many processes run one, and a standby takes over within RETRY_SECONDS of the leader's end. Every run, by
the scheduler or by `partnerbot jobs run`, is recorded in job_run (storage/jobs.py); a job that raises is recorded
as failed and the others go on.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from apscheduler.schedulers.background import BackgroundScheduler

from bot.schedules import Schedule, every
from bot.settings import Settings, redact
from storage.db import lazy_commits
from storage.jobs import JobOutcome, job_runs, record_finish, record_next_run, record_start
from storage.leadership import Leadership
from workflows.decisions import expire_registrations
from workflows.nudge_jobs import send_due_nudges
from workflows.reminders import remind_overdue_reviews
from workflows.retention import forget_old_rows
from workflows.scorecard import send_due_scorecards
from workflows.services import Services
from workflows.upsell_reminders import remind_overdue_upsells

logger = logging.getLogger(__name__)
RETRY_SECONDS = 15.0  # a standby asks for the lead this often; the leader confirms it as often (and before each run)


@dataclass(frozen=True)
class JobContext:
    """What a job may use: the workflows' services, and the settings (the CRM drain's Salesforce credentials)."""

    services: Services
    settings: Settings


@dataclass(frozen=True)
class Job:
    name: str
    schedule: Schedule
    description: str  # one line, for `partnerbot jobs list`
    run: Callable[[JobContext], str]  # does the work; returns its short result ("3 reminded")
    # Its transactions commit without waiting for the disk (storage.db.lazy_commits): every job but one whose own
    # calls go outside the database after a commit it must not lose (the CRM drain's "written").
    lazy_commits: bool = True


def drain_crm(context: JobContext) -> str:
    """The CRM outbox to Salesforce (or the local mirror); what partner managers must hear goes to them in Slack."""
    from storage.crm.writer import drain_outbox
    from workflows.people import tell_program_runners

    services = context.services
    report = drain_outbox(services.engine, context.settings, notify=lambda text: tell_program_runners(services, text),
                          opportunity_type=services.program.upsell.opportunity_type)
    done = f"{report.written or report.mirrored} written ({report.mode}), {report.failed} refused, " \
           f"{report.retrying} to retry"
    return done + (f"; stopped: {report.stopped}" if report.stopped else "")


def send_digests(context: JobContext) -> str:
    """The weekly digests due now (each partner manager and admin once a week, at digest.schedule their time)."""
    from workflows.digest import send_due_digests
    from workflows.nudges import plural

    total = send_due_digests(context.services).total
    return f"{plural(total, 'digest')} queued" if total else "nothing due"


def counted(counts: dict[str, int]) -> str:
    return ", ".join(f"{number} {what}" for what, number in counts.items())


JOBS: tuple[Job, ...] = (
    Job("crm_drain", every(minutes=1), "send pending CRM writes to Salesforce (or the local mirror)", drain_crm,
        lazy_commits=False),
    Job("expire_registrations", every(hours=1), "expire approved registrations whose protection window ended",
        lambda c: f"{expire_registrations(c.services)} expired"),
    Job("remind_overdue_reviews", every(minutes=15), "remind reviewers, then managers, of reviews past the SLA",
        lambda c: f"{remind_overdue_reviews(c.services)} reminded"),
    Job("remind_overdue_upsells", every(minutes=15), "remind AEs, then managers, of upsells past the accept SLA",
        lambda c: f"{remind_overdue_upsells(c.services)} reminded"),
    Job("send_due_nudges", every(minutes=15), "create the nudges due (each sent once, in working hours)",
        lambda c: str(send_due_nudges(c.services))),
    Job("digest", every(minutes=15), "send the weekly digests due (each manager and admin once a week, in their "
        "time zone)", send_digests),
    Job("scorecard", every(hours=1), "send last month's scorecards due (each partner, or referral contact, once a "
        "month, in working hours)", lambda c: str(send_due_scorecards(c.services))),
    Job("forget_old_rows", every(hours=24), "delete delivery keys and sent updates past their retention",
        lambda c: f"deleted {counted(forget_old_rows(c.services))}"),
)


def job_named(name: str, jobs: tuple[Job, ...] = JOBS) -> Job | None:
    return next((job for job in jobs if job.name == name), None)


def with_period(jobs: tuple[Job, ...], **period: float) -> tuple[Job, ...]:
    """The same jobs every `period` (tests and benchmarks run them in fractions of a second)."""
    return tuple(replace(job, schedule=every(**period)) for job in jobs)


@dataclass(frozen=True)
class JobResult:
    outcome: JobOutcome
    result: str


def utc_now() -> datetime:
    """Wall time: when runs happen is an operational fact, whatever clock the workflows are given."""
    return datetime.now(timezone.utc)


def describe_failure(error: Exception, settings: Settings | None) -> str:
    """The error's class and the first line of its message, without secrets."""
    lines = redact(str(error), settings).strip().splitlines()
    return f"{error.__class__.__name__}: {lines[0][:300] if lines else ''}".rstrip(": ")


def run_job(context: JobContext, job: Job, *, ran_by: str,
            next_run: Callable[[], datetime | None] | None = None) -> JobResult:
    """Run `job` once and record it (start, then end: outcome and result). A failure is recorded and logged, not
    raised. `next_run` gives the scheduler's next plan for the job; without it (a run by hand) the plan stays."""
    engine = context.services.engine
    record_start(engine, job.name, at=utc_now(), ran_by=ran_by)
    try:
        with lazy_commits(job.lazy_commits):
            outcome, result = JobOutcome.ok, job.run(context)
    except Exception as error:  # noqa: BLE001 - recorded as failed; the next run tries again
        logger.exception("job %s failed", job.name)
        outcome, result = JobOutcome.failed, describe_failure(error, context.settings)
    record_finish(engine, job.name, at=utc_now(), outcome=outcome, result=result,
                  next_run_at=next_run() if next_run else None, keep_next_run=next_run is None)
    return JobResult(outcome, result)


def who_runs(what: str) -> str:
    return f"{what} on {socket.gethostname()} (pid {os.getpid()})"


class Scheduler:
    """The registry's jobs on APScheduler, run only while this process leads as "scheduler".

    Taking the lead starts them (each catching up once on what it missed: its schedule's `first_run`); losing it
    (a PostgreSQL session cut) stops them until the lead is held again. The lead is confirmed before every run.
    """

    def __init__(self, context: JobContext, jobs: tuple[Job, ...] = JOBS, *, retry_seconds: float = RETRY_SECONDS):
        self.context, self.jobs, self.retry_seconds = context, jobs, retry_seconds
        self.leadership = Leadership(context.services.engine, "scheduler")
        self.ran_by = who_runs("scheduler")
        self._lead = threading.Lock()  # one thread at a time asks for the lead and starts or stops the jobs
        self._running: BackgroundScheduler | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def leading(self) -> bool:
        return self._running is not None

    def start(self) -> "Scheduler":
        self._thread = threading.Thread(target=self._loop, name="scheduler-lead", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.check_lead()
            except Exception:  # noqa: BLE001 - the database restarting, say: ask again at the next turn
                logger.exception("could not ask for the scheduler's lead; trying again in %.0f s", self.retry_seconds)
            self._stopping.wait(self.retry_seconds)

    def check_lead(self) -> bool:
        """Take the lead or confirm it is still ours: start the jobs on taking it, stop them on losing it."""
        with self._lead:
            if self._stopping.is_set():
                return False
            held = self.leadership.try_acquire()
            if held and self._running is None:
                self._running = self._begin()
            elif not held and self._running is not None:
                logger.warning("the scheduler lost its lead: its jobs stop until it leads again")
                self._running.shutdown(wait=False)  # maybe from a job's own thread: never wait for it here
                self._running = None
            return held

    def _begin(self) -> BackgroundScheduler:
        engine, now = self.context.services.engine, utc_now()
        runs = job_runs(engine)
        scheduler = BackgroundScheduler(timezone=timezone.utc, job_defaults={
            # Late or missed runs (a busy machine, downtime) run once, however late: never once per missed period.
            "coalesce": True, "max_instances": 1, "misfire_grace_time": None})
        for job in self.jobs:
            last = runs.get(job.name)
            first = job.schedule.first_run(last.started_at if last else None, now)
            scheduler.add_job(self._run, job.schedule.trigger(), args=[job], id=job.name, name=job.name,
                              next_run_time=first, replace_existing=True)
            record_next_run(engine, job.name, first)  # before it starts: its runs then record their own next
        scheduler.start()
        logger.info("the scheduler leads: %d job(s) (%s)", len(self.jobs), ", ".join(j.name for j in self.jobs))
        return scheduler

    def _run(self, job: Job) -> None:
        if not self.check_lead():
            logger.info("skipped %s: this scheduler %s", job.name,
                        "is stopping" if self._stopping.is_set() else "does not lead")
            return
        run_job(self.context, job, ran_by=self.ran_by, next_run=lambda: self._next_run(job.name))

    def _next_run(self, name: str) -> datetime | None:
        running = self._running
        planned = running.get_job(name) if running is not None else None
        return planned.next_run_time if planned is not None else None

    def stop(self) -> None:
        """Stop asking for the lead, let running jobs finish, and give the lead up."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._lead:
            running, self._running = self._running, None
        if running is not None:
            running.shutdown(wait=True)
        with self._lead:
            self.leadership.release()
