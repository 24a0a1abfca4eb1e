"""End to end: the partner desk is pinned once posted, a re-posted desk is pinned too, and a pin Slack refuses
or answers ambiguously never loses or repeats the desk.

Signed requests through the sandbox, the real WebClient and the real database (SQLite or PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from bot.local import local_bot
from storage.slack.models import SlackMessage, SlackMessageKind, SlackMessageStatus
from tests.e2e_support import dm_messages, text_of


@pytest.fixture
def bot(engine):
    with local_bot(engine, process_before_response=True) as running:
        yield running


def desks(sandbox, channel: str = "C0NORTH"):
    return [m for m in sandbox.messages(channel) if "Partner desk for" in text_of(m)]


def pin_rows(engine) -> list[SlackMessage]:
    with Session(engine) as session:
        return list(session.exec(select(SlackMessage).where(SlackMessage.kind == SlackMessageKind.pin)
                                 .order_by(SlackMessage.id)).all())


def test_the_desk_is_pinned_and_a_reposted_desk_is_pinned_too(bot, engine):
    sandbox, driver = bot.sandbox, bot.driver
    driver.bot_joined("C0NORTH")
    [desk] = desks(sandbox)
    assert sandbox.pins("C0NORTH") == [desk.ts]
    [call] = sandbox.calls("pins.add")
    assert call.args == {"channel": "C0NORTH", "timestamp": desk.ts} and call.ok
    driver.command("U0PRIYA", "/partner", "desk", channel_id="C0NORTH")
    first, second = desks(sandbox)
    assert sandbox.pins("C0NORTH") == [first.ts, second.ts]
    assert [row.status for row in pin_rows(engine)] == [SlackMessageStatus.sent] * 2


def test_a_pin_whose_answer_was_lost_is_done_when_slack_says_already_pinned(bot, engine):
    sandbox = bot.sandbox
    sandbox.fail("pins.add", status=500, after_effect=True)  # pinned, but Slack answered 500
    bot.driver.bot_joined("C0NORTH")
    [row] = sandbox.wait_for(lambda: [r for r in pin_rows(engine) if r.status == SlackMessageStatus.sent])
    [desk] = desks(sandbox)
    assert sandbox.pins("C0NORTH") == [desk.ts]
    assert [c.response.get("error") for c in sandbox.calls("pins.add")] == ["internal_error", "already_pinned"]
    assert len(sandbox.calls("chat.postMessage")) == len({c.response.get("ts") for c in sandbox.calls("chat.postMessage")})


def test_a_refused_pin_leaves_the_desk_and_tells_the_partner_manager_once(bot, engine):
    sandbox, driver = bot.sandbox, bot.driver
    sandbox.set_scopes([s for s in sandbox.scopes if s != "pins:write"])  # an app installed before pins
    driver.bot_joined("C0NORTH")
    [row] = pin_rows(engine)
    assert row.status == SlackMessageStatus.failed and row.last_error == "missing_scope"
    [desk] = desks(sandbox)  # posted once, and still usable
    assert sandbox.pins("C0NORTH") == [] and len(sandbox.calls("pins.add")) == 1
    [notice] = [m for m in dm_messages(sandbox, "U0PRIYA") if "pin the partner desk" in text_of(m)]
    assert "pins:write" in text_of(notice) and "Northwind" in text_of(notice)
    # A desk asked for again is posted; its pin fails the same way, and the manager is not told twice a day.
    driver.command("U0PRIYA", "/partner", "desk", channel_id="C0NORTH")
    assert len(desks(sandbox)) == 2 and sandbox.pins("C0NORTH") == []
    assert len([m for m in dm_messages(sandbox, "U0PRIYA") if "pin the partner desk" in text_of(m)]) == 1


def test_a_pin_waiting_out_a_rate_limit_holds_up_no_desk(bot, engine):
    sandbox, driver = bot.sandbox, bot.driver
    sandbox.fail("pins.add", status=429, retry_after=60)
    driver.bot_joined("C0NORTH")
    [waiting] = pin_rows(engine)
    assert waiting.status == SlackMessageStatus.pending and sandbox.pins("C0NORTH") == []
    driver.command("U0PRIYA", "/partner", "desk", channel_id="C0NORTH")
    assert len(desks(sandbox)) == 2  # posted at once; both pins wait out Slack's Retry-After
    assert [row.status for row in pin_rows(engine)] == [SlackMessageStatus.pending] * 2
    assert sandbox.pins("C0NORTH") == [] and len(sandbox.calls("pins.add")) == 1
