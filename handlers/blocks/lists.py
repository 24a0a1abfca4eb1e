"""Lists and help: `/partner deals`, the App Home, and what each kind of user can do."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from handlers.blocks.messages import Message
from handlers.ids import Action
from handlers.blocks.text import day, deal_summary, escape, lead_title, section, status_label
from storage.actors import Actor
from storage.lists import PAGE_SIZE, Page
from storage.models import Partner, Registration, ReviewKind

# Two blocks a row, plus a header, the "Showing" line and the buttons: 43 of Slack's 50 blocks a message.
assert PAGE_SIZE * 2 + 3 <= 50


def _row(registration: Registration, partner: Partner, *, show_partner: bool) -> SectionBlock:
    who = f" · {escape(partner.name)}" if show_partner else ""
    waiting = ""
    if registration.review_kind == ReviewKind.conflict and registration.status.value == "under_review":
        waiting = " · _conflict review_"
    return section((
        f"{lead_title(registration)}{who}\n{deal_summary(registration)}\n"
        f"{status_label(registration.status)}{waiting} · registered {day(registration.created_at)}"))


def showing(page: Page) -> str:
    """"Showing 21–40 of 1,234" (or "of more than 10,000" when counting stopped)."""
    first, last = page.position + 1, page.position + len(page.rows)
    of = f"more than {page.total:,}" if page.capped else f"{max(page.total, last):,}"
    return f"Showing {first:,}–{last:,} of {of}"


def _paging(page: Page, newer: Action, older: Action) -> list:
    """The Showing line and Previous / Next buttons where there is somewhere to go."""
    buttons = []
    if page.previous is not None:
        buttons.append(ButtonElement(text="Previous", action_id=newer.value, value=page.previous.encode()))
    if page.next is not None:
        buttons.append(ButtonElement(text="Next", action_id=older.value, value=page.next.encode()))
    blocks: list = [ContextBlock(elements=[MarkdownTextObject(text=showing(page))])]
    if buttons:
        blocks.append(ActionsBlock(elements=buttons))
    return blocks


def build_deals_list(page: Page, actor: Actor) -> Message:
    """One page of what the caller may see of the registrations, newest first, with paging."""
    if not page.rows:
        return Message(text="No registrations to show yet.", blocks=[SectionBlock(text=MarkdownTextObject(
            text="No registrations to show yet. Use *Register a lead* to add one."))])
    blocks: list = [section("*Registrations you can see*")]
    for registration, partner in page.rows:
        blocks += [_row(registration, partner, show_partner=actor.is_internal), DividerBlock()]
    blocks += _paging(page, Action.deals_newer, Action.deals_older)
    return Message(text=showing(page) + " registrations", blocks=blocks)


def build_home(page: Page, actor: Actor) -> View:
    """App Home for internal users: one page of leads they own or must review, newest first."""
    blocks: list = [HeaderBlock(text="Partner leads"),
                    ContextBlock(elements=[MarkdownTextObject(text="Leads you own or must review, newest first.")])]
    if not page.rows:
        blocks.append(section("Nothing waiting for you."))
        return View(type="home", blocks=blocks)
    for registration, partner in page.rows:
        blocks += [_row(registration, partner, show_partner=True), DividerBlock()]
    return View(type="home", blocks=blocks + _paging(page, Action.home_newer, Action.home_older))


def build_help(actor: Actor) -> Message:
    """What this caller can do, by who they are."""
    lines = ["*Partnerbot* helps partners and our team register and follow partner leads."]
    if actor.is_partner:
        lines += ["• *Register a lead*: use the button on the partner desk in your shared channel, mention me "
                  "with “lead”, or run `/lead company-or-domain` if your workspace has the app.",
                  "• *See your deals*: the *My deals* button, or `/partner deals`."]
    elif actor.is_internal:
        lines += ["• `/lead [company or domain]`: register a lead on a partner's behalf.",
                  "• `/partner deals`: registrations you can see.",
                  "• Accept or reject leads routed to you from the message I send you; your App Home lists them."]
        if actor.runs_program:
            lines.append("• You review channel conflicts and see every registration.")
            lines.append("• `/partner usage REG-00042 2026-10 15000`: record a month of revenue on a usage-based deal.")
    else:
        lines.append("I don't know you yet: ask your partner manager to add you to the partner program.")
    return Message(text="What Partnerbot can do for you", blocks=[section("\n".join(lines))])
