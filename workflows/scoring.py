"""Lead scoring: 0-100 from fit, timing, form completeness and the partner's own lead-to-close record."""

from __future__ import annotations

from dataclasses import dataclass

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


def _completeness(lead: LeadInput) -> tuple[float, str]:
    checks = {
        "notes with context": len(lead.notes) >= 20,
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


def score_lead(lead: LeadInput, partner_record: dict[str, int], weights: ScoringWeights) -> Score:
    """Each part is a 0-1 share of its weight; the breakdown says why, for the AE."""
    fit = (SIZE_FIT[lead.company_size] + BUDGET_FIT[lead.budget]) / 2
    completeness, completeness_why = _completeness(lead)
    record, record_why = _partner_record(partner_record)
    parts = {
        "fit": (fit, weights.fit, f"size {lead.company_size}, budget {lead.budget}"),
        "timing": (TIMING[lead.timeline], weights.timing, f"timeline {lead.timeline}"),
        "completeness": (completeness, weights.completeness, completeness_why),
        "partner_record": (record, weights.partner_record, record_why),
    }
    breakdown = {
        name: {"points": round(share * weight), "max": weight, "why": why}
        for name, (share, weight, why) in parts.items()
    }
    total = min(100, sum(item["points"] for item in breakdown.values()))
    return Score(total=total, breakdown=breakdown)
