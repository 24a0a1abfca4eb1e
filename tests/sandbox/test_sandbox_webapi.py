"""The Web API emulator answers the real slack_sdk WebClient like Slack, limits and errors included."""

from __future__ import annotations

import json
import threading
import time

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.sandbox.conftest import ALEX, DANA, INTERNAL, NORTHWIND, OURS, SAM, SHARED, TOKEN


def error_of(call) -> str:
    with pytest.raises(SlackApiError) as raised:
        call()
    return raised.value.response["error"]


def section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def test_api_url_is_a_base_the_webclient_appends_methods_to(sandbox):
    assert sandbox.api_url.startswith("http://127.0.0.1:") and sandbox.api_url.endswith("/api/")


def test_auth_test_describes_our_bot(client):
    reply = client.auth_test()
    assert (reply["team_id"], reply["user_id"], reply["team"]) == (OURS, "U0BOT", "Acme Software")
    assert reply["bot_id"].startswith("B") and reply["url"].startswith("https://")


def test_a_wrong_or_missing_token_is_refused(sandbox):
    assert error_of(lambda: WebClient(token="xoxb-wrong", base_url=sandbox.api_url).auth_test()) == "invalid_auth"
    assert error_of(lambda: WebClient(base_url=sandbox.api_url).auth_test()) == "not_authed"


def test_post_message_is_stored_and_answered_like_slack(client, sandbox):
    reply = client.chat_postMessage(channel=SHARED, text="New lead", blocks=[section("*Acme* registered")])
    assert reply["channel"] == SHARED and reply["message"]["text"] == "New lead"
    second = client.chat_postMessage(channel=SHARED, text="again")
    assert float(second["ts"]) > float(reply["ts"]) and len(reply["ts"].split(".")[1]) == 6
    stored = sandbox.messages(SHARED)
    assert [m.text for m in stored] == ["New lead", "again"]
    assert stored[0].user == "U0BOT" and stored[0].blocks[0]["text"]["text"] == "*Acme* registered"
    assert stored[0].blocks[0]["block_id"]  # Slack fills in block ids the app left out


def test_form_encoded_blocks_are_decoded(client, sandbox):
    client.api_call("chat.postMessage", params={"channel": INTERNAL, "text": "t", "blocks": json.dumps([section("x")])})
    assert sandbox.messages(INTERNAL)[0].blocks[0]["text"]["text"] == "x"
    assert sandbox.calls("chat.postMessage")[0].args["blocks"][0]["type"] == "section"


def test_posting_to_a_user_id_opens_a_stable_dm(client, sandbox):
    first = client.chat_postMessage(channel=ALEX, text="hi")["channel"]
    opened = client.conversations_open(users=ALEX)["channel"]["id"]
    assert first.startswith("D") and first == opened == sandbox.dm_channel(ALEX)
    assert client.conversations_open(users=SAM)["channel"]["id"] != first
    sandbox.set_scopes([*sandbox.scopes, "im:read"])  # reading a DM's details needs im:read
    assert client.conversations_info(channel=first)["channel"]["is_im"] is True


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"text": "no channel"}, "channel_not_found"),
        ({"channel": "C0NOPE", "text": "x"}, "channel_not_found"),
        ({"channel": "U0NOPE", "text": "x"}, "channel_not_found"),
        ({"channel": INTERNAL}, "no_text"),
        ({"channel": INTERNAL, "text": "x", "blocks": [section("b")] * 51}, "invalid_blocks"),
        ({"channel": INTERNAL, "text": "x", "blocks": [section("y" * 3001)]}, "invalid_blocks"),
    ],
)
def test_post_message_applies_slacks_argument_rules(client, kwargs, error):
    assert error_of(lambda: client.api_call("chat.postMessage", json=kwargs)) == error


def test_limits_are_inclusive(client):
    assert client.chat_postMessage(channel=INTERNAL, text="x", blocks=[section("b")] * 50)["ok"]
    assert client.chat_postMessage(channel=INTERNAL, text="x", blocks=[section("y" * 3000)])["ok"]


def test_invalid_blocks_name_the_offending_field(client):
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel=INTERNAL, text="x", blocks=[section("ok"), section("y" * 3001)])
    assert any("/blocks/1/text/text" in e for e in raised.value.response["errors"])


def test_bot_must_be_in_the_channel(client, sandbox):
    sandbox.add_channel("C0QUIET", "quiet", [ALEX], bot_member=False)
    assert error_of(lambda: client.chat_postMessage(channel="C0QUIET", text="x")) == "not_in_channel"
    assert client.conversations_info(channel="C0QUIET")["channel"]["is_member"] is False


def test_private_channels_are_invisible_to_a_bot_outside_them(client, sandbox):
    sandbox.add_channel("C0DESK", "deal-desk", [ALEX], is_private=True)
    sandbox.add_channel("C0HIDDEN", "hidden", [ALEX], is_private=True, bot_member=False)
    desk = client.conversations_info(channel="C0DESK")["channel"]
    assert (desk["is_private"], desk["is_channel"], desk["is_group"], desk["is_member"]) == (True, True, False, True)
    assert error_of(lambda: client.conversations_info(channel="C0HIDDEN")) == "channel_not_found"
    assert error_of(lambda: client.chat_postMessage(channel="C0HIDDEN", text="x")) == "channel_not_found"


def test_update_changes_the_stored_message(client, sandbox):
    ts = client.chat_postMessage(channel=SHARED, text="pending")["ts"]
    client.chat_update(channel=SHARED, ts=ts, text="approved", blocks=[section("Approved")])
    [message] = sandbox.messages(SHARED)
    assert (message.text, message.blocks[0]["text"]["text"], message.edited) == ("approved", "Approved", True)
    assert error_of(lambda: client.chat_update(channel=SHARED, ts="1.000001", text="x")) == "message_not_found"


def test_threads_are_kept(client, sandbox):
    parent = client.chat_postMessage(channel=SHARED, text="parent")["ts"]
    client.chat_postMessage(channel=SHARED, text="reply", thread_ts=parent)
    assert [m.text for m in sandbox.messages(SHARED, thread_ts=parent)] == ["reply"]
    link = client.chat_getPermalink(channel=SHARED, message_ts=parent)["permalink"]
    assert link.endswith(f"/archives/{SHARED}/p{parent.replace('.', '')}")


def test_ephemerals_are_recorded_apart_for_channel_members_only(client, sandbox):
    reply = client.chat_postEphemeral(channel=SHARED, user=DANA, text="only you")
    assert reply["message_ts"] and sandbox.messages(SHARED) == []
    assert [e.text for e in sandbox.ephemerals(DANA)] == ["only you"] and sandbox.ephemerals(ALEX) == []
    assert error_of(lambda: client.chat_postEphemeral(channel=SHARED, user=SAM, text="x")) == "user_not_in_channel"


def test_users_info_marks_external_people(client):
    alex, dana = client.users_info(user=ALEX)["user"], client.users_info(user=DANA)["user"]
    assert (alex["team_id"], alex["profile"]["email"], alex["tz"]) == (OURS, "alex@acme.test", "America/New_York")
    assert alex["tz_offset"] in (-5 * 3600, -4 * 3600) and "is_stranger" not in alex
    assert dana["team_id"] == NORTHWIND and dana["is_stranger"] is True and dana["is_bot"] is False
    assert error_of(lambda: client.users_info(user="U0NOPE")) == "user_not_found"


def test_conversations_and_team(client):
    shared = client.conversations_info(channel=SHARED)["channel"]
    assert (shared["name"], shared["is_ext_shared"], shared["is_shared"], shared["is_member"]) == (
        "partner-northwind", True, True, True)
    assert client.conversations_info(channel=INTERNAL)["channel"]["is_ext_shared"] is False
    assert set(client.conversations_members(channel=SHARED)["members"]) == {ALEX, DANA, "U0BOT"}
    assert error_of(lambda: client.conversations_info(channel="C0NOPE")) == "channel_not_found"
    assert client.team_info()["team"]["name"] == "Acme Software"
    assert client.team_info(team=NORTHWIND)["team"]["domain"] == "northwind"


def test_unknown_and_unemulated_methods_are_told_apart(client, sandbox):
    with pytest.raises(SlackApiError) as raised:
        client.api_call("chat.postMesage", json={"channel": INTERNAL, "text": "typo"})
    assert raised.value.response.status_code == 404 and raised.value.response["error"] == "unknown_method"
    assert error_of(lambda: client.files_info(file="F0NOPE")) == "not_emulated"
    assert [c.method for c in sandbox.calls()] == ["chat.postMesage", "files.info"]


def test_calls_record_args_and_responses(client, sandbox):
    client.chat_postMessage(channel=INTERNAL, text="hello")
    [call] = sandbox.calls("chat.postMessage")
    assert call.args == {"channel": INTERNAL, "text": "hello"} and call.ok and call.status == 200
    assert call.response["ts"] == sandbox.messages(INTERNAL)[0].ts


def test_concurrent_calls_are_all_recorded(sandbox):
    clients = [WebClient(token=TOKEN, base_url=sandbox.api_url) for _ in range(16)]
    threads = [threading.Thread(target=c.chat_postMessage, kwargs={"channel": INTERNAL, "text": str(i)})
               for i, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({m.ts for m in sandbox.messages(INTERNAL)}) == 16 and len(sandbox.calls()) == 16


def test_round_trips_are_fast(client, sandbox):
    started = time.perf_counter()
    for _ in range(100):
        client.chat_postMessage(channel=INTERNAL, text="x")
    assert (time.perf_counter() - started) / 100 < 0.02
    handling = sorted(c.duration for c in sandbox.calls())
    assert 0 < handling[50] < 0.001  # the emulator's own share is sub-millisecond


def test_wait_for_polls_until_work_after_ack_lands(client, sandbox):
    threading.Timer(0.05, lambda: client.chat_postMessage(channel=INTERNAL, text="later")).start()
    assert sandbox.wait_for(lambda: sandbox.messages(INTERNAL), timeout=2)[0].text == "later"
    with pytest.raises(TimeoutError):
        sandbox.wait_for(lambda: sandbox.messages(SHARED), timeout=0.05)


def test_reset_forgets_traffic_but_keeps_the_directory(client, sandbox):
    client.chat_postMessage(channel=INTERNAL, text="x")
    sandbox.reset()
    assert sandbox.calls() == [] and sandbox.messages() == []
    assert client.users_info(user=DANA)["user"]["id"] == DANA
