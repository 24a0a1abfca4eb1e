"""The fuzzy conflict prefilter never drops a match the full scan of protected keys would have found."""

from __future__ import annotations

import random
import string
from datetime import timedelta
from decimal import Decimal

import pytest
from rapidfuzz import fuzz, process
from sqlalchemy import insert
from sqlmodel import Session, select

from storage.conflict_index import PROTECTING_STATUSES, index_unindexed, key_numbers
from storage.models import Partner, PartnerType, PricingModel, Registration, RegistrationStatus
from storage.queries import _protecting
from workflows.conflicts import find_conflicts, similarity_bound
from workflows.normalize import company_key
from workflows.program import ConflictRules, Program

WORDS = ["acme", "globex", "initech", "umbrella", "stark", "wayne", "soylent", "tyrell", "cyberdyne", "hooli",
         "pied", "piper", "vandelay", "industries", "systems", "software", "labs", "data", "cloud", "north",
         "müller", "société", "générale", "zürich", "ødegaard", "straße", "x", "ab", "io", "ai"]


def typo(rng: random.Random, text: str) -> str:
    """One random insertion, deletion, substitution or swap."""
    if not text:
        return rng.choice(string.ascii_lowercase)
    i = rng.randrange(len(text))
    c = rng.choice(string.ascii_lowercase + "0123456789 ")
    return rng.choice([text[:i] + c + text[i:], text[:i] + text[i + 1:], text[:i] + c + text[i + 1:],
                       text[:i] + text[i + 1:i + 2] + text[i:i + 1] + text[i + 2:]])


def random_names(rng: random.Random, count: int) -> list[str]:
    """Company names with near-duplicates, typos, numbers, legal forms, short names and accents."""
    names: list[str] = []
    while len(names) < count:
        if names and rng.random() < 0.4:
            name = rng.choice(names)
            for _ in range(rng.choice([1, 1, 2, 3])):
                name = typo(rng, name)
        else:
            name = " ".join(rng.choice(WORDS) for _ in range(rng.choice([1, 1, 2, 2, 3])))
            if rng.random() < 0.2:
                name += f" {rng.randrange(1, 30)}"
            if rng.random() < 0.2:
                name += rng.choice([" Inc.", " GmbH", " & Co", " S.A."])
        names.append(name)
    return names


def full_scan_conflicts(session, *, domain, key, program, now, exclude_id=None):
    """The algorithm before the prefilter: every protecting key scored in Python (by id, to break ties)."""
    window = program.protection_window_days
    from storage.queries import active_registrations_like
    exact = active_registrations_like(session, domain=domain, key=key, now=now, window_days=window,
                                      exclude_id=exclude_id)
    matched = {r.id: ("same domain" if domain and r.domain == domain else "same company name") for r in exact}
    rows = session.exec(select(Registration.id, Registration.company_key)
                        .where(_protecting(now, window)).order_by(Registration.id)).all()
    # Names whose numbers differ are different companies: never similar, so never taking one of the 20 places.
    keys = {rid: k for rid, k in rows if rid not in matched and rid != exclude_id
            and key_numbers(k) == key_numbers(key)}
    cutoff = program.conflict.name_similarity * 100
    for _other, similarity, rid in process.extract(key, keys, scorer=fuzz.ratio, score_cutoff=cutoff, limit=20):
        matched[rid] = f"similar company name ({similarity:.0f}% alike)"
    return sorted(matched.items())


@pytest.mark.parametrize("cutoff", [50, 70, 80, 85, 90, 95, 100])
def test_every_pair_that_similar_passes_the_bound(cutoff):
    rng = random.Random(cutoff)
    keys = [company_key(n) for n in random_names(rng, 600)] + ["", "a", "ab", "aaaa", "aaaaaaab", "abab abab"]
    for a in keys:
        bound = similarity_bound(a, cutoff)
        for b in keys:
            if fuzz.ratio(a, b) < cutoff:
                continue
            assert len(b) in bound.lengths, (a, b)
            shared = sum(n for t, n in bound.trigrams.items() if t in b)
            assert shared >= bound.min_shared.get(len(b), 0), (a, b)


def _store(engine, now, keys: list[str], rng: random.Random) -> None:
    with Session(engine) as session:
        partner = Partner(name="Prefilter Partners", type=list(PartnerType)[0])
        session.add(partner)
        session.commit()
        partner_id = partner.id
    statuses = [RegistrationStatus.approved, RegistrationStatus.received, RegistrationStatus.under_review,
                RegistrationStatus.expired, RegistrationStatus.rejected]
    rows = []
    for i, key in enumerate(keys):
        status = rng.choice(statuses)
        created = now - timedelta(days=rng.randrange(0, 200))
        rows.append(dict(
            partner_id=partner_id, submitted_by_slack_id="U1", company=key or "?", company_key=key,
            domain=f"d{i % 500}.com" if rng.random() < 0.3 else None, contact_name="C", contact_email="c@x.io",
            region="EMEA", product_line="core", estimated_value=Decimal(1), currency="USD",
            pricing_model=PricingModel.subscription, company_size="1-10", budget="yes", timeline="now",
            status=status, conflict_with=[], score_breakdown={}, created_at=created, updated_at=created,
            protection_expires_at=(created + timedelta(days=rng.choice([30, 90, 180]))
                                   if status == RegistrationStatus.approved else None)))
    with Session(engine) as session:
        session.exec(insert(Registration), params=rows)
        assert index_unindexed(session) == sum(row["status"] in PROTECTING_STATUSES for row in rows)
        session.commit()


@pytest.mark.parametrize("similarity", [0.6, 0.85, 0.9])
def test_prefiltered_conflicts_equal_the_full_scan(engine, now, similarity):
    rng = random.Random(7)
    names = random_names(rng, 3000)
    _store(engine, now, [company_key(n) for n in names], rng)
    program = Program(conflict=ConflictRules(name_similarity=similarity))
    similar = 0
    with Session(engine) as session:
        for name in rng.sample(names, 150) + ["Acme", "X", "", "Zurich Data 12", "acme  inc"]:
            key = company_key(name)
            domain = f"d{rng.randrange(600)}.com"
            exclude = rng.choice([None, rng.randrange(1, 3000)])
            got = find_conflicts(session, domain=domain, key=key, program=program, now=now, exclude_id=exclude)
            want = full_scan_conflicts(session, domain=domain, key=key, program=program, now=now,
                                       exclude_id=exclude)
            assert sorted((c.registration.id, c.match) for c in got) == want, key
            similar += sum(match.startswith("similar") for _, match in want)
    assert similar > 20  # the data really has near-duplicates for the prefilter to keep
