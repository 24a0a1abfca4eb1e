"""Granted scopes (manifest.yml by default) show in x-oauth-scopes; a missing one answers missing_scope."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.sandbox import Sandbox, SandboxError
from bot.sandbox.scopes import manifest_scopes
from tests.sandbox.conftest import ALEX, INTERNAL, SECRET, TOKEN, populate

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"


def header(response, name: str) -> str:
    """A response header whatever case and list wrapping the WebClient gives it."""
    value = {key.lower(): v for key, v in response.headers.items()}[name]
    return value[0] if isinstance(value, list) else value


def missing(call) -> dict:
    with pytest.raises(SlackApiError) as raised:
        call()
    return dict(raised.value.response.data)


def test_default_scopes_are_the_manifests_bot_scopes(client, sandbox):
    declared = yaml.safe_load(MANIFEST.read_text())["oauth_config"]["scopes"]["bot"]
    assert sandbox.scopes == declared == manifest_scopes()
    assert header(client.auth_test(), "x-oauth-scopes") == ",".join(declared)


def test_set_scopes_changes_the_header_at_run_time(client, sandbox):
    sandbox.set_scopes(["chat:write", "users:read"])
    reply = client.users_info(user=ALEX)
    assert header(reply, "x-oauth-scopes") == "chat:write,users:read"
    assert header(reply, "x-accepted-oauth-scopes") == "users:read"
    with pytest.raises(SandboxError):
        sandbox.set_scopes("chat:write")


def test_scopes_given_to_the_constructor():
    with Sandbox(SECRET, TOKEN, scopes=["chat:write"]) as sandbox:
        populate(sandbox)
        client = WebClient(token=TOKEN, base_url=sandbox.api_url)
        assert client.chat_postMessage(channel=INTERNAL, text="hi")["ok"]
        assert missing(lambda: client.users_info(user=ALEX)) == {
            "ok": False, "error": "missing_scope", "needed": "users:read", "provided": "chat:write"}


def test_post_message_needs_chat_write_and_posts_nothing_without_it(client, sandbox):
    sandbox.set_scopes(["users:read", "channels:read"])
    answer = missing(lambda: client.chat_postMessage(channel=INTERNAL, text="x"))
    assert answer == {"ok": False, "error": "missing_scope", "needed": "chat:write",
                      "provided": "users:read,channels:read"}
    assert sandbox.messages() == []


@pytest.mark.parametrize(
    ("method", "kind", "needed"),
    [
        ("conversations.history", "public", "channels:history"),
        ("conversations.history", "private", "groups:history"),
        ("conversations.history", "dm", "im:history"),
        ("conversations.replies", "public", "channels:history"),
        ("conversations.replies", "dm", "im:history"),
        ("conversations.info", "public", "channels:read"),
        ("conversations.info", "private", "groups:read"),
        ("conversations.info", "dm", "im:read"),
    ],
)
def test_conversation_methods_need_the_scope_of_the_conversation_type(client, sandbox, method, kind, needed):
    sandbox.add_channel("C0PRIVATE", "deal-desk", [ALEX], is_private=True)
    channel = {"public": INTERNAL, "private": "C0PRIVATE", "dm": sandbox.dm_channel(ALEX)}[kind]
    ts = client.chat_postMessage(channel=channel, text="x")["ts"]
    everything = ["channels:history", "groups:history", "im:history", "channels:read", "groups:read", "im:read"]
    sandbox.set_scopes([s for s in everything if s != needed])
    answer = missing(lambda: client.api_call(method, params={"channel": channel, "ts": ts}))
    assert (answer["error"], answer["needed"]) == ("missing_scope", needed)
    sandbox.set_scopes(everything)
    assert client.api_call(method, params={"channel": channel, "ts": ts})["ok"]


def test_unknown_channels_are_not_found_whatever_the_scopes(client, sandbox):
    sandbox.set_scopes([])
    with pytest.raises(SlackApiError) as raised:
        client.conversations_history(channel="C0NOPE")
    assert raised.value.response["error"] == "channel_not_found"


def test_the_manifest_grants_what_the_bot_already_calls():
    assert {"chat:write", "users:read", "channels:read", "groups:read", "im:write"} <= set(manifest_scopes())
