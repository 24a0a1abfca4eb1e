"""Channel-conflict detection: the same company already protected by a registration, ours or another's."""

from __future__ import annotations

import re
from datetime import datetime

from rapidfuzz import fuzz, process
from sqlmodel import Session

from storage.models import RegistrationStatus
from storage.queries import active_company_keys, active_registrations_like, registrations_by_ids
from workflows.program import Program
from workflows.services import ConflictEvidence


def find_conflicts(
    session: Session, *, domain: str | None, key: str, program: Program, now: datetime, exclude_id: int | None = None
) -> list[ConflictEvidence]:
    """Exact domain or normalised-name matches, then names similar above the program's threshold."""
    window = program.protection_window_days
    exact = active_registrations_like(session, domain=domain, key=key, now=now, window_days=window,
                                      exclude_id=exclude_id)
    matched = {r.id: ("same domain" if domain and r.domain == domain else "same company name") for r in exact}
    keys = {rid: k for rid, k in active_company_keys(session, now=now, window_days=window)
            if rid not in matched and rid != exclude_id}
    cutoff = program.conflict.name_similarity * 100
    for other, similarity, rid in process.extract(key, keys, scorer=fuzz.ratio, score_cutoff=cutoff, limit=20):
        if _numbers(other) == _numbers(key):  # "Studio 1" and "Studio 2" are different companies
            matched[rid] = f"similar company name ({similarity:.0f}% alike)"
    return [ConflictEvidence(registration=r, partner=p, match=matched[r.id])
            for r, p in registrations_by_ids(session, list(matched))]


def _numbers(key: str) -> list[str]:
    return re.findall(r"\d+", key)


def approved_winners(conflicts: list[ConflictEvidence], partner_id: int) -> list[ConflictEvidence]:
    """Approved registrations of other partners: by default the first approved registration wins."""
    return [c for c in conflicts
            if c.registration.status == RegistrationStatus.approved and c.registration.partner_id != partner_id]
