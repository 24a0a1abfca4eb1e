"""Queries of expansion signals: the customer accounts a partner's channel may name, and the daily suggestion slots.

A slot is a row in the Reminder table under a unique key (account, UTC day, slot number), inserted in the
transaction that decides to suggest: two deliveries of one message, or two processes, can never both take it.
Nothing of the message itself is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from storage.models import AccountPartner, CustomerAccount, Partner, Reminder
from storage.queries import reminder_keys_sent


@dataclass(frozen=True)
class NamedAccount:
    """What a message can name an account by: its name (as company_key keys it) and its domain."""

    partner_id: int
    account_id: int
    name: str
    name_key: str
    domain: str | None


def channel_accounts(session: Session, channel_id: str) -> list[NamedAccount]:
    """The accounts attached to the partner whose shared channel this is (none for any other channel), in one
    query by index: the partner by its channel, its accounts by (partner_id, account_id)."""
    partner = select(func.min(Partner.id)).where(Partner.slack_channel_id == channel_id).scalar_subquery()
    query = (select(AccountPartner.partner_id, CustomerAccount.id, CustomerAccount.name, CustomerAccount.name_key,
                    CustomerAccount.domain)
             .join(CustomerAccount, CustomerAccount.id == AccountPartner.account_id)
             .where(AccountPartner.partner_id == partner))
    return [NamedAccount(*row) for row in session.exec(query).all()]


def slot_keys(account_id: int, day: date, per_day: int) -> list[str]:
    """The keys of an account's suggestion slots on one UTC day."""
    return [f"signal:{account_id}:{day.isoformat()}:{slot}" for slot in range(1, per_day + 1)]


def has_free_slot(session: Session, account_id: int, day: date, per_day: int) -> bool:
    keys = slot_keys(account_id, day, per_day)
    return len(reminder_keys_sent(session, keys)) < len(keys)


def claim_slot(session: Session, account_id: int, day: date, now: datetime, per_day: int) -> str | None:
    """Take the account's first free slot of the day; its key, or None when all are taken.

    Each insert is a savepoint: a concurrent transaction that took the same slot first (PostgreSQL) fails only
    that insert, and the next slot is tried.
    """
    keys = slot_keys(account_id, day, per_day)
    taken = reminder_keys_sent(session, keys)
    for key in keys:
        if key in taken:
            continue
        try:
            with session.begin_nested():
                session.add(Reminder(key=key, sent_at=now))
        except IntegrityError:
            continue
        return key
    return None


def release_slot(session: Session, key: str) -> None:
    """Give a slot back (its suggestion never reached anyone)."""
    session.exec(delete(Reminder).where(Reminder.key == key))
