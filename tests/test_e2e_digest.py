"""The weekly digest in Slack, through the sandbox: the DM and its chart (files_upload_v2 into the DM), the digest
still delivered when Slack refuses the upload, and its buttons (a wrong clicker refused privately)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import Session, select

from storage.models import Partner, PartnerStage
from storage.nudges.models import Nudge, NudgeKind
from storage.slack.models import SlackMessage, SlackMessageKind, SlackMessageStatus
from tests.e2e_support import bot, clock, copy_to, dm_messages, text_of  # noqa: F401 - the fixtures on a moving clock
from tests.test_digest import approved
from workflows.digest import send_due_digests
from workflows.digest_chart import render_chart

MONDAY_MORNING = datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc)  # 10:00 in London, the sandbox's zone
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def monday(bot, clock, engine):  # noqa: F811 - the e2e fixtures
    """The bot on Monday 30 Nov 2026 after 08:30 in London; Northwind (Priya's) and Initech (nobody's) each had
    a registration approved last week; Globex (Priya's) is onboarded and stuck."""
    clock.offset = MONDAY_MORNING - datetime.now(timezone.utc)
    with Session(engine) as session:
        partners = {p.name: p for p in session.exec(select(Partner)).all()}
        session.add_all([approved(partners["Northwind Consulting"].id, "Tyrell", 40000),
                         approved(partners["Initech Agency"].id, "Umbrella", 9000)])
        globex = partners["Globex Referrals"]
        globex.stage, globex.stage_since = PartnerStage.onboarded, MONDAY_MORNING - timedelta(days=30)
        session.add(globex)
        session.commit()
    return bot


def digest_dm(bot, user: str):
    return next(m for m in dm_messages(bot.sandbox, user) if "Weekly partner digest" in text_of(m))


def digest_nudge(engine, user: str) -> Nudge:
    with Session(engine) as session:
        return session.exec(select(Nudge).where(Nudge.kind == NudgeKind.digest, Nudge.recipient == user)).one()


def test_the_digest_and_its_chart_reach_each_managers_dm_once(monday, engine):
    bot = monday
    assert send_due_digests(bot.services).created == {"digest": 2}  # Priya and the admin; AEs get none
    bot.worker.kick()
    priya = digest_dm(bot, "U0PRIYA")
    assert "Weekly partner digest, 2026-W48: your partners" in text_of(priya)
    assert "Partner-sourced new pipeline: 40,000 USD" in text_of(priya)
    assert "Northwind Consulting" in text_of(priya) and "Initech" not in text_of(priya)
    assert "Partner-sourced new pipeline: 49,000 USD" in text_of(digest_dm(bot, "U0ADMIN"))
    [chart] = [m for m in dm_messages(bot.sandbox, "U0PRIYA") if m.files]
    assert chart.ts > priya.ts and "last 12 weeks" in chart.text  # after the digest, with its comment
    [shared] = chart.files
    assert shared["mimetype"] == "image/png" and shared["name"] == "pipeline-2026-W48.png"
    data = bot.sandbox.state.files[shared["id"]].data
    assert data[:8] == PNG_SIGNATURE and shared["size"] == len(data)
    completed = bot.sandbox.calls("files.completeUploadExternal")
    assert sorted(c.args["channel_id"] for c in completed) == sorted(  # shared by the DMs' ids
        [bot.sandbox.dm_channel("U0PRIYA"), bot.sandbox.dm_channel("U0ADMIN")])
    assert send_due_digests(bot.services).total == 0  # the same week: nothing again
    bot.worker.kick()
    assert len([m for m in dm_messages(bot.sandbox, "U0PRIYA") if "Weekly partner digest" in text_of(m)]) == 1
    assert len([m for m in dm_messages(bot.sandbox, "U0PRIYA") if m.files]) == 1


def test_the_digest_goes_when_slack_refuses_the_upload_and_the_runners_hear_why(monday, engine):
    bot = monday
    bot.sandbox.set_scopes([s for s in bot.sandbox.scopes if s != "files:write"])  # installed before the digest
    send_due_digests(bot.services)
    bot.worker.kick()
    assert "Northwind Consulting" in text_of(digest_dm(bot, "U0PRIYA"))
    assert not [m for m in dm_messages(bot.sandbox, "U0PRIYA") if m.files]
    with Session(engine) as session:
        uploads = session.exec(select(SlackMessage).where(SlackMessage.kind == SlackMessageKind.upload)).all()
    assert {(u.status, u.last_error) for u in uploads} == {(SlackMessageStatus.failed, "missing_scope")}
    assert len(bot.sandbox.calls("files.getUploadURLExternal")) == 2  # refused at once: no retries
    notices = [text_of(m) for m in dm_messages(bot.sandbox, "U0PRIYA") if "couldn't upload" in text_of(m)]
    assert notices and "add the files:write scope" in notices[0]


def test_a_failed_upload_is_tried_again_while_other_messages_go(monday, engine):
    bot = monday
    bot.sandbox.fail("files.completeUploadExternal", 500, times=2)  # Slack's side: tried again with backoff
    send_due_digests(bot.services)
    bot.worker.kick()
    bot.sandbox.wait_for(lambda: len([m for m in dm_messages(bot.sandbox, "U0PRIYA") if m.files]) == 1, timeout=10)
    assert digest_dm(bot, "U0PRIYA").ts < [m for m in dm_messages(bot.sandbox, "U0PRIYA") if m.files][0].ts


def test_the_digests_buttons_are_its_readers_alone(monday, engine):
    bot = monday
    send_due_digests(bot.services)
    bot.worker.kick()
    priya = digest_dm(bot, "U0PRIYA")
    assert [b.action_id for b in bot.sandbox.buttons(priya)] == ["digest_full_report", "nudge_them_all"]
    assert "Nudge 1 stuck partner" in text_of(priya)  # Globex; Priya has nothing waiting for her review
    channel, ts = copy_to(bot, priya, "C0NORTH")  # an AE presses a copy: not theirs
    bot.driver.click("U0ALEX", "digest_full_report", message=(channel, ts))
    assert "Only the person this digest was sent to" in text_of(bot.sandbox.ephemerals("U0ALEX")[-1])
    bot.driver.click("U0ALEX", "nudge_them_all", message=(channel, ts))
    assert "Only the partner manager this roll-up was sent to" in text_of(bot.sandbox.ephemerals("U0ALEX")[-1])
    admins_copy = copy_to(bot, priya, bot.sandbox.dm_channel("U0ADMIN"))  # not even an admin opens Priya's report
    bot.driver.click("U0ADMIN", "digest_full_report", message=admins_copy)
    assert "Only the person this digest was sent to" in text_of(dm_messages(bot.sandbox, "U0ADMIN")[-1])
    assert bot.sandbox.messages(priya.channel, thread_ts=priya.ts) == []

    bot.driver.click("U0PRIYA", "digest_full_report", message=(priya.channel, priya.ts))
    bot.worker.kick()
    [report] = bot.sandbox.messages(priya.channel, thread_ts=priya.ts)
    assert "Full report: Weekly partner digest, 2026-W48" in text_of(report)
    assert "Northwind Consulting" in text_of(report) and "Initech" not in text_of(report)
    bot.driver.click("U0PRIYA", "digest_full_report", message=(priya.channel, priya.ts))  # again: once
    bot.worker.kick()
    assert len(bot.sandbox.messages(priya.channel, thread_ts=priya.ts)) == 1

    bot.driver.click("U0PRIYA", "nudge_them_all", message=(priya.channel, priya.ts))
    bot.worker.kick()
    assert [m for m in bot.sandbox.messages("C0GLOBEX") if "Ready to register your first lead" in text_of(m)]
    priya = digest_dm(bot, "U0PRIYA")
    assert [b.action_id for b in bot.sandbox.buttons(priya)] == ["digest_full_report"]  # the others stay
    assert "<@U0PRIYA> pressed Nudge them all: nudged 1" in text_of(priya)


def test_review_n_pending_opens_the_readers_waiting_list(monday, engine):
    bot = monday
    from tests.e2e_support import register_via_desk

    register_via_desk(bot, "U0DANA", "C0NORTH")  # a lead for review (routed to an AE, or Priya)
    with Session(engine) as session:
        from storage.models import Registration, RegistrationStatus
        registration = session.exec(select(Registration).where(Registration.company == "Acme Inc.")).one()
        registration.assigned_to_slack_id, registration.status = "U0PRIYA", RegistrationStatus.under_review
        session.add(registration)
        session.commit()
    send_due_digests(bot.services)
    bot.worker.kick()
    priya = digest_dm(bot, "U0PRIYA")
    assert "Review 1 pending" in text_of(priya)
    bot.driver.click("U0PRIYA", "digest_review", message=(priya.channel, priya.ts))
    home = bot.sandbox.home("U0PRIYA")
    assert home is not None and "Acme Inc." in str(home.blocks) and "Waiting for me" in str(home.blocks)
    assert "Home" in text_of(dm_messages(bot.sandbox, "U0PRIYA")[-1])
    channel, ts = copy_to(bot, priya, "C0NORTH")  # an AE presses a copy: not theirs, and their Home is untouched
    bot.driver.click("U0ALEX", "digest_review", message=(channel, ts))
    assert "Only the person this digest was sent to" in text_of(bot.sandbox.ephemerals("U0ALEX")[-1])
    assert bot.sandbox.home("U0ALEX") is None


def test_the_chart_in_the_dm_is_the_one_the_spec_draws(monday, engine):
    bot = monday
    send_due_digests(bot.services)
    bot.worker.kick()
    with Session(engine) as session:
        upload = session.exec(select(SlackMessage).where(SlackMessage.kind == SlackMessageKind.upload,
                                                         SlackMessage.channel == "U0PRIYA")).one()
    from workflows.digest_chart import ChartSpec

    [chart] = [m for m in dm_messages(bot.sandbox, "U0PRIYA") if m.files]
    assert bot.sandbox.state.files[chart.files[0]["id"]].data == \
        render_chart(ChartSpec.from_json(upload.blocks[0]["input"]))
    assert upload.sent_ts == chart.files[0]["id"]  # the row keeps the file's id


def test_an_admin_since_made_a_partner_manager_gets_no_whole_program_full_report(monday, engine):
    """The Full report is built when pressed, for what its reader may see then: an admin's digest covered the whole
    program, so once they are a partner manager its Full report is refused, not built from the old role."""
    from storage.models import Role, TeamMember

    bot = monday
    send_due_digests(bot.services)
    bot.worker.kick()
    admins = digest_dm(bot, "U0ADMIN")
    with Session(engine) as session:
        member = session.exec(select(TeamMember).where(TeamMember.slack_user_id == "U0ADMIN")).one()
        member.role = Role.partner_manager
        session.add(member)
        session.commit()
    bot.driver.click("U0ADMIN", "digest_full_report", message=(admins.channel, admins.ts))
    bot.worker.kick()
    assert "covered more than you may see now" in text_of(dm_messages(bot.sandbox, "U0ADMIN")[-1])
    assert bot.sandbox.messages(admins.channel, thread_ts=admins.ts) == []
