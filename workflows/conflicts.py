"""Channel-conflict detection: the same company already protected by a registration, ours or another's."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from rapidfuzz import fuzz, process
from sqlmodel import Session

from storage.conflict_index import key_numbers
from storage.models import RegistrationStatus
from storage.queries import active_registrations_like, registrations_by_ids, similar_key_candidates
from workflows.program import Program
from workflows.services import ConflictEvidence

_SLACK = 1e-6  # rapidfuzz compares floats: a bound a hair looser than the cutoff never drops a true match


@dataclass(frozen=True)
class SimilarityBound:
    """What any key with fuzz.ratio(key, other) >= cutoff must satisfy: its length, and trigrams it shares.

    fuzz.ratio is 200*LCS/(la+lb), so LCS >= L = ceil(r*(la+lb)/2) and min(la, lb) >= L. Take one longest
    common subsequence: a trigram of `key` survives in `other` unless it holds one of the la-L unmatched
    characters of `key` (each is in at most 3 trigrams) or spans a gap where `other` has unmatched characters
    in between (at most lb-L gaps, each in at most 2 trigrams). So at least
    (la-2) - 3*(la-L) - 2*(lb-L) of key's trigram positions occur in `other`.
    """

    lengths: range
    trigrams: dict[str, int]  # distinct trigram -> how many positions of `key` it holds
    min_shared: dict[int, int]  # candidate length -> positions that must occur in it (only lengths where > 0)


def similarity_bound(key: str, cutoff: float) -> SimilarityBound:
    """The provably safe prefilter for keys at least `cutoff` (0-100) alike to `key` by fuzz.ratio."""
    r = cutoff / 100 - _SLACK
    la = len(key)
    lengths = [lb for lb in range(0, int(la * 2 / max(r, _SLACK)) + 2) if min(la, lb) >= _lcs_needed(r, la, lb)]
    trigrams = Counter(key[i:i + 3] for i in range(la - 2))
    min_shared = {}
    for lb in lengths:
        lcs = _lcs_needed(r, la, lb)
        need = (la - 2) - 3 * (la - lcs) - 2 * (lb - lcs)
        if need > 0:
            min_shared[lb] = need
    span = range(min(lengths), max(lengths) + 1) if lengths else range(0)
    return SimilarityBound(span, dict(trigrams), min_shared)


def _lcs_needed(r: float, la: int, lb: int) -> int:
    return max(0, math.ceil(r * (la + lb) / 2))


def find_conflicts(
    session: Session, *, domain: str | None, key: str, program: Program, now: datetime, exclude_id: int | None = None
) -> list[ConflictEvidence]:
    """Exact domain or normalised-name matches, then names similar above the program's threshold."""
    window = program.protection_window_days
    exact = active_registrations_like(session, domain=domain, key=key, now=now, window_days=window,
                                      exclude_id=exclude_id)
    matched = {r.id: ("same domain" if domain and r.domain == domain else "same company name") for r in exact}
    cutoff = program.conflict.name_similarity * 100
    # The database narrows the protected keys to those with the same numbers ("Studio 1" and "Studio 2" are
    # different companies) that can reach the cutoff; rapidfuzz decides.
    candidates = similar_key_candidates(session, numbers=key_numbers(key), bound=similarity_bound(key, cutoff),
                                        now=now, window_days=window)
    keys = {rid: k for rid, k in candidates if rid not in matched and rid != exclude_id}
    for _other, similarity, rid in process.extract(key, keys, scorer=fuzz.ratio, score_cutoff=cutoff, limit=20):
        matched[rid] = f"similar company name ({similarity:.0f}% alike)"
    return [ConflictEvidence(registration=r, partner=p, match=matched[r.id])
            for r, p in registrations_by_ids(session, list(matched))]


def approved_winners(conflicts: list[ConflictEvidence], partner_id: int) -> list[ConflictEvidence]:
    """Approved registrations of other partners: by default the first approved registration wins."""
    return [c for c in conflicts
            if c.registration.status == RegistrationStatus.approved and c.registration.partner_id != partner_id]
