"""views.* with triggers and Block Kit limits, and fault injection (429, 5xx, ok:false)."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import RateLimitErrorRetryHandler

from bot.sandbox import SandboxError
from tests.sandbox.conftest import ALEX, INTERNAL, TOKEN


def modal(title: str = "Register a lead", blocks: list | None = None, **extra) -> dict:
    return {
        "type": "modal",
        "callback_id": "lead_modal",
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Register"},
        "blocks": blocks if blocks is not None else [
            {"type": "input", "block_id": "company", "label": {"type": "plain_text", "text": "Company"},
             "element": {"type": "plain_text_input", "action_id": "value"}}],
        **extra,
    }


def error_of(call) -> str:
    with pytest.raises(SlackApiError) as raised:
        call()
    return raised.value.response["error"]


def test_views_open_needs_a_fresh_trigger_used_once(client, sandbox):
    trigger = sandbox.issue_trigger(ALEX)
    view = client.views_open(trigger_id=trigger, view=modal(private_metadata="lead:1"))["view"]
    assert view["id"].startswith("V") and view["callback_id"] == "lead_modal"
    assert view["private_metadata"] == "lead:1" and view["state"] == {"values": {}} and view["hash"]
    assert sandbox.open_modal(ALEX).id == view["id"]
    assert error_of(lambda: client.views_open(trigger_id=trigger, view=modal())) == "exchanged_trigger_id"
    assert error_of(lambda: client.views_open(trigger_id="123.456.abc", view=modal())) == "invalid_trigger_id"
    expired = sandbox.issue_trigger(ALEX, age=3.5)
    assert error_of(lambda: client.views_open(trigger_id=expired, view=modal())) == "expired_trigger_id"


@pytest.mark.parametrize(
    "view",
    [
        modal(title="x" * 25),
        modal(private_metadata="m" * 3001),
        modal(blocks=[{"type": "divider"}] * 101),
        {k: v for k, v in modal().items() if k != "submit"},  # inputs need a submit button
    ],
)
def test_views_open_applies_view_limits(client, sandbox, view):
    assert error_of(lambda: client.views_open(trigger_id=sandbox.issue_trigger(ALEX), view=view)) == \
        "invalid_arguments"


def test_view_limits_are_inclusive(client, sandbox):
    view = modal(title="x" * 24, private_metadata="m" * 3000, blocks=[{"type": "divider"}] * 100)
    assert client.views_open(trigger_id=sandbox.issue_trigger(ALEX), view=view)["ok"]


def test_views_update_and_push(client, sandbox):
    opened = client.views_open(trigger_id=sandbox.issue_trigger(ALEX), view=modal())["view"]
    updated = client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal(title="Step 2"))["view"]
    assert sandbox.view(opened["id"]).title == "Step 2" and updated["hash"] != opened["hash"]
    stale_hash = lambda: client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal())  # noqa: E731
    assert error_of(stale_hash) == "hash_conflict"
    assert error_of(lambda: client.views_update(view_id="V0NOPE", view=modal())) == "not_found"
    pushed = client.views_push(trigger_id=sandbox.issue_trigger(ALEX), view=modal(title="Details"))["view"]
    assert pushed["previous_view_id"] == opened["id"] and pushed["root_view_id"] == opened["id"]


def test_views_publish_sets_the_home_tab(client, sandbox):
    home = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Your leads"}}]}
    client.views_publish(user_id=ALEX, view=home)
    assert sandbox.home(ALEX).blocks[0]["text"]["text"] == "Your leads"
    assert error_of(lambda: client.views_publish(user_id="U0NOPE", view=home)) == "user_not_found"


def test_rate_limit_answers_429_with_retry_after(client, sandbox):
    sandbox.fail("chat.postMessage", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel=INTERNAL, text="x")
    assert raised.value.response.status_code == 429 and raised.value.response["error"] == "ratelimited"
    assert raised.value.response.headers["Retry-After"] in ("7", ["7"])
    assert client.chat_postMessage(channel=INTERNAL, text="x")["ok"]  # times=1: the next one passes


def test_rate_limit_retry_handler_recovers(sandbox):
    client = WebClient(token=TOKEN, base_url=sandbox.api_url, retry_handlers=[RateLimitErrorRetryHandler()])
    sandbox.fail("chat.postMessage", status=429, retry_after=0)
    assert client.chat_postMessage(channel=INTERNAL, text="once")["ok"]
    assert [c.status for c in sandbox.calls("chat.postMessage")] == [429, 200]
    assert [m.text for m in sandbox.messages(INTERNAL)] == ["once"]


def test_error_and_server_faults(client, sandbox):
    sandbox.fail("users.info", error="internal_error", times=2)
    sandbox.fail("chat.update", status=500)
    assert error_of(lambda: client.users_info(user=ALEX)) == "internal_error"
    assert error_of(lambda: client.users_info(user=ALEX)) == "internal_error"
    assert client.users_info(user=ALEX)["ok"]
    with pytest.raises(SlackApiError) as raised:
        client.chat_update(channel=INTERNAL, ts="1.1", text="x")
    assert raised.value.response.status_code == 500


def test_fail_refuses_methods_slack_does_not_have(sandbox):
    with pytest.raises(SandboxError):
        sandbox.fail("chat.postMesage", status=429)


def test_untouched_prefilled_inputs_are_submitted_with_their_initial_values():
    from bot.sandbox.payloads import initial_value

    assert initial_value({"type": "plain_text_input", "initial_value": "acme.com"}) == "acme.com"
    assert initial_value({"type": "static_select", "initial_option": {"value": "USD", "text": {}}}) == "USD"
    assert initial_value({"type": "plain_text_input"}) is None


def test_an_untouched_select_is_submitted_with_the_initial_option_the_app_gave():
    from bot.sandbox.payloads import submission_values
    from bot.sandbox.state import View

    germany = {"text": {"type": "plain_text", "text": "Germany · EMEA"}, "value": "DE"}
    blocks = [{"type": "input", "block_id": "country",
               "element": {"type": "external_select", "action_id": "country", "initial_option": germany}},
              {"type": "input", "block_id": "company",
               "element": {"type": "plain_text_input", "action_id": "company", "initial_value": "Acme"}}]
    view = View(id="V1", user="U1", type="modal", title="Edit", blocks=blocks, callback_id="edit",
                private_metadata="", external_id="", hash="h", root_view_id="V1")
    assert submission_values(view, {}) == {
        "country": {"country": {"type": "external_select", "selected_option": germany}},
        "company": {"company": {"type": "plain_text_input", "value": "Acme"}}}
    typed = submission_values(view, {"company": "Hooli"})
    assert typed["company"]["company"]["value"] == "Hooli" and typed["country"]["country"]["selected_option"] == germany
