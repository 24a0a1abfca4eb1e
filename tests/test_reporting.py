"""The figures of issue 11 (workflows/reporting.py) on a small fixed data set, each checked against values worked
out by hand below (the period arithmetic: tests/test_periods.py; who may see which scope:
tests/test_reporting_scopes.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlmodel import Session

from handlers.notify import SlackNotifier
from storage.crm.models import UsageRevenue
from storage.models import (
    AccountPartner,
    AccountProductLine,
    AttributionType,
    CustomerAccount,
    Partner,
    PartnerStage,
    PartnerTier,
    PartnerType,
    PricingModel,
    Recurrence,
    Registration,
    RegistrationStatus,
    Role,
    TeamMember,
    Upsell,
    UpsellSignal,
    UpsellStatus,
)
from workflows.money import Money
from workflows.periods import Period
from workflows.program import Program
from workflows.report_figures import GroupBy, LeadToClose
from workflows.reporting import (
    DirectFigures,
    Scope,
    compute_figures,
    lead_to_close_by,
    partner_against_type,
    weekly_series,
)
from workflows.services import Services

NOW = datetime(2027, 1, 4, 9, 0, tzinfo=timezone.utc)  # Monday morning: "week" is 2026-12-28..2027-01-03
PROGRAM = Program.model_validate({"routing": {"base_currency": "USD", "exchange_rates": {"EUR": "1.1"}},
                                  "approval_sla_hours": 48})
WEEK = Period.parse("week", NOW)  # 2026-W53, across the new year
ST = RegistrationStatus
A, S, C = AttributionType.influenced, AttributionType.sourced, AttributionType.co_sell


def at(y: int, m: int, d: int, h: int = 12) -> datetime:
    return datetime(y, m, d, h, 0, tzinfo=timezone.utc)


def usd(value) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"))


@dataclass
class Data:
    p: dict[str, int]  # partner name -> id


def reg(partner_id: int, name: str, *, created: datetime, status: RegistrationStatus, value: int,
        currency: str = "USD", attribution: AttributionType = S, approved: datetime | None = None,
        closed: datetime | None = None, by: str = "UP1", assignee: str | None = None, updated: datetime | None = None,
        usage: int | None = None, product_line: str = "Platform") -> Registration:
    return Registration(
        partner_id=partner_id, submitted_by_slack_id=by, company=name, company_key=name.lower(), contact_name="A",
        contact_email="a@example.com", region="EMEA", product_line=product_line, estimated_value=Decimal(value),
        currency=currency, pricing_model=PricingModel.usage_based if usage is not None else PricingModel.subscription,
        starting_monthly_usage=Decimal(usage) if usage is not None else None, company_size="", budget="",
        timeline="", attribution=attribution, status=status, assigned_to_slack_id=assignee, created_at=created,
        updated_at=updated or created, approved_at=approved, closed_at=closed)


def ups(partner_id: int, account_id: int, *, status: UpsellStatus, value: int, attribution: AttributionType = S,
        accepted: datetime | None = None, closed: datetime | None = None, final: int | None = None,
        by: str = "UP1", assignee: str | None = None) -> Upsell:
    return Upsell(account_id=account_id, partner_id=partner_id, flagged_by_slack_id=by, attribution=attribution,
                  signal=UpsellSignal.more_seats, target="Analytics", expected_value=Decimal(value), currency="USD",
                  recurrence=Recurrence.monthly, timeline="", status=status, assigned_to_slack_id=assignee,
                  created_at=accepted or at(2026, 1, 1), updated_at=accepted or at(2026, 1, 1), accepted_at=accepted,
                  closed_at=closed, final_amount=Decimal(final) if final is not None else None)


@pytest.fixture
def services(engine) -> Services:
    return Services(engine=engine, program=PROGRAM, notifier=SlackNotifier(PROGRAM, lambda: NOW), clock=lambda: NOW)


@pytest.fixture
def data(engine) -> Data:
    """The data set; the figures it must give are worked out in each test."""
    with Session(engine) as session:
        partners = {
            "Northwind": Partner(name="Northwind", type=PartnerType.reseller, tier=PartnerTier.gold,
                                 stage=PartnerStage.producing, stage_since=at(2026, 6, 1), manager_slack_id="UMGR"),
            "Globex": Partner(name="Globex", type=PartnerType.referral, tier=PartnerTier.silver,
                              stage=PartnerStage.activated, stage_since=at(2026, 12, 1), manager_slack_id="UMGR"),
            # onboarded since 1 Nov with no registration: stuck (activation after 14 days)
            "Initech": Partner(name="Initech", type=PartnerType.agency, tier=PartnerTier.gold,
                               stage=PartnerStage.onboarded, stage_since=at(2026, 11, 1), manager_slack_id="UOTHER"),
            # recruited two days ago, nothing registered ever: the partner with no registrations
            "Empty Co": Partner(name="Empty Co", type=PartnerType.reseller, stage=PartnerStage.recruited,
                                stage_since=at(2027, 1, 2), manager_slack_id="UMGR"),
            # producing, quiet since September: stuck (re-engagement after 60 days)
            "Quiet Ltd": Partner(name="Quiet Ltd", type=PartnerType.technology, stage=PartnerStage.producing,
                                 stage_since=at(2026, 1, 1), manager_slack_id="UMGR"),
            "Hooli": Partner(name="Hooli", type=PartnerType.msp, tier=PartnerTier.gold, stage=PartnerStage.activated,
                             stage_since=at(2026, 12, 1), manager_slack_id="UOTHER"),
        }
        session.add_all(partners.values())
        session.flush()
        p = {name: partner.id for name, partner in partners.items()}
        nw, gx, ql, ho = p["Northwind"], p["Globex"], p["Quiet Ltd"], p["Hooli"]
        regs = [
            reg(nw, "R1", created=at(2026, 12, 20), status=ST.approved, value=10000, approved=at(2026, 12, 29),
                assignee="UAE1"),
            reg(nw, "R2", created=at(2026, 12, 22), status=ST.won, value=20000, currency="EUR",
                approved=at(2026, 12, 23, 10), closed=at(2026, 12, 30, 10)),
            reg(nw, "R3", created=at(2026, 12, 28), status=ST.approved, value=5000, currency="GBP", attribution=C,
                approved=at(2026, 12, 31)),
            reg(nw, "R4", created=at(2026, 12, 29), status=ST.lost, value=3000, approved=at(2026, 12, 29, 13),
                closed=at(2027, 1, 2)),
            reg(gx, "R5", created=at(2026, 12, 30), status=ST.under_review, value=4000, by="UREF1",
                updated=at(2026, 12, 30)),
            reg(gx, "R6", created=at(2026, 12, 31), status=ST.under_review, value=4000, by="UREF2",
                updated=at(2027, 1, 3, 20)),
            reg(nw, "R7", created=at(2026, 12, 15), status=ST.won, value=8000, attribution=A,
                approved=at(2026, 12, 16), closed=at(2027, 1, 3), usage=1000, assignee="UAE2"),
            reg(nw, "R8", created=at(2026, 12, 1), status=ST.approved, value=9000, currency="EUR",
                approved=at(2026, 12, 10), usage=2000),
            reg(gx, "R9", created=at(2026, 12, 29), status=ST.rejected, value=1000, by="UREF1"),
            reg(nw, "R10", created=at(2026, 12, 30), status=ST.withdrawn, value=1000),
            reg(nw, "R11", created=at(2026, 12, 28, 8), status=ST.won, value=1000, approved=at(2026, 12, 28),
                closed=at(2027, 1, 2), product_line="Analytics"),
            reg(ql, "R-quiet", created=at(2026, 9, 1), status=ST.lost, value=500, closed=at(2026, 10, 1)),
            reg(ho, "R12", created=at(2026, 12, 21), status=ST.approved, value=7000, approved=at(2026, 12, 22)),
            reg(ho, "R13", created=at(2026, 12, 28), status=ST.approved, value=30000, approved=at(2027, 1, 3)),
        ]
        session.add_all(regs)
        session.flush()
        r7 = regs[6].id
        session.add_all([UsageRevenue(registration_id=r7, month="2026-11", amount=Decimal(1200),
                                      recorded_by_slack_id="U"),
                         UsageRevenue(registration_id=r7, month="2026-12", amount=Decimal(1500),
                                      recorded_by_slack_id="U")])
        accounts = {
            "A1": (at(2026, 3, 1), "Platform", nw, "UP1"), "A2": (at(2026, 4, 1), "Platform", nw, "UP1"),
            "A3": (at(2026, 2, 1), "Platform", nw, "UP1"), "A4": (at(2026, 10, 1), "Analytics", gx, "UREF1"),
            "A5": (at(2026, 11, 1), "Analytics", gx, "UREF2"), "A6": (at(2027, 1, 10), "Platform", nw, "UP1"),
            "A7": (at(2025, 1, 1), "Platform", nw, "UP1"),
        }
        acc = {}
        for name, (created, zone, partner_id, by) in accounts.items():
            account = CustomerAccount(name=name, name_key=name.lower(), landing_zone=zone, created_at=created,
                                      owner_slack_id="UAE1" if name == "A1" else None)
            session.add(account)
            session.flush()
            acc[name] = account.id
            session.add(AccountPartner(account_id=account.id, partner_id=partner_id, submitted_by_slack_id=by))
            session.add(AccountProductLine(account_id=account.id, product_line=zone, since=created))
        session.add_all([
            AccountProductLine(account_id=acc["A1"], product_line="Analytics", since=at(2026, 5, 1)),  # 61 days
            AccountProductLine(account_id=acc["A3"], product_line="Integrations", since=at(2026, 12, 1)),  # too late
            AccountProductLine(account_id=acc["A7"], product_line="Analytics", since=at(2025, 12, 1)),  # 334 days
        ])
        session.add_all([
            ups(nw, acc["A3"], status=UpsellStatus.won, value=3000, final=3500, accepted=at(2026, 5, 1),
                closed=at(2026, 6, 2)),  # A3 expanded after 121 days
            ups(gx, acc["A5"], status=UpsellStatus.won, value=900, accepted=at(2026, 11, 10),
                closed=at(2026, 12, 1), by="UREF2"),  # A5 expanded after 30 days
            ups(nw, acc["A1"], status=UpsellStatus.accepted, value=6000, accepted=at(2026, 12, 30),
                assignee="UAE1"),
            ups(nw, acc["A2"], status=UpsellStatus.won, value=2000, final=2500, attribution=A,
                accepted=at(2026, 12, 20, 0), closed=at(2027, 1, 3)),  # 14.5 days
            ups(nw, acc["A2"], status=UpsellStatus.open, value=1000),
            ups(nw, acc["A7"], status=UpsellStatus.lost, value=800, accepted=at(2026, 12, 1),
                closed=at(2026, 12, 29)),
        ])
        session.commit()
    return Data(p)


# --- the figures of the whole program ---------------------------------------------------------------------------

def test_pipeline_new_and_open_split_sourced_influenced_with_an_unconverted_currency(services, data):
    figures = compute_figures(services, WEEK, Scope.everything())
    # New sourced: R1 10,000 + R4 3,000 + R11 1,000 + R13 30,000 + upsell accepted 6,000 (R2, R12 and the
    # 2,000 upsell were approved / accepted the week before).
    assert figures.pipeline.new.sourced == Money(5, usd(50000))
    # New influenced: R3, co-sell, 5,000 GBP: counted, not valued (no GBP rate).
    assert figures.pipeline.new.influenced == Money(1, usd(0), ("GBP",), 1)
    # Open now: approved R1 10,000, R8 9,000 EUR = 9,900, R12 7,000, R13 30,000, accepted upsell 6,000.
    assert figures.pipeline.open_now.sourced == Money(5, usd(62900))
    assert figures.pipeline.open_now.influenced == Money(1, usd(0), ("GBP",), 1)
    assert figures.base_currency == "USD" and figures.direct is None


def test_won_lost_win_rate_days_and_deal_size(services, data):
    won = compute_figures(services, WEEK, Scope.everything()).won
    # Won: R2 20,000 EUR = 22,000 and R11 1,000 (sourced); R7 8,000 and the upsell's final 2,500 (influenced).
    assert won.won.sourced == Money(2, usd(23000))
    assert won.won.influenced == Money(2, usd(10500))
    assert won.lost == 2  # R4, and the upsell lost on 29 Dec (upsells count)
    assert won.win_rate == Decimal("66.7")  # 4 / 6
    # Days: R2 7, R11 5, R7 18, upsell 14.5 -> 44.5 / 4
    assert won.average_days_to_close == Decimal("11.1")
    assert won.average_deal_size == usd(8375)  # 33,500 / 4


def test_lead_to_close_of_registrations_submitted_in_the_period(services, data):
    figures = compute_figures(services, WEEK, Scope.everything())
    # Submitted 28 Dec - 3 Jan: R3 (approved: open), R4 lost, R5, R6 (under review), R9 rejected, R10 withdrawn,
    # R11 won, R13 (approved: open).
    assert figures.lead_to_close == LeadToClose("all", "none", won=1, decided=4, open=4)
    assert figures.lead_to_close.ratio == Decimal("25.0") and figures.lead_to_close.submitted == 8
    by_partner = lead_to_close_by(services, WEEK, Scope.everything(), GroupBy.partner)
    assert [(r.label, r.won, r.decided, r.open) for r in by_partner] == [
        ("Northwind", 1, 3, 1), ("Globex", 0, 1, 2), ("Hooli", 0, 0, 1)]
    by_type = lead_to_close_by(services, WEEK, Scope.everything(), GroupBy.type)
    assert [(r.key, r.won, r.decided, r.open) for r in by_type] == [
        ("reseller", 1, 3, 1), ("referral", 0, 1, 2), ("msp", 0, 0, 1)]
    by_tier = lead_to_close_by(services, WEEK, Scope.everything(), "tier")
    assert [(r.key, r.won, r.decided, r.open) for r in by_tier] == [("gold", 1, 3, 2), ("silver", 0, 1, 2)]
    by_zone = lead_to_close_by(services, WEEK, Scope.everything(), GroupBy.landing_zone)
    assert [(r.key, r.won, r.decided, r.open) for r in by_zone] == [("Platform", 0, 3, 4), ("Analytics", 1, 1, 0)]
    with Session(services.engine) as session:
        session.add(TeamMember(slack_user_id="UMGR", name="Priya Raman", role=Role.partner_manager))
        session.commit()
    by_manager = lead_to_close_by(services, WEEK, Scope.everything(), GroupBy.manager)
    assert [(r.key, r.label, r.submitted) for r in by_manager] == [("UMGR", "Priya Raman", 7),
                                                                   ("UOTHER", "UOTHER", 1)]


def test_partner_against_its_type_average(services, data):
    mine, average = partner_against_type(services, WEEK, Scope.of_partner(data.p["Empty Co"], "Empty Co"))
    assert (mine.submitted, mine.ratio) == (0, None)  # the partner with no registrations
    assert (average.key, average.won, average.decided, average.open, average.ratio) == (
        "reseller", 1, 3, 1, Decimal("33.3"))


def test_landing_zones_expand_within_six_months(services, data):
    zones = compute_figures(services, WEEK, Scope.everything()).landing_zones
    # Platform: A1 (Analytics after 61 days), A3 (upsell won after 121 days), A2 (never), A7 (only after 334
    # days); A6 lands after the period. Analytics: A5 (upsell after 30 days), A4 (landed in October: not yet
    # six months, so not eligible).
    assert [(z.product_line, z.landed, z.eligible, z.expanded, z.median_days_to_expand) for z in zones] == [
        ("Platform", 4, 4, 2, Decimal("91.0")), ("Analytics", 2, 1, 1, Decimal("30.0"))]
    assert [z.share for z in zones] == [Decimal("50.0"), Decimal("100.0")]
    # At the end of July: A1 and A3 had expanded, A2 had not had its six months, A7 had.
    july = compute_figures(services, Period.parse("2026-07", NOW), Scope.everything()).landing_zones
    assert [(z.product_line, z.landed, z.eligible, z.expanded) for z in july] == [("Platform", 4, 3, 2)]


def test_usage_growth_from_starting_to_latest_month(services, data):
    usage = compute_figures(services, WEEK, Scope.everything()).usage_growth
    # R7: 1,000 -> 1,500 (December); R8: 2,000 EUR = 2,200, no month recorded: current = starting.
    assert (usage.deals, usage.with_history) == (2, 1)
    assert (usage.starting.value, usage.current.value, usage.growth) == (usd(3200), usd(3700), usd(500))
    assert usage.growth_percent == Decimal("15.6")
    november = compute_figures(services, Period.parse("2026-11", NOW), Scope.everything()).usage_growth
    assert november.deals == 0  # neither was approved before December


def test_funnel_stages_stuck_sla_and_upsells(services, data):
    funnel = compute_figures(services, WEEK, Scope.everything()).funnel
    assert [(s.stage, s.partners, s.stuck) for s in funnel.stages] == [
        (PartnerStage.prospect, 0, 0), (PartnerStage.recruited, 1, 0), (PartnerStage.onboarded, 1, 1),
        (PartnerStage.activated, 2, 0), (PartnerStage.producing, 2, 1), (PartnerStage.strategic, 0, 0)]
    assert funnel.stuck == 2
    # R5 under review since 30 Dec (past 48 hours), R6 since the evening of 3 Jan.
    assert (funnel.registrations_pending, funnel.registrations_past_sla) == (2, 1)
    assert funnel.upsells_open == Money(2, usd(7000))
    assert funnel.upsells_won == Money(1, usd(2500))


def test_movers_and_top_partners_against_the_week_before(services, data):
    figures = compute_figures(services, WEEK, Scope.everything())
    # Hooli 7,000 -> 30,000; Northwind 22,000 (R2 in EUR) -> 20,000.
    assert [(m.name, m.current.value, m.previous.value, m.change) for m in figures.movers] == [
        ("Hooli", usd(30000), usd(7000), usd(23000)), ("Northwind", usd(20000), usd(22000), usd(-2000))]
    assert [(t.name, t.current.value) for t in figures.top_partners] == [("Hooli", usd(30000)),
                                                                        ("Northwind", usd(20000))]
    one = compute_figures(services, WEEK, Scope.everything(), top=1)
    assert [m.name for m in one.movers] == ["Hooli"] and [t.name for t in one.top_partners] == ["Hooli"]


def test_an_empty_period_has_zeros_and_no_rates(services, data):
    figures = compute_figures(services, Period.parse("2026-W30", NOW), Scope.everything())
    assert figures.pipeline.new.total == Money()
    assert figures.won.won.total == Money() and figures.won.lost == 0
    assert (figures.won.win_rate, figures.won.average_days_to_close, figures.won.average_deal_size) == (
        None, None, None)
    assert (figures.lead_to_close.submitted, figures.lead_to_close.ratio) == (0, None)
    assert figures.movers == () and figures.top_partners == ()
    assert figures.funnel.upsells_won == Money()


def test_an_empty_database(services):
    figures = compute_figures(services, WEEK, Scope.everything())
    assert figures.pipeline.open_now.total == Money() and figures.landing_zones == ()
    assert figures.usage_growth.growth_percent is None and figures.funnel.stuck == 0
    assert weekly_series(services, Scope.everything(), until=WEEK, weeks=2)[0].sourced == Money()


def test_weekly_series_with_direct(services, data):
    direct = DirectFigures(new_pipeline=(("USD", 3, Decimal(5000)),), open_now=(), won=(("EUR", 1, Decimal(1000)),),
                           lost_count=1, average_days_to_close=Decimal("30.5"),
                           weekly_new_pipeline=((date(2026, 12, 21), "USD", Decimal(1000)),
                                                (date(2026, 12, 21), "EUR", Decimal(100))))
    series = weekly_series(services, Scope.everything(), until=WEEK, weeks=3, direct=direct)
    assert [p.week_start for p in series] == [date(2026, 12, 14), date(2026, 12, 21), date(2026, 12, 28)]
    assert [(p.sourced.value, p.influenced.value) for p in series] == [
        (usd(0), usd(10000)), (usd(29000), usd(0)), (usd(50000), usd(0))]
    assert [p.direct.value for p in series] == [usd(0), usd(1110), usd(0)]
    assert weekly_series(services, Scope.everything(), until=WEEK, weeks=1)[0].direct is None
    with pytest.raises(ValueError, match="needs a week"):
        weekly_series(services, Scope.everything(), until=Period.parse("month", NOW))
    figures = compute_figures(services, WEEK, Scope.everything(), direct=direct)
    assert (figures.direct.new_pipeline.value, figures.direct.won.value, figures.direct.win_rate) == (
        usd(5000), usd(1100), Decimal("50.0"))
    assert compute_figures(services, WEEK, Scope.everything(),
                           direct_error="session expired").direct_unavailable == "Salesforce unavailable: session expired"
