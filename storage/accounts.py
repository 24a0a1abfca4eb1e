"""Customer accounts and who may see them. Every permission filter on accounts lives here, as for registrations.

An account's attached partners decide who may see it: a partner's people see the accounts their partner is
attached to (a referral contact only those that came from their own registrations), an AE the accounts they
own, partner managers and admins all of them.
"""

from __future__ import annotations

from sqlalchemy import and_, exists, false, func, or_, true
from sqlmodel import Session, select

from storage.actors import Actor
from storage.models import (
    AccountPartner,
    AccountProductLine,
    CustomerAccount,
    Partner,
    PartnerType,
    Registration,
    RegistrationStatus,
    Role,
    TeamMember,
    Upsell,
)
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


# Matching and changing accounts (workflows/accounts.py, workflows/account_import.py). These run with no actor:
# a won registration or an import changes accounts, and nobody is shown anything from them.

# Any constant distinct from the other advisory locks: REGISTRATION_LOCK (storage/queries.py), LEADERSHIP_LOCKS
# (storage/leadership.py, held by the worker and the scheduler for their whole lives).
ACCOUNT_LOCK = 7_202_613


def serialize_account_changes(session: Session) -> None:
    """Two wins (or an import row and a win) of one customer must not both create it: match and create one at a
    time. SQLite write transactions are serial already; PostgreSQL takes a transaction-scoped advisory lock.

    Take it last, after any registration lock: then no two transactions wait for each other.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.exec(select(func.pg_advisory_xact_lock(ACCOUNT_LOCK))).one()


def account_by_domain(session: Session, domain: str) -> CustomerAccount | None:
    return session.exec(select(CustomerAccount).where(CustomerAccount.domain == domain)).first()


def account_by_name_key(session: Session, key: str) -> CustomerAccount | None:
    """The account with this normalised name; of several (different domains), one without a domain first (it can
    take one), then the oldest."""
    query = (select(CustomerAccount).where(CustomerAccount.name_key == key)
             .order_by(CustomerAccount.domain.is_not(None), CustomerAccount.id))
    return session.exec(query).first()


def attachment(session: Session, account_id: int, partner_id: int) -> AccountPartner | None:
    return session.get(AccountPartner, (account_id, partner_id))


def account_product_lines(session: Session, account_id: int) -> list[AccountProductLine]:
    """The product lines an account has bought, the earliest first."""
    query = (select(AccountProductLine).where(AccountProductLine.account_id == account_id)
             .order_by(AccountProductLine.since, AccountProductLine.product_line))
    return list(session.exec(query).all())


def attached_count(session: Session, account_id: int) -> int:
    return session.exec(select(func.count()).select_from(AccountPartner)
                        .where(AccountPartner.account_id == account_id)).one()


def has_upsells(session: Session, account_id: int) -> bool:
    return session.exec(select(Upsell.id).where(Upsell.account_id == account_id).limit(1)).first() is not None


def attached_wins(session: Session, account_id: int) -> list[Registration]:
    """The won registrations that attached their partner to this account, the earliest won first."""
    query = (select(Registration).join(AccountPartner, AccountPartner.registration_id == Registration.id)
             .where(AccountPartner.account_id == account_id, Registration.status == RegistrationStatus.won)
             .order_by(Registration.closed_at, Registration.id))
    return list(session.exec(query).all())


def partner_index(session: Session) -> dict[str, tuple[int, PartnerType]]:
    """Every partner's id and type by its name (an import reads it once, for all its rows)."""
    return {name: (partner_id, kind) for name, partner_id, kind in
            session.exec(select(Partner.name, Partner.id, Partner.type)).all()}


def team_member_role(session: Session, slack_user_id: str) -> Role | None:
    return session.exec(select(TeamMember.role).where(TeamMember.slack_user_id == slack_user_id)).first()
