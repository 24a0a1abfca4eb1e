"""Queries of the upsell motion. Every permission filter on upsells lives here, as for registrations.

Who may see an upsell follows the registration rules: a partner's people see their partner's upsells (a referral
contact only those they flagged), an AE the upsells assigned to them, partner managers and admins all of them.
The Slack outbox keys of an upsell's messages are written by handlers/notify.py in the formats below.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists, false, func, or_, true
from sqlmodel import Session, select

from storage.actors import Actor
from storage.models import (
    OPEN_UPSELL_STATUSES,
    AttributionType,
    CustomerAccount,
    Partner,
    PartnerContact,
    Upsell,
)
from storage import sla_clock
from storage.queries import deal_visibility
from storage.reviews import reminder_keys_under

UPSELL_LOCK = 7_202_612  # any constant (an int4): with the account id, the advisory lock of one account's upsells


def upsell_root_key(upsell_id: int) -> str:
    """The outbox key of the message an upsell's thread hangs under (in the partner's channel, or a DM)."""
    return f"ups:{upsell_id}:root"


def upsell_copy_key(upsell_id: int) -> str:
    """The outbox key of the executive's copy of a root that went to a DM (a referral partner's flag)."""
    return f"ups:{upsell_id}:assignee"


def duplicate_review_key(upsell_id: int) -> str:
    """The outbox key of the partner manager's review of a duplicate flag, updated in place once decided."""
    return f"ups:{upsell_id}:duplicate-review"


def visible_upsells_clause(actor: Actor):
    """The WHERE clause of upsells an actor may see: the registrations' rules, the flagger in the submitter's place."""
    return deal_visibility(actor, partner_id=Upsell.partner_id, submitted_by=Upsell.flagged_by_slack_id,
                           assigned_to=Upsell.assigned_to_slack_id)


def upsell_for_actor(session: Session, upsell_id: int, actor: Actor) -> Upsell | None:
    """The upsell if this actor may see it (an id from a button or a form is never trusted alone), locked where
    the database can."""
    query = select(Upsell).where(Upsell.id == upsell_id, visible_upsells_clause(actor)).with_for_update()
    return session.exec(query).first()


def upsell_for_runner(session: Session, upsell_id: int, actor: Actor) -> Upsell | None:
    """The upsell if this actor runs the program (partner managers and admins decide duplicates), locked."""
    may = true() if actor.is_internal and actor.runs_program else false()
    return session.exec(select(Upsell).where(Upsell.id == upsell_id, may).with_for_update()).first()


def serialize_account_upsells(session: Session, account_id: int) -> None:
    """Two flags on one account at the same moment must see each other: one at a time per account.

    SQLite write transactions are already serial (BEGIN IMMEDIATE); PostgreSQL takes a transaction-scoped
    advisory lock on (UPSELL_LOCK, account), released at commit or rollback.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.exec(select(func.pg_advisory_xact_lock(UPSELL_LOCK, account_id))).one()


def open_upsells_on(session: Session, account_id: int, target: str) -> list[Upsell]:
    """The open upsells (OPEN_UPSELL_STATUSES) on one account and target, first flagged first."""
    query = (select(Upsell).where(Upsell.account_id == account_id, Upsell.target == target,
                                  Upsell.status.in_(OPEN_UPSELL_STATUSES))
             .order_by(Upsell.created_at, Upsell.id))
    return list(session.exec(query).all())


def latest_flag(session: Session, *, flagged_by: str, account_id: int, target: str) -> Upsell | None:
    """This person's newest upsell on an account and target (a replayed submission is answered with it)."""
    query = (select(Upsell).where(Upsell.flagged_by_slack_id == flagged_by, Upsell.account_id == account_id,
                                  Upsell.target == target)
             .order_by(Upsell.created_at.desc(), Upsell.id.desc()).limit(1))
    return session.exec(query).first()


def upsell_parties(session: Session, upsell: Upsell) -> tuple[CustomerAccount, Partner]:
    """The account and partner an upsell is about."""
    return session.get(CustomerAccount, upsell.account_id), session.get(Partner, upsell.partner_id)



def upsell_for_decision(session: Session, upsell_id: int, actor: Actor) -> Upsell | None:
    """The upsell if this actor may accept, decline or close it: its owner AE (the one it is assigned to), its
    partner's manager, or a partner manager or admin. Partners never decide, not even their own. Locked where the
    database can."""
    if not actor.is_internal:
        return None
    may = true()
    if not actor.runs_program:
        manages = exists().where(Partner.id == Upsell.partner_id, Partner.manager_slack_id == actor.slack_user_id)
        may = or_(Upsell.assigned_to_slack_id == actor.slack_user_id, manages)
    return session.exec(select(Upsell).where(Upsell.id == upsell_id, may).with_for_update()).first()


def upsell_for_joining(session: Session, upsell_id: int, actor: Actor) -> Upsell | None:
    """The partner-influenced upsell this actor's partner was asked in on, if this actor may say it is involved:
    any of the partner's people when its thread is in the partner's channel; otherwise (a referral partner, or
    no channel) only its listed contacts, the ones asked by DM. Locked where the database can."""
    if not actor.is_partner:
        return None
    listed = exists().where(PartnerContact.partner_id == Upsell.partner_id,
                            PartnerContact.slack_user_id == actor.slack_user_id)
    may = and_(Upsell.partner_id == actor.partner_id, Upsell.attribution == AttributionType.influenced,
               or_(Upsell.partner_channel_id.is_not(None), listed))
    return session.exec(select(Upsell).where(Upsell.id == upsell_id, may).with_for_update()).first()


def listed_contacts(session: Session, partner_id: int) -> list[str]:
    """The Slack ids of a partner's listed contacts, in a stable order."""
    return list(session.exec(select(PartnerContact.slack_user_id).where(PartnerContact.partner_id == partner_id)
                             .order_by(PartnerContact.slack_user_id)).all())


def upsells_due_reminders(session: Session, before: datetime, *, after: tuple[datetime, int] | None = None,
                          limit: int = 200) -> list[tuple[datetime, Upsell, CustomerAccount, Partner]]:
    """(where its reminders count from, the upsell, its account, its partner) for each upsell whose accept-SLA
    clock counts from `before` or earlier, oldest first, by the clock's index (storage/sla_clock.py); the upsell
    may have changed or left `open` since (the caller looks). `after` is the (counted from, id) of the previous
    page's last row."""
    query = (select(Upsell, CustomerAccount, Partner).join(CustomerAccount, CustomerAccount.id == Upsell.account_id)
             .join(Partner, Partner.id == Upsell.partner_id))
    return sla_clock.due(session, sla_clock.UPSELL, query, before=before, after=after, limit=limit)


def upsell_reminder_prefix(upsell_id: int) -> str:
    """What the keys of an upsell's accept-SLA reminders start with (each key is also the reminder's outbox key)."""
    return f"upsell-sla:{upsell_id}:"


def upsell_reminder_keys(session: Session, upsell_id: int) -> list[str]:
    """Keys of the accept-SLA reminders sent about an upsell, the first sent first."""
    return reminder_keys_under(session, upsell_reminder_prefix(upsell_id))


def join_invitation_key(upsell_id: int, contact_slack_id: str) -> str:
    """The outbox key of a partner contact's DM asking them to join an upsell (updated in place once joined)."""
    return f"ups:{upsell_id}:join:{contact_slack_id}"
