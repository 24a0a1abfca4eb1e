"""`partnerbot digest preview`: what the next weekly digest would say, printed, nothing stored or sent."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

digest_app = typer.Typer(help="The weekly digest: preview what it would say. (`partnerbot jobs run digest` sends "
                              "the digests due now.)", no_args_is_help=True)
console = Console(soft_wrap=True)


@digest_app.command("preview")
def preview(manager: str = typer.Option(None, "--manager", help="The partner manager's or admin's Slack id "
                                        "(default: the first admin, else partner manager)."),
            full: bool = typer.Option(False, "--full", help="Every section in full, as Full report shows it.")) -> None:
    """Print what this person's next digest would say now (their week, their partners); nothing is stored or sent."""
    from bot.app import direct_reader
    from bot.cli import program_or_exit, settings_or_exit
    from bot.runtime import open_database
    from handlers.blocks.digest import digest_as_text
    from handlers.notify import SlackNotifier, slack_user_time_zone
    from workflows.digest import preview_digest
    from workflows.services import Services, WorkflowError, utc_clock

    settings = settings_or_exit()
    program = program_or_exit(settings.program_file)
    client = None
    if settings.slack_bot_token:  # their time zone from Slack when it can tell; else the program's default
        from bot.app import make_client

        client = make_client(settings)
    services = Services(engine=open_database(settings), program=program,
                        notifier=SlackNotifier(program, utc_clock), clock=utc_clock,
                        user_time_zone=slack_user_time_zone(client) if client else None,
                        read_direct=direct_reader(settings))
    try:
        content = preview_digest(services, manager)
    except WorkflowError as refused:
        console.print(f"[bold red]{escape(str(refused))}[/]", highlight=False)
        raise typer.Exit(2) from None
    typer.echo(digest_as_text(content, full=full))
