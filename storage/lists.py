"""Paged lists of registrations and upsells: keyset pages, newest first, with the permission filter inside every
query.

Pages seek from a cursor on (created_at, id) instead of OFFSET, so page 5,000 costs what page 1 does. Each
list is a union of disjoint branches (one for deals; "assigned to me" and "open conflicts" for a program
runner's Home; one per status where only a status leads an index), each filtered on an indexed column and read
in (created_at DESC, id DESC) order, so every branch is an index range scan that stops after one page; the
branches are merged here.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import StrEnum

from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, exists, false, func, or_, select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from storage.actors import Actor
from storage.models import (
    OPEN_STATUSES,
    CustomerAccount,
    Partner,
    Registration,
    RegistrationStatus,
    ReviewKind,
    Upsell,
    UpsellStatus,
)
from storage.queries import _visible_to
from storage.upsells import visible_upsells_clause

PAGE_SIZE = 20
# Counting stops here: an indexed count of 10,000 entries is a few ms, a count of a million is not. One
# partner or assignee rarely has more; a manager over the whole table reads "more than 10,000".
COUNT_CAP = 10_000
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: rows older than (created_at, id) going forward, newer going back.

    `position` (rows before the page) only labels "Showing x–y"; it is clamped and never selects rows.
    """

    created_at: datetime
    id: int
    forward: bool = True
    position: int = 0

    def encode(self) -> str:
        micros = (self.created_at - EPOCH) // timedelta(microseconds=1)  # exact, unlike a float timestamp
        return f"{'n' if self.forward else 'p'}:{self.position}:{self.id}:{micros}"

    @classmethod
    def parse(cls, value: object) -> Cursor | None:
        """A cursor from a button value, or None (the first page) for anything malformed."""
        try:
            way, position, row_id, stamp = str(value).split(":")
            if way not in ("n", "p") or not 0 < int(row_id) < 2**63:  # past BIGINT the database itself errs
                return None
            when = EPOCH + timedelta(microseconds=int(stamp))
            return cls(when, int(row_id), way == "n", max(0, min(int(position), 10**9)))
        except (ValueError, TypeError, OverflowError, OSError):
            return None


@dataclass(frozen=True)
class Listed:
    """What a list reads: its table (rows ordered by its created_at and id) and the select of one row."""

    table: Any
    row: Callable[[], Any]


REGISTRATIONS = Listed(Registration, lambda: select(Registration, Partner).join(
    Partner, Partner.id == Registration.partner_id))
UPSELLS = Listed(Upsell, lambda: select(Upsell, CustomerAccount, Partner)
                 .join(CustomerAccount, CustomerAccount.id == Upsell.account_id)
                 .join(Partner, Partner.id == Upsell.partner_id))


@dataclass(frozen=True)
class Page:
    """One page of rows (a registration or an upsell first in each), the total ("more than" when capped), and
    cursors to its neighbours."""

    rows: list[tuple]
    total: int
    capped: bool
    position: int
    next: Cursor | None
    previous: Cursor | None


@dataclass(frozen=True)
class DealSearch:
    """What a deals list is narrowed to: a company key containing `key`, or a domain starting with `domain`
    (both already normalised by the caller as registrations store them)."""

    key: str
    domain: str

    def clause(self):
        return self._matches(Registration.company_key, Registration.domain)

    def account_clause(self):
        """Upsells whose customer account matches, as registrations match their company (an alias of the account:
        the list's own join must not be taken for the subquery's)."""
        account = aliased(CustomerAccount)
        return exists().where(account.id == Upsell.account_id, self._matches(account.name_key, account.domain))

    def _matches(self, key, domain):
        matches = []
        if self.key:
            matches.append(key.contains(self.key, autoescape=True))
        if self.domain:
            matches.append(domain.startswith(self.domain, autoescape=True))
        return or_(*matches) if matches else false()


def deals_page(session: Session, actor: Actor, cursor: Cursor | None = None, *, size: int = PAGE_SIZE,
               search: DealSearch | None = None) -> Page:
    """What `/partner deals` shows this actor, one page, newest first; `search` narrows it, inside the same
    permission filter."""
    where = _visible_to(actor) if search is None else and_(_visible_to(actor), search.clause())
    return _page(session, REGISTRATIONS, [where], cursor, size)


class HomeFilter(StrEnum):
    """App Home's lists of an internal user's registrations."""

    all = "all"  # everything they own, and open conflicts for program runners
    waiting = "waiting"  # waiting for their decision
    open = "open"  # approved deals they own
    closed = "closed"  # won, lost, rejected, expired or withdrawn


CLOSED_STATUSES = (RegistrationStatus.won, RegistrationStatus.lost, RegistrationStatus.rejected,
                   RegistrationStatus.expired, RegistrationStatus.withdrawn)


def _home_branches(actor: Actor, show: HomeFilter) -> list:
    """Disjoint WHERE clauses, one per index range: (assignee, status, created_at) or (assignee, created_at)."""
    mine = Registration.assigned_to_slack_id == actor.slack_user_id
    if show == HomeFilter.open:
        return [and_(mine, Registration.status == RegistrationStatus.approved)]
    if show == HomeFilter.closed:
        return [and_(mine, Registration.status == status) for status in CLOSED_STATUSES]
    branches = [and_(mine, Registration.status == RegistrationStatus.under_review)] \
        if show == HomeFilter.waiting else [mine]
    if actor.runs_program:
        # Disjoint from `mine`, so the counts add up and no row is listed twice.
        not_mine = or_(Registration.assigned_to_slack_id.is_(None), Registration.assigned_to_slack_id != actor.slack_user_id)
        branches.append(and_(Registration.status.in_(OPEN_STATUSES), Registration.review_kind == ReviewKind.conflict,
                             not_mine))
    return branches


def home_page(session: Session, actor: Actor, cursor: Cursor | None = None, *, size: int = PAGE_SIZE,
              show: HomeFilter = HomeFilter.all) -> Page:
    """One page of an internal user's App Home list (`show` chooses which), newest first."""
    if not actor.is_internal:
        return _page(session, REGISTRATIONS, [false()], None, size)
    return _page(session, REGISTRATIONS, _home_branches(actor, show), cursor, size)


def home_count(session: Session, actor: Actor, show: HomeFilter) -> tuple[int, bool]:
    """How many rows one of App Home's lists holds (capped at COUNT_CAP; True when capped)."""
    if not actor.is_internal:
        return 0, False
    return _count(session, Registration, _home_branches(actor, show))


UPSELL_ROWS = 5  # the newest upsells a deals list shows beside a page of registrations, with how many there are


def upsells_page(session: Session, actor: Actor, *, size: int = UPSELL_ROWS,
                 search: DealSearch | None = None) -> Page:
    """The newest upsells this actor may see (`search` narrows them by account), and how many there are."""
    where = visible_upsells_clause(actor)
    if search is not None:
        where = and_(where, search.account_clause())
    # Our team's filters have no column that leads an index before created_at but the status (and the assignee):
    # a branch per status. A partner's people are filtered by partner (or flagger), which leads its own index.
    branches = [and_(where, Upsell.status == status) for status in UpsellStatus] if actor.is_internal else [where]
    return _page(session, UPSELLS, branches, None, size)


def upsells_waiting_for(session: Session, actor: Actor, *, size: int = UPSELL_ROWS) -> Page:
    """The open upsells assigned to this internal user (waiting for their Accept or Decline), newest first."""
    if not actor.is_internal:
        return _page(session, UPSELLS, [false()], None, size)
    return _page(session, UPSELLS, [and_(Upsell.assigned_to_slack_id == actor.slack_user_id,
                                         Upsell.status == UpsellStatus.open)], None, size)


def _seek(table, cursor: Cursor):
    """Rows past the cursor; `created_at <=` alone is what an index on (filter, created_at) can range over."""
    at, row_id = cursor.created_at, cursor.id
    if cursor.forward:
        return and_(table.created_at <= at, or_(table.created_at < at, table.id < row_id))
    return and_(table.created_at >= at, or_(table.created_at > at, table.id > row_id))


def _key(row: tuple) -> tuple[datetime, int]:
    return row[0].created_at, row[0].id


def _branch_rows(session: Session, listed: Listed, where, cursor: Cursor | None, limit: int) -> list[tuple]:
    table = listed.table
    newest_first = cursor is None or cursor.forward
    order = (table.created_at.desc(), table.id.desc()) if newest_first else (table.created_at.asc(), table.id.asc())
    query = listed.row().where(where)
    if cursor is not None:
        query = query.where(_seek(table, cursor))
    return list(session.exec(query.order_by(*order).limit(limit)).all())


def _count(session: Session, table, branches: list) -> tuple[int, bool]:
    """How many rows the branches hold, counting at most COUNT_CAP + 1 of each; True when capped."""
    total = 0
    for where in branches:
        bounded = sa_select(table.id).where(where).limit(COUNT_CAP + 1).subquery()
        total += session.exec(select(func.count()).select_from(bounded)).one()
    return min(total, COUNT_CAP), total > COUNT_CAP


def _page(session: Session, listed: Listed, branches: list, cursor: Cursor | None, size: int) -> Page:
    forward = cursor is None or cursor.forward
    merged = heapq.merge(*(_branch_rows(session, listed, where, cursor, size + 1) for where in branches),
                         key=_key, reverse=forward)
    rows = list(merged)[: size + 1]
    if not forward and len(rows) <= size:
        # Back at (or past) the newest rows: the first page, whatever the cursor claimed.
        return _page(session, listed, branches, None, size)
    more_beyond = len(rows) > size
    rows = rows[:size]
    if not forward:
        rows.reverse()
    total, capped = _count(session, listed.table, branches)
    position = 0 if cursor is None else max(0, cursor.position - (0 if forward else size))
    if not capped:
        position = min(position, max(total - len(rows), 0))
    has_newer = cursor is not None
    has_older = more_beyond if forward else True
    newer = Cursor(*_key(rows[0]), forward=False, position=position) if rows and has_newer else None
    older = Cursor(*_key(rows[-1]), forward=True, position=position + len(rows)) if rows and has_older else None
    return Page(rows=rows, total=total, capped=capped, position=position, next=older, previous=newer)
