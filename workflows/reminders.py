"""Approval SLA: remind the reviewer of a registration waiting longer than the program allows.

The partner is told too, once per SLA period, in the registration's thread: the promise was missed and it is
being chased. Its key is a reminder like the reviewer's, so a double run tells them once.

A reminder carries the review's buttons and, for the reviewer, a link to the review message: Slack's
permalink, asked of Slack (chat.getPermalink) before the transaction that queues the reminder.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from storage.db import transaction
from storage.models import Partner, Registration, Reminder
from storage.queries import reminder_keys_sent, reviews_waiting_since
from storage.reviews import sent_location
from workflows.services import Services, WriteBudget

BATCH = 50  # overdue reviews read per page (about 10 fit a write budget); a transaction writes what fits


PARTNER = None  # the recipient of a partner's "being chased" notice: the registration's thread, not a person


def partner_chase_key(registration: Registration, periods: int) -> str:
    """Not under `review-sla:{id}:` (storage/reviews.py reminder_keys): a decision settles the reviewer's
    reminders in place, and the partner's notice is not one of them."""
    return f"partner-sla:{registration.id}:{registration.updated_at:%Y%m%d%H%M%S}:{periods}"


def remind_overdue_reviews(services: Services) -> int:
    """Once per SLA period overdue: the reviewer is reminded; from the second period, the partner's manager too;
    the partner hears it is being chased. Returns how many of our own people were reminded."""
    now = services.clock()
    sla = timedelta(hours=services.program.approval_sla_hours)
    with Session(services.engine) as session:  # a plain read: a run with nothing overdue takes no write lock
        if not reviews_waiting_since(session, now - sla, limit=1):
            return 0
    sent, after, links = 0, None, {}
    while True:
        # A plain read first: reviews stay overdue until decided, so most runs find every key already sent,
        # and reading that inside a write transaction held SQLite's write lock (and every ack) for nothing.
        with Session(services.engine) as session:
            page = reviews_waiting_since(session, now - sla, after=after, limit=BATCH)
            owed = _owed(page, now=now, sla=sla)
            already = reminder_keys_sent(session, [key for *_, keys in owed for key, _ in keys])
        first = next((i for i, (*_, keys) in enumerate(owed) if any(key not in already for key, _ in keys)), None)
        if first is None:  # this whole page was reminded already
            if len(page) < BATCH:
                return sent
            after = (page[-1][0].updated_at, page[-1][0].id)
            continue
        if first:  # start the write at the first review that is owed something
            after = (page[first - 1][0].updated_at, page[first - 1][0].id)
        _resolve_links(services, links, now=now, sla=sla, after=after)
        with transaction(services.engine) as session:
            budget = WriteBudget()  # from the start: the reads below hold the write lock too
            page = reviews_waiting_since(session, now - sla, after=after, limit=BATCH)
            done, count = _remind_page(session, services, page, now=now, sla=sla, links=links, budget=budget)
            sent += count
        services.kick()  # these messages go out while the next transaction is written
        if done == len(page) < BATCH:
            return sent
        after = (page[done - 1][0].updated_at, page[done - 1][0].id)


def _owed(page: list[tuple[Registration, Partner]], *, now: datetime,
          sla: timedelta) -> list[tuple[Registration, Partner, int, list[tuple[str, str | None]]]]:
    """Per review, in page order: hours waiting and the (reminder key, recipient) pairs of this SLA period
    (recipient PARTNER: the partner's notice in the registration's thread)."""
    owed = []
    for registration, partner in page:
        periods = int((now - registration.updated_at) / sla)
        hours = int((now - registration.updated_at).total_seconds() // 3600)
        recipients = [registration.assigned_to_slack_id]
        if periods >= 2 and partner.manager_slack_id:
            recipients.append(partner.manager_slack_id)
        owed.append((registration, partner, hours, [
            (f"review-sla:{registration.id}:{recipient}:{registration.updated_at:%Y%m%d%H%M%S}:{periods}", recipient)
            for recipient in dict.fromkeys(r for r in recipients if r)] + [
            (partner_chase_key(registration, periods), PARTNER)]))
    return owed


def _resolve_links(services: Services, links: dict[str, str | None], *, now: datetime, sla: timedelta,
                   after: tuple[datetime, int] | None) -> None:
    """Permalinks of the review messages the next page's reviewers will be reminded of, asked of Slack with no
    transaction open (a plain read first); kept in `links` by review message key."""
    if services.message_link is None:
        return
    with Session(services.engine) as session:
        page = reviews_waiting_since(session, now - sla, after=after, limit=BATCH)
        owed = _owed(page, now=now, sla=sla)
        already = reminder_keys_sent(session, [key for *_, keys in owed for key, _ in keys])
        wanted = {registration.review_message_key for registration, _, _, keys in owed
                  if registration.review_message_key not in links
                  and any(key not in already and recipient == registration.assigned_to_slack_id
                          for key, recipient in keys)}
        where = {key: sent_location(session, key) for key in wanted}
    for key, location in where.items():
        links[key] = services.message_link(*location) if location else None


def _remind_page(session: Session, services: Services, page: list[tuple[Registration, Partner]], *,
                 now: datetime, sla: timedelta, links: dict[str, str | None],
                 budget: WriteBudget) -> tuple[int, int]:
    """Reminds from the start of `page` until `budget` is spent; returns (reviews done, reminders sent)."""
    owed = _owed(page, now=now, sla=sla)
    already = reminder_keys_sent(session, [key for *_, keys in owed for key, _ in keys])
    sent = 0
    for done, (registration, partner, hours, keys) in enumerate(owed):
        if done and budget.spent():
            return done, sent
        for key, recipient in keys:
            if key in already:
                continue
            try:
                # The reminder and the message it owes are stored together; a run racing this one (PostgreSQL)
                # fails only this savepoint on the unique key, and the page goes on.
                with session.begin_nested():
                    session.add(Reminder(key=key, sent_at=now))
                    session.flush()
                    if recipient is PARTNER:
                        services.notifier.review_chased(session, registration, partner, key=key,
                                                        hours_waiting=hours)
                    else:
                        # The review message is the reviewer's DM: only they can open a link to it.
                        link = links.get(registration.review_message_key) \
                            if recipient == registration.assigned_to_slack_id else None
                        services.notifier.review_overdue(session, registration, partner, recipient=recipient,
                                                         hours_waiting=hours, key=key, link=link)
            except IntegrityError:
                continue
            sent += recipient is not PARTNER  # the count is of our own people reminded
    return len(page), sent
