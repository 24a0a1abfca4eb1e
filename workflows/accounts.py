"""Customer accounts: a won registration becomes one, or joins the one it matches, in the transaction that marks
it won; an undo of the win takes back exactly what the win brought.

A customer is matched by normalised domain, then by normalised name, as registrations are
(workflows/normalize.py). A match keeps its owner and landing zone (it gets them only when it has none),
attaches the registering partner once and adds the product line if new. What the win did is kept in its
decision (ReviewDecision.previous, under ACCOUNT), so an undo removes an account the win created when nothing
else has come to rely on it, and otherwise only the attachment and what the win filled in.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session

from storage.accounts import (
    account_by_domain,
    account_by_name_key,
    account_product_lines,
    attached_count,
    attached_wins,
    attachment,
    has_upsells,
    serialize_account_changes,
)
from storage.models import AccountPartner, AccountProductLine, CustomerAccount, Registration

ACCOUNT = "account"  # the key of a win's account change in ReviewDecision.previous


def find_account(session: Session, *, domain: str | None, key: str) -> CustomerAccount | None:
    """The account this customer is: the one with its normalised domain, else the one with its normalised name."""
    return (account_by_domain(session, domain) if domain else None) or account_by_name_key(session, key)


def new_account(session: Session, *, name: str, key: str, domain: str | None, now: datetime,
                owner_slack_id: str | None = None, landing_zone: str | None = None,
                monthly_revenue: Decimal | None = None, currency: str | None = None,
                source_registration_id: int | None = None) -> CustomerAccount:
    account = CustomerAccount(name=name, name_key=key, domain=domain, owner_slack_id=owner_slack_id,
                              landing_zone=landing_zone, monthly_revenue=monthly_revenue, currency=currency,
                              source_registration_id=source_registration_id, created_at=now, updated_at=now)
    session.add(account)
    session.flush()
    return account


def attach_partner(session: Session, account: CustomerAccount, partner_id: int, *, now: datetime,
                   registration: Registration | None = None) -> bool:
    """Attach a partner to an account, with the registration that brought it (its submitter is the one of a
    referral partner's people who may see the account); False when it was attached already."""
    if attachment(session, account.id, partner_id) is not None:
        return False
    session.add(AccountPartner(account_id=account.id, partner_id=partner_id, attached_at=now,
                               registration_id=registration.id if registration else None,
                               submitted_by_slack_id=registration.submitted_by_slack_id if registration else None))
    session.flush()
    return True


def add_product_line(session: Session, account: CustomerAccount, product_line: str, *, now: datetime,
                     upsell_id: int | None = None) -> bool:
    """Record a product line the customer has bought (through the won upsell `upsell_id`, if one brought it);
    False when it had it already."""
    if session.get(AccountProductLine, (account.id, product_line)) is not None:
        return False
    session.add(AccountProductLine(account_id=account.id, product_line=product_line, since=now, upsell_id=upsell_id))
    session.flush()
    return True


@dataclass
class WinChange:
    """What a win did to an account, kept with the decision so an undo takes back exactly that."""

    account_id: int
    created: bool = False
    attached: bool = False  # the registering partner was attached by this win
    claimed: bool = False  # it was attached already without a registration (an import): this one became its source
    product_line: str | None = None  # the product line the win added
    owner: str | None = None  # the owner it gave an account that had none
    landing_zone: str | None = None  # the landing zone it gave an account that had none
    domain: str | None = None  # the domain it gave an existing account that had none

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def account_for_win(session: Session, registration: Registration, *, owner_slack_id: str | None,
                    now: datetime) -> WinChange:
    """Make the won registration's customer an account, or bring it into the one it matches, in the caller's
    transaction: the company, its domain, `owner_slack_id` (the AE who won it) as owner and the product line as
    landing zone when the account has none, the registering partner attached, the product line added."""
    serialize_account_changes(session)
    line = registration.product_line
    account = find_account(session, domain=registration.domain, key=registration.company_key)
    if account is None:
        account = new_account(session, name=registration.company, key=registration.company_key,
                              domain=registration.domain, now=now, owner_slack_id=owner_slack_id,
                              landing_zone=line, source_registration_id=registration.id)
        change = WinChange(account.id, created=True, owner=owner_slack_id, landing_zone=line)
    else:
        change = WinChange(account.id)
        if account.owner_slack_id is None and owner_slack_id:
            account.owner_slack_id = change.owner = owner_slack_id
        if account.landing_zone is None:
            account.landing_zone = change.landing_zone = line
        if account.domain is None and registration.domain:  # found by name; no account has this domain
            account.domain = change.domain = registration.domain
        account.updated_at = now
        session.add(account)
    link = attachment(session, account.id, registration.partner_id)
    if link is None:
        change.attached = attach_partner(session, account, registration.partner_id, now=now,
                                         registration=registration)
    elif link.registration_id is None:
        link.registration_id, link.submitted_by_slack_id = registration.id, registration.submitted_by_slack_id
        session.add(link)
        change.claimed = True
    if add_product_line(session, account, line, now=now):
        change.product_line = line
    return change


def _only_the_wins(session: Session, account: CustomerAccount, change: WinChange) -> bool:
    """Nothing but the win is on an account it created: no partner, no upsell, no product line or revenue
    besides its own."""
    lines = account_product_lines(session, account.id)
    return (attached_count(session, account.id) == 0 and not has_upsells(session, account.id)
            and account.monthly_revenue is None and all(row.product_line == change.product_line for row in lines))


def take_back_win(session: Session, registration: Registration, previous: dict[str, Any], *,
                  now: datetime) -> None:
    """Undo what a win did to its account (see WinChange), in the caller's transaction.

    An account the win created goes when nothing else has come to rely on it. Otherwise the win's attachment
    goes (or, if the partner was attached before, its link to the registration), and so does what the win gave
    the account, unless something else stands for it now: the product line when another won registration still
    attached has it or an upsell added it; the owner and landing zone pass to the earliest other win still
    attached. An account that existed before keeps everything it had.
    """
    if ACCOUNT not in previous:
        return
    change = WinChange(**previous[ACCOUNT])
    serialize_account_changes(session)
    account = session.get(CustomerAccount, change.account_id)
    if account is None:
        return
    link = attachment(session, account.id, registration.partner_id)
    if link is not None and link.registration_id == registration.id:
        if change.attached:
            session.delete(link)
        elif change.claimed:
            link.registration_id = link.submitted_by_slack_id = None
            session.add(link)
        session.flush()
    if change.created and _only_the_wins(session, account, change):
        for row in account_product_lines(session, account.id):
            session.delete(row)
        session.flush()
        session.delete(account)
        return
    others = [won for won in attached_wins(session, account.id) if won.id != registration.id]
    if change.product_line and not any(won.product_line == change.product_line for won in others):
        row = session.get(AccountProductLine, (account.id, change.product_line))
        if row is not None and row.upsell_id is None:
            session.delete(row)
            session.flush()
    if change.owner and account.owner_slack_id == change.owner:
        account.owner_slack_id = others[0].assigned_to_slack_id if others else None
    lines = [row.product_line for row in account_product_lines(session, account.id)]
    if change.landing_zone and account.landing_zone == change.landing_zone and change.landing_zone not in lines:
        account.landing_zone = lines[0] if lines else None
    if change.domain and account.domain == change.domain:
        account.domain = None
    if account.source_registration_id == registration.id:
        account.source_registration_id = others[0].id if others else None
    account.updated_at = now
    session.add(account)
