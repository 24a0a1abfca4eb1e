"""Header lines and example rows to start an import file from (`partnerbot import template KIND`)."""

from __future__ import annotations

import csv
import io

from workflows.account_import import ACCOUNT_COLUMNS
from workflows.imports import PARTNER_COLUMNS, TEAM_COLUMNS
from workflows.program import Program

TEMPLATES = ("partners", "team", "accounts")


def _line(cells: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(cells)
    return out.getvalue()


def template_rows(kind: str, program: Program | None = None) -> list[str]:
    """The header and one example row; the team's and the accounts' examples use the program's own regions and
    product lines."""
    program = program or Program()
    if kind == "partners":
        example = ["Northwind Consulting", "reseller", "gold", "producing", "northwind.io", "T0123ABCD",
                   "C0123ABCD", "U0123ABCD", "U0456DEFG;U0789HIJK"]
        return [_line(PARTNER_COLUMNS), _line(example)]
    if kind == "team":
        region = program.region_names[0] if program.regions else ""
        country = next(c for c in ("DE", "US", "JP") if program.region_of(c) != region)
        territories = ";".join(t for t in (region, country) if t)  # a region and a country elsewhere
        example = ["U0123ABCD", "Alex Rivera", "alex@example.com", "ae", territories,
                   ";".join(program.product_lines[:2])]
        return [_line(TEAM_COLUMNS), _line(example)]
    if kind == "accounts":
        example = ["Acme Inc.", "acme.com", "U0123ABCD", "Northwind Consulting", ";".join(program.product_lines[:1]),
                   "15000"]
        return [_line(ACCOUNT_COLUMNS), _line(example)]
    raise ValueError(f"no template {kind!r}")
