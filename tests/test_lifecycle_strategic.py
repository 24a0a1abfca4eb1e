"""The strategic proposal: a producing partner meeting the program's criteria is proposed to its manager, once;
accepted or dismissed by the manager or an admin only, pressed twice or forged to no effect."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlmodel import Session, select

from bot.demo_data import import_demo_records
from bot.local import local_bot
from handlers.blocks.partner_card import build_strategic_proposal
from storage.models import Partner, PartnerStage, ProposalStatus, StageProposal
from tests.e2e_support import clock, copy_to, dm_messages, text_of  # noqa: F401  (clock: a fixture)
from tests.support import RecordingNotifier, lead
from tests.test_lifecycle import FixedClock, assert_history_is_whole, history, partner_named, register, win
from workflows.decisions import Decision, close_deal, decide_registration
from workflows.people import identify
from workflows.program import LifecycleRules, Program, ProgramError, RoutingRules, StrategicCriteria, parse_program
from workflows.registrations import register_lead
from workflows.services import Services

TWO_WINS = Program(lifecycle=LifecycleRules(strategic=StrategicCriteria(min_won_deals=2, min_won_value=None)))


@pytest.fixture
def strategic_bot(engine, clock):
    """The bot with a program that proposes a partner as strategic at its second won deal."""
    with local_bot(engine, TWO_WINS, process_before_response=True, clock=clock) as running:
        running.driver.bot_joined("C0NORTH")
        running.driver.bot_joined("C0GLOBEX")
        yield running


def proposals_to(bot, user_id: str) -> list:
    return [m for m in dm_messages(bot.sandbox, user_id) if "looks strategic" in text_of(m)]


def test_a_producing_partner_meeting_the_criteria_is_proposed_once_to_its_manager_who_accepts(strategic_bot,
                                                                                              engine):
    bot = strategic_bot
    win(bot, register(bot, "U0DANA", "C0NORTH", "Acme"))
    assert proposals_to(bot, "U0PRIYA") == []
    win(bot, register(bot, "U0DANA", "C0NORTH", "Umbrella"))
    [proposal] = proposals_to(bot, "U0PRIYA")
    assert ("*Northwind Consulting* looks strategic: 2 deals won for 96,000 USD in the last 12 months (the program "
            "asks for 2 deals won in 12 months)") in text_of(proposal)
    assert [b.action_id for b in bot.sandbox.buttons(proposal)] == ["strategic_accept", "strategic_dismiss"]
    win(bot, register(bot, "U0DANA", "C0NORTH", "Initrode"))
    assert len(proposals_to(bot, "U0PRIYA")) == 1  # once, however many wins meet the criteria again
    with Session(engine) as session:
        assert len(session.exec(select(StageProposal)).all()) == 1

    channel, ts = copy_to(bot, proposal, "C0NORTH")  # an AE presses a copy of the manager's buttons
    bot.driver.click("U0ALEX", "strategic_accept", message=(channel, ts))
    assert "Only the partner's manager or an admin can decide this proposal." in text_of(
        bot.sandbox.ephemerals("U0ALEX")[-1])
    assert partner_named(engine, "Northwind Consulting").stage == PartnerStage.producing

    accepted = bot.driver.click("U0PRIYA", "strategic_accept", message=(proposal.channel, proposal.ts))
    assert partner_named(engine, "Northwind Consulting").stage == PartnerStage.strategic
    [event] = history(engine, "Northwind Consulting")[-1:]
    assert event[:3] == ("producing", "strategic", "U0PRIYA") and event[3].startswith(
        "strategic proposal accepted: 2 deals won")
    [proposal] = proposals_to(bot, "U0PRIYA")
    assert bot.sandbox.buttons(proposal) == [] and "Made strategic by <@U0PRIYA>" in text_of(proposal)
    assert "Northwind Consulting is strategic now." in text_of(bot.sandbox.ephemerals("U0PRIYA")[-1])
    bot.driver.redeliver(accepted)  # Slack delivers the press again: nothing happens twice
    channel, ts = copy_to(bot, pending_proposal(engine), bot.sandbox.dm_channel("U0ADMIN"))
    bot.driver.click("U0ADMIN", "strategic_dismiss", message=(channel, ts))  # a second press, by an admin
    assert "this proposal was already accepted by Priya Nair" in text_of(bot.sandbox.ephemerals("U0ADMIN")[-1])
    assert partner_named(engine, "Northwind Consulting").stage == PartnerStage.strategic
    assert len(history(engine, "Northwind Consulting")) == 2
    assert_history_is_whole(engine)


def pending_proposal(engine):
    """The proposal as it was while open, with its buttons (a press that raced the first one)."""
    with Session(engine) as session:
        proposal = session.exec(select(StageProposal)).one()
        partner = session.get(Partner, proposal.partner_id)
    return build_strategic_proposal(proposal.model_copy(update={"status": ProposalStatus.pending}), partner)


def test_a_dismissed_proposal_leaves_the_stage_and_is_never_sent_again(strategic_bot, engine):
    bot = strategic_bot
    for company in ("Acme", "Umbrella"):
        win(bot, register(bot, "U0DANA", "C0NORTH", company))
    [proposal] = proposals_to(bot, "U0PRIYA")
    bot.driver.click("U0PRIYA", "strategic_dismiss", message=(proposal.channel, proposal.ts))
    assert partner_named(engine, "Northwind Consulting").stage == PartnerStage.producing
    [proposal] = proposals_to(bot, "U0PRIYA")
    assert "Dismissed by <@U0PRIYA>" in text_of(proposal) and bot.sandbox.buttons(proposal) == []
    win(bot, register(bot, "U0DANA", "C0NORTH", "Initrode"))
    assert len(proposals_to(bot, "U0PRIYA")) == 1
    assert [h[2] for h in history(engine, "Northwind Consulting")] == ["import"]


def test_won_value_counts_the_last_12_months_in_the_base_currency(engine, now):
    import_demo_records(engine)
    program = Program(routing=RoutingRules(exchange_rates={"EUR": Decimal("1.10")}),
                      lifecycle=LifecycleRules(strategic=StrategicCriteria(min_won_deals=None,
                                                                           min_won_value=Decimal(100_000))))
    clock = FixedClock(now)
    services = Services(engine=engine, program=program, notifier=RecordingNotifier(), clock=clock,
                        our_team_id="T0OURS", bot_user_id="U0BOT")
    dana = identify(services, user_id="U0DANA", team_id="T0NORTH")
    priya = identify(services, user_id="U0PRIYA", team_id="T0OURS")

    def won(company: str, value: int, currency: str) -> None:
        reg = register_lead(services, actor=dana, lead=lead(company=company, domain=f"{company}.com",
                                                            estimated_value=Decimal(value), currency=currency))
        decide_registration(services, actor=priya, registration_id=reg.registration.id, decision=Decision.approve)
        close_deal(services, actor=priya, registration_id=reg.registration.id, won=True)

    def proposed() -> list:
        return [c for c in services.notifier.calls if c[0] == "strategic_proposed"]

    won("old", 90_000, "USD")
    clock.now += timedelta(days=400)  # more than 12 months ago now
    won("gbp", 500_000, "GBP")  # no exchange rate: not counted
    won("eur", 50_000, "EUR")  # 55,000 USD
    assert proposed() == []
    won("usd", 50_000, "USD")  # 105,000 USD in 12 months
    northwind = partner_named(engine, "Northwind Consulting")
    assert proposed() == [("strategic_proposed", northwind.id, "U0PRIYA")]
    with Session(engine) as session:
        proposal = session.exec(select(StageProposal)).one()
    assert proposal.reason == ("3 deals won for 105,000 USD (not counting GBP: no exchange rate) in the last 12 "
                               "months (the program asks for 100,000 USD won in 12 months)")


def test_the_program_files_lifecycle_settings_are_checked_in_an_admins_words(tmp_path):
    path = tmp_path / "program.yml"
    assert parse_program("lifecycle:\n  strategic:\n    min_won_value: null\n", path).lifecycle.strategic == \
        StrategicCriteria(min_won_deals=5, min_won_value=None)  # judged by deals alone
    assert not parse_program("lifecycle: {strategic: {min_won_deals: null, min_won_value: null}}",
                             path).lifecycle.strategic.enabled
    with pytest.raises(ProgramError) as bad:
        parse_program("lifecycle:\n  strategic:\n    min_won_deals: five\n  strategik: {}\n", path)
    assert bad.value.problems == [
        "line 3: lifecycle.strategic.min_won_deals: should be a whole number, such as 5",
        "line 4: lifecycle.strategik: is not a setting Partnerbot knows; did you mean strategic?"]
