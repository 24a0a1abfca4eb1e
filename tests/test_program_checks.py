"""`program check`, `program show` and `route explain`: problems by line and in an admin's words, regions as
countries, rules that can never match, and the team they must fit."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import cli
from tests.support import lead
from workflows.countries import DEFAULT_REGIONS
from workflows.imports import import_team
from workflows.program import Program, ProgramError, parse_program

TEAM_CSV = """slack_user_id,name,email,role,territories,product_lines
U0ALEX,Alex Rivera,,ae,EMEA,Platform;Integrations
U0BEA,Bea Chen,,ae,DE;AT;CH,Platform
U0CARL,Carl Okafor,,ae,North America,
U0PRIYA,Priya Nair,,partner_manager,,
"""


@pytest.fixture
def services(engine, now):
    from bot.demo_data import import_demo_records
    from tests.support import RecordingNotifier
    from workflows.services import Services

    import_demo_records(engine)
    return Services(engine=engine, program=Program(), notifier=RecordingNotifier(), clock=lambda: now,
                    our_team_id="T0OURS", bot_user_id="U0BOT")


def problems(text: str) -> list[str]:
    with pytest.raises(ProgramError) as bad:
        parse_program(text, Path("program.yml"))
    return bad.value.problems


def test_regions_are_groups_of_countries_with_iso_defaults():
    program = Program()
    assert list(program.regions) == ["North America", "EMEA", "APAC", "LATAM"]
    assert program.region_of("DE") == "EMEA" and program.region_of("BR") == "LATAM"
    assert program.region_of("JP") == "APAC" and program.region_of("US") == "North America"
    custom = parse_program("regions:\n  DACH: [de, AT, CH]\n  Nordics: [SE, NO, DK, FI, IS]\n", Path("p.yml"))
    assert custom.regions == {"DACH": ("DE", "AT", "CH"), "Nordics": ("SE", "NO", "DK", "FI", "IS")}  # NO: Norway
    assert custom.region_of("FR") is None


def test_the_old_list_form_keeps_the_built_in_countries_and_says_so(tmp_path):
    program = parse_program("regions: [EMEA, North America]\n", Path("p.yml"))
    assert program.regions == {"EMEA": DEFAULT_REGIONS["EMEA"], "North America": DEFAULT_REGIONS["North America"]}
    assert problems("regions: [EMEA, Europe]\n") == [
        "line 1: regions: Europe: a region in the list form must be a built-in one (North America, EMEA, APAC, "
        "LATAM); give your own regions with their countries, such as {Europe: [DE, FR, GB]}"]
    path = tmp_path / "program.yml"
    path.write_text("regions: [EMEA, APAC]\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["program", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert "note: regions is a list of names: each keeps its built-in countries" in result.output


def test_bad_countries_are_named_on_their_line():
    assert problems("regions:\n  EMEA: [DE, FR, UK]\n  DACH: [DE, AT]\n  Mars: []\n") == [
        "line 2: regions.EMEA: “UK” is not an ISO 3166 country code; did you mean GB?",
        "line 3: regions.DACH: DE is in both EMEA and DACH; a country belongs to one region",
        "line 4: regions.Mars: Mars has no countries; list them, such as Mars: [DE, FR]",
    ]


def test_duplicate_keys_are_refused_with_both_lines():
    assert problems("protection_window_days: 90\napproval_sla_hours: 48\nprotection_window_days: 60\n") == [
        "line 3: protection_window_days appears twice (also on line 1); only the last one would count, so keep one"]
    assert problems("routing:\n  rules:\n    - name: A\n      min_value: 1\n      min_value: 2\n")[0].startswith(
        "line 5: min_value appears twice (also on line 4)")


def test_pydantic_is_explained_in_an_admins_words_and_rules_are_named():
    assert problems("currencies: USD\n") == ["line 1: currencies: should be a list such as [USD, EUR]"]
    assert problems("protecton_window_days: 30\n") == [
        "line 1: protecton_window_days: is not a setting Partnerbot knows; did you mean protection_window_days?"]
    assert problems("approval_sla_hours: lots\n") == [
        "line 1: approval_sla_hours: should be a whole number, such as 48"]
    found = problems("currencies: [USD]\nrouting:\n  rules:\n    - name: Territory\n    - name: Enterprise deals\n"
                     "      min_value: 500000\n      max_value: 100000\n    - min_value: lots\n")
    assert found == [
        "line 5: routing rule “Enterprise deals”: min_value 500000 is larger than max_value 100000, "
        "so no deal can match",
        "line 8: routing rule 3 (no name): name: is required",
        "line 8: routing rule 3 (no name): min_value: should be a number, such as 250000",
    ]
    assert problems("currencies: [USD, EURO]\n") == [
        "line 1: currencies: EURO: not ISO 4217 currency codes such as USD, EUR"]


def test_rules_that_can_never_match_are_refused():
    found = problems("product_lines: [Platform, Analytics]\nrouting:\n  exchange_rates: {EUR: 1.08}\n  rules:\n"
                     "    - name: Europe\n      regions: [EMAE, DE, Mars]\n      product_lines: [Platfrom]\n"
                     "    - name: Big\n      min_value: 100000\n")
    assert found == [
        "line 6: routing rule “Europe”: regions: “EMAE” is not a region or country of this program; did you mean "
        "“EMEA”?; the rule can never match",
        "line 6: routing rule “Europe”: regions: “Mars” is not a region or country of this program (regions: North "
        "America, EMEA, APAC, LATAM; or a country code such as DE); the rule can never match",
        "line 7: routing rule “Europe”: product_lines: “Platfrom” is not one of the product_lines; did you mean "
        "“Platform”?; the rule can never match",
        *[f"currencies (built-in default): {c} is offered but has no rate in routing.exchange_rates, so {c} deals "
          f"can never match “Big”; add {c}: <what 1 {c} is worth in USD>" for c in ("GBP", "CAD", "AUD")],
    ]
    # A rule may name a country, and currencies need no rate while no rule compares values.
    parse_program("routing:\n  rules:\n    - name: Germany\n      regions: [de]\n", Path("p.yml"))


def test_program_check_refuses_a_missing_explicit_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    missing = CliRunner().invoke(cli, ["program", "check", str(tmp_path / "nope.yml")])
    assert missing.exit_code == 2 and "nope.yml does not exist" in missing.output
    monkeypatch.setenv("PROGRAM_FILE", str(tmp_path / "typo.yml"))
    explicit = CliRunner().invoke(cli, ["program", "check"])
    assert explicit.exit_code == 2 and "typo.yml does not exist: check the path in PROGRAM_FILE" in explicit.output
    monkeypatch.delenv("PROGRAM_FILE")
    default = CliRunner().invoke(cli, ["program", "check"])  # program.yml by default: absent means built-in rules
    assert default.exit_code == 0 and "the built-in defaults apply" in default.output


def test_program_check_refuses_assignees_and_territories_the_team_does_not_fit(engine, database_url, tmp_path,
                                                                               monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    path = tmp_path / "program.yml"
    path.write_text("currencies: [USD]\nrouting:\n  rules:\n    - name: Enterprise deals\n      min_value: 250000\n"
                    "      assign_to: [U0CARLA, U0PRIYA]\n    - name: Analytics in APAC\n      regions: [APAC]\n"
                    "      product_lines: [Analytics]\n    - name: Territory and product line\n", encoding="utf-8")
    before = CliRunner().invoke(cli, ["program", "check", str(path)])
    assert before.exit_code == 0 and "assign_to and AE territories not checked: no team is imported" in before.output
    team = tmp_path / "team.csv"
    team.write_text(TEAM_CSV, encoding="utf-8")
    assert not import_team(engine, team).errors
    result = CliRunner().invoke(cli, ["program", "check", str(path)])
    assert result.exit_code == 2
    assert "line 6: routing rule “Enterprise deals”: assign_to: U0CARLA is not in the team; did you mean U0CARL " \
           "(Carl Okafor)?" in result.output
    assert "line 6: routing rule “Enterprise deals”: assign_to: U0PRIYA (Priya Nair) is a partner manager, " \
           "not an AE; rules assign AEs only" in result.output
    path.write_text(path.read_text().replace("[U0CARLA, U0PRIYA]", "[U0CARL]"), encoding="utf-8")
    fixed = CliRunner().invoke(cli, ["program", "check", str(path)])
    assert fixed.exit_code == 0, fixed.output
    assert "team: 4 people" in fixed.output
    assert "warning: routing rule “Analytics in APAC”: no AE in the team covers APAC · Analytics, so it never " \
           "assigns anyone" in fixed.output
    # The program renamed a region an AE still covers: that AE would never get a lead.
    path.write_text("regions:\n  Europe: [DE, FR]\n  North America: [US, CA]\n", encoding="utf-8")
    renamed = CliRunner().invoke(cli, ["program", "check", str(path)])
    assert renamed.exit_code == 2
    assert "AE U0ALEX (Alex Rivera): territory “EMEA” is not a region or country of this program" in renamed.output


def test_program_show_prints_the_rules_in_force(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "program.yml"
    path.write_text("currencies: [USD, EUR]\nregions:\n  DACH: [DE, AT, CH]\n  North America: [US, CA]\n"
                    "routing:\n  exchange_rates: {EUR: 1.08}\n  rules:\n    - name: Enterprise deals\n"
                    "      min_value: 250000\n      assign_to: [U0CARL]\n    - name: Territory and product line\n",
                    encoding="utf-8")
    result = CliRunner().invoke(cli, ["program", "show", str(path)])
    assert result.exit_code == 0, result.output
    for line in ("Protection window: 90 days after approval",
                 "Currencies: USD, EUR; deal sizes compared in USD (1 EUR = 1.08 USD)",
                 "  DACH (3 countries): AT, CH, DE",
                 "  1. Enterprise deals: at least 250,000 USD → assign to U0CARL",
                 "  2. Territory and product line: every lead → the AEs whose territories and product lines cover "
                 "the lead, round-robin",
                 "  Otherwise: the partner's manager"):
        assert line in result.output


def test_route_explain_says_which_rule_and_why_the_other_aes_did_not_qualify(services, database_url, monkeypatch,
                                                                             tmp_path):
    from workflows.people import identify
    from workflows.registrations import register_lead

    dana = identify(services, user_id="U0DANA", team_id="T0NORTH")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    reg = register_lead(services, actor=dana, lead=lead(country="DE", region="EMEA")).registration
    result = CliRunner().invoke(cli, ["route", "explain", reg.reference])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "REG-00001 Acme Inc. (acme.com) from Northwind Consulting" in out
    assert "Lead: Germany (DE, EMEA) · Platform · 50,000 USD" in out
    assert "1. “Territory and product line” (every lead): matches, first to do so; AEs who qualify: " \
           "Alex Rivera (U0ALEX), Bea Chen (U0BEA)" in out
    assert "Alex Rivera (U0ALEX): got this lead" in out
    assert "Bea Chen (U0BEA): qualifies under “Territory and product line” too; round-robin" in out
    assert "Carl Okafor (U0CARL): not under “Territory and product line”: territories North America do not " \
           "include DE / EMEA" in out
    assert CliRunner().invoke(cli, ["route", "explain", "1"]).output == out  # 42 means REG-00042
    unknown = CliRunner().invoke(cli, ["route", "explain", "REG-00999"])
    assert unknown.exit_code == 1 and "there is no registration REG-00999" in unknown.output
