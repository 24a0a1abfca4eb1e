"""The figures of issue 11, one definition each, shared by every surface (the weekly digest, `/partner report`, the
partner scorecard, `partnerbot report`): computed with SQL aggregates in storage/reporting.py for a Period and a
Scope, converted into the routing base currency with the program file's exchange rates (currencies without a rate
are named, not counted). No Slack payloads here. What the figures are: workflows/report_figures.py; periods:
workflows/periods.py; money in the base currency: workflows/money.py.

Partner-influenced includes co-sell throughout: `sourced` is AttributionType.sourced, `influenced` is influenced
and co_sell.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlmodel import Session

from storage import reporting as store
from storage.actors import Actor
from storage.crm.reporting import DirectFigures, SalesforceUnavailable
from storage.db import read_snapshot
from storage.models import PartnerStage
from storage.reporting_scope import Scope, ScopeKind, ScopeRefused, scope_for  # noqa: F401  (surfaces import them)
from workflows.money import TENTH, Money, Split
from workflows.nudge_managers import stuck_rules
from workflows.periods import Period, PeriodKind
from workflows.program import RoutingRules
from workflows.report_figures import (
    EXPANSION_DAYS,
    DirectSummary,
    Figures,
    Funnel,
    GroupBy,
    Headline,
    LandingZone,
    LeadToClose,
    PartnerPipeline,
    PipelineFigures,
    StageCount,
    UsageGrowth,
    WeekPoint,
    WonFigures,
)
from workflows.services import NotAllowed, Services

TOP_PARTNERS = 5
CHART_WEEKS = 12  # the digest's chart: new pipeline per week


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
