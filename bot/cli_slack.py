"""`partnerbot slack ...`: the Slack delivery outbox, like `partnerbot crm`: its state, and failed sends again."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table
from sqlmodel import Session

from bot.settings import SettingsError, load_settings
from storage.db import create_schema, make_engine, transaction
from storage.models import utcnow
from storage.slack.outbox import outbox_summary, retry_failed

slack_app = typer.Typer(help="Messages the bot owes in Slack: status, and send failed ones again.",
                        no_args_is_help=True)
console = Console(soft_wrap=True)


def _engine():
    try:
        settings = load_settings()
    except SettingsError as exc:
        for problem in exc.problems:
            console.print(f"  • {problem}", markup=False)
        raise typer.Exit(2) from None
    engine = make_engine(settings.database_url)
    create_schema(engine)
    return engine


@slack_app.command()
def status() -> None:
    """Pending, failed and sent counts, the last error, and the failed messages (where they were going)."""
    with Session(_engine()) as session:
        summary = outbox_summary(session)
    counts = summary.counts
    console.print(f"Slack outbox: {counts['pending']} pending, {counts['failed']} failed, {counts['sent']} sent.")
    if summary.last_error:
        console.print(f"Last error: {summary.last_error} (message {summary.last_error_key})", markup=False)
    if summary.failed:
        table = Table("message", "to", "tries", "error")
        for row in summary.failed:
            table.add_row(row.key, row.channel or "(thread)", str(row.attempts), row.last_error or "")
        console.print(table)
        console.print("After fixing the cause (e.g. inviting @Partnerbot), run `partnerbot slack retry`.")


@slack_app.command()
def retry(channel: str = typer.Option(None, help="Only messages to this channel or user id.")) -> None:
    """Queue failed messages again; the running bot sends them within seconds, in their original order."""
    with transaction(_engine()) as session:
        count = retry_failed(session, utcnow(), channel=channel)
    console.print(f"{count} failed message(s) queued again.")
