"""Queries of the upsell motion. Every permission filter on upsells lives here, as for registrations.

Who may see an upsell follows the registration rules: a partner's people see their partner's upsells (a referral
contact only those they flagged), an AE the upsells assigned to them, partner managers and admins all of them.
The Slack outbox keys of an upsell's messages are written by handlers/notify.py in the formats below.
"""

from __future__ import annotations

from sqlalchemy import false, func, true
from sqlmodel import Session, select

from storage.actors import Actor
from storage.models import OPEN_UPSELL_STATUSES, CustomerAccount, Partner, Upsell
from storage.queries import deal_visibility

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

