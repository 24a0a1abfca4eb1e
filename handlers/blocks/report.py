"""Block Kit for `/partner report` and a partner's scorecard on demand (both private answers).

The report's sections are built from the figures alone (workflows/reporting.py Figures and lead-to-close groups), as
plain lines escaped when rendered (partner names are user text). A section with nothing to show is left out, not
shown as zeros; ranked lists show at most RANKED rows and count the rest, each section stays within Slack's 3,000
characters, and the message within 50 blocks, whatever the data. Section, amounts and the "not connected" wording
are the weekly digest's (handlers/blocks/digest.py); the digest's `sections()` itself is not used because it takes
a DigestContent (a reader, last week's figures, a chart) and speaks of "this week", where a report is any period.
"""

from __future__ import annotations

from slack_sdk.models.blocks import ContextBlock, DividerBlock, HeaderBlock, MarkdownTextObject

from handlers.blocks.digest import Section, amount, not_connected, signed
from handlers.blocks.messages import Message
from handlers.blocks.nudges import nudge_text
from handlers.blocks.text import clip, escape, section
from workflows.money import Money
from workflows.partner_report import PartnerReport
from workflows.report_figures import Figures, LeadToClose
from workflows.scorecard import EXPIRY_DAYS, Scorecard, scorecard_content

RANKED = 10
NAME_CHARS = 60


def _money(money: Money, currency: str) -> str:
    """`12,000 USD (3 deals)`."""
    text = f"{amount(money.value, currency)} ({money.count} deal{'' if money.count == 1 else 's'})"
    return text + (f", not counting {', '.join(money.unconverted)} (no exchange rate)" if money.unconverted else "")


def _rate(rate) -> str:
    """One decimal, as the figures have it (the digest rounds to whole percents for a phone)."""
    return "—" if rate is None else f"{rate}%"


def _ratio(group: LeadToClose) -> str:
    return f"{_rate(group.ratio)} ({group.won} won of {group.decided} decided, {group.open} open)"


def _ranked(lines: list[str], what: str) -> tuple[str, ...]:
    rest = len(lines) - RANKED
    return tuple(lines[:RANKED]) + ((f"and {rest} more {what}",) if rest > 0 else ())


def report_sections(report: PartnerReport) -> list[Section]:
    """The report's sections in reading order; those with nothing to show are left out."""
    f = report.figures
    base, won, direct = f.base_currency, f.won, f.direct
    found = [Section("Pipeline", (
        f"New: {_money(f.pipeline.new.sourced, base)} sourced, {_money(f.pipeline.new.influenced, base)} influenced",
        f"Open now: {_money(f.pipeline.open_now.sourced, base)} sourced, "
        f"{_money(f.pipeline.open_now.influenced, base)} influenced",
        f"Direct: new {_money(direct.new_pipeline, base)}, open {_money(direct.open_now, base)}" if direct
        else f"Direct: {not_connected(f)}"))]
    days = "—" if won.average_days_to_close is None else f"{won.average_days_to_close} days"
    size = "—" if won.average_deal_size is None else amount(won.average_deal_size, base)
    lines = [f"Partner: {_money(won.won.total, base)} won ({_money(won.won.sourced, base)} sourced), {won.lost} "
             f"lost: win rate {_rate(won.win_rate)}", f"Average days to close {days}, deal size {size}"]
    lines.append(f"Direct: {_money(direct.won, base)} won, {direct.lost} lost: win rate {_rate(direct.win_rate)}"
                 if direct else f"Direct: {not_connected(f)}")
    found.append(Section("Won and win rate", tuple(lines)))
    ratio = [f"All: {_ratio(f.lead_to_close)}, {f.lead_to_close.submitted} submitted"]
    ratio += [f"{clip(g.label, NAME_CHARS).capitalize()}: {_ratio(g)}" for g in report.by_type if g.submitted]
    found.append(Section("Lead-to-close", tuple(ratio)))
    partners = [f"{clip(g.label, NAME_CHARS)}: {_ratio(g)}" for g in report.by_partner if g.submitted]
    if partners:
        found.append(Section("Lead-to-close by partner", _ranked(partners, "partners")))
    zones = [z for z in f.landing_zones if z.landed]
    if zones:
        found.append(Section("Landing zones (expanded within 6 months)", _ranked([
            f"{clip(z.product_line, NAME_CHARS)}: {z.landed} landed, {_rate(z.share)} of {z.eligible} expanded"
            + ("" if z.median_days_to_expand is None else f", median {z.median_days_to_expand} days")
            for z in zones], "product lines")))
    usage = f.usage_growth
    if usage.deals:
        growth = "" if usage.growth_percent is None else f" ({usage.growth_percent:+}%)"
        found.append(Section("Usage-based growth", (
            f"{usage.deals} deals: {amount(usage.starting.value, base)} → {amount(usage.current.value, base)} "
            f"a month{growth}, credited to partners",)))
    funnel = f.funnel
    stages = " · ".join(f"{s.stage.value} {s.partners}" + (f" ({s.stuck} stuck)" if s.stuck else "")
                        for s in funnel.stages if s.partners)
    found.append(Section("Funnel", (
        f"Partners: {stages or 'none'}",
        f"Registrations waiting for review: {funnel.registrations_pending}, {funnel.registrations_past_sla} past "
        "the SLA",
        f"Upsells: {_money(funnel.upsells_open, base)} open, {funnel.upsells_won.count} won in the period")))
    if f.top_partners:
        found.append(Section("Top partners by new sourced pipeline", tuple(
            f"{n}. {clip(p.name, NAME_CHARS)}: {amount(p.current.value, base)}"
            for n, p in enumerate(f.top_partners, 1))))
    if f.movers:
        found.append(Section("Movers against the period before", tuple(
            f"{clip(p.name, NAME_CHARS)}: {signed(p.change)} {base} ({amount(p.previous.value, base)} → "
            f"{amount(p.current.value, base)})" for p in f.movers)))
    return found


def _section_text(part: Section) -> str:
    return f"*{escape(part.title)}*\n" + "\n".join(escape(line) for line in part.lines)


def report_title(figures: Figures) -> str:
    return f"Partner report {figures.period.label}: {figures.scope.label}"


def build_report(report: PartnerReport) -> Message:
    """`/partner report` for our own team: a header, the sections, and what the period covers."""
    f = report.figures
    blocks: list = [HeaderBlock(text=clip(report_title(f), 150))]
    for part in report_sections(report):
        blocks += [section(_section_text(part)), DividerBlock()]
    blocks[-1] = ContextBlock(elements=[MarkdownTextObject(text=clip(
        f"{f.period.first_day:%-d %b %Y} to {f.period.last_day:%-d %b %Y} ({escape(f.period.zone)}); amounts in "
        f"{f.base_currency}. Only what you may see is counted.", 2000))])
    return Message(text=clip(escape(report_title(f)), 300), blocks=blocks[:50])


def build_scorecard(card: Scorecard) -> Message:
    """A partner's scorecard, privately: the monthly message's text, without its buttons."""
    content = scorecard_content(card)
    note = (f"{card.period.first_day:%-d %b %Y} to {card.period.last_day:%-d %b %Y}; protection dates are the next "
            f"{EXPIRY_DAYS} days from today. Only your own figures are counted.")
    return Message(text=clip(escape(content.title), 300), blocks=[
        section(nudge_text(content)), ContextBlock(elements=[MarkdownTextObject(text=note)])])
