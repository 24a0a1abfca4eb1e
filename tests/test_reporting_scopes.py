"""Who may see which figures (workflows/reporting.py report_scope, storage/reporting_scope.py): a manager's cover
only their partners, also when computed for many managers at once; a referral contact sees what they submitted, an AE
what is assigned to them; and the scope rules themselves. On tests/test_reporting.py's data set."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from storage.actors import Actor, ActorKind
from storage.models import AccountPartner, CustomerAccount, PartnerStage, PartnerTier, PartnerType, Role
from tests.test_reporting import NOW, WEEK, data, services, usd  # noqa: F401  (data, services: fixtures)
from workflows.money import Money
from workflows.periods import Period
from workflows.report_figures import GroupBy
from workflows.reporting import (
    Scope,
    ScopeKind,
    compute_figures,
    compute_figures_by_manager,
    headline_figures,
    headline_figures_by_manager,
    lead_to_close_by,
    lead_to_close_by_manager,
    report_scope,
    weekly_series,
    weekly_series_by_manager,
)
from workflows.services import NotAllowed


def test_a_managers_figures_cover_only_their_partners(services, data):
    figures = compute_figures(services, WEEK, Scope.of_manager("UMGR"))
    assert figures.pipeline.new.sourced == Money(4, usd(20000))  # Northwind's; Hooli is UOTHER's
    assert [m.name for m in figures.movers] == ["Northwind"]
    assert [(s.stage, s.partners) for s in figures.funnel.stages if s.partners] == [
        (PartnerStage.recruited, 1), (PartnerStage.activated, 1), (PartnerStage.producing, 2)]
    assert figures.funnel.stuck == 1  # Quiet Ltd; Initech is UOTHER's
    tier = compute_figures(services, WEEK, Scope.of_tier(PartnerTier.gold))
    assert tier.pipeline.new.sourced == Money(5, usd(50000))  # Northwind and Hooli


@pytest.mark.parametrize("period", [WEEK, Period.parse("quarter", NOW), Period.parse("2025-01-01..2027-01-31", NOW)],
                         ids=["week", "quarter", "two-years"])
def test_a_batch_of_managers_gives_each_exactly_their_own_figures(services, data, period):
    """The digest job computes its due managers' figures together (grouped by the partner's manager): each must
    get exactly what compute_figures gives them alone, also with an account shared by two partners of one manager
    (counted once) and by partners of two managers (counted for each), and a manager without partners."""
    with Session(services.engine) as session:
        shared = session.exec(select(CustomerAccount).where(CustomerAccount.name == "A1")).one().id
        session.add_all([AccountPartner(account_id=shared, partner_id=data.p["Quiet Ltd"], submitted_by_slack_id="UP9"),
                         AccountPartner(account_id=shared, partner_id=data.p["Hooli"], submitted_by_slack_id="UP9")])
        session.commit()
    managers = ["UMGR", "UNOBODY", "UOTHER"]
    scopes = {manager: Scope.of_manager(manager, label="your partners") for manager in managers}
    batch = compute_figures_by_manager(services, period, scopes, now=NOW)
    assert sorted(batch) == managers
    for manager, scope in scopes.items():
        assert batch[manager] == compute_figures(services, period, scope, now=NOW), manager
    assert batch["UMGR"].pipeline.new.sourced.count or batch["UMGR"].won.won.total.count  # not all empty
    assert batch["UMGR"].landing_zones and batch["UOTHER"].landing_zones  # the shared account counts for each
    headlines = headline_figures_by_manager(services, period, managers)
    by_type = lead_to_close_by_manager(services, period, managers, GroupBy.type)
    week = WEEK if period is WEEK else Period.parse("week", NOW)
    series = weekly_series_by_manager(services, managers, until=week, weeks=12)
    for manager, scope in scopes.items():
        assert headlines[manager] == headline_figures(services, period, scope)
        assert by_type.get(manager, []) == lead_to_close_by(services, period, scope, GroupBy.type)
        assert series[manager] == weekly_series(services, scope, until=week, weeks=12)
    with pytest.raises(ValueError):
        compute_figures_by_manager(services, period, {"UMGR": Scope.of_tier(PartnerTier.gold)}, now=NOW)


def test_a_referral_contact_sees_only_what_they_submitted(services, data):
    contact = Actor("UREF1", "TGX", ActorKind.partner, partner_id=data.p["Globex"], partner_type=PartnerType.referral,
                    partner_name="Globex")
    scope = report_scope(services, contact, Scope.everything())
    assert (scope.kind, scope.partner_id, scope.submitted_by_slack_id) == (ScopeKind.partner, data.p["Globex"],
                                                                         "UREF1")
    figures = compute_figures(services, WEEK, scope)
    assert (figures.lead_to_close.won, figures.lead_to_close.decided, figures.lead_to_close.open) == (0, 1, 1)
    assert [(z.product_line, z.landed, z.expanded) for z in figures.landing_zones] == [("Analytics", 1, 0)]
    assert figures.funnel.registrations_pending == 1 and figures.funnel.upsells_won == Money()


def test_an_ae_sees_the_deals_assigned_to_them(services, data):
    ae = Actor("UAE1", "T1", ActorKind.internal, role=Role.ae)
    scope = report_scope(services, ae, Scope.everything())
    figures = compute_figures(services, WEEK, scope)
    assert figures.pipeline.new.sourced == Money(2, usd(16000))  # R1 and the accepted upsell
    assert figures.won.won.total == Money()  # R7 is UAE2's
    assert [(z.product_line, z.landed) for z in figures.landing_zones] == [("Platform", 1)]  # A1, which they own


MANAGER = Actor("UMGR", "T1", ActorKind.internal, role=Role.partner_manager)
ADMIN = Actor("UADM", "T1", ActorKind.internal, role=Role.admin)
AE = Actor("UAE1", "T1", ActorKind.internal, role=Role.ae)


def test_scope_rules(services, data):
    p = data.p
    assert report_scope(services, ADMIN, Scope.of_partner(p["Initech"])) == Scope.of_partner(p["Initech"])
    assert report_scope(services, ADMIN, Scope.everything()) == Scope.everything()
    # A manager: their own partners, whatever they ask for.
    assert report_scope(services, MANAGER, Scope.everything()).manager_slack_id == "UMGR"
    typed = report_scope(services, MANAGER, Scope.of_type(PartnerType.reseller))
    assert (typed.kind, typed.manager_slack_id, typed.partner_type) == (ScopeKind.type, "UMGR", PartnerType.reseller)
    assert compute_figures(services, WEEK, typed).pipeline.new.sourced == Money(4, usd(20000))
    assert report_scope(services, MANAGER, Scope.of_partner(p["Northwind"])).partner_id == p["Northwind"]
    with pytest.raises(NotAllowed, match="Initech is not one of the partners you manage"):
        report_scope(services, MANAGER, Scope.of_partner(p["Initech"]))
    with pytest.raises(NotAllowed, match="another manager"):
        report_scope(services, MANAGER, Scope.of_manager("UOTHER"))
    # An AE: the deals assigned to them, narrowed further by what they ask.
    narrowed = report_scope(services, AE, Scope.of_partner(p["Hooli"]))
    assert (narrowed.assignee_slack_id, narrowed.partner_id) == ("UAE1", p["Hooli"])
    assert compute_figures(services, WEEK, narrowed).pipeline.new.total == Money()
    with pytest.raises(NotAllowed, match="assigned to you"):
        report_scope(services, AE, Scope.of_assignee("UAE2"))
    # A partner's person: their own partner; everyone there sees all of it unless the partner is a referral one.
    reseller = Actor("UP1", "TNW", ActorKind.partner, partner_id=p["Northwind"], partner_type=PartnerType.reseller,
                     partner_name="Northwind")
    own = report_scope(services, reseller, Scope.of_type(PartnerType.msp))
    assert (own.partner_id, own.submitted_by_slack_id, own.label) == (p["Northwind"], None, "Northwind")
    with pytest.raises(NotAllowed, match="your own organisation"):
        report_scope(services, reseller, Scope.of_partner(p["Hooli"]))
    with pytest.raises(NotAllowed, match="partner team"):
        report_scope(services, Actor("UX", "TX", ActorKind.unknown), Scope.everything())
