"""Edits, deletions and the bot's own posts as `message` events, shaped as Slack sends them: the edit and the
deletion carry their author inside (no `user`, no `text` of their own); the bot's post comes with its bot_id,
and Bolt drops it as a self event."""

from __future__ import annotations

import pytest
from slack_bolt import App
from slack_sdk import WebClient

from bot.sandbox import AppServer, SandboxError
from tests.sandbox.conftest import ALEX, DANA, INTERNAL, NORTHWIND, SECRET, SHARED, TOKEN


@pytest.fixture
def seen() -> list:
    return []


@pytest.fixture
def driver(sandbox, seen):
    sandbox.set_events(["message.channels", "message.groups", "message.im"])
    app = App(signing_secret=SECRET, client=WebClient(token=TOKEN, base_url=sandbox.api_url),
              process_before_response=True)

    @app.event("message")
    def message(event, context):
        seen.append((event, context.actor_team_id))

    with AppServer(app) as server:
        yield sandbox.driver(server.url)


def test_an_edit_is_a_message_changed_event_with_the_author_inside(driver, sandbox, seen):
    root = driver.post(DANA, SHARED, "Question for you").payload["event"]["ts"]
    posted = driver.post(DANA, SHARED, "first words", thread_ts=root).payload["event"]
    response = driver.edit(DANA, SHARED, posted["ts"], "second words")
    assert response.status == 200 and response.payload["team_id"] == NORTHWIND
    event, _ = seen[-1]
    assert (event["subtype"], event["hidden"], event["channel"]) == ("message_changed", True, SHARED)
    assert "user" not in event and "text" not in event and event["ts"] != posted["ts"]
    assert event["message"]["text"] == "second words" and event["message"]["ts"] == posted["ts"]
    assert event["message"]["edited"] == {"user": DANA, "ts": event["ts"]}
    assert event["message"]["thread_ts"] == root and event["message"]["parent_user_id"] == DANA
    assert event["message"]["user_team"] == NORTHWIND
    assert event["previous_message"]["text"] == "first words"
    [stored] = sandbox.messages(SHARED, thread_ts=root)
    assert stored.text == "second words" and stored.edited
    assert any("(edited) second words" in line for line in sandbox.transcript().lines())


def test_a_deletion_is_a_message_deleted_event(driver, sandbox, seen):
    posted = driver.post(ALEX, INTERNAL, "oops").payload["event"]
    response = driver.delete(ALEX, INTERNAL, posted["ts"])
    assert response.status == 200
    event, _ = seen[-1]
    assert (event["subtype"], event["deleted_ts"]) == ("message_deleted", posted["ts"])
    assert "user" not in event and event["previous_message"]["text"] == "oops"
    assert sandbox.messages(INTERNAL) == []
    assert any("Alex Kim (AE) deleted a message" in line for line in sandbox.transcript().lines())


def test_only_the_author_edits_or_deletes(driver, sandbox):
    posted = driver.post(DANA, SHARED, "mine").payload["event"]
    with pytest.raises(SandboxError, match="only their own"):
        driver.edit(ALEX, SHARED, posted["ts"], "yours now")
    with pytest.raises(SandboxError, match="only their own"):
        driver.delete(ALEX, SHARED, posted["ts"])
    with pytest.raises(SandboxError, match="no message"):
        driver.edit(DANA, SHARED, "1.000001", "nothing there")


def test_no_event_for_an_edit_where_the_app_gets_no_messages(driver, sandbox, seen):
    posted = driver.post(ALEX, INTERNAL, "before").payload["event"]
    sandbox.set_events(["app_mention"])
    assert driver.edit(ALEX, INTERNAL, posted["ts"], "after") is None
    assert sandbox.messages(INTERNAL)[0].text == "after" and len(seen) == 1


def test_the_bots_own_post_comes_back_with_its_bot_id_and_bolt_drops_it(client, driver, sandbox, seen):
    posted = client.chat_postMessage(channel=SHARED, text="Lead registration REG-00001")
    response = driver.echo(SHARED, posted["ts"])
    assert response.status == 200 and seen == []  # a self event: Bolt acks it and calls no listener
    event = response.payload["event"]
    assert (event["user"], event["bot_id"], event["app_id"]) == (sandbox.bot_user_id, sandbox.state.bot_id,
                                                                 sandbox.state.app_id)
    assert "subtype" not in event and event["bot_profile"]["id"] == sandbox.state.bot_id
    own = driver.post(DANA, SHARED, "a person's message").payload["event"]
    with pytest.raises(SandboxError, match="no message of the bot"):
        driver.echo(SHARED, own["ts"])
