"""The driver's signed requests are accepted by a real Bolt app over HTTP, with the context Slack would give."""

from __future__ import annotations

import json
import time
from datetime import date

import pytest
from slack_bolt import App
from slack_sdk import WebClient

from bot.sandbox import AppServer, SandboxError
from tests.sandbox.conftest import ALEX, DANA, INTERNAL, NORTHWIND, OURS, SECRET, SHARED, TOKEN

LEAD_MODAL = {
    "type": "modal",
    "callback_id": "lead_modal",
    "private_metadata": "channel=C0PARTNER",
    "title": {"type": "plain_text", "text": "Register a lead"},
    "submit": {"type": "plain_text", "text": "Register"},
    "blocks": [
        {"type": "input", "block_id": "company", "label": {"type": "plain_text", "text": "Company"},
         "element": {"type": "plain_text_input", "action_id": "value"}},
        {"type": "input", "block_id": "email", "label": {"type": "plain_text", "text": "Email"},
         "element": {"type": "email_text_input", "action_id": "value"}},
        {"type": "input", "block_id": "size", "label": {"type": "plain_text", "text": "Seats"},
         "element": {"type": "number_input", "action_id": "value", "is_decimal_allowed": False}},
        {"type": "input", "block_id": "stage", "label": {"type": "plain_text", "text": "Stage"},
         "element": {"type": "static_select", "action_id": "value", "options": [
             {"text": {"type": "plain_text", "text": "New"}, "value": "new"},
             {"text": {"type": "plain_text", "text": "Qualified"}, "value": "qualified"}]}},
        {"type": "input", "block_id": "account", "label": {"type": "plain_text", "text": "Account"},
         "element": {"type": "external_select", "action_id": "account_search", "min_query_length": 2}},
        {"type": "input", "block_id": "kind", "label": {"type": "plain_text", "text": "Kind"},
         "element": {"type": "radio_buttons", "action_id": "value", "options": [
             {"text": {"type": "plain_text", "text": "Sourced"}, "value": "sourced"},
             {"text": {"type": "plain_text", "text": "Influenced"}, "value": "influenced"}]}},
        {"type": "input", "block_id": "flags", "optional": True, "label": {"type": "plain_text", "text": "Flags"},
         "element": {"type": "checkboxes", "action_id": "value", "options": [
             {"text": {"type": "plain_text", "text": "Urgent"}, "value": "urgent"},
             {"text": {"type": "plain_text", "text": "Co-sell"}, "value": "cosell"}]}},
        {"type": "input", "block_id": "close", "optional": True, "label": {"type": "plain_text", "text": "Close"},
         "element": {"type": "datepicker", "action_id": "value"}},
    ],
}
DECISION = [
    {"type": "section", "block_id": "summary", "text": {"type": "mrkdwn", "text": "*Acme* wants a lead"}},
    {"type": "actions", "block_id": "decide", "elements": [
        {"type": "button", "action_id": "accept", "value": "lead-1", "text": {"type": "plain_text", "text": "Accept"}},
        {"type": "button", "action_id": "reject", "value": "lead-1", "text": {"type": "plain_text", "text": "Reject"}},
    ]},
]
VALUES = {"company": "Acme", "email": "ops@acme.test", "size": 40, "stage": "qualified", "account": "001ACME",
          "kind": "sourced", "flags": ["urgent"], "close": date(2026, 12, 1)}


def build_app(sandbox, seen: list) -> App:
    """A tiny Bolt app whose listeners record what Bolt handed them."""
    client = WebClient(token=TOKEN, base_url=sandbox.api_url)
    app = App(signing_secret=SECRET, client=client, process_before_response=True)

    def note(kind, context, body, request=None):
        seen.append({"kind": kind, "context": dict(context), "body": body,
                     "headers": dict(request.headers) if request else {}})

    @app.command("/lead")
    def lead(ack, body, context, client, request):
        ack()
        note("command", context, body, request)
        if body.get("text") == "slow":
            time.sleep(0.3)
        client.views_open(trigger_id=body["trigger_id"], view=LEAD_MODAL)

    @app.command("/decide")
    def decide(ack, client, context):
        ack()
        client.chat_postMessage(channel=SHARED, text="Lead from Northwind", blocks=DECISION)

    @app.action("accept")
    def accept(ack, body, context, respond):
        ack()
        note("click", context, body)
        respond(text="Accepted", replace_original=True)

    @app.action("reject")
    def reject(ack, body, context, respond):
        ack()
        note("click", context, body)
        respond(text="Only you see this")

    @app.action("pick")
    def pick(ack, body, context):
        ack()
        note("pick", context, body)

    @app.view("lead_modal")
    def submitted(ack, body, view, context):
        note("submit", context, body)
        values = view["state"]["values"]
        if values["company"]["value"]["value"] == "Bad":
            ack(response_action="errors", errors={"company": "Unknown company"})
        else:
            ack()

    @app.options("account_search")
    def accounts(ack, body):
        ack(options=[{"text": {"type": "plain_text", "text": f"{body['value']} Ltd"}, "value": "001"}])

    @app.event("app_mention")
    def mentioned(event, context, body, say, request):
        note("mention", context, body, request)
        say(text="On it", thread_ts=event["ts"])

    @app.event("member_joined_channel")
    def joined(event, say):
        say(text="Hello, I am Partnerbot")

    @app.event("app_home_opened")
    def home(event, client, context):
        note("home", context, event)
        client.views_publish(user_id=event["user"], view={"type": "home", "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "Your leads"}}]})

    return app


@pytest.fixture
def seen() -> list:
    return []


@pytest.fixture
def driver(sandbox, seen):
    with AppServer(build_app(sandbox, seen)) as server:
        yield sandbox.driver(server.url)


def test_command_is_accepted_and_its_trigger_opens_a_modal(driver, sandbox, seen):
    response = driver.command(ALEX, "/lead", "acme.com", channel_id=INTERNAL)
    assert response.status == 200
    [entry] = seen
    assert entry["body"]["text"] == "acme.com" and entry["body"]["trigger_id"]
    context = entry["context"]
    assert (context["user_id"], context["team_id"], context["channel_id"]) == (ALEX, OURS, INTERNAL)
    assert (context["actor_user_id"], context["actor_team_id"]) == (ALEX, OURS)
    [opened] = sandbox.calls("views.open")
    assert opened.ok and sandbox.open_modal(ALEX).callback_id == "lead_modal"


def test_command_defaults_to_the_users_dm(driver, seen):
    driver.command(ALEX, "/lead")
    assert seen[0]["context"]["channel_id"].startswith("D")


def test_trigger_older_than_its_ttl_is_refused(sandbox, seen):
    sandbox.state.trigger_ttl = 0.2  # Slack's is 3 s; shortened so the test does not wait
    with AppServer(build_app(sandbox, seen)) as server:
        sandbox.driver(server.url).command(ALEX, "/lead", "slow")
    [opened] = sandbox.calls("views.open")
    assert opened.response["error"] == "expired_trigger_id" and sandbox.open_modal(ALEX) is None


@pytest.mark.parametrize("option", ["forge", "stale"])
def test_forged_or_stale_requests_are_refused(driver, seen, option):
    response = driver.command(ALEX, "/lead", "x", **{option: True})
    assert response.status == 401 and seen == []


def test_unsigned_raw_request_is_refused(driver, seen):
    body = b"command=%2Flead&user_id=U0ALEX"
    response = driver.raw(body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status == 401 and seen == []


def test_external_users_cannot_run_slash_commands(driver):
    with pytest.raises(SandboxError):
        driver.command(DANA, "/lead", channel_id=SHARED)


def test_external_click_in_shared_channel(driver, sandbox, seen):
    driver.command(ALEX, "/decide", channel_id=INTERNAL)
    [message] = sandbox.messages(SHARED)
    assert [(b.action_id, b.value, b.text) for b in sandbox.buttons(message)] == [
        ("accept", "lead-1", "Accept"), ("reject", "lead-1", "Reject")]
    response = driver.click(DANA, "accept", message=(SHARED, message.ts))
    assert response.status == 200
    [entry] = seen
    body, context = entry["body"], entry["context"]
    assert body["user"]["team_id"] == NORTHWIND and body["team"]["id"] == OURS
    assert (context["user_id"], context["team_id"], context["channel_id"]) == (DANA, OURS, SHARED)
    # Bolt derives actor ids from the payload's team on interactions: the partner's team is only in user.team_id.
    assert context["actor_team_id"] == OURS
    action = body["actions"][0]
    assert (action["block_id"], action["value"], action["type"]) == ("decide", "lead-1", "button")
    assert body["container"] == {"type": "message", "message_ts": message.ts, "channel_id": SHARED,
                                 "is_ephemeral": False}
    assert body["message"]["ts"] == message.ts and body["trigger_id"]
    assert sandbox.messages(SHARED)[0].text == "Accepted"  # respond(replace_original=True)


def test_respond_without_replace_is_ephemeral(driver, sandbox):
    driver.command(ALEX, "/decide", channel_id=INTERNAL)
    ts = sandbox.messages(SHARED)[0].ts
    driver.click(DANA, "reject", message=(SHARED, ts))
    assert [e.text for e in sandbox.ephemerals(DANA)] == ["Only you see this"]


def test_clicks_must_be_possible_in_slack(driver, sandbox):
    driver.command(ALEX, "/decide", channel_id=INTERNAL)
    ts = sandbox.messages(SHARED)[0].ts
    with pytest.raises(SandboxError):
        driver.click(DANA, "approve", message=(SHARED, ts))  # no such button
    with pytest.raises(SandboxError):
        driver.click("U0SAM", "accept", message=(SHARED, ts))  # Sam is not in the channel


def test_submission_carries_each_element_types_value(driver, sandbox, seen):
    driver.command(ALEX, "/lead", "acme.com")
    view = sandbox.open_modal(ALEX)
    response = driver.submit(ALEX, view.id, VALUES)
    assert response.status == 200 and sandbox.open_modal(ALEX) is None  # empty ack closes the modal
    body = seen[-1]["body"]
    values = body["view"]["state"]["values"]
    assert values["company"]["value"] == {"type": "plain_text_input", "value": "Acme"}
    assert values["email"]["value"] == {"type": "email_text_input", "value": "ops@acme.test"}
    assert values["size"]["value"] == {"type": "number_input", "value": "40"}
    assert values["stage"]["value"]["selected_option"]["value"] == "qualified"
    assert values["stage"]["value"]["selected_option"]["text"]["text"] == "Qualified"
    assert values["account"]["account_search"]["selected_option"]["value"] == "001ACME"
    assert values["kind"]["value"]["selected_option"]["value"] == "sourced"
    assert [o["value"] for o in values["flags"]["value"]["selected_options"]] == ["urgent"]
    assert values["close"]["value"] == {"type": "datepicker", "selected_date": "2026-12-01"}
    assert body["view"]["private_metadata"] == "channel=C0PARTNER" and body["view"]["callback_id"] == "lead_modal"
    assert body["view"]["id"] == view.id and body["view"]["hash"] == view.hash
    assert seen[-1]["context"]["team_id"] == OURS and seen[-1]["context"]["user_id"] == ALEX


def test_external_submission_names_our_installation_in_app_installed_team_id(driver, sandbox, seen):
    sandbox.client().views_open(trigger_id=sandbox.issue_trigger(DANA), view=LEAD_MODAL)
    driver.submit(DANA, sandbox.open_modal(DANA).id, VALUES)
    body, context = seen[-1]["body"], seen[-1]["context"]
    assert body["team"]["id"] == NORTHWIND and body["user"]["team_id"] == NORTHWIND
    assert body["view"]["app_installed_team_id"] == OURS and context["team_id"] == OURS


def test_errors_ack_keeps_the_modal_open(driver, sandbox):
    driver.command(ALEX, "/lead")
    view = sandbox.open_modal(ALEX)
    response = driver.submit(ALEX, view.id, {**VALUES, "company": "Bad"})
    assert response.json == {"response_action": "errors", "errors": {"company": "Unknown company"}}
    assert sandbox.open_modal(ALEX).id == view.id


def test_submissions_slack_would_not_allow_are_refused(driver, sandbox):
    driver.command(ALEX, "/lead")
    view = sandbox.open_modal(ALEX)
    with pytest.raises(SandboxError):
        driver.submit(ALEX, view.id, {**VALUES, "company": ""})  # required input left empty
    with pytest.raises(SandboxError):
        driver.submit(ALEX, view.id, {**VALUES, "stage": "lost"})  # not an offered option


def test_suggest_returns_the_apps_options(driver, sandbox):
    driver.command(ALEX, "/lead")
    response = driver.suggest(ALEX, sandbox.open_modal(ALEX).id, "account_search", "Acm")
    assert response.json == {"options": [{"text": {"type": "plain_text", "text": "Acm Ltd"}, "value": "001"}]}


def test_external_mention_gives_the_partner_as_actor(driver, sandbox, seen):
    response = driver.mention(DANA, SHARED, "register acme.com")
    assert response.status == 200
    [entry] = seen
    context, body = entry["context"], entry["body"]
    assert (context["team_id"], context["actor_team_id"]) == (OURS, NORTHWIND)
    assert (context["user_id"], context["actor_user_id"], context["channel_id"]) == (DANA, DANA, SHARED)
    assert body["is_ext_shared_channel"] is True and body["team_id"] == NORTHWIND  # never "our" team
    assert body["event"]["user_team"] == NORTHWIND and body["authorizations"][0]["team_id"] == OURS
    [question, answer] = sandbox.messages(SHARED)
    assert question.user == DANA and answer.thread_ts == question.ts and answer.text == "On it"


def test_internal_mention_in_internal_channel(driver, seen):
    driver.mention(ALEX, INTERNAL, "hi")
    context = seen[0]["context"]
    assert (context["team_id"], context["actor_team_id"], context["user_id"]) == (OURS, OURS, ALEX)
    assert seen[0]["body"]["is_ext_shared_channel"] is False


def test_event_retries_carry_slacks_headers(driver, seen):
    driver.mention(ALEX, INTERNAL, "hi", event_id="Ev0SAME", retry_num=1)
    assert seen[0]["body"]["event_id"] == "Ev0SAME"
    assert seen[0]["headers"]["x-slack-retry-num"] == ["1"]
    assert seen[0]["headers"]["x-slack-retry-reason"] == ["http_timeout"]


def test_bot_joined_and_home_opened(driver, sandbox, seen):
    sandbox.add_channel("C0NEW", "partner-new", [ALEX], bot_member=False)
    assert driver.bot_joined("C0NEW", inviter=ALEX).status == 200
    assert [m.text for m in sandbox.messages("C0NEW")] == ["Hello, I am Partnerbot"]
    assert driver.home_opened(ALEX).status == 200
    assert sandbox.home(ALEX).blocks[0]["text"]["text"] == "Your leads"
    assert seen[-1]["context"]["user_id"] == ALEX


def test_payloads_parse_like_slacks(driver, sandbox):
    """Interaction bodies are form-encoded `payload=<json>`; events are raw JSON."""
    response = driver.command(ALEX, "/decide", channel_id=INTERNAL)
    assert response.payload["command"] == "/decide" and response.payload["response_url"].startswith("http")
    click = driver.click(DANA, "accept", message=(SHARED, sandbox.messages(SHARED)[0].ts))
    assert json.loads(json.dumps(click.payload))["type"] == "block_actions"


def test_clicks_on_ephemeral_messages_and_in_modals(driver, sandbox, seen):
    picker = {"type": "actions", "block_id": "p", "elements": [{"type": "static_select", "action_id": "pick",
              "options": [{"text": {"type": "plain_text", "text": "Gold"}, "value": "gold"}]}]}
    ts = sandbox.client().chat_postEphemeral(channel=SHARED, user=DANA, text="pick", blocks=[picker])["message_ts"]
    driver.click(DANA, "pick", message=(SHARED, ts), selected="gold")
    body = seen[-1]["body"]
    assert body["container"]["is_ephemeral"] is True and "message" not in body
    assert body["actions"][0]["selected_option"]["value"] == "gold"
    with pytest.raises(SandboxError):
        driver.click(ALEX, "pick", message=(SHARED, ts), selected="gold")  # not Alex's ephemeral

    modal = {**LEAD_MODAL, "blocks": [picker]}
    view_id = sandbox.client().views_open(trigger_id=sandbox.issue_trigger(ALEX), view=modal)["view"]["id"]
    driver.click(ALEX, "pick", view_id=view_id, selected="gold")
    body = seen[-1]["body"]
    assert body["container"] == {"type": "view", "view_id": view_id} and body["view"]["id"] == view_id
    assert seen[-1]["context"]["user_id"] == ALEX and body["trigger_id"]


def test_transcript_tells_the_story_in_order(driver, sandbox):
    transcript = sandbox.transcript()
    driver.mention(DANA, SHARED, "register <https://acme.com|acme.com>")
    assert transcript.new_lines() == [
        "#partner-northwind  Dana Reyes (Northwind, external): @Partnerbot register acme.com (https://acme.com)",
        "#partner-northwind  Partnerbot → (thread) On it",
    ]
    driver.command(ALEX, "/decide", channel_id=INTERNAL)
    driver.click(DANA, "accept", message=(SHARED, sandbox.messages(SHARED)[-1].ts))
    assert transcript.new_lines() == [
        "#deals  Alex Kim (AE) ran /decide",
        "#partner-northwind  Partnerbot → *Acme* wants a lead",
        "    [Accept] [Reject]",
        "#partner-northwind  Dana Reyes (Northwind, external) clicked [Accept]",
        "#partner-northwind  Partnerbot ✎ replaced the message: Accepted",
    ]
