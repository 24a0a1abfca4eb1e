"""End to end, for reviewers: confirmations, a reason for lost deals, Undo, Reassign, Ask the partner (and the
partner's reply), reminders with buttons and a link, and App Home with buttons and filters.

Signed requests through the sandbox, the real WebClient and the real database (SQLite or PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from storage.models import CrmOutbox, Registration, RegistrationEvent, RegistrationStatus
from tests.e2e_support import (  # noqa: F401  (bot, clock: fixtures, the bot on a clock the test moves)
    bot,
    clock,
    crm_events,
    dm_messages,
    register_via_desk,
    registration_thread,
    text_of,
)
from workflows.reminders import remind_overdue_reviews
from workflows.undo import UNDO_MINUTES


def registration(engine, reg_id: int = 1) -> Registration:
    with Session(engine) as session:
        return session.get(Registration, reg_id)


def review_of(bot, user_id: str, reference: str = "REG-00001"):
    return next(m for m in dm_messages(bot.sandbox, user_id) if reference in text_of(m) and "New partner lead"
                in text_of(m) or reference in text_of(m) and bot.sandbox.buttons(m))


def accept(bot, user_id: str = "U0ALEX"):
    [review] = dm_messages(bot.sandbox, user_id)
    return bot.driver.click(user_id, "review_accept", message=(review.channel, review.ts))


def undo_prompt(bot, user_id: str = "U0ALEX"):
    return next(e for e in reversed(bot.sandbox.ephemerals(user_id))
                if any(b.action_id == "review_undo" for b in bot.sandbox.buttons(e)))


def test_accept_asks_for_confirmation_and_cancel_sends_nothing(bot, engine):
    register_via_desk(bot, "U0DANA", "C0NORTH")
    [review] = dm_messages(bot.sandbox, "U0ALEX")
    accept_button = next(b for b in bot.sandbox.buttons(review) if b.action_id == "review_accept")
    cancelled = bot.driver.click("U0ALEX", "review_accept", message=(review.channel, review.ts), confirm=False)
    assert cancelled.status == 0 and registration(engine).status == RegistrationStatus.under_review
    assert accept_button.text == "Accept"
    assert "and cancelled “Accept this lead?”" in "\n".join(bot.sandbox.transcript().lines())
    assert accept(bot).status == 200
    assert registration(engine).status == RegistrationStatus.approved
    prompt = undo_prompt(bot)  # told privately, in the DM, with Undo
    assert "REG-00001 approved" in text_of(prompt) and f"({UNDO_MINUTES} minutes)" in text_of(prompt)


def test_mark_lost_is_confirmed_then_asks_why_and_the_crm_gets_the_reason(bot, engine):
    register_via_desk(bot, "U0DANA", "C0NORTH")
    accept(bot)
    [review] = dm_messages(bot.sandbox, "U0ALEX")
    assert bot.driver.click("U0ALEX", "deal_lost", message=(review.channel, review.ts)).status == 200
    modal = bot.sandbox.open_modal("U0ALEX")
    assert modal.callback_id == "deal_lost_reason" and registration(engine).status == RegistrationStatus.approved
    other = bot.driver.submit("U0ALEX", modal.id, {"reason_choice": "other"})
    assert "needs a few words" in other.json["errors"]["reason"]
    bot.driver.submit("U0ALEX", modal.id, {"reason_choice": "competitor", "reason": "Chose Initech <b>"})
    reg = registration(engine)
    assert reg.status == RegistrationStatus.lost and reg.close_reason == "Lost to a competitor\nChose Initech <b>"
    with Session(engine) as session:
        lost = session.exec(select(CrmOutbox).where(CrmOutbox.event == "lost")).one()
    assert lost.payload["reason"] == reg.close_reason
    [review] = dm_messages(bot.sandbox, "U0ALEX")
    assert "Lost to a competitor" in text_of(review) and "Chose Initech &lt;b&gt;" in text_of(review)
    _, thread = registration_thread(bot)
    assert any("Closed lost" in text_of(m) for m in thread)
    assert not any("competitor" in text_of(m) for m in thread)  # the reason is ours, not the partner's


def test_undo_of_an_accept_restores_state_buttons_history_crm_and_tells_the_partner(bot, engine):
    register_via_desk(bot, "U0DANA", "C0NORTH")
    accept(bot)
    _, thread = registration_thread(bot)
    assert any("Approved:" in text_of(m) for m in thread)  # the partner was told
    prompt = undo_prompt(bot)
    assert bot.driver.click("U0ALEX", "review_undo", message=(prompt.channel, prompt.ts)).status == 200
    reg = registration(engine)
    assert reg.status == RegistrationStatus.under_review
    assert reg.approved_at is None and reg.protection_expires_at is None
    [review] = dm_messages(bot.sandbox, "U0ALEX")
    assert [b.action_id for b in bot.sandbox.buttons(review)] == [
        "review_accept", "review_reject", "review_reassign", "review_ask_partner"]
    assert "Decision undone by <@U0ALEX>" in text_of(review)
    root, thread = registration_thread(bot)
    assert "Under review" in text_of(root)
    assert "Correction: the approval of *Acme Inc.* was withdrawn" in text_of(thread[-1])
    with Session(engine) as session:
        history = session.exec(select(RegistrationEvent).order_by(RegistrationEvent.id)).all()
    assert (history[-1].from_status, history[-1].to_status) == ("approved", "under_review")
    assert "undo" in history[-1].reason
    # The approval was still queued for the CRM: it is withheld, and only the Lead is refreshed.
    assert crm_events(engine) == ["submitted", "reopened"]
    assert "Undone: REG-00001 is under review again." in text_of(bot.sandbox.ephemerals("U0ALEX")[-1])
    again = bot.driver.click("U0ALEX", "review_undo", message=(prompt.channel, prompt.ts))
    assert again.status == 200 and registration(engine).status == RegistrationStatus.under_review
    assert "already undone" in text_of(bot.sandbox.ephemerals("U0ALEX")[-1])


def test_undo_of_a_win_and_the_time_limit(bot, engine, clock):
    register_via_desk(bot, "U0DANA", "C0NORTH")
    accept(bot)
    from storage.crm.writer import drain_outbox

    drain_outbox(engine, bot.runtime.settings, notify=lambda text: None)  # the approval reaches the CRM (its local mirror)
    [review] = dm_messages(bot.sandbox, "U0ALEX")
    bot.driver.click("U0ALEX", "deal_won", message=(review.channel, review.ts))
    assert registration(engine).status == RegistrationStatus.won
    prompt = undo_prompt(bot)
    bot.driver.click("U0ALEX", "review_undo", message=(prompt.channel, prompt.ts))
    reg = registration(engine)
    assert reg.status == RegistrationStatus.approved and reg.closed_at is None
    [review] = dm_messages(bot.sandbox, "U0ALEX")
    assert [b.action_id for b in bot.sandbox.buttons(review)] == ["deal_won", "deal_lost"]
    assert crm_events(engine)[-2:] == ["won", "undone"]
    # The accept before it can't be undone once its window has passed.
    clock.offset = timedelta(minutes=UNDO_MINUTES, seconds=1)
    first_prompt = [e for e in bot.sandbox.ephemerals("U0ALEX") if "approved" in text_of(e)
                    and bot.sandbox.buttons(e)][0]
    bot.driver.click("U0ALEX", "review_undo", message=(first_prompt.channel, first_prompt.ts))
    assert registration(engine).status == RegistrationStatus.approved
    assert "too late to undo" in text_of(bot.sandbox.ephemerals("U0ALEX")[-1])


def test_undo_of_a_conflict_rejection_by_someone_else_is_refused(bot, engine):
    register_via_desk(bot, "U0DANA", "C0NORTH")
    accept(bot)
    register_via_desk(bot, "U0BOB", "C0GLOBEX")
    [conflict] = dm_messages(bot.sandbox, "U0PRIYA")
    bot.driver.click("U0PRIYA", "conflict_reject", message=(conflict.channel, conflict.ts))
    bot.driver.submit("U0PRIYA", bot.sandbox.open_modal("U0PRIYA").id, {"reason_choice": "registered_first"})
    assert registration(engine, 2).status == RegistrationStatus.rejected
    prompt = undo_prompt(bot, "U0PRIYA")
    # Priya's Undo is hers: a click by Alex (another AE; not in her DM, so a forged payload) is refused.
    from workflows.services import NotAllowed
    from workflows.undo import undo_decision
    from workflows.people import identify

    alex = identify(bot.services, user_id="U0ALEX", team_id="T0OURS")
    with pytest.raises(NotAllowed):
        undo_decision(bot.services, actor=alex, decision_id=int(bot.sandbox.buttons(prompt)[0].value))
    bot.driver.click("U0PRIYA", "review_undo", message=(prompt.channel, prompt.ts))
    assert registration(engine, 2).status == RegistrationStatus.under_review
    [conflict] = dm_messages(bot.sandbox, "U0PRIYA")
    assert [b.action_id for b in bot.sandbox.buttons(conflict)] == [
        "conflict_clear", "conflict_reject", "review_ask_partner"]
    assert "REG-00001" in text_of(conflict)  # the evidence is back
    _, thread = registration_thread(bot, bot.sandbox.dm_channel("U0BOB"), "REG-00002")  # a referral partner: by DM
    assert "rejection of *Acme Inc.* was withdrawn" in text_of(thread[-1])


CLEARED_FIELDS = ("status", "review_kind", "conflict_with", "assigned_to_slack_id", "routing_reason",
                  "review_message_key", "override_reason", "attribution")


def fields_of(reg: Registration) -> dict:
    return {name: getattr(reg, name) for name in CLEARED_FIELDS}


def clear_conflict(bot, reason: str | None = None):
    """Priya approves REG-00002's conflict (after Slack's confirm); an override then asks for its reason."""
    conflict = next(m for m in dm_messages(bot.sandbox, "U0PRIYA") if "REG-00002" in text_of(m)
                    and any(b.action_id == "conflict_clear" for b in bot.sandbox.buttons(m)))
    assert bot.driver.click("U0PRIYA", "conflict_clear", message=(conflict.channel, conflict.ts)).status == 200
    if reason is not None:
        modal = bot.sandbox.open_modal("U0PRIYA")
        assert modal.callback_id == "override_reason"
        assert bot.driver.submit("U0PRIYA", modal.id, {"reason": reason}).status == 200


def ae_reviews(bot, ae: str, reference: str = "REG-00002"):
    return [m for m in dm_messages(bot.sandbox, ae) if reference in text_of(m)]


def bob_thread(bot):
    """REG-00002's thread: Globex is a referral partner, so it is in Bob's DM."""
    return registration_thread(bot, bot.sandbox.dm_channel("U0BOB"), "REG-00002")[1]


def test_undo_of_an_override_restores_both_registrations_the_reviews_and_the_crm(bot, engine):
    register_via_desk(bot, "U0DANA", "C0NORTH")
    accept(bot)
    register_via_desk(bot, "U0BOB", "C0GLOBEX")
    before, first_before = fields_of(registration(engine, 2)), fields_of(registration(engine, 1))
    assert before["review_kind"] == "conflict" and before["assigned_to_slack_id"] == "U0PRIYA"
    bob_told = len(bob_thread(bot))
    clear_conflict(bot, reason="Different subsidiary; both partners agreed")
    cleared, first = registration(engine, 2), registration(engine, 1)
    ae = cleared.assigned_to_slack_id
    assert cleared.review_kind == "ae" and cleared.attribution == first.attribution == "co_sell"
    [ae_review] = ae_reviews(bot, ae)
    assert "review_accept" in [b.action_id for b in bot.sandbox.buttons(ae_review)]
    assert "Co-sell:" in text_of(registration_thread(bot)[1][-1])  # Northwind was told
    # The override came from a modal: the Undo prompt is in Priya's DM.
    prompt = next(m for m in dm_messages(bot.sandbox, "U0PRIYA")
                  if any(b.action_id == "review_undo" for b in bot.sandbox.buttons(m)))
    assert "Conflict cleared: REG-00002 is routed to" in text_of(prompt)
    # Only who cleared it (or a partner manager) may undo it: the AE who has it now may not.
    from workflows.people import identify
    from workflows.services import NotAllowed
    from workflows.undo import undo_decision

    with pytest.raises(NotAllowed):
        undo_decision(bot.services, actor=identify(bot.services, user_id=ae, team_id="T0OURS"),
                      decision_id=int(bot.sandbox.buttons(prompt)[0].value))
    assert bot.driver.click("U0PRIYA", "review_undo", message=(prompt.channel, prompt.ts)).status == 200

    assert fields_of(registration(engine, 2)) == before
    assert fields_of(registration(engine, 1)) == first_before  # no longer a co-sell
    [ae_review] = ae_reviews(bot, ae)  # updated in place: no buttons, says why
    assert bot.sandbox.buttons(ae_review) == []
    assert "<@U0PRIYA> undid the conflict clearance" in text_of(ae_review)
    conflict = next(m for m in dm_messages(bot.sandbox, "U0PRIYA") if "Channel conflict" in text_of(m))
    assert [b.action_id for b in bot.sandbox.buttons(conflict)] == [
        "conflict_clear", "conflict_reject", "review_ask_partner"]
    assert "Decision undone by <@U0PRIYA>" in text_of(conflict) and "REG-00001" in text_of(conflict)
    with Session(engine) as session:
        last = session.exec(select(RegistrationEvent).where(RegistrationEvent.registration_id == 2)
                            .order_by(RegistrationEvent.id.desc())).first()
        attribution = session.exec(select(CrmOutbox).where(CrmOutbox.registration_id == 1)
                                   .order_by(CrmOutbox.id.desc())).first()
    assert (last.from_status, last.to_status) == ("under_review", "under_review")
    assert last.reason == "undo of “conflict cleared” by U0PRIYA"
    assert crm_events(engine, 1) == ["submitted", "approved", "attribution", "attribution"]
    assert attribution.payload == {"attribution": first_before["attribution"]}
    assert crm_events(engine, 2) == ["submitted"]  # the CRM heard of no status change
    # Northwind, told of the co-sell, hears it is withdrawn; Globex was told nothing, and still is not.
    assert "Correction: our team withdrew the co-sell on *Acme Inc.*" in text_of(registration_thread(bot)[1][-1])
    assert len(bob_thread(bot)) == bob_told
    assert "Undone: REG-00002 is a channel conflict again, with <@U0PRIYA>." in text_of(
        next(m for m in dm_messages(bot.sandbox, "U0PRIYA") if m.ts == prompt.ts))  # the prompt, replaced


def test_undo_of_a_plain_clearance_and_the_time_limit(bot, engine, clock):
    register_via_desk(bot, "U0DANA", "C0NORTH")  # not decided yet: clearing the conflict overrides nothing
    register_via_desk(bot, "U0BOB", "C0GLOBEX")
    before = fields_of(registration(engine, 2))
    bob_told = len(bob_thread(bot))
    clear_conflict(bot)
    ae = registration(engine, 2).assigned_to_slack_id
    assert registration(engine, 2).review_kind == "ae" and ae_reviews(bot, ae)
    prompt = undo_prompt(bot, "U0PRIYA")
    bot.driver.home_opened("U0PRIYA")
    assert "You cleared the conflict on REG-00002" in str(bot.sandbox.home("U0PRIYA").blocks)
    bot.driver.click("U0PRIYA", "review_undo", message=(prompt.channel, prompt.ts))
    assert fields_of(registration(engine, 2)) == before
    assert bot.sandbox.buttons(ae_reviews(bot, ae)[0]) == []
    assert crm_events(engine) == ["submitted", "submitted"]
    assert len(bob_thread(bot)) == bob_told
    again = bot.driver.click("U0PRIYA", "review_undo", message=(prompt.channel, prompt.ts))
    assert again.status == 200 and "already undone" in text_of(bot.sandbox.ephemerals("U0PRIYA")[-1])
    # Cleared again: that one can't be undone once its window has passed.
    clear_conflict(bot)
    assert registration(engine, 2).review_kind == "ae"
    clock.offset = timedelta(minutes=UNDO_MINUTES, seconds=1)
    late = undo_prompt(bot, "U0PRIYA")
    bot.driver.click("U0PRIYA", "review_undo", message=(late.channel, late.ts))
    assert registration(engine, 2).review_kind == "ae"
    assert "REG-00002 conflict cleared: too late to undo" in text_of(bot.sandbox.ephemerals("U0PRIYA")[-1])


def test_reassign_to_another_ae_and_back_to_routing_without_telling_the_partner(bot, engine):
    register_via_desk(bot, "U0DANA", "C0NORTH")
    _, before = registration_thread(bot)
    [review] = dm_messages(bot.sandbox, "U0ALEX")
    bot.driver.click("U0ALEX", "review_reassign", message=(review.channel, review.ts))
    modal = bot.sandbox.open_modal("U0ALEX")
    offered = [o["value"] for o in modal.blocks[0]["element"]["options"]]
    assert offered == ["routing", "U0BEA", "U0CARL"]  # every AE but the current one, by name
    no_reason = bot.driver.submit("U0ALEX", modal.id, {"assignee": "routing"})
    assert "Say why it goes back to routing" in no_reason.json["errors"]["reason"]
    bot.driver.submit("U0ALEX", modal.id, {"assignee": "U0BEA", "reason": "Bea owns this account"})
    reg = registration(engine)
    assert (reg.status, reg.assigned_to_slack_id) == (RegistrationStatus.under_review, "U0BEA")
    [old] = dm_messages(bot.sandbox, "U0ALEX")
    assert bot.sandbox.buttons(old) == [] and "Reassigned to <@U0BEA> by <@U0ALEX>" in text_of(old)
    [new] = dm_messages(bot.sandbox, "U0BEA")
    assert "reassigned by Alex Rivera: Bea owns this account" in text_of(new)
    assert [b.action_id for b in bot.sandbox.buttons(new)][:2] == ["review_accept", "review_reject"]
    _, after = registration_thread(bot)
    assert len(after) == len(before) and "Not approved" not in "".join(text_of(m) for m in after)
    # Back to routing: the rules pick an EMEA / Platform AE other than Bea.
    bot.driver.click("U0BEA", "review_reassign", message=(new.channel, new.ts))
    bot.driver.submit("U0BEA", bot.sandbox.open_modal("U0BEA").id, {"assignee": "routing",
                                                                    "reason": "Out of office"})
    assert registration(engine).assigned_to_slack_id == "U0ALEX"
    assert "sent back to routing by Bea Chen" in text_of(dm_messages(bot.sandbox, "U0ALEX")[-1])
    with Session(engine) as session:
        reasons = [e.reason for e in session.exec(select(RegistrationEvent).order_by(RegistrationEvent.id))]
    assert reasons[-2:] == ["reassigned from U0ALEX to U0BEA: Bea owns this account",
                            "reassigned from U0BEA to U0ALEX: Out of office"]


def test_ask_the_partner_and_the_reply_reaches_the_reviewer(bot, engine):
    register_via_desk(bot, "U0DANA", "C0NORTH")
    [review] = dm_messages(bot.sandbox, "U0ALEX")
    bot.driver.click("U0ALEX", "review_ask_partner", message=(review.channel, review.ts))
    modal = bot.sandbox.open_modal("U0ALEX")
    named = bot.driver.submit("U0ALEX", modal.id, {"question": "Is Globex also talking to them?"})
    assert "names Globex Referrals" in named.json["errors"]["question"]
    bot.driver.submit("U0ALEX", modal.id, {"question": "Who signs the order <!channel>?"})
    root, thread = registration_thread(bot)
    question = thread[-1]
    assert "<@U0ALEX> asks about *Acme Inc.*" in text_of(question) and "&lt;!channel&gt;" in text_of(question)
    assert registration(engine).status == RegistrationStatus.under_review  # nothing decided
    # Dana answers in the thread: Slack sends a `message` event; the answer reaches Alex with a link.
    assert bot.driver.post("U0DANA", "C0NORTH", "The CFO <!here>", thread_ts=root.ts).status == 200
    forwarded = dm_messages(bot.sandbox, "U0ALEX")[-1]
    assert "<@U0DANA> (Northwind Consulting) replied on REG-00001" in text_of(forwarded)
    assert "The CFO &lt;!here&gt;" in text_of(forwarded)
    link = bot.sandbox.calls("chat.getPermalink")[-1]
    assert link.ok and link.response["permalink"] in text_of(forwarded)
    count = len(dm_messages(bot.sandbox, "U0ALEX"))
    bot.driver.post("U0PRIYA", "C0NORTH", "Thanks Dana", thread_ts=root.ts)  # our own team: not forwarded
    bot.driver.post("U0ERIK", "C0NORTH", "Unrelated chat")  # not in a registration's thread
    desk = next(m for m in bot.sandbox.messages("C0NORTH") if "Partner desk" in text_of(m))
    bot.driver.post("U0ERIK", "C0NORTH", "A thread on the desk", thread_ts=desk.ts)
    assert len(dm_messages(bot.sandbox, "U0ALEX")) == count


def test_overdue_reminder_has_the_buttons_and_a_link_to_the_review(bot, engine, clock):
    register_via_desk(bot, "U0DANA", "C0NORTH")
    [review] = dm_messages(bot.sandbox, "U0ALEX")
    clock.offset = timedelta(hours=49)
    assert remind_overdue_reviews(bot.services) == 1
    bot.worker.kick()
    reminder = dm_messages(bot.sandbox, "U0ALEX")[-1]
    permalink = bot.sandbox.calls("chat.getPermalink")[-1]
    assert permalink.args["message_ts"] == review.ts and permalink.response["permalink"] in text_of(reminder)
    assert "has waited 49 hours" in text_of(reminder)
    assert [b.action_id for b in bot.sandbox.buttons(reminder)] == [
        "review_accept", "review_reject", "review_reassign", "review_ask_partner"]
    bot.driver.click("U0ALEX", "review_accept", message=(reminder.channel, reminder.ts))
    assert registration(engine).status == RegistrationStatus.approved
    review, reminder = dm_messages(bot.sandbox, "U0ALEX")
    assert bot.sandbox.buttons(reminder) == [] and "Approved by <@U0ALEX>" in text_of(reminder)
    assert [b.action_id for b in bot.sandbox.buttons(review)] == ["deal_won", "deal_lost"]


def test_app_home_has_the_buttons_filters_and_undo(bot, engine):
    for company in ("Acme", "Hooli", "Umbrella"):  # round-robin: Alex, Bea, Alex
        register_via_desk(bot, "U0DANA", "C0NORTH", {"company": company, "domain": f"{company.lower()}.com"})
    bot.driver.home_opened("U0ALEX")
    home = bot.sandbox.home("U0ALEX")
    assert "*2* waiting for you" in str(home.blocks) and "Showing 1–2 of 2" in str(home.blocks)
    accepts = [b for b in bot.sandbox.buttons(home) if b.action_id == "review_accept"]
    assert len(accepts) == 2
    bot.driver.click("U0ALEX", "review_accept", view_id=home.id, value=accepts[1].value)  # Acme, the older
    assert registration(engine).status == RegistrationStatus.approved
    home = bot.sandbox.home("U0ALEX")  # published again, with the new state and Undo
    assert "*1* waiting for you · *1* open deals" in str(home.blocks)
    assert [b.action_id for b in bot.sandbox.buttons(home)].count("deal_won") == 1
    undo = next(b for b in bot.sandbox.buttons(home) if b.action_id == "review_undo")
    bot.driver.click("U0ALEX", "home_filter", view_id=home.id, selected="open")
    home = bot.sandbox.home("U0ALEX")
    assert "REG-00001" in str(home.blocks) and "REG-00003" not in str(home.blocks)
    bot.driver.click("U0ALEX", "review_undo", view_id=home.id, value=undo.value)
    assert registration(engine).status == RegistrationStatus.under_review
    home = bot.sandbox.home("U0ALEX")
    assert "No open deals" in str(home.blocks) and "review_undo" not in str(home.blocks)  # same filter, fresh
    bot.driver.click("U0ALEX", "home_filter", view_id=home.id, selected="waiting")
    assert "Showing 1–2 of 2" in str(bot.sandbox.home("U0ALEX").blocks)
