"""Builders of the partner-facing messages on their own: escaped, within Slack's limits, the right buttons."""

from __future__ import annotations

from handlers.blocks.lists import build_deal_status, build_deals_list
from handlers.blocks.messages import build_partner_chased, build_registration_root
from handlers.blocks.partner_actions import (
    build_partner_note,
    build_partner_note_for_reviewer,
    build_update_modal,
    build_withdraw_modal,
    build_withdrawn_for_reviewer,
)
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
    listing = messages[-1]
    assert [e.action_id for b in listing.blocks for e in getattr(b, "elements", None) or []
            if hasattr(e, "action_id") and e.action_id.startswith("deal_")] == [Action.add_update, Action.withdraw] * 20
    modal = build_withdraw_modal(approved, "C0NORTH").to_dict()
    assert modal["callback_id"] == Callback.withdraw_reason and "<!channel>" not in str(modal)
    update = build_update_modal(approved, "C0NORTH").to_dict()
    assert update["callback_id"] == Callback.partner_update and "<!channel>" not in str(update)
    for note in (build_partner_note(approved, "U0DANA", NASTY), build_partner_note_for_reviewer(approved, PARTNER,
                                                                                              "U0DANA", NASTY)):
        assert "<!channel>" not in rendered(note) and "<@U0EVIL>" not in rendered(note)
    # Closed registrations offer nothing; open and approved ones offer Withdraw on their thread root.
    both = ["deal_add_update", "deal_withdraw"]
    for status_, buttons in [(RegistrationStatus.received, both), (RegistrationStatus.approved, both),
                             (RegistrationStatus.won, []), (RegistrationStatus.withdrawn, [])]:
        root = build_registration_root(registration(status=status_), PARTNER)
        assert [e.action_id for b in root.blocks for e in getattr(b, "elements", []) or []
                if hasattr(e, "action_id")] == buttons
