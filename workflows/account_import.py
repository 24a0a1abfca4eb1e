"""`partnerbot import accounts FILE.csv`: customer accounts with their partners and product lines.

Rows are upserted by normalised domain, else normalised name, the way won registrations find their account
(workflows/accounts.py), each row in its own transaction. What a row gives replaces what the account had (name,
owner, landing zone, monthly revenue); an empty owner or revenue cell leaves the account's as it is. Partners
and product lines are only ever added: a file that leaves one out never detaches a partner or takes a product
line away, since those decide who sees the account and what was sold.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, Field, field_validator
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage.accounts import partner_index, serialize_account_changes, team_member_role
from storage.models import CustomerAccount, PartnerType, utcnow
from storage.queries import sees_only_own_registrations
from workflows.accounts import add_product_line, attach_partner, find_account, new_account
from workflows.amounts import AmountUnclear, parse_amount
from workflows.imports import (
    Domain,
    ImportBatch,
    ImportReport,
    Optional,
    OptionalUserId,
    Outcome,
    StrList,
    known_values,
    run_import,
)
from workflows.normalize import company_key
from workflows.program import Program
from workflows.program_rules import choice_hint, closest

ACCOUNT_COLUMNS = ["name", "domain", "owner_slack_id", "partners", "product_lines", "monthly_revenue"]
MAX_REVENUE = Decimal(10) ** 12  # the column holds 14 digits, 2 of them decimals


class AccountRow(BaseModel):
    name: str = Field(max_length=200)
    domain: Domain = None
    owner_slack_id: OptionalUserId = None
    partners: StrList = []
    product_lines: StrList = []
    monthly_revenue: Optional = None

    @field_validator("name", mode="before")
    @classmethod
    def _named(cls, value):
        value = value.strip() if isinstance(value, str) else value
        if not value:
            raise ValueError("missing; every account needs the customer's name")
        return value


def _partners(session: Session, names: list[str], batch: ImportBatch,
              reasons: list[str]) -> list[tuple[int, str, PartnerType]]:
    """(id, name, type) of each partner named, in any case; a name the program lacks is a reason to refuse."""
    index = batch.memo.get("partners")
    if index is None:
        index = batch.memo["partners"] = {name.casefold(): (name, *rest)
                                          for name, rest in partner_index(session).items()}
    found = {}
    for name in names:
        match = index.get(name.casefold())
        if match is None:
            guess = closest(name, [spelled for spelled, _, _ in index.values()])
            hint = f"; did you mean “{guess}”?" if guess else "; import it with `partnerbot import partners` first"
            reasons.append(f"partners: “{name}” is not a partner in the program{hint}")
        else:
            spelled, partner_id, kind = match
            found[partner_id] = (partner_id, spelled, kind)
    return list(found.values())


def _product_lines(values: list[str], program: Program, reasons: list[str]) -> list[str]:
    targets = program.upsell_targets
    try:
        return known_values("product_lines", values,
                            lambda v: next((t for t in targets if t.casefold() == v.strip().casefold()), None),
                            lambda v: choice_hint(v, targets), "a product line or plan")
    except ValueError as exc:
        reasons.append(str(exc))
        return []


def _revenue(raw: str | None, currency: str, reasons: list[str]) -> Decimal | None:
    if raw is None:
        return None
    try:
        value = parse_amount(raw, currency)
    except AmountUnclear as exc:
        reasons.append(f"monthly_revenue: {exc} ({currency}, the program's base currency)")
        return None
    if value < 0 or value >= MAX_REVENUE:
        reasons.append(f"monthly_revenue: {raw.strip()} is {'negative' if value < 0 else 'too large'}")
        return None
    return value


def _claims(row: AccountRow, account: CustomerAccount | None) -> dict[str, str]:
    """What a row stands for in its file (its name, its domain, the account it updates), each with how a second
    row standing for it is the same customer."""
    claims = {f"name:{company_key(row.name)}": "the same name"}
    if row.domain:
        claims[f"domain:{row.domain}"] = f"the same domain {row.domain}"
    if account is not None:
        claims[f"account:{account.id}"] = f"both are the account “{account.name}”"
    return claims


def _refusals(session: Session, row: AccountRow, account: CustomerAccount | None,
              batch: ImportBatch) -> tuple[list[str], dict]:
    """Every reason to refuse the row at once (so one fix-and-rerun is enough), and what it names if none."""
    claims = _claims(row, account)
    reasons = [f"duplicate: the same customer as row {batch.claims[claim]} ({why}); one row per account"
               for claim, why in claims.items() if claim in batch.claims][:1]
    if account is not None and row.domain and account.domain not in (None, row.domain):
        reasons.append(f"domain: the account named “{account.name}” has the domain {account.domain}; give that "
                       "domain, or a name that tells the two customers apart")
    if row.owner_slack_id and team_member_role(session, row.owner_slack_id) is None:
        reasons.append(f"owner_slack_id: {row.owner_slack_id} is not in the team (an AE who owns the account); "
                       "import the team first")
    partners = _partners(session, row.partners, batch, reasons)
    lines = _product_lines(row.product_lines, batch.program, reasons)
    revenue = _revenue(row.monthly_revenue, batch.program.routing.base_currency, reasons)
    return reasons, {"partners": partners, "lines": lines, "revenue": revenue, "claims": claims}


def _upsert_account(session: Session, row: AccountRow, batch: ImportBatch) -> tuple[Outcome, list[str]]:
    serialize_account_changes(session)
    key, now = company_key(row.name), utcnow()
    account = find_account(session, domain=row.domain, key=key)
    reasons, read = _refusals(session, row, account, batch)
    if reasons:
        raise ValueError("; ".join(reasons))
    lines, revenue = read["lines"], read["revenue"]
    values = {"name": row.name, "name_key": key}
    if row.domain:
        values["domain"] = row.domain
    if row.owner_slack_id:
        values["owner_slack_id"] = row.owner_slack_id
    if lines:
        values["landing_zone"] = lines[0]
    if revenue is not None:
        values |= {"monthly_revenue": revenue, "currency": batch.program.routing.base_currency}
    outcome = Outcome.unchanged
    if account is None:
        account, outcome = new_account(session, now=now, **_as_new(values)), Outcome.created
    elif any(getattr(account, name) != value for name, value in values.items()):
        for name, value in values.items():
            setattr(account, name, value)
        account.updated_at, outcome = now, Outcome.updated
        session.add(account)
    warnings = []
    for partner_id, name, kind in read["partners"]:
        if attach_partner(session, account, partner_id, now=now):
            outcome = outcome if outcome is Outcome.created else Outcome.updated
            if sees_only_own_registrations(kind):
                warnings.append(f"partners: {name} is a referral partner: its people see only accounts from "
                                "their own registrations, so none of them sees this one")
    for line in lines:
        if add_product_line(session, account, line, now=now) and outcome is Outcome.unchanged:
            outcome = Outcome.updated
    batch.claims |= {claim: batch.row for claim in [*read["claims"], f"account:{account.id}"]}
    return outcome, warnings


def _as_new(values: dict) -> dict:
    """new_account's arguments from an account's column values."""
    values = dict(values)
    values["key"] = values.pop("name_key")
    values.setdefault("domain", None)
    return values


def import_accounts(engine: Engine, path: Path, progress: Callable[[int, int], None] | None = None, *,
                    program: Program | None = None) -> ImportReport:
    """Upsert customer accounts by domain (else name), checked against the program and the partners and team
    already imported; each row is its own transaction, so a bad row leaves nothing behind."""
    return run_import(engine, path, ACCOUNT_COLUMNS, AccountRow, _upsert_account, program or Program(), progress)

