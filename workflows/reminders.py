"""Approval SLA: remind the reviewer of a registration waiting longer than the program allows."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from storage.db import transaction
from storage.models import Partner, Registration, Reminder
from storage.queries import reminder_keys_sent, reviews_waiting_since
from workflows.services import Services

BATCH = 200  # overdue reviews per transaction: the write lock is held for a page, never for the whole backlog


def remind_overdue_reviews(services: Services) -> int:
    """Once per SLA period overdue: the reviewer is reminded; from the second period, the partner's manager too."""
    now = services.clock()
    sla = timedelta(hours=services.program.approval_sla_hours)
    with Session(services.engine) as session:  # a plain read: a run with nothing overdue takes no write lock
        if not reviews_waiting_since(session, now - sla, limit=1):
            return 0
    sent, after = 0, None
    while True:
        with transaction(services.engine) as session:
            page = reviews_waiting_since(session, now - sla, after=after, limit=BATCH)
            sent += _remind_page(session, services, page, now=now, sla=sla)
        services.kick()  # this page's messages go out while the next one is written
        if len(page) < BATCH:
            return sent
        after = (page[-1][0].updated_at, page[-1][0].id)


def _remind_page(session: Session, services: Services, page: list[tuple[Registration, Partner]], *,
                 now: datetime, sla: timedelta) -> int:
    owed = []
    for registration, partner in page:
        periods = int((now - registration.updated_at) / sla)
        hours = int((now - registration.updated_at).total_seconds() // 3600)
        recipients = [registration.assigned_to_slack_id]
        if periods >= 2 and partner.manager_slack_id:
            recipients.append(partner.manager_slack_id)
        for recipient in dict.fromkeys(r for r in recipients if r):
            key = f"review-sla:{registration.id}:{recipient}:{registration.updated_at:%Y%m%d%H%M%S}:{periods}"
            owed.append((key, registration, partner, recipient, hours))
    already = reminder_keys_sent(session, [key for key, *_ in owed])
    sent = 0
    for key, registration, partner, recipient, hours in owed:
        if key in already:
            continue
        try:
            # The reminder and the message it owes are stored together; a run racing this one (PostgreSQL)
            # fails only this savepoint on the unique key, and the page goes on.
            with session.begin_nested():
                session.add(Reminder(key=key, sent_at=now))
                session.flush()
                services.notifier.review_overdue(session, registration, partner, recipient=recipient,
                                                 hours_waiting=hours, key=key)
        except IntegrityError:
            continue
        sent += 1
    return sent
