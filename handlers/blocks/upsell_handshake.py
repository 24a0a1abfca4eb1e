"""The handshake on an upsell: the replies in its thread at each step, the AE's Decline / Mark won / Mark lost
modals, the accept-SLA reminder, the partner's Join request, and an upsell as a row of a list."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
)
from slack_sdk.models.views import View

from handlers.blocks.messages import Message
from handlers.blocks.text import day, escape, quoted, section
from handlers.blocks.upsells import (
    join_button,
    shown_value,
    upsell_buttons,
    upsell_modal_metadata,
    upsell_status_label,
    upsell_summary,
    upsell_title,
)
from handlers.ids import Block, Callback
from storage.models import CustomerAccount, Partner, Recurrence, Upsell, UpsellStatus
from workflows.amounts import shown
from workflows.upsells import MAX_REASON


def _with_reference(upsell: Upsell, text: str, fallback: str, *extra: Any) -> Message:
    return Message(text=f"{upsell.reference} {fallback}",
                   blocks=[section(text), *extra, ContextBlock(elements=[MarkdownTextObject(text=upsell.reference)])])


# The thread ---------------------------------------------------------------------------------------------
def build_upsell_step(upsell: Upsell, account: CustomerAccount, partner: Partner, actor_slack_id: str) -> Message:
    """The reply in the upsell's thread when its AE (or the partner's manager, or an admin) takes a step; a reason
    is the partner's to read, quoted."""
    what = f"*{escape(account.name)}* → *{escape(upsell.target)}*"
    if upsell.status == UpsellStatus.accepted:
        text = (f":white_check_mark: Accepted by <@{actor_slack_id}>: {what} is an expansion opportunity now. "
                "Updates follow in this thread.")
    elif upsell.status == UpsellStatus.declined:
        text = (f":no_entry_sign: Declined by <@{actor_slack_id}>: {what}. Reason:\n"
                f"{quoted(upsell.decision_reason, 1500)}")
    elif upsell.status == UpsellStatus.won:
        text = (f":trophy: Won: {what} closed at {shown_value(upsell, upsell.final_amount)}, credited to "
                f"*{escape(partner.name)}*. Thank you!")
    elif upsell.status == UpsellStatus.lost:
        text = (f":heavy_minus_sign: Lost: {what} did not go ahead this time. Reason:\n"
                f"{quoted(upsell.close_reason, 1500)}")
    else:
        text = f"{upsell_status_label(upsell.status)}: {what}"
    return _with_reference(upsell, text, f"is {upsell.status.replace('_', ' ')}")


def build_partner_joined(upsell: Upsell, partner: Partner, actor_slack_id: str) -> Message:
    """The reply in the thread when the partner says it is involved."""
    return _with_reference(upsell, f":handshake: <@{actor_slack_id}> confirmed *{escape(partner.name)}* is involved: "
                                   "the expansion is credited to them as partner-influenced.", "has its partner on it")


# The partner asked in by DM -----------------------------------------------------------------------------
def build_join_request(upsell: Upsell, account: CustomerAccount, partner: Partner) -> Message:
    """To a partner contact who cannot see the upsell's thread: the AE asks their company in, with Join."""
    text = (f":wave: <@{upsell.flagged_by_slack_id}> asks *{escape(partner.name)}* in on an expansion:\n"
            f"{upsell_title(upsell, account)}\n{upsell_summary(upsell)}\n"
            "Are you involved? *Join* tells our team and credits you (partner-influenced).")
    return _with_reference(upsell, text, f"asks {escape(partner.name)} in",
                           ActionsBlock(elements=[join_button(upsell)]))


def build_join_answered(upsell: Upsell, account: CustomerAccount, partner: Partner, actor_slack_id: str) -> Message:
    """The DM request once the partner joined: who joined, no button."""
    text = (f":handshake: {upsell_title(upsell, account)}\n{upsell_summary(upsell)}\n"
            f"<@{actor_slack_id}> joined for *{escape(partner.name)}* on {day(upsell.partner_joined_at)}.")
    return _with_reference(upsell, text, f"joined by {escape(partner.name)}")


# The AE's modals ----------------------------------------------------------------------------------------
def build_upsell_reason_modal(callback: Callback, upsell: Upsell, place: str | None) -> View:
    """Decline, or Mark lost: why, in words the partner reads in the thread."""
    declining = callback == Callback.upsell_decline_reason
    title, submit, question = ("Decline upsell", "Decline", f"Why decline {upsell.reference}?") if declining \
        else ("Mark upsell lost", "Mark lost", f"Why was {upsell.reference} lost?")
    return View(type="modal", callback_id=callback.value, title=title, submit=submit, close="Cancel",
                private_metadata=upsell_modal_metadata(upsell.id, place), blocks=[
                    InputBlock(block_id=Block.reason.value, label=question,
                               element=PlainTextInputElement(action_id=Block.reason.value, multiline=True,
                                                             max_length=MAX_REASON)),
                    ContextBlock(elements=[MarkdownTextObject(
                        text="The partner reads this in the upsell's thread. Never name another partner: it is "
                             "refused.")]),
                ])


def build_upsell_won_modal(upsell: Upsell, place: str | None) -> View:
    """Mark won: the final amount, prefilled with the expected value."""
    per = "a month" if upsell.recurrence == Recurrence.monthly else "one-time"
    return View(type="modal", callback_id=Callback.upsell_won_amount.value, title="Mark upsell won",
                submit="Mark won", close="Cancel", private_metadata=upsell_modal_metadata(upsell.id, place), blocks=[
                    InputBlock(block_id=Block.final_amount.value, label=f"Final amount ({upsell.currency}, {per})",
                               element=PlainTextInputElement(action_id=Block.final_amount.value,
                                                             initial_value=shown(upsell.expected_value)),
                               hint=f"Expected: {shown_value(upsell)}. Change it to what was signed."),
                    ContextBlock(elements=[MarkdownTextObject(
                        text=f"{upsell.reference} closes as won, credited to the partner, who is told in its "
                             "thread; the CRM records the amount.")]),
                ])


# The accept SLA -----------------------------------------------------------------------------------------
def build_upsell_reminder(upsell: Upsell, account: CustomerAccount, partner: Partner, hours_waiting: int,
                          sla_hours: int, *, link: str | None = None) -> Message:
    """A DM: the upsell has waited past its accept SLA for its AE, with Accept / Decline and (for the AE) a link to
    its thread. `link` is Slack's permalink, not user text."""
    text = (f":alarm_clock: {upsell_title(upsell, account)} from *{escape(partner.name)}* has waited "
            f"{hours_waiting} hours for <@{upsell.assigned_to_slack_id}> to accept or decline it; partners are "
            f"promised an answer within {sla_hours} hours.\n{upsell_summary(upsell)}")
    blocks: list[Any] = [section(text)]
    if link and "|" not in link and ">" not in link:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"<{link}|Open its thread>")]))
    blocks.append(ActionsBlock(elements=upsell_buttons(upsell)))
    return Message(text=f"{upsell.reference} is waiting for an answer", blocks=blocks)


def build_upsell_reminder_handled(upsell: Upsell, account: CustomerAccount, partner: Partner,
                                  actor_slack_id: str) -> Message:
    """A reminder once the upsell was answered: who did what, no buttons."""
    return Message(text=f"{upsell.reference} no longer waits for an answer", blocks=[section(
        f"{upsell_title(upsell, account)} from *{escape(partner.name)}*: {upsell_status_label(upsell.status)} by "
        f"<@{actor_slack_id}>.")])


# Lists --------------------------------------------------------------------------------------------------
def upsell_row_text(upsell: Upsell, account: CustomerAccount, partner: Partner, *, show_partner: bool) -> str:
    """An upsell as a row of a list: what, its status, its AE, and when it was flagged."""
    who = f" · {escape(partner.name)}" if show_partner else ""
    line = upsell_status_label(upsell.status)
    if upsell.status == UpsellStatus.won and upsell.final_amount is not None:
        line += f" at {shown_value(upsell, upsell.final_amount)}"
    if upsell.assigned_to_slack_id:
        line += f" · AE <@{upsell.assigned_to_slack_id}>"
    return (f"{upsell_title(upsell, account)}{who}\n{upsell_summary(upsell)}\n{line} · flagged "
            f"{day(upsell.created_at)}")
