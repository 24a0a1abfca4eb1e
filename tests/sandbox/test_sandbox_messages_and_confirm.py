"""Confirmation dialogs and `message` events, as Slack has them: a confirmed click only reaches the app when the
user confirms; a user's message reaches it only for subscribed conversation types where the bot is."""

from __future__ import annotations

import pytest
from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.sandbox import AppServer, SandboxError
from tests.sandbox.conftest import ALEX, DANA, INTERNAL, NORTHWIND, SECRET, SHARED, TOKEN

CONFIRMED = [{"type": "actions", "block_id": "decide", "elements": [
    {"type": "button", "action_id": "accept", "value": "1", "text": {"type": "plain_text", "text": "Accept"},
     "confirm": {"title": {"type": "plain_text", "text": "Accept this lead?"},
                 "text": {"type": "mrkdwn", "text": "The partner is told."},
                 "confirm": {"type": "plain_text", "text": "Accept"},
                 "deny": {"type": "plain_text", "text": "Cancel"}}},
    {"type": "button", "action_id": "plain", "value": "1", "text": {"type": "plain_text", "text": "Plain"}},
]}]


@pytest.fixture
def seen() -> list:
    return []


@pytest.fixture
def driver(sandbox, seen):
    sandbox.set_events(["app_mention", "message.channels", "message.groups", "message.im"])
    app = App(signing_secret=SECRET, client=WebClient(token=TOKEN, base_url=sandbox.api_url),
              process_before_response=True)

    @app.action("accept")
    def accept(ack, body):
        ack()
        seen.append(("click", body["actions"][0]["action_id"]))

    @app.event("message")
    def message(event):
        seen.append(("message", event))

    @app.event("app_mention")
    def mention(event):
        seen.append(("mention", event))

    with AppServer(app) as server:
        yield sandbox.driver(server.url)


def test_confirm_dialogs_are_checked_like_slack(client):
    long_title = [{"type": "actions", "elements": [dict(CONFIRMED[0]["elements"][0], confirm=dict(
        CONFIRMED[0]["elements"][0]["confirm"], title={"type": "plain_text", "text": "x" * 101}))]}]
    with pytest.raises(SlackApiError) as refused:
        client.chat_postMessage(channel=INTERNAL, text="t", blocks=long_title)
    assert refused.value.response["error"] == "invalid_blocks"
    assert "confirm/title" in str(refused.value.response["errors"])
    assert client.chat_postMessage(channel=INTERNAL, text="t", blocks=CONFIRMED)["ok"]


def test_a_cancelled_confirmation_sends_nothing(client, driver, sandbox, seen):
    posted = client.chat_postMessage(channel=INTERNAL, text="Lead", blocks=CONFIRMED)
    cancelled = driver.click(ALEX, "accept", message=(INTERNAL, posted["ts"]), confirm=False)
    assert cancelled.status == 0 and seen == []
    assert driver.click(ALEX, "accept", message=(INTERNAL, posted["ts"])).status == 200
    assert seen == [("click", "accept")]
    with pytest.raises(SandboxError, match="no confirm dialog"):
        driver.click(ALEX, "plain", message=(INTERNAL, posted["ts"]), confirm=False)
    lines = "\n".join(sandbox.transcript().lines())
    assert "clicked [Accept] and cancelled “Accept this lead?”" in lines
    assert "clicked [Accept] and confirmed “Accept this lead?”" in lines


def test_thread_replies_arrive_as_message_events_with_the_partners_team(client, driver, sandbox, seen):
    root = client.chat_postMessage(channel=SHARED, text="Lead registration REG-00001")
    response = driver.post(DANA, SHARED, "Here is the answer", thread_ts=root["ts"])
    assert response.status == 200
    [(kind, event)] = seen
    assert kind == "message" and event["thread_ts"] == root["ts"] and event["parent_user_id"] == sandbox.bot_user_id
    assert (event["user_team"], event["channel_type"]) == (NORTHWIND, "channel")
    assert response.payload["is_ext_shared_channel"] and response.payload["team_id"] == NORTHWIND
    assert [m.text for m in sandbox.messages(SHARED, thread_ts=root["ts"])] == ["Here is the answer"]
    with pytest.raises(SandboxError, match="to reply to"):
        driver.post(DANA, SHARED, "x", thread_ts="1.000001")


def test_message_events_only_for_subscribed_conversation_types(client, driver, sandbox, seen):
    dm = driver.post(ALEX, None, "hello bot")
    assert dm.status == 200 and seen[-1][1]["channel_type"] == "im"
    sandbox.set_events(["app_mention"])
    assert driver.post(ALEX, INTERNAL, "no subscription, no event") is None
    sandbox.set_events(["message.channels", "app_mention"])
    sandbox.state.channels[INTERNAL].members.remove(sandbox.bot_user_id)
    assert driver.post(ALEX, INTERNAL, "the bot is not here") is None
    assert len(seen) == 1


def test_a_mention_is_also_a_message_for_a_subscribed_app(driver, sandbox, seen):
    driver.mention(DANA, SHARED, "lead please")
    assert sorted(kind for kind, _ in seen) == ["mention", "message"]
    events = [line for line in sandbox.transcript().lines() if "lead please" in line]
    assert len(events) == 1  # one person, one action: the transcript shows the mention once
