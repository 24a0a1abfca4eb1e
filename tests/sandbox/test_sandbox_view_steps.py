"""Modals in steps, as Slack runs them: a submission answered with a new view, the close button (view_closed
only when the view asked for it), options the app offered echoed back, and the transcript showing what was typed."""

from __future__ import annotations

import pytest
from slack_bolt import App
from slack_sdk import WebClient

from bot.sandbox import AppServer
from bot.sandbox.transcript import Directory, render_inbound
from tests.sandbox.conftest import ALEX, INTERNAL, SECRET, TOKEN


def _input(block_id: str, label: str, element: dict, optional: bool = False) -> dict:
    return {"type": "input", "block_id": block_id, "optional": optional,
            "label": {"type": "plain_text", "text": label}, "element": {"action_id": block_id, **element}}


FIRST = {
    "type": "modal", "callback_id": "first", "title": {"type": "plain_text", "text": "Register"},
    "submit": {"type": "plain_text", "text": "Next"},
    "blocks": [_input("company", "Company", {"type": "plain_text_input", "initial_value": "Acme"}),
               _input("country", "Country", {"type": "external_select"})],
}
SECOND = {
    "type": "modal", "callback_id": "second", "title": {"type": "plain_text", "text": "Details"},
    "submit": {"type": "plain_text", "text": "Save"}, "close": {"type": "plain_text", "text": "Skip"},
    "notify_on_close": True,
    "blocks": [_input("size", "Size", {"type": "static_select", "options": [
        {"text": {"type": "plain_text", "text": "Large"}, "value": "l"}]}, optional=True)],
}


@pytest.fixture
def seen() -> list:
    return []


@pytest.fixture
def driver(sandbox, seen):
    app = App(signing_secret=SECRET, client=WebClient(token=TOKEN, base_url=sandbox.api_url),
              process_before_response=True)

    @app.command("/steps")
    def open_first(ack, body, client):
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=dict(FIRST, notify_on_close=body["text"] == "notify"))

    @app.options("country")
    def countries(ack):
        ack(options=[{"text": {"type": "plain_text", "text": "Germany · EMEA"}, "value": "DE"}])

    @app.view("first")
    def first(ack, view):
        seen.append(("submitted", view["state"]["values"]["country"]["country"]["selected_option"]))
        ack(response_action="update", view=SECOND)

    @app.view_closed("first")
    @app.view_closed("second")
    def closed(ack, body):
        ack()
        seen.append(("closed", body["view"]["callback_id"], body["is_cleared"]))

    with AppServer(app) as server:
        yield sandbox.driver(server.url)


def test_a_step_answered_with_update_then_skipped_tells_the_app(driver, sandbox, seen):
    driver.command(ALEX, "/steps", channel_id=INTERNAL)
    modal = sandbox.open_modal(ALEX)
    driver.suggest(ALEX, modal.id, "country", "germ")
    answer = driver.submit(ALEX, modal.id, {"country": "DE"})
    assert answer.json["response_action"] == "update"
    # Slack echoes the option as the app offered it, text and all.
    assert seen == [("submitted", {"text": {"type": "plain_text", "text": "Germany · EMEA"}, "value": "DE"})]
    step = sandbox.open_modal(ALEX)
    assert (step.id, step.callback_id) == (modal.id, "second")
    assert driver.close(ALEX, step.id).status == 200
    assert seen[-1] == ("closed", "second", False) and sandbox.open_modal(ALEX) is None

    lines = [line for entry in sandbox.state.inbound for line in render_inbound(Directory.of(sandbox.state), entry)]
    assert '  ▭ Alex Kim (AE) submitted "Register"' in lines
    assert "      Company: Acme" in lines and "      Country: Germany · EMEA" in lines  # what was typed or chosen
    assert '  ▭ modal updated "Details"' in lines and "    [Save] [Skip]" in lines  # the view the app answered
    assert '  ▭ Alex Kim (AE) closed "Details" with [Skip]' in lines


def test_closing_a_view_that_did_not_ask_sends_nothing(driver, sandbox, seen):
    driver.command(ALEX, "/steps", channel_id=INTERNAL)
    modal = sandbox.open_modal(ALEX)
    assert driver.close(ALEX, modal.id) is None and seen == [] and sandbox.open_modal(ALEX) is None
    driver.command(ALEX, "/steps", "notify", channel_id=INTERNAL)
    assert driver.close(ALEX, sandbox.open_modal(ALEX).id).status == 200 and seen == [("closed", "first", False)]
