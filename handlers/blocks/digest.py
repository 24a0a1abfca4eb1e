"""Block Kit for the weekly digest: a headline, short sections a phone reads without scrolling sideways, and what
needs action with buttons. The same lines print in a terminal (`partnerbot digest preview`).

Lines are plain text here and escaped when rendered as mrkdwn (partner names are user text). A section whose
capability has nothing to show is left out, not shown as zeros. Whatever the data, the message stays within
Slack's limits: at most a few lines per section (the rest counted: "and 12 more"), names clipped, each section's
text within SECTION_LIMIT characters, and fewer than 50 blocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
)

from handlers.blocks.messages import Message
from handlers.blocks.nudges import nudge_block_id
from handlers.blocks.text import SECTION_LIMIT, clip, escape, section, whole_lines
from handlers.ids import Action
from storage.nudges.models import Nudge
from workflows.digest import DigestContent
from workflows.money import Money
from workflows.nudges import plural
from workflows.report_figures import Figures

SHORT, FULL = 3, 20  # rows per ranked section: in the digest, in the Full report
NAME_CHARS = 60


@dataclass(frozen=True)
class Section:
    title: str
    lines: tuple[str, ...]


def amount(value: Decimal, currency: str) -> str:
    """Whole units, grouped: `120,000 USD`."""
    return f"{value:,.0f} {currency}"


def signed(value: Decimal | int, unit: str = "") -> str:
    if value == 0:
        return "±0" + unit
    text = f"{abs(value):,.0f}" if isinstance(value, Decimal) else f"{abs(value):,}"
    return ("+" if value > 0 else "−") + text + unit


def _money(money: Money, currency: str) -> str:
    """`12,000 USD (3)`: the value and how many deals."""
    text = f"{amount(money.value, currency)} ({money.count})"
    if money.unconverted:
        text += f" (not counting {', '.join(money.unconverted)}: no exchange rate)"
    return text


def _rate(rate: Decimal | None) -> str:
    return "—" if rate is None else f"{rate:.0f}%"


def _rate_change(now: Decimal | None, before: Decimal | None) -> str:
    if now is None or before is None:
        return ""
    return f" ({signed(Decimal(now - before).quantize(Decimal(1)), ' pts')})"


def _name(text: str) -> str:
    return clip(text, NAME_CHARS)


def _ranked(lines: list[str], total: int, limit: int, what: str) -> tuple[str, ...]:
    shown = lines[:limit]
    rest = total - len(shown)
    return tuple(shown) + ((f"and {rest} more {what}",) if rest > 0 else ())


def not_connected(figures: Figures) -> str:
    """Why there is no direct figure: Salesforce is not connected, or could not be read this time."""
    return figures.direct_unavailable or "not connected (Salesforce)"


def headline(content: DigestContent) -> tuple[str, ...]:
    """This week against last: partner-sourced new pipeline, won, and the partner vs direct win rate."""
    this, before, base = content.figures, content.before, content.figures.base_currency
    sourced, sourced_before = this.pipeline.new.sourced, before.new.sourced
    won, won_before = this.won.won.total, before.won.won.total
    rate = f"Win rate: partner {_rate(this.won.win_rate)}{_rate_change(this.won.win_rate, before.won.win_rate)}"
    if this.direct is not None:
        direct_before = before.direct.win_rate if before.direct is not None else None
        rate += f" · direct {_rate(this.direct.win_rate)}{_rate_change(this.direct.win_rate, direct_before)}"
    else:
        rate += f" · direct {not_connected(this)}"
    return (
        f"Partner-sourced new pipeline: {amount(sourced.value, base)} "
        f"({signed(sourced.value - sourced_before.value)} vs last week)",
        f"Won: {plural(won.count, 'deal')} for {amount(won.value, base)} "
        f"({signed(won.count - won_before.count)} deals, {signed(won.value - won_before.value)} {base})",
        rate,
    )


def sections(content: DigestContent, *, limit: int = SHORT) -> list[Section]:
    """The digest's sections after the headline, each a few lines; those with nothing to show are left out."""
    f, base = content.figures, content.figures.base_currency
    direct = f.direct
    found = [Section("Pipeline (value and deals)", (
        f"New: {_money(f.pipeline.new.sourced, base)} sourced, {_money(f.pipeline.new.influenced, base)} influenced",
        f"Direct new: {_money(direct.new_pipeline, base)}" if direct else f"Direct: {not_connected(f)}",
        f"Open now: {_money(f.pipeline.open_now.sourced, base)} sourced, "
        f"{_money(f.pipeline.open_now.influenced, base)} influenced"
        + (f", {_money(direct.open_now, base)} direct" if direct else ""),
    ))]
    won = f.won
    days = "—" if won.average_days_to_close is None else f"{won.average_days_to_close:.0f}"
    size = "—" if won.average_deal_size is None else amount(won.average_deal_size, base)
    lines = [f"Partner: {_money(won.won.total, base)} won, {won.lost} lost: win rate {_rate(won.win_rate)}"]
    if direct:
        lines.append(f"Direct: {_money(direct.won, base)} won, {direct.lost} lost: win rate {_rate(direct.win_rate)}")
        direct_days = "—" if direct.average_days_to_close is None else f"{direct.average_days_to_close:.0f}"
        direct_size = "—" if direct.won.average is None else amount(direct.won.average, base)
        lines.append(f"Days to close: partner {days} · direct {direct_days}")
        lines.append(f"Deal size: partner {size} · direct {direct_size}")
    else:
        lines += [f"Direct: {not_connected(f)}", f"Days to close: partner {days}", f"Deal size: partner {size}"]
    found.append(Section("Won and win rate", tuple(lines)))
    types = [t for t in content.by_type if t.submitted]
    if types:
        found.append(Section("Lead-to-close by partner type", _ranked(
            [f"{_name(t.label).capitalize()}: {_rate(t.ratio)} ({t.won} won of {t.decided} decided, {t.open} open)"
             for t in types], len(types), limit, "types")))
    zones = [z for z in f.landing_zones if z.landed]
    if zones:
        found.append(Section("Landing zones", _ranked(
            [f"{_name(z.product_line)}: {z.landed} landed, {_rate(z.share)} expanded within 6 months"
             + ("" if z.median_days_to_expand is None else f" (median {z.median_days_to_expand:.0f} days)")
             for z in zones], len(zones), limit, "product lines")))
    usage = f.usage_growth
    if usage.deals:
        growth = "" if usage.growth_percent is None else f" ({signed(usage.growth_percent.quantize(Decimal(1)), '%')})"
        found.append(Section("Usage growth", (
            f"{usage.deals} usage-based deals: {amount(usage.starting.value, base)} → "
            f"{amount(usage.current.value, base)} a month{growth}, credited to partners",)))
    funnel = f.funnel
    stages = [f"{s.stage.value} {s.partners}" + (f" ({s.stuck} stuck)" if s.stuck else "")
              for s in funnel.stages if s.partners]
    if stages or funnel.registrations_pending or funnel.upsells_open.count:
        found.append(Section("Funnel", (
            ("Partners: " + " · ".join(stages)) if stages else "Partners: none yet",
            f"Registrations waiting for review: {funnel.registrations_pending}, "
            f"{funnel.registrations_past_sla} past the SLA",
            f"Upsells: {_money(funnel.upsells_open, base)} open · {funnel.upsells_won.count} won this week",
        )))
    top = [p for p in f.top_partners if p.current.value or p.current.count]
    if top:
        found.append(Section("Top partners by sourced pipeline", tuple(
            f"{n}. {_name(p.name)}: {amount(p.current.value, base)}" for n, p in enumerate(top[:max(limit, 5)], 1))))
    movers = [p for p in f.movers if p.change]
    if movers:
        found.append(Section("Movers", tuple(
            f"{_name(p.name)}: {signed(p.change)} {base} ({amount(p.previous.value, base)} → "
            f"{amount(p.current.value, base)})" for p in movers[:max(limit, 5)])))
    return found


def title(content: DigestContent) -> str:
    who = "the whole program" if content.reader.admin else "your partners"
    return f"Weekly partner digest, {content.figures.period.label}: {who}"


def _section_text(part: Section) -> str:
    return whole_lines([f"*{escape(part.title)}*", *(escape(line) for line in part.lines)], SECTION_LIMIT)


def digest_buttons(nudge: Nudge, content: DigestContent) -> list:
    """Review N pending and Full report; Nudge N stuck partners in a block of its own (the roll-up's press: once
    pressed, that block alone gives way to who pressed it). Values are the digest's id, checked on the click."""
    value = str(nudge.id)
    first = [ButtonElement(text="Full report", action_id=Action.digest_full_report.value, value=value)]
    if content.pending_reviews:
        first.insert(0, ButtonElement(text=f"Review {content.pending_reviews} pending",
                                      action_id=Action.digest_review.value, value=value, style="primary"))
    blocks = [ActionsBlock(block_id=f"digest:{nudge.id}", elements=first)]
    if content.stuck:
        blocks.append(ActionsBlock(block_id=nudge_block_id(nudge), elements=[ButtonElement(
            text=f"Nudge {plural(content.stuck, 'stuck partner')}", action_id=Action.nudge_them_all.value, value=value)]))
    return blocks


def fallback(content: DigestContent) -> str:
    f = content.figures
    return clip(f"{title(content)}. Partner-sourced new pipeline "
                f"{amount(f.pipeline.new.sourced.value, f.base_currency)}.", 300)


def build_digest(nudge: Nudge, content: DigestContent) -> Message:
    """The digest DM: title, headline, sections, buttons."""
    blocks = [HeaderBlock(text=clip(title(content), 150)),
              section("\n".join(escape(line) for line in headline(content)))]
    for part in sections(content):
        blocks += [DividerBlock(), section(_section_text(part))]
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=clip(
        f"{escape(content.figures.period.label)} in your time zone ({escape(content.reader.zone)}); amounts in "
        f"{content.figures.base_currency}. The chart follows.", 2000))]))
    blocks += digest_buttons(nudge, content)
    return Message(text=fallback(content), blocks=blocks[:50])


def build_full_report(content: DigestContent) -> Message:
    """Full report: every section with up to FULL rows (the rest counted), in the digest's thread."""
    blocks = [section(f"*Full report: {escape(title(content))}*\n"
                      + "\n".join(escape(line) for line in headline(content)))]
    blocks += [section(_section_text(part)) for part in sections(content, limit=FULL)]
    return Message(text=clip(f"Full report: {title(content)}", 300), blocks=blocks[:50])


def digest_as_text(content: DigestContent, *, full: bool = False) -> str:
    """The digest as a terminal shows it (`partnerbot digest preview`): the same lines, no markup."""
    out = [title(content), *headline(content)]
    for part in sections(content, limit=FULL if full else SHORT):
        out += ["", part.title, *(f"  {line}" for line in part.lines)]
    out += ["", f"Buttons: Review {content.pending_reviews} pending · Nudge {plural(content.stuck, 'stuck partner')}"
                " · Full report", f"Chart: {len(content.chart.weeks)} weeks of new pipeline, partner-sourced vs "
                + ("direct" if content.chart.direct_connected else "direct (not connected)")]
    return "\n".join(out)
