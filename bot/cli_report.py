"""`partnerbot report`: the figures of issue 11 (workflows/reporting.py) for a period and scope, as a table (rich),
CSV or JSON, for spreadsheets and scripts.

The columns are stable (REPORT_COLUMNS, GROUP_COLUMNS): a figure is one row (section, item, measure, value, unit),
so a new figure adds rows, never columns. With `--by`, one row per group of the lead-to-close ratio instead.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from storage.models import PartnerTier, PartnerType
from workflows.money import Money
from workflows.periods import Period, PeriodError
from workflows.report_figures import Figures, GroupBy, LeadToClose
from workflows.reporting import Scope, ScopeKind, direct_for

REPORT_COLUMNS = ("period", "start", "end", "scope", "section", "item", "measure", "value", "unit")
GROUP_COLUMNS = ("period", "start", "end", "scope", "by", "key", "label", "submitted", "won", "decided", "open",
                 "lead_to_close_percent")
Row = tuple[str, str, str, object, str]  # section, item, measure, value, unit


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _money(section: str, item: str, money: Money, base: str) -> list[Row]:
    rows: list[Row] = [(section, item, "count", money.count, "deals"), (section, item, "value", money.value, base)]
    if money.unconverted:
        rows.append((section, item, "not valued", f"{money.unconverted_count} in {' '.join(money.unconverted)}",
                     "no exchange rate"))
    return rows


def _direct(figures: Figures) -> list[Row]:
    base, direct = figures.base_currency, figures.direct
    if direct is None:
        return [("direct", "all", "status", figures.direct_unavailable or "not connected", "")]
    return [*_money("direct", "new", direct.new_pipeline, base), *_money("direct", "open now", direct.open_now, base),
            *_money("direct", "won", direct.won, base), ("direct", "all", "lost", direct.lost, "deals"),
            ("direct", "all", "win rate", direct.win_rate, "%"),
            ("direct", "all", "average days to close", direct.average_days_to_close, "days")]


def report_rows(figures: Figures) -> list[Row]:
    """Every figure as (section, item, measure, value, unit) rows, in the order a reader goes through them."""
    base, pipeline, won = figures.base_currency, figures.pipeline, figures.won
    rows: list[Row] = []
    for item, split in (("new", pipeline.new), ("open now", pipeline.open_now)):
        for kind, money in (("sourced", split.sourced), ("influenced", split.influenced), ("total", split.total)):
            rows += _money("pipeline", f"{item} {kind}", money, base)
    for kind, money in (("sourced", won.won.sourced), ("influenced", won.won.influenced), ("total", won.won.total)):
        rows += _money("won", kind, money, base)
    rows += [("won", "all", "lost", won.lost, "deals"), ("won", "all", "win rate", won.win_rate, "%"),
             ("won", "all", "average days to close", won.average_days_to_close, "days"),
             ("won", "all", "average deal size", won.average_deal_size, base)]
    rows += _direct(figures)
    ratio = figures.lead_to_close
    rows += [("lead to close", "all", measure, value, unit) for measure, value, unit in (
        ("submitted", ratio.submitted, "registrations"), ("won", ratio.won, "registrations"),
        ("decided", ratio.decided, "registrations"), ("open", ratio.open, "registrations"),
        ("ratio", ratio.ratio, "%"))]
    for zone in figures.landing_zones:
        rows += [("landing zones", zone.product_line, measure, value, unit) for measure, value, unit in (
            ("landed", zone.landed, "accounts"), ("eligible", zone.eligible, "accounts"),
            ("expanded", zone.expanded, "accounts"), ("share expanded", zone.share, "%"),
            ("median days to expand", zone.median_days_to_expand, "days"))]
    usage = figures.usage_growth
    rows += [("usage growth", "all", "deals", usage.deals, "deals"),
             ("usage growth", "all", "with history", usage.with_history, "deals"),
             ("usage growth", "all", "starting monthly", usage.starting.value, base),
             ("usage growth", "all", "current monthly", usage.current.value, base),
             ("usage growth", "all", "growth", usage.growth, base),
             ("usage growth", "all", "growth percent", usage.growth_percent, "%")]
    funnel = figures.funnel
    for stage in funnel.stages:
        rows += [("funnel", str(stage.stage), "partners", stage.partners, "partners"),
                 ("funnel", str(stage.stage), "stuck", stage.stuck, "partners")]
    rows += [("funnel", "registrations", "pending", funnel.registrations_pending, "registrations"),
             ("funnel", "registrations", "past approval SLA", funnel.registrations_past_sla, "registrations"),
             *_money("funnel", "upsells open", funnel.upsells_open, base),
             *_money("funnel", "upsells won", funnel.upsells_won, base)]
    for partner in figures.top_partners:
        rows += [("top partners", partner.name, "new sourced", partner.current.value, base)]
    for partner in figures.movers:
        rows += [("movers", partner.name, "new sourced", partner.current.value, base),
                 ("movers", partner.name, "previous period", partner.previous.value, base),
                 ("movers", partner.name, "change", partner.change, base)]
    return rows


def _plain(value: object) -> object:
    """A cell as CSV writes it: no value is an empty cell."""
    return "" if value is None else value


def _number(value: object) -> object:
    """A value as JSON has it: Decimals as numbers."""
    return float(value) if isinstance(value, Decimal) else value


def _stamp(period: Period) -> tuple[str, str, str]:
    return period.label, period.start.isoformat(), period.end.isoformat()


def render_figures(figures: Figures, output: Format) -> str:
    """The whole report as CSV or JSON text (REPORT_COLUMNS)."""
    head = (*_stamp(figures.period), figures.scope.label)
    rows = [(*head, *row) for row in report_rows(figures)]
    if output is Format.json:
        return json.dumps({"columns": list(REPORT_COLUMNS), "base_currency": figures.base_currency,
                           "computed_at": figures.computed_at.isoformat(),
                           "rows": [dict(zip(REPORT_COLUMNS, map(_number, row))) for row in rows]}, indent=2) + "\n"
    return _csv(REPORT_COLUMNS, rows)


def render_groups(period: Period, scope: Scope, by: GroupBy, groups: list[LeadToClose], output: Format) -> str:
    """Lead-to-close per group as CSV or JSON text (GROUP_COLUMNS)."""
    rows = [(*_stamp(period), scope.label, by.value, g.key, g.label, g.submitted, g.won, g.decided, g.open, g.ratio)
            for g in groups]
    if output is Format.json:
        return json.dumps({"columns": list(GROUP_COLUMNS),
                           "rows": [dict(zip(GROUP_COLUMNS, map(_number, row))) for row in rows]}, indent=2) + "\n"
    return _csv(GROUP_COLUMNS, rows)


def _csv(columns: tuple[str, ...], rows: list[tuple]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([[_plain(cell) for cell in row] for row in rows])
    return buffer.getvalue()


def _shown(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, Decimal):
        return f"{value:,}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def figures_table(figures: Figures) -> Table:
    period = figures.period
    table = Table(title=f"Partner report: {period.label} ({period.first_day:%Y-%m-%d} to {period.last_day:%Y-%m-%d}), "
                        f"{escape(figures.scope.label)}, in {figures.base_currency}")
    for column, justify in (("Section", "left"), ("Item", "left"), ("Measure", "left"), ("Value", "right"),
                            ("Unit", "left")):
        table.add_column(column, justify=justify)
    previous = None
    for section, item, measure, value, unit in report_rows(figures):
        # Partner names and product lines are people's text: never read as rich markup.
        table.add_row(section if section != previous else "", escape(item), measure, escape(_shown(value)), unit)
        previous = section
    return table


def groups_table(period: Period, scope: Scope, by: GroupBy, groups: list[LeadToClose]) -> Table:
    table = Table(title=f"Lead to close by {by.value}: registrations submitted in {period.label}, "
                        f"{escape(scope.label)}")
    for column in ("Group", "Submitted", "Won", "Decided", "Open", "Won / decided"):
        table.add_column(column, justify="left" if column == "Group" else "right")
    for group in groups:
        table.add_row(escape(group.label), *(_shown(v) for v in (group.submitted, group.won, group.decided, group.open)),
                      "—" if group.ratio is None else f"{group.ratio}%")
    if not groups:
        table.caption = "No registration was submitted in this period."
    return table


def _fail(message: str) -> typer.Exit:
    Console(stderr=True, soft_wrap=True).print(message, markup=False, highlight=False)
    return typer.Exit(2)


def _enum_value(enum: type[StrEnum], text: str | None, option: str):
    if text is None:
        return None
    try:
        return enum(text.strip().lower())
    except ValueError:
        raise _fail(f"{option} {text}: not one of {', '.join(e.value for e in enum)}.") from None


def requested_scope(partner_id: int | None, partner_name: str | None, partner_type: PartnerType | None,
                    tier: PartnerTier | None, manager: str | None) -> Scope:
    """The CLI's filters as one Scope (every one given narrows the others); its kind is the narrowest given."""
    kind = (ScopeKind.partner if partner_id is not None else ScopeKind.manager if manager
            else ScopeKind.type if partner_type else ScopeKind.tier if tier else ScopeKind.all)
    parts = [part for part in (partner_name, partner_type and f"{partner_type} partners",
                               tier and f"{tier} tier", manager and f"managed by {manager}") if part]
    return Scope(kind, manager_slack_id=manager, partner_id=partner_id, partner_type=partner_type,
                 partner_tier=tier, label=", ".join(parts) or "all partners")


def report(
    period: str = typer.Option("week", help="week, month, quarter (the last full one), YYYY-Qn, YYYY-MM, YYYY-Www "
                                            "or YYYY-MM-DD..YYYY-MM-DD."),
    by: GroupBy | None = typer.Option(None, help="Instead of every figure: the lead-to-close ratio per partner, type, "
                                                 "tier, landing-zone (the registrations' product line) or manager."),
    output_format: Format = typer.Option(Format.table, "--format", help="table (for reading), csv or json."),
    output: Path | None = typer.Option(None, help="Write the CSV or JSON to this file instead of printing it."),
    partner: str | None = typer.Option(None, help="Only this partner (its name)."),
    partner_type: str | None = typer.Option(None, "--type", help="Only partners of this type."),
    tier: str | None = typer.Option(None, help="Only partners of this tier."),
    manager: str | None = typer.Option(None, help="Only the partners this partner manager (Slack id) manages."),
    tz: str | None = typer.Option(None, help="The time zone whose midnights bound the period (default: the program "
                                             "file's nudges.default_time_zone)."),
    top: int = typer.Option(5, min=1, max=100, help="How many top partners and movers."),
) -> None:
    """The partner figures (pipeline, won and win rate, lead to close, landing zones, usage growth, funnel, top
    partners and movers) for a period, for the whole program or some partners; values in the routing base
    currency. Direct figures come from Salesforce when it is configured (else: not connected)."""
    from bot.cli import program_or_exit, settings_or_exit
    from bot.runtime import open_database
    from handlers.notify import SlackNotifier
    from bot.app import direct_reader
    from storage.reporting import partner_by_name
    from workflows.reporting import compute_figures, lead_to_close_by
    from workflows.services import Services, utc_clock

    chosen_type = _enum_value(PartnerType, partner_type, "--type")
    chosen_tier = _enum_value(PartnerTier, tier, "--tier")
    if output is not None and output_format is Format.table:
        raise _fail("--output writes CSV or JSON: add --format csv or --format json.")
    settings = settings_or_exit()
    program = program_or_exit(settings.program_file)
    now = utc_clock()
    try:
        chosen = Period.parse(period, now, tz or program.nudges.default_time_zone)
    except PeriodError as error:
        raise _fail(f"--period: {error}") from None
    engine = open_database(settings)
    services = Services(engine=engine, program=program, notifier=SlackNotifier(program, utc_clock), clock=utc_clock,
                        read_direct=direct_reader(settings))
    partner_id = None
    if partner is not None:
        from sqlmodel import Session

        with Session(engine) as session:
            found = partner_by_name(session, partner)
        if found is None:
            raise _fail(f"--partner {partner}: no partner has that name (names are matched whole, in any case).")
        partner_id, partner = found.id, found.name
    scope = requested_scope(partner_id, partner, chosen_type, chosen_tier, manager)
    _emit(output_format, output, *_content(services, chosen, scope, by, top, compute_figures, lead_to_close_by))


def _content(services, period: Period, scope: Scope, by: GroupBy | None, top: int, compute: Callable,
             grouped: Callable) -> tuple[Callable[[Format], str], Callable[[], Table]]:
    """(text in a format, the table) of the report asked for."""
    if by is None:
        direct, direct_error = direct_for(services, period)
        figures = compute(services, period, scope, top=top, direct=direct, direct_error=direct_error)
        return (lambda f: render_figures(figures, f)), (lambda: figures_table(figures))
    groups = grouped(services, period, scope, by)
    return (lambda f: render_groups(period, scope, by, groups, f)), (lambda: groups_table(period, scope, by, groups))


def _emit(output_format: Format, output: Path | None, text: Callable[[Format], str], table: Callable[[], Table]):
    if output_format is Format.table:
        Console(soft_wrap=True).print(table())
        return
    content = text(output_format)
    if output is None:
        typer.echo(content, nl=False)
        return
    try:
        output.write_text(content, encoding="utf-8")
    except OSError as error:
        raise _fail(f"--output {output}: can't write it ({error.strerror or error.__class__.__name__}).") from None
    typer.echo(f"Wrote {output} ({output_format.value}).")
