"""Reading a program file: YAML with line numbers, duplicate keys, pydantic's complaints in an admin's words,
and the rules that could never match."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError
from rapidfuzz import fuzz, process, utils

from workflows.program import (
    region_problems,
    regions_from,
    Program,
    ProgramError,
)
from workflows.program_rules import never_matching, notes_on

# What a value should look like, by setting, for messages such as "should be a list such as [USD, EUR]".
EXAMPLES = {
    "currencies": "a list such as [USD, EUR]",
    "product_lines": "a list such as [Platform, Analytics]",
    "regions": "regions with their countries, such as {EMEA: [DE, FR, GB], North America: [US, CA]}",
    "exchange_rates": "currency codes with rates, such as {EUR: 1.08, GBP: 1.27}",
    "rules": "a list of rules, each starting with `- name: …`",
    "assign_to": "a list of Slack user ids such as [U0123ABCD]",
    "product_lines_rule": "a list such as [Platform]",
    "regions_rule": "a list of regions or countries such as [EMEA, US]",
    "conflict": "settings such as name_similarity: 0.9",
    "scoring": "settings such as weights: {fit: 35, …}",
    "weights": "four numbers: fit, timing, completeness, partner_record",
    "routing": "settings such as base_currency, exchange_rates and rules",
    "upsell": "settings such as accept_sla_hours: 48",
    "plans": "a list such as [Team, Business, Enterprise]",
    "signals": "settings such as enabled: true",
    "phrases": "a list such as [upgrade, more seats]",
    "lifecycle": "settings such as strategic: {min_won_deals: 5, min_won_value: 250000}",
    "strategic": "settings such as min_won_deals: 5 and min_won_value: 250000",
    "protection": "settings such as extension_days: 30 and max_extensions: 1",
    "nudges": "settings such as activation: {enabled: true, after_days: 14}",
    "working_hours": "settings such as {days: [mon, tue, wed, thu, fri], start: \"09:00\", end: \"17:00\"}",
    "partner_time_zones": "partner names with time zones, such as {Northwind: Europe/London}",
    "days_before": "a list such as [14, 7]",
    "links": "a list of links, each such as {title: Lead registration in 2 minutes, url: https://…}",
}
_NUMBER_KINDS = {"int_parsing", "int_type", "int_from_float", "decimal_parsing", "decimal_type", "float_parsing",
                 "float_type"}
_NUMBER_EXAMPLES = {"name_similarity": "0.9", "min_value": "250000", "max_value": "250000", "exchange_rates": "1.08",
                    "protection_window_days": "90", "approval_sla_hours": "48",
                    "accept_sla_hours": "48", "per_account_per_day": "1", "min_won_deals": "5",
                    "min_won_value": "250000",
                    "extension_days": "30", "max_extensions": "1", "after_days": "14", "every_days": "14",
                    "max_times": "3", "snooze_days": "7"}


@dataclass
class ProgramFile:
    """A program read from a file, with what an admin should know that does not stop it (`notes`)."""

    program: Program
    notes: list[str] = field(default_factory=list)
    root: yaml.Node | None = None
    data: dict = field(default_factory=dict)

    def where(self, loc: tuple[Any, ...]) -> str:
        """`line N: routing rule “Big”: min_value: ` for a location in the file."""
        line = _line_of(self.root, loc)
        label = field_label(loc, self.data)
        if line:
            return f"line {line}: " + (f"{label}: " if label else "")
        return f"{label} (built-in default): " if label else ""


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """Walk the YAML node tree along a pydantic error location to the line it came from; None when the
    setting is not in the file at all (a built-in default)."""
    line = None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == str(key)), None)
            if match is None:
                match = next((k for k, _ in node.value if k.value == str(key)), None)
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def field_label(loc: tuple[Any, ...], data: Any) -> str:
    """`routing.rules.0.min_value` -> `routing rule “Enterprise deals”: min_value`: rules named, not numbered."""
    parts: list[str] = []
    node = data
    index = 0
    while index < len(loc):
        key = loc[index]
        if key == "rules" and index + 1 < len(loc) and isinstance(loc[index + 1], int):
            number = loc[index + 1]
            rule = node.get("rules")[number] if isinstance(node, dict) and isinstance(node.get("rules"), list) \
                and number < len(node["rules"]) else None
            name = rule.get("name") if isinstance(rule, dict) else None
            parts = [f"routing rule “{name}”" if name else f"routing rule {number + 1} (no name)"]
            node, index = rule, index + 2
            continue
        if isinstance(key, int):
            break  # a position in a list: the message names the value itself
        parts.append(str(key))
        node = node.get(key) if isinstance(node, dict) else None
        index += 1
    if parts and parts[0].startswith("routing rule"):
        return parts[0] + (": " + ".".join(parts[1:]) if len(parts) > 1 else "")
    return ".".join(parts)


def _duplicate_keys(node: yaml.Node | None) -> list[str]:
    """YAML keeps the last of two equal keys without a word; an admin editing the first would change nothing."""
    problems: list[str] = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            line = key.start_mark.line + 1
            if isinstance(key, yaml.ScalarNode) and key.value in seen:
                problems.append(f"line {line}: {key.value} appears twice (also on line {seen[key.value]}); "
                                "only the last one would count, so keep one")
            elif isinstance(key, yaml.ScalarNode):
                seen[key.value] = line
            problems += _duplicate_keys(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            problems += _duplicate_keys(item)
    return problems


def _example_for(loc: tuple[Any, ...]) -> str | None:
    names = [k for k in loc if isinstance(k, str)]
    if not names:
        return None
    last = names[-1]
    if "rules" in names and last in ("regions", "product_lines"):
        return EXAMPLES[f"{last}_rule"]
    return EXAMPLES.get(last)


def admin_wording(error: dict, known_fields: list[str]) -> str:
    """Pydantic's message as an admin would say it: what the value should look like, with an example."""
    kind, ctx = error["type"], error.get("ctx") or {}
    loc = tuple(error["loc"])
    example = _example_for(loc)
    if kind in ("list_type", "tuple_type", "dict_type", "model_type", "model_attributes_type"):
        return f"should be {example}" if example else "is not in the right shape"
    if kind == "string_type":
        return "should be text" + (f" inside {example}" if example else "")
    if kind in _NUMBER_KINDS:
        whole = "a whole number" if kind.startswith("int") else "a number"
        names = [k for k in loc if isinstance(k, str)]
        example = next((_NUMBER_EXAMPLES[k] for k in reversed(names) if k in _NUMBER_EXAMPLES), None)
        return f"should be {whole}" + (f", such as {example}" if example else "")
    if kind in ("greater_than_equal", "greater_than"):
        return f"should be at least {ctx.get('ge', ctx.get('gt'))}"
    if kind in ("less_than_equal", "less_than"):
        return f"should be at most {ctx.get('le', ctx.get('lt'))}"
    if kind == "missing":
        return "is required"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"is too long (at most {ctx.get('max_length')} characters)"
    if kind == "string_pattern_mismatch":
        return "should be a 3-letter currency code such as USD"
    if kind == "extra_forbidden":
        match = process.extractOne(str(loc[-1]), known_fields, scorer=fuzz.ratio, processor=utils.default_process,
                                   score_cutoff=60)
        hint = f"; did you mean {match[0]}?" if match else ""
        return f"is not a setting Partnerbot knows{hint}"
    if kind == "bool_parsing":
        return "should be true or false"
    return error["msg"].removeprefix("Value error, ")


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    """The settings allowed where an unknown one was written, for "did you mean": the model at that place,
    found by walking the program's sections (a list's items have the list's item model)."""
    model: type[BaseModel] = Program
    for key in loc[:-1]:
        if not isinstance(key, str):
            continue
        field = model.model_fields.get(key)
        inner = _section_model(field.annotation) if field is not None else None
        if inner is None:
            break
        model = inner
    return list(model.model_fields)


def _section_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next((found for arg in get_args(annotation) for found in [_section_model(arg)] if found), None)


def _region_lines(source: ProgramFile) -> list[str]:
    """Each bad country on its own line (the model can only say that `regions` as a whole is wrong)."""
    given = source.data.get("regions")
    if not isinstance(given, dict):
        return []
    try:
        regions = regions_from(given)
    except ValueError:
        return []
    return [source.where(("regions", *loc)) + message for loc, message in region_problems(regions)]


def _validation_problems(exc: ValidationError, source: ProgramFile) -> list[str]:
    problems = _region_lines(source)
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        if problems and loc[:1] == ("regions",) and error["type"] == "value_error":
            continue  # already said line by line
        # A list position inside a value (regions.EMEA.2) is named in the message; the line is the item's.
        problems.append(source.where(loc) + admin_wording(error, _fields_at(loc)))
    return problems


def read_program(text: str, path: Path) -> ProgramFile:
    """Parse and validate program YAML text; raises ProgramError listing every problem with its line."""
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        raise ProgramError(path, [f"{where}not valid YAML ({getattr(exc, 'problem', exc)})"]) from None
    duplicates = _duplicate_keys(root)
    if data is None and not duplicates:
        return ProgramFile(Program())
    if not isinstance(data, dict):
        raise ProgramError(path, ["line 1: the file must be a mapping of settings, such as protection_window_days: 90"])
    source = ProgramFile(Program(), root=root, data=data)
    try:
        source.program = Program.model_validate(data)
    except ValidationError as exc:
        raise ProgramError(path, duplicates + _validation_problems(exc, source)) from None
    problems = duplicates + never_matching(source.program, source.where)
    if problems:
        raise ProgramError(path, problems)
    source.notes = notes_on(source.program, data)
    return source


def read_program_file(path: Path) -> ProgramFile:
    """The program file at `path` (it must exist)."""
    return read_program(path.read_text(encoding="utf-8"), path)
