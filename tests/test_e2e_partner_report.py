"""`/partner report [period] [scope]` through the real app and the local Slack sandbox: an admin gets every section for
the whole program, a partner manager their own partners (another's refused), an AE the deals assigned to them, a
partner's person its own scorecard; a bad period or an unknown scope is told what is accepted; Slack's limits hold
with many partners."""

from __future__ import annotations

from sqlmodel import Session, select

from storage.models import Partner, PartnerType, Registration, RegistrationStatus
from tests.e2e_support import dm_messages, text_of
from tests.test_e2e_scorecard import (  # noqa: F401 (bot, clock: fixtures)
    add_partner,
    add_registration,
    bot,
    clock,
    november,
    partner_id,
)


def report(bot, user: str, text: str) -> str:
    assert bot.driver.command(user, "/partner", f"report {text}".strip()).status == 200
    return text_of(dm_messages(bot.sandbox, user)[-1])


def assign(engine, companies: tuple[str, ...], to: str) -> None:
    with Session(engine) as session:
        for registration in session.exec(select(Registration).where(Registration.company.in_(companies))):
            registration.assigned_to_slack_id = to
            session.add(registration)
        session.commit()


def test_an_admin_gets_every_section_for_the_whole_program(bot, engine):
    november(engine)
    text = report(bot, "U0ADMIN", "month")
    assert "Partner report 2026-11: all partners" in text
    for title in ("Pipeline", "Won and win rate", "Lead-to-close", "Lead-to-close by partner", "Funnel",
                  "Top partners by new sourced pipeline"):
        assert f"*{title}*" in text
    assert "Direct: not connected (Salesforce)" in text  # never shown as zero
    assert "1 Nov 2026 to 30 Nov 2026 (Europe/London)" in text  # the reader's own time zone (Slack's users.info)
    # Won in November: Acme 12,000, Second Reseller's 3 x 777,000 and Bob's 1,000
    assert "2,344,000 USD (5 deals) won" in text
    assert "Second Reseller: 75.0% (3 won of 4 decided, 1 open)" in text
    assert "Referral: 50.0% (1 won of 2 decided, 1 open)" in text
    assert "&lt;!channel&gt;" not in text  # (no company names in the report; partner names escaped)


def test_a_partner_manager_sees_their_partners_and_is_refused_another(bot, engine):
    november(engine)  # Priya manages Northwind and Globex; the two other resellers have no manager
    mine = report(bot, "U0PRIYA", "month")
    assert "Partner report 2026-11: your partners" in mine
    assert "Northwind Consulting: 50.0%" in mine and "Globex Referrals" in mine
    assert "Second Reseller" not in mine and "777,000" not in mine
    one = report(bot, "U0PRIYA", "2026-11 northwind consulting")  # a partner by its name, any case
    assert "Partner report 2026-11: Northwind Consulting" in one and "Globex" not in one
    assert "12,000 USD (1 deal) won" in one
    refused = report(bot, "U0PRIYA", "month Second Reseller")
    assert "Second Reseller is not one of the partners you manage, so you can't see its report." in refused
    assert "Partner report" not in refused
    resellers = report(bot, "U0PRIYA", "quarter resellers")  # a type narrows to her partners of it
    assert "Partner report 2026-Q3: reseller partners" in resellers and "Second Reseller" not in resellers


def test_an_ae_gets_the_figures_of_the_deals_assigned_to_them(bot, engine):
    november(engine)
    assign(engine, ("Acme Inc.", "Lost Co"), "U0ALEX")
    assign(engine, ("Second Reseller Win 0", "Second Reseller Win 1", "Second Reseller Win 2"), "U0BEA")
    text = report(bot, "U0ALEX", "month")
    assert "Partner report 2026-11: deals assigned to you" in text
    assert "12,000 USD (1 deal) won" in text and "1 lost" in text
    assert "777,000" not in text and "Second Reseller" not in text
    assert "All: 50.0% (1 won of 2 decided, 0 open), 2 submitted" in text


def test_a_partners_person_gets_their_own_scorecard_and_nothing_else(bot, engine):
    november(engine)
    initech = partner_id(engine, "Initech Agency")
    add_registration(engine, initech, "Initech Deal", status=RegistrationStatus.won, created=4, approved=5,
                     closed=6, by="U0GUEST", value=5000)
    text = report(bot, "U0GUEST", "month")  # a same-workspace guest: they can run commands
    assert "Initech Agency's scorecard for November 2026" in text
    assert "Registrations: 1 submitted, 1 approved, 1 deal won worth 5,000 USD" in text
    assert "Northwind" not in text and "Partner report" not in text
    refused = report(bot, "U0GUEST", "month Northwind Consulting")
    assert "You can see your own organisation's figures only" in refused and "12,000" not in refused
    assert "Initech Agency's scorecard for 2026-Q3" in report(bot, "U0GUEST", "quarter")


def test_a_bad_period_or_an_unknown_scope_is_told_what_is_accepted(bot, engine):
    bad_period = report(bot, "U0ADMIN", "2026-Q5")
    assert "“2026-Q5” is not a period I know. Periods: week; month; quarter; YYYY-Qn (2026-Q3)" in bad_period
    unclear = report(bot, "U0ADMIN", "last-year resellers")  # no period first: a scope, named as such
    assert "No partner, partner type or tier is called “last-year resellers”" in unclear
    assert "A period goes first: week; month" in unclear
    unknown = report(bot, "U0ADMIN", "month Nowhere Ltd")
    assert "No partner, partner type or tier is called “Nowhere Ltd”" in unknown
    assert "referral, reseller, agency, msp, technology, distributor" in unknown and "gold" in unknown
    assert "is not a period" in report(bot, "U0GUEST", "2026-13")
    bot.sandbox.add_user("U0STRANGER", "T0OURS", "Stan Ger")
    assert "Reports are for the partner team and its partners" in report(bot, "U0STRANGER", "month")
    internal = text_of(_help(bot, "U0PRIYA"))
    assert "`/partner report [week|month|quarter|2026-Q3] [partner|type|tier]`" in internal
    assert "*My scorecard* button" in text_of(_help(bot, "U0GUEST"))


def test_the_report_stays_within_slacks_limits_with_very_many_partners(bot, engine):
    for n in range(120):
        other = add_partner(engine, f"Partner {n:03d} " + "x" * 150, PartnerType.agency)
        add_registration(engine, other, f"Deal {n}", status=RegistrationStatus.won, created=2, approved=2,
                         closed=3, by="UOTHER", value=1000 + n)
    response = bot.driver.command("U0ADMIN", "/partner", "report month")
    assert response.status == 200
    message = dm_messages(bot.sandbox, "U0ADMIN")[-1]
    assert len(message.blocks) <= 50
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in message.blocks)
    assert "and 110 more partners" in text_of(message)
    with Session(engine) as session:
        assert session.exec(select(Partner).where(Partner.type == PartnerType.agency)).all()


def _help(bot, user: str):
    bot.driver.command(user, "/partner", "help")
    return dm_messages(bot.sandbox, user)[-1]
