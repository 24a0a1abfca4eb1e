"""CSV imports: idempotent upserts, bad rows reported by number and reason, good rows kept, through the CLI too."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select
from typer.testing import CliRunner

from bot.cli import cli
from storage.models import Partner, PartnerContact, PartnerStage, TeamMember
from workflows.imports import import_partners, import_team

PARTNERS_CSV = """name,type,tier,stage,domain,slack_team_id,slack_channel_id,manager_slack_id,contact_slack_ids
Northwind,Reseller,gold,producing,https://www.northwind.io,T0NORTH,C0NORTH,U0PM1,U0DANA;U0ERIK
Broken Type,foo,gold,producing,,,,,
Guests Ltd,referral,silver,onboarded,,,,,U0GUEST
Bad Ids,agency,gold,producing,not a domain,X1,,,
Thief,agency,gold,producing,,,,,U0DANA
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_partner_import_keeps_good_rows_and_explains_bad_ones(engine, tmp_path):
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


def test_partner_import_is_an_idempotent_upsert(engine, tmp_path):
    import_partners(engine, write(tmp_path, "p.csv", PARTNERS_CSV))
    changed = PARTNERS_CSV.replace("gold,producing,https://www.northwind.io", "platinum,strategic,northwind.io") \
                          .replace("U0DANA;U0ERIK", "U0DANA")
    report = import_partners(engine, write(tmp_path, "p2.csv", changed))
    assert (report.created, report.updated) == (0, 2)
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


def test_cli_imports_report_rows_and_exit_codes(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(cli, ["import", "partners", str(write(tmp_path, "p.csv", PARTNERS_CSV))])
    assert result.exit_code == 1
    assert "partners: 2 created, 0 updated, 3 rejected" in result.output
    assert "row 6: contact_slack_ids: U0DANA is already a contact of another partner" in result.output
    missing = runner.invoke(cli, ["import", "team", str(write(tmp_path, "t.csv", "slack_user_id,name\nU1,A\n"))])
    assert missing.exit_code == 2
    assert "missing column(s) email, role, territories, product_lines" in missing.output


def test_moving_a_partner_to_a_new_channel_gives_it_a_new_desk(engine, tmp_path):
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
