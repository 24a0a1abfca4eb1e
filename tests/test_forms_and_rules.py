"""Pure rules: domain and name normalisation, the lead form's validation, scoring, the program file, settings."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings
from tests.support import lead
from workflows.lead_form import DETAIL_FIELDS, LeadDetails, LeadFormInvalid, validate_details, validate_lead
from workflows.normalize import InvalidDomain, company_key, normalize_domain
from workflows.program import Program, ProgramError, load_program, parse_program
from workflows.scoring import score_hints, score_lead

GOOD_FORM = {
    "company": "  Acme Inc. ", "domain": "https://www.Acme.com/x", "contact_name": "Jane Smith",
    "contact_email": "Jane@Acme.com", "country": "DE", "product_line": "Platform", "estimated_value": "25.000,00",
    "currency": "EUR", "pricing_model": "subscription", "starting_monthly_usage": None, "company_size": "51-200",
    "budget": "identified", "timeline": "3-6m", "attribution": "partner_sourced", "notes": None,
}


@pytest.mark.parametrize("raw,expected", [
    ("https://www.Acme.com/x", "acme.com"), ("acme.com", "acme.com"), ("eu.shop.acme.co.uk", "acme.co.uk"),
    ("jane@acme.io", "acme.io"), ("ACME.COM.", "acme.com"), ("http://acme.com:8080/path?q=1", "acme.com"),
])
def test_domains_normalise_to_the_registrable_domain(raw, expected):
    assert normalize_domain(raw) == expected


@pytest.mark.parametrize("raw", ["", "acme", "http://localhost", "not a domain", "acme..com", "-acme.com"])
def test_bad_domains_are_refused_with_a_reason(raw):
    with pytest.raises(InvalidDomain):
        normalize_domain(raw)


def test_company_names_match_after_normalisation():
    assert company_key("Acme Inc.") == company_key("ACME Incorporated") == company_key("acme, LLC") == "acme"
    assert company_key("Société Générale S.A.") == "societe generale"
    assert company_key("Smith & Sons Ltd") == company_key("smith and sons") == "smith and sons"
    assert company_key("The Company") == "the company"  # nothing but legal words: keep them rather than ""


def test_a_good_form_is_normalised():
    parsed = validate_lead(GOOD_FORM, Program())
    assert (parsed.company, parsed.company_key, parsed.domain) == ("Acme Inc.", "acme", "acme.com")
    assert parsed.contact_email == "Jane@acme.com"
    assert parsed.estimated_value == Decimal("25000")
    assert (parsed.country, parsed.region) == ("DE", "EMEA")  # the region follows from the country
    assert parsed.partner_id is None


def test_every_bad_field_gets_its_own_message():
    form = dict(GOOD_FORM, company="", domain="nope", contact_email="jane@", estimated_value="-5",
                currency="XXX", pricing_model="usage_based", starting_monthly_usage="abc", notes="x" * 3000)
    with pytest.raises(LeadFormInvalid) as invalid:
        validate_lead(form, Program())
    errors = invalid.value.errors
    assert set(errors) == {"company", "domain", "contact_email", "estimated_value", "currency",
                           "starting_monthly_usage", "notes"}
    assert errors["estimated_value"] == "The estimated value must be more than zero."
    assert errors["starting_monthly_usage"] == "The starting monthly usage must be a number, e.g. 25000."
    assert errors["notes"].startswith("Keep this under 2900 characters")
    assert all(len(message) <= 150 for message in errors.values())


def test_the_first_step_needs_no_details_but_still_refuses_bad_ones():
    first_step = {k: v for k, v in GOOD_FORM.items() if k not in DETAIL_FIELDS}
    parsed = validate_lead(first_step, Program())
    assert (parsed.company_size, parsed.budget, parsed.timeline, parsed.notes) == ("", "", "", "")
    with pytest.raises(LeadFormInvalid) as invalid:  # a one-step form still open during an upgrade
        validate_lead(dict(GOOD_FORM, company_size="huge", budget="lots", timeline="soon"), Program())
    assert invalid.value.errors == {"company_size": "“huge” is not one of the company size choices.",
                                    "budget": "“lots” is not one of the budget choices.",
                                    "timeline": "“soon” is not one of the timeline choices."}


def test_the_details_step_is_optional_and_checked():
    assert validate_details({"company_size": None, "budget": None, "timeline": None, "notes": None}) == LeadDetails()
    assert not LeadDetails().given
    details = validate_details({"company_size": "51-200", "budget": None, "timeline": "0-1m", "notes": " Hi "})
    assert details == LeadDetails(company_size="51-200", timeline="0-1m", notes="Hi") and details.given
    with pytest.raises(LeadFormInvalid) as invalid:
        validate_details({"timeline": "tomorrow", "notes": "x" * 3000})
    assert set(invalid.value.errors) == {"timeline", "notes"}
    assert invalid.value.errors["notes"].startswith("Keep this under 2900 characters")


def test_the_score_says_what_missing_details_would_add():
    weights = Program().scoring.weights
    bare = score_lead(lead(company_size="", budget="", timeline="", notes=""), {}, weights)
    full = score_lead(lead(), {}, weights)
    assert bare.total < full.total
    assert bare.breakdown["timing"]["why"] == "timeline not given" and bare.breakdown["timing"]["points"] == 0
    assert bare.breakdown["timing"]["raise"] == [f"add the timeline: up to +{weights.timing}"]
    fit_hints = bare.breakdown["fit"]["raise"]
    assert [h.split(":")[0] for h in fit_hints] == ["add the company size", "add the budget"]
    assert bare.breakdown["completeness"]["raise"][0].startswith("add notes with context: up to +")
    assert score_hints(bare.breakdown)[:2] == fit_hints
    assert score_hints(full.breakdown) == []  # nothing to add: no hint


def test_usage_rules_and_partner_choice():
    with pytest.raises(LeadFormInvalid) as invalid:
        validate_lead(dict(GOOD_FORM, pricing_model="usage_based"), Program())
    assert invalid.value.errors == {"starting_monthly_usage": "Enter the starting monthly usage."}
    with pytest.raises(LeadFormInvalid) as invalid:
        validate_lead(dict(GOOD_FORM, starting_monthly_usage="5000"), Program())
    assert "Only usage-based" in invalid.value.errors["starting_monthly_usage"]
    usage = validate_lead(dict(GOOD_FORM, pricing_model="usage_based", starting_monthly_usage="5000"), Program())
    assert usage.starting_monthly_usage == Decimal("5000")
    with pytest.raises(LeadFormInvalid) as invalid:
        validate_lead(GOOD_FORM, Program(), needs_partner=True)
    assert set(invalid.value.errors) == {"partner"}
    assert validate_lead(dict(GOOD_FORM, partner="7"), Program(), needs_partner=True).partner_id == 7


def test_score_rewards_fit_timing_completeness_and_record():
    weights = Program().scoring.weights
    strong = score_lead(lead(), {"won": 3, "lost": 1}, weights)
    weak = score_lead(lead(company_size="1-10", budget="none", timeline="12m+", notes="", contact_name="Jo",
                           contact_email="jo@gmail.com"), {"lost": 4}, weights)
    assert strong.total > 80 > 20 > weak.total
    assert strong.breakdown["partner_record"] == {"points": 15, "max": 20, "why": "lead-to-close 75% (3 won of 4)"}
    assert score_lead(lead(), {}, weights).breakdown["partner_record"]["points"] == 10  # no record: average


def test_program_file_errors_name_the_line(tmp_path):
    path = tmp_path / "program.yml"
    path.write_text("protection_window_days: 90\nscoring:\n  weights:\n    fit: 90\nunknown_rule: 1\n")
    with pytest.raises(ProgramError) as bad:
        load_program(path)
    assert "line 4: scoring.weights: weights must add up to 100, they add up to 155" in bad.value.problems
    assert any(p.startswith("line 5: unknown_rule") for p in bad.value.problems)
    with pytest.raises(ProgramError, match="line 2: not valid YAML"):
        parse_program("a: 1\n  b: [\n", Path("x.yml"))
    assert load_program(tmp_path / "absent.yml") == Program()
    path.write_text("protection_window_days: 120\ncurrencies: [USD]\nrouting:\n  rules:\n    - name: Big\n"
                    "      min_value: 100000\n      assign_to: [U0CARL]\n")
    program = load_program(path)
    assert program.protection_window_days == 120 and program.routing.rules[0].assign_to == ["U0CARL"]


def test_settings_report_each_problem_without_secrets(monkeypatch):
    secret = "xoxp-very-secret-value"
    with pytest.raises(SettingsError) as bad:
        load_settings(slack_bot_token=secret, slack_api_url="ftp://x", port=0, _env_file=None)
    text = str(bad.value)
    assert secret not in text
    assert "SLACK_BOT_TOKEN: must be a bot token starting with xoxb-" in bad.value.problems
    assert any(p.startswith("SLACK_API_URL") for p in bad.value.problems)
    assert any(p.startswith("PORT") for p in bad.value.problems)
    with pytest.raises(SettingsError, match="neither SLACK_SIGNING_SECRET"):
        load_settings(slack_bot_token="xoxb-1", _env_file=None)
    settings = load_settings(slack_bot_token="xoxb-1", slack_signing_secret="s3cret", _env_file=None)
    assert settings.has_slack_credentials and not settings.socket_mode
    assert "s3cret" not in repr(settings) and "xoxb-1" not in repr(settings)


def test_the_example_program_file_is_valid_and_documents_the_defaults():
    path = Path(__file__).resolve().parents[1] / "program.example.yml"
    program = load_program(path)
    defaults = Program()
    assert program.model_dump(exclude={"routing"}) == defaults.model_dump(exclude={"routing"})
    assert program.routing.rules == defaults.routing.rules  # no rule that needs ids from someone else's Slack
    assert set(program.routing.exchange_rates) == set(program.currencies) - {"USD"}  # ready for a value rule
    text = path.read_text(encoding="utf-8")
    assert "# - name: Enterprise deals" in text and "Copy member ID" in text  # how to fill assign_to
    from bot.demo_data import PARTNER_PEOPLE, TEAM
    assert not [row[0] for row in TEAM + PARTNER_PEOPLE if row[0] in text]  # no demo user ids


def test_program_check_command(tmp_path):
    from typer.testing import CliRunner

    from bot.cli import cli

    bad = tmp_path / "bad.yml"
    bad.write_text("protection_window_days: 90\napproval_sla_hours: -1\n")
    result = CliRunner().invoke(cli, ["program", "check", str(bad)])
    assert result.exit_code == 2
    assert "line 2: approval_sla_hours: should be at least 1" in result.output
    good = CliRunner().invoke(cli, ["program", "check", str(Path(__file__).resolve().parents[1] /
                                                          "program.example.yml")])
    assert good.exit_code == 0 and "valid" in good.output and "1 routing rule(s)" in good.output


@pytest.mark.parametrize("field,raw,expected", [
    ("domain", "acme[.com", "not a domain"),
    ("domain", "http://[acme.com", "not a domain"),
    ("domain", "acme.com]", "not a domain"),
    ("estimated_value", "1e999", "must be a number"),  # nobody types money in scientific notation
    ("estimated_value", "NaN", "must be a number"),
    ("estimated_value", "sNaN", "must be a number"),
    ("estimated_value", "Infinity", "must be a number"),
    ("estimated_value", "٣٠٠٠", "must be a number"),  # Arabic-Indic digits: Decimal reads them, people don't
    ("estimated_value", "9" * 5000, "must be a number"),
    ("estimated_value", "9" * 30, "too large"),
    ("estimated_value", "1e100000000000000000", "must be a number"),
    ("estimated_value", "1.5555", "at most 2 decimal places"),
    ("estimated_value", "48.000", "did you mean 48,000 or 48? Type 48000 or 48."),
    ("country", "Germany", "Choose the country from the list"),
    ("country", "", "Choose the customer's country"),
    ("contact_email", "jane@acme.com\u202e", "valid email"),
    ("contact_email", "j\u0000@acme.com", "valid email"),
    ("contact_email", "jane@acme[.com", "valid email"),
    ("partner", "²", "Choose the partner"),
    ("partner", "9" * 40, "Choose the partner"),
])
def test_odd_input_gets_an_inline_error_not_a_crash(field, raw, expected):
    with pytest.raises(LeadFormInvalid) as invalid:
        validate_lead(dict(GOOD_FORM, **{field: raw}), Program(), needs_partner=field == "partner")
    assert set(invalid.value.errors) == {field}
    assert expected in invalid.value.errors[field]
    assert len(invalid.value.errors[field]) <= 150
