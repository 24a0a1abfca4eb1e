"""Lists and help: `/partner deals`, a deal's status, and what each kind of user can do."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    MarkdownTextObject,
    SectionBlock,
)

from handlers.blocks.messages import Message, partner_buttons
from handlers.ids import Action
from handlers.blocks.text import day, deal_summary, escape, lead_title, section, status_label
from handlers.blocks.upsell_handshake import upsell_row_text
from storage.actors import Actor
from storage.lists import PAGE_SIZE, UPSELL_ROWS, Cursor, Page
from workflows.people import MAX_SEARCH

STATUS_ROWS = 3  # deals a status answer shows; more are a search away
from storage.models import OPEN_STATUSES, Partner, Registration, RegistrationStatus, ReviewKind

# Two blocks a row, plus a header, the "Showing" line and the buttons: 43 of Slack's 50 blocks a message; the
# upsells beside them a block a row, a header and a count line.
assert PAGE_SIZE * 2 + 3 + UPSELL_ROWS + 2 <= 50


def _row(registration: Registration, partner: Partner, *, show_partner: bool) -> SectionBlock:
    return section(deal_row_text(registration, partner, show_partner=show_partner))


def deal_row_text(registration: Registration, partner: Partner, *, show_partner: bool) -> str:
    """A deal as a list row or a status answer: status, protection, who has it, and when it last changed."""
    who = f" · {escape(partner.name)}" if show_partner else ""
    status = registration.status
    line = status_label(status)
    if registration.review_kind == ReviewKind.conflict and status == RegistrationStatus.under_review:
        line += " · _conflict review_"
    if status == RegistrationStatus.approved:
        line += f" · protected until {day(registration.protection_expires_at)}"
    elif status == RegistrationStatus.expired:
        line += f" · protection ended {day(registration.protection_expires_at)}"
    if registration.assigned_to_slack_id and status != RegistrationStatus.received:
        role = "Partner team" if registration.review_kind == ReviewKind.conflict and status in OPEN_STATUSES else "AE"
        line += f" · {role} <@{registration.assigned_to_slack_id}>"
    return (f"{lead_title(registration)}{who}\n{deal_summary(registration)}\n{line}\n"
            f"Last update {day(registration.updated_at)} · registered {day(registration.created_at)}")


def showing(page: Page) -> str:
    """"Showing 21–40 of 1,234" (or "of more than 10,000" when counting stopped)."""
    first, last = page.position + 1, page.position + len(page.rows)
    of = f"more than {page.total:,}" if page.capped else f"{max(page.total, last):,}"
    return f"Showing {first:,}–{last:,} of {of}"


SEARCH_SEPARATOR = "|"  # a deals list's paging value: the cursor, then the search it keeps


def paging_value(cursor: Cursor, search: str = "") -> str:
    return f"{cursor.encode()}{SEARCH_SEPARATOR}{search}" if search else cursor.encode()


def parse_paging_value(value: object) -> tuple[Cursor | None, str]:
    """The cursor (None, the first page, for anything malformed) and the search a paging button keeps.

    Neither is trusted: the search is normalised again and runs inside the clicker's own permission filter."""
    if not isinstance(value, str):
        return None, ""
    cursor, _, search = value.partition(SEARCH_SEPARATOR)
    return Cursor.parse(cursor), search[:MAX_SEARCH]


def _paging(page: Page, search: str = "") -> list:
    """The Showing line and Previous / Next buttons where there is somewhere to go."""
    buttons = []
    if page.previous is not None:
        buttons.append(ButtonElement(text="Previous", action_id=Action.deals_newer.value,
                                     value=paging_value(page.previous, search)))
    if page.next is not None:
        buttons.append(ButtonElement(text="Next", action_id=Action.deals_older.value,
                                     value=paging_value(page.next, search)))
    blocks: list = [ContextBlock(elements=[MarkdownTextObject(text=showing(page))])]
    if buttons:
        blocks.append(ActionsBlock(elements=buttons))
    return blocks


def build_deals_list(page: Page, actor: Actor, search: str = "", upsells: Page | None = None) -> Message:
    """One page of what the caller may see of the registrations (matching `search`), newest first, with paging
    that keeps the search; then the newest of the upsells they may see, and how many there are."""
    search = search.strip()[:MAX_SEARCH]
    beside = _upsells(upsells, actor, search) if upsells is not None and upsells.rows else []
    if not page.rows:
        if search:
            text = f"No registrations you can see match “{escape(search)}”."
            return Message(text=text, blocks=[section(text), *beside])
        return Message(text="No registrations to show yet.", blocks=[SectionBlock(text=MarkdownTextObject(
            text="No registrations to show yet. Use *Register a lead* to add one.")), *beside])
    title = f"*Registrations you can see matching “{escape(search)}”*" if search else "*Registrations you can see*"
    blocks: list = [section(title)]
    for registration, partner in page.rows:
        buttons = partner_buttons(registration) if actor.is_partner else []
        # A row's buttons stand where its divider would: two blocks a row keep a page within Slack's 50.
        blocks += [_row(registration, partner, show_partner=actor.is_internal),
                   ActionsBlock(elements=buttons) if buttons else DividerBlock()]
    blocks += _paging(page, search) + beside
    return Message(text=showing(page) + " registrations", blocks=blocks)


def _upsells(upsells: Page, actor: Actor, search: str) -> list:
    """The newest upsells the caller may see, a block each, and how many there are in all."""
    title = f"*Upsells you can see matching “{escape(search)}”*" if search else "*Upsells you can see*"
    blocks: list = [section(title)]
    blocks += [section(upsell_row_text(upsell, account, partner, show_partner=actor.is_internal))
               for upsell, account, partner in upsells.rows]
    shown, total = len(upsells.rows), upsells.total
    if upsells.capped or total > shown:
        of = f"more than {total:,}" if upsells.capped else f"{total:,}"
        line = f"The newest {shown} of {of} upsells; each is followed in its own thread."
    else:
        line = f"All {shown} upsell{'s' if shown != 1 else ''}; each is followed in its own thread."
    return blocks + [ContextBlock(elements=[MarkdownTextObject(text=line)])]


def build_deal_status(page: Page, actor: Actor, search: str) -> Message:
    """The answer to “status of Acme?”: the matching deals this asker may see, or that there are none."""
    if not page.rows:
        text = f"I can't find a registration you can see matching “{escape(search[:MAX_SEARCH])}”."
        return Message(text=text, blocks=[section(text)])
    shown_rows = page.rows[:STATUS_ROWS]
    blocks: list = [section(deal_row_text(r, p, show_partner=actor.is_internal)) for r, p in shown_rows]
    if page.total > len(shown_rows):
        blocks.append(ContextBlock(elements=[MarkdownTextObject(
            text=f"{page.total - len(shown_rows)} more match: `/partner deals {escape(search[:MAX_SEARCH])}` or "
                 "*My deals* lists them.")]))
    first = shown_rows[0][0]
    return Message(text=f"{first.reference} {escape(first.company)}: {first.status.replace('_', ' ')}", blocks=blocks)


def build_help(actor: Actor) -> Message:
    """What this caller can do, by who they are."""
    lines = ["*Partnerbot* helps partners and our team register and follow partner leads."]
    if actor.is_partner:
        lines += ["• *Register a lead*: use the button on the partner desk in your shared channel, mention me "
                  "with “lead”, or run `/lead company-or-domain` if your workspace has the app.",
                  "• *See your deals*: the *My deals* button, or `/partner deals [company or domain]` (your "
                  "upsells too); ask me “status of Acme?” for one deal.",
                  "• *Flag an upsell*: a shared customer ready to buy more? Use the button on the partner desk; "
                  "its account executive answers in a thread in your channel.",
                  "• *Edit* a registration until it is decided, *Add an update* or *Withdraw* it: the buttons on "
                  "its message or My deals.",
                  "• *The partner desk* scrolled away? Mention me with “desk”.",
                  "• *Your scorecard*: the *My scorecard* button on the partner desk, or `/partner report [month|"
                  "quarter|2026-Q3]`: your registrations, approvals, wins, lead-to-close against your partner "
                  "type's average, and protections ending soon."]
    elif actor.is_internal:
        lines += ["• `/lead [company or domain]`: register a lead on a partner's behalf.",
                  "• `/upsell [account]`: flag an upsell for a partner; in a partner's channel, ask it in.",
                  "• `/partner deals [company or domain]`: registrations and upsells you can see.",
                  "• `/partner desk` in a partner's channel: post its partner desk again.",
                  "• `/partner show Northwind`: a partner's card (stage, deals, lead-to-close ratio, history).",
                  "• `/partner report [week|month|quarter|2026-Q3] [partner|type|tier]`: pipeline, wins, "
                  "lead-to-close, landing zones, funnel and movers for what you may see (default: last month).",
                  "• Accept or reject leads routed to you from the message I send you; your App Home lists them, "
                  "and the upsells waiting for your answer."]
        if actor.runs_program:
            lines.append("• You review channel conflicts and see every registration.")
            lines.append("• `/partner usage REG-00042 2026-10 15000`: record a month of revenue on a usage-based deal.")
            lines.append("• `/partner stage Northwind producing [why]`: move a partner to a lifecycle stage.")
    else:
        lines.append("I don't know you yet: ask your partner manager to add you to the partner program.")
    return Message(text="What Partnerbot can do for you", blocks=[section("\n".join(lines))])
