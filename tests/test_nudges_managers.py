"""Nudges for partner managers: the QBR brief of each strategic partner in the first week of a quarter (the weekly
roll-up of stuck partners with Nudge them all: tests/test_nudges_rollup.py)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlmodel import Session

from storage.actors import Actor, ActorKind
from storage.models import (
    CustomerAccount,
    PartnerStage,
    PartnerStageEvent,
    Recurrence,
    Registration,
    RegistrationStatus,
    Role,
    TeamMember,
    Upsell,
    UpsellSignal,
    UpsellStatus,
)
from storage.nudges.models import NudgeKind
from tests.test_nudges import MovingClock, add_partner, make_services, nudges, outbox
from workflows.nudge_jobs import send_due_nudges
from workflows.program import Program

FIRST_MONDAY_2027 = datetime(2027, 1, 4, 10, 0, tzinfo=timezone.utc)  # 2027-Q1 week one: the brief is on 2026-Q4
MONDAY_NOON = datetime(2026, 11, 2, 12, 0, tzinfo=timezone.utc)
EUR_RATE = Program.model_validate({"routing": {"exchange_rates": {"EUR": "1.1"}}})
MANAGER = Actor("UMGR", None, ActorKind.internal, role=Role.partner_manager)


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 12, 0, tzinfo=timezone.utc)


def add_people(engine, *people: tuple[str, Role]) -> None:
    with Session(engine) as session:
        for slack_id, role in people:
            session.add(TeamMember(slack_user_id=slack_id, name=f"Person {slack_id}", role=role))
        session.commit()


def registration(partner_id: int, company: str, *, created: datetime, value: int, currency: str = "USD",
                 status: RegistrationStatus = RegistrationStatus.approved,
                 closed: datetime | None = None) -> Registration:
    return Registration(partner_id=partner_id, submitted_by_slack_id="UP", company=company,
                        company_key=company.lower(), contact_name="A", contact_email="a@example.com", region="EMEA",
                        product_line="Platform", estimated_value=Decimal(value), currency=currency,
                        pricing_model="subscription", company_size="", budget="", timeline="", status=status,
                        created_at=created, updated_at=closed or created, closed_at=closed)


def upsell(partner_id: int, account_id: int, *, created: datetime, value: int, won: datetime | None = None) -> Upsell:
    return Upsell(account_id=account_id, partner_id=partner_id, flagged_by_slack_id="UP",
                  signal=UpsellSignal.more_seats, target="Platform", expected_value=Decimal(value), currency="USD",
                  recurrence=Recurrence.monthly, timeline="this quarter", created_at=created, updated_at=created,
                  status=UpsellStatus.won if won else UpsellStatus.open, closed_at=won,
                  final_amount=Decimal(value + 500) if won else None)


def strategic_partner_with_two_quarters(engine, manager: str | None = "UMGR") -> int:
    """2026-Q3 and 2026-Q4 of one strategic partner, with the figures the brief must show worked out by hand."""
    partner_id = add_partner(engine, "Northwind", stage=PartnerStage.strategic, since=at(2026, 11, 10),
                             manager=manager)
    won, lost, approved = RegistrationStatus.won, RegistrationStatus.lost, RegistrationStatus.approved
    with Session(engine) as session:
        session.add_all([
            # 2026-Q3: 3 registered; 1 won (8,000 USD), 1 lost
            registration(partner_id, "Q3 Won", created=at(2026, 7, 3), value=8000, status=won, closed=at(2026, 8, 1)),
            registration(partner_id, "Q3 Lost", created=at(2026, 7, 9), value=4000, status=lost,
                         closed=at(2026, 9, 1)),
            registration(partner_id, "Late Win", created=at(2026, 9, 20), value=20000, status=won,
                         closed=at(2026, 10, 15)),  # registered in Q3, won in Q4
            # 2026-Q4: 4 registered; won 10,000 USD + 5,000 EUR (5,500 USD) + the late win: 35,500 USD; 1 lost
            registration(partner_id, "Q4 Won", created=at(2026, 10, 2), value=10000, status=won,
                         closed=at(2026, 11, 2)),
            registration(partner_id, "Q4 Euro", created=at(2026, 10, 5), value=5000, currency="EUR", status=won,
                         closed=at(2026, 12, 30)),
            registration(partner_id, "Q4 Lost", created=at(2026, 11, 5), value=3000, status=lost,
                         closed=at(2026, 12, 1)),
            registration(partner_id, "Q4 Open", created=at(2026, 12, 10), value=12000, status=approved),
            # 2027: open now (the pipeline counts it), not in the quarter
            registration(partner_id, "New Year", created=at(2027, 1, 2), value=1000,
                         status=RegistrationStatus.received),
            registration(partner_id, "Old Lost", created=at(2026, 3, 1), value=999, status=lost,
                         closed=at(2026, 6, 30)),  # 2026-Q2: in neither quarter
        ])
        account = CustomerAccount(name="Acme", name_key="acme")
        session.add(account)
        session.flush()
        session.add_all([
            upsell(partner_id, account.id, created=at(2026, 8, 1), value=700),  # Q3: 1 flagged, none won
            upsell(partner_id, account.id, created=at(2026, 10, 1), value=2500, won=at(2026, 12, 1)),  # 3,000 won
            upsell(partner_id, account.id, created=at(2026, 12, 1), value=900),  # Q4: 2 flagged, 1 won
        ])
        session.add_all([
            PartnerStageEvent(partner_id=partner_id, from_stage=PartnerStage.activated,
                              to_stage=PartnerStage.producing, actor="rule:first_win", at=at(2026, 8, 1)),
            PartnerStageEvent(partner_id=partner_id, from_stage=PartnerStage.producing,
                              to_stage=PartnerStage.strategic, actor="UMGR", at=at(2026, 11, 10)),
        ])
        session.commit()
    return partner_id


def test_the_qbr_brief_shows_last_quarter_against_the_one_before(engine):
    clock = MovingClock(FIRST_MONDAY_2027)
    add_people(engine, ("UMGR", Role.partner_manager))
    services = make_services(engine, clock, EUR_RATE, managers=True)
    partner_id = strategic_partner_with_two_quarters(engine)
    add_partner(engine, "Producing Co", stage=PartnerStage.producing, since=at(2026, 12, 1), channel="C2")
    assert send_due_nudges(services).created == {"qbr": 1}
    [brief] = [n for n in nudges(engine) if n.kind == NudgeKind.qbr]
    assert (brief.recipient, brief.subject, brief.period, brief.partner_id) == \
        ("UMGR", f"partner:{partner_id}", "2026-Q4", partner_id)
    text = str(outbox(engine, brief.message_key).blocks)
    assert "QBR prep: Northwind, 2026-Q4" in text
    assert "Registrations: 4 (+1 vs 2026-Q3)" in text
    assert "Won: 3 deals for 35,500 USD (+2 deals, +27,500 USD vs 2026-Q3)" in text
    assert "Win rate: 75% (3 won, 1 lost); +25 points vs 2026-Q3" in text
    assert "Upsells: 2 flagged, 1 won for 3,000 USD (+1 flagged, +1 won vs 2026-Q3)" in text
    assert "Open pipeline now: 2 registrations in review or approved, 13,000 USD" in text
    assert "Stage: strategic since 10 Nov 2026. Changes in 2026-Q4: producing → strategic on 10 Nov 2026 " \
           "(Person UMGR)" in text
    assert "/partner show Northwind" in text
    assert outbox(engine, brief.message_key).channel == "UMGR"  # a DM to the manager
    assert send_due_nudges(services).total == 0  # once per quarter


def test_a_currency_without_a_rate_is_named_not_counted_and_a_partner_without_a_manager_goes_to_the_runner(engine):
    clock = MovingClock(FIRST_MONDAY_2027)
    add_people(engine, ("UADMIN", Role.admin), ("URUN", Role.partner_manager), ("UAE", Role.ae))
    services = make_services(engine, clock, managers=True)  # no EUR rate
    strategic_partner_with_two_quarters(engine, manager=None)
    send_due_nudges(services)
    [brief] = [n for n in nudges(engine) if n.kind == NudgeKind.qbr]
    assert brief.recipient == "URUN"
    text = str(outbox(engine, brief.message_key).blocks)
    assert "Won: 3 deals for 30,000 USD (not counting EUR: no exchange rate) (+2 deals, +22,000 USD" in text


def test_a_quiet_quarter_says_so_rather_than_dividing_by_nothing(engine):
    clock = MovingClock(FIRST_MONDAY_2027)
    add_people(engine, ("UMGR", Role.partner_manager))
    services = make_services(engine, clock, managers=True)
    partner_id = add_partner(engine, "Quiet Strategic", stage=PartnerStage.strategic, since=at(2026, 5, 1))
    with Session(engine) as session:
        session.add(registration(partner_id, "Q3 Won", created=at(2026, 7, 3), value=8000,
                                 status=RegistrationStatus.won, closed=at(2026, 8, 1)))
        session.commit()
    send_due_nudges(services)
    [brief] = [n for n in nudges(engine) if n.kind == NudgeKind.qbr]
    text = str(outbox(engine, brief.message_key).blocks)
    assert "Registrations: 0 (−1 vs 2026-Q3)" in text
    assert "Won: 0 deals for 0 USD (−1 deals, −8,000 USD vs 2026-Q3)" in text
    assert "Win rate: no deal won or lost; 100% in 2026-Q3" in text
    assert "Open pipeline now: 0 registrations in review or approved, 0 USD" in text
    assert "Stage: strategic since 1 May 2026; no change in 2026-Q4." in text


@pytest.mark.parametrize("when, expected", [
    (datetime(2027, 1, 1, 0, 0, tzinfo=timezone.utc), 1),  # day 1
    (datetime(2027, 1, 7, 23, 59, tzinfo=timezone.utc), 1),  # day 7
    (datetime(2027, 1, 8, 0, 0, tzinfo=timezone.utc), 0),  # the second week: none
    (datetime(2027, 2, 3, 12, 0, tzinfo=timezone.utc), 0),  # not a quarter's first month
    (datetime(2026, 12, 31, 12, 0, tzinfo=timezone.utc), 0),
])
def test_the_qbr_brief_goes_only_in_the_first_week_of_a_quarter(engine, when, expected):
    add_people(engine, ("UMGR", Role.partner_manager))
    services = make_services(engine, MovingClock(when), EUR_RATE, managers=True)
    strategic_partner_with_two_quarters(engine)
    assert send_due_nudges(services).created.get("qbr", 0) == expected


def test_the_qbr_brief_goes_once_a_quarter_and_can_be_switched_off(engine):
    clock = MovingClock(datetime(2027, 1, 2, 8, 0, tzinfo=timezone.utc))
    add_people(engine, ("UMGR", Role.partner_manager))
    services = make_services(engine, clock, EUR_RATE, managers=True)
    strategic_partner_with_two_quarters(engine)
    sent = []
    for _ in range(8):  # every day of the first week and beyond: once
        sent.append(send_due_nudges(services).created.get("qbr", 0))
        clock.now += timedelta(days=1)
    assert sent == [1, 0, 0, 0, 0, 0, 0, 0]
    clock.now = datetime(2027, 4, 1, 8, 0, tzinfo=timezone.utc)
    assert send_due_nudges(services).created.get("qbr") == 1
    assert [n.period for n in nudges(engine) if n.kind == NudgeKind.qbr] == ["2026-Q4", "2027-Q1"]
    off = make_services(engine, MovingClock(datetime(2027, 7, 1, 8, 0, tzinfo=timezone.utc)),
                        Program.model_validate({"nudges": {"qbr": {"enabled": False}}}), managers=True)
    assert send_due_nudges(off).created.get("qbr") is None
