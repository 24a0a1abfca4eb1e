"""Approval SLA: remind the reviewer of a registration waiting longer than the program allows."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from storage.db import insert_once
from storage.models import Reminder
from storage.queries import reviews_waiting_since
from workflows.services import Services


def remind_overdue_reviews(services: Services) -> int:
    """Once per SLA period overdue: the reviewer is reminded; from the second period, the partner's manager too."""
    now = services.clock()
    sla = timedelta(hours=services.program.approval_sla_hours)
    with Session(services.engine) as session:
        overdue = reviews_waiting_since(session, now - sla)
    sent = 0
    for registration, partner in overdue:
        periods = int((now - registration.updated_at) / sla)
        hours = int((now - registration.updated_at).total_seconds() // 3600)
        recipients = [registration.assigned_to_slack_id]
        if periods >= 2 and partner.manager_slack_id:
            recipients.append(partner.manager_slack_id)
        for recipient in dict.fromkeys(r for r in recipients if r):
            key = f"review-sla:{registration.id}:{recipient}:{registration.updated_at:%Y%m%d%H%M%S}:{periods}"
            # The reminder and the message it owes are stored together: a second run finds the key taken.
            if not insert_once(services.engine, Reminder(key=key, sent_at=now), also=lambda session: (
                    services.notifier.review_overdue(session, registration, partner, recipient=recipient,
                                                     hours_waiting=hours, key=key))):
                continue
            sent += 1
    services.kick()
    return sent
