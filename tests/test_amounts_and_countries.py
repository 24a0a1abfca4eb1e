"""Amounts read in the currency's usual format or refused with both readings; countries, their search, and
routing by country or region."""

from __future__ import annotations

from decimal import Decimal

import pytest

from storage.models import Role, TeamMember
from tests.support import lead
from workflows.amounts import AmountUnclear, decimal_marks, parse_amount, shown
from workflows.countries import COUNTRY_CODES, as_country_code, search_countries
from workflows.lead_form import LeadFormInvalid, country_choices, validate_lead
from workflows.program import Program
from workflows.routing import check_rules


@pytest.mark.parametrize("typed,currency,expected", [
    ("48000", "USD", "48000"), ("48,000", "USD", "48000"), ("48,000.50", "USD", "48000.50"),
    ("$48,000", "USD", "48000"), ("48000 USD", "USD", "48000"), ("1,234,567.89", "USD", "1234567.89"),
    ("48.000,50", "EUR", "48000.50"), ("48,000.50", "EUR", "48000.50"), ("€1.000.000", "EUR", "1000000"),
    ("48 000", "EUR", "48000"), ("48\u202f000,50", "EUR", "48000.50"), ("1,5", "EUR", "1.5"), ("1.5", "EUR", "1.5"),
    ("48.000", "BRL", "48000"), ("1.234,5", "BRL", "1234.5"), ("48'000.50", "CHF", "48000.50"),
    ("1,00,000", "INR", "100000"), ("48000", "JPY", "48000"),
    ("1.234.567,89", "USD", "1234567.89"),  # written the German way, and only one reading: taken
])
def test_amounts_are_read_as_people_type_them(typed, currency, expected):
    assert parse_amount(typed, currency) == Decimal(expected)


@pytest.mark.parametrize("typed,currency,message", [
    ("48.000", "EUR", "“48.000” is unclear: did you mean 48,000 or 48? Type 48000 or 48."),
    ("48,000", "EUR", "“48,000” is unclear: did you mean 48,000 or 48? Type 48000 or 48."),
    ("48.000", "USD", "“48.000” is unclear: did you mean 48,000 or 48? Type 48000 or 48."),  # a German typing USD
    ("1.250", "GBP", "“1.250” is unclear: did you mean 1,250 or 1.25? Type 1250 or 1.25."),
    ("48,000", "BRL", "“48,000” is unclear: did you mean 48,000 or 48? Type 48000 or 48."),
    ("12.3456", "USD", "can have at most 2 decimal places in USD"),
    ("48.5", "JPY", "is in whole JPY, with no decimals"),
    ("48k", "USD", "must be a number, e.g. 25000"),
    ("1.2.3", "USD", "must be a number, e.g. 25000 or 25,000.50"),
])
def test_ambiguous_or_impossible_amounts_are_refused_with_what_to_type(typed, currency, message):
    with pytest.raises(AmountUnclear) as unclear:
        parse_amount(typed, currency)
    assert str(unclear.value) == message


def test_each_currency_has_its_usual_decimal_mark():
    assert decimal_marks("USD") == {"."} and decimal_marks("BRL") == {","} and decimal_marks("EUR") == {".", ","}
    assert shown(Decimal("48000.00")) == "48,000" and shown(Decimal("1.5")) == "1.50"
    assert shown(Decimal("1.234")) == "1.234"  # never rounded away


def test_the_form_reads_the_amount_in_the_chosen_currency():
    form = {"company": "Acme", "domain": "acme.com", "contact_name": "Jane Smith", "contact_email": "j@acme.com",
            "country": "BR", "product_line": "Platform", "estimated_value": "48.000", "currency": "EUR",
            "pricing_model": "subscription", "company_size": "51-200", "budget": "approved", "timeline": "1-3m"}
    with pytest.raises(LeadFormInvalid) as invalid:
        validate_lead(form, Program())
    assert invalid.value.errors == {"estimated_value": "“48.000” is unclear: did you mean 48,000 or 48? "
                                                       "Type 48000 or 48."}
    program = Program(currencies=("BRL", "USD"))
    parsed = validate_lead(dict(form, currency="BRL"), program)
    assert (parsed.estimated_value, parsed.country, parsed.region) == (Decimal("48000"), "BR", "LATAM")
    # A form opened before the country was asked, submitted after an upgrade, still registers by region.
    old = dict(form, currency="BRL", region="APAC")
    del old["country"]
    assert validate_lead(old, program).region == "APAC"


def test_country_search_and_choices():
    assert len(COUNTRY_CODES) == 250
    assert search_countries("germ") == ["DE"] and search_countries("UK")[0] == "GB"
    assert search_countries("de")[0] == "DE" and search_countries("United")[:3] == ["AE", "GB", "US"]
    assert as_country_code("Deutschland") == as_country_code("de") == "DE" and as_country_code("Atlantis") is None
    program = Program(regions={"DACH": ("DE", "AT", "CH")})
    assert country_choices(program, "aus") == [("AU", "Australia"), ("AT", "Austria · DACH")]


def test_aes_may_cover_countries_or_regions():
    ae = lambda user_id, *territories: TeamMember(slack_user_id=user_id, name=user_id, role=Role.ae,  # noqa: E731
                                                  territories=list(territories), product_lines=[])
    team = [ae("U0EMEA", "EMEA"), ae("U0DACH", "DE", "AT", "CH"), ae("U0US", "US")]
    [check] = check_rules(lead(country="DE", region="EMEA"), team, Program().routing)
    assert [m.slack_user_id for m in check.candidates] == ["U0EMEA", "U0DACH"]
    assert check.refused == {"U0US": "territories US do not include DE / EMEA"}
    [check] = check_rules(lead(country="FR", region="EMEA"), team, Program().routing)
    assert [m.slack_user_id for m in check.candidates] == ["U0EMEA"]
