"""Customer accounts and who may see them. Every permission filter on accounts lives here, as for registrations.

An account's attached partners decide who may see it: a partner's people see the accounts their partner is
attached to (a referral contact only those that came from their own registrations), an AE the accounts they
own, partner managers and admins all of them.
"""

from __future__ import annotations

from sqlalchemy import and_, exists, false, func, or_, true
from sqlmodel import Session, select

from storage.actors import Actor
from storage.models import AccountPartner, CustomerAccount, Partner, Role
from storage.queries import sees_only_own_registrations

SEARCH_LIMIT = 100  # Slack shows at most 100 options in a select


def visible_accounts_clause(actor: Actor):
    """The WHERE clause of customer accounts an actor may see."""
    if actor.is_internal:
        if actor.role in (Role.partner_manager, Role.admin):
            return true()
        return CustomerAccount.owner_slack_id == actor.slack_user_id
    if actor.is_partner:
        attached = and_(AccountPartner.account_id == CustomerAccount.id, AccountPartner.partner_id == actor.partner_id)
        if sees_only_own_registrations(actor.partner_type):
            attached = and_(attached, AccountPartner.submitted_by_slack_id == actor.slack_user_id)
        return exists().where(attached)
    return false()


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def visible_accounts(session: Session, actor: Actor, *, search: str = "", limit: int = SEARCH_LIMIT
                     ) -> list[CustomerAccount]:
    """The accounts this actor may see whose name or domain contains `search` (all when empty), by name."""
    query = select(CustomerAccount).where(visible_accounts_clause(actor))
    typed = search.strip().lower()
    if typed:
        pattern = f"%{_escape_like(typed)}%"
        query = query.where(or_(func.lower(CustomerAccount.name).like(pattern, escape="\\"),
                                CustomerAccount.domain.like(pattern, escape="\\")))
    return list(session.exec(query.order_by(CustomerAccount.name, CustomerAccount.id).limit(limit)).all())


def account_for_actor(session: Session, account_id: int, actor: Actor) -> CustomerAccount | None:
    """The account if this actor may see it (an id from a form or a button is never trusted alone)."""
    query = select(CustomerAccount).where(CustomerAccount.id == account_id, visible_accounts_clause(actor))
    return session.exec(query).first()


def attached_partners(session: Session, account_id: int) -> list[Partner]:
    """The partners attached to an account, by name."""
    query = (select(Partner).join(AccountPartner, AccountPartner.partner_id == Partner.id)
             .where(AccountPartner.account_id == account_id).order_by(Partner.name))
    return list(session.exec(query).all())


def is_attached(session: Session, account_id: int, partner_id: int) -> bool:
    query = select(AccountPartner.account_id).where(AccountPartner.account_id == account_id,
                                                    AccountPartner.partner_id == partner_id)
    return session.exec(query).first() is not None
