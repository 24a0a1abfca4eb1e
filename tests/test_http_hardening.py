"""Every request to /slack/events gets a 4xx or Bolt's normal answer, never a 500, and malformed ones change nothing."""

from __future__ import annotations

import copy
import json
import time
from contextlib import contextmanager
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select
from sqlmodel import SQLModel

from bot.sandbox.driver import sign
from handlers.ids import Action, Block, Callback, Command, Event

FORM = "application/x-www-form-urlencoded"
USER = {"id": "U0ALEX", "username": "alex", "team_id": "T0OURS"}
TEAM = {"id": "T0OURS", "domain": "acmesoftware"}
BASE = {
    "block_actions": {
        "type": "block_actions", "user": USER, "team": TEAM, "api_app_id": "A0PARTNERBOT", "trigger_id": "1.2.abc",
        "container": {"type": "message", "channel_id": "C0NORTH", "message_ts": "1.000001"},
        "channel": {"id": "C0NORTH", "name": "partner-northwind"},
        "actions": [{"type": "button", "action_id": Action.accept.value, "block_id": Block.review_actions.value,
                     "value": "1", "action_ts": "1.1"}],
    },
    "view_submission": {
        "type": "view_submission", "user": USER, "team": TEAM, "api_app_id": "A0PARTNERBOT", "trigger_id": "1.2.abc",
        "view": {"id": "V0X", "type": "modal", "callback_id": Callback.reject_reason.value, "private_metadata": "1",
                 "state": {"values": {Block.reason.value: {"reason": {"type": "plain_text_input", "value": "no"}}}}},
        "response_urls": [],
    },
    "block_suggestion": {
        "type": "block_suggestion", "user": USER, "team": TEAM, "api_app_id": "A0PARTNERBOT",
        "action_id": Action.choose_partner.value, "block_id": Block.partner.value, "value": "north",
        "container": {"type": "view", "view_id": "V0X"},
    },
    "event_callback": {
        "type": "event_callback", "team_id": "T0OURS", "api_app_id": "A0PARTNERBOT", "event_id": "Ev0BASE",
        "event_time": 1, "authorizations": [{"team_id": "T0OURS", "user_id": "U0BOT", "is_bot": True}],
        "event": {"type": Event.app_mention.value, "user": "U0ALEX", "text": "<@U0BOT> lead", "ts": "1.000002",
                  "channel": "C0NORTH", "event_ts": "1.000002", "tab": "home",  # the fields of every event we handle
                  "old_channel_id": "C0NORTH", "new_channel_id": "C0NORTH"},
    },
}


def row_counts(engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {t.name: connection.execute(select(func.count()).select_from(t)).scalar_one()
                for t in SQLModel.metadata.sorted_tables}


def signed_headers(bot, body: bytes, content_type: str = FORM, timestamp: str | None = None) -> dict:
    timestamp = timestamp or str(int(time.time()))
    return {"Content-Type": content_type, "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": sign(bot.sandbox.signing_secret, timestamp, body)}


def send_payload(bot, payload) -> object:
    return bot.driver.send(urlencode({"payload": json.dumps(payload)}).encode(), FORM)


def send_event(bot, envelope) -> object:
    return bot.driver.send(json.dumps(envelope).encode(), "application/json")


def variant(kind: str, path: str, value) -> dict:
    """BASE[kind] with the field at dotted `path` replaced by `value` (or removed when value is ...)."""
    return _apply(BASE[kind], path, value)


def _apply(payload: dict, path: str, value) -> dict:
    payload = copy.deepcopy(payload)
    *parents, last = path.split(".")
    node = payload
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    key = int(last) if isinstance(node, list) else last
    if value is ...:
        node.pop(key, None)
    else:
        node[key] = value
    return payload


# -- refused before the body is looked at -------------------------------------------------------------

def test_unsigned_forged_stale_and_non_numeric_timestamps_get_401(bot, caplog):
    before = row_counts(bot.engine)
    body = urlencode({"payload": json.dumps(BASE["block_actions"])}).encode()
    assert bot.driver.raw(body, {"Content-Type": FORM}).status == 401
    assert bot.driver.send(body, FORM, forge=True).status == 401
    assert bot.driver.send(body, FORM, stale=True).status == 401
    for timestamp in ("abc", "", "1e9", "-5", " 1"):
        headers = dict(signed_headers(bot, body), **{"X-Slack-Request-Timestamp": timestamp})
        reply = bot.driver.raw(body, headers)
        assert reply.status == 401, timestamp
        assert "Traceback" not in reply.text
    assert row_counts(bot.engine) == before
    assert bot.sandbox.signing_secret not in caplog.text


def test_an_unsigned_body_that_is_not_json_is_refused_as_unsigned(bot):
    assert bot.driver.raw(b"payload=%7Bnot json", {"Content-Type": FORM}).status == 401
    assert bot.driver.raw(b"{not json", {"Content-Type": "application/json"}).status == 401


def test_a_body_over_one_megabyte_gets_400_signed_or_not(bot):
    before = row_counts(bot.engine)
    big = b"payload=" + b"x" * (1024 * 1024)
    assert bot.driver.raw(big, {"Content-Type": FORM}).status == 400
    reply = bot.driver.raw(big, signed_headers(bot, big))
    assert reply.status == 400 and "Traceback" not in reply.text
    assert row_counts(bot.engine) == before


# -- signed but malformed -------------------------------------------------------------------------------

@pytest.mark.parametrize("body,content_type", [
    (b"payload=%7Bnot json", FORM),
    (b"{not json", "application/json"),
    (b"[1, 2]", "application/json"),
    (b"payload=%5B1%5D", FORM),  # a payload that is JSON but not an object
    (b"payload=%22text%22", FORM),
    (b"hello=world", FORM),  # a form with neither payload nor command
    (b"", FORM),
    (b"\xff\xfe\x00", FORM),  # not UTF-8
    (json.dumps({"type": "no_such_type", "user": USER}).encode(), "application/json"),
    (urlencode({"payload": json.dumps({"type": "no_such_type", "user": USER})}).encode(), FORM),
    (urlencode({"payload": json.dumps({"user": USER})}).encode(), FORM),  # no type at all
    (json.dumps({"authorizations": "x", "type": "event_callback", "event": {"type": "app_mention"}}).encode(),
     "application/json"),
])
def test_signed_malformed_bodies_get_400_and_change_nothing(bot, body, content_type):
    before = row_counts(bot.engine)
    reply = bot.driver.raw(body, signed_headers(bot, body, content_type))
    assert reply.status == 400
    assert "Traceback" not in reply.text
    assert row_counts(bot.engine) == before


@pytest.mark.parametrize("kind,path,value", [
    ("block_actions", "user", "U0ALEX"),
    ("block_actions", "actions", "review_accept"),
    ("block_actions", "actions.0", "review_accept"),
    ("block_actions", "actions.0.value", 1),
    ("block_actions", "channel", "C0NORTH"),
    ("block_actions", "team", "T0OURS"),
    ("view_submission", "view", "V0X"),
    ("view_submission", "view.state.values", ["reason"]),
    ("view_submission", "view.state.values.reason", "no"),
    ("view_submission", "view.state.values.reason.reason", "no"),
    ("view_submission", "view.private_metadata", 1),
    ("block_suggestion", "value", {"text": "north"}),
    ("event_callback", "event", "app_mention"),
    ("event_callback", "event.type", 1),
])
def test_mistyped_fields_get_400_and_change_nothing(bot, kind, path, value):
    before = row_counts(bot.engine)
    payload = variant(kind, path, value)
    reply = send_event(bot, payload) if kind == "event_callback" else send_payload(bot, payload)
    assert reply.status == 400, reply.text
    assert row_counts(bot.engine) == before


def test_semantically_wrong_values_get_bolts_normal_answer_and_change_nothing(bot):
    before = row_counts(bot.engine)
    not_an_id = variant("block_actions", "actions.0.value", "REG-00001; DROP TABLE")
    assert send_payload(bot, not_an_id).status == 200
    unknown_id = variant("block_actions", "actions.0.value", "999999")
    assert send_payload(bot, unknown_id).status == 200
    assert row_counts(bot.engine) == before


def test_reject_reason_with_a_non_numeric_private_metadata_changes_nothing(bot):
    before = row_counts(bot.engine)
    reply = send_payload(bot, variant("view_submission", "view.private_metadata", "not-a-registration"))
    assert reply.status < 500
    assert row_counts(bot.engine) == before


# -- a listener that raises before it acks ---------------------------------------------------------------

def test_a_listener_failing_before_its_ack_gets_an_apology_not_a_500(bot, monkeypatch):
    import handlers.partner

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    bot.driver.bot_joined("C0NORTH")
    monkeypatch.setattr(handlers.partner, "deals_for", broken)
    reply = bot.driver.command("U0ALEX", "/partner", "deals")  # fails after its ack: Slack has the ack
    assert reply.status == 200 and "Traceback" not in reply.text
    import handlers.leads

    monkeypatch.setattr(handlers.leads, "parse_view_state", broken)  # the submission fails before it acks
    submitted = send_payload(bot, variant("view_submission", "view.callback_id", Callback.lead_registration.value))
    assert submitted.status == 400 and "database went away" not in submitted.text
    assert any("Sorry, something went wrong" in m.text for m in bot.sandbox.messages(
        bot.sandbox.dm_channel("U0ALEX")))


class HandlerCrashed(Exception):
    """The request was answered without a 500, but a listener in handlers/ raised on it."""


# -- sweep: every listener, fed wrong types --------------------------------------------------------------

# Crashes inside handlers/*.py: answered without a 500 (and the user is told sorry), but the listener raises.
HANDLER_CRASHES: dict[str, str] = {
    # "<test id>": "handlers/<file>.py: what crashes" -> marked xfail(strict=True) until fixed there
}


def _id(listener: str, path: str, value) -> str:
    return f"{listener}-{path}-" + ("missing" if value is ... else repr(value))


def _interaction_variants():
    for param in _variants():
        reason = HANDLER_CRASHES.get(param.id)
        yield pytest.param(*param.values, id=param.id, marks=[pytest.mark.xfail(
            reason=reason, strict=True, raises=HandlerCrashed)] if reason else [])


def _variants():
    for action in Action:
        base = "block_suggestion" if action in (Action.choose_partner, Action.choose_country) else "block_actions"
        field = "action_id" if base == "block_suggestion" else "actions.0.action_id"
        for path, value in (("user", ["U0ALEX"]), ("user.id", 7), ("user", ...), ("trigger_id", ...),
                            ("channel", ...), ("team", None)):
            yield pytest.param(base, [(field, action.value), (path, value)], id=_id(action.value, path, value))
    for callback in Callback:
        for path, value in (("view.state", ...), ("view.state.values", {}), ("view.private_metadata", "x"),
                            ("view.private_metadata", ...), ("user", ...), ("team", None)):
            yield pytest.param("view_submission", [("view.callback_id", callback.value), (path, value)],
                               id=_id(callback.value, path, value))
    for event in Event:
        for path, value in (("event.user", {"id": "U0ALEX"}), ("event.text", 5), ("event.channel", ...),
                            ("event.channel", {"id": "C0NORTH"}), ("event.tab", 1), ("event.user", ...),
                            ("event.old_channel_id", ...)):
            yield pytest.param("event_callback", [("event.type", event.value), (path, value)],
                               id=_id(event.value, path, value))


@pytest.mark.parametrize("kind,changes", list(_interaction_variants()))
def test_sweep_no_listener_answers_500_to_wrong_types(bot, caplog, kind, changes):
    payload = BASE[kind]
    for path, value in changes:
        payload = _apply(payload, path, value)
    if "trigger_id" in payload and isinstance(payload.get("user"), dict):  # one the sandbox issued, so views.open accepts it as Slack would
        payload["trigger_id"] = bot.sandbox.state.issue_trigger(payload["user"]["id"])
    reply = send_event(bot, payload) if kind == "event_callback" else send_payload(bot, payload)
    assert reply.status < 500, reply.text
    assert "Traceback" not in reply.text
    if "listener failed" in caplog.text:
        raise HandlerCrashed(caplog.text.split("Traceback")[-1][-300:])


@pytest.mark.parametrize("fields", [
    {"command": Command.lead.value},  # nothing else
    {"command": Command.lead.value, "user_id": "U0ALEX"},  # no trigger_id
    {"command": Command.partner.value, "user_id": "U0ALEX", "text": "usage REG-x 13-2026 -1e999"},
    {"command": Command.partner.value, "user_id": "U0NOBODY", "text": "deals", "channel_id": ""},
    {"command": "/unknown", "user_id": "U0ALEX"},
])
def test_sweep_commands_with_missing_fields_never_500(bot, fields):
    reply = bot.driver.send(urlencode(fields).encode(), FORM)
    assert reply.status < 500, reply.text




def test_every_signed_request_is_answered_with_background_work_told_to_make_way(bot, engine, monkeypatch):
    """As soon as a request is signed and well formed, the endpoint tells background work a request is being
    answered (storage.ack_hands.answering) until its answer is ready: a form or a button may write before its ack (on
    SQLite it raises a hand for the write lock), and on PostgreSQL every request holds background work back.
    Forged requests tell nothing."""
    answering, handled = [], []

    @contextmanager
    def recording(on, *, may_write):
        answering.append((on, may_write))
        yield
        handled.append(len(answering))  # the answer was ready inside it

    monkeypatch.setattr("bot.server.answering", recording)
    assert send_payload(bot, BASE["view_submission"]).status == 200
    assert send_payload(bot, BASE["block_actions"]).status == 200
    send_payload(bot, BASE["block_suggestion"])
    send_event(bot, BASE["event_callback"])
    assert answering == [(engine, True), (engine, True), (engine, False), (engine, False)]
    assert handled == [1, 2, 3, 4]
    body = urlencode({"payload": json.dumps(BASE["block_actions"])}).encode()
    assert bot.driver.raw(body, dict(signed_headers(bot, body), **{"X-Slack-Signature": "v0=forged"})).status == 401
    assert len(answering) == 4
