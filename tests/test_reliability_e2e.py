"""End to end under faults: replays apply once, Slack errors delay but never lose or double a message,
and a locked database gets a clear answer within Slack's 3 seconds."""

from __future__ import annotations

import time
from contextlib import contextmanager

from sqlmodel import Session, select

from bot.local import local_bot
from storage.models import Registration, RegistrationStatus
from storage.slack.models import SlackMessage, SlackMessageStatus
from tests.e2e_support import DETAILS, GOOD_FORM, desk_message, dm_messages, finish_details, register_via_desk, text_of


def registrations(engine):
    with Session(engine) as session:
        return session.exec(select(Registration).order_by(Registration.id)).all()


def roots(sandbox, channel="C0NORTH"):
    return [m for m in sandbox.messages(channel) if "REG-0000" in text_of(m) and not m.thread_ts]


def test_a_replayed_submission_registers_once(bot, engine):
    first = register_via_desk(bot, "U0DANA", "C0NORTH")
    again = bot.driver.redeliver(first)
    assert first.status == again.status == 200
    assert again.text == first.text  # it answers as the first did: with the same details step
    assert len(registrations(engine)) == 1
    assert len(roots(bot.sandbox)) == 1 and len(dm_messages(bot.sandbox, "U0ALEX")) == 1


def test_a_replayed_click_applies_once_and_answers_as_the_first(bot, engine):
    register_via_desk(bot, "U0DANA", "C0NORTH")
    [review] = dm_messages(bot.sandbox, "U0ALEX")
    click = bot.driver.click("U0ALEX", "review_accept", message=(review.channel, review.ts))
    approvals = len(bot.sandbox.messages("C0NORTH"))
    again = bot.driver.redeliver(click)
    assert click.status == again.status == 200
    [reg] = registrations(engine)
    assert reg.status == RegistrationStatus.approved
    assert len(bot.sandbox.messages("C0NORTH")) == approvals  # no second "Approved" in the thread
    # One private answer, the first click's (with Undo); the replay adds none.
    assert len(bot.sandbox.ephemerals("U0ALEX")) == 1 and len(dm_messages(bot.sandbox, "U0ALEX")) == 1


def test_a_500_on_the_first_partner_post_delays_but_silences_nothing(bot, engine):
    bot.sandbox.fail("chat.postMessage", status=500, after_effect=True)  # posted, but Slack answered 500
    register_via_desk(bot, "U0DANA", "C0NORTH")
    review = bot.sandbox.wait_for(lambda: dm_messages(bot.sandbox, "U0ALEX"))
    bot.driver.click("U0ALEX", "review_accept", message=(review[0].channel, review[0].ts))
    [root] = bot.sandbox.wait_for(lambda: roots(bot.sandbox))
    thread = bot.sandbox.wait_for(lambda: [m for m in bot.sandbox.messages("C0NORTH", thread_ts=root.ts)
                                           if "Approved" in text_of(m)])
    assert len(roots(bot.sandbox)) == 1 and len(thread) == 1
    assert "Approved" in text_of(bot.sandbox.wait_for(lambda: [r for r in roots(bot.sandbox)
                                                               if "Approved" in text_of(r)])[0])


def test_a_500_on_the_review_dm_still_reaches_the_ae_once(bot, engine):
    desk = desk_message(bot.sandbox, "C0NORTH")
    bot.driver.click("U0DANA", "register_lead", message=("C0NORTH", desk.ts))
    modal = bot.sandbox.open_modal("U0DANA")
    bot.sandbox.wait_for(lambda: roots(bot.sandbox) or True)
    # The partner's root goes first, the AE's DM second: fail the second post, before Slack posted it.
    bot.sandbox.fail("chat.postMessage", status=502, times=1)
    bot.driver.submit("U0DANA", modal.id, GOOD_FORM)
    finish_details(bot, "U0DANA", DETAILS)
    dms = bot.sandbox.wait_for(lambda: dm_messages(bot.sandbox, "U0ALEX"))
    assert len(dms) == 1 and "REG-00001" in text_of(dms[0])
    assert any(c.status == 502 for c in bot.sandbox.calls("chat.postMessage"))


def test_a_partner_channel_the_bot_cannot_post_to_is_reported_once_naming_the_partner(bot, engine):
    bot.sandbox.state.channels["C0NORTH"].members.remove(bot.sandbox.bot_user_id)  # someone removed the bot
    register_via_desk(bot, "U0DANA", "C0NORTH")
    register_via_desk(bot, "U0ERIK", "C0NORTH", {"company": "Initech", "domain": "initech.com"})
    told = bot.sandbox.wait_for(lambda: [m for m in dm_messages(bot.sandbox, "U0PRIYA")
                                         if "couldn't post" in text_of(m)])
    assert len(told) == 1  # two registrations, one notice
    assert "Northwind Consulting" in text_of(told[0]) and "C0NORTH" in text_of(told[0])
    assert "not_in_channel" in text_of(told[0]) and "partnerbot slack retry" in text_of(told[0])
    with Session(engine) as session:
        outbox = session.exec(select(SlackMessage)).all()
    assert {r.status for r in outbox if r.lane.startswith("reg:1:partner")} == {SlackMessageStatus.failed}
    reviews = [r for r in outbox if ":review:" in r.key]
    assert len(reviews) == 2 and {r.status for r in reviews} == {SlackMessageStatus.sent}  # AEs not held up
    bot.driver.bot_joined("C0NORTH")  # the bot is invited back: what failed there goes out, once
    bot.sandbox.wait_for(lambda: len(roots(bot.sandbox)) == 2)
    assert len(roots(bot.sandbox)) == 2
    for root in roots(bot.sandbox):  # each thread as it should be: its reply, and the root up to date
        replies = bot.sandbox.wait_for(lambda: bot.sandbox.messages("C0NORTH", thread_ts=root.ts))
        assert [("Under review" in text_of(m)) for m in replies] == [True]


@contextmanager
def write_locked(engine):
    """Another process holding the database's write lock (SQLite) or locking the tables a submission writes."""
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("BEGIN IMMEDIATE")
        else:
            cursor.execute("LOCK TABLE processed_event, registration IN EXCLUSIVE MODE")
        yield
    finally:
        connection.rollback()
        connection.close()


def test_with_the_database_locked_every_request_is_answered_in_time(engine):
    with local_bot(engine, process_before_response=False) as bot:
        bot.driver.bot_joined("C0NORTH")
        bot.sandbox.wait_for(lambda: bot.sandbox.messages("C0NORTH"))
        desk = desk_message(bot.sandbox, "C0NORTH")
        bot.driver.click("U0DANA", "register_lead", message=("C0NORTH", desk.ts))
        modal = bot.sandbox.wait_for(lambda: bot.sandbox.open_modal("U0DANA"))
        with write_locked(engine):
            started = time.monotonic()
            submitted = bot.driver.submit("U0DANA", modal.id, GOOD_FORM)
            assert time.monotonic() - started < 3
            assert submitted.status == 200 and submitted.json["response_action"] == "errors"
            assert "try again" in next(iter(submitted.json["errors"].values()))
            for response in (bot.driver.mention("U0DANA", "C0NORTH", "hello?"), bot.driver.home_opened("U0ALEX")):
                assert response.status == 200 and response.elapsed < 1
        assert registrations(engine) == []  # nothing was stored, and the partner was told so
        again = bot.driver.submit("U0DANA", modal.id, GOOD_FORM)  # once the lock is gone, it goes through
        assert again.status == 200 and again.json["response_action"] == "update"  # the details step
        finish_details(bot, "U0DANA", DETAILS)
        bot.sandbox.wait_for(lambda: dm_messages(bot.sandbox, "U0ALEX"))
        assert len(registrations(engine)) == 1
