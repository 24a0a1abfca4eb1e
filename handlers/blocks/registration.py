"""The lead registration modal (two steps) and the parser of its submitted state."""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

from slack_sdk.models.blocks import (
    ContextBlock,
    ExternalDataSelectElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from handlers.blocks.text import escape
from handlers.ids import Action, Block, Callback
from workflows.lead_form import (
    ATTRIBUTIONS,
    BUDGETS,
    COMPANY_SIZES,
    MAX_LENGTHS,
    PRICING_MODELS,
    TIMELINES,
    country_label,
)
from workflows.program import Program


def text_input(block: Block, label: str, *, initial: str | None = None, placeholder: str | None = None,
               optional: bool = False, multiline: bool = False, hint: str | None = None) -> InputBlock:
    """A plain-text input whose block and action ids are `block`'s (the forms' field names)."""
    element = PlainTextInputElement(action_id=block.value, initial_value=initial or None, placeholder=placeholder,
                                    multiline=multiline or None, max_length=MAX_LENGTHS.get(block.value))
    return InputBlock(block_id=block.value, label=label, element=element, optional=optional or None, hint=hint)


def select_input(block: Block, label: str, choices: dict[str, str], *, initial: str | None = None,
                 optional: bool = False) -> InputBlock:
    """A static select of `choices` (value -> label), showing `initial` when it is one of them."""
    options = [Option(value=value, text=text[:75]) for value, text in choices.items()]
    chosen = next((o for o in options if o.value == initial), None)
    element = StaticSelectElement(action_id=block.value, options=options, initial_option=chosen,
                                  placeholder="Choose…")
    return InputBlock(block_id=block.value, label=label, element=element, optional=optional or None)


def _prefill(text: str) -> dict[str, str]:
    """`/lead acme.com` prefills the website; `/lead Acme Inc` prefills the company."""
    text = text.strip()
    if not text:
        return {}
    if " " not in text and "." in text:
        return {"domain": text[:MAX_LENGTHS["domain"]]}
    return {"company": text[:MAX_LENGTHS["company"]]}


def lead_inputs(program: Program, values: dict[str, str]) -> list[InputBlock]:
    """The first step's inputs (what routing and the conflict check need), showing `values` where given: a
    prefilled `/lead`, or a registration being edited (workflows.lead_form.typed_values)."""
    country = values.get("country")
    return [
        text_input(Block.company, "Company", initial=values.get("company"), placeholder="Acme Inc."),
        text_input(Block.domain, "Website or domain", initial=values.get("domain"), placeholder="acme.com"),
        text_input(Block.contact_name, "Contact name", initial=values.get("contact_name"), placeholder="Jane Smith"),
        text_input(Block.contact_email, "Contact email", initial=values.get("contact_email"),
                   placeholder="jane@acme.com"),
        InputBlock(block_id=Block.country.value, label="Customer's country",
                   element=ExternalDataSelectElement(
                       action_id=Action.choose_country.value, min_query_length=0,
                       placeholder="Type to search countries",
                       initial_option=Option(value=country, text=country_label(program, country)[:75])
                       if country else None),
                   hint="Where the customer is based; it decides who on our team picks the lead up."),
        select_input(Block.product_line, "Product line", {p: p for p in program.product_lines},
                     initial=values.get("product_line")),
        text_input(Block.estimated_value, "Estimated deal value", initial=values.get("estimated_value"),
                   placeholder="25000",
                   hint="First-year value, typed as you usually would (48000, 48,000 or 48.000,00); "
                        "for usage-based deals, your best estimate."),
        select_input(Block.currency, "Currency", {c: c for c in program.currencies},
                     initial=values.get("currency") or program.currencies[0]),
        select_input(Block.pricing_model, "Pricing model", {k.value: v for k, v in PRICING_MODELS.items()},
                     initial=values.get("pricing_model")),
        text_input(Block.starting_monthly_usage, "Starting monthly usage (usage-based only)", optional=True,
                   initial=values.get("starting_monthly_usage"), placeholder="5000"),
    ]


def detail_inputs(values: dict[str, str]) -> list[InputBlock]:
    """The optional details (the form's second step), showing `values` where given."""
    return [
        select_input(Block.company_size, "Company size", COMPANY_SIZES, optional=True,
                     initial=values.get("company_size")),
        select_input(Block.budget, "Budget", BUDGETS, optional=True, initial=values.get("budget")),
        select_input(Block.timeline, "Timeline", TIMELINES, optional=True, initial=values.get("timeline")),
        text_input(Block.notes, "Notes", optional=True, multiline=True, initial=values.get("notes"),
                   placeholder="Use case, who you've spoken to, next steps"),
    ]


def build_registration_modal(program: Program, *, prefill_text: str = "", choose_partner: bool,
                             origin_channel_id: str | None, partner_name: str | None = None) -> View:
    """The registration form's first step: what routing and the conflict check need (internal users also
    choose the partner). The role stays here because it is the attribution the CRM records at submission."""
    prefill = _prefill(prefill_text)
    blocks: list[Any] = []
    if choose_partner:
        blocks.append(InputBlock(
            block_id=Block.partner.value, label="Partner",
            element=ExternalDataSelectElement(action_id=Action.choose_partner.value, min_query_length=0,
                                              placeholder="Type to search partners"),
            hint="You are registering this lead on the partner's behalf."))
    elif partner_name:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(
            text=f"Registering for *{escape(partner_name)}*. Registrations are protected for "
                 f"{program.protection_window_days} days once approved.")]))
    blocks += lead_inputs(program, prefill)
    blocks.append(select_input(Block.attribution, "Your role", {k.value: v for k, v in ATTRIBUTIONS.items()},
                               initial=next(iter(ATTRIBUTIONS)).value))
    metadata = json.dumps({"channel": origin_channel_id})
    return View(type="modal", callback_id=Callback.lead_registration.value, title="Register a lead",
                submit="Register", close="Cancel", blocks=blocks, private_metadata=metadata)


def build_lead_details_modal(*, registration_id: int, reference: str, company: str, partner_name: str,
                             origin_channel_id: str | None) -> View:
    """The optional second step, shown in place of the first once the registration is stored.

    Closing it (Skip) loses nothing: Slack tells us (notify_on_close) and the lead goes on without details.
    """
    blocks: list[Any] = [
        _registered(reference, company, partner_name),
        ContextBlock(elements=[MarkdownTextObject(
            text="Optional: these details help the account executive prioritise the lead. *Skip* if you don't "
                 "have them yet.")]),
        *detail_inputs({}),
    ]
    return View(type="modal", callback_id=Callback.lead_details.value, title="Add details (optional)",
                submit="Save details", close="Skip", blocks=blocks,
                private_metadata=_details_metadata(registration_id, origin_channel_id), notify_on_close=True)


def lead_details_view(*, registration_id: int, reference: str, company: str, partner_name: str,
                      origin_channel_id: str | None) -> dict[str, Any]:
    """build_lead_details_modal(...).to_dict(), made for the ack: only what differs between registrations is built
    each time; the rest (the same for every registration) was built and checked by slack_sdk once."""
    view = copy.deepcopy(_details_template())
    view["blocks"][0] = _registered(reference, company, partner_name).to_dict()
    view["private_metadata"] = _details_metadata(registration_id, origin_channel_id)
    return view


@cache
def _details_template() -> dict[str, Any]:
    return build_lead_details_modal(registration_id=0, reference="", company="", partner_name="",
                                    origin_channel_id=None).to_dict()


def _registered(reference: str, company: str, partner_name: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(
        text=f":white_check_mark: *{escape(reference)} · {escape(company[:150])}* is registered for "
             f"{escape(partner_name[:150])}; updates follow in its thread."))


def _details_metadata(registration_id: int, origin_channel_id: str | None) -> str:
    return json.dumps({"registration": registration_id, "channel": origin_channel_id})


def details_registration(view: dict) -> int | None:
    """The registration id the details step says it is for: a claim to re-check, never to trust."""
    try:
        value = json.loads(view.get("private_metadata") or "{}").get("registration")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2 ** 63 else None


def parse_view_state(view: dict) -> dict[str, str | None]:
    """Flatten `view.state.values` to {block_id: value} for text inputs and selects alike."""
    fields: dict[str, str | None] = {}
    for block_id, actions in (view.get("state") or {}).get("values", {}).items():
        for state in actions.values():
            if "selected_option" in state:
                option = state["selected_option"]
                fields[block_id] = option["value"] if option else None
            else:
                fields[block_id] = state.get("value")
    return fields


def origin_channel(view: dict) -> str | None:
    try:
        channel = json.loads(view.get("private_metadata") or "{}").get("channel")
    except (ValueError, AttributeError):
        return None
    return channel if isinstance(channel, str) else None
