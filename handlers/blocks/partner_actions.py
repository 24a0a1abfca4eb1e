"""Messages and modals of a partner's own actions on its registration (add an update, withdraw)."""

from __future__ import annotations

from slack_sdk.models.blocks import InputBlock, PlainTextInputElement
from slack_sdk.models.views import View

from handlers.blocks.messages import Message
from handlers.blocks.review_modals import modal_metadata
from handlers.blocks.text import escape, lead_title, quoted, section
from handlers.ids import Block, Callback
from storage.models import Partner, Registration
from workflows.partner_actions import MAX_REASON, MAX_UPDATE


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
