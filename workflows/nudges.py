"""Nudges: stalled partners and deals reminded automatically, once, at a decent hour, with something to click.

Each kind is a NudgeSource (its due rows by index, and what each is owed); `run_nudges` is the one mechanism:
  1. pages of due rows are read in plain sessions (a run with nothing owed takes no write lock);
  2. keys already used and kinds muted for a subject (Snooze, Not relevant) are dropped;
  3. the recipients' time zones are asked of Slack (users.info) outside any transaction, kept a week;
  4. each nudge is a Nudge row with a unique key (kind, subject, recipient, period) written in the same transaction
     as its Slack outbox message, which is due at the next working-hours moment in the recipient's zone; a second
     run or process fails only that row's savepoint on the key, so nothing is sent twice, and the outbox retries
     a failed send until Slack takes it, so nothing is dropped. Transactions stop at their write budget.
A message to a shared channel is timed by the partner's zone from the program file, else its manager's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from storage.actors import Actor
from storage.db import transaction
from storage.nudges.deals import open_nudges_of
from storage.nudges.models import Nudge, NudgeKind, NudgeResponse
from storage.nudges.queries import muted, nudge_for_actor, nudge_keys_used, set_mute, stored_zones, store_zones
from workflows.services import ACK_LOCK_TIMEOUT, NotFound, Services, WriteBudget
from workflows.working_hours import next_working_moment, zone_named

logger = logging.getLogger(__name__)

BATCH = 100
ZONE_FRESH = timedelta(days=7)


class NudgeAction(StrEnum):
    """The button that does what a nudge suggests (rendered by handlers/blocks/nudges.py)."""

    register_lead = "register_lead"
    request_extension = "request_extension"  # value: the registration
    still_working = "still_working"  # value: the nudge
    mark_won = "mark_won"  # value: the registration
    mark_lost = "mark_lost"
    nudge_them_all = "nudge_them_all"  # value: the nudge (the roll-up)


@dataclass(frozen=True)
class NudgeButton:
    action: NudgeAction
    label: str
    subject_id: int | None = None  # the registration (or nothing: the nudge's own id is used)


@dataclass(frozen=True)
class NudgeContent:
    """What a nudge says: plain text (escaped when rendered), links, and its buttons besides Snooze and Not
    relevant (which every nudge has)."""

    title: str
    lines: tuple[str, ...] = ()
    links: tuple[tuple[str, str], ...] = ()  # (title, url)
    buttons: tuple[NudgeButton, ...] = ()
    mentions: tuple[str, ...] = ()  # Slack user ids named at the top (so a channel nudge reaches them)
    snooze: bool = True  # Snooze N days (a monthly message has no use for it; Not relevant stays on every nudge)


def plural(count: int, word: str) -> str:
    """`1 partner`, `3 partners`: for nudges' counts."""
    return f"{count} {word}{'' if count == 1 else 's'}"


@dataclass(frozen=True)
class Due:
    """One nudge a row is owed."""

    kind: NudgeKind
    subject: str  # partner:12, registration:34, manager:U123
    recipient: str  # a user id (DM) or a channel id
    period: str
    partner_id: int | None = None
    registration_id: int | None = None
    zone_user: str | None = None  # whose time zone times it (a DM: the recipient; a channel: its manager)
    zone: str | None = None  # a zone named in the program file, preferred
    parent_key: str | None = None  # a reply in this message's thread (the registration's root)
    row: Any = None  # what `content` needs
    deliver_at: datetime | None = None  # a time of its own (the digest's schedule), not the next working hour

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.subject}:{self.recipient}:{self.period}"[:200]

    @property
    def mute_kind(self) -> str:
        return mute_kind(self.kind)


def mute_kind(kind: str) -> str:
    """The note a manager gets with a partner's re-engagement nudge stops with it."""
    return NudgeKind.reengagement if kind == NudgeKind.reengagement_note else kind


class NudgeSource(Protocol):
    kind: NudgeKind

    def page(self, session: Session, *, after: Any, limit: int) -> list:
        """Rows that may be owed a nudge, in a stable order past the cursor `after` (None: from the start)."""

    def cursor(self, row) -> Any: ...

    def owed(self, row) -> list[Due]: ...

    def content(self, session: Session, due: Due, nudge: Nudge) -> NudgeContent:
        """What the nudge says, read in the writing transaction. (A source with a `deliver(session, due, nudge)`
        method queues its own message instead: the weekly digest, which is no nudge to snooze.)"""


@dataclass
class NudgeReport:
    created: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.created.values())

    def __str__(self) -> str:
        return ", ".join(f"{count} {kind}" for kind, count in sorted(self.created.items())) or "nothing due"


def run_nudges(services: Services, source: NudgeSource, *, report: NudgeReport | None = None,
               now: datetime | None = None) -> NudgeReport:
    """Create what `source` owes, each nudge once."""
    report = report if report is not None else NudgeReport()
    now = now or services.clock()
    after = None
    while True:
        with Session(services.engine) as session:  # plain reads: nothing owed, nothing written
            page = source.page(session, after=after, limit=BATCH)
            owed = _still_owed(session, [due for row in page for due in source.owed(row)], now)
        if owed:
            zones = _zones(services, owed, now)
            _write(services, source, owed, zones, now, report)
            services.kick()
        if len(page) < BATCH:
            return report
        after = source.cursor(page[-1])


def _still_owed(session: Session, dues: list[Due], now: datetime) -> list[Due]:
    if not dues:
        return []
    used = nudge_keys_used(session, [due.key for due in dues])
    stopped = muted(session, [(due.mute_kind, due.subject) for due in dues], now)
    return [due for due in dues if due.key not in used and (due.mute_kind, due.subject) not in stopped]


def _zones(services: Services, dues: list[Due], now: datetime) -> dict[str, str | None]:
    """The zone of each person who times a nudge."""
    return time_zones(services, [due.zone_user for due in dues if due.zone_user and not due.zone], now)


def time_zones(services: Services, people: list[str], now: datetime, *, store: bool = True) -> dict[str, str | None]:
    """These people's time zones (None: Slack gave none): stored within ZONE_FRESH, else asked of Slack now (no
    transaction open) and stored (unless `store` is False: a preview writes nothing)."""
    people = list(dict.fromkeys(people))
    with Session(services.engine) as session:
        zones = stored_zones(session, people, now - ZONE_FRESH)
    missing = [person for person in people if person not in zones]
    if missing and services.user_time_zone is not None:
        asked = {person: services.user_time_zone(person) for person in missing}
        if store:
            with transaction(services.engine) as session:
                store_zones(session, asked, now)
        zones.update(asked)
    return zones


def deliver_at(services: Services, due: Due, zones: dict[str, str | None], now: datetime) -> datetime:
    if due.deliver_at is not None:
        return due.deliver_at
    rules = services.program.nudges
    zone = zone_named(due.zone or zones.get(due.zone_user or ""), rules.default_time_zone)
    return next_working_moment(now, zone, rules.working_hours)


def _write(services: Services, source: NudgeSource, owed: list[Due], zones: dict[str, str | None],
           now: datetime, report: NudgeReport) -> None:
    """Nudge rows and their messages, in transactions that stop at their write budget."""
    remaining = list(owed)
    deliver = getattr(source, "deliver", None)
    while remaining:
        with transaction(services.engine) as session:
            budget = WriteBudget(services.engine)
            done = 0
            for due in remaining:
                if done and budget.spent():
                    break
                done += 1
                try:
                    with session.begin_nested():
                        nudge = Nudge(key=due.key, kind=due.kind, subject=due.subject, recipient=due.recipient,
                                      period=due.period, partner_id=due.partner_id,
                                      registration_id=due.registration_id, message_key="",
                                      deliver_at=deliver_at(services, due, zones, now), created_at=now)
                        session.add(nudge)
                        session.flush()  # the key is claimed here: a racing run stops at this row
                        nudge.message_key = f"nudge:{nudge.id}"
                        if deliver is not None:
                            deliver(session, due, nudge)
                        else:
                            services.notifier.nudge(session, nudge, source.content(session, due, nudge),
                                                    parent_key=due.parent_key)
                except IntegrityError:
                    continue
                report.created[due.kind] = report.created.get(due.kind, 0) + 1
        remaining = remaining[done:]


# Answers: Snooze 7 days, Not relevant --------------------------------------------------------------------
@dataclass(frozen=True)
class NudgeAnswer:
    nudge: Nudge
    response: NudgeResponse
    until: datetime | None
    replayed: bool = False  # answers are idempotent: a second click sets the same mute again


def answer_nudge(services: Services, actor: Actor, nudge_id: int, response: NudgeResponse) -> NudgeAnswer:
    """Snooze this kind of nudge for its subject (program `nudges.snooze_days`) or stop it for good; who pressed
    is recorded, and the message shows it in place of its buttons."""
    now = services.clock()
    with transaction(services.engine, lock_timeout=ACK_LOCK_TIMEOUT) as session:
        nudge = nudge_for_actor(session, nudge_id, actor)
        if nudge is None:
            raise NotFound("That nudge isn't yours to answer (or it no longer exists).")
        until = now + timedelta(days=services.program.nudges.snooze_days) \
            if response == NudgeResponse.snoozed else None
        set_mute(session, kind=mute_kind(nudge.kind), subject=nudge.subject, until=until, by=actor.slack_user_id,
                 nudge_id=nudge.id, now=now)
        record_response(nudge, response, actor.slack_user_id, now)
        session.add(nudge)
        services.notifier.nudge_answered(session, nudge, until=until)
        session.flush()
        answer = NudgeAnswer(Nudge.model_validate(nudge.model_dump()), response, until)
    services.kick()
    return answer


def record_response(nudge: Nudge, response: NudgeResponse, actor_slack_id: str, now: datetime) -> None:
    nudge.response, nudge.responded_by_slack_id, nudge.responded_at = response, actor_slack_id, now


def settle_registration_nudges(session: Session, services: Services, registration_id: int, kinds: tuple[str, ...],
                               *, actor_slack_id: str, now: datetime, note: str) -> None:
    """Someone acted on a registration (asked for an extension, closed the deal): its open nudges of these kinds
    are answered (`acted`, by them) and show `note` in place of their buttons."""
    for nudge in open_nudges_of(session, registration_id, kinds):
        record_response(nudge, NudgeResponse.acted, actor_slack_id, now)
        session.add(nudge)
        services.notifier.nudge_answered(session, nudge, note=note)
