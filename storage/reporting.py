"""Queries of the figures (workflows/reporting.py): SQL aggregates only, never every registration loaded; each
filtered by a Scope (storage/reporting_scope.py) here, so no surface can forget it. Amounts come back as rows per
currency (and attribution), for the workflow to convert with the program's exchange rates.

"Influenced" is every attribution but partner-sourced (influenced and co-sell)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, case, func, literal, or_, select as sa_select, true
from sqlalchemy.sql import ColumnElement
from sqlmodel import Session, select

from storage.crm.models import UsageRevenue
from storage.models import (
    OPEN_STATUSES,
    OPEN_UPSELL_STATUSES,
    AccountPartner,
    AccountProductLine,
    AttributionType,
    CustomerAccount,
    Partner,
    PartnerStage,
    PricingModel,
    Registration,
    RegistrationStatus,
    TeamMember,
    Upsell,
    UpsellStatus,
)
from storage.nudges.managers import Stuck
from storage.reporting_scope import Scope

SOURCED, INFLUENCED = "sourced", "influenced"
DECIDED_STATUSES = (RegistrationStatus.won, RegistrationStatus.lost, RegistrationStatus.rejected,
                    RegistrationStatus.expired, RegistrationStatus.withdrawn)
LEAD_OPEN_STATUSES = (*OPEN_STATUSES, RegistrationStatus.approved)
USAGE_STATUSES = (RegistrationStatus.approved, RegistrationStatus.won)

# (slot, attribution, currency, count, total): a slot is the index of the time range among the bounds given
SlotRow = tuple[int, str, str, int, Decimal]
Rows = list[tuple[str, int, Decimal]]  # (currency, count, total)


def _amount(total) -> Decimal:
    return Decimal(str(total or 0))


def _rows(result) -> Rows:
    return [(currency, count, _amount(total)) for currency, count, total in result]


def _bucket(attribution):
    """'sourced' or 'influenced' (influenced and co-sell)."""
    return case((attribution == AttributionType.sourced, literal(SOURCED)), else_=literal(INFLUENCED))


def days_between(session: Session, start, end) -> ColumnElement:
    """Days (fractional) from `start` to `end`, both UTC timestamp columns, in SQL on SQLite and PostgreSQL."""
    if session.get_bind().dialect.name == "sqlite":
        return func.julianday(end) - func.julianday(start)
    return (func.extract("epoch", end) - func.extract("epoch", start)) / 86400.0


# --- scope filters ----------------------------------------------------------------------------------------------

def _partners_in(scope: Scope):
    """Partner ids in scope, as a subquery (manager, type, tier); None when the scope does not narrow partners."""
    if scope.manager_slack_id is None and scope.partner_type is None and scope.partner_tier is None:
        return None
    return select(Partner.id).where(scope.partner_clause(with_assignee=False))


def deals_in(scope: Scope, *, partner_id, submitted_by, assigned_to):
    """The WHERE clause of the deals (registrations, upsells: their columns given) in scope."""
    clauses = []
    if scope.partner_id is not None:
        clauses.append(partner_id == scope.partner_id)
    if (partners := _partners_in(scope)) is not None:
        clauses.append(partner_id.in_(partners))
    if scope.assignee_slack_id is not None:
        clauses.append(assigned_to == scope.assignee_slack_id)
    if scope.submitted_by_slack_id is not None:
        clauses.append(submitted_by == scope.submitted_by_slack_id)
    return and_(*clauses) if clauses else true()


def registrations_in(scope: Scope):
    return deals_in(scope, partner_id=Registration.partner_id, submitted_by=Registration.submitted_by_slack_id,
                    assigned_to=Registration.assigned_to_slack_id)


def upsells_in(scope: Scope):
    return deals_in(scope, partner_id=Upsell.partner_id, submitted_by=Upsell.flagged_by_slack_id,
                    assigned_to=Upsell.assigned_to_slack_id)


def accounts_in(scope: Scope):
    """Customer accounts attached to a partner in scope (a referral contact: those their registration brought; an
    AE: the accounts they own)."""
    attached = select(AccountPartner.account_id)
    if scope.partner_id is not None:
        attached = attached.where(AccountPartner.partner_id == scope.partner_id)
    if (partners := _partners_in(scope)) is not None:
        attached = attached.where(AccountPartner.partner_id.in_(partners))
    if scope.submitted_by_slack_id is not None:
        attached = attached.where(AccountPartner.submitted_by_slack_id == scope.submitted_by_slack_id)
    clause = CustomerAccount.id.in_(attached)
    if scope.assignee_slack_id is not None:
        clause = and_(clause, CustomerAccount.owner_slack_id == scope.assignee_slack_id)
    return clause


# --- batches: every partner manager's figures in one query -------------------------------------------------------
# `managers` (a batch): the query is grouped by the deal's partner's manager too, for these managers only, and each
# row comes with the manager's Slack id first; the scope must then be Scope.everything(). per_manager() splits the
# rows; a manager without any row is absent.

def batched(query, table, managers: Sequence[str] | None):
    """`query` (over `table`: Registration or Upsell) grouped by the partner's manager, for `managers`."""
    if managers is None:
        return query
    manager = Partner.manager_slack_id
    return (query.with_only_columns(manager, *query.selected_columns)
            .join_from(table, Partner, Partner.id == table.partner_id)
            .where(manager.in_(list(managers))).group_by(manager))


def per_manager(rows) -> dict[str, list[tuple]]:
    """Rows whose first column is a manager's Slack id, as {manager: [the rest of each row]}, in order."""
    out: dict[str, list[tuple]] = {}
    for row in rows:
        out.setdefault(row[0], []).append(tuple(row[1:]))
    return out


def _batch_of(scope: Scope, managers: Sequence[str] | None) -> None:
    if managers is not None and scope != Scope.everything():
        raise ValueError("a batch of managers is computed over the whole program's scope only")


# --- pipeline ---------------------------------------------------------------------------------------------------

def _slot(column, bounds: Sequence[datetime]):
    """Which of the ranges [bounds[i], bounds[i+1]) the column falls in (the query keeps it within them)."""
    if len(bounds) == 2:
        return literal(0)
    return case(*[(column < bound, literal(i)) for i, bound in enumerate(bounds[1:-1])],
                else_=literal(len(bounds) - 2))


def new_pipeline(session: Session, scope: Scope, bounds: Sequence[datetime], *, by_partner: bool = False,
                 sourced_only: bool = False, managers: Sequence[str] | None = None) -> list[tuple]:
    """New partner pipeline in each range between consecutive `bounds`: registrations approved then (approved_at,
    estimated_value) plus upsells accepted then (accepted_at, expected_value). Rows (slot, attribution, currency,
    count, total), with the partner id after the slot when `by_partner` (the manager first for a batch)."""
    _batch_of(scope, managers)
    rows: list[tuple] = []
    for table, at, value, in_scope in (
            (Registration, Registration.approved_at, Registration.estimated_value, registrations_in(scope)),
            (Upsell, Upsell.accepted_at, Upsell.expected_value, upsells_in(scope))):
        slot, bucket = _slot(at, bounds).label("slot"), _bucket(table.attribution).label("bucket")
        keys = [slot, table.partner_id, bucket, table.currency] if by_partner else [slot, bucket, table.currency]
        query = (sa_select(*keys, func.count(), func.sum(value))
                 .where(at >= bounds[0], at < bounds[-1], in_scope).group_by(*keys))
        if sourced_only:
            query = query.where(table.attribution == AttributionType.sourced)
        query = batched(query, table, managers)
        rows.extend(tuple(row[:-1]) + (_amount(row[-1]),) for row in session.execute(query).all())
    return rows


def open_pipeline(session: Session, scope: Scope, *,
                  managers: Sequence[str] | None = None) -> list[tuple]:
    """(attribution, currency, count, total) of approved registrations and accepted upsells now (the manager first
    for a batch)."""
    _batch_of(scope, managers)
    rows = []
    for table, status, value, in_scope in (
            (Registration, RegistrationStatus.approved, Registration.estimated_value, registrations_in(scope)),
            (Upsell, UpsellStatus.accepted, Upsell.expected_value, upsells_in(scope))):
        bucket = _bucket(table.attribution).label("bucket")
        rows.extend(tuple(row[:-1]) + (_amount(row[-1]),) for row in session.execute(batched(
            sa_select(bucket, table.currency, func.count(), func.sum(value))
            .where(table.status == status, in_scope).group_by(bucket, table.currency), table, managers)).all())
    return rows


# --- won and lost -----------------------------------------------------------------------------------------------

@dataclass
class Decided:
    """Deals closed in a range: won (attribution, currency, count, total), lost, and the days to close of the won
    ones that have a start time (their sum and how many); `upsells_won` (currency, count, total) is the upsells'
    part of `won`."""

    won: list[tuple[str, str, int, Decimal]] = field(default_factory=list)
    lost: int = 0
    days_sum: Decimal = Decimal(0)
    days_count: int = 0
    upsells_won: Rows = field(default_factory=list)


def decided(session: Session, scope: Scope, start: datetime, end: datetime) -> Decided:
    """Registrations and upsells won or lost with closed_at in [start, end): registrations at estimated_value
    (approved_at -> closed_at), upsells at final_amount else expected_value (accepted_at -> closed_at)."""
    return decided_by_manager(session, scope, start, end, None)[None]


def decided_by_manager(session: Session, scope: Scope, start: datetime, end: datetime,
                       managers: Sequence[str] | None) -> dict[str | None, Decided]:
    """decided() of each manager of a batch (every one of `managers` present); {None: decided()} without one."""
    _batch_of(scope, managers)
    results = {manager: Decided() for manager in (managers if managers is not None else [None])}
    for table, won, lost, value, began, in_scope in (
            (Registration, RegistrationStatus.won, RegistrationStatus.lost, Registration.estimated_value,
             Registration.approved_at, registrations_in(scope)),
            (Upsell, UpsellStatus.won, UpsellStatus.lost, func.coalesce(Upsell.final_amount, Upsell.expected_value),
             Upsell.accepted_at, upsells_in(scope))):
        bucket = _bucket(table.attribution).label("bucket")
        closed = and_(table.closed_at >= start, table.closed_at < end, in_scope)
        days = days_between(session, began, table.closed_at)
        for row in session.execute(batched(
                sa_select(bucket, table.currency, func.count(), func.sum(value), func.sum(days), func.count(began))
                .where(table.status == won, closed).group_by(bucket, table.currency), table, managers)).all():
            result = results[row[0] if managers is not None else None]
            b, currency, count, total, days_sum, days_count = row[-6:]
            result.won.append((b, currency, count, _amount(total)))
            if table is Upsell:
                result.upsells_won.append((currency, count, _amount(total)))
            result.days_sum += _amount(days_sum)
            result.days_count += days_count
        for row in session.execute(batched(sa_select(func.count()).select_from(table)
                                           .where(table.status == lost, closed), table, managers)).all():
            results[row[0] if managers is not None else None].lost += row[-1]
    return results


# --- lead to close ----------------------------------------------------------------------------------------------

GROUP_COLUMNS = {
    "partner": (Registration.partner_id, Partner.name),
    "type": (Partner.type, Partner.type),
    "tier": (Partner.tier, Partner.tier),
    "landing-zone": (Registration.product_line, Registration.product_line),
    "manager": (Partner.manager_slack_id, TeamMember.name),
}


def lead_to_close(session: Session, scope: Scope, start: datetime, end: datetime, *, by: str | None = None,
                  managers: Sequence[str] | None = None) -> list[tuple]:
    """(key, label, won, decided, open) of the registrations submitted (created_at) in [start, end), per group
    of `by` (a GROUP_COLUMNS key; None: one row for the whole scope), most submitted first. A manager's label is
    their name in the team, else their Slack id; partners without a manager are the group None. A batch: each row
    with the manager first, a manager without a registration submitted then absent."""
    _batch_of(scope, managers)
    won = func.sum(case((Registration.status == RegistrationStatus.won, 1), else_=0))
    done = func.sum(case((Registration.status.in_(DECIDED_STATUSES), 1), else_=0))
    still = func.sum(case((Registration.status.in_(LEAD_OPEN_STATUSES), 1), else_=0))
    where = and_(Registration.created_at >= start, Registration.created_at < end, registrations_in(scope))
    if by is None:
        rows = session.execute(batched(sa_select(won, done, still).where(where), Registration, managers)).all()
        return [row[:-3] + ("all", None, int(row[-3] or 0), int(row[-2] or 0), int(row[-1] or 0)) for row in rows]
    key, label = GROUP_COLUMNS[by]
    keys = [key] if key is label else [key, label]
    query = sa_select(*keys, won, done, still, func.count().label("submitted")).where(where).group_by(*keys)
    if managers is not None:
        query = batched(query, Registration, managers)  # joins the partner
    elif by != "landing-zone":
        query = query.join_from(Registration, Partner, Partner.id == Registration.partner_id)
    if by == "manager":  # named as the team file names them; their Slack id when not in it
        query = query.outerjoin(TeamMember, TeamMember.slack_user_id == Partner.manager_slack_id)
    rows = session.execute(query.order_by(func.count().desc(), key)).all()
    out = []
    for row in rows:
        head, row = (row[:1], row[1:]) if managers is not None else ((), row)
        k, lbl = (row[0], row[0]) if key is label else (row[0], row[1] or row[0])
        w, d, o = row[-4:-1]
        out.append(head + (None if k is None else str(k), None if lbl is None else str(lbl), int(w or 0),
                           int(d or 0), int(o or 0)))
    return out


def type_lead_to_close(session: Session, partner_id: int, start: datetime,
                       end: datetime) -> tuple[str, int, int, int]:
    """(type, won, decided, open) of every partner of `partner_id`'s type, pooled (the scorecard's average)."""
    partner_type = session.get(Partner, partner_id).type
    row = lead_to_close(session, Scope(partner_type=partner_type), start, end)[0]
    return str(partner_type), row[2], row[3], row[4]


# --- landing zones ----------------------------------------------------------------------------------------------

def landing_zones(session: Session, scope: Scope, end: datetime, expansion_days: int, *,
                  managers: Sequence[str] | None = None) -> list[tuple]:
    """(landing zone, landed, eligible, expanded, median days to expand) of the accounts in scope landed before
    `end`: expanded = a won upsell, or a product line other than the landing zone, within `expansion_days` of
    landing and before `end`; eligible = landed `expansion_days` before `end`, or expanded. Most landed first. A
    batch: each row with the manager first (an account counts once for each manager of its partners)."""
    _batch_of(scope, managers)
    landed_at = CustomerAccount.created_at
    # Each account's first won upsell and first other product line before `end`, one grouped pass over each table.
    upsells = (sa_select(Upsell.account_id, func.min(Upsell.closed_at).label("at"))
               .where(Upsell.status == UpsellStatus.won, Upsell.closed_at < end)
               .group_by(Upsell.account_id).subquery("first_upsell"))
    lines = (sa_select(AccountProductLine.account_id, func.min(AccountProductLine.since).label("at"))
             .join_from(AccountProductLine, CustomerAccount, CustomerAccount.id == AccountProductLine.account_id)
             .where(AccountProductLine.product_line != CustomerAccount.landing_zone, AccountProductLine.since < end)
             .group_by(AccountProductLine.account_id).subquery("first_line"))
    landed = (sa_select(CustomerAccount.id.label("account_id"), CustomerAccount.landing_zone.label("zone"),
                        case((landed_at <= end - timedelta(days=expansion_days), 1), else_=0).label("old"),
                        days_between(session, landed_at, upsells.c.at).label("by_upsell"),
                        days_between(session, landed_at, lines.c.at).label("by_line"))
              .select_from(CustomerAccount).outerjoin(upsells, upsells.c.account_id == CustomerAccount.id)
              .outerjoin(lines, lines.c.account_id == CustomerAccount.id)
              .where(CustomerAccount.landing_zone.is_not(None), landed_at < end))
    if managers is None:
        landed = landed.where(accounts_in(scope)).cte("landed").prefix_with("MATERIALIZED")
        owned = sa_select(literal("").label("manager"), landed)
    else:  # each (manager, account) once
        pairs = (sa_select(Partner.manager_slack_id.label("manager"), AccountPartner.account_id).distinct()
                 .join_from(AccountPartner, Partner, Partner.id == AccountPartner.partner_id)
                 .where(Partner.manager_slack_id.in_(list(managers))).subquery())
        landed = landed.where(CustomerAccount.id.in_(sa_select(pairs.c.account_id))).cte("landed").prefix_with(
            "MATERIALIZED")
        owned = sa_select(pairs.c.manager, landed).join_from(pairs, landed, landed.c.account_id == pairs.c.account_id)
    owned = owned.cte("owned").prefix_with("MATERIALIZED")
    u, l = owned.c.by_upsell, owned.c.by_line
    first = case((u.is_(None), l), (l.is_(None), u), (u < l, u), else_=l)
    # An expansion recorded before the account (an import) counts as on landing day.
    first = case((first < 0, literal(0.0)), else_=first)
    accounts = sa_select(owned.c.manager, owned.c.zone, owned.c.old, first.label("days")).subquery()
    expanded = case((accounts.c.days <= expansion_days, accounts.c.days), else_=None)
    counts = (sa_select(accounts.c.manager, accounts.c.zone, func.count().label("landed"),
                        func.sum(case((or_(accounts.c.old == 1, expanded.is_not(None)), 1), else_=0)).label("eligible"),
                        func.count(expanded).label("grown"))
              .group_by(accounts.c.manager, accounts.c.zone).subquery("counts"))
    medians = _medians(accounts, expanded)
    # One statement: the landed accounts (the materialized CTE, the costly part) are computed once for both.
    zones = session.execute(
        sa_select(counts.c.manager, counts.c.zone, counts.c.landed, counts.c.eligible, counts.c.grown, medians.c.days)
        .select_from(counts.outerjoin(medians, and_(medians.c.manager == counts.c.manager,
                                                    medians.c.zone == counts.c.zone)))
        .order_by(counts.c.landed.desc(), counts.c.zone)).all()
    return [((manager,) if managers is not None else ()) +
            (zone, landed, int(eligible or 0), int(grown or 0),
             None if days is None else Decimal(str(days)).quantize(Decimal("0.1")))
            for manager, zone, landed, eligible, grown, days in zones]


def _medians(accounts, expanded):
    """The median of `expanded` (days) per manager and zone (a subquery: manager, zone, days), with window
    functions: the middle row, or the mean of the two."""
    grown = sa_select(accounts.c.manager, accounts.c.zone, expanded.label("days")).where(
        expanded.is_not(None)).subquery()
    group = (grown.c.manager, grown.c.zone)
    ranked = sa_select(*group, grown.c.days,
                       func.row_number().over(partition_by=group, order_by=grown.c.days).label("n"),
                       func.count().over(partition_by=group).label("total")).subquery()
    middle, upper = (ranked.c.total + 1) // 2, (ranked.c.total + 2) // 2  # one row when odd, two when even
    return (sa_select(ranked.c.manager, ranked.c.zone, func.avg(ranked.c.days).label("days"))
            .where(or_(ranked.c.n == middle, ranked.c.n == upper))
            .group_by(ranked.c.manager, ranked.c.zone).subquery("medians"))


# --- usage ------------------------------------------------------------------------------------------------------

def usage_growth(session: Session, scope: Scope, end: datetime, last_month: str, *,
                 managers: Sequence[str] | None = None) -> list[tuple]:
    """(currency, deals, deals with a recorded month, starting total, current total) of the usage-based
    registrations in scope won or approved now and approved before `end`; current = the latest UsageRevenue month
    up to `last_month` (YYYY-MM), else the starting usage (the manager first for a batch)."""
    _batch_of(scope, managers)
    latest = (sa_select(UsageRevenue.amount).where(UsageRevenue.registration_id == Registration.id,
                                                   UsageRevenue.month <= last_month)
              .order_by(UsageRevenue.month.desc()).limit(1).correlate(Registration).scalar_subquery())
    starting = func.coalesce(Registration.starting_monthly_usage, 0)
    rows = session.execute(batched(
        sa_select(Registration.currency, func.count(), func.count(latest), func.sum(starting),
                  func.sum(func.coalesce(latest, starting)))
        .where(Registration.pricing_model == PricingModel.usage_based, Registration.status.in_(USAGE_STATUSES),
               func.coalesce(Registration.approved_at, Registration.created_at) < end, registrations_in(scope))
        .group_by(Registration.currency).order_by(Registration.currency), Registration, managers)).all()
    return [tuple(row[:-5]) + (row[-5], row[-4], row[-3], _amount(row[-2]), _amount(row[-1])) for row in rows]


# --- funnel -----------------------------------------------------------------------------------------------------

def partner_stages(session: Session, scope: Scope, stuck: Stuck) -> dict[PartnerStage, tuple[int, int]]:
    """Partners in scope per stage: (how many, how many stuck)."""
    return partner_stages_by_manager(session, scope, stuck, None).get(None, {})


def partner_stages_by_manager(session: Session, scope: Scope, stuck: Stuck, managers: Sequence[str] | None
                              ) -> dict[str | None, dict[PartnerStage, tuple[int, int]]]:
    """partner_stages() of each manager of a batch (absent: no partner); {None: partner_stages()} without one."""
    _batch_of(scope, managers)
    head, where = [], [_partner_scope(scope)]
    if managers is not None:
        head, where = [Partner.manager_slack_id], [Partner.manager_slack_id.in_(list(managers))]
    keys = [*head, Partner.stage]
    counts = session.execute(sa_select(*keys, func.count()).where(*where).group_by(*keys)).all()
    stuck_counts = {tuple(row[:-1]): row[-1] for row in session.execute(
        sa_select(*keys, func.count()).where(*where, stuck.clause()).group_by(*keys)).all()}
    out: dict[str | None, dict[PartnerStage, tuple[int, int]]] = {}
    for row in counts:
        manager, stage, count = (row if head else (None, *row))
        out.setdefault(manager, {})[PartnerStage(stage)] = (count, stuck_counts.get(tuple(row[:-1]), 0))
    return out


def _partner_scope(scope: Scope):
    """Partners in scope; a referral contact's scope is their partner."""
    return scope.partner_clause(with_assignee=True)


def pending_registrations(session: Session, scope: Scope, sla_since: datetime, *,
                          managers: Sequence[str] | None = None) -> list[tuple]:
    """[(open registrations now, those under review since before `sla_since`)]: the SLA reminder's rule (a batch:
    each with the manager first; a manager without an open registration absent)."""
    _batch_of(scope, managers)
    rows = session.execute(batched(
        sa_select(func.count(), func.sum(case((and_(Registration.status == RegistrationStatus.under_review,
                                                    Registration.updated_at <= sla_since), 1), else_=0)))
        .where(Registration.status.in_(OPEN_STATUSES), registrations_in(scope)), Registration, managers)).all()
    return [tuple(row[:-2]) + (int(row[-2] or 0), int(row[-1] or 0)) for row in rows]


def open_upsells(session: Session, scope: Scope, *, managers: Sequence[str] | None = None) -> list[tuple]:
    """(currency, count, expected value) of the upsells open now (duplicate review, open or accepted); the manager
    first for a batch."""
    _batch_of(scope, managers)
    return [tuple(row[:-1]) + (_amount(row[-1]),) for row in session.execute(batched(
        sa_select(Upsell.currency, func.count(), func.sum(Upsell.expected_value))
        .where(Upsell.status.in_(OPEN_UPSELL_STATUSES), upsells_in(scope))
        .group_by(Upsell.currency).order_by(Upsell.currency), Upsell, managers)).all()]


def partner_names(session: Session, partner_ids: Sequence[int]) -> dict[int, str]:
    if not partner_ids:
        return {}
    return dict(session.execute(sa_select(Partner.id, Partner.name).where(Partner.id.in_(list(partner_ids)))).all())


def partner_by_name(session: Session, name: str) -> Partner | None:
    """A partner by its name, case-insensitively (`partnerbot report --partner`)."""
    return session.exec(select(Partner).where(func.lower(Partner.name) == name.strip().lower())).first()
