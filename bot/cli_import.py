"""`partnerbot import partners|team FILE.csv`: idempotent imports that say what they refused, doubt, and where."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import typer

from bot.progress import with_progress

import_cli = typer.Typer(help="Import partners or team members from CSV (idempotent upserts).", no_args_is_help=True)


def _run_import(kind: str, path: Path) -> None:
    from bot.cli import console, program_or_exit, settings_or_exit
    from bot.runtime import open_database
    from workflows.imports import import_partners, import_team

    settings = settings_or_exit()
    engine = open_database(settings)
    if kind == "partners":
        run = partial(import_partners, engine, path)
    else:  # the program says which territories and product lines routing can match
        run = partial(import_team, engine, path, program=program_or_exit(settings.program_file))
    try:
        report = with_progress(console, f"Importing {kind}", run)
    except ValueError as exc:
        console.print(f"[bold red]{exc}[/]", markup=True, highlight=False)
        raise typer.Exit(2) from None
    typer.echo(f"{kind}: {report.created} created, {report.updated} updated, {len(report.errors)} rejected, "
               f"{len(report.warnings)} warning(s)")
    typer.echo(f"  database: {report.database}")
    for row, reason in report.errors:
        typer.echo(f"  row {row}: {reason}")
    for row, warning in report.warnings:
        typer.echo(f"  row {row} (imported, warning): {warning}")
    if report.errors:
        raise typer.Exit(1)


@import_cli.command("partners")
def import_partners_command(file: Path = typer.Argument(..., help="CSV with columns name,type,tier,stage,domain,"
                                                                  "slack_team_id,slack_channel_id,manager_slack_id,"
                                                                  "contact_slack_ids")) -> None:
    """Upsert partners by name."""
    _run_import("partners", file)


@import_cli.command("team")
def import_team_command(file: Path = typer.Argument(..., help="CSV with columns slack_user_id,name,email,role,"
                                                              "territories,product_lines")) -> None:
    """Upsert AEs, partner managers and admins by Slack user id."""
    _run_import("team", file)
