"""End to end: signed HTTP requests into the app, the real WebClient out to the local Slack sandbox, real DB."""

from __future__ import annotations

import json
from decimal import Decimal

from sqlmodel import Session, select

from storage.models import CrmOutbox, Registration, RegistrationStatus
from tests.e2e_support import (
    DETAILS,
    GOOD_FORM,
    desk_message,
    dm_messages,
    finish_details,
    register_via_desk,
    text_of,
)


def registrations(engine):
    with Session(engine) as session:
        return session.exec(select(Registration).order_by(Registration.id)).all()


def test_bot_joining_a_partner_channel_posts_the_desk_once(bot):
    desk = desk_message(bot.sandbox, "C0NORTH")
    assert "Partner desk for Northwind Consulting" in text_of(desk)
    assert [b.action_id for b in bot.sandbox.buttons(desk)] == ["register_lead", "flag_upsell", "my_deals",
                                                                 "my_scorecard"]
    bot.driver.bot_joined("C0NORTH")  # joining again (new event) must not post a second desk
    assert len([m for m in bot.sandbox.messages("C0NORTH") if "Partner desk" in text_of(m)]) == 1


def test_external_partner_registers_and_the_ae_accepts(bot, engine):
    sandbox, driver = bot.sandbox, bot.driver
    bad = register_via_desk(bot, "U0DANA", "C0NORTH", {"contact_email": "jane@", "estimated_value": "0"})
    assert bad.json["response_action"] == "errors"
    assert set(bad.json["errors"]) == {"contact_email", "estimated_value"}
    assert registrations(engine) == []

    modal = sandbox.open_modal("U0DANA")  # still open, with the errors shown; fix and resubmit
    stored = driver.submit("U0DANA", modal.id, GOOD_FORM)
    # Stored at once; the form answers with its optional details step in place of the first.
    assert stored.status == 200 and stored.json["response_action"] == "update"
    [reg] = registrations(engine)
    assert reg.status == RegistrationStatus.received and reg.company_size == "" and reg.assigned_to_slack_id is None
    step = sandbox.open_modal("U0DANA")
    assert step.id == modal.id and step.callback_id == "lead_details" and reg.reference in str(step.blocks)
    assert dm_messages(sandbox, "U0ALEX") == []  # the reviewer waits for the details: one complete message
    assert driver.submit("U0DANA", step.id, DETAILS).status == 200
    assert sandbox.open_modal("U0DANA") is None
    [reg] = registrations(engine)
    assert (reg.domain, reg.company_key, reg.assigned_to_slack_id) == ("acme.com", "acme", "U0ALEX")
    assert (reg.company_size, reg.budget, reg.timeline) == ("201-1000", "approved", "1-3m")
    assert reg.status == RegistrationStatus.under_review and reg.submitted_by_team_id == "T0NORTH"

    root = next(m for m in sandbox.messages("C0NORTH") if reg.reference in text_of(m) and not m.thread_ts)
    assert "Registered by <@U0DANA>" in text_of(root)
    thread = sandbox.messages("C0NORTH", thread_ts=root.ts)
    assert any("Under review" in text_of(m) for m in thread)
    assert "Score" not in text_of(root)  # scores and routing stay internal

    [review] = dm_messages(sandbox, "U0ALEX")
    assert "Score" in text_of(review) and "Territory and product line" in text_of(review)
    assert driver.click("U0ALEX", "review_accept", message=(review.channel, review.ts)).status == 200

    [reg] = registrations(engine)
    assert reg.status == RegistrationStatus.approved and reg.protection_expires_at is not None
    [review] = dm_messages(sandbox, "U0ALEX")
    assert "Approved by <@U0ALEX>" in text_of(review)
    assert [b.action_id for b in sandbox.buttons(review)] == ["deal_won", "deal_lost"]  # no second Accept
    thread = sandbox.messages("C0NORTH", thread_ts=root.ts)
    assert any("Approved" in text_of(m) and "protected until" in text_of(m) for m in thread)
    with Session(engine) as session:
        assert sorted(session.exec(select(CrmOutbox.event).where(CrmOutbox.registration_id == 1)).all()) == [
            "approved", "submitted"]


def test_second_click_changes_nothing(bot, engine):
    register_via_desk(bot, "U0DANA", "C0NORTH")
    [review] = dm_messages(bot.sandbox, "U0ALEX")
    first_payload_buttons = bot.sandbox.buttons(review)
    bot.driver.click("U0ALEX", "review_accept", message=(review.channel, review.ts))
    # Slack can deliver a second click made before the message was updated: replay the same payload
    bot.sandbox.state.find_message(review.channel, review.ts).blocks = [
        {"type": "actions", "block_id": "review_actions",
         "elements": [{"type": "button", "action_id": b.action_id, "value": b.value,
                       "text": {"type": "plain_text", "text": b.text}} for b in first_payload_buttons]}]
    bot.driver.click("U0ALEX", "review_accept", message=(review.channel, review.ts))
    [reg] = registrations(engine)
    assert reg.status == RegistrationStatus.approved
    approvals = [m for m in bot.sandbox.messages("C0NORTH") if "Approved:" in text_of(m)]
    assert len(approvals) == 1
    told = [e for e in bot.sandbox.ephemerals("U0ALEX")] + dm_messages(bot.sandbox, "U0ALEX")
    assert any("already approved" in text_of(m) for m in told)


def test_partner_cannot_approve_their_own_lead(bot, engine):
    register_via_desk(bot, "U0DANA", "C0NORTH")
    [reg] = registrations(engine)
    payload = {"type": "block_actions", "user": {"id": "U0DANA", "team_id": "T0NORTH", "username": "dana"},
               "team": {"id": "T0OURS"}, "api_app_id": "A0PARTNERBOT", "token": "x",
               "trigger_id": bot.sandbox.issue_trigger("U0DANA"), "channel": {"id": "C0NORTH"},
               "container": {"type": "message", "channel_id": "C0NORTH", "message_ts": "1.1"},
               "actions": [{"type": "button", "action_id": "review_accept", "block_id": "review_actions",
                            "value": str(reg.id), "action_ts": "1.2"}]}
    from urllib.parse import urlencode
    response = bot.driver.send(urlencode({"payload": json.dumps(payload)}).encode(),
                               "application/x-www-form-urlencoded")
    assert response.status == 200
    [reg] = registrations(engine)
    assert reg.status == RegistrationStatus.under_review
    assert any("Partners can't approve" in e.text for e in bot.sandbox.ephemerals("U0DANA"))


def test_conflicting_registration_goes_to_the_manager_with_evidence(bot, engine):
    sandbox, driver = bot.sandbox, bot.driver
    register_via_desk(bot, "U0DANA", "C0NORTH")
    [review] = dm_messages(sandbox, "U0ALEX")
    driver.click("U0ALEX", "review_accept", message=(review.channel, review.ts))

    driver.mention("U0BOB", "C0GLOBEX", "I'd like to register a lead")
    prompt = next(m for m in sandbox.messages("C0GLOBEX") if m.thread_ts and sandbox.buttons(m))
    driver.click("U0BOB", "register_lead", message=("C0GLOBEX", prompt.ts))
    modal = sandbox.open_modal("U0BOB")
    assert driver.submit("U0BOB", modal.id, dict(GOOD_FORM, company="ACME Incorporated",
                                                 domain="acme.com/contact")).status == 200
    finish_details(bot, "U0BOB", {})  # Skip: the conflict check needs nothing from the details step
    first, second = registrations(engine)
    assert second.review_kind == "conflict" and second.assigned_to_slack_id == "U0PRIYA"

    [conflict] = dm_messages(sandbox, "U0PRIYA")
    evidence = text_of(conflict)
    assert first.reference in evidence and "Northwind Consulting" in evidence and "same domain" in evidence
    assert "override" in evidence
    # Globex is a referral partner: Bob's registration is in his DM with the bot, not in Globex's channel.
    bob_dm = sandbox.dm_channel("U0BOB")
    assert not [m for m in sandbox.messages("C0GLOBEX") if second.reference in text_of(m)]
    assert any(second.reference in text_of(m) and not m.thread_ts for m in sandbox.messages(bob_dm))
    partner_view = "\n".join(text_of(m) for m in sandbox.messages("C0GLOBEX") + sandbox.messages(bob_dm))
    assert "Northwind" not in partner_view  # another partner's registration is never shown to a partner

    driver.click("U0PRIYA", "conflict_reject", message=(conflict.channel, conflict.ts))
    reason_modal = sandbox.open_modal("U0PRIYA")
    empty = driver.submit("U0PRIYA", reason_modal.id, {"reason": "   "})
    assert empty.json["errors"] == {"reason": "Write a reason: the partner sees it."}
    # Naming the other partner is flagged before anything is sent; the standard wording names nobody.
    named = driver.submit("U0PRIYA", reason_modal.id, {"reason": "Northwind registered Acme first & it's approved"})
    assert "names Northwind Consulting, another partner" in named.json["errors"]["reason"]
    driver.submit("U0PRIYA", reason_modal.id, {"reason_choice": "registered_first",
                                               "reason": "It was registered first & it's approved"})
    _, second = registrations(engine)
    assert second.status == RegistrationStatus.rejected
    thread = sandbox.messages(bob_dm, thread_ts=second.partner_thread_ts)
    assert any("Not approved" in text_of(m) and "Another partner registered this company first" in text_of(m)
               and "registered first &amp; it's approved" in text_of(m) for m in thread)
    assert "Northwind" not in "\n".join(text_of(m) for m in sandbox.messages("C0GLOBEX") + sandbox.messages(bob_dm))


def test_override_of_an_approved_conflict_asks_for_a_reason(bot, engine):
    sandbox, driver = bot.sandbox, bot.driver
    register_via_desk(bot, "U0DANA", "C0NORTH")
    [review] = dm_messages(sandbox, "U0ALEX")
    driver.click("U0ALEX", "review_accept", message=(review.channel, review.ts))
    register_via_desk(bot, "U0BOB", "C0GLOBEX")
    [conflict] = dm_messages(sandbox, "U0PRIYA")
    driver.click("U0PRIYA", "conflict_clear", message=(conflict.channel, conflict.ts))
    override = sandbox.open_modal("U0PRIYA")
    assert override.callback_id == "override_reason"
    driver.submit("U0PRIYA", override.id, {"reason": "Different subsidiary; both partners agreed"})
    _, second = registrations(engine)
    assert second.review_kind == "ae" and second.status == RegistrationStatus.under_review
    ae_dm = dm_messages(sandbox, second.assigned_to_slack_id)
    [review] = [m for m in ae_dm if second.reference in text_of(m) and sandbox.buttons(m)]
    driver.click(second.assigned_to_slack_id, "review_accept", message=(review.channel, review.ts))
    _, second = registrations(engine)
    assert second.status == RegistrationStatus.approved and second.attribution == "co_sell"


def test_the_ae_marks_the_deal_won_and_the_partner_hears_it(bot, engine):
    sandbox, driver = bot.sandbox, bot.driver
    register_via_desk(bot, "U0DANA", "C0NORTH")
    [review] = dm_messages(sandbox, "U0ALEX")
    driver.click("U0ALEX", "review_accept", message=(review.channel, review.ts))
    [review] = dm_messages(sandbox, "U0ALEX")
    assert [b.action_id for b in sandbox.buttons(review)] == ["deal_won", "deal_lost"]
    driver.click("U0ALEX", "deal_won", message=(review.channel, review.ts))
    [reg] = registrations(engine)
    assert reg.status == RegistrationStatus.won and reg.closed_at is not None
    assert any("Won: *Acme Inc.*" in text_of(m) for m in sandbox.messages("C0NORTH", thread_ts=reg.partner_thread_ts))
    [review] = dm_messages(sandbox, "U0ALEX")
    assert sandbox.buttons(review) == [] and "Won by <@U0ALEX>" in text_of(review)
    with Session(engine) as session:
        assert sorted(session.exec(select(CrmOutbox.event).where(CrmOutbox.registration_id == 1)).all()) == [
            "approved", "submitted", "won"]


def test_the_partner_picks_the_country_from_an_options_loaded_select_and_the_region_follows(bot, engine):
    sandbox, driver = bot.sandbox, bot.driver
    desk = desk_message(sandbox, "C0NORTH")
    driver.click("U0DANA", "register_lead", message=("C0NORTH", desk.ts))
    modal = sandbox.open_modal("U0DANA")
    [country] = [b for b in modal.blocks if b.get("block_id") == "country"]
    assert (country["element"]["type"], country["element"]["action_id"]) == ("external_select", "country")
    assert not [b for b in modal.blocks if b.get("block_id") == "region"]  # the region is derived, not asked
    typed = driver.suggest("U0DANA", modal.id, "country", "germ")  # Slack sends a block_suggestion per keystroke
    assert [(o["value"], o["text"]["text"]) for o in typed.json["options"]] == [("DE", "Germany · EMEA")]
    assert driver.suggest("U0DANA", modal.id, "country", "uk").json["options"][0]["value"] == "GB"
    assert len(driver.suggest("U0DANA", modal.id, "country", "").json["options"]) == 100  # Slack's limit

    assert driver.submit("U0DANA", modal.id, dict(GOOD_FORM, country="US", company="Wayne", domain="wayne.com",
                                                  contact_email="bruce@wayne.com")).status == 200
    finish_details(bot, "U0DANA", DETAILS)
    [reg] = registrations(engine)
    assert (reg.country, reg.region, reg.assigned_to_slack_id) == ("US", "North America", "U0CARL")
    root = next(m for m in sandbox.messages("C0NORTH") if reg.reference in text_of(m) and not m.thread_ts)
    assert "United States (North America)" in text_of(root)


def test_amounts_typed_the_local_way_are_parsed_or_refused_inline_and_shown_back(bot, engine):
    sandbox, driver = bot.sandbox, bot.driver
    unclear = register_via_desk(bot, "U0DANA", "C0NORTH", {"currency": "EUR", "estimated_value": "48.000"})
    assert unclear.json == {"response_action": "errors", "errors": {
        "estimated_value": "“48.000” is unclear: did you mean 48,000 or 48? Type 48000 or 48."}}
    assert registrations(engine) == []
    modal = sandbox.open_modal("U0DANA")
    usage = driver.submit("U0DANA", modal.id, dict(GOOD_FORM, currency="EUR", estimated_value="48.000,00",
                                                   pricing_model="usage_based", starting_monthly_usage="1,5"))
    assert usage.status == 200 and not (usage.json or {}).get("errors")
    [reg] = registrations(engine)
    assert (reg.estimated_value, reg.currency, reg.starting_monthly_usage) == (Decimal("48000"), "EUR",
                                                                                Decimal("1.5"))
    root = next(m for m in sandbox.messages("C0NORTH") if reg.reference in text_of(m) and not m.thread_ts)
    # What the partner sees after submitting shows the amount as it was read, so a misreading is visible.
    assert "Platform · 48,000 EUR · usage-based, starting at 1.50 EUR/month · Germany (EMEA)" in text_of(root)
