"""Where SLA reminders count from, kept beside the rows that wait (SlaClock), so that moving it once a period
rewrites two index entries instead of one in each of the registration's (upsell's) many indexes.

One rule makes the reminder job's search by the clock's index complete: every row waiting under an SLA (a
registration under review, an open upsell) has a clock, and its clock never counts from later than the row's
reminders really do (the start of the period last reminded, else the row's last change).
- A row entering its SLA status starts its clock (`start`, from the status change).
- A later change to a waiting row moves its `updated_at` past the clock: the job reads the row when the clock
  comes due, finds nothing owed yet and moves the clock to the change (`move`).
- A row that leaves its status keeps its clock until the job reads it, and the job removes it (`move`, None).
So a decision or an edit, answered before its ack, writes nothing here; the job pays for each change once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, bindparam, delete, insert, literal, select as sa_select, update
from sqlmodel import Session

from storage.models import Registration, RegistrationStatus, SlaClock, Upsell, UpsellStatus
from storage.statements import past, upsert

REVIEW = "review"  # a registration under review: the approval SLA (workflows/reminders.py)
UPSELL = "upsell"  # an open upsell: the accept SLA (workflows/upsell_reminders.py)
WAITING = {REVIEW: (Registration, RegistrationStatus.under_review), UPSELL: (Upsell, UpsellStatus.open)}


def start(session: Session, sla: str, row_id: int, at: datetime) -> None:
    """The row has just entered (or entered again) its SLA status: its reminders count from `at`."""
    upsert(session, SlaClock, key=("sla", "row_id"), values={"sla": sla, "row_id": row_id, "counts_from": at})


def due(session: Session, sla: str, query, *, before: datetime, after: tuple[datetime, int] | None,
        limit: int) -> list[tuple]:
    """(clock, *row of `query`) for the clocks of `sla` counting from `before` or earlier, oldest first, past the
    cursor `after` (the previous page's last (counts from, row id)); `query` selects the waiting model first (and
    what it joins), and is read for this page's rows only, by primary key.

    Two reads, not one join: the clocks' page by ix_sla_clock_due, then its rows by their keys. A join left the
    order of reading to PostgreSQL's planner, which on a table of a few thousand rows hashed the whole of it."""
    clock = SlaClock.__table__.c
    page = (sa_select(clock.row_id, clock.counts_from).where(clock.sla == sla, clock.counts_from <= before)
            .order_by(clock.counts_from, clock.row_id).limit(limit))
    if after is not None:  # as a row value: the index range starts at the cursor
        page = page.where(past(clock.counts_from, clock.row_id, after))
    clocks = session.execute(page).all()
    if not clocks:
        return []
    model = WAITING[sla][0]
    rows = {row[0].id: row for row in session.exec(query.where(model.id.in_([row_id for row_id, _ in clocks])))}
    # A row is never deleted while it has a clock (registrations and upsells are kept); one missing is passed over.
    return [(counted, *rows[row_id]) for row_id, counted in clocks if row_id in rows]


def move(session: Session, sla: str, moves: list[tuple[int, datetime, datetime, datetime | None]]) -> None:
    """(row id, its clock as read, its `updated_at` as read, where it counts from now: None when the row no longer
    waits) for each row read. Each clock is moved unless it or its row changed since they were read: a clock
    moved past a change made meanwhile would count from later than the change. A clock is removed unless it
    changed (the row entered its status again)."""
    clock, row = SlaClock.__table__, WAITING[sla][0].__table__
    same = and_(clock.c.sla == sla, clock.c.row_id == bindparam("id_"), clock.c.counts_from == bindparam("read"))
    unchanged = sa_select(row.c.id).where(row.c.id == bindparam("id_"),
                                          row.c.updated_at == bindparam("read_updated_at")).exists()
    moved = [{"id_": id_, "read": read, "read_updated_at": updated_at, "to": to}
             for id_, read, updated_at, to in moves if to is not None]
    gone = [{"id_": id_, "read": read} for id_, read, _, to in moves if to is None]
    if moved:
        session.execute(update(clock).where(same, unchanged).values(counts_from=bindparam("to")), moved)
    if gone:
        session.execute(delete(clock).where(same), gone)


def start_missing(session: Session, slas: tuple[str, ...] = tuple(WAITING), *, after_id: int = 0) -> int:
    """Clocks for the rows waiting under `slas` stored without one (of ids past `after_id`), counting from their
    last change: rows written in bulk, not through a status change (the benchmarks' and tests' data). Returns how
    many were started."""
    started = 0
    for sla in slas:
        model, status = WAITING[sla]
        table = model.__table__
        has_one = sa_select(SlaClock.row_id).where(SlaClock.sla == sla, SlaClock.row_id == table.c.id).exists()
        rows = sa_select(literal(sla), table.c.id, table.c.updated_at).where(
            table.c.status == status, table.c.id > after_id, ~has_one)
        started += session.execute(insert(SlaClock.__table__).from_select(["sla", "row_id", "counts_from"], rows)
                                   ).rowcount
    return started
