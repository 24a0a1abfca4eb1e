"""`partnerbot digest preview`, `partnerbot jobs run digest` and the program file's `digest:`, as an operator uses
them (the real clock: the program's schedule is Monday 00:00, which every moment of a week has passed)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlmodel import Session, select
from typer.testing import CliRunner

from bot.cli import cli
from storage.models import PartnerStage, Role
from storage.nudges.models import Nudge, NudgeKind
from storage.slack.models import SlackMessage
from tests.test_digest import approved
from tests.test_nudges import add_partner
from tests.test_nudges_managers import add_people
from tests.test_scheduler_cli import slack  # noqa: F401 - the CLI's settings against the sandbox


def program_with(tmp_path, monkeypatch, text: str):
    path = tmp_path / "program.yml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("PROGRAM_FILE", str(path))
    return path


def last_week() -> datetime:
    return datetime.now(timezone.utc) - timedelta(days=7)


def people_and_partners(engine) -> None:
    add_people(engine, ("UMGR", Role.partner_manager), ("UADMIN", Role.admin))
    mine = add_partner(engine, "Mine & Co", stage=PartnerStage.activated, since=last_week(), manager="UMGR")
    other = add_partner(engine, "Someone Else's", stage=PartnerStage.activated, since=last_week(), manager="UM2",
                        channel="C2")
    monday = datetime.now(timezone.utc).date() - timedelta(days=datetime.now(timezone.utc).weekday())
    in_last_week = datetime(monday.year, monday.month, monday.day, 12, tzinfo=timezone.utc) - timedelta(days=4)
    with Session(engine) as session:
        session.add_all([approved(mine, "A", 7000, at=in_last_week), approved(other, "B", 5000, at=in_last_week)])
        session.commit()


def test_jobs_run_digest_sends_what_is_due_once_and_preview_stores_nothing(slack, engine, tmp_path, monkeypatch):  # noqa: F811
    program_with(tmp_path, monkeypatch, "digest:\n  schedule: monday 00:00\n")
    people_and_partners(engine)
    runner = CliRunner()

    preview = runner.invoke(cli, ["digest", "preview", "--manager", "UMGR"])
    assert preview.exit_code == 0, preview.output
    assert "Weekly partner digest" in preview.output and "your partners" in preview.output
    assert "Partner-sourced new pipeline: 7,000 USD" in preview.output and "Mine & Co" in preview.output
    assert "Someone Else" not in preview.output
    admin = runner.invoke(cli, ["digest", "preview"])  # the first admin: the whole program
    assert "the whole program" in admin.output and "12,000 USD" in admin.output
    with Session(engine) as session:
        assert session.exec(select(SlackMessage)).all() == [] and session.exec(select(Nudge)).all() == []

    unknown = runner.invoke(cli, ["digest", "preview", "--manager", "UNOBODY"])
    assert unknown.exit_code == 2 and "UNOBODY is not a partner manager or admin" in unknown.output

    ran = runner.invoke(cli, ["jobs", "run", "digest"])
    assert ran.exit_code == 0, ran.output
    assert "digest: ok: 2 digests queued" in ran.output
    with Session(engine) as session:
        sent = session.exec(select(Nudge.recipient).where(Nudge.kind == NudgeKind.digest)).all()
        queued = session.exec(select(SlackMessage.channel, SlackMessage.kind).order_by(SlackMessage.id)).all()
    assert sorted(sent) == ["UADMIN", "UMGR"]
    assert sorted(queued) == [("UADMIN", "post"), ("UADMIN", "upload"), ("UMGR", "post"), ("UMGR", "upload")]
    again = runner.invoke(cli, ["jobs", "run", "digest"])
    assert "digest: ok: nothing due" in again.output
    assert "digest" in runner.invoke(cli, ["jobs", "list"]).output


def test_the_program_file_checks_and_shows_the_digest_schedule(slack, tmp_path, monkeypatch):  # noqa: F811
    runner = CliRunner()
    bad = program_with(tmp_path, monkeypatch, "digest:\n  schedule: mondays at 8\n")
    checked = runner.invoke(cli, ["program", "check", str(bad)])
    assert checked.exit_code == 2
    assert 'should be a weekday and a local time (24-hour HH:MM), such as "monday 08:30"' in checked.output
    good = program_with(tmp_path, monkeypatch, "digest:\n  schedule: Fri 7:05\n")
    assert runner.invoke(cli, ["program", "check", str(good)]).exit_code == 0
    shown = runner.invoke(cli, ["program", "show", str(good)])
    assert "Weekly digest: on, Friday 07:05 in each partner manager's and admin's own time zone" in shown.output
