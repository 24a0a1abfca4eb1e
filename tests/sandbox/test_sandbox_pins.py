"""pins.add as Slack answers it: channel and timestamp, pins recorded, and Slack's refusals."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.sandbox import Sandbox
from tests.sandbox.conftest import ALEX, INTERNAL, SECRET, TOKEN, populate


def refused(call) -> str:
    with pytest.raises(SlackApiError) as raised:
        call()
    return raised.value.response["error"]


def test_a_message_is_pinned_once(client, sandbox):
    sandbox.add_channel("C0BOTIN", "bot-in", [ALEX])
    ts = client.chat_postMessage(channel="C0BOTIN", text="desk")["ts"]
    assert client.pins_add(channel="C0BOTIN", timestamp=ts)["ok"]
    assert sandbox.pins("C0BOTIN") == [ts]
    assert refused(lambda: client.pins_add(channel="C0BOTIN", timestamp=ts)) == "already_pinned"
    assert [c.method for c in sandbox.calls("pins.add")] == ["pins.add", "pins.add"]
    assert sandbox.pins("C0BOTIN") == [ts]


def test_refusals(client, sandbox):
    sandbox.add_channel("C0BOTIN", "bot-in", [ALEX])
    sandbox.add_channel("C0BOTOUT", "bot-out", [ALEX], bot_member=False)
    assert refused(lambda: client.pins_add(channel="C0BOTIN", timestamp="1700000000.000100")) == "message_not_found"
    assert refused(lambda: client.pins_add(channel="C0NOPE", timestamp="1.2")) == "channel_not_found"
    assert refused(lambda: client.pins_add(channel="C0BOTOUT", timestamp="1.2")) == "not_in_channel"
    assert refused(lambda: client.pins_add(channel="C0BOTIN")) == "no_item_specified"
    assert sandbox.pins(INTERNAL) == [] and sandbox.pins("C0BOTIN") == []


def test_pins_need_pins_write():
    with Sandbox(SECRET, TOKEN, scopes=["chat:write"]) as sandbox:
        populate(sandbox)
        sandbox.add_channel("C0BOTIN", "bot-in", [ALEX])
        client = WebClient(token=TOKEN, base_url=sandbox.api_url)
        ts = client.chat_postMessage(channel="C0BOTIN", text="desk")["ts"]
        with pytest.raises(SlackApiError) as raised:
            client.pins_add(channel="C0BOTIN", timestamp=ts)
        assert raised.value.response["error"] == "missing_scope"
        assert raised.value.response["needed"] == "pins:write"
        assert sandbox.pins("C0BOTIN") == []
