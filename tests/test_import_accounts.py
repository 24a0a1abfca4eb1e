"""`partnerbot import accounts`: idempotent upserts by domain (else name), partners and product lines only
ever added, bad rows reported by number and reason with nothing half-written, through the CLI too."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from bot.cli_import import import_cli
from bot.demo_data import import_demo_records
from storage.models import AccountPartner, AccountProductLine, CustomerAccount, Partner
from tests.test_accounts import accounts, approved, attachments, everything, product_lines, win
from tests.test_workflows_registration import clock, services  # noqa: F401  (the same fixtures)
from workflows.account_import import ACCOUNT_COLUMNS, import_accounts
from workflows.imports import import_team
from workflows.program import Program

HEADER = ",".join(ACCOUNT_COLUMNS) + "\n"
GOOD = HEADER + (
    "Acme Inc.,https://www.acme.com,U0ALEX,Northwind Consulting,Platform;Enterprise,15000\n"
    "Wayne Enterprises,wayne.com,U0CARL,northwind consulting; Initech Agency ,analytics,\n"
    "Umbrella,,,,,\n"
)


def write(tmp_path: Path, text: str, name: str = "accounts.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def demo(engine):
    import_demo_records(engine)


def test_accounts_are_imported_with_partners_product_lines_landing_zone_and_revenue(engine, demo, tmp_path):
    report = import_accounts(engine, write(tmp_path, GOOD))
    assert (report.created, report.errors, report.warnings) == (3, [], [])
    assert accounts(engine) == [("Acme Inc.", "acme.com", "U0ALEX", "Platform", None),
                                ("Wayne Enterprises", "wayne.com", "U0CARL", "Analytics", None),
                                ("Umbrella", None, None, None, None)]
    assert attachments(engine) == [("Acme Inc.", "Northwind Consulting", None, None),
                                   ("Wayne Enterprises", "Initech Agency", None, None),
                                   ("Wayne Enterprises", "Northwind Consulting", None, None)]
    assert product_lines(engine) == [("Acme Inc.", "Enterprise"), ("Acme Inc.", "Platform"),
                                     ("Wayne Enterprises", "Analytics")]
    with Session(engine) as session:
        acme = session.exec(select(CustomerAccount).where(CustomerAccount.name == "Acme Inc.")).one()
        assert (acme.name_key, acme.monthly_revenue, acme.currency) == ("acme", Decimal("15000"), "USD")


def test_reimporting_the_same_file_changes_nothing(engine, demo, tmp_path):
    import_accounts(engine, write(tmp_path, GOOD))
    before = everything(engine)
    with Session(engine) as session:
        stamps = session.exec(select(CustomerAccount.updated_at).order_by(CustomerAccount.id)).all()
    report = import_accounts(engine, write(tmp_path, GOOD))
    assert (report.created, report.updated, report.unchanged, report.errors) == (0, 0, 3, [])
    assert everything(engine) == before
    with Session(engine) as session:
        assert session.exec(select(CustomerAccount.updated_at).order_by(CustomerAccount.id)).all() == stamps


def test_a_reimport_adds_partners_and_product_lines_and_never_takes_one_away(engine, demo, tmp_path):
    import_accounts(engine, write(tmp_path, GOOD))
    changed = HEADER + (
        "Acme Incorporated,acme.com,U0BEA,Globex Referrals,Analytics,\n"  # new name, owner, partner, landing zone
        "Wayne Enterprises,wayne.com,,,,\n"  # empty cells: the account keeps what it has
    )
    report = import_accounts(engine, write(tmp_path, changed))
    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    assert report.warnings == [(2, "partners: Globex Referrals is a referral partner: its people see only accounts "
                                   "from their own registrations, so none of them sees this one")]
    assert accounts(engine)[:2] == [("Acme Incorporated", "acme.com", "U0BEA", "Analytics", None),
                                    ("Wayne Enterprises", "wayne.com", "U0CARL", "Analytics", None)]
    assert [row for row in attachments(engine) if row[0] == "Acme Incorporated"] == [
        ("Acme Incorporated", "Globex Referrals", None, None), ("Acme Incorporated", "Northwind Consulting", None, None)]
    assert [line for name, line in product_lines(engine) if name == "Acme Incorporated"] == [
        "Analytics", "Enterprise", "Platform"]
    with Session(engine) as session:  # an empty revenue cell keeps the revenue
        assert session.exec(select(CustomerAccount.monthly_revenue).where(
            CustomerAccount.domain == "acme.com")).one() == Decimal("15000")


def test_bad_rows_are_refused_with_their_number_and_every_reason_and_leave_nothing(engine, demo, tmp_path):
    text = HEADER + (
        "Acme Inc.,acme.com,U0ALEX,Northwind Consulting,Platform,15000\n"  # 2: good
        "Globex Customer,globex-customer.com,U0ALEX,Northwind Consulting;Nortwind Consultin,Platform,\n"  # 3
        "Hooli,hooli.com,U0DANA,,,\n"  # 4: a partner's person owns nothing here
        "Stark,not a domain,,,,\n"  # 5
        "Initrode,initrode.com,,,,12.000\n"  # 6: unclear number
        "Soylent,soylent.com,,,,-5\n"  # 7
        "Cyberdyne,cyberdyne.com,,,Platfrom;Gold,\n"  # 8: unknown product line and plan
        "ACME Incorporated,,,,,\n"  # 9: the same customer as row 2 by name
        "Acme Germany,ACME.com,,,,\n"  # 10: the same customer as row 2 by domain
        " ,nameless.com,,,,\n"  # 11
        "Tyrell,tyrell.com,not-an-id,Zzyzx Partners,,\n"  # 12
        "Hooli,hooli.com,U0BEA,Initech Agency,Analytics,\n"  # 13: good now
    )
    report = import_accounts(engine, write(tmp_path, text))
    assert report.created == 2
    assert report.errors == [
        (3, "partners: “Nortwind Consultin” is not a partner in the program; did you mean “Northwind Consulting”?"),
        (4, "owner_slack_id: U0DANA is not in the team (an AE who owns the account); import the team first"),
        (5, "domain: “not a domain” is not a website or domain such as acme.com"),
        (6, "monthly_revenue: “12.000” is unclear: did you mean 12,000 or 12? Type 12000 or 12. (USD, the "
            "program's base currency)"),
        (7, "monthly_revenue: -5 is negative"),
        (8, "product_lines: “Platfrom” is not a product line or plan in the program file; did you mean “Platform”?; "
            "product_lines: “Gold” is not a product line or plan in the program file (Platform, Analytics, "
            "Integrations, Team, Business, Enterprise)"),
        (9, "duplicate: the same customer as row 2 (the same name); one row per account"),
        (10, "duplicate: the same customer as row 2 (the same domain acme.com); one row per account"),
        (11, "name: missing; every account needs the customer's name"),
        (12, "owner_slack_id: “not-an-id” is not a Slack user id"),
    ]
    assert accounts(engine) == [("Acme Inc.", "acme.com", "U0ALEX", "Platform", None),
                                ("Hooli", "hooli.com", "U0BEA", "Analytics", None)]
    # Row 3's good partner was not attached to anything: a row is all or nothing.
    assert attachments(engine) == [("Acme Inc.", "Northwind Consulting", None, None),
                                   ("Hooli", "Initech Agency", None, None)]


def test_every_reason_of_a_row_is_given_at_once(engine, demo, tmp_path):
    report = import_accounts(engine, write(tmp_path, HEADER + "Tyrell,tyrell.com,U0NOBODY,Zzyzx,Platfrom,abc\n"))
    [(row, reason)] = report.errors
    assert row == 2 and reason == (
        "owner_slack_id: U0NOBODY is not in the team (an AE who owns the account); import the team first; "
        "partners: “Zzyzx” is not a partner in the program; import it with `partnerbot import partners` first; "
        "product_lines: “Platfrom” is not a product line or plan in the program file; did you mean “Platform”?; "
        "monthly_revenue: must be a number, e.g. 25000 (USD, the program's base currency)")
    assert accounts(engine) == []


def test_a_row_is_matched_by_name_when_it_or_the_account_has_no_domain(engine, demo, tmp_path):
    import_accounts(engine, write(tmp_path, HEADER + "Acme Inc.,,U0ALEX,,Platform,\n"))
    report = import_accounts(engine, write(tmp_path, HEADER + "ACME Incorporated,acme.com,,,,\n"))
    assert (report.created, report.updated) == (0, 1)
    assert accounts(engine) == [("ACME Incorporated", "acme.com", "U0ALEX", "Platform", None)]
    again = import_accounts(engine, write(tmp_path, HEADER + "Acme,,,,,\n"))  # no domain: by name
    assert (again.created, again.updated) == (0, 1) and accounts(engine)[0][:2] == ("Acme", "acme.com")


def test_a_name_match_with_another_domain_is_refused_not_merged(engine, demo, tmp_path):
    import_accounts(engine, write(tmp_path, HEADER + "Acme Inc.,acme.com,,,,\n"))
    report = import_accounts(engine, write(tmp_path, HEADER + "Acme,acme.de,,Northwind Consulting,,\n"))
    assert report.errors == [(2, "domain: the account named “Acme Inc.” has the domain acme.com; give that domain, "
                                 "or a name that tells the two customers apart")]
    assert attachments(engine) == []
    assert not import_accounts(engine, write(tmp_path, HEADER + "Acme Germany,acme.de,,,,\n")).errors


def test_an_import_updates_the_account_a_won_registration_made(engine, services, tmp_path):
    win(services, approved(services))  # Dana's Acme Inc., acme.com, won by Alex
    report = import_accounts(engine, write(tmp_path, HEADER + "ACME,acme.com,,Globex Referrals,Platform,\n"))
    assert (report.updated, report.errors) == (1, [])
    assert accounts(engine) == [("ACME", "acme.com", "U0ALEX", "Platform", 1)]
    assert attachments(engine) == [("ACME", "Globex Referrals", None, None), ("ACME", "Northwind Consulting", 1, "U0DANA")]


def test_product_lines_and_plans_are_those_of_the_program(engine, demo, tmp_path):
    program = Program(product_lines=("Core", "Data"), upsell={"plans": ("Pro",)})
    text = HEADER + "Acme,acme.com,,,data;PRO,\nWayne,wayne.com,,,Platform,\n"
    report = import_accounts(engine, write(tmp_path, text), program=program)
    assert report.errors == [(3, "product_lines: “Platform” is not a product line or plan in the program file "
                                 "(Core, Data, Pro)")]
    assert product_lines(engine) == [("Acme", "Data"), ("Acme", "Pro")]  # as the program spells them


def test_progress_is_reported_per_row(engine, demo, tmp_path):
    seen = []
    import_accounts(engine, write(tmp_path, GOOD), lambda done, total: seen.append((done, total)))
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_cli_imports_accounts_reports_rows_and_exit_codes(engine, demo, database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    bad = GOOD + "Initrode,initrode.com,U0ALEX,Globex Referals,Platform,\n"
    result = runner.invoke(import_cli, ["accounts", str(write(tmp_path, bad))])
    assert result.exit_code == 1, result.output
    assert "accounts: 3 created, 0 updated, 0 unchanged, 1 rejected, 0 warning(s)" in result.output
    assert "row 5: partners: “Globex Referals” is not a partner in the program; did you mean “Globex Referrals”?" \
        in result.output
    again = runner.invoke(import_cli, ["accounts", str(write(tmp_path, GOOD))])
    assert again.exit_code == 0, again.output
    assert "accounts: 0 created, 0 updated, 3 unchanged, 0 rejected, 0 warning(s)" in again.output
    missing = runner.invoke(import_cli, ["accounts", str(write(tmp_path, "name,domain\nAcme,acme.com\n"))])
    assert missing.exit_code == 2 and "missing column(s) owner_slack_id, partners" in missing.output


def test_cli_help_shows_the_columns_on_80_columns():
    result = CliRunner().invoke(import_cli, ["accounts", "--help"], terminal_width=80, env={"COLUMNS": "80"})
    assert result.exit_code == 0
    assert max(len(line) for line in result.output.splitlines()) <= 80
    words = set(result.output.replace(",", " ").replace(".", " ").split())
    assert set(ACCOUNT_COLUMNS) <= words


def test_the_template_row_imports(engine, demo, database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    team = runner.invoke(import_cli, ["template", "team"])
    assert not import_team(engine, write(tmp_path, team.stdout, "team.csv")).errors  # its AE, U0123ABCD
    template = runner.invoke(import_cli, ["template", "accounts"])
    assert template.exit_code == 0 and template.stdout.splitlines()[0] == HEADER.strip()
    report = import_accounts(engine, write(tmp_path, template.stdout))
    assert (report.created, report.errors) == (1, [])
    with Session(engine) as session:
        assert session.exec(select(AccountPartner)).one() and session.exec(select(AccountProductLine)).one()
        assert session.exec(select(Partner.name).join(AccountPartner)).one() == "Northwind Consulting"
