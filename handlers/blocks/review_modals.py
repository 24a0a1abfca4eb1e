"""The reviewer's modals: reject (standard wording or own words), mark lost (why), reassign, ask the partner.

Each carries in `private_metadata` the registration id and where the button was clicked (a conversation, or
App Home), as JSON. Neither is trusted: the workflow re-checks the registration against the actor, and the
place only says where to answer the actor themselves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from slack_sdk.models.blocks import (
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from handlers.blocks.text import clip
from handlers.ids import Block, Callback
from workflows.reasons import LOST_REASONS, MAX_DETAILS, StandardReason, reject_reasons
from storage.models import ReviewKind

HOME = "home"
ROUTING = "routing"  # the Reassign choice that hands the lead back to the routing rules
MAX_CHOICES = 100  # options in one static select


@dataclass(frozen=True)
class ModalOrigin:
    registration_id: int | None
    place: str | None  # a conversation id, HOME, or None when unknown


def modal_metadata(registration_id: int, place: str | None) -> str:
    return json.dumps({"registration": registration_id, "place": place})


def parse_modal_metadata(metadata: object) -> ModalOrigin:
    """The registration id and place of a modal (our JSON, or a bare id as older modals carry)."""
    if isinstance(metadata, str) and metadata.isdigit() and len(metadata) < 10:
        return ModalOrigin(int(metadata), None)
    try:
        data = json.loads(metadata) if isinstance(metadata, str) else {}
    except ValueError:
        data = {}
    data = data if isinstance(data, dict) else {}
    registration, place = data.get("registration"), data.get("place")
    registration = registration if isinstance(registration, int) and 0 < registration < 10**9 else None
    place = place if isinstance(place, str) and len(place) <= 32 else None
    return ModalOrigin(registration, place)


def _options(reasons: tuple[StandardReason, ...]) -> list[Option]:
    return [Option(text=reason.label, value=reason.code) for reason in reasons]


def _details(label: str, *, optional: bool, hint: str | None = None) -> InputBlock:
    return InputBlock(block_id=Block.reason.value, label=label, optional=optional, hint=hint,
                      element=PlainTextInputElement(action_id=Block.reason.value, multiline=True,
                                                    max_length=MAX_DETAILS))


def build_reject_modal(registration_id: int, kind: ReviewKind | None, place: str | None) -> View:
    """Reject: standard wording (a conflict's never names the other partner) and/or the reviewer's own words."""
    choices = reject_reasons(kind)
    hint = ("Partners never see another partner's name: the standard wording says only that someone came first."
            if kind == ReviewKind.conflict else None)
    return View(type="modal", callback_id=Callback.reject_reason.value, title="Reject registration",
                submit="Reject", close="Cancel", private_metadata=modal_metadata(registration_id, place), blocks=[
                    InputBlock(block_id=Block.reason_choice.value, label="Standard reason", optional=True,
                               element=StaticSelectElement(action_id=Block.reason_choice.value,
                                                           placeholder="Choose a reason",
                                                           options=_options(choices))),
                    _details("In your own words (the partner sees this)", optional=True, hint=hint),
                    ContextBlock(elements=[MarkdownTextObject(
                        text="Pick a standard reason, write one, or both. The partner is told in their thread.")]),
                ])


def build_lost_modal(registration_id: int, reference: str, place: str | None) -> View:
    """Mark lost: why (a standard reason, and words when it is “Other”), for our team and the CRM."""
    return View(type="modal", callback_id=Callback.lost_reason.value, title="Mark the deal lost",
                submit="Mark lost", close="Cancel", private_metadata=modal_metadata(registration_id, place), blocks=[
                    InputBlock(block_id=Block.reason_choice.value, label=f"Why was {reference} lost?",
                               element=StaticSelectElement(action_id=Block.reason_choice.value,
                                                           placeholder="Choose a reason",
                                                           options=_options(LOST_REASONS))),
                    _details("Details (for our team and the CRM, not the partner)", optional=True),
                ])


def build_reassign_modal(registration_id: int, reference: str, choices: list[tuple[str, str]],
                         place: str | None) -> View:
    """Reassign: another AE by name, or back to the routing rules (with a reason the next reviewer sees)."""
    options = [Option(text="Back to routing (the rules choose)", value=ROUTING)]
    options += [Option(text=clip(name, 75), value=slack_id) for slack_id, name in choices[:MAX_CHOICES - 1]]
    return View(type="modal", callback_id=Callback.reassign.value, title="Reassign lead", submit="Reassign",
                close="Cancel", private_metadata=modal_metadata(registration_id, place), blocks=[
                    InputBlock(block_id=Block.assignee.value, label=f"Who should review {reference}?",
                               element=StaticSelectElement(action_id=Block.assignee.value,
                                                           placeholder="Choose an AE", options=options)),
                    _details("Why (the next reviewer sees it; required for routing)", optional=True),
                    ContextBlock(elements=[MarkdownTextObject(
                        text="The partner is not told: for them the lead is still under review.")]),
                ])


def build_ask_modal(registration_id: int, reference: str, place: str | None) -> View:
    """Ask the partner: the question goes to their registration thread; their reply there comes to you."""
    return View(type="modal", callback_id=Callback.ask_partner.value, title="Ask the partner", submit="Ask",
                close="Cancel", private_metadata=modal_metadata(registration_id, place), blocks=[
                    InputBlock(block_id=Block.question.value, label=f"Your question about {reference}",
                               element=PlainTextInputElement(action_id=Block.question.value, multiline=True,
                                                             max_length=1000)),
                    ContextBlock(elements=[MarkdownTextObject(
                        text="Posted under your name in the partner's thread of this registration; their reply "
                             "there is sent to you. Never name another partner: it is refused.")]),
                ])
