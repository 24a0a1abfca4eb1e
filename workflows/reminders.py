"""SLA reminders: what has waited longer than the program allows is reminded, each reminder once.

One mechanism serves every SLA (`send_due_reminders`): what is due is read by index a page at a time, oldest first;
each reminder has a unique Reminder key (what, to whom, which period), stored with the message it owes, so a double
run sends it once; pages are read in a plain session first, so a run that owes nothing takes no write lock; what is
owed is written in transactions that stop at their write budget. What is due, to whom and what a reminder says is
a ReminderSource: the registrations' approval SLA below, the upsells' accept SLA in workflows/upsell_reminders.py.

Approval SLA: the reviewer of a registration waiting longer than the program allows is reminded once per SLA
period; from the second period the partner's manager too. The partner is told too, once per period, in the
registration's thread: the promise was missed and it is being chased. A reminder carries the review's buttons
and, for the reviewer, a link to the review message: Slack's permalink, asked of Slack (chat.getPermalink) before
the transaction that queues the reminder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlmodel import Session

from storage import sla_clock
from storage.db import transaction
from storage.models import Partner, Registration, Upsell
from storage.queries import record_reminder, reminder_keys_sent, reviews_due_reminders
from storage.reviews import sent_location
from workflows.services import Services, WriteBudget

BATCH = 50  # rows read per page (about 10 fit a write budget); a transaction writes what fits


@dataclass(frozen=True)
class Owed:
    """What one due row is owed: how long it has waited, and its (reminder key, recipient) pairs."""

    hours_waiting: int
    keys: list[tuple[str, Any]]


class ReminderSource(Protocol):
    """One SLA: its due rows, what each is owed, and how a reminder is queued."""

    def page(self, session: Session, *, after: tuple[datetime, int] | None, limit: int) -> list:
        """Due rows, oldest first, past the cursor `after` (pages by index)."""

    def cursor(self, row) -> tuple[datetime, int]:
        """The row's place in that order, for the next page."""

    def owed(self, row) -> Owed: ...

    def link_key(self, row, recipient) -> str | None:
        """The outbox key of the message a reminder to `recipient` links to, if any."""

    def reminded(self, rows: list) -> Callable[[Session], None] | None:
        """These rows' reminders for the period they are in are all sent: what to store (in the transaction given)
        so that they are not read again before their next period; None when there is nothing to store (a source
        that kept nothing would have its rows past their SLA read at every run)."""

    def send(self, session: Session, row, *, key: str, recipient, hours_waiting: int, link: str | None) -> bool:
        """Queue the reminder in the caller's transaction, as the message under `key` (recorded as a Reminder in
        this transaction, so no message holds it yet); True when it reminded one of our own people."""


def send_due_reminders(services: Services, source: ReminderSource, now: datetime) -> int:
    """Send what `source` owes, each once; returns how many of our own people were reminded."""
    with Session(services.engine) as session:  # a plain read: a run with nothing due takes no write lock
        if not source.page(session, after=None, limit=1):
            return 0
    sent, after, links = 0, None, {}
    while True:
        # A plain read first: rows stay due until handled, so most runs find every key already sent, and reading
        # that inside a write transaction held SQLite's write lock (and every ack) for nothing.
        with Session(services.engine) as session:
            page = source.page(session, after=after, limit=BATCH)
            owed = [source.owed(row) for row in page]
            already = reminder_keys_sent(session, [key for each in owed for key, _ in each.keys])
        first = next((i for i, each in enumerate(owed) if any(key not in already for key, _ in each.keys)), None)
        if first is None:  # this whole page was reminded already
            if keep := source.reminded(page):
                with transaction(services.engine) as session:
                    keep(session)
            if len(page) < BATCH:
                return sent
            after = source.cursor(page[-1])
            continue
        keep_before = source.reminded(page[:first]) if first else None
        if first:  # start the write at the first row that is owed something
            after = source.cursor(page[first - 1])
        _resolve_links(services, source, links, after=after)
        with transaction(services.engine) as session:
            budget = WriteBudget(services.engine)  # from the start: the reads below hold the write lock too
            if keep_before:
                keep_before(session)
            page = source.page(session, after=after, limit=BATCH)
            done, count = _remind_page(session, source, page, now=now, links=links, budget=budget)
            if done and (keep := source.reminded(page[:done])):
                keep(session)
            sent += count
        services.kick()  # these messages go out while the next transaction is written
        if done == len(page) < BATCH:
            return sent
        if done:  # else its first row was left half done: the next transaction starts there again
            after = source.cursor(page[done - 1])


def _resolve_links(services: Services, source: ReminderSource, links: dict[str, str | None], *,
                   after: tuple[datetime, int] | None) -> None:
    """Permalinks of the messages the next page's reminders link to, asked of Slack with no transaction open (a
    plain read first); kept in `links` by outbox key."""
    if services.message_link is None:
        return
    with Session(services.engine) as session:
        page = source.page(session, after=after, limit=BATCH)
        owed = [source.owed(row) for row in page]
        already = reminder_keys_sent(session, [key for each in owed for key, _ in each.keys])
        wanted = {link for row, each in zip(page, owed) for key, recipient in each.keys if key not in already
                  for link in [source.link_key(row, recipient)] if link and link not in links}
        where = {key: sent_location(session, key) for key in wanted}
    for key, location in where.items():
        links[key] = services.message_link(*location) if location else None


def _remind_page(session: Session, source: ReminderSource, page: list, *, now: datetime,
                 links: dict[str, str | None], budget: WriteBudget) -> tuple[int, int]:
    """Reminds from the start of `page` until `budget` is spent; returns (rows done, our people reminded).

    The budget is looked at before each reminder, not only each row (a row owes up to three, and an ack waiting
    for the lock waits for the one being written): a row left half done is done next time, its keys already
    sent skipped."""
    owed = [source.owed(row) for row in page]
    already = reminder_keys_sent(session, [key for each in owed for key, _ in each.keys])
    sent, wrote = 0, False
    for done, (row, each) in enumerate(zip(page, owed)):
        for key, recipient in each.keys:
            if key in already:
                continue
            if wrote and budget.spent():
                return done, sent
            wrote = True
            # The reminder and the message it owes are stored together. A run racing this one (PostgreSQL) that
            # recorded the key first is waited for, and the key skipped: one statement, no savepoint.
            if not record_reminder(session, key, now):
                continue
            sent += source.send(session, row, key=key, recipient=recipient, hours_waiting=each.hours_waiting,
                                link=links.get(source.link_key(row, recipient) or ""))
    return len(page), sent


# Where a row's reminders count from (its SLA clock, storage/sla_clock.py) ---------------------------------
def sla_periods(row: Registration | Upsell, now: datetime, sla: timedelta) -> int:
    """Whole SLA periods the row has waited since its last change."""
    return int((now - row.updated_at) / sla)


def counted_cursor(row: tuple) -> tuple[datetime, int]:
    """A due row's place in the order its reminders are read in: (its clock as read, its id); a due row is (its
    clock, the registration or upsell, ...)."""
    return row[0], row[1].id


def owes_nothing(row: tuple, sla_name: str, now: datetime, sla: timedelta) -> bool:
    """The row's clock came due, but it has left the status its SLA waits on or changed within the last period
    since the clock was moved: no reminder now (`count_from_their_periods` moves or removes the clock)."""
    subject = row[1]
    return subject.status != sla_clock.WAITING[sla_name][1] or sla_periods(subject, now, sla) < 1


def count_from_their_periods(sla_name: str, rows: list[tuple], now: datetime,
                             sla: timedelta) -> Callable[[Session], None] | None:
    """ReminderSource.reminded for these rows: their clocks count from the start of the period just reminded (of
    the row's last change, when none was owed), so each is read again one SLA after it, not at every run; the clock
    of a row that no longer waits is removed."""
    waiting = sla_clock.WAITING[sla_name][1]
    moves = [(subject.id, counted, subject.updated_at, subject.updated_at + sla * sla_periods(subject, now, sla)
              if subject.status == waiting else None) for counted, subject, *_ in rows]
    return (lambda session: sla_clock.move(session, sla_name, moves)) if moves else None


# The approval SLA of registrations ------------------------------------------------------------------------
Row = tuple[datetime, Registration, Partner]  # a due review: (its SLA clock as read, the registration, its partner)
PARTNER = None  # the recipient of a partner's "being chased" notice: the registration's thread, not a person


def partner_chase_key(registration: Registration, periods: int) -> str:
    """Not under `review-sla:{id}:` (storage/reviews.py reminder_keys): a decision settles the reviewer's
    reminders in place, and the partner's notice is not one of them."""
    return f"partner-sla:{registration.id}:{registration.updated_at:%Y%m%d%H%M%S}:{periods}"


@dataclass
class ReviewSla:
    """Registrations under review for longer than the approval SLA (ReminderSource)."""

    services: Services
    now: datetime
    sla: timedelta

    def page(self, session: Session, *, after: tuple[datetime, int] | None, limit: int) -> list[Row]:
        return reviews_due_reminders(session, self.now - self.sla, after=after, limit=limit)

    def cursor(self, row: Row) -> tuple[datetime, int]:
        return counted_cursor(row)

    def reminded(self, rows: list[Row]) -> Callable[[Session], None] | None:
        return count_from_their_periods(sla_clock.REVIEW, rows, self.now, self.sla)

    def owed(self, row: Row) -> Owed:
        """The reviewer each period; from the second, the partner's manager too; the partner's notice
        (recipient PARTNER) in the registration's thread."""
        if owes_nothing(row, sla_clock.REVIEW, self.now, self.sla):
            return Owed(0, [])
        _, registration, partner = row
        waited, periods = self.now - registration.updated_at, sla_periods(registration, self.now, self.sla)
        recipients = [registration.assigned_to_slack_id]
        if periods >= 2 and partner.manager_slack_id:
            recipients.append(partner.manager_slack_id)
        stamp = f"{registration.updated_at:%Y%m%d%H%M%S}"
        return Owed(int(waited.total_seconds() // 3600), [
            (f"review-sla:{registration.id}:{recipient}:{stamp}:{periods}", recipient)
            for recipient in dict.fromkeys(r for r in recipients if r)] + [
            (partner_chase_key(registration, periods), PARTNER)])

    def link_key(self, row: Row, recipient: str | None) -> str | None:
        # The review message is the reviewer's DM: only they can open a link to it.
        registration = row[1]
        return registration.review_message_key if recipient == registration.assigned_to_slack_id else None

    def send(self, session: Session, row: Row, *, key: str, recipient: str | None, hours_waiting: int,
             link: str | None) -> bool:
        _, registration, partner = row
        if recipient is PARTNER:
            self.services.notifier.review_chased(session, registration, partner, key=key,
                                                 hours_waiting=hours_waiting)
            return False  # the count is of our own people reminded
        self.services.notifier.review_overdue(session, registration, partner, recipient=recipient,
                                              hours_waiting=hours_waiting, key=key, link=link)
        return True


def remind_overdue_reviews(services: Services) -> int:
    """Once per SLA period overdue: the reviewer is reminded; from the second period, the partner's manager too;
    the partner hears it is being chased. Returns how many of our own people were reminded."""
    now, sla = services.clock(), timedelta(hours=services.program.approval_sla_hours)
    return send_due_reminders(services, ReviewSla(services, now, sla), now)
