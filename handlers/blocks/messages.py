"""Partner-facing messages: the partner desk, the registration root message and its threaded updates."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, ButtonElement, ContextBlock, MarkdownTextObject

from handlers.blocks.text import day, deal_summary, escape, lead_title, quoted, section, status_label
from handlers.ids import Action, Block
from storage.models import AttributionType, Partner, Registration, RegistrationStatus
from workflows.partner_actions import EDITABLE, WITHDRAWABLE


@dataclass
class Message:
    """Blocks plus the plain-text fallback Slack shows in notifications."""

    text: str
    blocks: list[Any] = field(default_factory=list)


def desk_buttons(*, upsell: bool = False) -> ActionsBlock:
    """Register a lead, My deals and My scorecard; the desk itself also offers Flag an upsell (`upsell`)."""
    flag = [ButtonElement(text="Flag an upsell", action_id=Action.flag_upsell.value)] if upsell else []
    return ActionsBlock(block_id=Block.desk_actions.value, elements=[
        ButtonElement(text="Register a lead", action_id=Action.register_lead.value, style="primary"),
        *flag,
        ButtonElement(text="My deals", action_id=Action.my_deals.value),
        ButtonElement(text="My scorecard", action_id=Action.my_scorecard.value),
    ])


def build_partner_desk(partner: Partner, protection_days: int) -> Message:
    """The pinned-style message in a partner's shared channel: the entry point for external users."""
    text = (f":handshake: *Partner desk for {escape(partner.name)}*\n"
            f"Register a lead here and we'll check it, route it to the right account executive and keep you "
            f"posted in a thread. Approved registrations are protected for {protection_days} days.\n"
            f"A shared customer ready to buy more? *Flag an upsell* and its account executive picks it up here.")
    return Message(text=f"Partner desk for {escape(partner.name)}: register a lead, flag an upsell or see your "
                        f"deals.",
                   blocks=[section(text), desk_buttons(upsell=True)])


def build_desk_prompt() -> Message:
    """The reply to a mention asking to register a lead."""
    return Message(text="Register a lead with the button below.", blocks=[
        section("Happy to help: register the lead with this form."),
        desk_buttons(),
    ])


def build_registration_root(registration: Registration, partner: Partner) -> Message:
    """The partner-facing message a registration's updates are threaded under; it shows the current status."""
    lines = [
        f":memo: *Lead registration* {lead_title(registration)}",
        deal_summary(registration),
        f"Registered by <@{registration.submitted_by_slack_id}> for {escape(partner.name)} · "
        f"Status: *{status_label(registration.status)}*",
    ]
    if registration.status == RegistrationStatus.approved:
        lines.append(f"Protected until {day(registration.protection_expires_at)}")
    blocks: list = [section("\n".join(lines))]
    buttons = partner_buttons(registration)
    if buttons:
        blocks.append(ActionsBlock(elements=buttons))
    return Message(
        text=f"Lead registration {registration.reference} for {escape(registration.company)}: "
             f"{registration.status.replace('_', ' ')}",
        blocks=blocks,
    )


def partner_buttons(registration: Registration) -> list[ButtonElement]:
    """What the partner can still do to its registration; the value is its id, re-checked against the clicker."""
    if registration.id is None or registration.status not in WITHDRAWABLE:
        return []
    value = str(registration.id)
    edit = [ButtonElement(text="Edit", action_id=Action.edit.value, value=value)] \
        if registration.status in EDITABLE else []
    return [ButtonElement(text="Add an update", action_id=Action.add_update.value, value=value), *edit,
            ButtonElement(text="Withdraw", action_id=Action.withdraw.value, value=value)]


def build_partner_update(registration: Registration, sla_hours: int) -> Message:
    """The threaded status line a partner sees at each change."""
    company = escape(registration.company)
    status = registration.status
    if status == RegistrationStatus.under_review:
        text = (f":hourglass_flowing_sand: Under review: our team is reviewing *{company}*. "
                f"Expect a decision within {sla_hours} hours.")
    elif status == RegistrationStatus.approved and registration.attribution == AttributionType.co_sell:
        text = (f":handshake: Co-sell: *{company}* is registered to you and protected until "
                f"{day(registration.protection_expires_at)}; another partner works this account with us too.")
    elif status == RegistrationStatus.approved:
        text = (f":white_check_mark: Approved: *{company}* is registered to you and protected until "
                f"{day(registration.protection_expires_at)}.")
    elif status == RegistrationStatus.rejected:
        text = f":no_entry_sign: Not approved: *{company}*. Reason:\n{quoted(registration.decision_reason, 2000)}"
    elif status == RegistrationStatus.won:
        text = f":trophy: Won: *{company}* closed as a won deal, attributed to you. Thank you!"
    elif status == RegistrationStatus.lost:
        text = f":heavy_minus_sign: Closed lost: *{company}* did not go ahead this time."
    elif status == RegistrationStatus.expired:
        text = f":calendar: Protection for *{company}* ended on {day(registration.protection_expires_at)}."
    elif status == RegistrationStatus.withdrawn:
        text = f":leftwards_arrow_with_hook: Withdrawn: *{company}* is no longer registered to you. We've told our team."
    else:
        text = f"{status_label(status)}: *{company}*"
    plain = text.replace("*", "").split(": ", 1)
    return Message(text=f"{registration.reference} {plain[0]}: {plain[-1]}" if len(plain) > 1 else text,
                   blocks=[section(text),
                           ContextBlock(elements=[MarkdownTextObject(text=registration.reference)])])


def build_partner_chased(registration: Registration, hours_waiting: int, sla_hours: int) -> Message:
    """The partner's notice, in the registration's thread, that the approval promise was missed."""
    company = escape(registration.company)
    text = (f":alarm_clock: *{company}* has waited {hours_waiting} hours, past our {sla_hours}-hour promise. "
            "Sorry for the wait: we have reminded the reviewer and are chasing a decision.")
    return Message(text=f"{registration.reference} is overdue: we are chasing a decision on {company}.",
                   blocks=[section(text), ContextBlock(elements=[MarkdownTextObject(text=registration.reference)])])


def build_notice(text: str) -> Message:
    """A one-line message (ephemeral answers, errors); `text` must already be safe mrkdwn."""
    return Message(text=text, blocks=[section(text)])
