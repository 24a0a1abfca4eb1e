"""Lead scoring: 0-100 from fit, timing, form completeness and the partner's own lead-to-close record.

Details left out of the optional second step count as nothing, and the breakdown says what each would add
(`raise`, e.g. "add the timeline: up to +25"), so a reviewer knows what to ask the partner for.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from workflows.lead_form import LeadInput
from workflows.program import ScoringWeights

SIZE_FIT = {"1-10": 0.2, "11-50": 0.5, "51-200": 0.8, "201-1000": 1.0, "1001-5000": 1.0, "5000+": 0.9}
BUDGET_FIT = {"approved": 1.0, "identified": 0.7, "exploring": 0.4, "none": 0.1}
TIMING = {"0-1m": 1.0, "1-3m": 0.8, "3-6m": 0.6, "6-12m": 0.3, "12m+": 0.1}
MIN_CLOSED_FOR_RECORD = 3


@dataclass(frozen=True)
class Score:
    total: int
    breakdown: dict[str, dict]


NOTES_WITH_CONTEXT = 20  # characters
# What a reviewer could ask the partner for: (breakdown part, what to add, the lead with its best value).
IMPROVEMENTS = (
    ("fit", "the company size", lambda lead: not lead.company_size,
     lambda lead: replace(lead, company_size=max(SIZE_FIT, key=SIZE_FIT.get))),
    ("fit", "the budget", lambda lead: not lead.budget,
     lambda lead: replace(lead, budget=max(BUDGET_FIT, key=BUDGET_FIT.get))),
    ("timing", "the timeline", lambda lead: not lead.timeline,
     lambda lead: replace(lead, timeline=max(TIMING, key=TIMING.get))),
    ("completeness", "notes with context", lambda lead: len(lead.notes) < NOTES_WITH_CONTEXT,
     lambda lead: replace(lead, notes="x" * NOTES_WITH_CONTEXT)),
)


def _completeness(lead: LeadInput) -> tuple[float, str]:
    checks = {
        "notes with context": len(lead.notes) >= NOTES_WITH_CONTEXT,
        "contact's full name": len(lead.contact_name.split()) >= 2,
        "contact email at the company's domain": lead.contact_email.lower().endswith("@" + lead.domain),
    }
    missing = [name for name, ok in checks.items() if not ok]
    share = 1 - len(missing) / len(checks)
    return share, "all details given" if not missing else "missing " + ", ".join(missing)


def _partner_record(record: dict[str, int]) -> tuple[float, str]:
    won = record.get("won", 0)
    decided = won + record.get("lost", 0) + record.get("rejected", 0)
    if decided < MIN_CLOSED_FOR_RECORD:
        return 0.5, f"too few closed leads to judge ({decided}), counted as average"
    ratio = won / decided
    return ratio, f"lead-to-close {ratio:.0%} ({won} won of {decided})"


def _points(lead: LeadInput, partner_record: dict[str, int], weights: ScoringWeights) -> dict[str, dict]:
    fit = (SIZE_FIT.get(lead.company_size, 0.0) + BUDGET_FIT.get(lead.budget, 0.0)) / 2
    completeness, completeness_why = _completeness(lead)
    record, record_why = _partner_record(partner_record)
    parts = {
        "fit": (fit, weights.fit, f"size {lead.company_size or 'not given'}, budget {lead.budget or 'not given'}"),
        "timing": (TIMING.get(lead.timeline, 0.0), weights.timing, f"timeline {lead.timeline or 'not given'}"),
        "completeness": (completeness, weights.completeness, completeness_why),
        "partner_record": (record, weights.partner_record, record_why),
    }
    return {name: {"points": round(share * weight), "max": weight, "why": why}
            for name, (share, weight, why) in parts.items()}


def score_lead(lead: LeadInput, partner_record: dict[str, int], weights: ScoringWeights) -> Score:
    """Each part is a 0-1 share of its weight; the breakdown says why, and what would raise it, for the AE."""
    breakdown = _points(lead, partner_record, weights)
    for part, what, missing, best in IMPROVEMENTS:
        if not missing(lead):
            continue
        gain = _points(best(lead), partner_record, weights)[part]["points"] - breakdown[part]["points"]
        if gain > 0:
            breakdown[part].setdefault("raise", []).append(f"add {what}: up to +{gain}")
    total = min(100, sum(item["points"] for item in breakdown.values()))
    return Score(total=total, breakdown=breakdown)


def score_hints(breakdown: dict[str, dict]) -> list[str]:
    """What would raise a stored score, in breakdown order ("add the timeline: up to +25")."""
    return [hint for item in breakdown.values() if isinstance(item, dict) for hint in item.get("raise", [])]
