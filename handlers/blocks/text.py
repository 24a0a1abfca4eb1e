"""Small text helpers shared by the Block Kit builders."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from slack_sdk.models.blocks import MarkdownTextObject, SectionBlock

from storage.models import Registration, RegistrationStatus
from workflows.amounts import shown
from workflows.countries import country_name

STATUS_LABELS = {
    RegistrationStatus.received: "Received",
    RegistrationStatus.under_review: "Under review",
    RegistrationStatus.approved: "Approved",
    RegistrationStatus.rejected: "Rejected",
    RegistrationStatus.expired: "Expired",
    RegistrationStatus.won: "Won",
    RegistrationStatus.lost: "Lost",
    RegistrationStatus.withdrawn: "Withdrawn",
}
STATUS_EMOJI = {
    RegistrationStatus.received: ":inbox_tray:",
    RegistrationStatus.under_review: ":hourglass_flowing_sand:",
    RegistrationStatus.approved: ":white_check_mark:",
    RegistrationStatus.rejected: ":no_entry_sign:",
    RegistrationStatus.expired: ":calendar:",
    RegistrationStatus.won: ":trophy:",
    RegistrationStatus.lost: ":heavy_minus_sign:",
    RegistrationStatus.withdrawn: ":leftwards_arrow_with_hook:",
}


def escape(text: str | None) -> str:
    """Escape user text for mrkdwn so `<!channel>` or `<@U123>` typed by a user stays plain text."""
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def money(value: Decimal | None, currency: str) -> str:
    """`48,000 EUR`, `1,250.50 EUR`: never rounded, so a mistyped amount shows as typed."""
    return "—" if value is None else f"{shown(value)} {currency}"


def day(when: datetime | None) -> str:
    return "—" if when is None else f"{when:%-d %b %Y}"


def status_label(status: RegistrationStatus) -> str:
    return f"{STATUS_EMOJI[status]} {STATUS_LABELS[status]}"


def lead_title(registration: Registration) -> str:
    """`REG-00001 · Acme (acme.com)`, escaped."""
    domain = f" ({escape(registration.domain)})" if registration.domain else ""
    return f"{registration.reference} · *{escape(registration.company)}*{domain}"


def deal_summary(registration: Registration) -> str:
    pricing = registration.pricing_model.replace("_", "-")
    usage = ""
    if registration.starting_monthly_usage is not None:
        usage = f", starting at {money(registration.starting_monthly_usage, registration.currency)}/month"
    country = registration.country
    place = f"{country_name(country)} ({registration.region})" if country and registration.region \
        else country_name(country) if country else registration.region
    return (f"{escape(registration.product_line)} · {money(registration.estimated_value, registration.currency)}"
            f" · {pricing}{usage} · {escape(place)}")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


SECTION_LIMIT = 3000


def whole_lines(lines: list[str], limit: int) -> str:
    """Lines of mrkdwn joined, as many whole ones as fit in `limit` (an escape like `&amp;` or a `*bold*` pair is
    never cut in half), then how many were left out."""
    kept, size = [], 0
    for n, line in enumerate(lines):
        rest = len(lines) - n
        tail = len(f"\n… and {rest} more lines")
        if size + len(line) + 1 + (tail if rest > 1 else 0) > limit:
            return "\n".join(kept + [f"… and {rest} more lines"])
        kept.append(line)
        size += len(line) + 1
    return "\n".join(kept)


def quoted(text: str | None, limit: int) -> str:
    """User free text as a mrkdwn quote, every line of it, so no line can pass for one of the bot's own."""
    lines = escape(text).splitlines() or [""]  # splitlines: any break a client may render gets its `>`
    return clip("\n".join(">" + line for line in lines), limit)


def section(text: str) -> SectionBlock:
    """A mrkdwn section, cut to Slack's 3,000 characters: escaped user text can grow up to five-fold."""
    return SectionBlock(text=MarkdownTextObject(text=clip(text, SECTION_LIMIT)))
