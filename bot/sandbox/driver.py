"""The driver: sends signed requests to the app's Request URL exactly as Slack would."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from bot.sandbox import blockkit, message_events, payloads
from bot.sandbox.api_views import apply_response_action
from bot.sandbox.scopes import message_subscription
from bot.sandbox.state import Channel, Message, SandboxError, View

if TYPE_CHECKING:
    from bot.sandbox.sandbox import Sandbox

STALE_SECONDS = 600  # Bolt refuses anything more than 300 s away from now


@dataclass
class Response:
    """What the app answered: status, headers (lower-case names), body text and its JSON if any."""

    status: int
    headers: dict[str, str]
    text: str
    json: Any = None
    elapsed: float = 0.0
    payload: dict = field(default_factory=dict, repr=False)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's request signature: v0= + hex HMAC-SHA256 of `v0:{timestamp}:{body}`."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


class Driver:
    """Plays Slack towards the app at `app_url` (e.g. http://127.0.0.1:3000/slack/events)."""

    def __init__(self, sandbox: Sandbox, app_url: str, *, timeout: float = 10.0) -> None:
        self.sandbox = sandbox
        self.state = sandbox.state
        self.app_url = app_url
        self.timeout = timeout
        # Never route local traffic through a proxy from the environment.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        # Options the app offered per (view, action_id): Slack echoes the chosen one's text back on submission.
        self._suggested: dict[tuple[str, str], list[dict]] = {}

    # transport ------------------------------------------------------------------------------------
    def raw(self, body: bytes, headers: dict[str, str]) -> Response:
        """POST exactly these bytes and headers (for malformed or hand-made requests)."""
        request = urllib.request.Request(self.app_url, data=body, headers=headers, method="POST")
        started = time.perf_counter()
        try:
            with self._opener.open(request, timeout=self.timeout) as reply:
                status, reply_headers, data = reply.status, reply.headers, reply.read()
        except urllib.error.HTTPError as error:
            status, reply_headers, data = error.code, error.headers, error.read()
        elapsed = time.perf_counter() - started
        text = data.decode("utf-8", errors="replace")
        try:
            parsed = json.loads(text) if text.strip() else None
        except ValueError:
            parsed = None
        return Response(status, {k.lower(): v for k, v in reply_headers.items()}, text, parsed, elapsed)

    def send(self, body: bytes, content_type: str, *, forge: bool = False, stale: bool = False,
             extra_headers: dict[str, str] | None = None) -> Response:
        """POST a body signed with the signing secret (or a forged/stale signature on request)."""
        timestamp = str(int(time.time()) - (STALE_SECONDS if stale else 0))
        secret = "forged-" + self.sandbox.signing_secret if forge else self.sandbox.signing_secret
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": sign(secret, timestamp, body),
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            **(extra_headers or {}),
        }
        return self.raw(body, headers)

    def _form(self, fields: dict[str, str], **options: Any) -> Response:
        return self.send(urlencode(fields).encode(), "application/x-www-form-urlencoded", **options)

    def _interaction(self, payload: dict, **options: Any) -> Response:
        response = self._form({"payload": json.dumps(payload)}, **options)
        response.payload = payload
        return response

    def redeliver(self, response: Response) -> Response:
        """Deliver an interaction again, freshly signed: a network retry, a double delivery, or a replay."""
        return self._interaction(response.payload)

    def _response_url(self, channel: str, user: str, message_ts: str | None = None) -> str:
        token = secrets.token_hex(12)
        with self.state.lock:
            self.state.response_urls[token] = {"channel": channel, "user": user, "message_ts": message_ts}
        return f"{self.sandbox.base_url}response/{token}"

    # checks ----------------------------------------------------------------------------------------
    def _user(self, user_id: str) -> None:
        if user_id not in self.state.users:
            raise SandboxError(f"unknown user {user_id!r}: add_user() first")

    def _channel_for(self, user_id: str, channel_id: str | None) -> Channel:
        channel = self.state.channels.get(channel_id) if channel_id else \
            self.state.channels[self.state.dm_channel_id(user_id)]
        if channel is None:
            raise SandboxError(f"unknown channel {channel_id!r}: add_channel() first")
        if user_id not in channel.members:
            raise SandboxError(f"{user_id} is not a member of {channel.id}, so cannot act there")
        return channel

    # slash commands --------------------------------------------------------------------------------
    def command(self, user_id: str, command: str, text: str = "", *, channel_id: str | None = None,
                forge: bool = False, stale: bool = False) -> Response:
        """Run a slash command (in the user's DM with the bot unless channel_id is given)."""
        self._user(user_id)
        if self.state.is_external(user_id):
            raise SandboxError("Slack does not deliver our slash commands from external users; use a button or mention")
        channel = self._channel_for(user_id, channel_id)
        trigger_id = self.state.issue_trigger(user_id)
        form = payloads.command_form(self.state, user_id, command, text, channel, trigger_id,
                                     self._response_url(channel.id, user_id))
        seq = self.state.next_seq()
        response = self._form(form, forge=forge, stale=stale)
        response.payload = form
        self.state.record_inbound("command", user_id, channel.id, {"command": command, "text": text},
                                  response.status, seq=seq)
        return response

    def socket_command(self, user_id: str, command: str, text: str = "", *,
                       channel_id: str | None = None) -> dict:
        """The same slash command delivered over Socket Mode; returns the app's acknowledgement envelope."""
        self._user(user_id)
        if self.state.socket_mode is None:
            raise SandboxError("enable_socket_mode() first")
        channel = self._channel_for(user_id, channel_id)
        form = payloads.command_form(self.state, user_id, command, text, channel,
                                     self.state.issue_trigger(user_id), self._response_url(channel.id, user_id))
        ack = self.state.socket_mode.send("slash_commands", form)
        self.state.record_inbound("command", user_id, channel.id, {"command": command, "text": text}, 200,
                                  seq=self.state.next_seq())
        return ack

    def shortcut(self, user_id: str, callback_id: str, *, message: tuple[str, str], forge: bool = False,
                 stale: bool = False) -> Response:
        """Run a message shortcut from a stored message's menu (message_action), as Slack sends it."""
        self._user(user_id)
        if self.state.is_external(user_id):
            raise SandboxError("Slack does not offer our shortcuts to external users (their workspace has not "
                               "installed the app)")
        with self.state.lock:
            declared = callback_id in self.state.message_shortcuts
        if not declared:
            raise SandboxError(f"the app declares no message shortcut {callback_id!r}: Slack's menu would not show it")
        channel = self._channel_for(user_id, message[0])
        stored = self.state.find_message(channel.id, message[1])
        if stored is None:
            raise SandboxError(f"no message {message[1]} in {channel.id}")
        payload = payloads.message_action(self.state, user_id, callback_id, channel, stored,
                                          self.state.issue_trigger(user_id),
                                          self._response_url(channel.id, user_id, stored.ts))
        seq = self.state.next_seq()
        response = self._interaction(payload, forge=forge, stale=stale)
        self.state.record_inbound("shortcut", user_id, channel.id, {"callback_id": callback_id, "ts": stored.ts},
                                  response.status, seq=seq)
        return response

    # interactivity ---------------------------------------------------------------------------------
    def click(self, user_id: str, action_id: str, *, message: tuple[str, str] | None = None,
              view_id: str | None = None, value: str | None = None, selected: Any = None,
              block_id: str | None = None, forge: bool = False, stale: bool = False,
              confirm: bool | None = None) -> Response:
        """Click a button (or pick `selected` in a menu) on a stored message or view: block_actions.

        An element with a `confirm` dialog reaches the app only when the user confirms it: `confirm=False`
        cancels (nothing is sent; the Response has status 0), the default confirms."""
        self._user(user_id)
        if (message is None) == (view_id is None):
            raise SandboxError("click() needs exactly one of message=(channel, ts) or view_id=")
        trigger_id = self.state.issue_trigger(user_id)
        if message is not None:
            channel = self._channel_for(user_id, message[0])
            stored, blocks = self._message_blocks(user_id, channel, message[1])
            block, element = self._find(blocks, action_id, value, block_id)
            surface = payloads.message_container(self.state, channel, stored, None if stored else message[1])
            response_url = self._response_url(channel.id, user_id, message[1] if stored else None)
            where = channel.id
        else:
            view = self._view(user_id, view_id)
            block, element = self._find(view.blocks, action_id, value, block_id)
            surface, response_url, where = payloads.view_surface(self.state, view), None, None
        label = blockkit.plain(element.get("text")) if element.get("type") == "button" else str(selected)
        dialog = element.get("confirm") if isinstance(element.get("confirm"), dict) else None
        if confirm is False and dialog is None:
            raise SandboxError(f"{action_id!r} has no confirm dialog to cancel")
        detail = {"action_id": action_id, "label": label, "value": element.get("value"),
                  "view": (self.state.views[view_id].title or f"{self.state.views[view_id].type} tab")
                  if view_id else None,
                  "confirm": blockkit.plain(dialog.get("title")) if dialog else None, "cancelled": confirm is False}
        seq = self.state.next_seq()
        if confirm is False:  # the user pressed the dialog's deny button: Slack sends the app nothing
            self.state.record_inbound("click", user_id, where, detail, 0, seq=seq)
            return Response(0, {}, "")
        payload = payloads.block_actions(self.state, user_id, block, element, selected, surface=surface,
                                         trigger_id=trigger_id, response_url=response_url)
        response = self._interaction(payload, forge=forge, stale=stale)
        self.state.record_inbound("click", user_id, where, detail, response.status, seq=seq)
        return response

    def _message_blocks(self, user_id: str, channel: Channel, ts: str) -> tuple[Message | None, list[dict]]:
        stored = self.state.find_message(channel.id, ts)
        if stored is not None:
            return stored, stored.blocks
        ephemeral = next((e for e in self.state.ephemerals if e.channel == channel.id and e.ts == ts), None)
        if ephemeral is None:
            raise SandboxError(f"no message {ts} in {channel.id}")
        if ephemeral.user != user_id:
            raise SandboxError(f"ephemeral message {ts} is only visible to {ephemeral.user}")
        return None, ephemeral.blocks

    def _view(self, user_id: str, view_id: str | None) -> View:
        view = self.state.views.get(view_id or "")
        if view is None or view.user != user_id:
            raise SandboxError(f"{user_id} has no view {view_id!r}")
        if view.closed:
            raise SandboxError(f"view {view_id} is closed")
        return view

    @staticmethod
    def _find(blocks: list[dict], action_id: str, value: str | None, block_id: str | None) -> tuple[dict, dict]:
        for block, element in blockkit.iter_elements(blocks):
            if element.get("action_id") != action_id or block_id not in (None, block.get("block_id")):
                continue
            if value is None or element.get("value") == value:
                return block, element
        raise SandboxError(f"no element with action_id={action_id!r} value={value!r} block_id={block_id!r}")

    def submit(self, user_id: str, view_id: str, values: dict | None = None, *,
               forge: bool = False, stale: bool = False) -> Response:
        """Submit a modal with `values` ({block_id: python value}); applies the app's response_action."""
        self._user(user_id)
        view = self._view(user_id, view_id)
        values = {block_id: self._offered(view, block_id, value) for block_id, value in (values or {}).items()}
        state_values = payloads.submission_values(view, values)
        payload = payloads.view_submission(self.state, user_id, view, state_values,
                                           self.state.issue_trigger(user_id))
        seq = self.state.next_seq()
        title, fields = view.title, blockkit.submitted_fields(view.blocks, state_values)
        response = self._interaction(payload, forge=forge, stale=stale)
        outcome = self._apply_ack(view, response) if response.status == 200 else "rejected"
        errors = response.json.get("errors") if isinstance(response.json, dict) else None
        detail = {"title": title, "callback_id": view.callback_id, "outcome": outcome, "errors": errors,
                  "values": {k: str(v) for k, v in values.items()}, "fields": fields}
        if outcome in ("updated", "pushed"):  # the ack's new view: Slack shows it, no Web API call is made
            detail["view"] = dict(response.json["view"])
        self.state.record_inbound("submit", user_id, None, detail, response.status, seq=seq)
        return response

    def _offered(self, view: View, block_id: str, value: Any) -> Any:
        """A value typed for an options-loaded select, as the option the app offered for it (if it did)."""
        block = next((b for b in view.blocks if b.get("block_id") == block_id), None)
        element = block.get("element") if isinstance(block, dict) else None
        if not isinstance(value, str) or not isinstance(element, dict) or \
                not element.get("type", "").endswith("external_select"):
            return value
        offered = self._suggested.get((view.root_view_id, element.get("action_id", "")), [])
        return next((dict(o) for o in offered if o.get("value") == value), value)

    def close(self, user_id: str, view_id: str, *, forge: bool = False) -> Response | None:
        """The user closes a modal (its close button or the X). Slack tells the app with `view_closed` only when
        the view asked for it (notify_on_close); returns the app's answer then, else None."""
        self._user(user_id)
        view = self._view(user_id, view_id)
        with self.state.lock:
            if view.previous_view_id and not view.raw.get("clear_on_close"):
                view.closed = True  # a pushed view's close button goes back to the view below it
            else:
                for other in self.state.views.values():
                    if other.root_view_id == view.root_view_id:
                        other.closed = True
        seq = self.state.next_seq()
        detail = {"title": view.title, "close": blockkit.plain(view.raw.get("close")) or "Cancel"}
        if not view.raw.get("notify_on_close"):
            self.state.record_inbound("close", user_id, None, detail, 0, seq=seq)
            return None
        payload = {"type": "view_closed", "team": payloads.team_object(self.state, self.state.users[user_id].team_id),
                   "user": payloads.user_object(self.state, user_id), "api_app_id": self.state.app_id,
                   "token": payloads.VERIFICATION_TOKEN, "view": payloads.view_surface(self.state, view)["view"],
                   "is_cleared": False, "is_enterprise_install": False, "enterprise": None}
        response = self._interaction(payload, forge=forge)
        self.state.record_inbound("close", user_id, None, detail, response.status, seq=seq)
        return response

    def _apply_ack(self, view: View, response: Response) -> str:
        """Do to the modal what Slack does with the ack body of a view_submission."""
        ack = response.json if isinstance(response.json, dict) else {}
        return apply_response_action(self.state, view, ack.get("response_action"), ack.get("view"))

    def suggest(self, user_id: str, view_id: str, action_id: str, value: str) -> Response:
        """Ask the app for external_select options (block_suggestion); `.json` holds its options."""
        self._user(user_id)
        view = self._view(user_id, view_id)
        block, element = self._find(view.blocks, action_id, None, None)
        payload = payloads.block_suggestion(self.state, user_id, view, block, element, value)
        seq = self.state.next_seq()
        response = self._interaction(payload)
        if isinstance(response.json, dict) and isinstance(response.json.get("options"), list):
            self._suggested[(view.root_view_id, action_id)] = [o for o in response.json["options"]
                                                               if isinstance(o, dict)]
        self.state.record_inbound("suggest", user_id, None, {"action_id": action_id, "value": value},
                                  response.status, seq=seq)
        return response

    # events ----------------------------------------------------------------------------------------
    def event(self, event: dict, *, event_id: str | None = None, retry_num: int | None = None,
              retry_reason: str = "http_timeout", forge: bool = False, stale: bool = False,
              record: bool = True) -> Response:
        """Deliver an Events API event_callback (a retry when retry_num is given).

        `record=False` keeps it out of the transcript (the `message` event that accompanies a mention)."""
        event = dict(event)
        event.setdefault("event_ts", self.state.next_ts())
        envelope = payloads.event_envelope(self.state, event, event_id=event_id or f"Ev0{secrets.token_hex(5).upper()}",
                                           event_time=int(time.time()))
        headers = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
        seq = self.state.next_seq()
        response = self.send(json.dumps(envelope).encode(), "application/json", forge=forge, stale=stale,
                             extra_headers=headers)
        response.payload = envelope
        channel = event.get("channel") if isinstance(event.get("channel"), str) else None
        if record:
            # An edit or a deletion carries its author and text inside (message, previous_message).
            inner = event.get("message") or event.get("previous_message") or {}
            self.state.record_inbound("event", event.get("user") or inner.get("user"), channel,
                                      {"type": event.get("type"), "subtype": event.get("subtype"),
                                       "text": event.get("text") or inner.get("text"), "retry": retry_num,
                                       "thread": bool(event.get("thread_ts") or inner.get("thread_ts"))},
                                      response.status, seq=seq)
        return response

    def _receives_messages(self, channel: Channel) -> bool:
        """Whether the app gets `message` events from this conversation: subscribed to its type, bot in it."""
        with self.state.lock:
            subscribed = message_subscription(channel) in self.state.events
        return subscribed and self.state.bot_user_id in channel.members

    def _message_event(self, user_id: str, channel: Channel, text: str, ts: str,
                       thread_ts: str | None) -> dict | None:
        """The `message` event Slack sends for a user's message, or None when the app would not get one (not
        subscribed to that conversation type, or the bot is not in the conversation)."""
        if not self._receives_messages(channel):
            return None
        team = self.state.users[user_id].team_id
        event = {"type": "message", "user": user_id, "text": text, "ts": ts, "team": team, "channel": channel.id,
                 "event_ts": ts, "channel_type": message_events.channel_type(channel),
                 "client_msg_id": secrets.token_hex(8)}
        if channel.is_ext_shared:
            event.update(user_team=team, source_team=team)
        if thread_ts:
            parent = self.state.find_message(channel.id, thread_ts)
            event["thread_ts"] = thread_ts
            if parent is not None:
                event["parent_user_id"] = parent.user
        return event

    def post(self, user_id: str, channel_id: str | None, text: str, *, thread_ts: str | None = None,
             **options: Any) -> Response | None:
        """The user writes a message (a reply in a thread with thread_ts; in their DM with the bot when
        channel_id is None). Stored; delivered as a `message` event when the app subscribes to that
        conversation type (message.channels, .groups, .im) and the bot is in it, else None is returned."""
        self._user(user_id)
        channel = self._channel_for(user_id, channel_id)
        if thread_ts and self.state.find_message(channel.id, thread_ts) is None:
            raise SandboxError(f"no message {thread_ts} in {channel.id} to reply to")
        ts = self.state.next_ts()
        with self.state.lock:
            self.state.messages.setdefault(channel.id, []).append(
                Message(channel.id, ts, text, [], user_id, thread_ts=thread_ts))
        event = self._message_event(user_id, channel, text, ts, thread_ts)
        return None if event is None else self.event(event, **options)

    def edit(self, user_id: str, channel_id: str | None, ts: str, text: str, **options: Any) -> Response | None:
        """The user edits their own message: stored, and a `message_changed` event when the app gets the
        conversation's messages (else None)."""
        self._user(user_id)
        channel = self._channel_for(user_id, channel_id)
        message = self._own(user_id, channel, ts)
        before, edit_ts = copy.deepcopy(message), self.state.next_ts()
        with self.state.lock:
            message.text, message.edited = text, True
        if not self._receives_messages(channel):
            return None
        return self.event(message_events.message_changed(self.state, channel, before, message, edit_ts), **options)

    def delete(self, user_id: str, channel_id: str | None, ts: str, **options: Any) -> Response | None:
        """The user deletes their own message: gone, and a `message_deleted` event when the app gets the
        conversation's messages (else None)."""
        self._user(user_id)
        channel = self._channel_for(user_id, channel_id)
        message = self._own(user_id, channel, ts)
        with self.state.lock:
            self.state.messages[channel.id].remove(message)
        if not self._receives_messages(channel):
            return None
        return self.event(message_events.message_deleted(self.state, channel, message, self.state.next_ts()),
                          **options)

    def echo(self, channel_id: str, ts: str, **options: Any) -> Response | None:
        """Slack's `message` event for a message the bot itself posted (the sandbox does not send these on its
        own; Bolt drops them as self events); None when the app does not get the conversation's messages."""
        channel = self.state.channels.get(channel_id)
        message = self.state.find_message(channel_id, ts) if channel else None
        if message is None or message.user != self.state.bot_user_id:
            raise SandboxError(f"no message of the bot at {ts} in {channel_id}")
        if not self._receives_messages(channel):
            return None
        return self.event(message_events.bot_post(self.state, channel, message), **options)

    def _own(self, user_id: str, channel: Channel, ts: str) -> Message:
        message = self.state.find_message(channel.id, ts)
        if message is None:
            raise SandboxError(f"no message {ts} in {channel.id}")
        if message.user != user_id:
            raise SandboxError(f"{user_id} cannot change {message.user}'s message: Slack lets people edit and "
                               "delete only their own")
        return message

    def mention(self, user_id: str, channel_id: str, text: str, *, thread_ts: str | None = None,
                **options: Any) -> Response:
        """The user writes `@Partnerbot text` in a channel: stores the message and sends app_mention."""
        self._user(user_id)
        channel = self._channel_for(user_id, channel_id)
        if self.state.bot_user_id not in channel.members:
            raise SandboxError(f"the bot is not in {channel.id}; Slack would not deliver the mention")
        ts, team = self.state.next_ts(), self.state.users[user_id].team_id
        full_text = f"<@{self.state.bot_user_id}> {text}"
        with self.state.lock:
            self.state.messages.setdefault(channel.id, []).append(
                Message(channel.id, ts, full_text, [], user_id, thread_ts=thread_ts))
        # A mention is also a message: an app subscribed to the conversation's messages gets both events.
        echo = self._message_event(user_id, channel, full_text, ts, thread_ts)
        if echo is not None:
            self.event(echo, record=False, forge=options.get("forge", False), stale=options.get("stale", False))
        event = {"type": "app_mention", "user": user_id, "text": full_text, "ts": ts, "team": team,
                 "channel": channel.id, "event_ts": ts, "client_msg_id": secrets.token_hex(8)}
        if channel.is_ext_shared:
            event.update(user_team=team, source_team=team)
        if thread_ts:
            event["thread_ts"] = thread_ts
        return self.event(event, **options)

    def bot_joined(self, channel_id: str, *, inviter: str | None = None, **options: Any) -> Response:
        """The bot is added to a channel: member_joined_channel for the bot user."""
        channel = self.state.channels.get(channel_id)
        if channel is None:
            raise SandboxError(f"unknown channel {channel_id!r}: add_channel() first")
        with self.state.lock:
            if self.state.bot_user_id not in channel.members:
                channel.members.append(self.state.bot_user_id)
        event = {"type": "member_joined_channel", "user": self.state.bot_user_id, "channel": channel.id,
                 "channel_type": "C", "team": self.state.team_id}
        if inviter:
            event["inviter"] = inviter
        return self.event(event, **options)

    def home_opened(self, user_id: str, **options: Any) -> Response:
        """The user opens the bot's Home tab: app_home_opened."""
        self._user(user_id)
        event = {"type": "app_home_opened", "user": user_id, "channel": self.state.dm_channel_id(user_id),
                 "tab": "home"}
        home = self.state.homes.get(user_id)
        if home is not None:
            event["view"] = payloads.view_surface(self.state, home)["view"]
        return self.event(event, **options)
