"""CSV imports: idempotent upserts, bad rows reported by number and reason, good rows kept, through the CLI too."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select
from typer.testing import CliRunner

import pytest
from sqlalchemy.engine import make_url

from bot.cli_import import import_cli
from storage.models import Partner, PartnerContact, PartnerStage, PartnerTier, PartnerType, Role, TeamMember
from workflows.imports import PARTNER_COLUMNS, TEAM_COLUMNS, import_partners, import_team
from workflows.program import Program

PARTNERS_CSV = """name,type,tier,stage,domain,slack_team_id,slack_channel_id,manager_slack_id,contact_slack_ids
Northwind,Reseller,gold,producing,https://www.northwind.io,T0NORTH,C0NORTH,U0PM1,U0DANA;U0ERIK
Broken Type,foo,gold,producing,,,,,
Guests Ltd,referral,silver,onboarded,,,,,U0GUEST
Bad Ids,agency,gold,producing,not a domain,X1,,,
Thief,agency,gold,producing,,,,,U0DANA
"""


TEAM_CSV = """slack_user_id,name,email,role,territories,product_lines
U0PM1,Pat,,partner_manager,,
U0ADMIN,Sam,,admin,,
U0ALEX,Alex,,ae,EMEA,Platform
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def team(engine, tmp_path):
    """Partner managers must be in the team before partners name them."""
    assert not import_team(engine, write(tmp_path, "team.csv", TEAM_CSV)).errors


def test_partner_import_keeps_good_rows_and_explains_bad_ones(engine, team, tmp_path):
    report = import_partners(engine, write(tmp_path, "p.csv", PARTNERS_CSV))
    assert (report.created, report.updated) == (2, 0)
    assert [row for row, _ in report.errors] == [3, 5, 6]
    reasons = dict(report.errors)
    assert reasons[3].startswith("type: Input should be 'referral'")
    assert "domain: “not a domain” is not a website" in reasons[5] and "slack_team_id: “X1”" in reasons[5]
    assert reasons[6] == "contact_slack_ids: U0DANA is already a contact of another partner"
    with Session(engine) as session:
        names = set(session.exec(select(Partner.name)).all())
        assert names == {"Northwind", "Guests Ltd"}  # the rejected "Thief" row left nothing behind
        northwind = session.exec(select(Partner).where(Partner.name == "Northwind")).one()
        assert (northwind.domain, northwind.type, northwind.slack_team_id) == ("northwind.io", "reseller", "T0NORTH")
        contacts = session.exec(select(PartnerContact.slack_user_id).where(PartnerContact.partner_id == northwind.id))
        assert sorted(contacts.all()) == ["U0DANA", "U0ERIK"]


def test_partner_import_is_an_idempotent_upsert(engine, team, tmp_path):
    import_partners(engine, write(tmp_path, "p.csv", PARTNERS_CSV))
    changed = PARTNERS_CSV.replace("gold,producing,https://www.northwind.io", "platinum,strategic,northwind.io") \
                          .replace("U0DANA;U0ERIK", "U0DANA")
    report = import_partners(engine, write(tmp_path, "p2.csv", changed))
    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)  # Guests Ltd is as it was
    with Session(engine) as session:
        assert len(session.exec(select(Partner)).all()) == 2
        northwind = session.exec(select(Partner).where(Partner.name == "Northwind")).one()
        assert northwind.stage == PartnerStage.strategic
        assert session.exec(select(PartnerContact.slack_user_id).where(
            PartnerContact.partner_id == northwind.id)).all() == ["U0DANA"]


def test_team_import(engine, tmp_path):
    csv_text = ("slack_user_id,name,email,role,territories,product_lines\n"
                "U0ALEX,Alex,alex@x.com,AE,EMEA;APAC,Platform\n"
                "U0PM,Pat,,partner_manager,,\n"
                "bad,Nobody,nope,boss,,\n")
    report = import_team(engine, write(tmp_path, "t.csv", csv_text))
    assert (report.created, [row for row, _ in report.errors]) == (2, [4])
    assert "slack_user_id" in report.errors[0][1] and "email" in report.errors[0][1] and "role" in report.errors[0][1]
    with Session(engine) as session:
        alex = session.exec(select(TeamMember).where(TeamMember.slack_user_id == "U0ALEX")).one()
        assert (alex.role, alex.territories, alex.product_lines) == ("ae", ["EMEA", "APAC"], ["Platform"])


def test_cli_imports_report_rows_warnings_database_and_exit_codes(engine, database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    team_csv = TEAM_CSV + "U0BEA,Bea,,ae,EMEA,Platfrom\n"
    team_result = runner.invoke(import_cli, ["team", str(write(tmp_path, "t.csv", team_csv))])
    assert team_result.exit_code == 1, team_result.output
    assert "team: 3 created, 0 updated, 0 unchanged, 1 rejected, 0 warning(s)" in team_result.output
    assert "row 5: product_lines: “Platfrom” is not a product line in the program file; " \
           "did you mean “Platform”?" in team_result.output
    again = runner.invoke(import_cli, ["team", str(write(tmp_path, "t.csv", TEAM_CSV))])
    assert "team: 0 created, 0 updated, 3 unchanged, 0 rejected" in again.output
    assert f"database: {make_url(database_url).render_as_string(hide_password=True)}" in team_result.output
    result = runner.invoke(import_cli, ["partners", str(write(tmp_path, "p.csv", PARTNERS_CSV))])
    assert result.exit_code == 1
    assert "partners: 2 created, 0 updated, 0 unchanged, 3 rejected" in result.output
    assert "row 6: contact_slack_ids: U0DANA is already a contact of another partner" in result.output
    missing = runner.invoke(import_cli, ["team", str(write(tmp_path, "t.csv", "slack_user_id,name\nU1,A\n"))])
    assert missing.exit_code == 2
    assert "missing column(s) email, role, territories, product_lines" in missing.output
    unreadable = runner.invoke(import_cli, ["partners", str(tmp_path / "nowhere.csv")])
    assert unreadable.exit_code == 2 and "Cannot read" in unreadable.output


def test_moving_a_partner_to_a_new_channel_gives_it_a_new_desk(engine, team, tmp_path):
    import_partners(engine, write(tmp_path, "p.csv", PARTNERS_CSV))
    with Session(engine) as session:
        northwind = session.exec(select(Partner).where(Partner.name == "Northwind")).one()
        northwind.desk_message_ts = "1700000000.000100"
        session.add(northwind)
        session.commit()
    import_partners(engine, write(tmp_path, "same.csv", PARTNERS_CSV))
    with Session(engine) as session:
        assert session.exec(select(Partner.desk_message_ts).where(Partner.name == "Northwind")).one() is not None
    import_partners(engine, write(tmp_path, "moved.csv", PARTNERS_CSV.replace("C0NORTH", "C0NORTH2")))
    with Session(engine) as session:
        assert session.exec(select(Partner.desk_message_ts).where(Partner.name == "Northwind")).one() is None


HEADER = "name,type,tier,stage,domain,slack_team_id,slack_channel_id,manager_slack_id,contact_slack_ids\n"


def test_a_partner_cannot_take_another_partners_channel(engine, team, tmp_path):
    import_partners(engine, write(tmp_path, "first.csv", HEADER + "Northwind,reseller,gold,producing,,,C0NORTH,,\n"))
    report = import_partners(engine, write(tmp_path, "p.csv", HEADER +
                                           "Globex,referral,gold,producing,,,C0GLOBEX,,\n"
                                           "Initech,agency,gold,producing,,,C0NORTH,,\n"
                                           "Hooli,agency,gold,producing,,,C0GLOBEX,,\n"
                                           "Northwind,reseller,gold,producing,,,C0NORTH,,\n"))
    assert report.errors == [
        (3, "slack_channel_id: C0NORTH is already the channel of Northwind; "
            "partners in one channel would see each other's deals"),
        (4, "slack_channel_id: C0GLOBEX is already the channel of Globex (row 2); "
            "partners in one channel would see each other's deals"),
    ]
    assert (report.created, report.unchanged) == (1, 1)  # Northwind keeps its own channel on a re-import
    with Session(engine) as session:
        assert set(session.exec(select(Partner.name)).all()) == {"Northwind", "Globex"}


def test_a_partner_manager_must_be_a_partner_manager_or_admin_of_our_team(engine, team, tmp_path):
    report = import_partners(engine, write(tmp_path, "p.csv", HEADER +
                                           "Northwind,reseller,gold,producing,,,,U0PM1,\n"
                                           "Globex,referral,gold,producing,,,,U0ADMIN,\n"
                                           "Initech,agency,gold,producing,,,,U0ALEX,\n"
                                           "Hooli,agency,gold,producing,,,,U0NOBODY,\n"))
    assert report.created == 2
    assert report.errors == [(4, "manager_slack_id: U0ALEX is an AE, not a partner manager or admin"),
                             (5, "manager_slack_id: U0NOBODY is not in the team; import the team first")]


def test_our_own_people_cannot_be_partner_contacts(engine, team, tmp_path):
    report = import_partners(engine, write(tmp_path, "p.csv", HEADER +
                                           "Northwind,reseller,gold,producing,,,C0NORTH,U0ALEX,U0DANA;U0ALEX;U0PM1\n"))
    assert report.created == 0
    assert report.errors == [(2, "manager_slack_id: U0ALEX is an AE, not a partner manager or admin; "
                                 "contact_slack_ids: U0ALEX is one of our team (ae), not a partner contact; "
                                 "contact_slack_ids: U0PM1 is one of our team (partner_manager), "
                                 "not a partner contact")]
    with Session(engine) as session:  # nothing half-written: no partner, no contacts
        assert session.exec(select(Partner)).all() == [] and session.exec(select(PartnerContact)).all() == []


def test_the_same_key_twice_in_a_file_is_imported_with_a_warning_naming_the_winner(engine, team, tmp_path):
    report = import_partners(engine, write(tmp_path, "p.csv", HEADER +
                                           "Northwind,reseller,gold,producing,,,C0NORTH,,\n"
                                           "Globex,referral,gold,producing,,,,,\n"
                                           "Northwind,reseller,platinum,strategic,,,C0NORTH,,\n"))
    assert (report.created, report.updated, report.errors) == (2, 1, [])
    assert report.warnings == [(4, "name: “Northwind” is also on row 2; row 4 won (the last one)")]
    with Session(engine) as session:
        assert session.exec(select(Partner.tier).where(Partner.name == "Northwind")).one() == "platinum"
    team_report = import_team(engine, write(tmp_path, "t.csv", TEAM_CSV + "U0PM1,Pat Again,,admin,,\n"))
    assert team_report.warnings == [(5, "slack_user_id: “U0PM1” is also on row 2; row 5 won (the last one)")]


def test_territories_and_product_lines_the_program_lacks_are_refused_with_the_closest_match(engine, tmp_path):
    program = Program(regions={"EMEA": ("DE", "FR"), "North America": ("US", "CA")},
                      product_lines=("Platform", "Analytics"))
    header = "slack_user_id,name,email,role,territories,product_lines\n"
    report = import_team(engine, write(tmp_path, "t.csv", header +
                                       "U0ALEX,Alex,,ae,emea;de;Germany;us,platform;Analytics\n"
                                       "U0BEA,Bea,,ae,EMAE;Mars,Platfrom\n"
                                       "U0CARL,Carl,,ae,Germnay,\n"),
                         program=program)
    assert report.created == 1
    assert report.errors == [
        (3, "territories: “EMAE” is not a region or country in the program file; did you mean “EMEA”?; "
            "territories: “Mars” is not a region or country in the program file (regions: EMEA, North America; "
            "or a country code such as DE)"),
        (4, "territories: “Germnay” is not a region or country in the program file; did you mean DE (Germany)?"),
    ]
    with Session(engine) as session:  # stored as the program spells them, so routing matches them
        alex = session.exec(select(TeamMember).where(TeamMember.slack_user_id == "U0ALEX")).one()
        assert (alex.territories, alex.product_lines) == (["EMEA", "DE", "US"], ["Platform", "Analytics"])
    refused_line = import_team(engine, write(tmp_path, "t2.csv", header + "U0BEA,Bea,,ae,EMEA,Platfrom\n"),
                               program=program)
    assert refused_line.errors == [(2, "product_lines: “Platfrom” is not a product line in the program file; "
                                       "did you mean “Platform”?")]


def test_the_report_names_the_database_without_its_password(engine, tmp_path):
    report = import_team(engine, write(tmp_path, "t.csv", TEAM_CSV))
    assert report.database == engine.url.render_as_string(hide_password=True)
    if engine.url.password is not None:
        assert f":{engine.url.password}@" not in report.database and ":***@" in report.database


def test_an_over_long_field_is_a_row_error_not_a_crash(engine, team, tmp_path):
    import csv

    limit = csv.field_size_limit()
    text = HEADER + f"Northwind,reseller,gold,producing,,,,,{'U' * (limit + 1)}\n" + \
        "Globex,referral,gold,producing,,,,,\n"
    report = import_partners(engine, write(tmp_path, "p.csv", text))
    assert report.errors == [(2, f"field longer than {limit} characters")]
    assert report.created == 1  # the next row still imports


def test_progress_is_reported_per_row(engine, team, tmp_path):
    seen = []
    import_partners(engine, write(tmp_path, "p.csv", PARTNERS_CSV), lambda done, total: seen.append((done, total)))
    assert seen == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]


def test_spreadsheet_exports_import_semicolons_tabs_title_case_and_windows_1252(engine, team, tmp_path):
    excel = ("Name;Type;Tier;Stage;Domain;Slack Team ID;Slack Channel ID;Manager Slack ID;Contact Slack IDs\r\n"
             "Société Générale Partners;reseller;gold;producing;socgen.fr;;;U0PM1;U0DANA\r\n")
    path = tmp_path / "excel.csv"
    path.write_bytes(excel.encode("cp1252"))  # Excel's plain "CSV" on Windows in Western Europe
    report = import_partners(engine, path)
    assert (report.created, report.errors) == (1, [])
    assert report.notes == ["read as Windows-1252: the file is not UTF-8 (save it as “CSV UTF-8” to be sure accents "
                            "come through)", "semicolon-separated"]
    with Session(engine) as session:
        assert session.exec(select(Partner.name)).all() == ["Société Générale Partners"]
    tabs = write(tmp_path, "tabs.tsv", "slack_user_id\tName\tEMAIL\tRole\tTerritories\tProduct Lines\n"
                                       "U0BEA\tBea\t\tae\tEMEA;US\tPlatform\n")
    team_report = import_team(engine, tabs)
    assert (team_report.created, team_report.errors, team_report.notes) == (1, [], ["tab-separated"])
    unchanged = import_partners(engine, path)
    assert (unchanged.created, unchanged.updated, unchanged.unchanged) == (0, 0, 1)


def test_a_file_in_neither_encoding_or_without_the_columns_is_refused_whole(engine, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(HEADER.encode() + b"Northwind,reseller,gold,producing,\x81\x8d,,,,\n")
    with pytest.raises(ValueError, match="neither UTF-8 nor Windows-1252 .*save it from your spreadsheet as “CSV "
                                         "UTF-8”"):
        import_partners(engine, path)
    with pytest.raises(ValueError, match="missing column"):
        import_partners(engine, write(tmp_path, "p.csv", "Partner Name;Kind\nx;y\n"))


def test_cli_reports_unchanged_rows_and_how_the_file_was_read(engine, database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, "t.csv", TEAM_CSV.replace(",", ";"))
    first = CliRunner().invoke(import_cli, ["team", str(path)])
    assert "team: 3 created, 0 updated, 0 unchanged, 0 rejected" in first.output
    assert "  file: semicolon-separated" in first.output
    path.write_text(TEAM_CSV.replace(",", ";").replace("U0ALEX;Alex;", "U0ALEX;Alex Rivera;"), encoding="utf-8")
    second = CliRunner().invoke(import_cli, ["team", str(path)])
    assert "team: 0 created, 1 updated, 2 unchanged, 0 rejected" in second.output


def test_templates_print_a_header_and_an_example_row_that_imports(engine, database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    team = runner.invoke(import_cli, ["template", "team"])
    assert team.exit_code == 0
    assert team.stdout.splitlines() == ["slack_user_id,name,email,role,territories,product_lines",
                                        "U0123ABCD,Alex Rivera,alex@example.com,ae,North America;DE,Platform;Analytics"]
    assert not import_team(engine, write(tmp_path, "t.csv", team.stdout)).errors  # the example row imports
    partners = runner.invoke(import_cli, ["template", "partners"])
    assert partners.stdout.splitlines()[0] == ",".join(PARTNER_COLUMNS)
    accounts = runner.invoke(import_cli, ["template", "accounts"])
    assert accounts.stdout.splitlines()[0] == "name,domain,owner_slack_id,partners,product_lines,monthly_revenue"
    unknown = runner.invoke(import_cli, ["template", "deals"])
    assert unknown.exit_code == 2 and "choose partners, team or accounts" in unknown.output


@pytest.mark.parametrize("kind,columns,values", [
    ("partners", PARTNER_COLUMNS, [*PartnerType, *PartnerTier, *PartnerStage]),
    ("team", TEAM_COLUMNS, [*Role]),
])
def test_cli_help_shows_columns_and_allowed_values_in_full_on_80_columns(kind, columns, values):
    result = CliRunner().invoke(import_cli, [kind, "--help"], terminal_width=80, env={"COLUMNS": "80"})
    assert result.exit_code == 0
    assert max(len(line) for line in result.output.splitlines()) <= 80
    words = set(result.output.replace(",", " ").replace(".", " ").split())
    assert set(columns) <= words and {v.value for v in values} <= words
