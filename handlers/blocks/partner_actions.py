"""Messages and modals of a partner's own actions on its registration (add an update, withdraw, edit)."""

from __future__ import annotations

from slack_sdk.models.blocks import InputBlock, PlainTextInputElement
from slack_sdk.models.views import View

from handlers.blocks.messages import Message
from handlers.blocks.registration import detail_inputs, lead_inputs
from handlers.blocks.review_modals import modal_metadata
from handlers.blocks.text import escape, lead_title, quoted, section
from handlers.ids import Block, Callback
from storage.models import Partner, Registration, RegistrationStatus
from workflows.lead_form import typed_values
from workflows.partner_actions import MAX_REASON, MAX_UPDATE
from workflows.program import Program


def _text_modal(registration: Registration, place: str | None, *, callback: Callback, title: str, submit: str,
                intro: str, block: Block, label: str, hint: str, max_length: int) -> View:
    """A partner action that asks for one text (a reason, an update); the id rides in private_metadata and is
    re-checked on submit."""
    return View(type="modal", callback_id=callback.value, title=title, submit=submit, close="Cancel",
                private_metadata=modal_metadata(registration.id, place), blocks=[
                    section(intro),
                    InputBlock(block_id=block.value, label=label, hint=hint,
                               element=PlainTextInputElement(action_id=block.value, multiline=True,
                                                             max_length=max_length)),
                ])


def build_update_modal(registration: Registration, place: str | None) -> View:
    """Add an update: a note the AE gets and the registration's thread shows."""
    return _text_modal(registration, place, callback=Callback.partner_update, title="Add an update", submit="Send",
                       intro=f"An update on {lead_title(registration)} for the account executive.",
                       block=Block.notes, label="What's new?", hint="Your channel's thread shows it too.",
                       max_length=MAX_UPDATE)


def build_withdraw_modal(registration: Registration, place: str | None) -> View:
    """Asks why before a registration is withdrawn."""
    return _text_modal(registration, place, callback=Callback.withdraw_reason, title="Withdraw registration",
                       submit="Withdraw",
                       intro=f"Withdraw {lead_title(registration)}? It will no longer be protected for you, and "
                             "this cannot be undone: register it again if plans change.",
                       block=Block.reason, label="Why are you withdrawing it?",
                       hint="Our team sees this; the customer never does.", max_length=MAX_REASON)


def build_partner_note(registration: Registration, author_slack_id: str, text: str) -> Message:
    """The update in the registration's thread, where the partner's people see it."""
    body = f":memo: Update from <@{author_slack_id}>:\n{quoted(text, 2500)}"
    return Message(text=f"{registration.reference}: update from the partner", blocks=[section(body)])


def build_partner_note_for_reviewer(registration: Registration, partner: Partner, author_slack_id: str,
                                    text: str) -> Message:
    """The AE's DM with a partner's update on a registration they review or own."""
    body = (f":memo: *{escape(partner.name)}* (<@{author_slack_id}>) added an update on "
            f"{lead_title(registration)}:\n{quoted(text, 2500)}")
    return Message(text=f"{registration.reference} {escape(registration.company)}: an update from the partner",
                   blocks=[section(body)])


def build_withdrawn_for_reviewer(registration: Registration, partner: Partner, actor_slack_id: str,
                                 reason: str) -> Message:
    """The reviewer's DM when a partner withdraws a registration they were reviewing or own."""
    text = (f":leftwards_arrow_with_hook: *{escape(partner.name)}* withdrew {lead_title(registration)} "
            f"(<@{actor_slack_id}>):\n{quoted(reason, 1500)}\nNothing more is needed from you.")
    return Message(text=f"{registration.reference} {escape(registration.company)} was withdrawn by the partner.",
                   blocks=[section(text)])


def build_edit_modal(program: Program, registration: Registration, place: str | None) -> View:
    """Edit: the registration form's inputs, showing what was registered; the id is re-checked on submit."""
    again = " Its review starts over." if registration.status == RegistrationStatus.under_review else ""
    values = typed_values(registration)
    return View(type="modal", callback_id=Callback.edit_registration.value, title="Edit registration",
                submit="Save changes", close="Cancel", private_metadata=modal_metadata(registration.id, place),
                blocks=[section(f"Correct {lead_title(registration)}: it is checked for conflicts and routed again "
                                f"once saved.{again}"),
                        *lead_inputs(program, values), *detail_inputs(values)])


def build_edited_in_thread(registration: Registration, actor_slack_id: str, changed: str) -> Message:
    """In the registration's thread: who edited it and what (`changed` is our own field names)."""
    text = f":pencil2: Edited by <@{actor_slack_id}>: {changed}. We check and route it again; updates follow here."
    return Message(text=f"{registration.reference} edited: {changed}", blocks=[section(text)])


def edit_note(actor_slack_id: str, changed: str) -> str:
    """What a settled review message and its reminders say of the edit."""
    return f":pencil2: Edited by the partner (<@{actor_slack_id}>): {changed}. It is checked and routed again."


def build_edited_for_reviewer(registration: Registration, partner: Partner, actor_slack_id: str,
                              changed: str) -> Message:
    """The reviewer's DM when the partner edits a registration under their review."""
    text = (f":pencil2: *{escape(partner.name)}* (<@{actor_slack_id}>) edited {lead_title(registration)} while "
            f"you were reviewing it: {changed}. It is checked and routed again, so your review of it is closed; "
            "if it comes back to you, a new request follows.")
    return Message(text=f"{registration.reference} {escape(registration.company)} was edited by the partner.",
                   blocks=[section(text)])
