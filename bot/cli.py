"""The `partnerbot` command: serve, demo, imports, program checks and CRM sync."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import typer
from rich.console import Console

from bot.cli_crm import crm_app
from bot.cli_doctor import doctor
from bot.cli_import import import_cli
from bot.cli_digest import digest_app
from bot.cli_jobs import jobs_app, run_scheduler
from bot.cli_report import report
from bot.cli_slack import slack_app
from bot.settings import Settings, SettingsError, StartupProblem, load_settings, redact
from workflows.program import Program, ProgramError, load_program

cli = typer.Typer(help="Partnerbot: partner lead registration and attribution in Slack.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
program_cli = typer.Typer(help="Program rules (PROGRAM_FILE).", no_args_is_help=True)
route_cli = typer.Typer(help="How leads are routed to AEs.", no_args_is_help=True)
cli.add_typer(import_cli, name="import")
cli.add_typer(program_cli, name="program")
cli.add_typer(route_cli, name="route")
cli.add_typer(crm_app, name="crm")
cli.add_typer(slack_app, name="slack")
cli.command()(doctor)
cli.add_typer(jobs_app, name="jobs")
cli.add_typer(digest_app, name="digest")
cli.command("scheduler")(run_scheduler)
cli.command()(report)
db_cli = typer.Typer(help="The database schema (Alembic migrations; `serve` upgrades on start).", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
console = Console(stderr=True, soft_wrap=True)


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        console.print("[bold red]Partnerbot can't start: its configuration has problems[/]")
        for problem in exc.problems:
            console.print(f"  • {problem}", markup=False)
        raise typer.Exit(2) from None


def program_or_exit(path: Path, read=load_program):
    """`read(path)` (the Program, or a ProgramFile with notes), or every problem with its line and exit 2."""
    try:
        return read(path)
    except ProgramError as exc:
        console.print(f"[bold red]{path} is not a valid program file[/]")
        for problem in exc.problems:
            console.print(f"  • {problem}", markup=False)
        raise typer.Exit(2) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc.__class__.__name__
        raise StartupProblem(f"PROGRAM_FILE: can't read {path} ({reason}); make it a readable UTF-8 YAML file "
                             "or point PROGRAM_FILE elsewhere") from None


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


@cli.command()
def serve() -> None:
    """Run the bot: Socket Mode when SLACK_APP_TOKEN is set, otherwise HTTP on PORT; with the scheduler unless
    SCHEDULER=off."""
    from bot.serve import run_server

    settings, program = checked_start("or try `partnerbot demo`")
    run_server(settings, program)


def checked_start(without_slack: str) -> tuple[Settings, Program]:
    """What `serve`, `scheduler` and `jobs run` check before they start: the settings, the program file, Slack
    credentials (`without_slack` ends the line saying they are missing), Salesforce's settings and Slack's answer to
    auth.test; the settings and program, or one line per problem and exit 2."""
    from bot.runtime import check_slack

    settings = settings_or_exit()
    configure_logging(settings.log_level)
    program = program_or_exit(settings.program_file)
    if "program_file" in settings.model_fields_set and not settings.program_file.exists():
        logging.getLogger("partnerbot").warning("PROGRAM_FILE names %s, which does not exist: running with the "
                                                "built-in rules (`partnerbot doctor` flags this)",
                                                settings.program_file)
    if not settings.has_slack_credentials:
        console.print("No Slack credentials: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN), "
                      f"{without_slack}.")
        raise typer.Exit(2)
    salesforce_or_exit(settings)
    check_slack(settings)
    return settings, program


def salesforce_or_exit(settings: Settings) -> None:
    """With Salesforce settings, they must be complete and must log in; without them the local mirror is used."""
    from storage.crm.client import CrmAuthError, CrmConfigError, auth_mode, check_salesforce_settings, \
        verify_salesforce

    if auth_mode(settings) is None:
        console.print("No Salesforce settings: CRM writes are kept in the local mirror (`partnerbot crm status`).")
        return
    problems = check_salesforce_settings(settings)
    try:
        if problems:
            raise CrmConfigError(problems)
        verify_salesforce(settings)
    except (CrmConfigError, CrmAuthError) as exc:
        console.print("[bold red]Partnerbot can't start: Salesforce is misconfigured[/]")
        for line in getattr(exc, "problems", None) or [str(exc)]:
            console.print(f"  • {line}", markup=False)
        raise typer.Exit(2) from None


@cli.command()
def demo(pause: float = typer.Option(0.0, help="Seconds to wait between steps, to read along.")) -> None:
    """Play a scripted walkthrough of every flow on the local Slack sandbox, printed as a transcript."""
    from bot.demo import run_demo

    settings = settings_or_exit()
    configure_logging("WARNING")
    program = program_or_exit(settings.program_file)
    raise typer.Exit(run_demo(program, pause=pause))


def _program_source(file: Path | None):
    """(path, ProgramFile) for `program check` and `program show`; a file named but missing is an error."""
    from workflows.program_file import ProgramFile, read_program_file

    settings = None if file else settings_or_exit()
    path = file or settings.program_file
    explicit = file is not None or "program_file" in settings.model_fields_set
    if not path.exists():
        if explicit:
            console.print(f"[bold red]{path} does not exist[/]: check the path"
                          f"{'' if file else ' in PROGRAM_FILE'}; without a file the built-in defaults apply")
            raise typer.Exit(2)
        typer.echo(f"{path} does not exist: the built-in defaults apply.")
        return path, ProgramFile(Program())
    return path, program_or_exit(path, read=read_program_file)


def _imported_team():
    """(team, where) from DATABASE_URL without creating anything; (None, why not) when there is none yet."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from bot.settings import SettingsError
    from storage.db import make_engine
    from workflows.program_rules import load_team

    try:
        url = load_settings().database_url
    except SettingsError:
        return None, "the settings do not load"
    shown_url = make_url(url).render_as_string(hide_password=True)
    database = make_url(url).database
    if url.startswith("sqlite") and database and database != ":memory:" and not Path(database).exists():
        return None, f"{shown_url} does not exist yet"
    try:
        engine = make_engine(url)
        try:
            team = load_team(engine)
        finally:
            engine.dispose()
    except (SQLAlchemyError, ImportError, OSError):
        return None, f"{shown_url} can't be read"
    return (team, shown_url) if team else (None, f"no team is imported in {shown_url}")


@program_cli.command("check")
def program_check(file: Path = typer.Argument(None, help="The program file (default: PROGRAM_FILE).")) -> None:
    """Validate a program file, and its rules against the imported team when there is one."""
    from workflows.program_rules import idle_rules, team_problems

    path, source = _program_source(file)
    program = source.program
    team, where = _imported_team()
    if team is not None:
        problems = team_problems(program, team, source.where)
        if problems:
            console.print(f"[bold red]{path} does not fit the team in {where}[/] ({len(problems)} problem(s))")
            for problem in problems:
                console.print(f"  • {problem}", markup=False)
            raise typer.Exit(2)
    typer.echo(f"{path}: valid. Protection window {program.protection_window_days} days, approval SLA "
               f"{program.approval_sla_hours} h, name similarity {program.conflict.name_similarity}, "
               f"{len(program.regions)} region(s), {len(program.routing.rules)} routing rule(s).")
    for note in source.notes:
        typer.echo(f"  note: {note}")
    if team is None:
        typer.echo(f"  note: assign_to and AE territories not checked: {where}")
    else:
        typer.echo(f"  team: {len(team)} people in {where}; assign_to and AE territories fit the program")
        for warning in idle_rules(program, team):
            typer.echo(f"  warning: {warning}")
    typer.echo("  `partnerbot program show` prints the rules in force.")


@program_cli.command("show")
def program_show(file: Path = typer.Argument(None, help="The program file (default: PROGRAM_FILE).")) -> None:
    """Print the rules in force: windows, choices, regions and their countries, routing rules in order."""
    from workflows.program_rules import describe_program

    path, source = _program_source(file)
    team, _ = _imported_team()
    typer.echo(f"Rules in force from {path}" + ("" if path.exists() else " (built-in defaults)") + ":")
    for line in describe_program(source.program, team):
        typer.echo(line)


@route_cli.command("explain")
def route_explain(reference: str = typer.Argument(..., help="The registration: REG-00042 or 42.")) -> None:
    """Which rule and AE a lead got, and why each other AE did not qualify (today's program and team)."""
    from bot.runtime import open_database
    from workflows.route_explain import UnknownRegistration, explain_route

    settings = settings_or_exit()
    program = program_or_exit(settings.program_file)
    try:
        explanation = explain_route(open_database(settings), program, reference)
    except UnknownRegistration as exc:
        console.print(f"[bold red]{exc}[/]", highlight=False)
        raise typer.Exit(1) from None
    typer.echo(explanation.title)
    for fact in explanation.facts:
        typer.echo(f"  {fact}")
    typer.echo("Rules today, in order (first match wins):")
    for line in explanation.rules:
        typer.echo(f"  {line}")
    typer.echo("AEs:")
    for line in explanation.people:
        typer.echo(f"  {line}")


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Bring DATABASE_URL to the current schema (and repair the conflict index if `doctor` found it short)."""
    from bot.runtime import open_database
    from storage.conflict_index import index_unindexed
    from storage.db import transaction

    engine = open_database(settings_or_exit())
    with transaction(engine) as session:
        repaired = index_unindexed(session)
    if repaired:
        typer.echo(f"Added {repaired:,} registration(s) missing from the conflict index.")
    typer.echo("The database is at the current schema.")


@db_cli.command("revision")
def db_revision(message: str = typer.Argument(..., help="What the schema change is, e.g. 'partner region'.")) -> None:
    """For developers: write a migration for the models' changes (compared with DATABASE_URL at head)."""
    from alembic import command

    from storage.db import alembic_config, create_schema, make_engine

    engine = make_engine(settings_or_exit().database_url)
    create_schema(engine)
    with engine.begin() as connection:
        command.revision(alembic_config(connection), message=message, autogenerate=True)


def main() -> None:
    """The CLI, with one line (never a traceback) for whatever stops it; LOG_LEVEL=DEBUG keeps the traceback."""
    try:
        cli()
    except StartupProblem as problem:
        console.print(f"Partnerbot can't start: {redact(str(problem))}", markup=False, highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the last guard: one line instead of a traceback
        if os.environ.get("LOG_LEVEL", "").upper() == "DEBUG" or logging.getLogger().isEnabledFor(logging.DEBUG):
            logging.getLogger(__name__).exception("Partnerbot stopped")
        message = redact(str(exc)).strip().splitlines()
        console.print(f"Partnerbot stopped: {exc.__class__.__name__}: {message[0] if message else ''}",
                      markup=False, highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
