"""Message shortcuts: the driver sends `message_action` as Slack does, only for shortcuts the app declares, and
never for people of another organisation."""

from __future__ import annotations

import pytest
from slack_bolt import App
from slack_sdk import WebClient

from bot.sandbox import AppServer, SandboxError
from bot.sandbox.scopes import manifest_message_shortcuts
from tests.sandbox.conftest import ALEX, DANA, OURS, SECRET, SHARED, TOKEN

MODAL = {"type": "modal", "callback_id": "from_message", "title": {"type": "plain_text", "text": "Flag"},
         "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "From a message"}}]}


@pytest.fixture
def seen() -> list:
    return []


@pytest.fixture
def driver(sandbox, seen):
    sandbox.set_message_shortcuts(["flag_upsell"])
    app = App(signing_secret=SECRET, client=WebClient(token=TOKEN, base_url=sandbox.api_url),
              process_before_response=True)

    @app.message_shortcut("flag_upsell")
    def flag(ack, body, context, client):
        ack()
        seen.append({"body": body, "context": dict(context)})
        client.views_open(trigger_id=body["trigger_id"], view=MODAL)

    with AppServer(app) as server:
        yield sandbox.driver(server.url)


def test_a_message_shortcut_arrives_as_slack_sends_it_and_its_trigger_opens_a_modal(driver, sandbox, seen):
    driver.post(DANA, SHARED, "We need 40 more seats")
    said = sandbox.messages(SHARED)[-1]
    assert driver.shortcut(ALEX, "flag_upsell", message=(SHARED, said.ts)).status == 200
    [entry] = seen
    body, context = entry["body"], entry["context"]
    assert (body["type"], body["callback_id"], body["message_ts"]) == ("message_action", "flag_upsell", said.ts)
    assert body["message"]["text"] == "We need 40 more seats" and body["message"]["user"] == DANA
    assert body["channel"]["id"] == SHARED and body["team"]["id"] == OURS and body["user"]["id"] == ALEX
    assert body["trigger_id"] and body["response_url"] and body["action_ts"]
    assert (context["user_id"], context["team_id"], context["channel_id"]) == (ALEX, OURS, SHARED)
    assert sandbox.open_modal(ALEX).callback_id == "from_message"
    assert any("ran the shortcut flag_upsell" in line for line in sandbox.transcript().new_lines())


def test_slack_offers_no_shortcut_to_external_users_nor_one_the_app_does_not_declare(driver, sandbox, seen):
    driver.post(DANA, SHARED, "Hello")
    said = sandbox.messages(SHARED)[-1]
    with pytest.raises(SandboxError):
        driver.shortcut(DANA, "flag_upsell", message=(SHARED, said.ts))
    with pytest.raises(SandboxError):
        driver.shortcut(ALEX, "something_else", message=(SHARED, said.ts))
    with pytest.raises(SandboxError):
        driver.shortcut(ALEX, "flag_upsell", message=(SHARED, "1.000001"))  # no such message
    assert seen == []


def test_the_manifests_message_shortcuts_are_declared_by_default(sandbox):
    assert manifest_message_shortcuts() == ["flag_upsell"]
    assert sandbox.state.message_shortcuts == ["flag_upsell"]
