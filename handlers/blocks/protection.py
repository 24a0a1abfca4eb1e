"""Block Kit for protection extensions: the request in the AE's DM (Extend / Decline), the same message once
decided, the partner's reply in the registration's thread, and the Decline modal (why)."""

from __future__ import annotations

from datetime import timedelta

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
)
from slack_sdk.models.views import View

from handlers.blocks.messages import Message
from handlers.blocks.review_modals import modal_metadata
from handlers.blocks.text import clip, day, escape, lead_title, quoted, section
from handlers.ids import Action, Block, Callback
from storage.models import Partner, Registration
from storage.protection import ExtensionRequest, ExtensionStatus
from workflows.protection import MAX_REASON


def _asked(request: ExtensionRequest, registration: Registration, partner: Partner, extension_days: int) -> str:
    ends = request.expires_before or registration.protection_expires_at
    return (f":hourglass_flowing_sand: *{escape(partner.name)}* (<@{request.requested_by_slack_id}>) asks to extend "
            f"the protection of {lead_title(registration)}.\nIt ends on {day(ends)}; Extend adds {extension_days} "
            f"days (until {day(ends + timedelta(days=extension_days)) if ends else '—'}). The partner is told in "
            "its thread either way.")


def build_extension_request(request: ExtensionRequest, registration: Registration, partner: Partner, *,
                            extension_days: int) -> Message:
    """The decider's DM: who asks, until when, and Extend / Decline (the value is the request's id)."""
    value = str(request.id)
    return Message(text=f"{registration.reference}: {partner.name} asks to extend its protection", blocks=[
        section(_asked(request, registration, partner, extension_days)),
        ActionsBlock(block_id=f"extension:{request.id}", elements=[
            ButtonElement(text="Extend", action_id=Action.extension_extend.value, value=value, style="primary"),
            ButtonElement(text="Decline", action_id=Action.extension_decline.value, value=value),
        ])])


def decision_note(request: ExtensionRequest) -> str:
    who = f"<@{request.decided_by_slack_id}>"
    if request.status == ExtensionStatus.extended:
        return f":white_check_mark: Extended to {day(request.expires_after)} by {who}."
    return f":no_entry_sign: Declined by {who}:\n{quoted(request.reason, 1500)}"


def build_extension_decided(request: ExtensionRequest, registration: Registration, partner: Partner, *,
                            extension_days: int) -> Message:
    """The decider's DM once decided: what was asked, and the decision in place of the buttons."""
    return Message(text=f"{registration.reference}: extension {str(request.status)}", blocks=[
        section(_asked(request, registration, partner, extension_days)),
        ContextBlock(elements=[MarkdownTextObject(text=clip(decision_note(request), 2000))])])


def build_extension_in_thread(request: ExtensionRequest, registration: Registration) -> Message:
    """The partner's reply in the registration's thread: the new end, or why not."""
    company = escape(registration.company)
    if request.status == ExtensionStatus.extended:
        text = (f":calendar: Protection extended: *{company}* is registered to you until "
                f"{day(registration.protection_expires_at)} (<@{request.decided_by_slack_id}> agreed to "
                f"<@{request.requested_by_slack_id}>'s request).")
    else:
        text = (f":no_entry_sign: No extension for *{company}*: <@{request.decided_by_slack_id}> declined "
                f"<@{request.requested_by_slack_id}>'s request. Protection ends on "
                f"{day(registration.protection_expires_at)}. Reason:\n{quoted(request.reason, 2000)}")
    plain = f"{registration.reference}: extension {str(request.status)}"
    return Message(text=plain, blocks=[section(text)])


def build_decline_modal(request: ExtensionRequest, reference: str, place: str | None) -> View:
    """Decline asks why; the id in private_metadata is the request's, re-checked on submit."""
    return View(type="modal", callback_id=Callback.extension_decline.value, title="Decline extension",
                submit="Decline", close="Cancel", private_metadata=modal_metadata(request.id, place), blocks=[
                    section(f"Decline extending the protection of {reference}? It ends as planned."),
                    InputBlock(block_id=Block.reason.value, label="Why? (the partner reads it in its thread)",
                               element=PlainTextInputElement(action_id=Block.reason.value, multiline=True,
                                                             max_length=MAX_REASON)),
                ])
