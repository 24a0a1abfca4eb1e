"""Partners never see each other's names: text a partner will read is checked for other partners' names."""

from __future__ import annotations

import re
import unicodedata

from sqlmodel import Session

from storage.models import Partner, Registration
from storage.reviews import partner_names
from workflows.normalize import LEGAL_SUFFIXES
from workflows.services import WorkflowError

# Words too common in partner names to identify one on their own ("Global Partners", "Digital Group").
GENERIC_WORDS = frozenset("""
    and for the our your partner partners consulting consultants solutions services service group global digital
    systems technologies technology tech software agency referral referrals reseller resellers network networks
    international labs media marketing cloud data first approved registered company customer customers deal
""".split())
MIN_WORD = 4


class NamesAnotherPartner(WorkflowError):
    """Text meant for one partner names another partner of the program."""


def _words(text: str) -> list[str]:
    """Lower-case words without accents; "northwind.io's" is northwind, io, s."""
    folded = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode("ascii").lower()
    return re.findall(r"[a-z0-9]+", folded)


def _marks(name: str, domain: str | None) -> list[tuple[str, ...]]:
    """What identifies a partner in free text: its whole name, its distinctive first word, its domain's name."""
    words = [w for w in _words(name) if w not in LEGAL_SUFFIXES] or _words(name)
    marks = [tuple(words)] if words else []
    if words and len(words[0]) >= MIN_WORD and words[0] not in GENERIC_WORDS:
        marks.append((words[0],))
    label = (domain or "").split(".")[0].lower()
    if len(label) >= MIN_WORD and label not in GENERIC_WORDS:
        marks.append((label,))
    return marks


def _contains(words: list[str], phrase: tuple[str, ...]) -> bool:
    size = len(phrase)
    return any(tuple(words[i:i + size]) == phrase for i in range(len(words) - size + 1))


def other_partner_named(session: Session, text: str | None, *, partner: Partner,
                        registration: Registration | None = None) -> str | None:
    """The name of another partner that `text` mentions, if any.

    Words of the registration's own company or the partner's own name never count: "Acme" in a reason about
    Acme is the customer, not a rival partner called Acme Partners.
    """
    words = _words(text or "")
    if not words:
        return None
    own = set(_words(partner.name))
    if registration is not None:
        own |= set(_words(registration.company)) | set(_words((registration.domain or "").split(".")[0]))
    for partner_id, name, domain in partner_names(session):
        if partner_id == partner.id:
            continue
        for mark in _marks(name, domain):
            if len(mark) == 1 and mark[0] in own:
                continue
            if _contains(words, mark):
                return name
    return None


def ensure_names_no_other_partner(session: Session, text: str | None, *, partner: Partner,
                                  registration: Registration | None = None) -> None:
    """Refuse partner-facing text that names another partner (the reviewer rewords it, or picks standard wording)."""
    named = other_partner_named(session, text, partner=partner, registration=registration)
    if named:
        raise NamesAnotherPartner(
            f"This names {named}, another partner: partners never see each other's names. "
            "Pick a standard reason or reword it.")
