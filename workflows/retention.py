"""The daily clean-up: delivery keys older than a week and sent updates older than a month are deleted, in
short write transactions, so the tables every request touches grow with the work of the month, not of years."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import partial

from sqlmodel import Session

from storage.db import transaction
from storage.retention import forget_delivery_keys, forget_messages, old_delivery_keys, old_sent_updates
from workflows.services import Services, WriteBudget

KEEP_DELIVERY_KEYS = timedelta(days=7)  # Slack retries within the hour; a double click within seconds
KEEP_SENT_UPDATES = timedelta(days=30)  # for looking into what the bot sent recently
PAGE = 500  # rows read per transaction; each transaction deletes what fits its write budget


def forget_old_rows(services: Services) -> dict[str, int]:
    """Delete what is no longer needed; returns how many of each were deleted."""
    now = services.clock()
    return {
        "delivery keys": _delete_in_batches(services, partial(old_delivery_keys, before=now - KEEP_DELIVERY_KEYS),
                                            forget_delivery_keys),
        "sent updates": _delete_in_batches(services, partial(old_sent_updates, before=now - KEEP_SENT_UPDATES),
                                           forget_messages),
    }


def _delete_in_batches(services: Services, find: Callable[..., list], forget: Callable[[Session, list], None]) -> int:
    """`find(session, limit=n)` names up to n rows to delete, oldest first; `forget` deletes them."""
    deleted = 0
    while True:
        with Session(services.engine) as session:  # a plain read: a day with nothing old takes no write lock
            if not find(session, limit=1):
                return deleted
        with transaction(services.engine) as session:
            budget, size = WriteBudget(services.engine), 50
            while True:  # one batch at least, however soon the budget is spent
                found = find(session, limit=size)
                if not found:
                    break
                forget(session, found)
                deleted += len(found)
                size = min(PAGE, size * 2)
                if budget.spent():
                    break
