"""Customer accounts from won registrations: through the real app (desk, accept, Mark won, Undo), and the
matching rules and undo cases on a real database with a fixed clock."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlmodel import Session, select

from storage.models import (
    AccountPartner,
    AccountProductLine,
    CustomerAccount,
    Partner,
    Recurrence,
    Registration,
    RegistrationStatus,
    Upsell,
    UpsellSignal,
)
from tests.e2e_support import dm_messages, register_via_desk
from tests.support import lead
from tests.test_workflows_registration import clock, services  # noqa: F401  (the same fixtures)
from workflows.accounts import add_product_line, attach_partner, new_account
from workflows.decisions import Decision, close_deal, decide_registration
from workflows.people import identify
from workflows.registrations import register_lead
from workflows.undo import undo_decision


def accounts(engine) -> list[tuple]:
    """Every account as (name, domain, owner, landing zone, source registration), by id."""
    with Session(engine) as session:
        return [(a.name, a.domain, a.owner_slack_id, a.landing_zone, a.source_registration_id)
                for a in session.exec(select(CustomerAccount).order_by(CustomerAccount.id)).all()]


def attachments(engine) -> list[tuple]:
    """Every attachment as (account name, partner name, registration id, submitter)."""
    with Session(engine) as session:
        rows = session.exec(select(CustomerAccount.name, Partner.name, AccountPartner.registration_id,
                                   AccountPartner.submitted_by_slack_id)
                            .join(CustomerAccount, CustomerAccount.id == AccountPartner.account_id)
                            .join(Partner, Partner.id == AccountPartner.partner_id)
                            .order_by(CustomerAccount.id, Partner.name)).all()
        return [tuple(row) for row in rows]


def product_lines(engine) -> list[tuple]:
    with Session(engine) as session:
        rows = session.exec(select(CustomerAccount.name, AccountProductLine.product_line)
                            .join(CustomerAccount, CustomerAccount.id == AccountProductLine.account_id)
                            .order_by(CustomerAccount.id, AccountProductLine.product_line)).all()
        return [tuple(row) for row in rows]


def everything(engine) -> tuple:
    return accounts(engine), attachments(engine), product_lines(engine)


# Through the real app: signed requests, the sandbox, the real database.

def win_through_slack(bot):
    """Dana registers Acme on Northwind's desk, Alex accepts it and marks it won (clicking twice)."""
    register_via_desk(bot, "U0DANA", "C0NORTH")
    [review] = dm_messages(bot.sandbox, "U0ALEX")
    assert bot.driver.click("U0ALEX", "review_accept", message=(review.channel, review.ts)).status == 200
    [review] = dm_messages(bot.sandbox, "U0ALEX")
    won_button = [b for b in bot.sandbox.buttons(review) if b.action_id == "deal_won"]
    assert bot.driver.click("U0ALEX", "deal_won", message=(review.channel, review.ts)).status == 200
    # A second click Slack delivers before the message lost its buttons changes nothing.
    bot.sandbox.state.find_message(review.channel, review.ts).blocks = [
        {"type": "actions", "block_id": "review_actions",
         "elements": [{"type": "button", "action_id": b.action_id, "value": b.value,
                       "text": {"type": "plain_text", "text": b.text}} for b in won_button]}]
    assert bot.driver.click("U0ALEX", "deal_won", message=(review.channel, review.ts)).status == 200


def test_a_won_registration_becomes_a_customer_account(bot, engine):
    assert everything(engine) == ([], [], [])
    win_through_slack(bot)
    with Session(engine) as session:
        [reg] = session.exec(select(Registration)).all()
        [account] = session.exec(select(CustomerAccount)).all()
    assert reg.status == RegistrationStatus.won
    assert (account.name, account.name_key, account.domain) == ("Acme Inc.", "acme", "acme.com")
    assert (account.owner_slack_id, account.landing_zone, account.source_registration_id) == ("U0ALEX", "Platform",
                                                                                              reg.id)
    assert account.monthly_revenue is None  # a deal's value is not the customer's monthly revenue
    assert attachments(engine) == [("Acme Inc.", "Northwind Consulting", reg.id, "U0DANA")]
    assert product_lines(engine) == [("Acme Inc.", "Platform")]


def test_undoing_the_win_removes_the_account_it_created(bot, engine):
    win_through_slack(bot)
    assert len(accounts(engine)) == 1
    prompt = next(e for e in reversed(bot.sandbox.ephemerals("U0ALEX"))
                  if any(b.action_id == "review_undo" for b in bot.sandbox.buttons(e)))
    assert bot.driver.click("U0ALEX", "review_undo", message=(prompt.channel, prompt.ts)).status == 200
    with Session(engine) as session:
        assert session.exec(select(Registration.status)).one() == RegistrationStatus.approved
    assert everything(engine) == ([], [], [])
    # Won again: the account comes back as it was.
    [review] = [m for m in dm_messages(bot.sandbox, "U0ALEX")
                if any(b.action_id == "deal_won" for b in bot.sandbox.buttons(m))]
    assert bot.driver.click("U0ALEX", "deal_won", message=(review.channel, review.ts)).status == 200
    assert accounts(engine) == [("Acme Inc.", "acme.com", "U0ALEX", "Platform", 1)]


# The rules, on the workflows with a fixed clock.

def who(services, user_id, team_id="T0OURS"):
    return identify(services, user_id=user_id, team_id=team_id)


def approved(services, user_id="U0DANA", team_id="T0NORTH", **changes) -> Registration:
    """A registration by `user_id`, accepted by the AE it was routed to."""
    reg = register_lead(services, actor=who(services, user_id, team_id), lead=lead(**changes)).registration
    assert reg.review_kind == "ae", "routed to an AE, not a conflict"
    decide_registration(services, actor=who(services, reg.assigned_to_slack_id), registration_id=reg.id,
                        decision=Decision.approve)
    return reg


def win(services, reg: Registration, by: str | None = None):
    outcome = close_deal(services, actor=who(services, by or reg.assigned_to_slack_id), registration_id=reg.id,
                         won=True)
    assert outcome.changed
    return outcome


def undo(services, outcome, by: str):
    assert undo_decision(services, actor=who(services, by), decision_id=outcome.undo_id).changed


def existing(engine, now, *, name="Acme Corporation", domain: str | None = "acme.com", owner="U0CARL",
             partners=("Globex Referrals",), lines=("Analytics",), revenue=None) -> int:
    """An account as an import would leave it."""
    from workflows.normalize import company_key

    with Session(engine) as session:
        account = new_account(session, name=name, key=company_key(name), domain=domain, now=now,
                              owner_slack_id=owner, landing_zone=lines[0] if lines else None,
                              monthly_revenue=revenue, currency="USD" if revenue else None)
        for partner_name in partners:
            partner = session.exec(select(Partner).where(Partner.name == partner_name)).one()
            attach_partner(session, account, partner.id, now=now)
        for line in lines:
            add_product_line(session, account, line, now=now)
        session.commit()
        return account.id


def test_a_lost_deal_makes_no_account(services, engine):
    reg = approved(services)
    close_deal(services, actor=who(services, "U0ALEX"), registration_id=reg.id, won=False, reason_choice="competitor")
    assert everything(engine) == ([], [], [])


def test_the_owner_is_the_assigned_ae_even_when_a_partner_manager_marks_it_won(services, engine):
    reg = approved(services)
    win(services, reg, by="U0PRIYA")
    assert accounts(engine) == [("Acme Inc.", "acme.com", "U0ALEX", "Platform", reg.id)]


def test_a_win_joins_the_account_with_its_domain_and_keeps_what_it_had_and_undo_takes_back_only_the_win(
        services, engine, now):
    existing(engine, now, revenue=Decimal("1200"))
    before = everything(engine)
    reg = approved(services, domain="https://www.ACME.com/about", company="Acme (Germany)")
    won = win(services, reg)
    assert accounts(engine) == [("Acme Corporation", "acme.com", "U0CARL", "Analytics", None)]  # kept
    assert attachments(engine) == [("Acme Corporation", "Globex Referrals", None, None),
                                   ("Acme Corporation", "Northwind Consulting", reg.id, "U0DANA")]
    assert product_lines(engine) == [("Acme Corporation", "Analytics"), ("Acme Corporation", "Platform")]
    undo(services, won, "U0ALEX")
    assert everything(engine) == before  # everything it had, nothing the win brought


def test_a_win_matches_by_name_when_the_domain_is_unknown_and_gives_the_account_what_it_lacked(
        services, engine, now):
    existing(engine, now, name="ACME Incorporated", domain=None, owner=None, partners=(), lines=())
    before = everything(engine)
    reg = approved(services)  # Acme Inc., acme.com
    won = win(services, reg)
    assert accounts(engine) == [("ACME Incorporated", "acme.com", "U0ALEX", "Platform", None)]
    assert product_lines(engine) == [("ACME Incorporated", "Platform")]
    undo(services, won, "U0ALEX")
    assert everything(engine) == before


def test_a_domain_match_comes_before_a_name_match(services, engine, now):
    existing(engine, now, name="Acme Inc.", domain="acme-old.com", partners=())
    existing(engine, now, name="Initrode", domain="acme.com", partners=())
    win(services, approved(services))  # Acme Inc., acme.com
    assert attachments(engine) == [("Initrode", "Northwind Consulting", 1, "U0DANA")]


def test_a_partner_attached_by_an_import_gets_the_won_registration_and_keeps_its_attachment_on_undo(
        services, engine, now):
    existing(engine, now, partners=("Northwind Consulting",))
    before = everything(engine)
    reg = approved(services)
    won = win(services, reg)
    assert attachments(engine) == [("Acme Corporation", "Northwind Consulting", reg.id, "U0DANA")]
    undo(services, won, "U0ALEX")
    assert everything(engine) == before


def test_a_referral_contacts_win_is_attached_with_them_as_submitter(services, engine):
    reg = approved(services, "U0BOB", "T0GLOBEX", region="North America")
    win(services, reg)
    assert attachments(engine) == [("Acme Inc.", "Globex Referrals", reg.id, "U0BOB")]
    assert accounts(engine)[0][2] == "U0CARL"  # North America's AE


def test_undo_keeps_an_account_it_created_once_an_upsell_relies_on_it(services, engine, now):
    reg = approved(services)
    won = win(services, reg)
    with Session(engine) as session:
        account = session.exec(select(CustomerAccount)).one()
        session.add(Upsell(account_id=account.id, partner_id=reg.partner_id, flagged_by_slack_id="U0DANA",
                           signal=UpsellSignal.more_seats, target="Enterprise", expected_value=Decimal("5000"),
                           currency="USD", recurrence=Recurrence.monthly, timeline="1-3m"))
        session.commit()
    undo(services, won, "U0ALEX")
    # The account stays for the upsell; what came with the win alone goes.
    assert accounts(engine) == [("Acme Inc.", "acme.com", None, None, None)]
    assert attachments(engine) == [] and product_lines(engine) == []


def test_undo_hands_a_created_account_to_the_other_win_attached_since(services, engine, now):
    first = approved(services)
    first_won = win(services, first)
    # A won deal no longer protects the company: Globex registers it too, and its AE wins it within the minutes
    # the first win can still be undone.
    rival = approved(services, "U0BOB", "T0GLOBEX", region="North America")
    win(services, rival)
    assert attachments(engine) == [("Acme Inc.", "Globex Referrals", rival.id, "U0BOB"),
                                   ("Acme Inc.", "Northwind Consulting", first.id, "U0DANA")]
    undo(services, first_won, "U0ALEX")
    assert accounts(engine) == [("Acme Inc.", "acme.com", rival.assigned_to_slack_id, "Platform", rival.id)]
    assert attachments(engine) == [("Acme Inc.", "Globex Referrals", rival.id, "U0BOB")]
    assert product_lines(engine) == [("Acme Inc.", "Platform")]  # the other win has it too


@pytest.mark.parametrize("line", ["Analytics", "Integrations"])
def test_a_second_win_adds_its_product_line_and_keeps_the_landing_zone(services, engine, line):
    win(services, approved(services))
    second = approved(services, "U0ERIK", "T0NORTH", product_line=line)  # a won deal protects no more
    win(services, second)
    assert accounts(engine)[0][3] == "Platform"
    assert product_lines(engine) == sorted([("Acme Inc.", "Platform"), ("Acme Inc.", line)])
    assert attachments(engine) == [("Acme Inc.", "Northwind Consulting", 1, "U0DANA")]  # attached once


def test_simultaneous_wins_of_one_customer_make_one_account(services, engine):
    from tests.test_concurrency import run_together

    first = approved(services)
    # Globex registers the same company while Northwind's is protected: the partner manager lets both work it.
    rival = register_lead(services, actor=who(services, "U0BOB", "T0GLOBEX"),
                          lead=lead(region="North America")).registration
    assert rival.review_kind == "conflict"
    decide_registration(services, actor=who(services, "U0PRIYA"), registration_id=rival.id,
                        decision=Decision.approve, reason="Both partners work it together")
    with Session(engine) as session:
        rival = session.get(Registration, rival.id)
    decide_registration(services, actor=who(services, rival.assigned_to_slack_id), registration_id=rival.id,
                        decision=Decision.approve)
    run_together([lambda: win(services, first), lambda: win(services, rival)])
    assert len(accounts(engine)) == 1
    assert [partner for _, partner, _, _ in attachments(engine)] == ["Globex Referrals", "Northwind Consulting"]


def test_the_account_lock_is_no_other_advisory_lock():
    """A lock number shared with the worker's would make every win wait for the worker to stop."""
    from storage.accounts import ACCOUNT_LOCK
    from storage.leadership import LEADERSHIP_LOCKS
    from storage.queries import REGISTRATION_LOCK

    numbers = [ACCOUNT_LOCK, REGISTRATION_LOCK, *LEADERSHIP_LOCKS.values()]
    assert len(set(numbers)) == len(numbers) == 4  # the worker's and the scheduler's leads are apart too
