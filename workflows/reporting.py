"""The figures of issue 11, one definition each, shared by every surface (the weekly digest, `/partner report`, the
partner scorecard, `partnerbot report`): computed with SQL aggregates in storage/reporting.py for a Period and a
Scope, converted into the routing base currency with the program file's exchange rates (currencies without a rate
are named, not counted). No Slack payloads here.

Partner-influenced includes co-sell throughout: `sourced` is AttributionType.sourced, `influenced` is influenced
and co_sell.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from storage.models import PartnerStage
from storage.reporting_scope import Scope, ScopeKind, ScopeRefused  # noqa: F401  (the surfaces import them here)
from workflows.program import RoutingRules
from workflows.services import Services

EXPANSION_DAYS = 183  # "within 6 months" of landing
TOP_PARTNERS = 5

Amounts = Iterable[tuple[str, int, Decimal]]  # (currency, how many, their value) rows, as the queries give them


# --- Period -----------------------------------------------------------------------------------------------------

class PeriodKind(StrEnum):
    week = "week"  # Monday 00:00 to the next Monday 00:00 in the zone
    month = "month"  # a calendar month in the zone
    quarter = "quarter"  # a calendar quarter in the zone
    dates = "dates"  # given dates, first to last inclusive


class PeriodError(ValueError):
    """Text that is not a period; the message names the accepted forms."""


PERIOD_FORMS = ("week", "month", "quarter", "YYYY-Qn (2026-Q3)", "YYYY-MM (2026-11)", "YYYY-Www (2026-W48)",
                "YYYY-MM-DD..YYYY-MM-DD (2026-11-01..2026-11-15, both days included)")


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC: a report's time range. Bounds are midnights in `zone` (the reader's or the program's
    time zone), so "week" is the reader's Monday to Monday. `label` names it for people ("2026-W48", "2026-11",
    "2026-Q4", "2026-11-01..2026-11-15")."""

    start: datetime
    end: datetime
    label: str
    kind: PeriodKind = PeriodKind.dates
    zone: str = "UTC"

    @classmethod
    def parse(cls, text: str, now: datetime, tz: str = "UTC") -> Period:
        """`week` (the last full Monday-Sunday week in tz: last Monday 00:00 to this Monday 00:00), `month` (the last
        full calendar month), `quarter` (the last full quarter), `YYYY-Qn`, `YYYY-MM`, `YYYY-Www` (ISO week),
        `YYYY-MM-DD..YYYY-MM-DD` (end date included). Raises PeriodError naming the accepted forms otherwise."""
        raise NotImplementedError

    @classmethod
    def week_of(cls, day: date, tz: str = "UTC") -> Period:
        """The Monday-to-Monday week that contains `day`."""
        raise NotImplementedError

    def previous(self) -> Period:
        """The period of the same kind just before (the week, month or quarter before; for dates, as many days
        ending where this one starts). Crossing a year works."""
        raise NotImplementedError


# --- Money ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Money:
    """How many deals and their value in the routing base currency (to the cent). Deals in a currency without an
    exchange rate are in `count` but not in `value`: their currencies are named in `unconverted` and their number
    is `unconverted_count`, so an average divides only what was counted."""

    count: int = 0
    value: Decimal = Decimal("0.00")
    unconverted: tuple[str, ...] = ()
    unconverted_count: int = 0

    @classmethod
    def of(cls, amounts: Amounts, rules: RoutingRules) -> Money:
        """(currency, count, value) rows summed into the base currency."""
        raise NotImplementedError

    def __add__(self, other: Money) -> Money:
        raise NotImplementedError

    @property
    def average(self) -> Decimal | None:
        """value / the deals whose value was counted; None when none was."""
        raise NotImplementedError


@dataclass(frozen=True)
class Split:
    """Partner deals split by attribution: `sourced` (partner-sourced) and `influenced` (partner-influenced and
    co-sell)."""

    sourced: Money = Money()
    influenced: Money = Money()

    @property
    def total(self) -> Money:
        return self.sourced + self.influenced


# --- Direct (Salesforce) ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DirectFigures:
    """Salesforce Opportunities with no partner attribution. Amount rows are (currency, count, total)."""
    new_pipeline: tuple[tuple[str, int, Decimal], ...]   # created in [start, end)
    open_now: tuple[tuple[str, int, Decimal], ...]       # IsClosed = false now
    won: tuple[tuple[str, int, Decimal], ...]            # IsWon, CloseDate in [start, end)
    lost_count: int                                       # IsClosed and not IsWon, CloseDate in [start, end)
    average_days_to_close: Decimal | None                 # won in the period: CreatedDate -> CloseDate
    weekly_new_pipeline: tuple[tuple[date, str, Decimal], ...]  # (week start Monday, currency, total), last N weeks


@dataclass(frozen=True)
class DirectSummary:
    """DirectFigures in the base currency, for side-by-side with the partner figures."""

    new_pipeline: Money
    open_now: Money
    won: Money
    lost: int
    average_days_to_close: Decimal | None

    @property
    def win_rate(self) -> Decimal | None:
        """Percent (one decimal) of the direct deals decided in the period that were won; None when none was."""
        raise NotImplementedError

    @classmethod
    def of(cls, direct: DirectFigures, rules: RoutingRules) -> DirectSummary:
        raise NotImplementedError


# --- The figures' parts -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PipelineFigures:
    """`new`: partner pipeline created in the period = registrations approved in it (approved_at; estimated_value)
    plus upsells accepted in it (accepted_at; expected_value), whatever they became since. `open_now`: approved
    registrations and accepted upsells not yet won or lost (status approved / accepted) at the time of the report,
    whatever the period. Both split sourced / influenced (co-sell counts as influenced)."""

    new: Split
    open_now: Split


@dataclass(frozen=True)
class WonFigures:
    """Deals decided in the period (closed_at in it), registrations and upsells together: `won` (registrations at
    estimated_value, upsells at final_amount or else expected_value) split by attribution, `lost` (how many), and
    `average_days_to_close` over the won ones (registrations approved_at -> closed_at, upsells accepted_at ->
    closed_at; deals without the start time are left out). Upsells count in the win rate like registrations."""

    won: Split
    lost: int
    average_days_to_close: Decimal | None

    @property
    def decided(self) -> int:
        return self.won.total.count + self.lost

    @property
    def win_rate(self) -> Decimal | None:
        """won / (won + lost) in percent with one decimal; None when nothing was decided in the period."""
        raise NotImplementedError

    @property
    def average_deal_size(self) -> Decimal | None:
        """Won value / won deals (those whose value was converted); None when none was won."""
        return self.won.total.average


class GroupBy(StrEnum):
    partner = "partner"
    type = "type"
    tier = "tier"
    landing_zone = "landing-zone"
    manager = "manager"


@dataclass(frozen=True)
class LeadToClose:
    """Registrations SUBMITTED in the period (created_at) and what became of them: `won` of those `decided` (won,
    lost, rejected, expired or withdrawn by the time of the report); `open` ones (received, under review, approved)
    are not counted in the ratio. `key`/`label` name the group (a partner id and name, a type, a tier, a landing
    zone, a manager's Slack id; "all" for the whole scope)."""

    key: str
    label: str
    won: int
    decided: int
    open: int

    @property
    def submitted(self) -> int:
        return self.decided + self.open

    @property
    def ratio(self) -> Decimal | None:
        """won / decided in percent with one decimal; None when none is decided yet."""
        raise NotImplementedError


@dataclass(frozen=True)
class LandingZone:
    """Accounts attached to partners in scope whose entry product line (CustomerAccount.landing_zone) is
    `product_line`: `landed` (created up to the period end); `expanded`: those with a won upsell (closed_at) or an
    AccountProductLine other than the landing zone (since) within EXPANSION_DAYS of landing and before the period
    end; `eligible`: those landed at least EXPANSION_DAYS before the period end, or already expanded (the others
    have not had their six months yet); `median_days_to_expand` over the expanded ones."""

    product_line: str
    landed: int
    eligible: int
    expanded: int
    median_days_to_expand: Decimal | None

    @property
    def share(self) -> Decimal | None:
        """expanded / eligible in percent with one decimal; None when none is eligible."""
        raise NotImplementedError


@dataclass(frozen=True)
class UsageGrowth:
    """Usage-based registrations in scope that are won or approved now (and approved before the period end):
    `starting` is the sum of their starting_monthly_usage, `current` the sum of each one's latest recorded month
    (UsageRevenue) up to the period's last month, or its starting usage when it has none yet; `with_history` how
    many have a recorded month. The growth (current - starting) is credited to the partners."""

    deals: int
    with_history: int
    starting: Money
    current: Money

    @property
    def growth(self) -> Decimal:
        return self.current.value - self.starting.value

    @property
    def growth_percent(self) -> Decimal | None:
        """growth / starting in percent with one decimal; None when starting is zero."""
        raise NotImplementedError


@dataclass(frozen=True)
class StageCount:
    stage: PartnerStage
    partners: int
    stuck: int  # past the nudge thresholds (storage/nudges/managers.py Stuck), as the manager roll-up counts them


@dataclass(frozen=True)
class Funnel:
    """Partners in scope per lifecycle stage (every stage, zeros included) and how many are stuck; registrations
    open (received or under review) now, and how many of them for longer than program.approval_sla_hours;
    upsells open now (duplicate review, open, accepted; expected_value) and won in the period."""

    stages: tuple[StageCount, ...]
    registrations_pending: int
    registrations_past_sla: int
    upsells_open: Money
    upsells_won: Money

    @property
    def stuck(self) -> int:
        return sum(stage.stuck for stage in self.stages)


@dataclass(frozen=True)
class PartnerPipeline:
    """One partner's new partner-sourced pipeline (as PipelineFigures.new.sourced) in the period and the one
    before."""

    partner_id: int
    name: str
    current: Money
    previous: Money

    @property
    def change(self) -> Decimal:
        return self.current.value - self.previous.value


@dataclass(frozen=True)
class WeekPoint:
    """One week of the chart: new pipeline (as PipelineFigures.new) sourced and influenced, and direct (Salesforce
    Opportunities created that week) or None when Salesforce is not connected."""

    week_start: date
    sourced: Money
    influenced: Money
    direct: Money | None


@dataclass(frozen=True)
class Figures:
    """Every figure of a period and scope, in `base_currency`. `direct` is None when Salesforce is not connected
    (show "not connected", never zero). `movers`: partners whose new sourced pipeline changed most against
    period.previous() (by absolute change); `top_partners`: the most new sourced pipeline in the period."""

    period: Period
    scope: Scope
    base_currency: str
    computed_at: datetime
    pipeline: PipelineFigures
    won: WonFigures
    lead_to_close: LeadToClose
    landing_zones: tuple[LandingZone, ...]
    usage_growth: UsageGrowth
    funnel: Funnel
    movers: tuple[PartnerPipeline, ...]
    top_partners: tuple[PartnerPipeline, ...]
    direct: DirectSummary | None = None
    direct_unavailable: str | None = None  # "Salesforce unavailable: <reason>" when the read failed


# --- The functions ----------------------------------------------------------------------------------------------

def report_scope(services: Services, actor, requested: Scope) -> Scope:
    """The scope `actor` may get of `requested` (storage.reporting_scope.scope_for); NotAllowed with the reason."""
    raise NotImplementedError


def compute_figures(services: Services, period: Period, scope: Scope, *, direct: DirectFigures | None = None,
                    top: int = TOP_PARTNERS, now: datetime | None = None) -> Figures:
    """Every figure for `period` and `scope`, in one read transaction, each one or a few aggregate queries."""
    raise NotImplementedError


def lead_to_close_by(services: Services, period: Period, scope: Scope, by: GroupBy) -> list[LeadToClose]:
    """LeadToClose per partner, partner type, tier, landing zone (registrations' product_line) or manager, most
    submitted first."""
    raise NotImplementedError


def partner_against_type(services: Services, period: Period, scope: Scope) -> tuple[LeadToClose, LeadToClose]:
    """For the scorecard: the scope's partner (scope.partner_id; a referral contact's own registrations when the
    scope says so) and the average of every partner of its type (pooled: all their won / all their decided)."""
    raise NotImplementedError


def weekly_series(services: Services, scope: Scope, *, until: Period, weeks: int = 12,
                  direct: DirectFigures | None = None) -> tuple[WeekPoint, ...]:
    """New pipeline per week for the `weeks` weeks ending with the week `until` (a week Period), oldest first, empty
    weeks included; direct from DirectFigures.weekly_new_pipeline when given."""
    raise NotImplementedError
