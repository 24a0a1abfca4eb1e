"""Standard wording for rejections and lost deals: what the reviewer picks, and what is stored and shown.

Rejection wording is written for the partner and never names anyone: a conflict rejection says another
partner came first, not which one. A reviewer's own words may follow (checked in workflows/partner_names.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.models import ReviewKind
from workflows.services import WorkflowError


@dataclass(frozen=True)
class StandardReason:
    code: str  # the select option's value
    label: str  # what the select shows (Slack allows 75 characters)
    wording: str  # what is stored and, for rejections, what the partner reads


REJECT_REASONS = (
    StandardReason("existing_customer", "Already a customer or in an active deal",
                   "This company is already a customer or in an active sales cycle with our team."),
    StandardReason("not_a_fit", "Not a fit for our products",
                   "This opportunity is not a fit for our products at the moment."),
    StandardReason("needs_detail", "Not enough detail to confirm",
                   "We could not confirm the opportunity from the details given; please register it again "
                   "with more detail."),
    StandardReason("duplicate", "Duplicate of the partner's own registration",
                   "This duplicates a registration you already submitted."),
)
CONFLICT_REJECT_REASONS = (
    StandardReason("registered_first", "Another partner registered it first",
                   "Another partner registered this company first, and that registration is protected."),
    StandardReason("direct_deal", "Our team already works this account",
                   "Our team already has an open opportunity with this company."),
    StandardReason("duplicate", "Duplicate of the partner's own registration",
                   "This duplicates a registration you already submitted."),
    StandardReason("needs_detail", "Not enough detail to confirm",
                   "We could not confirm the opportunity from the details given; please register it again "
                   "with more detail."),
)
LOST_REASONS = (
    StandardReason("competitor", "Lost to a competitor", "Lost to a competitor"),
    StandardReason("no_budget", "No budget", "No budget"),
    StandardReason("no_decision", "No decision / went quiet", "No decision: the customer went quiet"),
    StandardReason("timing", "Postponed", "Postponed by the customer"),
    StandardReason("in_house", "Built it in-house", "The customer built it in-house"),
    StandardReason("not_a_fit", "Product not a fit", "Our product was not a fit"),
    StandardReason("other", "Other (say why below)", "Other"),
)
MAX_DETAILS = 1000


def reject_reasons(kind: ReviewKind | None) -> tuple[StandardReason, ...]:
    return CONFLICT_REJECT_REASONS if kind == ReviewKind.conflict else REJECT_REASONS


def compose_reason(choices: tuple[StandardReason, ...], code: str | None, details: str | None, *,
                   needs_details: frozenset[str] = frozenset()) -> str | None:
    """The standard wording of `code`, then the reviewer's own words; None when neither was given.

    Raises WorkflowError for a code that is not offered (a forged submission) or an option that asks for words.
    """
    details = (details or "").strip()
    if len(details) > MAX_DETAILS:
        raise WorkflowError(f"Keep it under {MAX_DETAILS} characters.")
    if not code:
        return details or None
    chosen = next((c for c in choices if c.code == code), None)
    if chosen is None:
        raise WorkflowError("Pick one of the reasons offered.")
    if code in needs_details and not details:
        raise WorkflowError(f"Say why: “{chosen.label}” needs a few words.")
    return f"{chosen.wording}\n{details}" if details else chosen.wording
