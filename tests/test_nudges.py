"""The nudge mechanism (workflows/nudges.py) with its first kind, activation: each nudge once, stored before its
message, at a decent hour in the recipient's zone, stopped by Not relevant and paused by Snooze."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import Session, select

from bot.worker import Worker
from handlers.notify import SlackNotifier
from storage.actors import Actor, ActorKind
from storage.db import make_engine
from storage.models import Partner, PartnerStage, PartnerType, Registration, Role
from storage.nudges.models import Nudge, NudgeKind, NudgeMute, NudgeResponse, SlackUserZone
from storage.slack.models import SlackMessage
from tests.e2e_support import copy_to, text_of
from tests.test_lifecycle import card_of
from workflows.nudge_jobs import send_due_nudges
from workflows.nudges import answer_nudge
from workflows.program import Program
from workflows.services import NotFound, Services

MONDAY_NOON = datetime(2026, 11, 2, 12, 0, tzinfo=timezone.utc)
ZONES = {"UMGR": "Europe/London", "UMGR_LA": "America/Los_Angeles"}


class MovingClock:
    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock():
    return MovingClock(MONDAY_NOON)


def make_services(engine, clock, program: Program | None = None, asked: list | None = None, *,
                  managers: bool = False) -> Services:
    """Services on the test's clock; the managers' kinds (roll-up, QBR) only when asked for, so these tests count
    the partner nudges alone."""
    program = program or Program()
    if not managers:
        program = only_partner_kinds(program)

    def user_time_zone(user_id: str) -> str | None:  # stands in for Slack's users.info
        if asked is not None:
            asked.append(user_id)
        return ZONES.get(user_id)

    return Services(engine=engine, program=program, notifier=SlackNotifier(program, clock), clock=clock,
                    user_time_zone=user_time_zone)


def only_partner_kinds(program: Program) -> Program:
    """The program with the managers' kinds (roll-up, QBR) off, so a test counts the partner nudges alone."""
    off = program.nudges.rollup.model_copy(update={"enabled": False})
    return program.model_copy(update={"nudges": program.nudges.model_copy(update={"rollup": off, "qbr": off})})


def any_hour(program: Program) -> Program:
    """The program with working hours all day, every day: nothing is held for the morning."""
    rules = program.nudges
    hours = rules.working_hours.model_copy(update={"days": ("mon", "tue", "wed", "thu", "fri", "sat", "sun"),
                                                   "start": "00:00", "end": "24:00"})
    return program.model_copy(update={"nudges": rules.model_copy(update={"working_hours": hours})})


def add_partner(engine, name: str, *, stage=PartnerStage.onboarded, since: datetime, manager="UMGR",
                channel: str | None = "C1") -> int:
    with Session(engine) as session:
        partner = Partner(name=name, type=PartnerType.reseller, stage=stage, stage_since=since,
                          manager_slack_id=manager, slack_channel_id=channel, slack_team_id="T1")
        session.add(partner)
        session.commit()
        return partner.id


def nudges(engine) -> list[Nudge]:
    with Session(engine) as session:
        return list(session.exec(select(Nudge).order_by(Nudge.id)).all())


def outbox(engine, key: str) -> SlackMessage:
    with Session(engine) as session:
        return session.exec(select(SlackMessage).where(SlackMessage.key == key)).one()


def test_an_onboarded_partner_quiet_for_14_days_is_nudged_once_in_its_channel(engine, clock):
    # New Co's onboarding sequence (tests/test_partner_nudges.py) is not what this test looks at
    services = make_services(engine, clock, Program.model_validate({"nudges": {"onboarding": {"enabled": False}}}))
    add_partner(engine, "Quiet Co", since=clock.now - timedelta(days=15))
    add_partner(engine, "New Co", since=clock.now - timedelta(days=13), channel="C2")  # not yet
    add_partner(engine, "No Channel Co", since=clock.now - timedelta(days=30), channel=None)
    assert send_due_nudges(services).created == {"activation": 1}
    assert send_due_nudges(services).total == 0  # a second run: nothing twice
    [nudge] = nudges(engine)
    assert (nudge.kind, nudge.recipient, nudge.subject) == ("activation", "C1", f"partner:{nudge.partner_id}")
    message = outbox(engine, nudge.message_key)
    assert message.channel == "C1" and message.next_attempt_at == nudge.deliver_at == clock.now  # 12:00 London
    assert "Ready to register your first lead, Quiet Co?" in message.text
    actions = [e["action_id"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]]
    assert actions == ["register_lead", "nudge_snooze", "nudge_not_relevant"]


def test_repeated_every_14_days_at_most_three_times_and_never_after_a_registration(engine, clock):
    services = make_services(engine, clock)
    partner_id = add_partner(engine, "Quiet Co", since=clock.now - timedelta(days=14))
    counts = []
    for _ in range(6):
        counts.append(send_due_nudges(services).total)
        clock.now += timedelta(days=7)
    assert counts == [1, 0, 1, 0, 1, 0]
    clock.now += timedelta(days=30)
    assert send_due_nudges(services).total == 0  # max_times reached for this stay in the stage
    other = add_partner(engine, "Busy Co", since=clock.now - timedelta(days=20), channel="C2")
    with Session(engine) as session:
        session.add(Registration(partner_id=other, submitted_by_slack_id="UP", company="Acme", company_key="acme",
                                 contact_name="A", contact_email="a@acme.com", region="EMEA",
                                 product_line="Platform", estimated_value=1, currency="USD",
                                 pricing_model="subscription", company_size="", budget="", timeline="",
                                 created_at=clock.now - timedelta(days=1)))
        session.commit()
    assert send_due_nudges(services).total == 0
    assert {n.partner_id for n in nudges(engine)} == {partner_id}


def test_nudges_wait_for_working_hours_in_the_zone_of_the_partner_or_its_manager(engine, clock):
    clock.now = datetime(2026, 11, 6, 20, 0, tzinfo=timezone.utc)  # Friday 20:00 UTC
    asked: list[str] = []
    program = Program.model_validate({"nudges": {"partner_time_zones": {"Tokyo Co": "Asia/Tokyo"}}})
    services = make_services(engine, clock, program, asked)
    london = add_partner(engine, "London Co", since=clock.now - timedelta(days=20), channel="C1")
    la = add_partner(engine, "LA Co", since=clock.now - timedelta(days=20), channel="C2", manager="UMGR_LA")
    tokyo = add_partner(engine, "Tokyo Co", since=clock.now - timedelta(days=20), channel="C3", manager="UMGR_LA")
    nobody = add_partner(engine, "Unknown Co", since=clock.now - timedelta(days=20), channel="C4", manager="UNONE")
    send_due_nudges(services)
    at = {n.partner_id: n.deliver_at for n in nudges(engine)}
    assert at[london] == datetime(2026, 11, 9, 9, 0, tzinfo=timezone.utc)  # Monday 09:00 GMT
    assert at[la] == datetime(2026, 11, 6, 20, 0, tzinfo=timezone.utc)  # Friday 12:00 in Los Angeles: now
    assert at[tokyo] == datetime(2026, 11, 9, 0, 0, tzinfo=timezone.utc)  # Monday 09:00 JST (the program's zone)
    assert at[nobody] == datetime(2026, 11, 9, 9, 0, tzinfo=timezone.utc)  # no zone from Slack: the default, UTC
    assert sorted(asked) == ["UMGR", "UMGR_LA", "UNONE"]  # once each, not for the partner with its own zone
    with Session(engine) as session:
        assert session.get(SlackUserZone, "UNONE").tz is None
    for partner_id, message in ((london, "C1"), (tokyo, "C3")):
        [nudge] = [n for n in nudges(engine) if n.partner_id == partner_id]
        assert outbox(engine, nudge.message_key).next_attempt_at == nudge.deliver_at  # the outbox holds it till then
    clock.now += timedelta(days=3)
    add_partner(engine, "Later Co", since=clock.now - timedelta(days=20), channel="C5")
    assert send_due_nudges(services).total == 1
    assert sorted(asked) == ["UMGR", "UMGR_LA", "UNONE"]  # zones kept: Slack is not asked again within a week
    clock.now += timedelta(days=11)  # second occurrences, and the zones are over a week old: asked again
    send_due_nudges(services)
    assert sorted(asked) == ["UMGR", "UMGR", "UMGR_LA", "UMGR_LA", "UNONE", "UNONE"]


def test_not_relevant_stops_the_kind_for_that_partner_and_snooze_pauses_it(engine, clock):
    services = make_services(engine, clock)
    quiet = add_partner(engine, "Quiet Co", since=clock.now - timedelta(days=14), channel="C1")
    sleepy = add_partner(engine, "Sleepy Co", since=clock.now - timedelta(days=14), channel="C2")
    send_due_nudges(services)
    first = {n.partner_id: n for n in nudges(engine)}
    contact = Actor("UQUIET", "T1", ActorKind.partner, partner_id=quiet)
    answer = answer_nudge(services, contact, first[quiet].id, NudgeResponse.not_relevant)
    assert answer.until is None
    manager = Actor("UMGR", None, ActorKind.internal, role=Role.ae)
    answer = answer_nudge(services, manager, first[sleepy].id, NudgeResponse.snoozed)
    assert answer.until == clock.now + timedelta(days=7)
    with pytest.raises(NotFound):  # another partner's people cannot answer it
        answer_nudge(services, Actor("UOTHER", "T9", ActorKind.partner, partner_id=sleepy), first[quiet].id,
                     NudgeResponse.snoozed)
    with Session(engine) as session:
        mutes = {m.subject: (m.until, m.by_slack_id) for m in session.exec(select(NudgeMute))}
        assert mutes == {f"partner:{quiet}": (None, "UQUIET"),
                         f"partner:{sleepy}": (clock.now + timedelta(days=7), "UMGR")}
        answered = session.get(Nudge, first[quiet].id)
        assert (answered.response, answered.responded_by_slack_id) == ("not_relevant", "UQUIET")
    updated = [m for m in all_outbox(engine) if m.kind == "update"]
    assert {m.parent_key for m in updated} == {first[quiet].message_key, first[sleepy].message_key}
    assert all(not any(b.get("type") == "actions" for b in m.blocks) for m in updated)
    assert any("snoozed these nudges until 9 Nov 2026" in text_of_blocks(m) for m in updated)
    clock.now += timedelta(days=14)  # the second occurrence is due: the snooze is over, the stop is not
    send_due_nudges(services)
    assert [n.partner_id for n in nudges(engine)][2:] == [sleepy]


def all_outbox(engine) -> list[SlackMessage]:
    with Session(engine) as session:
        return list(session.exec(select(SlackMessage).order_by(SlackMessage.id)).all())


def text_of_blocks(message: SlackMessage) -> str:
    return str(message.blocks)


def test_two_runs_at_once_create_each_nudge_once(engine, database_url, clock):
    for i in range(40):
        add_partner(engine, f"Partner {i}", since=clock.now - timedelta(days=15), channel=f"C{i}")
    engines = [make_engine(database_url) for _ in range(2)]
    reports, start = [], threading.Barrier(2)

    def run(eng):
        start.wait()
        reports.append(send_due_nudges(make_services(eng, clock)).total)

    threads = [threading.Thread(target=run, args=(eng,)) for eng in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for eng in engines:
        eng.dispose()
    assert len(reports) == 2 and sum(reports) == 40 and len(nudges(engine)) == 40  # both ran to the end
    assert len([m for m in all_outbox(engine) if m.key.startswith("nudge:")]) == 40


def globex_stalled(bot) -> Services:
    """Globex onboarded 20 days ago without a registration, and a program that may message at any hour."""
    return globex_onboarded(bot, timedelta(days=20))


def globex_onboarded(bot, ago: timedelta) -> Services:
    """The demo's Globex onboarded `ago`, and a program that may message at any hour."""
    services = bot.services
    with Session(bot.engine) as session:
        partner = session.exec(select(Partner).where(Partner.name == "Globex Referrals")).one()
        partner.stage, partner.stage_since = PartnerStage.onboarded, services.clock() - ago
        session.add(partner)
        session.commit()
    program = only_partner_kinds(any_hour(services.program))
    services.program = program
    services.notifier.program = program
    return services


def nudges_in(bot, channel: str) -> list:
    return [m for m in bot.sandbox.messages(channel) if "Ready to register your first lead" in text_of(m)]


def test_a_crash_between_storing_a_nudge_and_sending_it_sends_it_once_after_the_restart(bot, engine):
    services = globex_stalled(bot)
    client = bot.worker.sender.client
    bot.worker.stop()  # the process dies after the job stored its nudge: its worker sends nothing more
    services.kick = lambda: None
    assert send_due_nudges(services).total == 1
    assert nudges_in(bot, "C0GLOBEX") == []
    # The restarted worker's first post reaches Slack but its answer is lost (a 500): it looks before posting again.
    bot.sandbox.fail("chat.postMessage", status=500, after_effect=True)
    restarted = Worker(services, client, inline=True, backoff=lambda attempts: 0.05)
    try:
        def sent() -> bool:
            restarted.kick()
            with Session(engine) as session:
                nudge = session.exec(select(Nudge)).one()
                return session.exec(select(SlackMessage).where(SlackMessage.key == nudge.message_key)).one().status \
                    == "sent"
        bot.sandbox.wait_for(sent)
    finally:
        restarted.stop()
    assert send_due_nudges(services).total == 0
    assert len(nudges_in(bot, "C0GLOBEX")) == 1
    assert any(c.status == 500 for c in bot.sandbox.calls("chat.postMessage"))
    assert bot.sandbox.calls("conversations.history")  # it looked for the post before trying again


def test_the_partner_clicks_snooze_in_its_channel_and_the_nudge_shows_it(bot, engine):
    services = globex_stalled(bot)
    assert send_due_nudges(services).created == {"activation": 1}
    bot.worker.kick()
    [message] = [m for m in bot.sandbox.messages("C0GLOBEX") if "Ready to register your first lead" in text_of(m)]
    assert "<@U0BOB> <@U0BETH>" in text_of(message)
    channel, ts = copy_to(bot, message, "C0NORTH")  # a copy Northwind's person can press: not theirs to answer
    bot.driver.click("U0DANA", "nudge_snooze", message=(channel, ts))
    assert "isn't yours to answer" in text_of(bot.sandbox.ephemerals("U0DANA")[-1])
    bot.driver.click("U0BOB", "nudge_snooze", message=(message.channel, message.ts))
    [message] = [m for m in bot.sandbox.messages("C0GLOBEX") if "Ready to register your first lead" in text_of(m)]
    assert bot.sandbox.buttons(message) == [] and "<@U0BOB> snoozed these nudges until" in text_of(message)
    card = text_of(card_of(bot, "U0PRIYA", "globex"))
    assert f"*Recent nudges*\n• {services.clock():%-d %b %Y} · Activation to <#C0GLOBEX> · snoozed by <@U0BOB>" in card


def test_the_program_file_says_which_nudge_setting_is_wrong_and_how(tmp_path):
    from workflows.program import ProgramError
    from workflows.program_file import read_program

    text = ("nudges:\n  working_hours: {days: [mon, funday], start: '18:00', end: '09:00'}\n"
            "  partner_time_zones: {Northwind: Mars/Olympus}\n  activaton: {enabled: false}\n"
            "protection:\n  extension_days: zero\n")
    with pytest.raises(ProgramError) as refused:
        read_program(text, tmp_path / "program.yml")
    problems = "\n".join(refused.value.problems)
    assert "nudges.working_hours.days: should name days such as [mon, tue, wed, thu, fri]" in problems
    assert "the time zone of Northwind (Mars/Olympus) is not a time zone; use a name such as Europe/Berlin" in problems
    assert "nudges.activaton: is not a setting Partnerbot knows; did you mean activation?" in problems
    assert "protection.extension_days" in problems and "30" in problems
    program = read_program("nudges: {working_hours: {start: '08:30'}}\n", tmp_path / "p.yml").program
    assert program.nudges.working_hours.start == "08:30" and program.protection.max_extensions == 1
