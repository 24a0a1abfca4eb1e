"""What makes program rules misroute: names the program does not know, rules that can never match, and
assignees or AE territories that do not fit the team. Shared by `program check`, `program show` and imports."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from rapidfuzz import fuzz, process, utils

from storage.models import Role, TeamMember
from workflows.countries import COUNTRY_CODES, DEFAULT_REGIONS, country_name, country_names
from workflows.program import Program, RoutingRule

Where = Callable[[tuple[Any, ...]], str]


def closest(value: str, choices: Iterable[str], cutoff: int = 60) -> str | None:
    """The choice most like `value` (typos, case, spacing), or None when nothing is close."""
    match = process.extractOne(value, list(choices), scorer=fuzz.ratio, processor=utils.default_process,
                               score_cutoff=cutoff)
    return match[0] if match else None


def territory_hint(program: Program, value: str) -> str:
    """`; did you mean “EMEA”?`, or the regions to choose from."""
    by_name = {name: code for code, name in country_names().items()}
    guess = closest(value, [*program.region_names, *by_name], cutoff=75)
    if guess in by_name:
        return f"; did you mean {by_name[guess]} ({guess})?"
    if guess:
        return f"; did you mean “{guess}”?"
    return f" (regions: {', '.join(program.region_names)}; or a country code such as DE)"


def choice_hint(value: str, choices: Iterable[str]) -> str:
    choices = list(choices)
    guess = closest(value, choices)
    return f"; did you mean “{guess}”?" if guess else f" ({', '.join(choices)})"


def rule_conditions(rule: RoutingRule, base_currency: str) -> str:
    """A rule's conditions in words: `EMEA or US · Platform · at least 250,000 USD`."""
    parts = []
    if rule.regions:
        parts.append(" or ".join(rule.regions))
    if rule.product_lines:
        parts.append(" or ".join(rule.product_lines))
    if rule.min_value is not None and rule.max_value is not None:
        parts.append(f"{rule.min_value:,} to {rule.max_value:,} {base_currency}")
    elif rule.min_value is not None:
        parts.append(f"at least {rule.min_value:,} {base_currency}")
    elif rule.max_value is not None:
        parts.append(f"at most {rule.max_value:,} {base_currency}")
    return " · ".join(parts) or "every lead"


def never_matching(program: Program, where: Where) -> list[str]:
    """Rules that name regions, countries or product lines the program does not offer, or compare values in
    currencies that have no rate: such a rule never fires and its leads silently go elsewhere."""
    problems = []
    for i, rule in enumerate(program.routing.rules):
        for j, region in enumerate(rule.regions):
            if program.territory(region) is None:
                problems.append(f"{where(('routing', 'rules', i, 'regions', j))}“{region}” is not a region or "
                                f"country of this program{territory_hint(program, region)}; the rule can never match")
        for j, line in enumerate(rule.product_lines):
            if program.product_line(line) is None:
                problems.append(f"{where(('routing', 'rules', i, 'product_lines', j))}“{line}” is not one of the "
                                f"product_lines{choice_hint(line, program.product_lines)}; the rule can never match")
    by_value = [rule.name for rule in program.routing.rules if rule.compares_value]
    rates = program.routing.exchange_rates
    base = program.routing.base_currency
    if by_value:
        named = ", ".join(f"“{name}”" for name in by_value)
        for k, currency in enumerate(program.currencies):
            if currency != base and currency not in rates:
                problems.append(f"{where(('currencies', k))}{currency} is offered but has no rate in "
                                f"routing.exchange_rates, so {currency} deals can never match {named}; add "
                                f"{currency}: <what 1 {currency} is worth in {base}>")
    seen: dict[str, str] = {}
    for k, line in enumerate(program.product_lines):
        if line.casefold() in seen:
            problems.append(f"{where(('product_lines', k))}“{line}” is listed twice (also as “{seen[line.casefold()]}”)")
        seen.setdefault(line.casefold(), line)
    return problems


def notes_on(program: Program, data: dict) -> list[str]:
    """What an admin should know about a valid file."""
    notes = []
    given = data.get("regions")
    if isinstance(given, list):
        notes.append("regions is a list of names: each keeps its built-in countries (`partnerbot program show` "
                     "lists them); write regions as a mapping, such as {EMEA: [DE, FR, GB]}, to choose them")
    elif given is None and "regions" not in data:
        pass
    unassigned = sorted(COUNTRY_CODES - {c for codes in program.regions.values() for c in codes})
    if unassigned and isinstance(given, dict):
        shown = ", ".join(unassigned[:8]) + (f" and {len(unassigned) - 8} more" if len(unassigned) > 8 else "")
        notes.append(f"{len(unassigned)} countries are in no region ({shown}): their leads match rules and AEs "
                     "by country only, else go to the partner's manager")
    return notes


def team_problems(program: Program, team: list[TeamMember], where: Where) -> list[str]:
    """Assignees who are not AEs of the team, and AEs whose territories or product lines the program lacks."""
    problems = []
    by_id = {m.slack_user_id: m for m in team}
    for i, rule in enumerate(program.routing.rules):
        for j, user_id in enumerate(rule.assign_to):
            member = by_id.get(user_id)
            place = where(('routing', 'rules', i, 'assign_to', j))
            if member is None:
                guess = closest(user_id, by_id)
                hint = f"; did you mean {guess} ({by_id[guess].name})?" if guess else ""
                problems.append(f"{place}{user_id} is not in the team{hint}; the rule can never assign them "
                                "(import them with `partnerbot import team`)")
            elif member.role != Role.ae:
                problems.append(f"{place}{user_id} ({member.name}) is a {member.role.replace('_', ' ')}, not an AE; "
                                "rules assign AEs only")
    for member in team:
        if member.role != Role.ae:
            continue
        for territory in member.territories:
            if program.territory(territory) is None:
                problems.append(f"AE {member.slack_user_id} ({member.name}): territory “{territory}” is not a region "
                                f"or country of this program{territory_hint(program, territory)}; fix it and run "
                                "`partnerbot import team` again")
        for line in member.product_lines:
            if program.product_line(line) is None:
                problems.append(f"AE {member.slack_user_id} ({member.name}): product line “{line}” is not one of the "
                                f"product_lines{choice_hint(line, program.product_lines)}; fix it and run "
                                "`partnerbot import team` again")
    return problems


def covers(values: list[str], *wanted: str | None) -> bool:
    """An empty list covers everything; otherwise one of `wanted` must be in it (any case)."""
    if not values:
        return True
    folded = {v.casefold() for v in values}
    return any(w is not None and w.casefold() in folded for w in wanted)


def idle_rules(program: Program, team: list[TeamMember]) -> list[str]:
    """Rules without assign_to that no AE of the team could ever take: leads pass them by."""
    aes = [m for m in team if m.role == Role.ae]
    warnings = []
    for rule in program.routing.rules:
        if rule.assign_to:
            continue
        regions = rule.regions or [*program.region_names, *COUNTRY_CODES]
        lines = rule.product_lines or list(program.product_lines)
        if not any(_could_take(ae, program, region, line) for ae in aes for region in regions for line in lines):
            warnings.append(f"routing rule “{rule.name}”: no AE in the team covers "
                            f"{rule_conditions(rule, program.routing.base_currency)}, so it never assigns anyone")
    return warnings


def _could_take(ae: TeamMember, program: Program, territory: str, line: str) -> bool:
    if territory in COUNTRY_CODES:
        return covers(ae.territories, territory, program.region_of(territory)) and covers(ae.product_lines, line)
    countries = program.regions.get(territory) or DEFAULT_REGIONS.get(territory, ())
    return (covers(ae.territories, territory) or any(covers(ae.territories, c) for c in countries)) \
        and covers(ae.product_lines, line)


def describe_regions(program: Program) -> list[str]:
    """`EMEA (120 countries): AD, AE, …` lines for `program show`."""
    return [f"{name} ({len(codes)} countr{'y' if len(codes) == 1 else 'ies'}): {', '.join(sorted(codes))}"
            for name, codes in program.regions.items()]


def country_label(code: str | None, program: Program) -> str:
    """`Germany (DE, EMEA)`."""
    if not code:
        return "—"
    region = program.region_of(code)
    return f"{country_name(code)} ({code}{', ' + region if region else ''})"


def load_team(engine) -> list[TeamMember]:
    """The AEs, partner managers and admins imported so far."""
    from sqlmodel import Session

    from storage.queries import account_executives, program_runners

    with Session(engine) as session:
        return [*account_executives(session), *program_runners(session)]


def describe_program(program: Program, team: list[TeamMember] | None) -> list[str]:
    """The rules in force, as `partnerbot program show` prints them."""
    routing = program.routing
    names = {m.slack_user_id: m.name for m in team or []}
    rates = ", ".join(f"1 {c} = {r} {routing.base_currency}" for c, r in routing.exchange_rates.items())
    lines = [
        f"Protection window: {program.protection_window_days} days after approval",
        f"Approval SLA: {program.approval_sla_hours} hours",
        f"Conflicts: company names alike from {program.conflict.name_similarity:.0%} (and the same domain or name)",
        "Scoring weights: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in
                                        program.scoring.weights.model_dump().items()),
        f"Currencies: {', '.join(program.currencies)}; deal sizes compared in {routing.base_currency}"
        + (f" ({rates})" if rates else ""),
        f"Product lines: {', '.join(program.product_lines)}",
        "Regions (the form asks for the country; the region follows):",
        *[f"  {line}" for line in describe_regions(program)],
        "Routing rules, first match wins:",
    ]
    for number, rule in enumerate(routing.rules, start=1):
        if rule.assign_to:
            who = ", ".join(f"{names[i]} ({i})" if i in names else i for i in rule.assign_to)
            who = f"assign to {who}" + (", round-robin" if len(rule.assign_to) > 1 else "")
        else:
            who = "the AEs whose territories and product lines cover the lead, round-robin"
        lines.append(f"  {number}. {rule.name}: {rule_conditions(rule, routing.base_currency)} → {who}")
    lines.append("  Otherwise: the partner's manager (or the first partner manager or admin)")
    return lines + describe_nudges(program)


def describe_nudges(program: Program) -> list[str]:
    """Extensions and nudges, for `partnerbot program show`."""
    nudges, protection = program.nudges, program.protection
    hours = nudges.working_hours
    on = {True: "on", False: "off"}
    zones = ", ".join(f"{name}: {zone}" for name, zone in nudges.partner_time_zones.items())
    return [
        f"Protection extensions: {protection.extension_days} days, at most {protection.max_extensions} per "
        "registration",
        f"Nudges go out {', '.join(d.capitalize() for d in hours.days)} {hours.start}-{hours.end} in each "
        f"recipient's time zone (default {nudges.default_time_zone}" + (f"; partners: {zones})" if zones else ")"),
        f"  Onboarding: {on[nudges.onboarding.enabled]}, days {', '.join(map(str, nudges.onboarding.days))}, "
        f"{len(nudges.onboarding.links)} training link(s)",
        f"  Activation: {on[nudges.activation.enabled]}, after {nudges.activation.after_days} days without a "
        f"registration, every {nudges.activation.every_days} days, at most {nudges.activation.max_times} times",
        f"  Re-engagement: {on[nudges.reengagement.enabled]}, after {nudges.reengagement.after_days} days "
        "without a registration",
        f"  Stalled registrations: {on[nudges.stalled_registrations.enabled]}, approved and unchanged for "
        f"{nudges.stalled_registrations.after_days} days",
        f"  Protection expiry: {on[nudges.protection_expiry.enabled]}, "
        f"{' and '.join(map(str, nudges.protection_expiry.days_before))} days before",
        f"  QBR brief: {on[nudges.qbr.enabled]}; manager roll-up: {on[nudges.rollup.enabled]}; "
        f"Snooze lasts {nudges.snooze_days} days",
        f"Weekly digest: {on[program.digest.enabled]}, {program.digest.schedule.capitalize()} in each partner "
        "manager's and admin's own time zone",
        f"Monthly scorecard: {on[program.scorecard.enabled]}, from day {program.scorecard.day} of each month, in each "
        "partner's channel (referral partners: each contact by DM)",
    ]
