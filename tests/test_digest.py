"""The weekly digest's job: each partner manager (their partners) and admin (the program) once a week, once their
own local time has passed digest.schedule; once however many runs or processes; one catch-up after downtime."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlmodel import Session, select

from handlers.notify import SlackNotifier
from storage.models import Partner, PartnerStage, PartnerType, Registration, RegistrationStatus, Role
from storage.nudges.models import Nudge, NudgeKind
from storage.slack.models import SlackMessage, SlackMessageKind
from tests.test_nudges import MovingClock, add_partner
from tests.test_nudges_managers import add_people, registration
from workflows.digest import preview_digest, send_due_digests
from workflows.digest_chart import ChartSpec
from workflows.program import Program
from workflows.services import NotFound, Services

# Monday 30 Nov 2026: 08:30 in Tokyo is 23:30 UTC on Sunday; in London 08:30 UTC; in Los Angeles 16:30 UTC.
SUNDAY_EVENING = datetime(2026, 11, 29, 23, 0, tzinfo=timezone.utc)
ZONES = {"UTOKYO": "Asia/Tokyo", "ULA": "America/Los_Angeles", "UADMIN": "Europe/London"}
LAST_WEEK = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)  # Wednesday of 2026-W48, the week reported


def make_services(engine, clock, program: Program | None = None) -> Services:
    program = program or Program()
    return Services(engine=engine, program=program, notifier=SlackNotifier(program, clock), clock=clock,
                    user_time_zone=ZONES.get)


def digests(engine) -> list[Nudge]:
    with Session(engine) as session:
        return list(session.exec(select(Nudge).where(Nudge.kind == NudgeKind.digest).order_by(Nudge.id)).all())


def outbox_rows(engine, lane: str) -> list[SlackMessage]:
    with Session(engine) as session:
        return list(session.exec(select(SlackMessage).where(SlackMessage.lane == lane).order_by(SlackMessage.id)))


def approved(partner_id: int, company: str, value: int, *, at: datetime = LAST_WEEK) -> Registration:
    row = registration(partner_id, company, created=at - timedelta(days=1), value=value)
    row.approved_at = at
    return row


@pytest.fixture
def program_people(engine):
    """Tokyo and Los Angeles manage a partner each; the admin in London sees both."""
    add_people(engine, ("UTOKYO", Role.partner_manager), ("ULA", Role.partner_manager), ("UADMIN", Role.admin),
               ("UAE", Role.ae))
    tokyo = add_partner(engine, "Sakura Systems", stage=PartnerStage.activated, since=LAST_WEEK, manager="UTOKYO",
                        channel="CT")
    la = add_partner(engine, "Hollywood & Vine <Partners>", stage=PartnerStage.activated, since=LAST_WEEK,
                     manager="ULA", channel="CL")
    with Session(engine) as session:
        session.add_all([approved(tokyo, "Tokyo Deal", 30000), approved(la, "LA Deal", 12000)])
        session.commit()
    return {"tokyo": tokyo, "la": la}


def test_each_reader_gets_it_once_their_own_local_time_passes_the_schedule(engine, program_people):
    clock = MovingClock(SUNDAY_EVENING)
    services = make_services(engine, clock)
    # Started on Sunday evening (UTC): London and Los Angeles are still in 2026-W48, past its Monday 08:30, so
    # they get that week's now (a catch-up); in Tokyo it is 08:00 on Monday of 2026-W49: nothing yet.
    assert send_due_digests(services).created == {"digest": 2}
    assert {(d.recipient, d.period) for d in digests(engine)} == {("UADMIN", "2026-W48"), ("ULA", "2026-W48")}
    clock.now = datetime(2026, 11, 29, 23, 30, tzinfo=timezone.utc)  # 08:30 Monday in Tokyo
    assert send_due_digests(services).created == {"digest": 1}
    assert [(d.recipient, d.period) for d in digests(engine)][-1] == ("UTOKYO", "2026-W49")
    clock.now = datetime(2026, 11, 30, 8, 29, tzinfo=timezone.utc)
    assert send_due_digests(services).total == 0  # 08:29 in London
    clock.now = datetime(2026, 11, 30, 8, 30, tzinfo=timezone.utc)
    assert send_due_digests(services).created == {"digest": 1}
    clock.now = datetime(2026, 11, 30, 16, 30, tzinfo=timezone.utc)  # 08:30 in Los Angeles
    assert send_due_digests(services).created == {"digest": 1}
    assert send_due_digests(services).total == 0  # the same week again: nothing twice
    sent = {d.recipient: d for d in digests(engine) if d.period == "2026-W49"}
    assert {r: (d.subject, d.period) for r, d in sent.items()} == {
        "UTOKYO": ("manager:UTOKYO", "2026-W49"), "UADMIN": ("program", "2026-W49"),
        "ULA": ("manager:ULA", "2026-W49")}
    assert "UAE" not in sent  # AEs get no digest
    [post, chart] = outbox_rows(engine, f"digest:{sent['UTOKYO'].id}")
    assert (post.kind, post.channel, post.key) == (SlackMessageKind.post, "UTOKYO", sent["UTOKYO"].message_key)
    assert post.next_attempt_at == datetime(2026, 11, 29, 23, 30, tzinfo=timezone.utc)  # at once: no working hours
    assert (chart.kind, chart.channel) == (SlackMessageKind.upload, "UTOKYO")
    spec = ChartSpec.from_json(chart.blocks[0]["input"])
    assert len(spec.weeks) == 12 and spec.weeks[-1].sourced == Decimal(30000)  # Tokyo's partner only
    assert not spec.direct_connected
    clock.now += timedelta(days=7)  # the next Monday evening: everyone's next week
    assert send_due_digests(services).created == {"digest": 3}


def test_a_managers_digest_names_only_their_partners_and_an_admins_the_whole_program(engine, program_people):
    clock = MovingClock(datetime(2026, 11, 30, 17, 0, tzinfo=timezone.utc))
    services = make_services(engine, clock)
    send_due_digests(services)
    sent = {d.recipient: d for d in digests(engine)}
    tokyo = str(outbox_rows(engine, f"digest:{sent['UTOKYO'].id}")[0].blocks)
    admin = str(outbox_rows(engine, f"digest:{sent['UADMIN'].id}")[0].blocks)
    la = str(outbox_rows(engine, f"digest:{sent['ULA'].id}")[0].blocks)
    assert "Sakura Systems" in tokyo and "Hollywood" not in tokyo
    assert "Partner-sourced new pipeline: 30,000 USD (+30,000 vs last week)" in tokyo
    assert "Hollywood &amp; Vine &lt;Partners&gt;" in la and "Sakura" not in la  # a partner's name is escaped
    assert "Sakura Systems" in admin and "Hollywood &amp; Vine" in admin
    assert "Partner-sourced new pipeline: 42,000 USD" in admin and "the whole program" in admin
    assert "Direct: not connected (Salesforce)" in tokyo  # no Salesforce: never zero


def test_a_tuesday_start_sends_this_weeks_digest_and_a_two_week_outage_sends_one(engine, program_people):
    clock = MovingClock(datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc))  # Tuesday: the bot was down on Monday
    services = make_services(engine, clock)
    assert send_due_digests(services).created == {"digest": 3}
    clock.now += timedelta(days=15)  # down for two weeks, back on a Wednesday: one digest each, this week's
    assert send_due_digests(services).created == {"digest": 3}
    assert send_due_digests(services).total == 0
    assert sorted({d.period for d in digests(engine)}) == ["2026-W49", "2026-W51"]


def test_two_runs_at_once_send_each_digest_once(engine, program_people):
    clock = MovingClock(datetime(2026, 11, 30, 17, 0, tzinfo=timezone.utc))
    services = make_services(engine, clock)
    start, reports, errors = threading.Barrier(2), [], []

    def run():
        start.wait()
        try:
            reports.append(send_due_digests(services).total)
        except Exception as error:  # noqa: BLE001 - the test says which run failed
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and sum(reports) == 3
    assert sorted(d.recipient for d in digests(engine)) == ["UADMIN", "ULA", "UTOKYO"]
    with Session(engine) as session:
        posts = session.exec(select(SlackMessage).where(SlackMessage.lane.startswith("digest:"))).all()
    assert len(posts) == 6  # each digest and its chart, once


def test_the_schedule_and_switch_come_from_the_program_file(engine, program_people):
    friday = Program.model_validate({"digest": {"schedule": "fri 17:00"}})
    clock = MovingClock(datetime(2026, 12, 4, 16, 59, tzinfo=timezone.utc))  # Friday 4 Dec, 16:59 in London
    services = make_services(engine, clock, friday)
    assert send_due_digests(services).created == {"digest": 1}  # Tokyo: Saturday 01:59, past Friday 17:00
    clock.now = datetime(2026, 12, 4, 17, 0, tzinfo=timezone.utc)
    assert send_due_digests(services).created == {"digest": 1}  # London at 17:00; Los Angeles: 09:00, not yet
    assert [d.recipient for d in digests(engine)] == ["UTOKYO", "UADMIN"]


def test_switched_off_nobody_gets_one(engine, program_people):
    off = Program.model_validate({"digest": {"enabled": False}})
    services = make_services(engine, MovingClock(datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)), off)
    assert send_due_digests(services).total == 0


def test_the_preview_says_what_the_next_digest_would_and_stores_nothing(engine, program_people):
    clock = MovingClock(datetime(2026, 11, 30, 17, 0, tzinfo=timezone.utc))
    services = make_services(engine, clock)
    content = preview_digest(services)  # the first admin
    assert content.reader.slack_id == "UADMIN" and content.figures.pipeline.new.sourced.value == Decimal(42000)
    assert preview_digest(services, "UTOKYO").figures.pipeline.new.sourced.value == Decimal(30000)
    with pytest.raises(NotFound, match="UAE is not a partner manager or admin"):
        preview_digest(services, "UAE")
    assert digests(engine) == []
    with Session(engine) as session:
        assert session.exec(select(SlackMessage)).all() == []


def test_the_digest_stays_within_slacks_limits_with_500_partners(engine):
    clock = MovingClock(datetime(2026, 11, 30, 17, 0, tzinfo=timezone.utc))
    add_people(engine, ("UADMIN", Role.admin))
    with Session(engine) as session:
        session.add_all([Partner(name=f"Partner & {i:03d} " + "x" * 150, type=list(PartnerType)[i % 6],
                                 stage=PartnerStage.onboarded, stage_since=LAST_WEEK - timedelta(days=40 + i),
                                 slack_channel_id=f"C{i}", slack_team_id="T1") for i in range(500)])
        session.commit()
        ids = session.exec(select(Partner.id)).all()
        session.add_all([approved(pid, f"Deal {pid}", 1000 + pid) for pid in ids])
        session.add_all([registration(pid, f"Lost {pid}", created=LAST_WEEK, value=5,
                                      status=RegistrationStatus.lost, closed=LAST_WEEK) for pid in ids[:50]])
        session.commit()
    send_due_digests(make_services(engine, clock))
    [digest] = digests(engine)
    post = outbox_rows(engine, f"digest:{digest.id}")[0]
    assert len(post.blocks) <= 50 and len(post.text) <= 3000
    for block in post.blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
    text = str(post.blocks)
    assert "Top partners by sourced pipeline" in text and "Partner &amp; 499" in text  # the biggest first
    assert text.count("Partner &amp;") <= 12  # five top partners, five movers: not 500 names
    assert "Nudge" not in text  # every partner registered since it entered its stage: none stuck


class SalesforceReads:
    """services.read_direct as Salesforce answers it: org-wide direct figures, each read recorded."""

    def __init__(self, failure: str | None = None):
        self.asked, self.failure = [], failure

    def __call__(self, start, end, weeks_start, *, tz):
        from storage.crm.reporting import DirectFigures, SalesforceUnavailable

        self.asked.append((start, end, tz.key))
        if self.failure:
            raise SalesforceUnavailable(self.failure)
        return DirectFigures(new_pipeline=(("USD", 2, Decimal(9000)),), open_now=(("USD", 5, Decimal(40000)),),
                             won=(("USD", 1, Decimal(5000)),), lost_count=3, average_days_to_close=Decimal(40),
                             weekly_new_pipeline=((weeks_start, "USD", Decimal(1000)),))


def test_direct_figures_are_read_once_per_week_and_zone_in_a_run_and_shown(engine, program_people):
    from handlers.blocks.digest import digest_as_text

    clock = MovingClock(datetime(2026, 11, 30, 18, 0, tzinfo=timezone.utc))  # past 08:30 everywhere
    services = make_services(engine, clock)
    services.read_direct = reads = SalesforceReads()
    assert send_due_digests(services).created == {"digest": 3}
    # Three readers in three zones: this week and the one before for each, never once per figure or reader.
    assert len(reads.asked) == 6 and len(set(reads.asked)) == 6
    text = digest_as_text(preview_digest(services, "UADMIN"))
    assert "not connected" not in text
    assert "9,000" in text  # direct new pipeline beside the partners'
    assert "Direct: 5,000 USD (1) won, 3 lost: win rate 25%" in text  # 1 won of 4 decided


def test_salesforce_unavailable_is_said_in_the_digest_never_zero(engine, program_people):
    from handlers.blocks.digest import digest_as_text

    clock = MovingClock(datetime(2026, 11, 30, 18, 0, tzinfo=timezone.utc))
    services = make_services(engine, clock)
    services.read_direct = SalesforceReads(failure="Salesforce error 503: SERVER_UNAVAILABLE")
    text = digest_as_text(preview_digest(services, "UADMIN"))
    assert "Salesforce unavailable: Salesforce error 503" in text
