"""Expansion signals (opt-in, `signals:` in the program file).

A person's message in a partner's shared channel that says a signal phrase ("more seats", "hitting the limit")
and names one of the customer accounts attached to that partner earns its author one private suggestion to flag
an upsell, at most `per_account_per_day` per account and UTC day. The listener reads, decides and takes the day's
slot here, then sends the suggestion itself; nothing of the message is stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timezone
from functools import lru_cache

from sqlmodel import Session

from storage.accounts import account_for_actor
from storage.actors import Actor, resolve_actor
from storage.db import transaction
from storage.models import UpsellSignal
from storage.queries import claim_request
from storage.signals import NamedAccount, channel_accounts, claim_slot, has_free_slot, release_slot
from workflows.normalize import LEGAL_SUFFIXES, InvalidDomain, company_key, normalize_domain
from workflows.services import Services

# A phrase's words decide its signal, the first rule that has one of them; a phrase with none of them (such as
# "expand") means a plan upgrade, unless a more telling phrase is in the same message.
SIGNAL_RULES: tuple[tuple[UpsellSignal, frozenset[str]], ...] = (
    (UpsellSignal.more_seats, frozenset("seat seats license licenses licence licences user users headcount"
                                        .split())),
    (UpsellSignal.usage_growth, frozenset("limit limits usage quota quotas capacity overage volume".split())),
    (UpsellSignal.renewal_at_risk, frozenset("renewal renew churn cancel cancelling canceling".split())),
    (UpsellSignal.new_product_line, frozenset("product products module modules add-on add-ons addon addons"
                                              .split())),
    (UpsellSignal.plan_upgrade, frozenset("upgrade upgrading plan plans tier enterprise".split())),
)
DEFAULT_SIGNAL = UpsellSignal.plan_upgrade
MAX_CANDIDATES = 3  # the best-named accounts of one message checked against its author and the day's slots
MAX_DOMAINS = 20  # domain-like words of one message looked at
# `acme.com`, `app.acme.co.uk`, `jane@acme.com`, `https://acme.com/x`: a dotted name ending in letters.
DOMAIN_LIKE = re.compile(r"(?<![\w-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{1,62}(?![\w-])",
                         re.IGNORECASE)


@dataclass(frozen=True)
class ChannelMessage:
    """A person's message in a channel as the listener read it; `text` is plain (Slack's markup resolved)."""

    channel_id: str
    user_id: str
    team_id: str | None
    text: str
    thread_ts: str | None = None  # the thread it replies in, where the suggestion goes too
    event_id: str | None = None


@dataclass(frozen=True)
class Suggestion:
    """A private suggestion owed to a message's author; `slot_key` names the day's slot it took."""

    channel_id: str
    user_id: str
    thread_ts: str | None
    account_id: int
    account_name: str
    signal: UpsellSignal
    notes: str
    slot_key: str


@lru_cache(maxsize=8)
def phrase_pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    """Any of the phrases as whole words, in any case, with any spacing between their words; longest first."""
    alternatives = sorted({" ".join(p.lower().split()) for p in phrases if p.strip()}, key=lambda p: (-len(p), p))
    body = "|".join(r"\s+".join(re.escape(word) for word in phrase.split()) for phrase in alternatives)
    if not body:
        return re.compile(r"(?!)")  # no phrases: nothing matches
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)


def phrase_signal(phrase: str, product_lines: tuple[str, ...] = ()) -> UpsellSignal | None:
    """The signal a phrase tells by its words (a product line's name: a new product line); None if it tells none."""
    folded = " ".join(phrase.lower().split())
    if any(folded == line.lower() for line in product_lines):
        return UpsellSignal.new_product_line
    words = set(re.findall(r"[\w-]+", folded))
    return next((signal for signal, cues in SIGNAL_RULES if words & cues), None)


def signal_in(text: str, phrases: tuple[str, ...], product_lines: tuple[str, ...] = ()) -> UpsellSignal | None:
    """The signal a message says: its first phrase that tells one, else the default if it says any phrase."""
    if not phrases:
        return None
    found = None
    for match in phrase_pattern(tuple(phrases)).finditer(text):
        signal = phrase_signal(match.group(0), product_lines)
        if signal is not None:
            return signal
        found = DEFAULT_SIGNAL
    return found


def _word_runs(text: str) -> tuple[str, str]:
    """The message's words as company_key folds them, padded with spaces for whole-word search: all of them,
    and without legal forms (a name is keyed without them, wherever they were)."""
    words = " ".join(company_key(token) for token in text.split()).split()
    kept = [word for word in words if word not in LEGAL_SUFFIXES]
    return f" {' '.join(words)} ", f" {' '.join(kept)} "


def domains_in(text: str) -> set[str]:
    """The registrable domains a message names (`https://app.acme.com/x` and `jane@acme.com` name acme.com)."""
    found: set[str] = set()
    for match in list(DOMAIN_LIKE.finditer(text))[:MAX_DOMAINS]:
        try:
            found.add(normalize_domain(match.group(0)))
        except InvalidDomain:
            continue
    return found


def named_accounts(text: str, accounts: list[NamedAccount]) -> list[NamedAccount]:
    """The accounts a message names, by domain or by name as whole words, the most precisely named first: by
    domain, then by the longest name (a message about "Acme Analytics" names it before "Acme")."""
    if not accounts:
        return []
    every, kept = _word_runs(text)
    domains = domains_in(text)
    named = [a for a in accounts
             if (a.domain and a.domain.lower() in domains)
             or (a.name_key and (f" {a.name_key} " in every or f" {a.name_key} " in kept))]
    return sorted(named, key=lambda a: (not (a.domain and a.domain.lower() in domains),
                                        -len(a.name_key.split()), -len(a.name_key), a.account_id))


def may_be_suggested(author: Actor, partner_id: int) -> bool:
    """Our own team, or the people of the partner whose channel it is; never a third organisation's people."""
    return author.is_internal or (author.is_partner and author.partner_id == partner_id)


def claim_suggestion(services: Services, message: ChannelMessage) -> Suggestion | None:
    """Decide whether a message earns its author a suggestion and take the day's slot for it (the caller sends
    it). None when signals are off, the message says no phrase, names none of the channel partner's accounts its
    author may see, the day's suggestions for them are used up, or this delivery was handled already.

    A message without a phrase costs no query; one with a phrase, one indexed read of the partner's accounts.
    """
    rules = services.program.signals
    if not rules.enabled:
        return None
    signal = signal_in(message.text, rules.phrases, services.program.product_lines)
    if signal is None:
        return None
    now = services.clock()
    day = now.astimezone(timezone.utc).date()  # the per-day limit counts UTC days
    with Session(services.engine) as session:
        named = named_accounts(message.text, channel_accounts(session, message.channel_id))
        if not named:
            return None
        author = resolve_actor(session, user_id=message.user_id, team_id=message.team_id,
                               our_team_id=services.our_team_id)
        if not may_be_suggested(author, named[0].partner_id):
            return None
        chosen = next((a for a in named[:MAX_CANDIDATES]
                       if account_for_actor(session, a.account_id, author) is not None
                       and has_free_slot(session, a.account_id, day, rules.per_account_per_day)), None)
    if chosen is None:
        return None
    with transaction(services.engine) as session:
        if message.event_id and not claim_request(session, message.event_id, now):
            return None  # Slack's retry of a delivery already handled
        key = claim_slot(session, chosen.account_id, day, now, rules.per_account_per_day)
    if key is None:
        return None  # another delivery took the last slot in between
    return Suggestion(channel_id=message.channel_id, user_id=message.user_id, thread_ts=message.thread_ts,
                      account_id=chosen.account_id, account_name=chosen.name, signal=signal, notes=message.text,
                      slot_key=key)


def release_suggestion(services: Services, suggestion: Suggestion) -> None:
    """Slack refused the suggestion, so nobody saw it: its slot is free again for a later message."""
    with transaction(services.engine) as session:
        release_slot(session, suggestion.slot_key)
