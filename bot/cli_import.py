"""`partnerbot import partners|team|accounts FILE.csv` and `import template`: idempotent imports that say what
they refused, doubt, and where."""

from __future__ import annotations

from enum import Enum
from functools import partial
from pathlib import Path

import typer

from bot.progress import with_progress
from storage.models import PartnerStage, PartnerTier, PartnerType, Role
from workflows.account_import import ACCOUNT_COLUMNS
from workflows.imports import PARTNER_COLUMNS, TEAM_COLUMNS
from workflows.templates import TEMPLATES, template_rows

import_cli = typer.Typer(help="Import partners, team members or customer accounts from CSV (idempotent upserts).",
                         no_args_is_help=True)


def _values(enum: type[Enum]) -> str:
    return ", ".join(member.value for member in enum)


FILES = ("Comma-, semicolon- or tab-separated; UTF-8, or Windows-1252 as Excel saves it. Header names match "
         "in any case and spacing. Lists inside a cell are separated by ;. "
         "`partnerbot import template KIND` prints a header and an example row.")
PARTNERS_HELP = f"""Upsert partners by name.

Columns: {', '.join(PARTNER_COLUMNS)}.

type: {_values(PartnerType)}.
tier: {_values(PartnerTier)}.
stage: {_values(PartnerStage)}.
domain: the partner's website.
slack_team_id: their Slack workspace (T…), empty when their people are guests in yours.
slack_channel_id: the shared channel (C… or G…).
manager_slack_id: a partner manager or admin of the team (U…).
contact_slack_ids: the partner's people (U…;U…).

{FILES}"""
TEAM_HELP = f"""Upsert AEs, partner managers and admins by Slack user id.

Columns: {', '.join(TEAM_COLUMNS)}.

role: {_values(Role)}.
territories: regions or ISO country codes from the program file, such as EMEA; DE (empty: everywhere).
product_lines: product lines from the program file (empty: all).
Both are checked against PROGRAM_FILE (`partnerbot program show` lists them): a row naming one the program does not know is refused, with the closest match.

{FILES}"""
ACCOUNTS_HELP = f"""Upsert customer accounts by domain, else by name (as won registrations find theirs).

Columns: {', '.join(ACCOUNT_COLUMNS)}.

domain: the customer's website (empty: matched by name).
owner_slack_id: the AE who owns the account (U…), from the team; empty keeps the account's owner.
partners: partner names from `import partners` (Northwind;Globex); they are added, never removed.
product_lines: product lines or plans from the program file; the first is the landing zone; added, never removed.
monthly_revenue: in the program's base currency; empty keeps what the account has.
Import the team and the partners first. Re-importing the same file changes nothing.

{FILES}"""


def _run_import(kind: str, path: Path) -> None:
    from bot.cli import console, program_or_exit, settings_or_exit
    from bot.runtime import open_database
    from workflows.account_import import import_accounts
    from workflows.imports import import_partners, import_team

    settings = settings_or_exit()
    engine = open_database(settings)
    if kind == "partners":
        run = partial(import_partners, engine, path)
    elif kind == "accounts":  # the program says which product lines and plans there are
        run = partial(import_accounts, engine, path, program=program_or_exit(settings.program_file))
    else:  # the program says which territories and product lines routing can match
        run = partial(import_team, engine, path, program=program_or_exit(settings.program_file))
    try:
        report = with_progress(console, f"Importing {kind}", run)
    except ValueError as exc:
        console.print(f"[bold red]{exc}[/]", markup=True, highlight=False)
        raise typer.Exit(2) from None
    typer.echo(f"{kind}: {report.created} created, {report.updated} updated, {report.unchanged} unchanged, "
               f"{len(report.errors)} rejected, {len(report.warnings)} warning(s)")
    typer.echo(f"  database: {report.database}")
    for note in report.notes:
        typer.echo(f"  file: {note}")
    for row, reason in report.errors:
        typer.echo(f"  row {row}: {reason}")
    for row, warning in report.warnings:
        typer.echo(f"  row {row} (imported, warning): {warning}")
    if report.errors:
        raise typer.Exit(1)


@import_cli.command("partners", help=PARTNERS_HELP)
def import_partners_command(file: Path = typer.Argument(..., help="The CSV file.")) -> None:
    _run_import("partners", file)


@import_cli.command("team", help=TEAM_HELP)
def import_team_command(file: Path = typer.Argument(..., help="The CSV file.")) -> None:
    _run_import("team", file)


@import_cli.command("accounts", help=ACCOUNTS_HELP)
def import_accounts_command(file: Path = typer.Argument(..., help="The CSV file.")) -> None:
    _run_import("accounts", file)


@import_cli.command("template")
def import_template(kind: str = typer.Argument(..., metavar="partners|team|accounts",
                                                help="Which file to start.")) -> None:
    """Print a header line and an example row to start a file from: `partnerbot import template team > team.csv`."""
    from bot.cli import console, load_program, settings_or_exit

    if kind not in TEMPLATES:
        console.print(f"[bold red]No template “{kind}”[/]: choose partners, team or accounts", highlight=False)
        raise typer.Exit(2)
    program = load_program(settings_or_exit().program_file) if kind in ("team", "accounts") else None
    for line in template_rows(kind, program):
        typer.echo(line)
