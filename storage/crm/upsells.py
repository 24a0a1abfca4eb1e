"""The CRM side of upsells: an accepted upsell becomes an expansion Opportunity through the CRM outbox.

`record_upsell_change` is called by the upsell workflow in the transaction that changes the upsell, as
registrations record theirs, so the CRM hears of every change that was committed and of nothing else.
"""

from __future__ import annotations

from sqlmodel import Session

from storage.models import Upsell

# What the upsell workflow reports: accepted (the Opportunity is created), won, lost, attribution (the partner
# joined an AE's partner-influenced upsell, or the attribution otherwise changed).
UPSELL_EVENTS = ("accepted", "won", "lost", "attribution")


def record_upsell_change(session: Session, upsell: Upsell, event: str) -> None:
    """Queue the CRM write for this change of `upsell` in the caller's transaction."""
    if event not in UPSELL_EVENTS:
        raise ValueError(f"unknown upsell CRM event {event!r}")
    # Written by the CRM work on upsells (its own outbox rows, drained with the registrations').
