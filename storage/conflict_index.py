"""The trigram index of protected company keys: fuzzy conflict candidates found by the database.

A registration is in the index while its status protects a company (approved, or open and waiting for a
decision): `change_status` keeps that true on every status change. Whether its protection window is still
running is checked when reading, so a lapsed registration that the expiry job has not reached yet costs a
few index rows, never a wrong answer.

Candidates are the keys with the same numbers as the key checked (names whose numbers differ are different
companies) that share enough trigram positions with it (the bound is workflows.conflicts.SimilarityBound):
counted in one grouped index scan over the keys of a possible length, the same statement on SQLite and
PostgreSQL. Leading with the numbers keeps that scan to the keys that could match at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from sqlalchemy import case, delete, func, select as sa_select, union_all
from sqlmodel import Session, select

from storage.at_commit import insert_rows_at_commit
from storage.models import OPEN_STATUSES, ConflictTrigram, Registration, RegistrationStatus

PROTECTING_STATUSES = frozenset((*OPEN_STATUSES, RegistrationStatus.approved))
ID_CHUNK = 5_000  # ids per IN list: well under SQLite's limit of bound parameters
LENGTH_ROW = -1  # every indexed key has this row, so keys of any length can be found without trigrams
NUMBERS = re.compile(r"\d+")


def key_numbers(key: str) -> str:
    """The numbers in a company key, in order ("" for none): keys whose numbers differ never conflict."""
    return " ".join(NUMBERS.findall(key))


def trigram_code(trigram: str) -> int:
    """Three code points (each under 2**21) packed into one non-negative 63-bit integer."""
    code = 0
    for character in trigram:
        code = (code << 21) | ord(character)
    return code


def trigram_rows(registration_id: int, key: str) -> list[dict[str, int]]:
    """The index rows of one key: its distinct trigrams and its length row."""
    codes = {trigram_code(key[i:i + 3]) for i in range(len(key) - 2)} | {LENGTH_ROW}
    numbers = key_numbers(key)
    return [{"numbers": numbers, "trigram": code, "key_length": len(key), "registration_id": registration_id}
            for code in codes]


def index_keys(session: Session, keys: Iterable[tuple[int, str]], *, new: bool = False) -> None:
    """(Re)index these registrations' keys: for a new protecting status, or a key that changed. `new`: the
    registrations were inserted in this transaction, so there are no rows of theirs to remove first."""
    keys = list(keys)
    if not keys:
        return
    if not new:
        unindex(session, [registration_id for registration_id, _ in keys])
    rows = [row for registration_id, key in keys for row in trigram_rows(registration_id, key)]
    insert_rows_at_commit(session, ConflictTrigram.__table__, rows)


def unindex(session: Session, registration_ids: list[int]) -> None:
    if registration_ids:
        session.execute(delete(ConflictTrigram).where(ConflictTrigram.registration_id.in_(registration_ids)))


def follow_status(session: Session, registration: Registration, previous: RegistrationStatus | None) -> None:
    """Called on every status change: keys enter the index when they start protecting and leave when they stop."""
    protects, protected = registration.status in PROTECTING_STATUSES, previous in PROTECTING_STATUSES
    if protects and not protected:
        index_keys(session, [(registration.id, registration.company_key)], new=previous is None)
    elif protected and not protects:
        unindex(session, [registration.id])


def candidate_keys(session: Session, *, numbers: str, bound, protecting) -> list[tuple[int, str]]:
    """(id, company_key) of protecting registrations with these `numbers` whose keys pass `bound`, by id;
    `protecting` is the WHERE clause of registrations still protecting now (storage.queries). A superset: the
    caller scores them.
    """
    table = ConflictTrigram.__table__.c
    loose = [length for length in bound.lengths if length not in bound.min_shared]
    parts = []
    if loose:  # any key of these lengths may be similar enough: their length rows find them
        parts.append(sa_select(table.registration_id).where(table.numbers == numbers, table.trigram == LENGTH_ROW,
                                                            table.key_length.in_(loose)))
    if bound.min_shared:  # keys sharing enough trigram positions for their length
        # Counting distinct shared trigrams is cheaper than weighing each by its positions in `key`; a trigram
        # `key` holds n times adds at most n-1 positions more, so that slack keeps the test a superset.
        slack = sum(count - 1 for count in bound.trigrams.values())
        need = case(bound.min_shared, value=func.min(table.key_length))
        parts.append(sa_select(table.registration_id)
                     .where(table.numbers == numbers,
                            table.trigram.in_([trigram_code(trigram) for trigram in bound.trigrams]),
                            table.key_length.in_(list(bound.min_shared)))
                     .group_by(table.registration_id)
                     .having(func.count() + slack >= need))
    if not parts:
        return []
    # Two statements, not a join: planners guess the grouped candidates far too many and then read every
    # protected registration to join them (PostgreSQL did, at 140 ms for 91 candidates).
    ids = sorted(set(session.execute(parts[0] if len(parts) == 1 else union_all(*parts)).scalars()))
    found = []
    for start in range(0, len(ids), ID_CHUNK):
        chunk = ids[start:start + ID_CHUNK]
        found += session.exec(select(Registration.id, Registration.company_key)
                              .where(Registration.id.in_(chunk), protecting).order_by(Registration.id)).all()
    return found


def unindexed_protecting(session: Session, *, limit: int = 10) -> list[int]:
    """Registrations with a protecting status missing from the index (`doctor` reports them): never any."""
    indexed = (sa_select(ConflictTrigram.registration_id)
               .where(ConflictTrigram.registration_id == Registration.id, ConflictTrigram.trigram == LENGTH_ROW))
    query = (select(Registration.id)
             .where(Registration.status.in_(PROTECTING_STATUSES), ~indexed.exists()).limit(limit))
    return list(session.exec(query).all())


def index_unindexed(session: Session, *, batch: int = 5_000) -> int:
    """Index every protecting-status registration missing from the index: for rows stored in bulk, bypassing
    `change_status` (benchmarks, tests, repairs). Returns how many were indexed."""
    done = 0
    while ids := unindexed_protecting(session, limit=batch):
        keys = session.exec(select(Registration.id, Registration.company_key).where(Registration.id.in_(ids))).all()
        index_keys(session, keys)
        done += len(ids)
    return done
