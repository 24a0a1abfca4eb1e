"""Direct pipeline read back from Salesforce for reporting: Opportunities with no partner attribution, added up by
aggregate SOQL in Salesforce, so no list of Opportunities is ever loaded.

Amounts: with GROUP BY, Salesforce returns SUM() of a currency field in the org's default currency (the corporate
currency of a multi-currency org, converted at Salesforce's own rates), whatever each record's CurrencyIsoCode is.
So every amount row here is in the currency `SELECT DefaultCurrencyIsoCode FROM Organization` names (asked each
time, so it can never disagree with the org), and every amount query has a GROUP BY.

Days: periods are instants for CreatedDate (a datetime) and calendar days in `tz` for CloseDate (a plain date).
Date functions without convertTimezone() work on UTC days; weeks are split where a local Monday starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError

from storage.crm.api import CrmApi, CrmTransientError, _errors_text
from storage.crm.client import CrmAuthError, CrmConfigError, build_salesforce, salesforce_configured, scrub

# Direct business: no partner attribution and not one of Partnerbot's own records (a registration's deal or an
# upsell's expansion, keyed by Partnerbot_Id__c). The dashboard's "blank attribution" is the same Opportunities
# except Partnerbot's expansions that no partner was credited for (see salesforce/README.md).
DIRECT = "Attribution_Type__c = null AND Partnerbot_Id__c = null"
PARTNER = "(Attribution_Type__c != null OR Partnerbot_Id__c != null)"
CENT = Decimal("0.01")

AmountRows = tuple[tuple[str, int, Decimal], ...]


@dataclass(frozen=True)
class DirectFigures:
    """Salesforce Opportunities with no partner attribution. Amount rows are (currency, count, total)."""
    new_pipeline: tuple[tuple[str, int, Decimal], ...]   # created in [start, end)
    open_now: tuple[tuple[str, int, Decimal], ...]       # IsClosed = false now
    won: tuple[tuple[str, int, Decimal], ...]            # IsWon, CloseDate in [start, end)
    lost_count: int                                       # IsClosed and not IsWon, CloseDate in [start, end)
    average_days_to_close: Decimal | None                 # won in the period: CreatedDate -> CloseDate
    weekly_new_pipeline: tuple[tuple[date, str, Decimal], ...]  # (week start Monday, currency, total), last N weeks


class SalesforceUnavailable(Exception):
    """Salesforce was configured but could not answer; str() is the reason, never a secret.

    Shown as "Salesforce unavailable: <reason>"; the figures that come from Partnerbot's own database still show."""


@dataclass(frozen=True)
class _Bound:
    instant: str  # a SOQL datetime literal in UTC, for CreatedDate
    day: date  # the calendar day in the report's time zone, for CloseDate


def _soql_instant(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _bound(value: date | datetime, tz: tzinfo) -> _Bound:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    else:
        moment = datetime.combine(value, time(), tz)
    return _Bound(_soql_instant(moment), moment.astimezone(tz).date())


def direct_figures(
    source: Any,
    start: date | datetime,
    end: date | datetime,
    weeks_start: date | datetime,
    *,
    tz: tzinfo = timezone.utc,
) -> DirectFigures | None:
    """Direct pipeline, wins and losses for [start, end), and direct new pipeline per week from `weeks_start`.

    `source` is the bot's Settings (None comes back when Salesforce is not configured: "not connected", never
    zero), a logged-in simple-salesforce client, or a CrmApi. Datetimes are instants (naive ones are UTC); plain
    dates are midnight in `tz`; `weeks_start` is a Monday. Raises SalesforceUnavailable when the login or a query
    fails.
    """
    if _bound(weeks_start, tz).day.weekday() != 0:
        raise ValueError(f"weeks_start must be a Monday, not {weeks_start}")
    if isinstance(source, (CrmApi, Salesforce)):
        return _read(source if isinstance(source, CrmApi) else CrmApi(source), start, end, weeks_start, tz)
    if not salesforce_configured(source):
        return None
    try:
        api = CrmApi(build_salesforce(source))
    except CrmConfigError as exc:
        raise SalesforceUnavailable("; ".join(exc.problems)) from None
    except CrmAuthError as exc:
        raise SalesforceUnavailable(scrub(str(exc), source)) from None
    try:
        return _read(api, start, end, weeks_start, tz)
    except SalesforceUnavailable as exc:
        raise SalesforceUnavailable(scrub(str(exc), source)) from None


def _read(api: CrmApi, start, end, weeks_start, tz: tzinfo) -> DirectFigures:
    try:
        return _figures(api, _bound(start, tz), _bound(end, tz), _bound(weeks_start, tz), tz)
    except CrmTransientError as exc:
        raise SalesforceUnavailable(str(exc)) from None
    except SalesforceError as exc:  # refused: a field not deployed, no access to Opportunity, a bad query
        text, _ = _errors_text(exc.content)
        raise SalesforceUnavailable(f"Salesforce refused the query ({text or exc.status})") from None
    except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
        raise SalesforceUnavailable(f"unexpected answer from Salesforce ({type(exc).__name__})") from None


def _figures(api: CrmApi, start: _Bound, end: _Bound, weeks: _Bound, tz: tzinfo) -> DirectFigures:
    [org] = api.query_all("SELECT DefaultCurrencyIsoCode FROM Organization")
    currency = org["DefaultCurrencyIsoCode"]
    created = f"CreatedDate >= {start.instant} AND CreatedDate < {end.instant}"
    closed = f"CloseDate >= {start.day.isoformat()} AND CloseDate < {end.day.isoformat()}"
    sums = "COUNT(Id) n, SUM(Amount) total FROM Opportunity WHERE " + DIRECT
    new = api.query_all(f"SELECT IsClosed, {sums} AND {created} GROUP BY IsClosed")
    open_now = api.query_all(f"SELECT IsClosed, {sums} AND IsClosed = false GROUP BY IsClosed")
    decided = api.query_all(f"SELECT IsWon, {sums} AND IsClosed = true AND {closed} GROUP BY IsWon")
    won = [r for r in decided if r["IsWon"]]
    return DirectFigures(
        new_pipeline=_amounts(new, currency),
        open_now=_amounts(open_now, currency),
        won=_amounts(won, currency),
        lost_count=sum(int(r["n"]) for r in decided if not r["IsWon"]),
        average_days_to_close=_average_days_to_close(api, closed) if won else None,
        weekly_new_pipeline=_weekly(api, weeks, end, tz, currency),
    )


def _amounts(records: list[dict[str, Any]], currency: str) -> AmountRows:
    count = sum(int(r["n"]) for r in records)
    total = sum((Decimal(str(r["total"])) for r in records if r["total"] is not None), Decimal(0))
    return ((currency, count, total.quantize(CENT)),) if count else ()


def _average_days_to_close(api: CrmApi, closed: str) -> Decimal:
    """Mean days from CreatedDate to CloseDate of the period's direct wins, exactly, in a bounded number of rows.

    Days between is linear, so the mean is mean(close day) - mean(created day); each day is its month's first day
    plus its day in the month, so two small aggregates give both means: won deals per (created month, close month)
    (a few rows per month of history) and per (created day-in-month, close day-in-month) (at most 31 x 31)."""
    where = f"FROM Opportunity WHERE {DIRECT} AND IsWon = true AND {closed}"
    months = api.query_all(
        "SELECT CALENDAR_YEAR(CreatedDate) cy, CALENDAR_MONTH(CreatedDate) cm, CALENDAR_YEAR(CloseDate) ky, "
        f"CALENDAR_MONTH(CloseDate) km, COUNT(Id) n {where} GROUP BY CALENDAR_YEAR(CreatedDate), "
        "CALENDAR_MONTH(CreatedDate), CALENDAR_YEAR(CloseDate), CALENDAR_MONTH(CloseDate)"
    )
    days = api.query_all(
        f"SELECT DAY_IN_MONTH(CreatedDate) cd, DAY_IN_MONTH(CloseDate) kd, COUNT(Id) n {where} "
        "GROUP BY DAY_IN_MONTH(CreatedDate), DAY_IN_MONTH(CloseDate)"
    )
    count = sum(int(r["n"]) for r in months)
    total = sum(
        int(r["n"]) * (date(int(r["ky"]), int(r["km"]), 1) - date(int(r["cy"]), int(r["cm"]), 1)).days for r in months
    ) + sum(int(r["n"]) * (int(r["kd"]) - int(r["cd"])) for r in days)
    return (Decimal(total) / Decimal(count)).quantize(Decimal("0.1"))


def _weekly(
    api: CrmApi, weeks: _Bound, end: _Bound, tz: tzinfo, currency: str
) -> tuple[tuple[date, str, Decimal], ...]:
    """Direct new pipeline per local week (Monday 00:00 in `tz`) from `weeks` to `end`, every week present.

    Salesforce groups CreatedDate by UTC day, and a local Monday 00:00 can fall inside a UTC day (Tokyo's is Sunday
    15:00 UTC): such a day's total is split at the boundary by one more small query, so every deal lands in its
    local week."""
    first = weeks.day
    count = max(0, -(-(end.day - first).days // 7))
    if not count:
        return ()
    where = f"FROM Opportunity WHERE {DIRECT} AND CreatedDate >= {weeks.instant} AND CreatedDate < {end.instant}"
    by_day = "SELECT DAY_ONLY(CreatedDate) day, SUM(Amount) total {where} GROUP BY DAY_ONLY(CreatedDate)"
    days = _day_totals(api.query_all(by_day.format(where=where)))
    # Where each week after the first begins, as a UTC instant; the days holding one strictly inside are split.
    starts = [datetime.combine(first + timedelta(weeks=i), time(), tz).astimezone(timezone.utc)
              for i in range(1, count)]
    split = {s.date(): i for i, s in enumerate(starts, 1) if s.time() != time() and s.date() in days}
    before: dict[date, Decimal] = {}
    if split:
        ranges = " OR ".join(
            f"(CreatedDate >= {_soql_instant(datetime.combine(day, time(), timezone.utc))} "
            f"AND CreatedDate < {_soql_instant(starts[i - 1])})"
            for day, i in sorted(split.items())
        )
        before = _day_totals(api.query_all(by_day.format(where=f"{where} AND ({ranges})")))
    totals = [Decimal(0)] * count
    for day, total in days.items():
        if day in split:
            totals[split[day] - 1] += before.get(day, Decimal(0))
            totals[split[day]] += total - before.get(day, Decimal(0))
        else:  # the whole UTC day is in one week: the one its first instant is in
            midnight = datetime.combine(day, time(), timezone.utc)
            totals[sum(1 for s in starts if s <= midnight)] += total
    return tuple((first + timedelta(weeks=i), currency, total.quantize(CENT)) for i, total in enumerate(totals))


def _day_totals(rows: list[dict[str, Any]]) -> dict[date, Decimal]:
    return {date.fromisoformat(r["day"]): Decimal(str(r["total"] or 0)) for r in rows}
