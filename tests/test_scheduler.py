"""The scheduler: one job registry, every run recorded, one scheduler acting per database, catch-up once after
downtime, and the `jobs` commands. Periods are fractions of a second here; nothing sleeps beyond a few hundred ms."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import Session, func, select

from bot.schedules import cron, every
from bot.scheduler import JOBS, Job, JobContext, Scheduler, job_named, run_job, with_period
from bot.settings import Settings
from handlers.notify import SlackNotifier
from storage.db import transaction
from storage.jobs import JobRun, job_runs, record_finish, record_start
from storage.leadership import LEADERSHIP_LOCKS, Leadership, is_held
from storage.models import RegistrationStatus, Reminder
from storage.nudges.models import Nudge
from storage.slack.models import SlackMessage
from tests.support import wait_until
from tests.test_jobs_at_scale import registration_row, store
from workflows.program import Program
from workflows.services import Services

TICK = 0.05  # a standby's retry, in tests


def context_for(engine, now) -> JobContext:
    program = Program()
    return JobContext(Services(engine=engine, program=program, notifier=SlackNotifier(program, lambda: now),
                               clock=lambda: now), Settings(_env_file=None))


@pytest.fixture
def context(engine, now):
    return context_for(engine, now)


def counting(name: str, runs: list, schedule=None, label: str = "") -> Job:
    """A job that notes each run in `runs` (as `label`, to tell schedulers apart)."""
    return Job(name, schedule or every(seconds=TICK), "counts its runs",
               lambda context: runs.append(label) or f"run {len(runs)}")


def test_the_registry_keeps_the_job_names_each_with_a_schedule_and_a_description():
    assert {job.name: job.schedule.describe() for job in JOBS} == {
        "crm_drain": "every minute", "expire_registrations": "every hour", "remind_overdue_reviews":
        "every 15 minutes", "remind_overdue_upsells": "every 15 minutes", "send_due_nudges": "every 15 minutes",
        "digest": "every 15 minutes", "scorecard": "every hour", "forget_old_rows": "every 24 hours"}
    assert len({job.name for job in JOBS}) == len(JOBS)
    assert all(job.description and "\n" not in job.description for job in JOBS)
    assert job_named("remind_overdue_reviews") is JOBS[2] and job_named("nope") is None


def test_schedules_read_as_people_say_them():
    assert every(seconds=30).describe() == "every 30 seconds"
    assert every(days=7).describe() == "every 7 days"
    assert every(minutes=90).describe() == "every 90 minutes"
    assert cron(hour=8, day_of_week="mon").describe() == "Mondays 08:00 UTC"
    assert cron(hour=9, minute=30).describe() == "daily 09:30 UTC"
    assert cron(hour=7, day_of_week="mon-fri").describe() == "Monday-Friday 07:00 UTC"
    assert cron(hour=8, day="1-7", month="1,4,7,10").describe() == "daily, days 1-7 of the month, months 1,4,7,10 " \
                                                                   "08:00 UTC"


def test_after_downtime_a_job_is_due_once_and_a_job_never_run_as_its_schedule_says():
    now = datetime(2026, 11, 4, 12, 0, tzinfo=timezone.utc)  # a Wednesday
    hourly, weekly = every(hours=1), cron(hour=8, day_of_week="mon")
    assert hourly.first_run(now - timedelta(days=3), now) == now  # 72 periods missed: one run, now
    assert hourly.first_run(now - timedelta(minutes=20), now) == now + timedelta(minutes=40)  # a restart: no repeat
    assert hourly.first_run(None, now) == now  # never run: right away
    assert weekly.first_run(now - timedelta(days=8), now) == now  # Monday 08:00 passed while down: now, once
    monday = datetime(2026, 11, 9, 8, 0, tzinfo=timezone.utc)
    assert weekly.first_run(datetime(2026, 11, 2, 8, 0, 1, tzinfo=timezone.utc), now) == monday  # ran this Monday
    assert weekly.first_run(None, now) == monday  # never run: on its day, not on the day it was installed


def test_every_run_is_recorded_ok_or_failed_and_a_failure_never_shows_a_secret(context, engine, monkeypatch):
    monkeypatch.setenv("SALESFORCE_PASSWORD", "hunter2-secret")

    def refuse(_context):
        raise RuntimeError("login refused for https://bot:pa55word@crm.example.com with hunter2-secret\ntrace")

    ok = run_job(context, Job("tidy", every(hours=1), "tidies", lambda c: "3 tidied"), ran_by="jobs run on test")
    failed = run_job(context, Job("login", every(hours=1), "logs in", refuse), ran_by="jobs run on test")
    assert (ok.outcome, ok.result) == ("ok", "3 tidied")
    assert (failed.outcome, failed.result) == ("failed",
                                               "RuntimeError: login refused for https://bot:***@crm.example.com "
                                               "with ***")
    runs = job_runs(engine)
    assert (runs["tidy"].outcome, runs["tidy"].result, runs["tidy"].ran_by) == ("ok", "3 tidied", "jobs run on test")
    assert runs["login"].outcome == "failed" and "hunter2" not in runs["login"].result
    assert runs["tidy"].started_at <= runs["tidy"].finished_at


def test_a_run_by_hand_leaves_the_schedulers_plan_alone(context, engine):
    planned = datetime(2030, 1, 1, tzinfo=timezone.utc)
    record_start(engine, "tidy", at=planned - timedelta(hours=1), ran_by="scheduler")
    record_finish(engine, "tidy", at=planned - timedelta(hours=1), outcome="ok", result="0", next_run_at=planned)
    run_job(context, Job("tidy", every(hours=1), "tidies", lambda c: "1 tidied"), ran_by="jobs run")
    assert (job_runs(engine)["tidy"].result, job_runs(engine)["tidy"].next_run_at) == ("1 tidied", planned)


def test_jobs_commit_lazily_on_postgresql_but_the_crm_drain_and_the_runs_record_do_not(context, engine):
    """A job's writes are derived again by its next run; the CRM drain's "written" after its Salesforce calls is
    not, and neither is the record of the run."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: SQLite in WAL mode with synchronous=NORMAL does not sync at commit")

    def commits(_context) -> str:
        with transaction(engine) as session:
            return session.connection().exec_driver_sql("SHOW synchronous_commit").scalar()

    assert run_job(context, Job("tidy", every(hours=1), "tidies", commits), ran_by="test").result == "off"
    drain = job_named("crm_drain")
    assert not drain.lazy_commits and all(job.lazy_commits for job in JOBS if job is not drain)
    assert run_job(context, replace(drain, run=commits), ran_by="test").result == "on"
    assert commits(context) == "on"


def test_a_failing_job_is_recorded_and_the_scheduler_goes_on(context, engine):
    runs = []

    def broken(_context):
        raise ValueError("no such partner")

    scheduler = Scheduler(context, (Job("broken", every(seconds=TICK), "fails", broken), counting("steady", runs)),
                          retry_seconds=TICK).start()
    try:
        wait_until(lambda: len(runs) >= 3)
        wait_until(lambda: (job_runs(engine).get("broken") or JobRun(name="")).outcome == "failed")
    finally:
        scheduler.stop()
    broken_run = job_runs(engine)["broken"]
    assert broken_run.result == "ValueError: no such partner" and broken_run.ran_by.startswith("scheduler on ")
    assert job_runs(engine)["steady"].outcome == "ok"


def overdue_review(engine, now) -> None:
    """One registration waiting for its reviewer UAE past the approval SLA (one period: the reviewer's reminder)."""
    waiting = now - timedelta(hours=Program().approval_sla_hours + 1)
    store(engine, lambda pid: [registration_row(pid, 1, status=RegistrationStatus.under_review,
                                                assigned_to_slack_id="UAE", updated_at=waiting)])


def reminders_to(engine, recipient: str) -> int:
    """Messages queued for `recipient` (a person's DM or a channel)."""
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(SlackMessage).where(
            SlackMessage.channel == recipient)).one()


def test_two_schedulers_started_together_one_acts_and_each_reminder_and_nudge_goes_once(engine, database_url, now):
    """Both run the real review reminder and nudge jobs every 50 ms; the second takes over when the first stops."""
    from storage.db import make_engine
    from tests.test_nudges import add_partner, make_services

    overdue_review(engine, now)
    for i in range(5):  # onboarded three weeks ago, no registration: each is owed the activation nudge
        add_partner(engine, f"Stalled {i}", since=now - timedelta(days=21), channel=f"CSTALL{i}")
    other_engine = make_engine(database_url)
    runs: list[str] = []
    real = with_period((job_named("remind_overdue_reviews"), job_named("send_due_nudges")), seconds=TICK)

    def scheduler(engine_, label: str) -> Scheduler:
        context = JobContext(make_services(engine_, lambda: now), Settings(_env_file=None))
        return Scheduler(context, real + (counting("probe", runs, label=label),), retry_seconds=TICK)

    first, second = scheduler(engine, "first"), scheduler(other_engine, "second")
    first.start(), second.start()
    try:
        wait_until(lambda: len(runs) >= 4)
        assert [first.leading, second.leading].count(True) == 1
        leader, standby = (first, second) if first.leading else (second, first)
        assert set(runs) == {"first" if leader is first else "second"}  # only the leader ran jobs
        assert is_held(engine, "scheduler")
        leader.stop()  # the leader's process ends: its lock goes with it
        taken_over, stopped_at = len(runs), datetime.now(timezone.utc)
        wait_until(lambda: standby.leading and len(runs) >= taken_over + 3)
        assert set(runs[taken_over:]) == {"first" if standby is first else "second"}
        for name in ("remind_overdue_reviews", "send_due_nudges"):  # the real jobs ran under the new leader too
            wait_until(lambda: job_runs(engine)[name].finished_at > stopped_at)
            assert job_runs(engine)[name].outcome == "ok"
    finally:
        first.stop(), second.stop()
        other_engine.dispose()
    # Run by both, many times: the reviewer is reminded once, each stalled partner nudged once.
    assert reminders_to(engine, "UAE") == 1
    assert [reminders_to(engine, f"CSTALL{i}") for i in range(5)] == [1] * 5
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Reminder)).one() == 2  # the reviewer's and the chase
        assert session.exec(select(func.count()).select_from(Nudge)).one() == 5
    assert not is_held(engine, "scheduler")


def test_a_scheduler_that_loses_its_lead_stops_running_jobs_until_it_leads_again(context, engine):
    runs: list[str] = []
    scheduler = Scheduler(context, (counting("probe", runs, label="ours"),), retry_seconds=TICK).start()
    try:
        wait_until(lambda: len(runs) >= 2)
        other = Leadership(engine, "scheduler")
        with scheduler._lead:  # the scheduler looks again only once someone else leads
            cut_the_leaders_session(scheduler, engine)
            wait_until(other.try_acquire)
        wait_until(lambda: not scheduler.leading)
        stopped_at = len(runs)
        time.sleep(4 * TICK)
        assert len(runs) <= stopped_at + 1  # at most a run already under way when the lead went
        other.release()
        wait_until(lambda: scheduler.leading and len(runs) >= stopped_at + 3)  # it leads, and runs, again
    finally:
        scheduler.stop()


def cut_the_leaders_session(scheduler: Scheduler, engine) -> None:
    """PostgreSQL: the server ends the leader's session (as a restart or an idle timeout would). SQLite: the
    lock file is let go, as a process losing it would (a flock is only lost with its process)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            ended = connection.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND objid = %d AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                % LEADERSHIP_LOCKS["scheduler"]).all()
        assert ended == [(True,)]
    else:
        scheduler.leadership.release()


def test_after_downtime_each_job_catches_up_once(context, engine):
    runs: list[str] = []
    long_ago = datetime.now(timezone.utc) - timedelta(days=10)
    recently = datetime.now(timezone.utc) - timedelta(minutes=5)
    for name, at in (("hourly_missed", long_ago), ("hourly_fresh", recently), ("weekly_missed", long_ago)):
        record_start(engine, name, at=at, ran_by="a scheduler before the downtime")
        record_finish(engine, name, at=at, outcome="ok", result="", next_run_at=at + timedelta(hours=1))
    weekly = cron(hour=8, day_of_week="mon")
    jobs = (counting("hourly_missed", runs, every(hours=1), "hourly_missed"),
            counting("hourly_fresh", runs, every(hours=1), "hourly_fresh"),
            counting("hourly_never", runs, every(hours=1), "hourly_never"),
            counting("weekly_missed", runs, weekly, "weekly_missed"),
            counting("weekly_never", runs, weekly, "weekly_never"))
    scheduler = Scheduler(context, jobs, retry_seconds=TICK).start()
    try:
        wait_until(lambda: len(runs) >= 3)
        time.sleep(0.3)  # 240 missed hours (and a missed Monday) would show up by now
        recorded = job_runs(engine)
    finally:
        scheduler.stop()
    assert sorted(runs) == ["hourly_missed", "hourly_never", "weekly_missed"]
    assert recorded["hourly_fresh"].next_run_at == recently + timedelta(hours=1)  # a period after its last run
    assert recorded["weekly_never"].next_run_at == weekly.trigger().get_next_fire_time(None, datetime.now(
        timezone.utc))
    assert recorded["hourly_missed"].next_run_at > datetime.now(timezone.utc) + timedelta(minutes=59)


def test_leaderships_of_different_names_do_not_exclude_each_other_and_can_be_looked_at(engine):
    worker, scheduler = Leadership(engine, "worker"), Leadership(engine, "scheduler")
    assert not is_held(engine, "scheduler")
    assert worker.try_acquire() and scheduler.try_acquire()  # one lock number per name
    assert is_held(engine, "scheduler") and is_held(engine, "worker")
    scheduler.release()
    assert not is_held(engine, "scheduler") and is_held(engine, "worker")
    another = Leadership(engine, "scheduler")
    assert another.try_acquire()  # looking took nothing
    another.release(), worker.release()
    with pytest.raises(ValueError, match="no advisory lock number"):
        Leadership(engine, "digest")
