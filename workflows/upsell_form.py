"""The Flag an upsell form as typed input: its choices, limits and validation with one message per field.

Field names are the form's block ids (handlers/ids.py Block). What the form cannot know on its own (whether the
account is one the actor may see, whether the partner is attached to it, duplicates) is checked by
workflows/upsells.py in the transaction that stores the upsell, and refused on the same fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from storage.models import Recurrence, UpsellSignal
from workflows.lead_form import (
    MAX_PARTNER_ID_DIGITS,
    TIMELINES,
    LeadFormInvalid,
    amount_field,
    choice_field,
    optional_choice_field,
    stripped_texts,
)
from workflows.program import Program

SIGNALS = {
    UpsellSignal.plan_upgrade: "Plan upgrade",
    UpsellSignal.more_seats: "More seats or users",
    UpsellSignal.usage_growth: "Usage growth",
    UpsellSignal.new_product_line: "New product line",
    UpsellSignal.renewal_at_risk: "Renewal at risk",
}
RECURRENCES = {
    Recurrence.monthly: "Monthly recurring",
    Recurrence.one_time: "One-time",
}
MAX_NOTES = 3000
# A monthly amount this large is a yearly (or mistyped) figure: 100 million a month is 1.2 billion a year.
MAX_MONTHLY = Decimal("100000000")


class UpsellFormInvalid(LeadFormInvalid):
    """One message per field of the upsell form that needs fixing, keyed by its block id."""


@dataclass(frozen=True)
class UpsellInput:
    """A validated upsell flag, ready to be checked against the actor and stored."""

    account_id: int
    signal: UpsellSignal
    target: str
    expected_value: Decimal
    currency: str
    recurrence: Recurrence
    timeline: str  # "" when not given
    notes: str
    partner_id: int | None = None  # an internal user's choice of partner
    influenced: bool = False  # an internal user ticked "partner-influenced": any partner, asked in


def _id(raw: str, message: str, errors: dict[str, str], field: str) -> int | None:
    # "²".isdigit() is True too: only ASCII digits make an id.
    if raw.isascii() and raw.isdigit() and len(raw) <= MAX_PARTNER_ID_DIGITS and int(raw) > 0:
        return int(raw)
    errors[field] = message
    return None


def upsell_amount(raw: str | None, label: str, currency: str | None, recurrence: str | None,
                  errors: dict[str, str], field: str, *, or_else: str = "") -> Decimal | None:
    """An upsell's amount as typed (the expected value, or the final one when won), or None with the field's error
    in `errors`; a monthly one must look like a month's (`or_else` says what else the form allows)."""
    value = amount_field(raw, label, currency, errors, field)
    if value is not None and recurrence == Recurrence.monthly and value >= MAX_MONTHLY:
        errors[field] = f"That is more than 100 million a month: enter the monthly amount{or_else}."
        return None
    return value


def signal_label(signal: UpsellSignal | str) -> str:
    return SIGNALS.get(signal, str(signal).replace("_", " "))


def validate_upsell(fields: dict[str, str | None], program: Program, *, needs_partner: bool = False,
                    influenced: bool = False) -> UpsellInput:
    """Check a submitted upsell form; raises UpsellFormInvalid listing every field to fix.

    `needs_partner`: the form asked an internal user to choose the partner; `influenced`: they ticked
    "partner-influenced".
    """
    errors: dict[str, str] = {}
    text = stripped_texts(fields)
    account_id = _id(text.get("account", ""), "Choose the customer account (type to search).", errors, "account")
    signal = choice_field(text.get("signal"), [s.value for s in UpsellSignal], "signal", errors, "signal")
    target = choice_field(text.get("target"), program.upsell_targets, "target product line or plan", errors,
                          "target")
    currency = choice_field(text.get("currency"), program.currencies, "currency", errors, "currency")
    recurrence = choice_field(text.get("recurrence"), [r.value for r in Recurrence], "kind of revenue", errors,
                              "recurrence")
    value = upsell_amount(text.get("expected_value"), "expected additional value", currency, recurrence, errors,
                          "expected_value", or_else=", or choose One-time for a single payment")
    timeline = optional_choice_field(text.get("timeline"), TIMELINES, "timeline", errors, "timeline")
    notes = text.get("notes", "")
    if len(notes) > MAX_NOTES:
        errors["notes"] = f"Keep the notes under {MAX_NOTES} characters (they have {len(notes)})."
    partner_id = None
    if needs_partner:
        partner_id = _id(text.get("partner", ""), "Choose the partner you are flagging this upsell for.", errors,
                         "partner")
    if errors:
        raise UpsellFormInvalid(errors)
    return UpsellInput(account_id=account_id, signal=UpsellSignal(signal), target=target, expected_value=value,
                       currency=currency, recurrence=Recurrence(recurrence), timeline=timeline, notes=notes,
                       partner_id=partner_id, influenced=needs_partner and influenced)
