"""`partnerbot doctor` against the local Slack sandbox, a real database and the HTTPS Salesforce fake."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bot.cli import cli
from bot.cli_doctor import doctor
from bot.demo_data import BOT_USER, CHANNELS, OUR_TEAM, import_demo_records, populate_sandbox
from bot.doctor import manifest_scopes, needed_salesforce_fields
from bot.sandbox import Sandbox
from storage.conflict_index import unindex
from storage.db import transaction
from tests.salesforce_fake import FakeSalesforce
from tests.support import RecordingNotifier, lead
from workflows.people import identify
from workflows.program import Program
from workflows.registrations import register_lead
from workflows.services import Services
from workflows.imports import PARTNER_COLUMNS, import_partners, rows_as_csv

TOKEN = "xoxb-sandbox-doctor-0123456789"
SECRETS = (TOKEN, "signing-s3cret")


@pytest.fixture
def sandbox(engine, database_url, tmp_path, monkeypatch):
    """The demo workspace and the demo partners imported; settings in the environment, as an admin sets them."""
    with Sandbox(SECRETS[1], TOKEN, team_id=OUR_TEAM[0], team_name=OUR_TEAM[1], bot_user_id=BOT_USER) as running:
        populate_sandbox(running)
        import_demo_records(engine)
        monkeypatch.chdir(tmp_path)  # no .env, no program.yml: the built-in rules
        for name in ("SLACK_APP_TOKEN", "PROGRAM_FILE", "SALESFORCE_INSTANCE_URL", "SALESFORCE_ACCESS_TOKEN",
                     "SALESFORCE_USERNAME", "SALESFORCE_PASSWORD", "SALESFORCE_SECURITY_TOKEN",
                     "SALESFORCE_CONSUMER_KEY", "SALESFORCE_PRIVATE_KEY_FILE", "SALESFORCE_CA_BUNDLE"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
        monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRETS[1])
        monkeypatch.setenv("SLACK_API_URL", running.api_url)
        monkeypatch.setenv("DATABASE_URL", database_url)
        yield running


def run_doctor(*secrets: str) -> typer.testing.Result:
    app = typer.Typer()
    app.command()(doctor)
    result = CliRunner().invoke(app, [])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    for secret in (*SECRETS, *secrets):
        assert secret not in result.output
    return result


def line(result, start: str) -> str:
    """The line of one check, e.g. `✗ Partner channels`."""
    found = [row for row in result.output.splitlines() if row.startswith(start)]
    assert found, result.output
    return found[0]


def add_partner(engine, tmp_path: Path, *row: str) -> None:
    path = tmp_path / "more-partners.csv"
    path.write_text(rows_as_csv(PARTNER_COLUMNS, [row]), encoding="utf-8")
    assert not import_partners(engine, path).errors


def test_all_green_on_the_demo_workspace(sandbox):
    result = run_doctor()
    assert result.exit_code == 0, result.output
    for name in ("Settings", "Database", "Slack token", "Slack scopes", "Partner channels", "Partner people",
                 "Program", "Salesforce"):
        assert line(result, f"✓ {name}")
    assert "the bot is in all 2 partner channel(s)" in line(result, "✓ Partner channels")
    assert "local mirror" in line(result, "✓ Salesforce")
    assert "✗" not in result.output and "fix:" not in result.output


def test_a_partner_channel_without_the_bot_names_the_partner(sandbox, engine, tmp_path):
    channel_id, name, members = CHANNELS[0]
    sandbox.add_channel(channel_id, name, members=[m for m in members if m != BOT_USER], is_ext_shared=True,
                        bot_member=False)
    add_partner(engine, tmp_path, "Hooli", "agency", "gold", "producing", "", "", "C0GONE", "", "")
    result = run_doctor()
    assert result.exit_code == 1
    assert line(result, "✗ Partner channels") == "✗ Partner channels: 2 of 3 partner channel(s) not reachable"
    assert "    • Northwind Consulting: the bot is not in #partner-northwind (C0NORTH)" in result.output
    assert "    • Hooli: channel C0GONE: channel_not_found" in result.output
    assert "/invite @Partnerbot" in result.output


def test_an_unknown_partner_contact_names_the_partner(sandbox, engine, tmp_path):
    add_partner(engine, tmp_path, "Hooli", "agency", "gold", "producing", "", "", "", "U0PRIYA", "U0GHOST")
    result = run_doctor()
    assert result.exit_code == 1
    assert line(result, "✗ Partner people")
    assert "    • Hooli: contact U0GHOST: user_not_found" in result.output


def test_a_missing_scope_is_named(sandbox):
    sandbox.set_scopes(sorted(manifest_scopes() - {"users:read.email"}))
    result = run_doctor()
    assert result.exit_code == 1
    assert line(result, "✗ Slack scopes") == "✗ Slack scopes: missing users:read.email"
    assert "reinstall" in result.output


def test_a_missing_read_scope_is_one_line_not_one_per_partner(sandbox):
    sandbox.set_scopes(sorted(manifest_scopes() - {"channels:read"}))
    result = run_doctor()
    assert result.exit_code == 1
    assert line(result, "✗ Partner channels") == \
        "✗ Partner channels: Slack refused conversations.info (missing_scope)"
    assert "    • the token needs channels:read" in result.output
    assert "Northwind" not in result.output


def test_a_bad_token_is_refused_and_the_slack_checks_after_it_are_not_run(sandbox, monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-not-the-right-one")
    result = run_doctor("xoxb-not-the-right-one")
    assert result.exit_code == 1
    assert "(invalid_auth)" in line(result, "✗ Slack token")
    assert line(result, "– Partner channels: not checked")
    assert line(result, "✓ Database")


def test_settings_problems_are_listed_without_the_secret(sandbox, monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "not-a-token-s3cret")
    result = run_doctor("not-a-token-s3cret")
    assert result.exit_code == 1
    assert line(result, "✗ Settings") and "SLACK_BOT_TOKEN" in result.output.upper()


def test_a_database_behind_the_migration_head(sandbox, tmp_path, monkeypatch):
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{empty}")
    result = run_doctor()
    assert result.exit_code == 1
    assert "without a schema; the code needs" in line(result, "✗ Database")
    assert "partnerbot db upgrade" in result.output
    assert line(result, "– Partner people: not checked")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'nowhere.db'}")
    assert "no database file" in line(run_doctor(), "✗ Database")
    assert not (tmp_path / "nowhere.db").exists()  # the doctor does not create one


def test_an_unreachable_database_is_named_without_its_password(sandbox, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://partnerbot:pw-s3cret@127.0.0.1:1/partnerbot")
    result = run_doctor("pw-s3cret")
    assert result.exit_code == 1
    assert line(result, "✗ Database: cannot reach postgresql+psycopg://partnerbot:***@127.0.0.1:1/partnerbot")


def test_a_bad_program_file(sandbox, tmp_path):
    (tmp_path / "program.yml").write_text("protection_window_days: 0\n", encoding="utf-8")
    result = run_doctor()
    assert result.exit_code == 1
    assert line(result, "✗ Program") == "✗ Program: program.yml is not valid"
    assert "    • line 1: protection_window_days:" in result.output


@pytest.fixture
def salesforce(sandbox, tmp_path, monkeypatch):
    with FakeSalesforce(tmp_path) as fake:
        monkeypatch.setenv("SALESFORCE_INSTANCE_URL", fake.base_url)
        monkeypatch.setenv("SALESFORCE_ACCESS_TOKEN", fake.access_token)
        monkeypatch.setenv("SALESFORCE_CA_BUNDLE", str(fake.ca_bundle))
        yield fake


def test_salesforce_logs_in_and_has_every_field(salesforce):
    result = run_doctor(salesforce.access_token)
    assert result.exit_code == 0, result.output
    assert "every field exists" in line(result, "✓ Salesforce")
    assert any(call.endswith("Opportunity/describe") for call in salesforce.calls)


def test_a_missing_salesforce_field_is_named(salesforce):
    salesforce.fields["Opportunity"].discard("Revenue_Growth__c")
    salesforce.fields["Lead"].discard("Partner_Account__c")
    result = run_doctor(salesforce.access_token)
    assert result.exit_code == 1
    assert line(result, "✗ Salesforce") == "✗ Salesforce: logged in, but fields the writer needs are missing"
    assert "    • Lead.Partner_Account__c" in result.output
    assert "    • Opportunity.Revenue_Growth__c" in result.output
    assert "sf project deploy start" in result.output


def test_salesforce_refusing_the_token(salesforce):
    salesforce.expire_sessions()
    result = run_doctor(salesforce.access_token)
    assert result.exit_code == 1
    assert line(result, "✗ Salesforce: login failed")
    assert "INVALID_SESSION_ID" in result.output


def test_the_writer_needs_the_fields_salesforce_readme_lists():
    readme = (Path(__file__).parent.parent / "salesforce" / "README.md").read_text(encoding="utf-8")
    for sobject, fields in needed_salesforce_fields().items():
        for name in fields:
            assert f"`{name}`" in readme, (sobject, name)


def test_registrations_missing_from_the_conflict_index_are_named_and_db_upgrade_adds_them(sandbox, engine):
    services = Services(engine=engine, program=Program(), notifier=RecordingNotifier(), our_team_id=OUR_TEAM)
    dana = identify(services, user_id="U0DANA", team_id="T0NORTH")
    registration = register_lead(services, actor=dana, lead=lead()).registration
    with transaction(engine) as session:  # as a bulk edit around change_status would leave it
        unindex(session, [registration.id])
    result = run_doctor()
    assert result.exit_code == 1
    assert line(result, "✗ Conflict index")
    assert f"    • registration id {registration.id}" in result.output
    upgraded = CliRunner().invoke(cli, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert "Added 1 registration(s) missing from the conflict index." in upgraded.output
    assert line(run_doctor(), "✓ Conflict index")


def test_a_program_file_named_but_missing_is_flagged(sandbox, monkeypatch, tmp_path):
    monkeypatch.setenv("PROGRAM_FILE", str(tmp_path / "progam.yml"))  # a typo: the built-in rules would apply
    result = run_doctor()
    assert result.exit_code == 1
    assert "progam.yml, which does not exist: the built-in rules apply" in line(result, "✗ Program")
    assert "unset PROGRAM_FILE" in result.output
