"""`partnerbot slack status|retry` on a real database."""

from __future__ import annotations

from sqlmodel import Session, select
from typer.testing import CliRunner

from bot.cli_slack import slack_app
from storage.db import transaction
from storage.models import utcnow
from storage.slack.models import SlackMessage, SlackMessageStatus
from storage.slack.outbox import enqueue_post


def test_status_shows_counts_and_failures_and_retry_queues_them_again(engine, database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    with transaction(engine) as session:
        for key, channel in (("a", "C1"), ("b", "C2"), ("c", "C2")):
            enqueue_post(session, key=key, lane=key, channel=channel, text=key, blocks=[], now=utcnow())
        session.flush()
        for row in session.exec(select(SlackMessage).where(SlackMessage.key.in_(["b", "c"]))):
            row.status, row.last_error, row.attempts = SlackMessageStatus.failed, "not_in_channel", 1
    runner = CliRunner()
    shown = runner.invoke(slack_app, ["status"])
    assert shown.exit_code == 0, shown.output
    assert "1 pending, 2 failed, 0 sent" in shown.output and "not_in_channel" in shown.output
    assert "C2" in shown.output and "partnerbot slack retry" in shown.output
    again = runner.invoke(slack_app, ["retry", "--channel", "C2"])
    assert again.exit_code == 0 and "2 failed message(s) queued again" in again.output
    with Session(engine) as session:
        assert {r.status for r in session.exec(select(SlackMessage))} == {SlackMessageStatus.pending}


def test_the_partnerbot_command_offers_slack_doctor_and_imports(engine, database_url, monkeypatch):
    from bot.cli import cli

    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()
    assert "0 pending, 0 failed, 0 sent" in runner.invoke(cli, ["slack", "status"]).output
    for command in (["doctor", "--help"], ["import", "partners", "--help"], ["import", "team", "--help"]):
        assert runner.invoke(cli, command).exit_code == 0
