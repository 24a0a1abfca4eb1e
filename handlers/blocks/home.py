"""App Home for internal users: a chosen list of their leads with the buttons to act on each, paged, the
decisions they may still undo, and the upsells waiting for their answer with Accept / Decline."""

from __future__ import annotations

import json

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    Option,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from handlers.blocks.review import deal_buttons, review_buttons
from handlers.blocks.text import day, deal_summary, escape, lead_title, section, status_label
from handlers.blocks.upsell_handshake import upsell_row_text
from handlers.blocks.upsells import upsell_buttons
from handlers.ids import Action
from storage.actors import Actor
from storage.lists import PAGE_SIZE, UPSELL_ROWS, HomeFilter, Page
from storage.models import Partner, Registration, RegistrationStatus, ReviewDecision, ReviewKind
from workflows.clearance_undo import is_clearance
from workflows.people import HomeView

FILTERS = {  # label in the select, line under it
    HomeFilter.all: ("Everything of mine", "Leads you own or must review, newest first."),
    HomeFilter.waiting: ("Waiting for me", "Leads and conflicts waiting for your decision, newest first."),
    HomeFilter.open: ("My open deals", "Approved deals you own: mark them won or lost when they close."),
    HomeFilter.closed: ("Closed", "Won, lost, rejected and expired, newest first."),
}
EMPTY = {
    HomeFilter.all: "Nothing waiting for you.",
    HomeFilter.waiting: "Nothing waiting for you.",
    HomeFilter.open: "No open deals: approved leads show here until they are won or lost.",
    HomeFilter.closed: "Nothing closed yet.",
}
# Header, filter, summary, three undo lines, the upsells waiting (a header, two blocks a row, a count line and a
# divider), three blocks a row, the Showing line and its buttons.
assert 3 + 3 + (1 + UPSELL_ROWS * 2 + 2) + PAGE_SIZE * 3 + 2 <= 100


def home_metadata(show: HomeFilter) -> str:
    return json.dumps({"show": show.value})


def shown_filter(view: object) -> HomeFilter:
    """The list a published Home shows (its private_metadata); anything else means the default."""
    try:
        data = json.loads(view.get("private_metadata") or "{}") if isinstance(view, dict) else {}
        return HomeFilter(data.get("show"))
    except (ValueError, TypeError, AttributeError):
        return HomeFilter.all


def _option(show: HomeFilter) -> Option:
    return Option(text=FILTERS[show][0], value=show.value)


def _count(count: tuple[int, bool]) -> str:
    return f"more than {count[0]:,}" if count[1] else f"{count[0]:,}"


def _row_buttons(registration: Registration, actor: Actor) -> list[ButtonElement]:
    if registration.status == RegistrationStatus.under_review and (
            registration.assigned_to_slack_id == actor.slack_user_id or actor.runs_program):
        return review_buttons(registration)
    if registration.status == RegistrationStatus.approved:
        return deal_buttons(registration)
    return []


def _row(registration: Registration, partner: Partner, actor: Actor) -> list:
    extra = ""
    if registration.review_kind == ReviewKind.conflict and registration.status == RegistrationStatus.under_review:
        extra = " · _conflict review_"
    elif registration.status == RegistrationStatus.approved:
        extra = f" · protected until {day(registration.protection_expires_at)}"
    blocks: list = [section(f"{lead_title(registration)} · {escape(partner.name)}\n{deal_summary(registration)}\n"
                            f"{status_label(registration.status)}{extra} · registered {day(registration.created_at)}")]
    buttons = _row_buttons(registration, actor)
    if buttons:
        blocks.append(ActionsBlock(elements=buttons))
    return blocks + [DividerBlock()]


def _paging(page: Page) -> list:
    first, last = page.position + 1, page.position + len(page.rows)
    of = f"more than {page.total:,}" if page.capped else f"{max(page.total, last):,}"
    buttons = []
    if page.previous is not None:
        buttons.append(ButtonElement(text="Previous", action_id=Action.home_newer.value, value=page.previous.encode()))
    if page.next is not None:
        buttons.append(ButtonElement(text="Next", action_id=Action.home_older.value, value=page.next.encode()))
    blocks: list = [ContextBlock(elements=[MarkdownTextObject(text=f"Showing {first:,}–{last:,} of {of}")])]
    return blocks + ([ActionsBlock(elements=buttons)] if buttons else [])


def _undoable(decision: ReviewDecision, registration: Registration) -> str:
    what = f"{registration.reference} *{escape(registration.company)}*"
    did = f"cleared the conflict on {what}" if is_clearance(decision) \
        else f"marked {what} {status_label(registration.status)}"
    return f"You {did}; you can still undo it."


def _upsells_waiting(upsells: Page | None) -> list:
    """The newest upsells waiting for this user's Accept or Decline, with the buttons, and how many wait."""
    if upsells is None or not upsells.rows:
        return []
    blocks: list = [section(f"*Upsells waiting for your answer* ({_count((upsells.total, upsells.capped))})")]
    for upsell, account, partner in upsells.rows:
        blocks += [section(upsell_row_text(upsell, account, partner, show_partner=True)),
                   ActionsBlock(elements=upsell_buttons(upsell))]
    if upsells.capped or upsells.total > len(upsells.rows):
        blocks.append(ContextBlock(elements=[MarkdownTextObject(
            text=f"The newest {len(upsells.rows)} here; the others wait in their threads too.")]))
    return blocks + [DividerBlock()]


def build_home(home: HomeView, actor: Actor) -> View:
    """App Home: the chosen list (default: everything of mine) with buttons on what can be acted on, paged."""
    show = home.show
    summary = (f"{FILTERS[show][1]} *{_count(home.waiting)}* waiting for you · "
               f"*{_count(home.open_deals)}* open deals")
    if home.upsells is not None and home.upsells.total:
        summary += f" · *{_count((home.upsells.total, home.upsells.capped))}* upsells waiting"
    summary += "."
    blocks: list = [
        HeaderBlock(text="Partner leads"),
        ActionsBlock(elements=[StaticSelectElement(action_id=Action.home_filter.value, placeholder="Show",
                                                   options=[_option(f) for f in HomeFilter],
                                                   initial_option=_option(show))]),
        ContextBlock(elements=[MarkdownTextObject(text=summary)]),
    ]
    for decision, registration in home.undoable:
        blocks.append(SectionBlock(
            text=MarkdownTextObject(text=_undoable(decision, registration)),
            accessory=ButtonElement(text="Undo", action_id=Action.undo.value, value=str(decision.id))))
    if show in (HomeFilter.all, HomeFilter.waiting):
        blocks += _upsells_waiting(home.upsells)
    page = home.page
    if not page.rows:
        blocks.append(section(EMPTY[show]))
        return View(type="home", blocks=blocks, private_metadata=home_metadata(show))
    for registration, partner in page.rows:
        blocks += _row(registration, partner, actor)
    return View(type="home", blocks=blocks + _paging(page), private_metadata=home_metadata(show))
