"""Direct pipeline read from Salesforce with aggregate SOQL, against the local HTTPS fake org."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import requests

from bot.settings import load_settings
from storage.crm.api import CrmApi
from storage.crm.client import build_salesforce
from storage.crm.reporting import DirectFigures, SalesforceUnavailable, direct_figures

NOVEMBER = (date(2026, 11, 1), date(2026, 12, 1))
WEEKS_FROM = date(2026, 10, 5)  # a Monday: nine weeks up to 1 December


def opportunity(fake, name, created, *, stage="Prospecting", amount=1000, close="2027-03-31", **fields):
    """An Opportunity as people make them in Salesforce (created at `created`, UTC)."""
    created = created if "T" in created else f"{created}T12:00:00"
    return fake.add_record("Opportunity", {
        "Name": name, "StageName": stage, "Amount": amount, "CloseDate": close,
        "CreatedDate": f"{created}.000+0000", **fields,
    })


def november_org(fake):
    """Direct deals among partner deals; the figures below are counted by hand from this list."""
    opportunity(fake, "A direct open", "2026-11-02T10:00:00", amount=1000)
    opportunity(fake, "B direct won", "2026-10-20", stage="Closed Won", amount=4000, close="2026-11-10")  # 21 days
    opportunity(fake, "C direct won", "2026-09-01T23:30:00", stage="Closed Won", amount=2000, close="2026-11-28")  # 88
    opportunity(fake, "D direct lost", "2026-11-05", stage="Closed Lost", amount=500, close="2026-11-20")
    opportunity(fake, "H direct open, created at the end", "2026-12-01T00:00:00", amount=800)
    opportunity(fake, "I direct won after the period", "2026-10-01", stage="Closed Won", amount=900,
                close="2026-12-01")
    # Not direct: partner-attributed, Partnerbot's own (an expansion not credited yet), co-sell entered by hand.
    opportunity(fake, "E partner", "2026-11-03", amount=7000, Attribution_Type__c="partner_sourced",
                Partnerbot_Id__c="REG-00001")
    opportunity(fake, "F expansion", "2026-11-04", stage="Closed Won", amount=3000, close="2026-11-15",
                Partnerbot_Id__c="UPS-00001")
    opportunity(fake, "G co-sell", "2026-11-06", stage="Closed Won", amount=6000, close="2026-11-16",
                Attribution_Type__c="co_sell")
    opportunity(fake, "J partner lost", "2026-11-06", stage="Closed Lost", amount=100, close="2026-11-16",
                Attribution_Type__c="partner_influenced", Partnerbot_Id__c="REG-00002")


def usd(count, total):
    return (("USD", count, Decimal(total)),)


def weeks(totals: dict[str, str], first=WEEKS_FROM, count=9, currency="USD"):
    """Every week from `first`, with the totals given by week start and zero elsewhere."""
    days = [first + timedelta(weeks=i) for i in range(count)]
    return tuple((day, currency, Decimal(totals.get(day.isoformat(), "0"))) for day in days)


def test_direct_figures_leave_partner_and_partnerbot_deals_out(fake, sf_settings):
    november_org(fake)
    figures = direct_figures(sf_settings, *NOVEMBER, WEEKS_FROM)
    assert figures == DirectFigures(
        new_pipeline=usd(2, "1500"),  # A and D (created in November, whatever became of them); H is December's
        open_now=usd(2, "1800"),  # A and H
        won=usd(2, "6000"),  # B and C; I closed on 1 December
        lost_count=1,  # D; J is a partner's
        average_days_to_close=Decimal("54.5"),  # (21 + 88) / 2
        weekly_new_pipeline=weeks({"2026-10-19": "4000", "2026-11-02": "1500"}),  # B; A and D
    )
    # Aggregates only: the org's currency, then one aggregate query per figure; no Opportunity is listed.
    assert fake.calls == ["GET query/"] * 7
    assert fake.soql[0] == "SELECT DefaultCurrencyIsoCode FROM Organization"
    assert all(" GROUP BY " in soql for soql in fake.soql[1:])


def test_an_empty_period_is_zero_not_missing(fake, sf_settings):
    november_org(fake)
    figures = direct_figures(build_salesforce(sf_settings), date(2030, 1, 1), date(2030, 2, 1), date(2029, 12, 31))
    assert (figures.new_pipeline, figures.won, figures.lost_count, figures.average_days_to_close) == ((), (), 0, None)
    assert figures.open_now == usd(2, "1800")  # open now does not depend on the period
    assert figures.weekly_new_pipeline == weeks({}, first=date(2029, 12, 31), count=5)


def test_an_org_with_no_opportunities(fake, sf_settings):
    figures = direct_figures(CrmApi(build_salesforce(sf_settings)), *NOVEMBER, WEEKS_FROM)
    assert figures == DirectFigures((), (), (), 0, None, weeks({}))


def test_two_currencies_are_summed_by_salesforce_in_the_corporate_currency(fake, sf_settings):
    fake.enable_currencies({"EUR": 0.8})  # 0.8 EUR to the dollar, as Setup > Manage Currencies holds it
    opportunity(fake, "US open", "2026-11-02", amount=1000, CurrencyIsoCode="USD")
    opportunity(fake, "EU open", "2026-11-03", amount=800, CurrencyIsoCode="EUR")  # 1,000 USD
    opportunity(fake, "EU won", "2026-11-01", stage="Closed Won", amount=400, close="2026-11-11",
                CurrencyIsoCode="EUR")  # 500 USD
    figures = direct_figures(sf_settings, *NOVEMBER, WEEKS_FROM)
    assert figures.new_pipeline == usd(3, "2500")
    assert figures.open_now == usd(2, "2000")
    assert figures.won == usd(1, "500") and figures.average_days_to_close == Decimal("10.0")
    assert figures.weekly_new_pipeline[3:5] == weeks({"2026-10-26": "500", "2026-11-02": "2000"})[3:5]


def test_the_org_currency_labels_every_amount(tmp_path, database_url):
    from salesforce_fake import FakeSalesforce

    with FakeSalesforce(tmp_path, currency="EUR") as eur_org:
        settings = load_settings(database_url=database_url, salesforce_instance_url=eur_org.base_url,
                                 salesforce_access_token=eur_org.access_token, salesforce_ca_bundle=eur_org.ca_bundle,
                                 _env_file=None)
        opportunity(eur_org, "Direct", "2026-11-02", amount=250)
        figures = direct_figures(settings, *NOVEMBER, WEEKS_FROM)
    assert figures.new_pipeline == (("EUR", 1, Decimal("250")),)
    assert figures.weekly_new_pipeline[4] == (date(2026, 11, 2), "EUR", Decimal("250"))


def test_a_period_crossing_the_year_in_the_managers_time_zone(fake, sf_settings):
    tokyo = ZoneInfo("Asia/Tokyo")  # the week of 28 Dec 2026 - 3 Jan 2027 starts at 27 Dec 15:00 UTC
    opportunity(fake, "Sunday night in Tokyo", "2026-12-27T14:00:00", amount=111)
    opportunity(fake, "Monday 01:00 in Tokyo", "2026-12-27T16:00:00", amount=300)
    opportunity(fake, "New Year's Eve", "2026-12-31T22:00:00", amount=700)
    opportunity(fake, "Sunday 23:00 in Tokyo", "2027-01-03T14:00:00", amount=50)
    opportunity(fake, "Next Monday in Tokyo", "2027-01-03T15:00:00", amount=9)
    opportunity(fake, "Won on 2 January", "2026-12-15", stage="Closed Won", amount=5000, close="2027-01-02")  # 18
    opportunity(fake, "Won on 4 January", "2026-12-15", stage="Closed Won", amount=4000, close="2027-01-04")
    opportunity(fake, "Lost on 28 December", "2026-11-30", stage="Closed Lost", amount=10, close="2026-12-28")
    figures = direct_figures(sf_settings, date(2026, 12, 28), date(2027, 1, 4), date(2026, 12, 21), tz=tokyo)
    assert figures.new_pipeline == usd(3, "1050")  # 300 + 700 + 50
    assert figures.won == usd(1, "5000") and figures.lost_count == 1
    assert figures.average_days_to_close == Decimal("18.0")
    # Weeks are Tokyo's: Salesforce's UTC day of Sunday 27 December is split where Tokyo's Monday begins.
    assert figures.weekly_new_pipeline == (
        (date(2026, 12, 21), "USD", Decimal("111")),  # Sunday 23:00 in Tokyo
        (date(2026, 12, 28), "USD", Decimal("1050")),  # the same three as new pipeline
    )
    assert len(fake.soql) == 8 and "CreatedDate < 2026-12-27T15:00:00Z" in fake.soql[-1]
    # The same week given as instants gives the same totals.
    start = datetime(2026, 12, 27, 15, tzinfo=timezone.utc)
    same = direct_figures(sf_settings, start, datetime(2027, 1, 3, 15, tzinfo=timezone.utc),
                          datetime(2026, 12, 20, 15, tzinfo=timezone.utc), tz=tokyo)
    assert same == figures


def test_weeks_follow_the_local_monday_west_of_utc_too(fake, sf_settings):
    new_york = ZoneInfo("America/New_York")  # Monday 7 December 00:00 in New York is 05:00 UTC
    opportunity(fake, "Sunday night in New York", "2026-12-07T04:00:00", amount=10)
    opportunity(fake, "Monday morning in New York", "2026-12-07T06:00:00", amount=20)
    opportunity(fake, "Later that Monday", "2026-12-07T20:00:00", amount=40)
    opportunity(fake, "Sunday 13 December, 23:30 in New York", "2026-12-14T04:30:00", amount=80)
    figures = direct_figures(sf_settings, date(2026, 12, 7), date(2026, 12, 14), date(2026, 11, 30), tz=new_york)
    assert figures.new_pipeline == usd(3, "140")
    assert figures.weekly_new_pipeline == (
        (date(2026, 11, 30), "USD", Decimal("10")), (date(2026, 12, 7), "USD", Decimal("140")),
    )
    # Summer time starts on Sunday 14 March 2027: that Monday begins at 04:00 UTC, not 05:00.
    opportunity(fake, "Sunday 14 March, 23:30 in New York", "2027-03-15T03:30:00", amount=1)
    opportunity(fake, "Monday 15 March, 00:30 in New York", "2027-03-15T04:30:00", amount=2)
    figures = direct_figures(sf_settings, date(2027, 3, 15), date(2027, 3, 22), date(2027, 3, 8), tz=new_york)
    assert figures.weekly_new_pipeline == (
        (date(2027, 3, 8), "USD", Decimal("1")), (date(2027, 3, 15), "USD", Decimal("2")),
    )


def test_not_connected_is_none_and_asks_nothing(fake, bare_settings):
    assert direct_figures(bare_settings, *NOVEMBER, WEEKS_FROM) is None
    assert fake.calls == []


def test_weeks_start_on_a_monday(sf_settings):
    with pytest.raises(ValueError, match="Monday"):
        direct_figures(sf_settings, *NOVEMBER, date(2026, 10, 6))


@pytest.mark.parametrize(
    "fault, reason",
    [
        ("503", "Salesforce error 503: SERVER_UNAVAILABLE"),
        ("limit", "Salesforce API limit reached: REQUEST_LIMIT_EXCEEDED"),
        ("session", "Salesforce session expired or invalid: INVALID_SESSION_ID"),
    ],
)
def test_a_failing_query_says_why(fake, sf_settings, fault, reason):
    november_org(fake)
    fake.fail_next("none-yet", fault)  # the currency query passes, the first figure's fails
    with pytest.raises(SalesforceUnavailable) as raised:
        direct_figures(sf_settings, *NOVEMBER, WEEKS_FROM)
    assert str(raised.value).startswith(reason)
    assert fake.access_token not in str(raised.value)


def test_a_query_that_times_out(fake, sf_settings):
    fake.fail_next("none-yet", "timeout")
    with pytest.raises(SalesforceUnavailable, match=r"^Salesforce did not answer \(ReadTimeout\)$"):
        direct_figures(CrmApi(build_salesforce(sf_settings), timeout=0.1), *NOVEMBER, WEEKS_FROM)


def test_fields_not_deployed_and_refused_logins_say_why_without_secrets(fake, sf_settings, database_url):
    fake.fields["Opportunity"].discard("Attribution_Type__c")
    with pytest.raises(SalesforceUnavailable, match="INVALID_FIELD: No such column 'Attribution_Type__c'"):
        direct_figures(sf_settings, *NOVEMBER, WEEKS_FROM)
    wrong = load_settings(database_url=database_url, salesforce_instance_url=fake.base_url,
                          salesforce_access_token="00Dwrong-token-value", salesforce_ca_bundle=fake.ca_bundle,
                          _env_file=None)
    with pytest.raises(SalesforceUnavailable) as raised:
        direct_figures(wrong, *NOVEMBER, WEEKS_FROM)
    assert str(raised.value) == "Salesforce session expired or invalid: INVALID_SESSION_ID: Session expired or invalid"
    incomplete = load_settings(database_url=database_url, salesforce_access_token="tok-123456789", _env_file=None)
    with pytest.raises(SalesforceUnavailable, match="needs SALESFORCE_INSTANCE_URL"):
        direct_figures(incomplete, *NOVEMBER, WEEKS_FROM)


def test_the_fake_answers_aggregate_queries_as_salesforce_does(fake, sf_settings):
    opportunity(fake, "One", "2026-11-02", amount=100)
    opportunity(fake, "Two", "2026-11-02", stage="Closed Won", amount=None, close="2026-11-03")
    session = requests.Session()
    session.trust_env, session.verify = False, str(fake.ca_bundle)
    headers = {"Authorization": f"Bearer {fake.access_token}"}

    def query(soql):
        return session.get(f"{fake.base_url}/services/data/v59.0/query/", params={"q": soql}, headers=headers)

    answer = query("SELECT StageName, COUNT(Id), SUM(Amount), MAX(Amount) top FROM Opportunity GROUP BY StageName")
    assert answer.status_code == 200
    assert answer.json() == {"totalSize": 2, "done": True, "records": [
        {"attributes": {"type": "AggregateResult"}, "StageName": "Prospecting", "expr0": 1, "expr1": 100.0,
         "top": 100.0},
        {"attributes": {"type": "AggregateResult"}, "StageName": "Closed Won", "expr0": 1, "expr1": None, "top": None},
    ]}
    empty = query("SELECT COUNT(Id) n, SUM(Amount) total FROM Opportunity WHERE Amount > 1000000")
    assert empty.json()["records"] == [{"attributes": {"type": "AggregateResult"}, "n": 0, "total": None}]
    refused = query("SELECT StageName, COUNT(Id) FROM Opportunity")
    assert refused.status_code == 400 and refused.json() == [
        {"errorCode": "MALFORMED_QUERY", "message": "Field must be grouped or aggregated: StageName"}
    ]
