"""Reading back from Salesforce: direct (non-partner) pipeline and won revenue by period, for reporting."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from simple_salesforce import Salesforce

from storage.crm.api import CrmApi
from storage.crm.reporting import DIRECT, PARTNER

Period = Literal["month", "quarter"]

# Direct and partner business as storage.crm.reporting defines them (one definition for every surface).
OPPORTUNITIES_SOQL = (
    "SELECT Id, Amount, CloseDate, IsClosed, IsWon FROM Opportunity "
    "WHERE {which} AND CloseDate >= {start} AND CloseDate <= {end}"
)


@dataclass(frozen=True)
class PeriodFigures:
    """Pipeline still open and revenue won, for Opportunities closing in one period."""

    period: str  # "2026-11" or "2026-Q4"
    open_pipeline: Decimal
    open_count: int
    won_revenue: Decimal
    won_count: int


def period_of(day: date, period: Period) -> str:
    if period == "quarter":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    return f"{day.year}-{day.month:02d}"


def summarize_by_period(records: Iterable[dict[str, Any]], period: Period = "month") -> list[PeriodFigures]:
    """Totals per period from Opportunity rows (`Amount`, `CloseDate`, `IsClosed`, `IsWon`), oldest first."""
    totals: dict[str, list] = {}
    for record in records:
        key = period_of(date.fromisoformat(record["CloseDate"][:10]), period)
        bucket = totals.setdefault(key, [Decimal(0), 0, Decimal(0), 0])
        amount = Decimal(str(record.get("Amount") or 0))
        if record.get("IsWon"):
            bucket[2] += amount
            bucket[3] += 1
        elif not record.get("IsClosed"):
            bucket[0] += amount
            bucket[1] += 1
    return [PeriodFigures(key, *values) for key, values in sorted(totals.items())]


def pipeline_and_won_by_period(
    sf: Salesforce | CrmApi, *, start: date, end: date, period: Period = "month", partner: bool = False
) -> list[PeriodFigures]:
    """Open pipeline and won revenue by close period: direct deals by default, partner deals with `partner=True`."""
    api = sf if isinstance(sf, CrmApi) else CrmApi(sf)
    which = PARTNER if partner else DIRECT
    soql = OPPORTUNITIES_SOQL.format(which=which, start=start.isoformat(), end=end.isoformat())
    return summarize_by_period(api.query_all(soql), period)


def direct_pipeline_and_won(
    sf: Salesforce | CrmApi, *, start: date, end: date, period: Period = "month"
) -> list[PeriodFigures]:
    """Direct (non-partner) open pipeline and won revenue by period."""
    return pipeline_and_won_by_period(sf, start=start, end=end, period=period, partner=False)
