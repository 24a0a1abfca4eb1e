"""The transcript turns recorded traffic into a readable conversation, incrementally."""

from __future__ import annotations

from bot.sandbox import Call, Channel, Inbound, Team, User
from bot.sandbox.transcript import Directory, readable, render, render_call, render_inbound, who
from tests.sandbox.conftest import ALEX, DANA, SHARED

DIRECTORY = Directory(
    team_id="T0OURS",
    bot_user_id="U0BOT",
    teams={"T0OURS": Team("T0OURS", "Acme Software", "acme"), "T0NORTH": Team("T0NORTH", "Northwind", "nw")},
    users={
        "U0BOT": User("U0BOT", "T0OURS", "partnerbot", "Partnerbot", is_bot=True),
        "U0ALEX": User("U0ALEX", "T0OURS", "alex", "Alex", title="AE"),
        "U0DANA": User("U0DANA", "T0NORTH", "dana", "Dana"),
    },
    channels={
        "C0PARTNER": Channel("C0PARTNER", "partner-northwind", ["U0ALEX", "U0DANA"], is_ext_shared=True),
        "D0ALEX": Channel("D0ALEX", "directmessage", ["U0ALEX", "U0BOT"], is_im=True, user="U0ALEX"),
    },
)
BUTTONS = [{"type": "section", "text": {"type": "mrkdwn", "text": "New lead from <@U0DANA>: *Acme* &amp; co"}},
           {"type": "context", "elements": [{"type": "mrkdwn", "text": "Registered in <#C0PARTNER>"}]},
           {"type": "actions", "elements": [
               {"type": "button", "action_id": "a", "text": {"type": "plain_text", "text": "Accept"}},
               {"type": "button", "action_id": "r", "text": {"type": "plain_text", "text": "Reject"}}]}]


def call(seq, method, args, response, status=200) -> Call:
    return Call(seq, method, args, response, status, 0.0)


def test_people_are_named_with_their_side():
    assert who(DIRECTORY, "U0DANA") == "Dana (Northwind, external)"
    assert who(DIRECTORY, "U0ALEX") == "Alex (AE)"
    assert who(DIRECTORY, "U0BOT") == "Partnerbot"


def test_mrkdwn_is_made_readable():
    text = "Hi <@U0ALEX>, see <https://x.test/l/1|the lead> in <#C0PARTNER> <!here> a &lt;b&gt; &amp; c"
    assert readable(DIRECTORY, text) == \
        "Hi @Alex, see the lead (https://x.test/l/1) in #partner-northwind @here a <b> & c"


def test_channel_post_in_thread_with_buttons():
    lines = render_call(DIRECTORY, call(1, "chat.postMessage", {"channel": "C0PARTNER", "thread_ts": "1.1",
                                                                "text": "fallback", "blocks": BUTTONS},
                                        {"ok": True, "channel": "C0PARTNER", "ts": "1.2"}))
    assert lines == ["#partner-northwind  Partnerbot → (thread) New lead from @Dana: *Acme* & co",
                     "    Registered in #partner-northwind",
                     "    [Accept] [Reject]"]


def test_dm_ephemeral_and_failures():
    dm = call(1, "chat.postMessage", {"channel": "U0ALEX", "text": "You have 2 leads"},
              {"ok": True, "channel": "D0ALEX"})
    ephemeral = call(2, "chat.postEphemeral", {"channel": "C0PARTNER", "user": "U0DANA", "text": "Noted"},
                     {"ok": True, "message_ts": "1.3"})
    failed = call(3, "chat.postMessage", {"channel": "C0NOPE", "text": "x"},
                  {"ok": False, "error": "channel_not_found"})
    lookup = call(4, "users.info", {"user": "U0DANA"}, {"ok": True})
    assert render(DIRECTORY, [dm, ephemeral, failed, lookup]) == [
        "DM to Alex (AE)  Partnerbot → You have 2 leads",
        "#partner-northwind  Partnerbot → only Dana (Northwind, external) sees: Noted",
        "  ✗ chat.postMessage failed: channel_not_found",
    ]


def test_modal_and_home_tab():
    view = {"type": "modal", "title": {"type": "plain_text", "text": "Register a lead"},
            "submit": {"type": "plain_text", "text": "Register"},
            "blocks": [{"type": "input", "label": {"type": "plain_text", "text": "Company"},
                        "element": {"type": "plain_text_input"}}]}
    home = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Your leads"}}]}
    assert render_call(DIRECTORY, call(1, "views.open", {"view": view}, {"ok": True, "view": view})) == [
        '  ▭ modal "Register a lead"', "    Company: ____", "    [Register]"]
    assert render_call(DIRECTORY, call(2, "views.publish", {"user_id": "U0ALEX", "view": home},
                                       {"ok": True, "view": home})) == ["Home tab for Alex (AE)", "    Your leads"]


def test_people_acting_in_order_with_the_bots_answers():
    entries = [
        call(3, "chat.postMessage", {"channel": "C0PARTNER", "text": "Thanks"}, {"ok": True, "channel": "C0PARTNER"}),
        Inbound(1, "event", "U0DANA", "C0PARTNER", {"type": "app_mention", "text": "<@U0BOT> register acme.com"},
                200, 0.0),
        Inbound(2, "click", "U0DANA", "C0PARTNER", {"label": "Accept"}, 200, 0.0),
        Inbound(4, "command", "U0ALEX", "D0ALEX", {"command": "/lead", "text": "acme.com"}, 401, 0.0),
    ]
    assert render(DIRECTORY, entries) == [
        "#partner-northwind  Dana (Northwind, external): @Partnerbot register acme.com",
        "#partner-northwind  Dana (Northwind, external) clicked [Accept]",
        "#partner-northwind  Partnerbot → Thanks",
        "DM to Alex (AE)  Alex (AE) ran /lead acme.com  ✗ app answered HTTP 401",
    ]


def test_submission_with_errors():
    entry = Inbound(1, "submit", "U0ALEX", None, {"title": "Register a lead", "outcome": "errors",
                                                  "errors": {"company": "Unknown company"}}, 200, 0.0)
    assert render_inbound(DIRECTORY, entry) == [
        '  ▭ Alex (AE) submitted "Register a lead" → errors: company: Unknown company']


def test_new_lines_only_returns_what_is_new(sandbox, client):
    transcript = sandbox.transcript()
    client.chat_postMessage(channel=SHARED, text="first")
    assert transcript.new_lines() == ["#partner-northwind  Partnerbot → first"]
    assert transcript.new_lines() == []
    client.users_info(user=DANA)
    client.chat_postMessage(channel=ALEX, text="second")
    assert transcript.new_lines() == ["DM to Alex Kim (AE)  Partnerbot → second"]
    sandbox.reset()
    for text in ("after", "reset", "more", "calls"):  # more calls than were seen before the reset
        client.chat_postMessage(channel=SHARED, text=text)
    assert [line.split("→ ")[1] for line in transcript.new_lines()] == ["after", "reset", "more", "calls"]
