"""The figures of issue 11, one definition each, shared by every surface (the weekly digest, `/partner report`, the
partner scorecard, `partnerbot report`): computed with SQL aggregates in storage/reporting.py for a Period and a
Scope, converted into the routing base currency with the program file's exchange rates (currencies without a rate
are named, not counted). No Slack payloads here.

Partner-influenced includes co-sell throughout: `sourced` is AttributionType.sourced, `influenced` is influenced
and co_sell.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlmodel import Session

from storage import reporting as store
from storage.actors import Actor
from storage.crm.reporting import DirectFigures, SalesforceUnavailable
from storage.db import read_snapshot
from storage.models import PartnerStage
from storage.reporting_scope import Scope, ScopeKind, ScopeRefused, scope_for  # noqa: F401  (surfaces import them)
from workflows.nudge_managers import stuck_rules
from workflows.program import RoutingRules
from workflows.routing import total_in_base_currency
from workflows.services import NotAllowed, Services

EXPANSION_DAYS = 183  # "within 6 months" of landing
TOP_PARTNERS = 5
FIRST_YEAR, LAST_YEAR = 1970, 2999  # a period's years (and the period before it) stay within Python's dates
MAX_PERIOD_DAYS = 10 * 366
CHART_WEEKS = 12  # the digest's chart: new pipeline per week

Amounts = Iterable[tuple[str, int, Decimal]]  # (currency, how many, their value) rows, as the queries give them
CENT, TENTH = Decimal("0.01"), Decimal("0.1")


def percent(part: int, whole: int) -> Decimal | None:
    """part / whole in percent with one decimal; None when whole is 0."""
    return (Decimal(100 * part) / whole).quantize(TENTH) if whole else None


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
        zone = _zone(tz)
        word = text.strip().lower()
        today = now.astimezone(zone).date()
        if any(not FIRST_YEAR <= int(year) <= LAST_YEAR for year in re.findall(r"\d{4}", word)):
            raise PeriodError(f"{text.strip()[:40]}: years go from {FIRST_YEAR} to {LAST_YEAR}. {_forms()}")
        if word == "week":
            return cls.week_of(today - timedelta(days=7), tz)
        if word == "month":
            first = today.replace(day=1) - timedelta(days=1)
            return cls._month(first.year, first.month, tz)
        if word == "quarter":
            return cls._quarter(today.year, (today.month - 1) // 3 + 1, tz).previous()
        if match := re.fullmatch(r"(\d{4})-q([1-4])", word):
            return cls._quarter(int(match[1]), int(match[2]), tz)
        if match := re.fullmatch(r"(\d{4})-(0[1-9]|1[0-2])", word):
            return cls._month(int(match[1]), int(match[2]), tz)
        if match := re.fullmatch(r"(\d{4})-w(\d{2})", word):
            try:
                return cls.week_of(date.fromisocalendar(int(match[1]), int(match[2]), 1), tz)
            except ValueError:
                raise PeriodError(f"{text.strip()} is not a week of {match[1]}. {_forms()}") from None
        if match := re.fullmatch(r"(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})", word):
            try:
                first, last = date.fromisoformat(match[1]), date.fromisoformat(match[2])
            except ValueError:
                raise PeriodError(f"{text.strip()} has a date that does not exist. {_forms()}") from None
            if last < first:
                raise PeriodError(f"{text.strip()} ends before it starts. {_forms()}")
            if (last - first).days >= MAX_PERIOD_DAYS:
                raise PeriodError(f"{text.strip()} is longer than {MAX_PERIOD_DAYS // 366} years. {_forms()}")
            return cls.of_dates(first, last, tz)
        raise PeriodError(f"“{text.strip()[:40]}” is not a period. {_forms()}")

    @classmethod
    def of_dates(cls, first: date, last: date, tz: str = "UTC") -> Period:
        """From `first` to `last`, both days included."""
        return cls(_midnight(first, tz), _midnight(last + timedelta(days=1), tz), f"{first}..{last}",
                   PeriodKind.dates, tz)

    @classmethod
    def _month(cls, year: int, month: int, tz: str) -> Period:
        following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
        return cls(_midnight(date(year, month, 1), tz), _midnight(following, tz), f"{year}-{month:02d}",
                   PeriodKind.month, tz)

    @classmethod
    def _quarter(cls, year: int, number: int, tz: str) -> Period:
        following = date(year + 1, 1, 1) if number == 4 else date(year, 3 * number + 1, 1)
        return cls(_midnight(date(year, 3 * number - 2, 1), tz), _midnight(following, tz), f"{year}-Q{number}",
                   PeriodKind.quarter, tz)

    @classmethod
    def week_of(cls, day: date, tz: str = "UTC") -> Period:
        """The Monday-to-Monday week that contains `day`."""
        monday = day - timedelta(days=day.weekday())
        year, week, _ = monday.isocalendar()
        return cls(_midnight(monday, tz), _midnight(monday + timedelta(days=7), tz), f"{year}-W{week:02d}",
                   PeriodKind.week, tz)

    @property
    def first_day(self) -> date:
        return self.start.astimezone(_zone(self.zone)).date()

    @property
    def last_day(self) -> date:
        """The last day in the period (its end is the midnight after it)."""
        return self.end.astimezone(_zone(self.zone)).date() - timedelta(days=1)

    def previous(self) -> Period:
        """The period of the same kind just before (the week, month or quarter before; for dates, as many days
        ending where this one starts). Crossing a year works."""
        first = self.first_day
        if self.kind is PeriodKind.week:
            return Period.week_of(first - timedelta(days=7), self.zone)
        if self.kind is PeriodKind.month:
            before = first - timedelta(days=1)
            return Period._month(before.year, before.month, self.zone)
        if self.kind is PeriodKind.quarter:
            before = first - timedelta(days=1)
            return Period._quarter(before.year, (before.month - 1) // 3 + 1, self.zone)
        days = (self.last_day - first).days + 1
        return Period.of_dates(first - timedelta(days=days), first - timedelta(days=1), self.zone)


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (KeyError, ValueError):
        raise PeriodError(f"{tz} is not a time zone; use a name such as Europe/Berlin") from None


def _midnight(day: date, tz: str) -> datetime:
    """00:00 of `day` in `tz`, in UTC."""
    return datetime.combine(day, time(0), tzinfo=_zone(tz)).astimezone(timezone.utc)


def _forms() -> str:
    return "Give one of: " + "; ".join(PERIOD_FORMS) + "."


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
        rows = list(amounts)
        count, value, unconverted = total_in_base_currency(rows, rules)
        left_out = sum(how_many for currency, how_many, _ in rows if currency in unconverted)
        return cls(count, value, tuple(sorted(set(unconverted))), left_out)

    def __add__(self, other: Money) -> Money:
        return Money(self.count + other.count, self.value + other.value,
                     tuple(sorted(set(self.unconverted) | set(other.unconverted))),
                     self.unconverted_count + other.unconverted_count)

    @property
    def average(self) -> Decimal | None:
        """value / the deals whose value was counted; None when none was."""
        counted = self.count - self.unconverted_count
        return (self.value / counted).quantize(CENT) if counted else None


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
        return percent(self.won.count, self.won.count + self.lost)

    @classmethod
    def of(cls, direct: DirectFigures, rules: RoutingRules) -> DirectSummary:
        return cls(Money.of(direct.new_pipeline, rules), Money.of(direct.open_now, rules), Money.of(direct.won, rules),
                   direct.lost_count, direct.average_days_to_close)


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
        return percent(self.won.total.count, self.decided)

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
        return percent(self.won, self.decided)


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
        return percent(self.expanded, self.eligible)


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
        if not self.starting.value:
            return None
        return (100 * self.growth / self.starting.value).quantize(TENTH)


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


@dataclass(frozen=True)
class Headline:
    """What a digest compares with the week before (handlers/blocks/digest.py headline): new pipeline (as
    PipelineFigures.new), won (as Figures.won) and the direct summary (None: Salesforce not connected)."""

    new: Split
    won: WonFigures
    direct: DirectSummary | None = None


# --- The functions ----------------------------------------------------------------------------------------------

def report_scope(services: Services, actor: Actor, requested: Scope) -> Scope:
    """The scope `actor` may get of `requested` (storage.reporting_scope.scope_for); NotAllowed with the reason."""
    with Session(services.engine) as session:
        try:
            return scope_for(session, actor, requested)
        except ScopeRefused as refused:
            raise NotAllowed(str(refused)) from None


def _split(rows: Iterable[tuple[str, str, int, Decimal]], rules: RoutingRules) -> Split:
    """(attribution, currency, count, total) rows as a Split."""
    rows = list(rows)
    return Split(Money.of([(c, n, t) for b, c, n, t in rows if b == store.SOURCED], rules),
                 Money.of([(c, n, t) for b, c, n, t in rows if b == store.INFLUENCED], rules))


def _won(closed: store.Decided, rules: RoutingRules) -> WonFigures:
    days = (closed.days_sum / closed.days_count).quantize(TENTH) if closed.days_count else None
    return WonFigures(_split(closed.won, rules), closed.lost, days)


def _lead_to_close(row: tuple) -> LeadToClose:
    key, label, won, decided, still_open = row
    return LeadToClose(key or "none", label or "none", won, decided, still_open)


def _partner_pipelines(rows: list[tuple], rules: RoutingRules, top: int
                       ) -> tuple[dict[int, tuple[Money, Money]], list[int], list[int]]:
    """(each partner's (this period, the one before), movers, top partners) by new sourced pipeline, from
    new_pipeline's rows by partner over (the period before, the period)."""
    amounts: dict[int, tuple[list, list]] = {}
    for slot, partner_id, _, currency, count, total in rows:
        amounts.setdefault(partner_id, ([], []))[1 - slot].append((currency, count, total))
    money = {pid: (Money.of(now, rules), Money.of(before, rules)) for pid, (now, before) in amounts.items()}
    movers = sorted((pid for pid, (now, before) in money.items() if now.value != before.value),
                    key=lambda pid: (-abs(money[pid][0].value - money[pid][1].value), pid))[:top]
    leaders = sorted((pid for pid, (now, _) in money.items() if now.count),
                     key=lambda pid: (-money[pid][0].value, -money[pid][0].count, pid))[:top]
    return money, movers, leaders


def _usage(rows: list[tuple], rules: RoutingRules) -> UsageGrowth:
    return UsageGrowth(sum(r[1] for r in rows), sum(r[2] for r in rows),
                       Money.of([(c, n, start) for c, n, _, start, _ in rows], rules),
                       Money.of([(c, n, current) for c, n, _, _, current in rows], rules))


@dataclass
class _Reads:
    """The rows of one scope's figures (compute_figures) as storage/reporting.py gives them; the defaults are a
    scope without any."""

    new: list = field(default_factory=list)
    open_now: list = field(default_factory=list)
    by_partner: list = field(default_factory=list)
    closed: store.Decided = field(default_factory=store.Decided)
    lead_to_close: list = field(default_factory=lambda: [("all", None, 0, 0, 0)])
    zones: list = field(default_factory=list)
    usage: list = field(default_factory=list)
    stages: dict = field(default_factory=dict)
    pending: list = field(default_factory=lambda: [(0, 0)])
    upsells: list = field(default_factory=list)


def _read(session: Session, services: Services, period: Period, scope: Scope, managers: Sequence[str] | None,
          now: datetime) -> dict[str | None, _Reads]:
    """Every figure's rows of `scope` ({None: rows}), or of each manager of a batch (`managers`, over
    Scope.everything()): the same queries, grouped by manager."""
    reads = {key: _Reads() for key in (managers if managers is not None else [None])}

    def spread(name: str, rows: list[tuple]) -> None:
        for key, part in (store.per_manager(rows).items() if managers is not None else [(None, rows)]):
            setattr(reads[key], name, part)

    earlier, last = period.previous(), period.last_day
    spread("new", store.new_pipeline(session, scope, (period.start, period.end), managers=managers))
    spread("open_now", store.open_pipeline(session, scope, managers=managers))
    spread("by_partner", store.new_pipeline(session, scope, (earlier.start, period.start, period.end),
                                            by_partner=True, sourced_only=True, managers=managers))
    for key, closed in store.decided_by_manager(session, scope, period.start, period.end, managers).items():
        reads[key].closed = closed
    spread("lead_to_close", store.lead_to_close(session, scope, period.start, period.end, managers=managers))
    spread("zones", store.landing_zones(session, scope, period.end, EXPANSION_DAYS, managers=managers))
    spread("usage", store.usage_growth(session, scope, period.end, f"{last.year:04d}-{last.month:02d}",
                                       managers=managers))
    for key, stages in store.partner_stages_by_manager(session, scope, stuck_rules(services, now),
                                                       managers).items():
        reads[key].stages = stages
    spread("pending", store.pending_registrations(
        session, scope, now - timedelta(hours=services.program.approval_sla_hours), managers=managers))
    spread("upsells", store.open_upsells(session, scope, managers=managers))
    return reads


def _figures(services: Services, period: Period, scopes: dict[str | None, Scope], managers: Sequence[str] | None,
             *, direct: DirectFigures | None, direct_error: str | None, top: int,
             now: datetime | None) -> dict[str | None, Figures]:
    """compute_figures of each scope: {None: scope} alone, or a batch of managers ({manager: their scope})."""
    rules, now = services.program.routing, now or services.clock()
    with read_snapshot(services.engine) as session:
        reads = _read(session, services, period, Scope.everything() if managers is not None else scopes[None],
                      managers, now)
        ranked = {key: _partner_pipelines(read.by_partner, rules, top) for key, read in reads.items()}
        names = store.partner_names(session, sorted({pid for _, movers, leaders in ranked.values()
                                                     for pid in (*movers, *leaders)}))
    summary = DirectSummary.of(direct, rules) if direct is not None else None
    out = {}
    for key, read in reads.items():
        money, movers, leaders = ranked[key]

        def pipeline(pid: int) -> PartnerPipeline:
            return PartnerPipeline(pid, names.get(pid, f"partner {pid}"), *money[pid])  # noqa: B023

        pending, late = read.pending[0]
        funnel = Funnel(tuple(StageCount(stage, *read.stages.get(stage, (0, 0))) for stage in PartnerStage),
                        pending, late, Money.of(read.upsells, rules), Money.of(read.closed.upsells_won, rules))
        out[key] = Figures(
            period=period, scope=scopes[key], base_currency=rules.base_currency, computed_at=now,
            pipeline=PipelineFigures(_split(((b, c, n, t) for _, b, c, n, t in read.new), rules),
                                     _split(read.open_now, rules)),
            won=_won(read.closed, rules), lead_to_close=_lead_to_close(read.lead_to_close[0]),
            landing_zones=tuple(LandingZone(*row) for row in read.zones), usage_growth=_usage(read.usage, rules),
            funnel=funnel, movers=tuple(map(pipeline, movers)), top_partners=tuple(map(pipeline, leaders)),
            direct=summary, direct_unavailable=f"Salesforce unavailable: {direct_error}" if direct_error else None)
    return out


def compute_figures(services: Services, period: Period, scope: Scope, *, direct: DirectFigures | None = None,
                    direct_error: str | None = None, top: int = TOP_PARTNERS,
                    now: datetime | None = None) -> Figures:
    """Every figure for `period` and `scope`, in one read transaction, each one or a few aggregate queries.
    `direct` is R2's DirectFigures (None: Salesforce not connected); `direct_error` the reason it could not be
    read, shown instead."""
    return _figures(services, period, {None: scope}, None, direct=direct, direct_error=direct_error, top=top,
                    now=now)[None]


def compute_figures_by_manager(services: Services, period: Period, scopes: dict[str, Scope], *,
                               direct: DirectFigures | None = None, direct_error: str | None = None,
                               top: int = TOP_PARTNERS, now: datetime | None = None) -> dict[str, Figures]:
    """compute_figures of many partner managers' scopes at once ({manager: Scope.of_manager(manager, ...)}): each
    query run once for them all, grouped by the partner's manager (the digest job's batch), each manager getting
    exactly what compute_figures gives them alone."""
    for manager, scope in scopes.items():
        if replace(scope, kind=ScopeKind.all, manager_slack_id=None, label=Scope.everything().label) != \
                Scope.everything() or scope.manager_slack_id != manager:
            raise ValueError(f"a batch holds partner managers' own scopes only, not {scope}")
    return _figures(services, period, dict(scopes), sorted(scopes), direct=direct, direct_error=direct_error,
                    top=top, now=now)


def headline_figures(services: Services, period: Period, scope: Scope, *,
                     direct: DirectFigures | None = None) -> Headline:
    """Only the headline's figures (Headline) of `period` and `scope`: two queries per table, not compute_figures'
    every section (a digest's week before needs no more)."""
    return _headlines(services, period, scope, None, direct)[None]


def headline_figures_by_manager(services: Services, period: Period, managers: Sequence[str], *,
                                direct: DirectFigures | None = None) -> dict[str, Headline]:
    """headline_figures of each partner manager's own partners, the queries run once for them all."""
    return _headlines(services, period, Scope.everything(), managers, direct)


def _headlines(services: Services, period: Period, scope: Scope, managers: Sequence[str] | None,
               direct: DirectFigures | None) -> dict:
    rules = services.program.routing
    with read_snapshot(services.engine) as session:
        new = store.new_pipeline(session, scope, (period.start, period.end), managers=managers)
        closed = store.decided_by_manager(session, scope, period.start, period.end, managers)
    new_of = store.per_manager(new) if managers is not None else {None: new}
    summary = DirectSummary.of(direct, rules) if direct is not None else None
    return {key: Headline(_split(((b, c, n, t) for _, b, c, n, t in new_of.get(key, [])), rules),
                          _won(done, rules), summary) for key, done in closed.items()}


def lead_to_close_by(services: Services, period: Period, scope: Scope, by: GroupBy | str) -> list[LeadToClose]:
    """LeadToClose per partner, partner type, tier, landing zone (registrations' product_line) or manager (Slack
    id; "none" for partners without one), most submitted first."""
    with read_snapshot(services.engine) as session:
        return [_lead_to_close(row) for row in
                store.lead_to_close(session, scope, period.start, period.end, by=GroupBy(by).value)]


def lead_to_close_by_manager(services: Services, period: Period, managers: Sequence[str],
                             by: GroupBy | str) -> dict[str, list[LeadToClose]]:
    """lead_to_close_by of each partner manager's own partners (absent: none submitted), in one query."""
    with read_snapshot(services.engine) as session:
        rows = store.lead_to_close(session, Scope.everything(), period.start, period.end, by=GroupBy(by).value,
                                   managers=managers)
    return {manager: [_lead_to_close(row) for row in part] for manager, part in store.per_manager(rows).items()}


def partner_against_type(services: Services, period: Period, scope: Scope) -> tuple[LeadToClose, LeadToClose]:
    """For the scorecard: the scope's partner (scope.partner_id; a referral contact's own registrations when the
    scope says so) and the average of every partner of its type (pooled: all their won / all their decided),
    program-wide."""
    if scope.partner_id is None:
        raise ValueError("partner_against_type needs a partner scope")
    with read_snapshot(services.engine) as session:
        mine = _lead_to_close(store.lead_to_close(session, scope, period.start, period.end)[0])
        partner_type, won, decided, still_open = store.type_lead_to_close(session, scope.partner_id, period.start,
                                                                          period.end)
    return (LeadToClose(str(scope.partner_id), scope.label, mine.won, mine.decided, mine.open),
            LeadToClose(partner_type, f"{partner_type} partners", won, decided, still_open))


def weekly_series(services: Services, scope: Scope, *, until: Period, weeks: int = 12,
                  direct: DirectFigures | None = None) -> tuple[WeekPoint, ...]:
    """New pipeline per week for the `weeks` weeks ending with the week `until` (a week Period), oldest first, empty
    weeks included; direct from DirectFigures.weekly_new_pipeline when given (None: not connected)."""
    return _weekly(services, scope, None, until, weeks, direct)[None]


def weekly_series_by_manager(services: Services, managers: Sequence[str], *, until: Period, weeks: int = 12,
                             direct: DirectFigures | None = None) -> dict[str, tuple[WeekPoint, ...]]:
    """weekly_series of each partner manager's own partners (every one of `managers`), in one query per table."""
    return _weekly(services, Scope.everything(), managers, until, weeks, direct)


def _weekly(services: Services, scope: Scope, managers: Sequence[str] | None, until: Period, weeks: int,
            direct: DirectFigures | None) -> dict:
    if until.kind is not PeriodKind.week:
        raise ValueError(f"weekly_series needs a week, not {until.label}")
    rules = services.program.routing
    series = [until]
    while len(series) < weeks:
        series.insert(0, series[0].previous())
    bounds = [week.start for week in series] + [until.end]
    with read_snapshot(services.engine) as session:
        rows = store.new_pipeline(session, scope, bounds, managers=managers)
    rows_of = store.per_manager(rows) if managers is not None else {None: rows}
    direct_weeks = {}
    if direct is not None:
        direct_weeks = {week.first_day: Money.of([(c, 0, t) for monday, c, t in direct.weekly_new_pipeline
                                                  if monday == week.first_day], rules) for week in series}
    out = {}
    for key in (managers if managers is not None else [None]):
        points = []
        for slot, week in enumerate(series):
            split = _split(((b, c, n, t) for s, b, c, n, t in rows_of.get(key, []) if s == slot), rules)
            points.append(WeekPoint(week.first_day, split.sourced, split.influenced, direct_weeks.get(week.first_day)))
        out[key] = tuple(points)
    return out


def direct_for(services: Services, period: Period, *, weeks: int = CHART_WEEKS) -> tuple[DirectFigures | None, str | None]:
    """Salesforce's direct figures for `period`, with weekly new pipeline for the `weeks` weeks ending with the one
    holding the period's last day: (figures, None); (None, None) when Salesforce is not connected; (None, why) when
    it could not be read. Asked of Salesforce outside any transaction; org-wide, so a run asks once per period."""
    if services.read_direct is None:
        return None, None
    last = period.last_day
    weeks_start = last - timedelta(days=last.weekday() + 7 * (weeks - 1))
    try:
        return services.read_direct(period.start, period.end, weeks_start, tz=ZoneInfo(period.zone)), None
    except SalesforceUnavailable as unavailable:
        return None, str(unavailable)
