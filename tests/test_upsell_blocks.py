"""The upsell's Block Kit and the form's checks, without Slack: the thread root shows its status and only the buttons
it allows; each field's problem is named in plain words."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest

from storage.models import CustomerAccount, Upsell, UpsellStatus
from tests.e2e_support import text_of
from tests.test_e2e_upsells import FLAG


def test_the_root_shows_the_status_and_the_buttons_it_allows():
    from handlers.blocks.upsells import build_upsell_root
    from storage.models import Partner, PartnerType

    account = CustomerAccount(id=1, name="Acme <Corp>", name_key="acme corp", domain="acme.com",
                              owner_slack_id="U0ALEX")
    partner = Partner(id=1, name="Northwind", type=PartnerType.reseller)
    upsell = Upsell(id=7, account_id=1, partner_id=1, flagged_by_slack_id="U0DANA", signal="renewal_at_risk",
                    target="Analytics", expected_value=Decimal("15000"), currency="EUR", recurrence="one_time",
                    timeline="", status=UpsellStatus.open)

    def shown(**changes):
        message = build_upsell_root(upsell.model_copy(update=changes), account, partner)
        blocks = [block.to_dict() for block in message.blocks]
        return text_of(SimpleNamespace(text=message.text, blocks=blocks)), [
            b["action_id"] for block in blocks for b in block.get("elements") or []]

    text, buttons = shown()
    assert "UPS-00007 · *Acme &lt;Corp&gt;*" in text and "15,000 EUR one-time" in text
    assert "Renewal at risk → *Analytics*" in text and "waiting for <@U0ALEX>" in text
    assert buttons == ["upsell_accept", "upsell_decline"]
    assert shown(status=UpsellStatus.accepted)[1] == ["upsell_won", "upsell_lost"]
    text, buttons = shown(status=UpsellStatus.declined, decision_reason="Budget frozen")
    assert buttons == [] and "Declined" in text and ">Budget frozen" in text
    text, buttons = shown(status=UpsellStatus.won, final_amount=Decimal("18000"))
    assert buttons == [] and "Won" in text and "18,000 EUR one-time" in text
    assert shown(status=UpsellStatus.lost)[1] == []


def test_the_forms_checks_name_each_field_in_plain_words():
    from workflows.program import Program
    from workflows.upsell_form import UpsellFormInvalid, validate_upsell

    program = Program()
    good = dict(FLAG, account="4", expected_value="2000")
    assert validate_upsell(good, program).expected_value == Decimal("2000")
    with pytest.raises(UpsellFormInvalid) as invalid:
        validate_upsell(dict(good, account="²", signal="telepathy", target="Moon plan", currency="XXX",
                             expected_value="150000000", timeline="someday", notes="n" * 3001), program,
                        needs_partner=True)
    errors = invalid.value.errors
    assert set(errors) == {"account", "signal", "target", "currency", "expected_value", "timeline", "notes",
                           "partner"}
    assert errors["account"] == "Choose the customer account (type to search)."
    assert "“Moon plan” is not one of the target product line or plan choices" in errors["target"]
    with pytest.raises(UpsellFormInvalid) as invalid:
        validate_upsell(dict(good, expected_value="150000000"), program)  # monthly: a yearly figure, surely
    assert "more than 100 million a month" in invalid.value.errors["expected_value"]
    assert validate_upsell(dict(good, expected_value="150000000", recurrence="one_time"), program)
