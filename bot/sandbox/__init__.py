"""A local Slack for tests, `partnerbot demo` and benchmarks: a Web API emulator plus a request driver.

Set-up::

    sandbox = Sandbox(signing_secret, bot_token, team_id="T0OURS", team_name="Acme Software",
                      bot_user_id="U0BOT").start()          # or `with Sandbox(...) as sandbox:`
    sandbox.add_team("T0NORTH", "Northwind", "northwind")
    sandbox.add_user("U0ALEX", "T0OURS", "Alex Kim", email=..., tz="Europe/London", title="AE")
    sandbox.add_user("U0DANA", "T0NORTH", "Dana Reyes")
    sandbox.add_channel("C0PARTNER", "partner-northwind", ["U0ALEX", "U0DANA"], is_ext_shared=True)
    client = WebClient(token=bot_token, base_url=sandbox.api_url)   # api_url ends with "/api/"
    server = AppServer(bolt_app).start()                              # Bolt over HTTP (waitress)
    driver = sandbox.driver(server.url)

Driver (each call returns `Response(status, headers, text, json, elapsed, payload)`)::

    driver.command(user_id, "/lead", text="", channel_id=None, forge=False, stale=False)
    driver.click(user_id, action_id, message=(channel_id, ts) | view_id=..., value=None, selected=None,
                 block_id=None, confirm=None)   # confirm=False: the user cancels the element's confirm dialog
    driver.submit(user_id, view_id, {block_id: value})   # applies the ack's response_action to the modal
    driver.suggest(user_id, view_id, action_id, value)
    driver.shortcut(user_id, callback_id, message=(channel_id, ts))  # a message shortcut: message_action
    driver.event(event, event_id=None, retry_num=None, retry_reason="http_timeout")
    driver.mention(user_id, channel_id, text, thread_ts=None)   # also a `message` event, when subscribed
    driver.post(user_id, channel_id | None, text, thread_ts=None)  # a message: `message` event when subscribed
    driver.edit(user_id, channel_id, ts, text)   # the author edits it: `message_changed`
    driver.delete(user_id, channel_id, ts)       # the author deletes it: `message_deleted`
    driver.echo(channel_id, ts)                  # the `message` event of the bot's own post
    driver.bot_joined(channel_id, inviter=None)
    driver.home_opened(user_id)
    driver.raw(body_bytes, headers)

Inspection: `calls(method)`, `messages(channel, thread_ts=)`, `ephemerals(user)`, `views(user)`, `view(id)`,
`open_modal(user)`, `home(user)`, `buttons(message_or_view)`, `wait_for(predicate, timeout=5)`,
`issue_trigger(user, age=)`, `fail(method, status=429|500, error=..., retry_after=1, times=1, after_effect=False,
delay=None)`, `fail_randomly(method, rate, kinds=("429", "500", "timeout"), seed=None, timeout_delay=2.0)`,
`stop_failing(method=None)`, `set_scopes(scopes)` (default: manifest.yml's bot scopes), `set_events(events)`
(default: manifest.yml's bot events; `message.channels/groups/im` decide which `message` events come),
`set_message_shortcuts(callback_ids)` (default: manifest.yml's message shortcuts), `reset()`,
`transcript().new_lines()`. Each `Call` carries the injected `fault` (kind, after_effect, delay) if any.

Fidelity notes: external users (another team, in an `is_ext_shared` channel) cannot run slash commands or
message shortcuts (`SandboxError`, as Slack never delivers them); their clicks carry `team.id` = our team and
`user.team_id` = theirs, so Bolt's `context.actor_team_id` equals `context.team_id` on interactions and only events give
the partner's team in `context.actor_team_id`. Impossible user actions (clicking a button that is not
there, submitting an empty required input) raise `SandboxError`. A button with a `confirm` dialog reaches the
app only when confirmed (the default; `confirm=False` sends nothing). `message` events come for people's
messages in conversations the bot is in, by subscribed type, and for their edits and deletions (subtypes
`message_changed`, `message_deleted`, with the author inside); Slack also delivers the bot's own posts as
`message` events (Bolt drops them as self events): the sandbox sends one only when asked (`echo`).
"""

from bot.sandbox.blockkit import Button
from bot.sandbox.driver import Driver, Response, sign
from bot.sandbox.sandbox import Sandbox
from bot.sandbox.serve import AppServer
from bot.sandbox.state import Call, Channel, Ephemeral, Inbound, Message, SandboxError, Team, User, View
from bot.sandbox.transcript import Transcript

__all__ = [
    "AppServer",
    "Button",
    "Call",
    "Channel",
    "Driver",
    "Ephemeral",
    "Inbound",
    "Message",
    "Response",
    "Sandbox",
    "SandboxError",
    "Team",
    "Transcript",
    "User",
    "View",
    "sign",
]
