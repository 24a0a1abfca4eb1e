"""The program rules a partner manager tunes (PROGRAM_FILE), validated with the line of each problem."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConflictRules(_Strict):
    name_similarity: float = Field(default=0.9, ge=0.5, le=1.0)


class ScoringWeights(_Strict):
    fit: int = Field(default=35, ge=0)
    timing: int = Field(default=25, ge=0)
    completeness: int = Field(default=20, ge=0)
    partner_record: int = Field(default=20, ge=0)

    @model_validator(mode="after")
    def _sum_to_100(self) -> "ScoringWeights":
        total = self.fit + self.timing + self.completeness + self.partner_record
        if total != 100:
            raise ValueError(f"weights must add up to 100, they add up to {total}")
        return self


class ScoringRules(_Strict):
    weights: ScoringWeights = ScoringWeights()


class RoutingRule(_Strict):
    """First matching rule wins; without `assign_to`, AEs covering the region and product line are candidates."""

    name: str = Field(min_length=1, max_length=80)
    regions: list[str] = []
    product_lines: list[str] = []
    min_value: Decimal | None = Field(default=None, ge=0)
    max_value: Decimal | None = Field(default=None, ge=0)
    assign_to: list[str] = []

    @field_validator("assign_to")
    @classmethod
    def _slack_ids(cls, ids: list[str]) -> list[str]:
        bad = [i for i in ids if not (i[:1] in "UW" and i[1:].isalnum())]
        if bad:
            raise ValueError(f"not Slack user ids: {', '.join(bad)}")
        return ids

    @model_validator(mode="after")
    def _range(self) -> "RoutingRule":
        if self.min_value is not None and self.max_value is not None and self.min_value > self.max_value:
            raise ValueError("min_value is larger than max_value")
        return self


DEFAULT_RULES = (RoutingRule(name="Territory and product line"),)


class RoutingRules(_Strict):
    base_currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    exchange_rates: dict[str, Decimal] = {}
    rules: tuple[RoutingRule, ...] = DEFAULT_RULES

    @field_validator("exchange_rates")
    @classmethod
    def _rates(cls, rates: dict[str, Decimal]) -> dict[str, Decimal]:
        for code, rate in rates.items():
            if len(code) != 3 or not code.isupper() or rate <= 0:
                raise ValueError(f"{code}: rates are 3-letter currency codes with a positive rate")
        return rates


class Program(_Strict):
    """Everything a partner manager can tune; every field has the default the field commonly uses."""

    protection_window_days: int = Field(default=90, ge=1, le=730)
    approval_sla_hours: int = Field(default=48, ge=1, le=720)
    currencies: tuple[str, ...] = ("USD", "EUR", "GBP", "CAD", "AUD")
    product_lines: tuple[str, ...] = ("Platform", "Analytics", "Integrations")
    regions: tuple[str, ...] = ("North America", "EMEA", "APAC", "LATAM")
    conflict: ConflictRules = ConflictRules()
    scoring: ScoringRules = ScoringRules()
    routing: RoutingRules = RoutingRules()


class ProgramError(Exception):
    """A program file that cannot be used; `problems` are 'line N: field: reason' strings."""

    def __init__(self, path: Path, problems: list[str]):
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """Walk the YAML node tree along a pydantic error location to find the line it came from."""
    line = node.start_mark.line + 1 if node is not None else None
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


def parse_program(text: str, path: Path) -> Program:
    """Parse and validate program YAML text."""
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        raise ProgramError(path, [f"{where}not valid YAML ({getattr(exc, 'problem', exc)})"]) from None
    if data is None:
        return Program()
    if not isinstance(data, dict):
        raise ProgramError(path, ["line 1: the file must be a mapping of settings"])
    try:
        return Program.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            loc = tuple(error["loc"])
            line = _line_of(root, loc)
            field = ".".join(str(p) for p in loc) or "(file)"
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"line {line}: {field}: {message}" if line else f"{field}: {message}")
        raise ProgramError(path, problems) from None


def load_program(path: Path) -> Program:
    """The program from `path`, or the built-in defaults when the file does not exist."""
    if not path.exists():
        return Program()
    return parse_program(path.read_text(encoding="utf-8"), path)
