"""The CRM side of upsells: an accepted upsell becomes an expansion Opportunity through the CRM outbox.

`record_upsell_change` is called by the upsell workflow in the transaction that changes the upsell, as
registrations record theirs, so the CRM hears of every change that was committed and of nothing else. The rows
share the registrations' outbox (`crm_outbox.upsell_id`), so one drain, one backoff and `partnerbot crm status`
serve both; what each event writes is in `storage.crm.upsell_mapping`.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from storage.crm.upsell_mapping import UPSELL_EVENT_TARGETS
from storage.models import CrmOutbox, Upsell, utcnow

# What the upsell workflow reports: accepted (the Opportunity is created), won, lost, attribution (the partner
# joined an AE's partner-influenced upsell, or the attribution otherwise changed).
UPSELL_EVENTS = tuple(UPSELL_EVENT_TARGETS)
URGENT_UPSELL_EVENTS = frozenset({"accepted", "won"})  # as a registration's approval and win: sent over the threshold


def record_upsell_change(session: Session, upsell: Upsell, event: str, *, now: datetime | None = None) -> None:
    """Queue the CRM write for this change of `upsell` in the caller's transaction.

    The row is due from the change's time: `now` when given, else the upsell's `updated_at` (the workflow's clock
    sets it with the change).
    """
    if event not in UPSELL_EVENTS:
        raise ValueError(f"unknown upsell CRM event {event!r}")
    if upsell.id is None:
        session.add(upsell)
        session.flush()
    at = now or upsell.updated_at or utcnow()
    payload = {"status": str(upsell.status), "attribution": str(upsell.attribution)}  # StrEnums: their values
    session.add(CrmOutbox(upsell_id=upsell.id, event=event, urgent=event in URGENT_UPSELL_EVENTS, payload=payload,
                          created_at=at, next_attempt_at=at))
