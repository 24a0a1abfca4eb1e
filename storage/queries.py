"""Queries the workflows use. Every permission filter lives here, so no surface can forget it."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, case, false, func, or_, true
from sqlmodel import Session, select, update

from storage.actors import Actor
from storage.conflict_index import candidate_keys
from storage import sla_clock
from storage.statements import insert_new
from storage.slack.outbox import move_channel
from storage.models import (
    OPEN_STATUSES,
    Partner,
    PartnerType,
    ProcessedEvent,
    Registration,
    RegistrationEvent,
    RegistrationStatus,
    Reminder,
    ReviewKind,
    Role,
    TeamMember,
    Upsell,
)


def sees_only_own_registrations(partner_type: PartnerType | str | None) -> bool:
    """Whether a partner's people may see only the registrations they submitted (referral partners)."""
    return partner_type == PartnerType.referral


def registration_thread_channel(partner: Partner) -> str | None:
    """Where a new registration's thread goes: the partner's shared channel, or None for a DM to its submitter
    when that channel's other members may not see it."""
    return None if sees_only_own_registrations(partner.type) else partner.slack_channel_id


def deal_visibility(actor: Actor, *, partner_id, submitted_by, assigned_to):
    """The WHERE clause of a partner's deals (registrations, upsells: their columns given) an actor may see: a
    partner's people their partner's (a referral contact only those they submitted), an AE those assigned to
    them, partner managers and admins all."""
    if actor.is_internal:
        if actor.role in (Role.partner_manager, Role.admin):
            return true()
        return assigned_to == actor.slack_user_id
    if actor.is_partner:
        if sees_only_own_registrations(actor.partner_type):
            return and_(partner_id == actor.partner_id, submitted_by == actor.slack_user_id)
        return partner_id == actor.partner_id
    return false()


def _visible_to(actor: Actor):
    """The WHERE clause of registrations an actor may see."""
    return deal_visibility(actor, partner_id=Registration.partner_id, submitted_by=Registration.submitted_by_slack_id,
                           assigned_to=Registration.assigned_to_slack_id)


def visible_registrations(session: Session, actor: Actor, *, limit: int = 20) -> list[tuple[Registration, Partner]]:
    """What `/partner deals` shows this actor, newest first."""
    query = (
        select(Registration, Partner).join(Partner, Partner.id == Registration.partner_id)
        .where(_visible_to(actor))
        .order_by(Registration.created_at.desc(), Registration.id.desc()).limit(limit)
    )
    return list(session.exec(query).all())


def count_visible_registrations(session: Session, actor: Actor) -> int:
    return session.exec(select(func.count()).select_from(Registration).where(_visible_to(actor))).one()


def home_registrations(session: Session, actor: Actor, *, limit: int = 30) -> list[tuple[Registration, Partner]]:
    """Leads an internal user owns or must review (conflicts for program runners), newest first."""
    if not actor.is_internal:
        return []
    mine = Registration.assigned_to_slack_id == actor.slack_user_id
    if actor.runs_program:
        mine = or_(mine, and_(Registration.status.in_(OPEN_STATUSES),
                              Registration.review_kind == ReviewKind.conflict))
    query = (
        select(Registration, Partner).join(Partner, Partner.id == Registration.partner_id).where(mine)
        .order_by(Registration.created_at.desc(), Registration.id.desc()).limit(limit)
    )
    return list(session.exec(query).all())


def registration_for_decision(session: Session, registration_id: int, actor: Actor) -> Registration | None:
    """The registration if this actor may decide it: the assigned reviewer, or a partner manager/admin.

    Partners never decide, so a partner cannot approve its own lead. Locks the row where the database can.
    """
    if not actor.is_internal:
        return None
    may = Registration.assigned_to_slack_id == actor.slack_user_id
    if actor.runs_program:
        may = true()
    query = select(Registration).where(Registration.id == registration_id, may).with_for_update()
    return session.exec(query).first()


def registration_for_partner(session: Session, registration_id: int, actor: Actor) -> Registration | None:
    """The registration if this actor may act for its partner (withdraw it, add an update): one of the partner's
    people who may see it, or whoever of our team registered it on the partner's behalf. Locked where the
    database can. Reviewers decide through registration_for_decision instead."""
    if actor.is_partner:
        may = _visible_to(actor)
    elif actor.is_internal:
        may = Registration.submitted_by_slack_id == actor.slack_user_id
    else:
        return None
    query = select(Registration).where(Registration.id == registration_id, may).with_for_update()
    return session.exec(query).first()


MAX_CONFLICTS = 20
REGISTRATION_LOCK = 7_202_611  # any constant: the advisory lock that serialises conflict checks


def serialize_conflict_checks(session: Session) -> None:
    """Two registrations of one company at the same moment must see each other: check them one at a time.

    SQLite write transactions are already serial (BEGIN IMMEDIATE); PostgreSQL takes a transaction-scoped
    advisory lock, released at commit or rollback.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.exec(select(func.pg_advisory_xact_lock(REGISTRATION_LOCK))).one()


def active_registrations_like(
    session: Session, *, domain: str | None, key: str, now: datetime, window_days: int, exclude_id: int | None = None
) -> list[Registration]:
    """Registrations that still protect a company: approved and unexpired, or open and within the window."""
    active = _protecting(now, window_days)
    same = Registration.company_key == key
    if domain:
        same = or_(same, Registration.domain == domain)
    query = select(Registration).where(active, same)
    if exclude_id is not None:
        query = query.where(Registration.id != exclude_id)
    # Approved ones, then the earliest, are the evidence that matters (first approved wins); a company
    # registered hundreds of times must not make every new registration load all of them.
    approved_first = case((Registration.status == RegistrationStatus.approved, 0), else_=1)
    return list(session.exec(query.order_by(approved_first, Registration.created_at, Registration.id)
                             .limit(MAX_CONFLICTS)).all())


def _protecting(now: datetime, window_days: int):
    """Registrations that still protect a company: approved and unexpired, or open and within the window."""
    since = now - timedelta(days=window_days)
    return or_(
        and_(Registration.status == RegistrationStatus.approved, Registration.protection_expires_at > now),
        and_(Registration.status.in_(OPEN_STATUSES), Registration.created_at > since),
    )


def similar_key_candidates(session: Session, *, numbers: str, bound, now: datetime,
                           window_days: int) -> list[tuple[int, str]]:
    """(id, company_key) of protecting registrations with these numbers that pass `bound` (a
    conflicts.SimilarityBound), by id. A superset of the keys similar enough, found in the trigram index of
    protected keys: the caller scores them.
    """
    return candidate_keys(session, numbers=numbers, bound=bound, protecting=_protecting(now, window_days))


def claimed_again_at(session: Session, registration_id: int) -> datetime | None:
    """When the registration last went back to received (an edit: it claims its company anew), or None."""
    return session.exec(select(func.max(RegistrationEvent.at)).where(
        RegistrationEvent.registration_id == registration_id,
        RegistrationEvent.to_status == RegistrationStatus.received, RegistrationEvent.from_status.is_not(None))).one()


def registrations_by_ids(session: Session, ids: list[int]) -> list[tuple[Registration, Partner]]:
    if not ids:
        return []
    query = (select(Registration, Partner).join(Partner, Partner.id == Registration.partner_id)
             .where(Registration.id.in_(ids)).order_by(Registration.created_at))
    return list(session.exec(query).all())


def account_executives(session: Session) -> list[TeamMember]:
    return list(session.exec(select(TeamMember).where(TeamMember.role == Role.ae)).all())


def program_runners(session: Session) -> list[TeamMember]:
    """Partner managers first, then admins, in a stable order."""
    rows = session.exec(select(TeamMember).where(TeamMember.role.in_((Role.partner_manager, Role.admin)))).all()
    return sorted(rows, key=lambda m: (m.role != Role.partner_manager, m.slack_user_id))


def first_program_runner(session: Session) -> str | None:
    """Who hears what a partner without a manager would: the first partner manager, else the first admin."""
    runners = program_runners(session)
    return runners[0].slack_user_id if runners else None


def partner_manager_or_runner(session: Session, partner: Partner) -> str | None:
    """The partner's own manager, else the first partner manager or admin (conflicts, duplicate upsells)."""
    return partner.manager_slack_id or first_program_runner(session)


def partner_record(session: Session, partner_id: int) -> dict[str, int]:
    """How this partner's past registrations ended: counts by final status."""
    closed = (RegistrationStatus.won, RegistrationStatus.lost, RegistrationStatus.rejected)
    rows = session.exec(
        select(Registration.status, func.count()).where(Registration.partner_id == partner_id,
                                                       Registration.status.in_(closed))
        .group_by(Registration.status)
    ).all()
    return {str(status): count for status, count in rows}


def partner_by_channel(session: Session, channel_id: str) -> Partner | None:
    return session.exec(select(Partner).where(Partner.slack_channel_id == channel_id)).first()


def partners_with_channels(session: Session) -> list[Partner]:
    return list(session.exec(select(Partner).where(Partner.slack_channel_id.is_not(None))).all())


def partner_choices(session: Session, actor: Actor, *, name_contains: str = "", limit: int = 100) -> list[Partner]:
    """Partners this actor may register on behalf of: any, for our own team; none, for partners."""
    query = select(Partner).where(true() if actor.is_internal else false()).order_by(Partner.name).limit(limit)
    if name_contains:
        query = query.where(func.lower(Partner.name).contains(name_contains.lower()))
    return list(session.exec(query).all())


def registrations_due_to_expire(
    session: Session, now: datetime, *, limit: int | None = None, lock: bool = True
) -> list[Registration]:
    """Approved registrations whose protection has ended, soonest first, locked (`lock`) where the database can."""
    query = (select(Registration).where(Registration.status == RegistrationStatus.approved,
                                        Registration.protection_expires_at <= now)
             .order_by(Registration.protection_expires_at, Registration.id).limit(limit))
    return list(session.exec(query.with_for_update() if lock else query).all())


def reviews_due_reminders(
    session: Session, before: datetime, *, after: tuple[datetime, int] | None = None, limit: int = 200
) -> list[tuple[datetime, Registration, Partner]]:
    """(where its reminders count from, the registration, its partner) for each review whose SLA clock counts from
    `before` or earlier, oldest first, by the clock's index (storage/sla_clock.py). The registration may have
    changed or left review since its clock was moved: the caller looks (workflows/reminders.py).

    `after` is the (counted from, id) of the last row of the previous page: pages by index, not by offset.
    """
    query = select(Registration, Partner).join(Partner, Partner.id == Registration.partner_id)
    return sla_clock.due(session, sla_clock.REVIEW, query, before=before, after=after, limit=limit)

def record_reminder(session: Session, key: str, now: datetime) -> bool:
    """Record a reminder as sent, in the transaction that queues its message; False when it already was (or a
    concurrent run has just recorded it: waited for on PostgreSQL). One statement, no savepoint."""
    return insert_new(session, Reminder, key="key", values={"key": key, "sent_at": now})


def reminder_keys_sent(session: Session, keys: list[str]) -> set[str]:
    """Which of these reminder keys were already sent."""
    if not keys:
        return set()
    return set(session.exec(select(Reminder.key).where(Reminder.key.in_(keys))).all())


def move_channel_references(session: Session, old_channel_id: str, new_channel_id: str) -> int:
    """Point everything stored at a channel to its new id; returns how many partners moved."""
    moved = session.exec(update(Partner).where(Partner.slack_channel_id == old_channel_id)
                         .values(slack_channel_id=new_channel_id)).rowcount
    session.exec(update(Registration).where(Registration.partner_channel_id == old_channel_id)
                 .values(partner_channel_id=new_channel_id))
    session.exec(update(Upsell).where(Upsell.partner_channel_id == old_channel_id)
                 .values(partner_channel_id=new_channel_id))
    move_channel(session, old_channel_id, new_channel_id)
    return moved


DESK_QUEUED = "queued"  # the desk is owed by the Slack outbox (its ts lives there)


def claim_partner_desk(session: Session, partner_id: int) -> bool:
    """Mark a partner's desk as owed; False when it already is (or was posted)."""
    return session.exec(update(Partner).where(Partner.id == partner_id, Partner.desk_message_ts.is_(None))
                        .values(desk_message_ts=DESK_QUEUED)).rowcount == 1


def claim_request(session: Session, key: str, now: datetime) -> bool:
    """Record a Slack request (a view submission, a button press) as handled; False when it already was."""
    # One statement before the ack: a key already there, or committed meanwhile by a concurrent delivery, inserts
    # nothing, and the transaction stays usable to answer "already done".
    return insert_new(session, ProcessedEvent, key="event_id", values={"event_id": key, "received_at": now})

