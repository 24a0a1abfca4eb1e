"""`partnerbot report`, as someone filling a spreadsheet or a script uses it: the data set of test_reporting, the
week across the new year, in the three formats; bad options end with a clear message and exit 2."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from bot.cli import cli
from bot.cli_report import GROUP_COLUMNS, REPORT_COLUMNS
from storage.models import Partner
from tests.test_reporting import data  # noqa: F401  (the fixture)

WEEK = ["--period", "2026-12-28..2027-01-03", "--tz", "UTC"]


@pytest.fixture
def env(monkeypatch, database_url, tmp_path):
    """The CLI's settings from the environment: the test database and a program with a EUR rate (none for GBP)."""
    program = tmp_path / "program.yml"
    program.write_text("routing:\n  base_currency: USD\n  exchange_rates:\n    EUR: 1.1\n", encoding="utf-8")
    for name in ("SLACK_APP_TOKEN", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SALESFORCE_INSTANCE_URL",
                 "SALESFORCE_ACCESS_TOKEN", "SALESFORCE_USERNAME", "SCHEDULER"):
        monkeypatch.delenv(name, raising=False)
    for name, value in (("DATABASE_URL", database_url), ("PROGRAM_FILE", str(program)), ("COLUMNS", "200")):
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # no developer's .env
    return tmp_path


def run(*args: str):
    return CliRunner().invoke(cli, ["report", *args])


def cells(rows: list[dict], section: str, item: str, measure: str) -> str:
    return next(row["value"] for row in rows if (row["section"], row["item"], row["measure"]) == (section, item,
                                                                                                  measure))


def test_csv_has_every_figure_in_stable_columns(env, data):  # noqa: F811
    result = run(*WEEK, "--format", "csv")
    assert result.exit_code == 0, result.output
    reader = csv.DictReader(io.StringIO(result.output))
    assert tuple(reader.fieldnames) == REPORT_COLUMNS
    rows = list(reader)
    assert {row["period"] for row in rows} == {"2026-12-28..2027-01-03"}
    assert {row["scope"] for row in rows} == {"all partners"}
    assert cells(rows, "pipeline", "new sourced", "value") == "50000.00"
    assert cells(rows, "pipeline", "new influenced", "not valued") == "1 in GBP"
    assert cells(rows, "won", "all", "win rate") == "66.7"
    assert cells(rows, "won", "all", "average deal size") == "8375.00"
    assert cells(rows, "direct", "all", "status") == "not connected"
    assert cells(rows, "lead to close", "all", "ratio") == "25.0"
    assert cells(rows, "landing zones", "Platform", "median days to expand") == "91.0"
    assert cells(rows, "usage growth", "all", "growth") == "500.00"
    assert cells(rows, "movers", "Hooli", "change") == "23000.00"
    assert [row["item"] for row in rows if row["section"] == "top partners"] == ["Hooli", "Northwind"]


def test_json_to_a_file_and_one_partner(env, data):  # noqa: F811
    path = env / "northwind.json"
    result = run(*WEEK, "--format", "json", "--output", str(path), "--partner", "northwind")
    assert result.exit_code == 0, result.output
    assert f"Wrote {path} (json)." in result.output
    report = json.loads(path.read_text(encoding="utf-8"))
    assert report["columns"] == list(REPORT_COLUMNS) and report["base_currency"] == "USD"
    rows = report["rows"]
    assert {row["scope"] for row in rows} == {"Northwind"}
    assert cells(rows, "pipeline", "new sourced", "value") == 20000.0
    assert cells(rows, "lead to close", "all", "submitted") == 4
    assert cells(rows, "won", "all", "win rate") == 66.7  # every deal decided that week is Northwind's: 4 won, 2 lost


def test_by_type_as_csv_and_json(env, data):  # noqa: F811
    result = run(*WEEK, "--by", "type", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [(r["key"], r["submitted"], r["won"], r["decided"], r["open"], r["lead_to_close_percent"]) for r in rows] \
        == [("reseller", "4", "1", "3", "1", "33.3"), ("referral", "3", "0", "1", "2", "0.0"),
            ("msp", "1", "0", "0", "1", "")]
    as_json = json.loads(run(*WEEK, "--by", "manager", "--format", "json", "--type", "reseller").output)
    assert as_json["columns"] == list(GROUP_COLUMNS)
    assert [(r["key"], r["submitted"], r["lead_to_close_percent"]) for r in as_json["rows"]] == [("UMGR", 4, 33.3)]


def test_table_for_reading(env, engine, data):  # noqa: F811
    with Session(engine) as session:  # a name that looks like markup is shown as it is
        session.get(Partner, data.p["Hooli"]).name = "[bold]Hooli[/bold]"
        session.commit()
    result = run(*WEEK, "--tier", "gold")
    assert result.exit_code == 0, result.output
    assert "Partner report: 2026-12-28..2027-01-03 (2026-12-28 to 2027-01-03), gold tier, in USD" in result.output
    assert "not connected" in result.output and "50,000.00" in result.output
    assert "[bold]Hooli[/bold]" in result.output
    grouped = run(*WEEK, "--by", "partner")
    assert grouped.exit_code == 0, grouped.output
    assert "Lead to close by partner" in grouped.output and "33.3%" in grouped.output


@pytest.mark.parametrize("args, says", [
    (["--period", "fortnight"], "YYYY-Qn"),
    (["--period", "2027-02-30..2027-03-01"], "does not exist"),
    (["--type", "wizard"], "--type wizard: not one of referral, reseller"),
    (["--tier", "diamond"], "--tier diamond: not one of registered, silver, gold, platinum"),
    (["--partner", "Nobody"], "--partner Nobody: no partner has that name"),
    (["--output", "x.csv"], "add --format csv"),
    (["--by", "colour"], "colour"),
    (["--tz", "Mars/Olympus"], "not a time zone"),
])
def test_bad_options_say_what_is_wrong_and_exit_2(env, data, args, says):  # noqa: F811
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert says in result.output
