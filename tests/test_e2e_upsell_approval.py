"""End to end: an upsell another partner already flagged for the account. The second flag goes to the partner
manager, who approves it or rejects it as a duplicate with a reason the flagger is told; no one else may."""

from __future__ import annotations

from storage.models import UpsellStatus
from tests.e2e_support import dm_messages, text_of
from tests.test_e2e_upsells import (  # noqa: F401  (accounts: a fixture)
    FLAG,
    GLOBEX,
    accounts,
    click_as,
    events_of,
    open_from_desk,
    upsell_root,
    upsells,
)


def test_another_partners_flag_goes_to_the_partner_manager_who_approves_it(bot, engine, accounts):
    sandbox, driver = bot.sandbox, bot.driver
    driver.submit("U0DANA", open_from_desk(bot, "U0DANA", "C0NORTH").id, dict(FLAG, account=str(accounts["acme"])))
    bob = open_from_desk(bot, "U0BOB", "C0GLOBEX")
    assert driver.submit("U0BOB", bob.id, dict(FLAG, account=str(accounts["acme"]), expected_value="3000",
                                               notes="Their CFO asked us")).status == 200
    first, second = upsells(engine)
    assert (second.status, second.duplicate_of, second.assigned_to_slack_id, second.partner_id) == (
        UpsellStatus.duplicate_review, first.id, "U0PRIYA", GLOBEX)
    assert second.root_message_key is None and events_of(engine, second.id) == [UpsellStatus.duplicate_review]
    assert "UPS-00002" in text_of(sandbox.ephemerals("U0BOB")[-1]) and "partner manager" in text_of(
        sandbox.ephemerals("U0BOB")[-1])
    bob_view = "\n".join(text_of(m) for m in sandbox.messages("C0GLOBEX") + dm_messages(sandbox, "U0BOB")
                         + sandbox.ephemerals("U0BOB"))
    assert "Northwind" not in bob_view and "UPS-00001" not in bob_view  # never another partner's

    [review] = dm_messages(sandbox, "U0PRIYA")
    evidence = text_of(review)
    for part in ("UPS-00001", "UPS-00002", "Northwind Consulting", "Globex Referrals", "<@U0DANA>", "<@U0BOB>",
                 "3,000 USD/month", "Their CFO asked us"):
        assert part in evidence, part
    assert [b.action_id for b in sandbox.buttons(review)] == ["upsell_duplicate_approve", "upsell_duplicate_reject"]

    # Neither the AE nor a partner may decide it.
    click_as(bot, "U0ALEX", "T0OURS", "upsell_duplicate_approve", str(second.id), review.channel)
    click_as(bot, "U0BOB", "T0GLOBEX", "upsell_duplicate_approve", str(second.id), review.channel)
    assert upsells(engine)[1].status == UpsellStatus.duplicate_review
    assert any("Only partner managers and admins" in text_of(m)
               for m in sandbox.ephemerals("U0ALEX") + dm_messages(sandbox, "U0ALEX"))

    buttons = [dict(b) for b in sandbox.state.find_message(review.channel, review.ts).blocks]
    assert driver.click("U0PRIYA", "upsell_duplicate_approve", message=(review.channel, review.ts)).status == 200
    _, second = upsells(engine)
    assert (second.status, second.assigned_to_slack_id, second.root_message_key) == (
        UpsellStatus.open, "U0ALEX", "ups:2:root")
    assert events_of(engine, second.id) == [UpsellStatus.duplicate_review, UpsellStatus.open]
    root = upsell_root(sandbox, sandbox.dm_channel("U0BOB"), "UPS-00002")  # Globex is a referral partner
    assert [b.action_id for b in sandbox.buttons(root)] == ["upsell_accept", "upsell_decline"]
    [review] = dm_messages(sandbox, "U0PRIYA")
    assert sandbox.buttons(review) == [] and "decided by <@U0PRIYA>" in text_of(review)

    # A second click (made before the buttons went) changes nothing and says why.
    sandbox.state.find_message(review.channel, review.ts).blocks = buttons
    driver.click("U0PRIYA", "upsell_duplicate_approve", message=(review.channel, review.ts))
    told = sandbox.ephemerals("U0PRIYA") + dm_messages(sandbox, "U0PRIYA")
    assert any("UPS-00002 was already decided: it is open" in text_of(m) for m in told)
    assert len([m for m in sandbox.messages(sandbox.dm_channel("U0BOB")) if "UPS-00002" in text_of(m)
                and not m.thread_ts]) == 1


def test_the_partner_manager_rejects_a_duplicate_with_a_reason_the_flagger_is_told(bot, engine, accounts):
    sandbox, driver = bot.sandbox, bot.driver
    driver.submit("U0DANA", open_from_desk(bot, "U0DANA", "C0NORTH").id, dict(FLAG, account=str(accounts["acme"])))
    driver.submit("U0BOB", open_from_desk(bot, "U0BOB", "C0GLOBEX").id, dict(FLAG, account=str(accounts["acme"])))
    [review] = dm_messages(sandbox, "U0PRIYA")
    driver.click("U0PRIYA", "upsell_duplicate_reject", message=(review.channel, review.ts))
    modal = sandbox.open_modal("U0PRIYA")
    assert modal.callback_id == "upsell_duplicate_reject"
    blank = driver.submit("U0PRIYA", modal.id, {"reason": "  "})
    assert blank.json["errors"] == {"reason": "Write a reason: the partner sees it."}
    named = driver.submit("U0PRIYA", modal.id, {"reason": "Northwind flagged it first"})
    assert "names Northwind Consulting, another partner" in named.json["errors"]["reason"]
    assert upsells(engine)[1].status == UpsellStatus.duplicate_review
    assert driver.submit("U0PRIYA", modal.id, {"reason": "Already in progress with the account team"}).status == 200
    _, second = upsells(engine)
    assert (second.status, second.decision_reason) == (UpsellStatus.rejected, "Already in progress with the account "
                                                                              "team")
    assert second.closed_at is not None and events_of(engine, second.id)[-1] == UpsellStatus.rejected
    told = text_of(dm_messages(sandbox, "U0BOB")[-1])
    assert "UPS-00002" in told and "not taken forward" in told and "Already in progress" in told
    [review] = dm_messages(sandbox, "U0PRIYA")
    assert sandbox.buttons(review) == [] and "Not taken forward: decided by <@U0PRIYA>" in text_of(review)
    assert not [m for m in sandbox.messages(sandbox.dm_channel("U0BOB")) if "UPS-00002" in text_of(m)
                and "Upsell" in text_of(m)]  # no thread root for a rejected flag
    # Reject asks nothing of someone who may not decide, or of a decided one.
    click_as(bot, "U0ALEX", "T0OURS", "upsell_duplicate_reject", str(second.id), review.channel)
    assert sandbox.open_modal("U0ALEX") is None
