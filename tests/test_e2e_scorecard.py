"""The partners' monthly scorecard (workflows/scorecard.py) through the real app and the local Slack sandbox: once per
partner per month (the job run twice, two runs at once), only the partner's own figures against its type's average,
protections ending within 30 days listed and escaped, a referral partner's contacts each their own by DM, and the
desk's My scorecard button for an external user."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import update
from sqlmodel import Session, select

from bot.local import local_bot
from bot.scheduler import job_named
from storage.models import Partner, PartnerType, Registration, RegistrationStatus
from storage.nudges.models import Nudge
from tests.e2e_support import Clock, desk_message, dm_messages, text_of
from workflows.program import Program
from workflows.scorecard import send_due_scorecards
from workflows.services import utc_clock

DEC_1 = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)  # a Tuesday: working hours in London
NOV = datetime(2026, 11, 1, tzinfo=timezone.utc)


@pytest.fixture
def clock() -> Clock:
    moved = Clock()
    moved.offset = DEC_1 - utc_clock()
    return moved


@pytest.fixture
def bot(engine, clock):
    with local_bot(engine, Program(), process_before_response=True, clock=clock) as running:
        with Session(engine) as session:  # imported at the real time, which may be December already
            session.execute(update(Partner).values(created_at=NOV - timedelta(days=100)))
            session.commit()
        running.driver.bot_joined("C0NORTH")
        running.driver.bot_joined("C0GLOBEX")
        yield running


def partner_id(engine, name: str) -> int:
    with Session(engine) as session:
        return session.exec(select(Partner.id).where(Partner.name == name)).one()


def add_partner(engine, name: str, partner_type: PartnerType = PartnerType.reseller) -> int:
    with Session(engine) as session:
        partner = Partner(name=name, type=partner_type, created_at=NOV - timedelta(days=100))
        session.add(partner)
        session.commit()
        return partner.id


def add_registration(engine, partner: int, company: str, *, status: RegistrationStatus, created: int,
                     approved: int | None = None, closed: int | None = None, expires: datetime | None = None,
                     by: str = "U0DANA", value: int = 1000, assigned: str | None = None) -> None:
    """A registration of `partner` created on day `created` of November (approved, closed on those days)."""
    day = lambda n: None if n is None else NOV + timedelta(days=n - 1, hours=9)  # noqa: E731
    with Session(engine) as session:
        session.add(Registration(
            partner_id=partner, submitted_by_slack_id=by, company=company, company_key=company.lower(),
            contact_name="A", contact_email="a@example.com", region="EMEA", product_line="Platform",
            estimated_value=Decimal(value), currency="USD", pricing_model="subscription", company_size="",
            budget="", timeline="", status=status, created_at=day(created), updated_at=day(created),
            approved_at=day(approved), closed_at=day(closed), protection_expires_at=expires,
            assigned_to_slack_id=assigned))
        session.commit()


def november(engine) -> None:
    """Northwind (reseller): 4 submitted in November (1 won, 1 lost, 2 still approved), 3 approved in it, one
    protection ending in 14 days and one in 60; an October registration ending in 20 days. Two other resellers
    (no channel) with their own, unmistakable figures; Globex (referral): Bob's two and Beth's one."""
    north = partner_id(engine, "Northwind Consulting")
    won, lost, approved = RegistrationStatus.won, RegistrationStatus.lost, RegistrationStatus.approved
    add_registration(engine, north, "Acme Inc.", status=won, created=3, approved=4, closed=20, value=12000)
    add_registration(engine, north, "Lost Co", status=lost, created=5, closed=25)
    add_registration(engine, north, "<!channel> & Sons", status=approved, created=10, approved=12,
                     expires=DEC_1 + timedelta(days=14))
    add_registration(engine, north, "Far Away Ltd", status=approved, created=11, approved=11,
                     expires=DEC_1 + timedelta(days=60))
    add_registration(engine, north, "October Corp", status=approved, created=-30, approved=-29,
                     expires=DEC_1 + timedelta(days=20))
    for name, wins, losses in (("Second Reseller", 3, 1), ("Third Reseller", 0, 2)):
        other = add_partner(engine, name)
        for n in range(wins):
            add_registration(engine, other, f"{name} Win {n}", status=won, created=2, approved=3,
                             closed=9, value=777000, by="UOTHER")
        for n in range(losses):
            add_registration(engine, other, f"{name} Loss {n}", status=lost, created=2, closed=9, by="UOTHER")
        add_registration(engine, other, f"{name} Expiring", status=approved, created=2, approved=2, by="UOTHER",
                         expires=DEC_1 + timedelta(days=5))
    globex = partner_id(engine, "Globex Referrals")
    add_registration(engine, globex, "Bob Won Co", status=won, created=6, approved=6, closed=16, by="U0BOB")
    add_registration(engine, globex, "Bob Open Co", status=approved, created=7, approved=8, by="U0BOB",
                     expires=DEC_1 + timedelta(days=9))
    add_registration(engine, globex, "Beth Secret Co", status=lost, created=8, closed=18, by="U0BETH")


def scorecards(bot, channel: str) -> list[str]:
    return [text_of(m) for m in bot.sandbox.messages(channel) if "scorecard for" in text_of(m)]


def test_each_partner_gets_last_months_scorecard_once_with_its_own_figures_against_its_type(bot, engine):
    november(engine)
    services = bot.runtime.services
    first = send_due_scorecards(services)
    assert first.created == {"scorecard": 3}  # Northwind's channel; Globex's two contacts; no channel, no scorecard
    assert send_due_scorecards(services).total == 0  # the second run: nothing twice
    [card] = scorecards(bot, "C0NORTH")
    assert "Northwind Consulting's scorecard for November 2026" in card
    assert "Registrations: 4 submitted, 3 approved, 1 deal won worth 12,000 USD" in card
    assert "Lead-to-close: 50.0% (1 won of 2 decided, 2 still open)" in card
    # The type's average pools every reseller (1 + 3 + 0 won of 2 + 4 + 2 decided; 2 + 1 + 1 open), naming none
    assert "Reseller partners on average: 50.0% (4 won of 8 decided, 4 still open)" in card
    assert "Protection ending in the next 30 days" in card
    assert "&lt;!channel&gt; &amp; Sons: 15 Dec 2026" in card
    assert "October Corp: 21 Dec 2026" in card and "Far Away" not in card  # 60 days away: not listed
    assert "<!channel>" not in card  # a company name never pings the channel
    for other in ("Second Reseller", "Third Reseller", "777,000", "Globex", "Bob", "Beth"):
        assert other not in card  # only its own figures, ever
    [nudge] = [n for n in _nudges(engine) if n.recipient == "C0NORTH"]
    assert (nudge.kind, nudge.period, nudge.subject) == ("scorecard", "2026-11", f"partner:{nudge.partner_id}")
    buttons = [b.action_id for m in bot.sandbox.messages("C0NORTH") if "scorecard for" in text_of(m)
               for b in bot.sandbox.buttons(m)]
    assert buttons == ["register_lead", "nudge_not_relevant"]  # no Snooze on a monthly message


def test_a_referral_partners_contacts_each_get_their_own_scorecard_by_dm_and_the_channel_none(bot, engine):
    november(engine)
    send_due_scorecards(bot.runtime.services)
    assert scorecards(bot, "C0GLOBEX") == []  # the channel would show each contact the others' deals
    [bob] = [text_of(m) for m in dm_messages(bot.sandbox, "U0BOB") if "scorecard for" in text_of(m)]
    [beth] = [text_of(m) for m in dm_messages(bot.sandbox, "U0BETH") if "scorecard for" in text_of(m)]
    assert "Your scorecard for November 2026: what you registered for Globex Referrals" in bob
    assert "Registrations: 2 submitted, 2 approved, 1 deal won worth 1,000 USD" in bob
    assert "Lead-to-close: 100.0% (1 won of 1 decided, 1 still open)" in bob
    assert "Bob Open Co: 10 Dec 2026" in bob
    assert "Beth" not in bob
    assert "Registrations: 1 submitted, 0 approved, 0 deals won" in beth and "Bob" not in beth
    # Globex is the only referral partner: an average over one partner would give away a colleague's figures
    assert "Referral partners on average: not shown this time (fewer than 3 partners" in bob


def test_two_runs_at_once_send_each_scorecard_once(bot, engine):
    november(engine)
    services, results, errors = bot.runtime.services, [], []

    def run():
        try:
            results.append(send_due_scorecards(services).total)
        except Exception as error:  # noqa: BLE001 (the test reports it)
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and sorted(results) in ([0, 3], [1, 2], [2, 1], [3, 0]) and sum(results) == 3
    assert len(scorecards(bot, "C0NORTH")) == 1
    assert len({n.key for n in _nudges(engine)}) == len(_nudges(engine)) == 3


def test_the_scorecard_waits_for_its_day_and_the_job_is_the_schedulers(bot, engine, clock):
    november(engine)
    services = bot.runtime.services
    services.program = Program.model_validate({"scorecard": {"day": 3}})
    assert send_due_scorecards(services).total == 0  # the 1st: not before the 3rd
    clock.offset += timedelta(days=2)
    assert send_due_scorecards(services).total == 3
    clock.offset += timedelta(days=10)
    assert send_due_scorecards(services).total == 0  # the month's went already
    services.program = Program.model_validate({"scorecard": {"enabled": False}})
    clock.offset += timedelta(days=31)
    assert send_due_scorecards(services).total == 0  # switched off
    job = job_named("scorecard")
    assert job is not None and job.schedule.describe() == "every hour"


def test_my_scorecard_on_the_desk_answers_an_external_user_privately_with_their_own(bot, engine):
    november(engine)
    sandbox, driver = bot.sandbox, bot.driver
    assert driver.click("U0DANA", "my_scorecard", message=("C0NORTH", desk_message(sandbox, "C0NORTH").ts)).status \
        == 200
    answer = text_of(sandbox.ephemerals("U0DANA")[-1])
    assert "Northwind Consulting's scorecard for November 2026" in answer
    assert "Registrations: 4 submitted, 3 approved" in answer and "Second Reseller" not in answer
    assert scorecards(bot, "C0NORTH") == []  # privately: nothing in the channel
    driver.click("U0BETH", "my_scorecard", message=("C0GLOBEX", desk_message(sandbox, "C0GLOBEX").ts))
    beth = text_of(sandbox.ephemerals("U0BETH")[-1])
    assert "Your scorecard for November 2026" in beth and "Beth Secret Co" not in beth  # (lost: not expiring)
    assert "1 submitted" in beth and "Bob" not in beth
    # An AE pressing it in Northwind's channel sees only the deals assigned to them, and is told so.
    driver.click("U0ALEX", "my_scorecard", message=("C0NORTH", desk_message(sandbox, "C0NORTH").ts))
    assert "Northwind Consulting's scorecard for November 2026: the deals assigned to you" in \
        text_of(sandbox.ephemerals("U0ALEX")[-1])


def _nudges(engine) -> list[Nudge]:
    with Session(engine) as session:
        return list(session.exec(select(Nudge).order_by(Nudge.id)).all())


def test_not_relevant_on_a_scorecard_stops_the_next_ones_for_that_partner_only(bot, engine, clock):
    november(engine)
    send_due_scorecards(bot.runtime.services)
    [card] = [m for m in bot.sandbox.messages("C0NORTH") if "scorecard for" in text_of(m)]
    assert bot.driver.click("U0DANA", "nudge_not_relevant", message=("C0NORTH", card.ts)).status == 200
    clock.offset += timedelta(days=31)  # January: December's scorecards
    assert send_due_scorecards(bot.runtime.services).created == {"scorecard": 2}  # Bob's and Beth's only
    assert len(scorecards(bot, "C0NORTH")) == 1


def test_the_program_file_checks_and_shows_the_scorecard_settings():
    from workflows.program_rules import describe_nudges
    from tests.test_program_checks import problems

    assert problems("scorecard:\n  day: 31\n") == ["line 2: scorecard.day: should be at most 28"]
    assert problems("scorecard:\n  enabled: maybe\n") == ["line 2: scorecard.enabled: should be true or false"]
    program = Program.model_validate({"scorecard": {"day": 3}})
    assert "Monthly scorecard: on, from day 3 of each month, in each partner's channel (referral partners: each " \
           "contact by DM)" in describe_nudges(program)
