"""The private suggestion an expansion signal earns: what it is about and a Flag as upsell button."""

from __future__ import annotations

import json

from slack_sdk.models.blocks import ActionsBlock, ButtonElement, ContextBlock, MarkdownTextObject

from handlers.blocks.messages import Message
from handlers.blocks.text import escape, section
from handlers.ids import Action
from storage.models import UpsellSignal
from workflows.signals import Suggestion

MAX_VALUE = 2000  # Slack's limit on a button's value
SIGNAL_WORDS = {
    UpsellSignal.plan_upgrade: "a plan upgrade",
    UpsellSignal.more_seats: "more seats or users",
    UpsellSignal.usage_growth: "growing usage",
    UpsellSignal.new_product_line: "a new product line",
    UpsellSignal.renewal_at_risk: "a renewal at risk",
}


def _encoded(account_id: int, signal: UpsellSignal, notes: str) -> str:
    # ASCII-only JSON: its length is what Slack counts, whatever the message's characters.
    return json.dumps({"account": account_id, "signal": signal.value, "notes": notes}, separators=(",", ":"))


def suggestion_value(account_id: int, signal: UpsellSignal, notes: str) -> str:
    """The button's value, {"account", "signal", "notes"} as JSON, the notes cut (with …) to fit MAX_VALUE."""
    value = _encoded(account_id, signal, notes)
    if len(value) <= MAX_VALUE:
        return value
    short, long = 0, len(notes)  # the longest prefix that fits; escapes make the length grow unevenly
    while short < long:
        middle = (short + long + 1) // 2
        if len(_encoded(account_id, signal, notes[:middle].rstrip() + "…")) <= MAX_VALUE:
            short = middle
        else:
            long = middle - 1
    return _encoded(account_id, signal, notes[:short].rstrip() + "…")


def build_signal_suggestion(suggestion: Suggestion) -> Message:
    """Shown only to the message's author: the account and signal it heard, and a button that opens the upsell
    form prefilled (account, signal, the message as notes); the click is checked against the clicker."""
    name = escape(suggestion.account_name)
    text = (f":seedling: Sounds like *{name}* may be ready to grow ({SIGNAL_WORDS[suggestion.signal]}). "
            "Flag it as an upsell and the account's AE can pick it up with you.")
    button = ButtonElement(text="Flag as upsell", action_id=Action.suggest_upsell.value, style="primary",
                           value=suggestion_value(suggestion.account_id, suggestion.signal, suggestion.notes))
    return Message(text=f"{name} may be ready to grow: flag it as an upsell?", blocks=[
        section(text),
        ActionsBlock(elements=[button]),
        ContextBlock(elements=[MarkdownTextObject(text="Only you can see this suggestion.")]),
    ])
