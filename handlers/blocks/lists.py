"""Lists and help: `/partner deals`, the App Home, and what each kind of user can do."""

from __future__ import annotations

from slack_sdk.models.blocks import ContextBlock, DividerBlock, HeaderBlock, MarkdownTextObject, SectionBlock
from slack_sdk.models.views import View

from handlers.blocks.messages import Message
from handlers.blocks.text import day, deal_summary, escape, lead_title, section, status_label
from storage.actors import Actor
from storage.models import Partner, Registration, ReviewKind

MAX_LISTED = 20  # two blocks each keeps a message under Slack's 50-block limit


def _row(registration: Registration, partner: Partner, *, show_partner: bool) -> SectionBlock:
    who = f" · {escape(partner.name)}" if show_partner else ""
    waiting = ""
    if registration.review_kind == ReviewKind.conflict and registration.status.value == "under_review":
        waiting = " · _conflict review_"
    return section((
        f"{lead_title(registration)}{who}\n{deal_summary(registration)}\n"
        f"{status_label(registration.status)}{waiting} · registered {day(registration.created_at)}"))


def build_deals_list(rows: list[tuple[Registration, Partner]], total: int, actor: Actor) -> Message:
    """What the caller may see of the registrations, newest first."""
    if not rows:
        return Message(text="No registrations to show yet.", blocks=[SectionBlock(text=MarkdownTextObject(
            text="No registrations to show yet. Use *Register a lead* to add one."))])
    shown = rows[:MAX_LISTED]
    blocks: list = [section(f"*Registrations you can see* ({total})")]
    for registration, partner in shown:
        blocks += [_row(registration, partner, show_partner=actor.is_internal), DividerBlock()]
    if total > len(shown):
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"Showing the newest {len(shown)} of {total}.")]))
    return Message(text=f"{total} registrations", blocks=blocks)


def build_home(rows: list[tuple[Registration, Partner]], actor: Actor) -> View:
    """App Home for internal users: leads they own or must review, newest first."""
    blocks: list = [HeaderBlock(text="Partner leads"),
                    ContextBlock(elements=[MarkdownTextObject(text="Leads you own or must review, newest first.")])]
    if not rows:
        blocks.append(section("Nothing waiting for you."))
    for registration, partner in rows[:45]:
        blocks += [_row(registration, partner, show_partner=True), DividerBlock()]
    return View(type="home", blocks=blocks)


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
