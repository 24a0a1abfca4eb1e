"""End to end: the registration form's optional details step. Skip, save, close without a word from Slack,
details that come late, and a details view that claims someone else's registration."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlmodel import Session, select

from storage.models import Registration, RegistrationStatus
from tests.e2e_support import (
    DETAILS,
    GOOD_FORM,
    bot,  # noqa: F401  (fixtures: the bot on a clock the test moves)
    clock,  # noqa: F401
    desk_message,
    dm_messages,
    register_via_desk,
    text_of,
)
from workflows.registrations import DETAILS_GRACE
from workflows.work import run_pending_work


def the_registration(engine) -> Registration:
    with Session(engine) as session:
        return session.exec(select(Registration)).one()


def first_step(bot, user_id="U0DANA", channel_id="C0NORTH", form=None):
    desk = desk_message(bot.sandbox, channel_id)
    bot.driver.click(user_id, "register_lead", message=(channel_id, desk.ts))
    modal = bot.sandbox.open_modal(user_id)
    response = bot.driver.submit(user_id, modal.id, dict(GOOD_FORM, **(form or {})))
    assert response.json["response_action"] == "update"
    return bot.sandbox.open_modal(user_id)


def test_skip_sends_the_lead_on_at_once_and_the_score_says_what_would_raise_it(bot, engine):
    register_via_desk(bot, "U0DANA", "C0NORTH", details={})  # Skip: Slack sends view_closed
    assert bot.sandbox.open_modal("U0DANA") is None
    registration = the_registration(engine)
    assert registration.status == RegistrationStatus.under_review and registration.company_size == ""
    [review] = dm_messages(bot.sandbox, "U0ALEX")
    text = text_of(review)
    assert "Timing 0/25 (timeline not given)" in text
    assert "To raise it, ask the partner:_ add the company size: up to +" in text
    assert "add the timeline: up to +25" in text


def test_saved_details_are_in_the_one_review_message(bot, engine):
    register_via_desk(bot, "U0DANA", "C0NORTH")
    registration = the_registration(engine)
    assert (registration.timeline, registration.notes) == ("1-3m", DETAILS["notes"])
    [review] = dm_messages(bot.sandbox, "U0ALEX")
    assert "timeline 1-3m" in text_of(review) and "add the timeline" not in text_of(review)


def test_a_bad_detail_is_refused_inline_and_nothing_is_lost(bot, engine):
    step = first_step(bot)
    bot.sandbox.state.views[step.id].blocks[-1]["element"]["max_length"] = 5000  # a client that ignores it
    refused = bot.driver.submit("U0DANA", step.id, {"notes": "x" * 3000})
    assert list(refused.json["errors"]) == ["notes"]
    assert the_registration(engine).status == RegistrationStatus.received  # stored, still waiting
    assert bot.driver.submit("U0DANA", step.id, {"timeline": "0-1m"}).status == 200
    assert the_registration(engine).timeline == "0-1m"


def test_closed_without_a_word_from_slack_it_goes_on_after_the_wait_and_late_details_still_count(
        bot, engine, clock):
    step = first_step(bot)
    bot.sandbox.state.views[step.id].closed = True  # the client quit with it open: no view_closed
    run_pending_work(bot.services)
    assert the_registration(engine).status == RegistrationStatus.received  # waiting for the details
    clock.offset = DETAILS_GRACE + timedelta(seconds=1)
    run_pending_work(bot.services)
    bot.services.kick()
    registration = the_registration(engine)
    assert registration.status == RegistrationStatus.under_review and registration.assigned_to_slack_id == "U0ALEX"
    before = registration.score

    bot.sandbox.state.views[step.id].closed = False  # it was still open after all: details come late
    assert bot.driver.submit("U0DANA", step.id, DETAILS).status == 200
    registration = the_registration(engine)
    assert registration.score > before and registration.budget == "approved"
    told = [m for m in dm_messages(bot.sandbox, "U0ALEX") if "added details" in text_of(m)]
    assert len(told) == 1 and f"Score {before} -&gt; {registration.score}/100" in text_of(told[0])


def test_a_details_view_naming_another_partners_registration_changes_nothing(bot, engine):
    register_via_desk(bot, "U0DANA", "C0NORTH", details={})
    bob_step = first_step(bot, "U0BOB", "C0GLOBEX", {"company": "Initech", "domain": "initech.com"})
    with bot.sandbox.state.lock:  # a forged view: Bob's details step claims Dana's registration
        bot.sandbox.state.views[bob_step.id].private_metadata = json.dumps({"registration": 1, "channel": None})
    bot.driver.submit("U0BOB", bob_step.id, {"budget": "none", "notes": "mine now"})
    with Session(engine) as session:
        dana = session.get(Registration, 1)
    assert (dana.budget, dana.notes) == ("", "")
    assert any("Only the person who registered" in text_of(m) for m in
               bot.sandbox.ephemerals("U0BOB") + dm_messages(bot.sandbox, "U0BOB"))
