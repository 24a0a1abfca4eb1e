"""The CRM side of a partner's lifecycle: its stage and the day it entered it, on its Salesforce Account.

`record_partner_stage` is called in the transaction that changes the stage (workflows/lifecycle.py), so the CRM
hears of every change that was committed and of nothing else. The rows share the outbox with registrations and
upsells (`crm_outbox.partner_id`): one drain, one backoff, one `partnerbot crm status`. The values are read from
the partner when the row is drained, so several changes in a row make one write.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from storage.crm.mapping import ACCOUNT
from storage.models import CrmOutbox, Partner

STAGE = "stage"
PARTNER_EVENT_TARGETS: dict[str, frozenset[str]] = {STAGE: frozenset({ACCOUNT})}


def record_partner_stage(session: Session, partner: Partner, *, now: datetime) -> None:
    """Queue the partner's Account write for its new stage, in the caller's transaction."""
    if partner.id is None:
        session.add(partner)
        session.flush()
    payload = {"stage": str(partner.stage)}
    session.add(CrmOutbox(partner_id=partner.id, event=STAGE, payload=payload, created_at=now, next_attempt_at=now))
