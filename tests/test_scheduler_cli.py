"""`partnerbot jobs list` and `partnerbot jobs run NAME`, as an operator (or a script testing the bot) uses them."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
from sqlmodel import Session, func, select
from typer.testing import CliRunner

from bot.cli import cli
from bot.sandbox import Sandbox
from bot.scheduler import JOBS, Scheduler, with_period
from storage.jobs import job_runs
from storage.leadership import is_held
from storage.slack.models import SlackMessage
from tests.support import wait_until
from tests.test_scheduler import context_for, overdue_review

SECRET, TOKEN = "cli-signing-secret", "xoxb-jobs-cli"


@pytest.fixture
def slack(monkeypatch, database_url, tmp_path):
    """The CLI's settings from the environment, against the local Slack sandbox; wide enough for the table."""
    with Sandbox(SECRET, TOKEN) as sandbox:
        for name in ("SLACK_APP_TOKEN", "SALESFORCE_INSTANCE_URL", "SALESFORCE_ACCESS_TOKEN", "SALESFORCE_USERNAME",
                     "PROGRAM_FILE", "SCHEDULER"):
            monkeypatch.delenv(name, raising=False)
        for name, value in (("SLACK_BOT_TOKEN", TOKEN), ("SLACK_SIGNING_SECRET", SECRET),
                            ("SLACK_API_URL", sandbox.api_url), ("DATABASE_URL", database_url), ("COLUMNS", "250")):
            monkeypatch.setenv(name, value)
        monkeypatch.chdir(tmp_path)  # no developer's .env
        yield sandbox


def row_of(output: str, name: str) -> str:
    """The table row of job `name` (its first line)."""
    return next(line for line in output.splitlines() if f" {name} " in line)


def test_jobs_run_runs_one_now_records_it_and_jobs_list_shows_it(slack, engine, now):
    overdue_review(engine, now)  # weeks before the real clock's now: the reviewer and then the manager are due
    runner = CliRunner()

    ran = runner.invoke(cli, ["jobs", "run", "remind_overdue_reviews"])
    assert ran.exit_code == 0, ran.output
    assert "remind_overdue_reviews: ok: 2 reminded" in ran.output
    with Session(engine) as session:  # queued for serve's worker to send
        assert session.exec(select(SlackMessage.channel, func.count()).where(SlackMessage.channel.in_(
            ["UAE", "UMGR"])).group_by(SlackMessage.channel).order_by(SlackMessage.channel)).all() == [
            ("UAE", 1), ("UMGR", 1)]

    listed = runner.invoke(cli, ["jobs", "list"])
    assert listed.exit_code == 0, listed.output
    row = row_of(listed.output, "remind_overdue_reviews")
    assert "every 15 minutes" in row and " ok " in row and "2 reminded" in row and "no scheduler running" in row
    assert "never" in row_of(listed.output, "forget_old_rows")  # not run yet
    assert "No scheduler holds the lead" in listed.output


def test_jobs_list_shows_the_next_runs_while_a_scheduler_leads(slack, engine, now):
    runs = []
    # A scheduler elsewhere (here: in this process) leads; its jobs just note their runs.
    quiet = tuple(type(job)(job.name, job.schedule, job.description, lambda c: runs.append(1) or "done")
                  for job in with_period(JOBS, hours=1))
    scheduler = Scheduler(context_for(engine, now), quiet, retry_seconds=0.05).start()
    try:
        wait_until(lambda: len(runs) == len(JOBS))
        listed = CliRunner().invoke(cli, ["jobs", "list"])
    finally:
        scheduler.stop()
    assert listed.exit_code == 0, listed.output
    assert "no scheduler running" not in listed.output and "No scheduler holds the lead" not in listed.output
    row = row_of(listed.output, "crm_drain")
    assert " ok " in row and "done" in row and row.count(" UTC") == 2  # its last run and its next


def test_an_unknown_job_is_named_with_the_real_ones_and_a_failing_one_exits_1(slack, engine, monkeypatch):
    runner = CliRunner()
    unknown = runner.invoke(cli, ["jobs", "run", "remind_everyone"])
    assert unknown.exit_code == 2
    assert "No job named 'remind_everyone'" in unknown.output
    assert all(job.name in unknown.output for job in JOBS)

    monkeypatch.setattr("bot.scheduler.expire_registrations", lambda services: 1 / 0)
    failing = runner.invoke(cli, ["jobs", "run", "expire_registrations"])
    assert failing.exit_code == 1
    assert "expire_registrations: failed: ZeroDivisionError: division by zero" in failing.output


def test_partnerbot_scheduler_runs_the_jobs_alone_and_stops_cleanly_on_sigterm(slack, engine):
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "scheduler"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        wait_until(lambda: len([run for run in job_runs(engine).values() if run.outcome == "ok"]) == len(JOBS),
                   seconds=30)  # never run: each runs at once
        assert is_held(engine, "scheduler")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
        output = process.communicate(timeout=10)[0]
    assert not is_held(engine, "scheduler")  # it let go of the lead
    assert f"the scheduler leads: {len(JOBS)} job(s)" in output and "scheduler stopping" in output
    assert TOKEN not in output and "Traceback" not in output


def test_the_jobs_commands_write_as_background_work_making_way_for_serves_acks(slack, engine):
    """`partnerbot jobs run` and `partnerbot scheduler` share the database with `serve`: on SQLite their write
    transactions leave gaps and wait for a raised hand, like serve's own background process, and never raise one."""
    from bot.cli_jobs import _job_context
    from storage.ack_hands import BACKGROUND

    context = _job_context()
    assert (context.services.engine in BACKGROUND) == (engine.dialect.name == "sqlite")
    context.services.engine.dispose()
