"""Routing a lead to an AE by the program's rules, round-robin among equals, else to the partner manager."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Protocol

from sqlmodel import Session

from storage.models import Partner, TeamMember
from storage.queries import account_executives, program_runners
from workflows.program import RoutingRule, RoutingRules
from workflows.program_rules import covers

_NEVER = datetime.min.replace(tzinfo=timezone.utc)


class RoutedLead(Protocol):
    """What routing reads of a lead: a LeadInput before it is stored, a Registration after."""

    region: str
    country: str | None
    product_line: str
    estimated_value: Decimal
    currency: str


@dataclass(frozen=True)
class RoutingDecision:
    assignee_slack_id: str | None
    reason: str


@dataclass
class RuleCheck:
    """One rule tried against a lead: why it does not match, else the AEs it would choose among."""

    rule: RoutingRule
    mismatch: str | None = None
    candidates: list[TeamMember] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # AE id -> why that AE does not qualify


def value_in_base_currency(value: Decimal, currency: str, rules: RoutingRules) -> Decimal | None:
    """The value in the program's base currency, or None when no rate is configured."""
    if currency == rules.base_currency:
        return value
    rate = rules.exchange_rates.get(currency)
    return value * rate if rate is not None else None


def total_in_base_currency(amounts: Iterable[tuple[str, int, Decimal]],
                           rules: RoutingRules) -> tuple[int, Decimal, tuple[str, ...]]:
    """(currency, how many, value) rows summed: how many in all, the value in the base currency (to the cent), and
    the currencies left out for want of an exchange rate."""
    count, value, unconverted = 0, Decimal(0), []
    for currency, how_many, total in amounts:
        count += how_many
        converted = value_in_base_currency(total, currency, rules)
        if converted is None:
            unconverted.append(currency)
        else:
            value += converted
    return count, value.quantize(Decimal("0.01")), tuple(unconverted)


def where_from(lead: RoutedLead) -> str:
    """`DE / EMEA` or `EMEA` (registrations from before the country was asked)."""
    return f"{lead.country} / {lead.region}" if lead.country and lead.region else lead.country or lead.region or "—"


def _rule_mismatch(rule: RoutingRule, lead: RoutedLead, base_value: Decimal | None, base: str) -> str | None:
    if rule.regions and not covers(rule.regions, lead.region, lead.country):
        return f"{where_from(lead)} is not in {', '.join(rule.regions)}"
    if rule.product_lines and not covers(rule.product_lines, lead.product_line):
        return f"{lead.product_line} is not {' or '.join(rule.product_lines)}"
    if rule.compares_value:
        if base_value is None:
            return f"{lead.currency} has no exchange rate to {base}, so the value cannot be compared"
        if rule.min_value is not None and base_value < rule.min_value:
            return f"{base_value:,.0f} {base} is below {rule.min_value:,} {base}"
        if rule.max_value is not None and base_value > rule.max_value:
            return f"{base_value:,.0f} {base} is above {rule.max_value:,} {base}"
    return None


def ae_refusal(rule: RoutingRule, lead: RoutedLead, ae: TeamMember) -> str | None:
    """Why this AE is not a candidate under this rule, or None when they are."""
    if rule.assign_to:
        return None if ae.slack_user_id in rule.assign_to else "not named in assign_to"
    if not covers(ae.territories, lead.region, lead.country):
        return f"territories {', '.join(ae.territories)} do not include {where_from(lead)}"
    if not covers(ae.product_lines, lead.product_line):
        return f"product lines {', '.join(ae.product_lines)} do not include {lead.product_line}"
    return None


def check_rules(lead: RoutedLead, aes: list[TeamMember], rules: RoutingRules) -> list[RuleCheck]:
    """Every rule, in order, against the lead and the AEs."""
    base_value = value_in_base_currency(lead.estimated_value, lead.currency, rules)
    checks = []
    for rule in rules.rules:
        check = RuleCheck(rule, _rule_mismatch(rule, lead, base_value, rules.base_currency))
        if check.mismatch is None:
            for ae in aes:
                reason = ae_refusal(rule, lead, ae)
                if reason is None:
                    check.candidates.append(ae)
                else:
                    check.refused[ae.slack_user_id] = reason
        checks.append(check)
    return checks


def next_in_turn(candidates: list[TeamMember]) -> TeamMember:
    """Round-robin: the candidate who least recently got a lead."""
    return min(candidates, key=lambda ae: (ae.last_assigned_at or _NEVER, ae.slack_user_id))


def route_lead(session: Session, lead: RoutedLead, partner: Partner, rules: RoutingRules,
               now: datetime) -> RoutingDecision:
    """Pick the assignee and say why; marks the chosen AE so the next equal lead goes to someone else."""
    for check in check_rules(lead, account_executives(session), rules):
        if not check.candidates:
            continue
        chosen = next_in_turn(check.candidates)
        chosen.last_assigned_at = now
        session.add(chosen)
        shared = f", round-robin among {len(check.candidates)}" if len(check.candidates) > 1 else ""
        return RoutingDecision(
            chosen.slack_user_id,
            f"rule “{check.rule.name}”: {where_from(lead)} / {lead.product_line} / "
            f"{lead.estimated_value:,.0f} {lead.currency}{shared}",
        )
    if partner.manager_slack_id:
        return RoutingDecision(partner.manager_slack_id,
                               f"no AE covers {where_from(lead)} / {lead.product_line}: sent to the partner's manager")
    runners = program_runners(session)
    if runners:
        return RoutingDecision(runners[0].slack_user_id,
                               f"no AE covers {where_from(lead)} / {lead.product_line} and the partner has no "
                               "manager: sent to the partner team")
    return RoutingDecision(None, "no AE, partner manager or admin is configured")
