"""Routing a lead to an AE by the program's rules, round-robin among equals, else to the partner manager."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

from sqlmodel import Session

from storage.models import Partner, TeamMember
from storage.queries import account_executives, program_runners
from workflows.lead_form import LeadInput
from workflows.program import RoutingRule, RoutingRules

_NEVER = datetime.min.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class RoutingDecision:
    assignee_slack_id: str | None
    reason: str


def value_in_base_currency(value: Decimal, currency: str, rules: RoutingRules) -> Decimal | None:
    """The value in the program's base currency, or None when no rate is configured."""
    if currency == rules.base_currency:
        return value
    rate = rules.exchange_rates.get(currency)
    return value * rate if rate is not None else None


def _covers(member_values: list[str], wanted: str) -> bool:
    return not member_values or wanted.casefold() in (v.casefold() for v in member_values)


def _rule_matches(rule: RoutingRule, lead: LeadInput, base_value: Decimal | None) -> bool:
    if rule.regions and not _covers(rule.regions, lead.region):
        return False
    if rule.product_lines and not _covers(rule.product_lines, lead.product_line):
        return False
    if rule.min_value is not None or rule.max_value is not None:
        if base_value is None:
            return False
        if rule.min_value is not None and base_value < rule.min_value:
            return False
        if rule.max_value is not None and base_value > rule.max_value:
            return False
    return True


def _candidates(rule: RoutingRule, lead: LeadInput, aes: list[TeamMember]) -> list[TeamMember]:
    if rule.assign_to:
        return [ae for ae in aes if ae.slack_user_id in rule.assign_to]
    return [ae for ae in aes if _covers(ae.territories, lead.region) and _covers(ae.product_lines, lead.product_line)]


def route_lead(session: Session, lead: LeadInput, partner: Partner, rules: RoutingRules, now: datetime) -> RoutingDecision:
    """Pick the assignee and say why; marks the chosen AE so the next equal lead goes to someone else."""
    base_value = value_in_base_currency(lead.estimated_value, lead.currency, rules)
    aes = account_executives(session)
    for rule in rules.rules:
        if not _rule_matches(rule, lead, base_value):
            continue
        candidates = _candidates(rule, lead, aes)
        if not candidates:
            continue
        chosen = min(candidates, key=lambda ae: (ae.last_assigned_at or _NEVER, ae.slack_user_id))
        chosen.last_assigned_at = now
        session.add(chosen)
        shared = f", round-robin among {len(candidates)}" if len(candidates) > 1 else ""
        return RoutingDecision(
            chosen.slack_user_id,
            f"rule “{rule.name}”: {lead.region} / {lead.product_line} / {lead.estimated_value:,.0f} {lead.currency}"
            f"{shared}",
        )
    if partner.manager_slack_id:
        return RoutingDecision(partner.manager_slack_id,
                               f"no AE covers {lead.region} / {lead.product_line}: sent to the partner's manager")
    runners = program_runners(session)
    if runners:
        return RoutingDecision(runners[0].slack_user_id,
                               f"no AE covers {lead.region} / {lead.product_line} and the partner has no manager: "
                               "sent to the partner team")
    return RoutingDecision(None, "no AE, partner manager or admin is configured")
