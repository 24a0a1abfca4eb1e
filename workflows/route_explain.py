"""`partnerbot route explain REG-00042`: which rule and AE a lead got, and why each other AE did not qualify."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage.models import Partner, Registration, ReviewKind, TeamMember
from storage.queries import account_executives, program_runners
from workflows.amounts import shown
from workflows.program import Program
from workflows.program_rules import country_label, rule_conditions
from workflows.routing import check_rules, value_in_base_currency

_REFERENCE = re.compile(r"^(?:REG-?)?0*(\d{1,12})$", re.IGNORECASE)


class UnknownRegistration(LookupError):
    """No registration has that reference."""


@dataclass
class RouteExplanation:
    title: str
    facts: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    people: list[str] = field(default_factory=list)


def registration_id(reference: str) -> int:
    """`REG-00042`, `reg-42` or `42` -> 42."""
    match = _REFERENCE.match(reference.strip())
    if not match:
        raise UnknownRegistration(f"“{reference}” is not a registration reference such as REG-00042 or 42")
    return int(match.group(1))


def _person(member: TeamMember | None, slack_id: str | None) -> str:
    if slack_id is None:
        return "nobody"
    return f"{member.name} ({slack_id})" if member else slack_id


def explain_route(engine: Engine, program: Program, reference: str) -> RouteExplanation:
    """Re-run today's rules on a stored lead beside what it was given when it was routed."""
    number = registration_id(reference)
    with Session(engine) as session:
        registration = session.get(Registration, number)
        if registration is None:
            raise UnknownRegistration(f"there is no registration REG-{number:05d}")
        partner = session.get(Partner, registration.partner_id)
        aes = sorted(account_executives(session), key=lambda ae: ae.slack_user_id)  # the same order every time
        people = {m.slack_user_id: m for m in [*aes, *program_runners(session)]}
    reg = registration
    explanation = RouteExplanation(f"{reg.reference} {reg.company} ({reg.domain or 'no domain'}) from "
                                   f"{partner.name if partner else 'a removed partner'}")
    routing = program.routing
    base_value = value_in_base_currency(reg.estimated_value, reg.currency, routing)
    in_base = "" if reg.currency == routing.base_currency else (
        f" ({shown(base_value)} {routing.base_currency})" if base_value is not None
        else f" (no rate to {routing.base_currency})")
    where = country_label(reg.country, program) if reg.country else f"{reg.region} (no country: registered before "\
                                                                      "the form asked for it)"
    explanation.facts += [
        f"Lead: {where} · {reg.product_line} · {shown(reg.estimated_value)} {reg.currency}{in_base}",
        f"Status: {reg.status.replace('_', ' ')}; assigned to "
        f"{_person(people.get(reg.assigned_to_slack_id or ''), reg.assigned_to_slack_id)}",
        f"Why, when it was routed: {reg.routing_reason or 'not routed yet'}",
    ]
    if reg.review_kind == ReviewKind.conflict:
        explanation.facts.append("It went to the partner manager for a channel conflict first; the rules below "
                                 "apply once the conflict is cleared.")
    checks = check_rules(reg, aes, routing)
    winner = next((c for c in checks if c.candidates), None)
    for number, check in enumerate(checks, start=1):
        label = f"{number}. “{check.rule.name}” ({rule_conditions(check.rule, routing.base_currency)})"
        if check.mismatch:
            explanation.rules.append(f"{label}: does not match: {check.mismatch}")
        elif not check.candidates:
            explanation.rules.append(f"{label}: matches, but no AE qualifies, so the next rule is tried")
        elif check is winner:
            names = ", ".join(_person(ae, ae.slack_user_id) for ae in check.candidates)
            explanation.rules.append(f"{label}: matches, first to do so; AEs who qualify: {names}")
        else:
            explanation.rules.append(f"{label}: matches too, but an earlier rule already decided")
    if winner is None:
        fallback = "the partner's manager" if partner and partner.manager_slack_id else "the partner team"
        explanation.rules.append(f"No rule finds an AE today, so the lead goes to {fallback}.")
    for ae in aes:
        who = _person(ae, ae.slack_user_id)
        if ae.slack_user_id == reg.assigned_to_slack_id:
            qualified = winner is not None and ae in winner.candidates
            explanation.people.append(f"{who}: got this lead" + ("" if qualified or winner is None else
                                      " (today's rules would not choose them: the program or team changed since)"))
        elif winner is not None and ae in winner.candidates:
            explanation.people.append(f"{who}: qualifies under “{winner.rule.name}” too; round-robin gave the lead "
                                      "to the AE whose previous lead was longest ago")
        elif winner is not None:
            explanation.people.append(f"{who}: not under “{winner.rule.name}”: {winner.refused[ae.slack_user_id]}")
        else:
            reasons = {c.rule.name: c.mismatch or c.refused.get(ae.slack_user_id) for c in checks}
            explanation.people.append(f"{who}: " + "; ".join(f"“{name}”: {why}" for name, why in reasons.items()))
    if not aes:
        explanation.people.append("No AEs are in the team yet: import them with `partnerbot import team`.")
    return explanation
