"""`partnerbot crm ...`: send the CRM outbox now, show its state, re-queue refused writes, import usage."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from bot.progress import with_progress
from bot.settings import SettingsError, load_settings
from storage.crm.client import check_salesforce_settings
from storage.crm.status import crm_status, mirror_of, parse_reference, retry_failed
from storage.crm.writer import drain_outbox
from storage.db import create_schema, make_engine
from storage.models import utcnow
from workflows.usage import import_usage_csv

crm_app = typer.Typer(
    help="Salesforce attribution: sync now, status, retry refused writes, import usage.", no_args_is_help=True
)
usage_app = typer.Typer(help="Monthly revenue of usage-based deals.", no_args_is_help=True)
crm_app.add_typer(usage_app, name="usage")
console = Console()


def _setup():
    try:
        settings = load_settings()
    except SettingsError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    problems = check_salesforce_settings(settings)
    if problems:
        console.print("[red]Salesforce settings:[/red]\n" + "\n".join(f"  - {p}" for p in problems))
        raise typer.Exit(2)
    engine = make_engine(settings.database_url)
    create_schema(engine)
    return settings, engine


def _notify(text: str) -> None:
    console.print(f"[yellow]Partner managers would be told:[/yellow] {text}")


def _opportunity_type(settings) -> str:
    """The Type of new upsells' expansion Opportunities, from the program file (as the running bot has it)."""
    from bot.cli import program_or_exit  # bot.cli registers this module's commands

    return program_or_exit(settings.program_file).upsell.opportunity_type


@crm_app.command()
def sync(limit: int = typer.Option(20_000, help="Most outbox rows to send in this run.")) -> None:
    """Send pending CRM writes now (to Salesforce, or to the local mirror without Salesforce settings)."""
    settings, engine = _setup()
    opportunity_type = _opportunity_type(settings)
    report = with_progress(console, "Syncing CRM", lambda on_progress: drain_outbox(
        engine, settings, notify=_notify, batch_limit=limit, on_progress=on_progress,
        opportunity_type=opportunity_type))
    target = "Salesforce" if report.mode == "salesforce" else "the local mirror (Salesforce not configured)"
    console.print(
        f"Sent to {target}: {report.written or report.mirrored} written, {report.failed} refused, "
        f"{report.retrying} to retry, {report.held} held back; {report.api_calls} API call(s)."
    )
    if report.api_usage:
        console.print(f"Salesforce API usage: {report.api_usage[0]:,}/{report.api_usage[1]:,}")
    if report.stopped:
        console.print(f"[yellow]Stopped early:[/yellow] {report.stopped}")


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


@crm_app.command()
def status(
    reference: str = typer.Option(
        None, "--registration", "--upsell", "-r",
        help="Show the mirror of one registration (REG-00042) or upsell (UPS-00007).",
    ),
) -> None:
    """Pending, refused and written CRM writes, the last error, and Salesforce API usage."""
    settings, engine = _setup()
    if reference:
        try:
            records = mirror_of(engine, reference)
        except ValueError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None
        for record in records:
            state = "in Salesforce" if record.synced_version == record.version else "not yet in Salesforce"
            table = Table(title=f"{record.sobject} {record.external_key} ({record.salesforce_id or 'no Id'}, {state})")
            table.add_column("Field")
            table.add_column("Value")
            for name, value in record.field_values.items():
                table.add_row(name, str(value))
            console.print(table)
        return
    info = crm_status(engine, settings, now=utcnow())
    mode = f"{info.auth_mode.replace('_', ' ')} login" if info.auth_mode else "not configured (local mirror only)"
    console.print(f"Salesforce: {mode}")
    console.print(
        f"Pending: {info.pending} ({info.pending_waiting} waiting to retry, "
        f"{info.pending_mirrored} already in the local mirror)"
    )
    console.print(f"Refused: {info.failed}   Written: {info.written}")
    if info.api_usage:
        used, total = info.api_usage
        flag = " [red]over the threshold: non-urgent writes wait[/red]" if info.over_threshold else ""
        console.print(f"API usage: {used:,}/{total:,} ({used / total:.0%}) at {_when(info.api_checked_at)}{flag}")
    if info.last_error:
        console.print(f"Last error ({_when(info.last_error_at)}): {info.last_error}")
    if info.mirror:
        console.print(
            "Mirror: "
            + ", ".join(
                f"{name} {count} ({in_sf} in Salesforce)" for name, (count, in_sf) in sorted(info.mirror.items())
            )
        )
    for reference, event, error in info.failures:
        console.print(f"  refused {reference} {event}: {error}")


@crm_app.command()
def retry(
    reference: str = typer.Argument(None, help="Only this registration (REG-00042) or upsell (UPS-00007)."),
) -> None:
    """Put refused CRM writes back in the queue, after fixing the data or the Salesforce rule."""
    _, engine = _setup()
    only: dict[str, int] = {}
    if reference:
        try:
            kind, number = parse_reference(reference)
        except ValueError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None
        only = {f"{kind}_id": number}
    count = retry_failed(engine, **only)
    console.print(f"Re-queued {count} refused write(s); `partnerbot crm sync` sends them now.")


@usage_app.command("import")
def import_usage(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV with registration_id,month,amount"),
    actor: str = typer.Option("cli", help="Who is recording (a Slack user id), kept with each figure."),
) -> None:
    """Import monthly revenue of usage-based deals; bad rows are listed, good rows are imported."""
    _, engine = _setup()
    report = with_progress(console, "Importing usage", lambda on_progress: import_usage_csv(
        engine, file, actor_slack_id=actor, now=utcnow(), on_progress=on_progress))
    console.print(
        f"Imported {report.imported} row(s), {report.unchanged} already up to date, {len(report.errors)} refused."
    )
    for number, reason in report.errors:
        console.print(f"  row {number}: {reason}")
    if report.errors:
        raise typer.Exit(1)
