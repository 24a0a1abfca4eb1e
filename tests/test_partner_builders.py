"""Builders of the partner-facing messages on their own: escaped, within Slack's limits, the right buttons."""

from __future__ import annotations

from decimal import Decimal

from handlers.blocks.lists import build_deal_status, build_deals_list
from handlers.blocks.messages import build_partner_chased, build_registration_root
from handlers.blocks.partner_actions import (
    build_partner_note,
    build_partner_note_for_reviewer,
    build_update_modal,
    build_withdraw_modal,
    build_withdrawn_for_reviewer,
)
from handlers.blocks.review_modals import ModalOrigin, parse_modal_metadata
from handlers.ids import Action, Callback
from storage.actors import Actor, ActorKind
from storage.lists import Page
from storage.models import PartnerType, RegistrationStatus
from tests.test_builders import NASTY, PARTNER, WHEN, registration, rendered


def test_partner_facing_builders_escape_and_fit_slack():
    partner = Actor("U0DANA", "T0NORTH", ActorKind.partner, partner_id=1, partner_type=PartnerType.reseller)
    approved = registration(status=RegistrationStatus.approved, protection_expires_at=WHEN)
    messages = [build_partner_chased(registration(), 49, 48),
                build_withdrawn_for_reviewer(approved, PARTNER, "U0DANA", "<!channel> & more " * 100),
                build_deal_status(Page([(approved, PARTNER)] * 5, 5, False, 0, None, None), partner, NASTY),
                build_deal_status(Page([], 0, False, 0, None, None), partner, NASTY),
                build_deals_list(Page([(approved, PARTNER)] * 20, 20, False, 0, None, None), partner, NASTY)]
    for message in messages:
        text = rendered(message)
        assert "<!channel>" not in text and "<@U0EVIL>" not in text and len(message.blocks) <= 50
    status = rendered(messages[2])
    assert "protected until 2 Nov 2026" in status and "AE <@U0ALEX>" in status and "2 more match" in status
    listing = messages[-1]  # approved deals: no Edit
    assert [e.action_id for b in listing.blocks for e in getattr(b, "elements", None) or []
            if hasattr(e, "action_id") and e.action_id.startswith("deal_")] == [Action.add_update, Action.withdraw] * 20
    modal = build_withdraw_modal(approved, "C0NORTH").to_dict()
    assert modal["callback_id"] == Callback.withdraw_reason and "<!channel>" not in str(modal)
    update = build_update_modal(approved, "C0NORTH").to_dict()
    assert update["callback_id"] == Callback.partner_update and "<!channel>" not in str(update)
    for note in (build_partner_note(approved, "U0DANA", NASTY), build_partner_note_for_reviewer(approved, PARTNER,
                                                                                              "U0DANA", NASTY)):
        assert "<!channel>" not in rendered(note) and "<@U0EVIL>" not in rendered(note)
    # Closed registrations offer nothing; open and approved ones offer Withdraw on their thread root, and Edit
    # until they are decided.
    both, all_three = ["deal_add_update", "deal_withdraw"], ["deal_add_update", "deal_edit", "deal_withdraw"]
    for status_, buttons in [(RegistrationStatus.received, all_three), (RegistrationStatus.under_review, all_three),
                             (RegistrationStatus.approved, both), (RegistrationStatus.rejected, []),
                             (RegistrationStatus.won, []), (RegistrationStatus.withdrawn, [])]:
        root = build_registration_root(registration(status=status_), PARTNER)
        assert [e.action_id for b in root.blocks for e in getattr(b, "elements", []) or []
                if hasattr(e, "action_id")] == buttons


def test_the_edit_modal_shows_what_was_registered_and_reads_back_the_same():
    from handlers.blocks.partner_actions import build_edit_modal, build_edited_for_reviewer, build_edited_in_thread
    from handlers.blocks.registration import parse_view_state
    from workflows.lead_form import validate_lead
    from workflows.program import Program

    program = Program()
    reg = registration(country="DE", region="EMEA", currency="EUR", estimated_value=Decimal("48000.00"),
                       starting_monthly_usage=Decimal("1250.50"), company="Acme <GmbH>")
    view = build_edit_modal(program, reg, "C0NORTH").to_dict()
    assert view["callback_id"] == Callback.edit_registration == "edit_registration"
    assert parse_modal_metadata(view["private_metadata"]) == ModalOrigin(7, "C0NORTH")
    assert "<GmbH>" not in view["blocks"][0]["text"]["text"] and "Its review starts over" in str(view)
    shown = {}
    for block in view["blocks"][1:]:
        element = block["element"]
        option = element.get("initial_option")
        shown[block["block_id"]] = option["value"] if option else element.get("initial_value")
    assert shown == {"company": "Acme <GmbH>", "domain": "acme.com", "contact_name": "Jane <b>",
                     "contact_email": "jane@acme.com", "country": "DE", "product_line": "Platform",
                     "estimated_value": "48000", "currency": "EUR", "pricing_model": "usage_based",
                     "starting_monthly_usage": "1250.5", "company_size": "51-200", "budget": "approved",
                     "timeline": "0-1m", "notes": "Call <!here> now"}
    country = next(b for b in view["blocks"] if b.get("block_id") == "country")["element"]["initial_option"]
    assert country["text"]["text"] == "Germany · EMEA"
    # Submitted untouched, the form reads back what is stored: an EUR amount is never shown as `48.000`.
    state = {"state": {"values": {k: {k: {"value": v}} for k, v in shown.items()}}}
    lead = validate_lead(parse_view_state(state), program)
    assert (lead.estimated_value, lead.starting_monthly_usage, lead.region) == (Decimal("48000"),
                                                                              Decimal("1250.5"), "EMEA")
    received = build_edit_modal(program, registration(status=RegistrationStatus.received), None).to_dict()
    assert "Its review starts over" not in str(received)
    for message in (build_edited_in_thread(reg, "U0DANA", "company, amount"),
                    build_edited_for_reviewer(reg, PARTNER, "U0DANA", "company, amount")):
        assert "company, amount" in rendered(message) and "<GmbH>" not in rendered(message) + message.text
