"""Message metadata, conversations.history and conversations.replies answer the real WebClient like Slack."""

from __future__ import annotations

import json

import pytest
from slack_sdk.errors import SlackApiError

from bot.sandbox import Message
from bot.sandbox.api_history import HISTORY_LIMIT, REPLIES_LIMIT, _limit, encode_cursor
from tests.sandbox.conftest import ALEX, DANA, INTERNAL, SAM, SHARED

READ_SCOPES = ["channels:history", "groups:history", "im:history"]
EVENT = {"event_type": "lead_registered", "event_payload": {"lead_id": 7, "company": "Acme"}}


@pytest.fixture(autouse=True)
def can_read_history(sandbox):
    """Grant the history scopes on top of the manifest's (scope refusals are tested on their own)."""
    sandbox.set_scopes([*sandbox.scopes, *READ_SCOPES])


def error_of(call) -> str:
    with pytest.raises(SlackApiError) as raised:
        call()
    return raised.value.response["error"]


def post(client, text: str, channel: str = INTERNAL, **kwargs) -> str:
    return client.chat_postMessage(channel=channel, text=text, **kwargs)["ts"]


def person_writes(sandbox, user: str, text: str, channel: str = INTERNAL, thread_ts: str | None = None) -> str:
    """A message a person typed (what the driver stores for a mention), straight into the channel."""
    ts = sandbox.state.next_ts()
    with sandbox.state.lock:
        sandbox.state.messages.setdefault(channel, []).append(Message(channel, ts, text, [], user,
                                                                      thread_ts=thread_ts))
    return ts


# metadata ----------------------------------------------------------------------------------------------
def test_metadata_is_stored_and_echoed_by_post_message(client, sandbox):
    reply = client.chat_postMessage(channel=INTERNAL, text="Lead registered", metadata=EVENT)
    assert reply["message"]["metadata"] == EVENT
    assert sandbox.messages(INTERNAL)[0].metadata == EVENT


def test_form_callers_send_metadata_as_a_json_string(client, sandbox):
    client.api_call("chat.postMessage", params={"channel": INTERNAL, "text": "t", "metadata": json.dumps(EVENT)})
    assert sandbox.messages(INTERNAL)[0].metadata == EVENT


@pytest.mark.parametrize(
    ("metadata", "error"),
    [
        ("{not json", "invalid_metadata_format"),
        ([EVENT], "invalid_metadata_format"),
        ({"event_type": "lead registered", "event_payload": {}}, "invalid_metadata_schema"),
        ({"event_type": "x" * 256, "event_payload": {}}, "invalid_metadata_schema"),
        ({"event_type": "", "event_payload": {}}, "invalid_metadata_schema"),
        ({"event_type": "lead_registered", "event_payload": "7"}, "invalid_metadata_schema"),
        ({"event_type": "lead_registered"}, "invalid_metadata_schema"),
    ],
)
def test_malformed_metadata_is_refused_and_nothing_is_posted(client, sandbox, metadata, error):
    body = {"channel": INTERNAL, "text": "t", "metadata": metadata}
    assert error_of(lambda: client.api_call("chat.postMessage", json=body)) == error
    assert sandbox.messages(INTERNAL) == []


def test_event_type_may_be_255_characters(client):
    assert client.chat_postMessage(channel=INTERNAL, text="t", metadata={"event_type": "x" * 255,
                                                                         "event_payload": {}})["ok"]


def test_history_shows_metadata_only_when_asked(client):
    post(client, "Lead registered", metadata=EVENT)
    assert "metadata" not in client.conversations_history(channel=INTERNAL)["messages"][0]
    asked = client.conversations_history(channel=INTERNAL, include_all_metadata=True)["messages"][0]
    assert asked["metadata"] == EVENT


# conversations.history ---------------------------------------------------------------------------------
def test_history_is_newest_first_with_slacks_message_fields(client, sandbox):
    first = post(client, "first")
    said = person_writes(sandbox, ALEX, "thanks")
    reply = client.conversations_history(channel=INTERNAL)
    assert [m["ts"] for m in reply["messages"]] == [said, first]
    assert reply["has_more"] is False and reply["pin_count"] == 0
    assert reply["response_metadata"]["next_cursor"] == ""
    bot, person = reply["messages"][1], reply["messages"][0]
    assert (bot["type"], bot["user"], bot["text"], bot["bot_id"]) == ("message", "U0BOT", "first", sandbox.state.bot_id)
    assert bot["blocks"] == [] and "thread_ts" not in bot
    assert person["user"] == ALEX and "bot_id" not in person


def test_history_hides_thread_replies_but_shows_broadcasts_and_counts_replies(client, sandbox):
    parent = post(client, "Lead: Acme")
    post(client, "approved", thread_ts=parent)
    person_writes(sandbox, SAM, "nice", thread_ts=parent)
    broadcast = post(client, "to everyone", thread_ts=parent, reply_broadcast=True)
    messages = client.conversations_history(channel=INTERNAL)["messages"]
    assert [m["ts"] for m in messages] == [broadcast, parent]
    shown = messages[0]
    assert shown["subtype"] == "thread_broadcast" and shown["thread_ts"] == parent
    assert shown["root"]["ts"] == parent
    head = messages[1]
    assert (head["thread_ts"], head["reply_count"], head["latest_reply"]) == (parent, 3, broadcast)
    assert head["reply_users"] == ["U0BOT", SAM] and head["reply_users_count"] == 2


def test_history_pages_with_real_cursors(client):
    posted = [post(client, f"m{i}") for i in range(5)]
    first = client.conversations_history(channel=INTERNAL, limit=2)
    assert [m["ts"] for m in first["messages"]] == posted[:-3:-1] and first["has_more"] is True
    cursor = first["response_metadata"]["next_cursor"]
    assert cursor == encode_cursor(posted[2])
    # WebClient follows next_cursor; each page reuses one response object, so keep each page's data.
    pages = [page.data for page in client.conversations_history(channel=INTERNAL, limit=2)]
    assert [m["ts"] for page in pages for m in page["messages"]] == posted[::-1]
    assert [page["has_more"] for page in pages] == [True, True, False]


def test_history_window_oldest_latest_inclusive(client):
    ts = [post(client, f"m{i}") for i in range(4)]

    def window(**kwargs):
        return [m["ts"] for m in client.conversations_history(channel=INTERNAL, **kwargs)["messages"]]

    assert window(oldest=ts[1]) == [ts[3], ts[2]]
    assert window(oldest=ts[1], inclusive=True) == [ts[3], ts[2], ts[1]]
    assert window(latest=ts[2]) == [ts[1], ts[0]]
    assert window(oldest=ts[0], latest=ts[3], inclusive=True) == ts[::-1]
    assert window(oldest=ts[0], latest=ts[3]) == [ts[2], ts[1]]


def test_history_limit_defaults_and_clamps_like_slack():
    assert HISTORY_LIMIT == (100, 999) and _limit({}, *HISTORY_LIMIT) == 100
    assert _limit({"limit": 5000}, *HISTORY_LIMIT) == 999 and _limit({"limit": "0"}, *HISTORY_LIMIT) == 100
    assert _limit({"limit": "20"}, *REPLIES_LIMIT) == 20 and _limit({}, *REPLIES_LIMIT) == 1000


def test_history_of_a_dm_the_bot_posted_to_by_user_id(client, sandbox):
    ts = post(client, "Your lead was approved", channel=ALEX)
    dm = client.conversations_open(users=ALEX)["channel"]["id"]
    messages = client.conversations_history(channel=dm)["messages"]
    assert [(m["ts"], m["text"]) for m in messages] == [(ts, "Your lead was approved")]
    # Slack wants the conversation id here, not the user's.
    assert error_of(lambda: client.conversations_history(channel=ALEX)) == "channel_not_found"


def test_history_errors(client, sandbox):
    sandbox.add_channel("C0QUIET", "quiet", [ALEX], bot_member=False)
    sandbox.add_channel("C0SECRET", "secret", [ALEX], bot_member=False, is_private=True)
    assert error_of(lambda: client.conversations_history(channel="C0NOPE")) == "channel_not_found"
    assert error_of(lambda: client.conversations_history(channel="C0QUIET")) == "not_in_channel"
    assert error_of(lambda: client.conversations_history(channel="C0SECRET")) == "channel_not_found"
    assert error_of(lambda: client.conversations_history(channel=INTERNAL, cursor="bm9wZQ==")) == "invalid_cursor"
    assert error_of(lambda: client.conversations_history(channel=INTERNAL, oldest="yesterday")) == \
        "invalid_ts_oldest"


def test_history_of_a_shared_channel_includes_partners(client, sandbox):
    said = person_writes(sandbox, DANA, "our lead", channel=SHARED)
    messages = client.conversations_history(channel=SHARED)["messages"]
    assert [(m["ts"], m["user"], m["team"]) for m in messages] == [(said, DANA, "T0NORTH")]


# conversations.replies ---------------------------------------------------------------------------------
def thread(client, sandbox) -> tuple[str, list[str]]:
    parent = post(client, "Lead: Acme")
    replies = [post(client, "approved", thread_ts=parent), person_writes(sandbox, SAM, "nice", thread_ts=parent),
               post(client, "synced", thread_ts=parent)]
    post(client, "unrelated")
    return parent, replies


def test_replies_are_parent_then_replies_oldest_first(client, sandbox):
    parent, replies = thread(client, sandbox)
    reply = client.conversations_replies(channel=INTERNAL, ts=parent)
    assert [m["ts"] for m in reply["messages"]] == [parent, *replies] and reply["has_more"] is False
    head, first = reply["messages"][0], reply["messages"][1]
    assert head["reply_count"] == 3 and head["thread_ts"] == parent
    assert first["thread_ts"] == parent and first["parent_user_id"] == "U0BOT"
    # A reply's ts names its whole thread too.
    assert [m["ts"] for m in client.conversations_replies(channel=INTERNAL, ts=replies[1])["messages"]] == \
        [parent, *replies]


def test_replies_page_without_repeating_the_parent(client, sandbox):
    parent, replies = thread(client, sandbox)
    pages = [page.data for page in client.conversations_replies(channel=INTERNAL, ts=parent, limit=2)]
    assert [[m["ts"] for m in page["messages"]] for page in pages] == [[parent, replies[0]], replies[1:]]
    assert [page["has_more"] for page in pages] == [True, False]


def test_replies_window_keeps_the_parent(client, sandbox):
    parent, replies = thread(client, sandbox)
    newer = client.conversations_replies(channel=INTERNAL, ts=parent, oldest=replies[0])["messages"]
    assert [m["ts"] for m in newer] == [parent, *replies[1:]]


def test_replies_of_a_message_without_thread_is_that_message(client):
    ts = post(client, "alone")
    assert [m["ts"] for m in client.conversations_replies(channel=INTERNAL, ts=ts)["messages"]] == [ts]


def test_replies_errors(client, sandbox):
    parent, _ = thread(client, sandbox)
    assert error_of(lambda: client.conversations_replies(channel=INTERNAL, ts="1.000001")) == "thread_not_found"
    assert error_of(lambda: client.conversations_replies(channel=SHARED, ts=parent)) == "thread_not_found"
    assert error_of(lambda: client.conversations_replies(channel="C0NOPE", ts=parent)) == "channel_not_found"
    assert error_of(lambda: client.api_call("conversations.replies", params={"channel": INTERNAL})) == \
        "invalid_arguments"


def test_replies_show_metadata_only_when_asked(client):
    parent = post(client, "Lead", metadata=EVENT)
    post(client, "approved", thread_ts=parent, metadata={"event_type": "lead_approved", "event_payload": {}})
    plain = client.conversations_replies(channel=INTERNAL, ts=parent)["messages"]
    asked = client.conversations_replies(channel=INTERNAL, ts=parent, include_all_metadata=True)["messages"]
    assert all("metadata" not in m for m in plain)
    assert [m["metadata"]["event_type"] for m in asked] == ["lead_registered", "lead_approved"]
