"""The Sandbox: lifecycle, directory set-up, fault injection and read access to what the app did."""

from __future__ import annotations

import copy
import time
from typing import Any, Callable, Iterable

from bot.sandbox import blockkit, faults
from bot.sandbox.driver import Driver
from bot.sandbox.method_data import KNOWN_METHODS
from bot.sandbox.scopes import manifest_events, manifest_message_shortcuts, manifest_scopes
from bot.sandbox.state import (
    TRIGGER_TTL_SECONDS,
    Call,
    Channel,
    Ephemeral,
    Message,
    SandboxError,
    State,
    Team,
    User,
    View,
)
from bot.sandbox.transcript import Transcript
from bot.sandbox.webapi import WebApiServer


class Sandbox:
    """A local Slack: a Web API emulator for the app's WebClient plus a driver that plays Slack's side."""

    def __init__(self, signing_secret: str, bot_token: str, *, team_id: str = "T0OURS",
                 team_name: str = "Acme Software", bot_user_id: str = "U0BOT",
                 trigger_ttl: float = TRIGGER_TTL_SECONDS, scopes: Iterable[str] | None = None,
                 events: Iterable[str] | None = None, message_shortcuts: Iterable[str] | None = None) -> None:
        self.signing_secret = signing_secret
        self.bot_token = bot_token
        # trigger_ttl is Slack's 3 s; tests may shorten it to check expiry without waiting.
        self.state = State(team_id=team_id, team_name=team_name, bot_user_id=bot_user_id, bot_token=bot_token,
                           trigger_ttl=trigger_ttl)
        # By default the bot has what manifest.yml asks for, so a missing scope fails here as it would live.
        self.set_scopes(manifest_scopes() if scopes is None else scopes)
        # Likewise the bot events it subscribes to: `message` events only come for subscribed conversation types.
        self.set_events(manifest_events() if events is None else events)
        # And the message shortcuts it declares: Slack's message menu offers only those.
        self.set_message_shortcuts(manifest_message_shortcuts() if message_shortcuts is None else message_shortcuts)
        self._server = WebApiServer(self.state)
        self._started = False

    # lifecycle -------------------------------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0) -> Sandbox:
        """Bind the emulator (an ephemeral port by default) and serve it on a background thread."""
        if not self._started:
            self._server.start(host, port)
            self._started = True
        return self

    def enable_socket_mode(self, app_token: str) -> None:
        """Answer `apps.connections.open` for this app-level token with a local WebSocket URL."""
        from bot.sandbox.socket_mode import SocketModeServer

        if self.state.socket_mode is None:
            self.state.socket_mode = SocketModeServer()
        self.state.socket_mode_token = app_token

    def stop(self) -> None:
        if self.state.socket_mode is not None:
            self.state.socket_mode.stop()
            self.state.socket_mode = None
        if self._started:
            self._server.stop()
            self._started = False

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return self._server.url

    @property
    def api_url(self) -> str:
        """Give this to `WebClient(base_url=...)`: `http://127.0.0.1:PORT/api/`."""
        return self._server.url + "api/"

    @property
    def team_id(self) -> str:
        return self.state.team_id

    @property
    def bot_user_id(self) -> str:
        return self.state.bot_user_id

    @property
    def scopes(self) -> list[str]:
        with self.state.lock:
            return list(self.state.scopes)

    def set_scopes(self, scopes: Iterable[str]) -> None:
        """Grant exactly these bot scopes (sent in `x-oauth-scopes`; others answer `missing_scope`)."""
        if isinstance(scopes, str):
            raise SandboxError("set_scopes() takes a list of scopes, not one string")
        granted = list(dict.fromkeys(scopes))
        with self.state.lock:
            self.state.scopes = granted

    @property
    def events(self) -> list[str]:
        with self.state.lock:
            return list(self.state.events)

    def set_events(self, events: Iterable[str]) -> None:
        """Subscribe the app to exactly these bot events (as in the manifest's event_subscriptions)."""
        if isinstance(events, str):
            raise SandboxError("set_events() takes a list of events, not one string")
        with self.state.lock:
            self.state.events = list(dict.fromkeys(events))

    def set_message_shortcuts(self, callback_ids: Iterable[str]) -> None:
        """Declare exactly these message shortcuts (as in the manifest's features.shortcuts, type message)."""
        if isinstance(callback_ids, str):
            raise SandboxError("set_message_shortcuts() takes a list of callback ids, not one string")
        with self.state.lock:
            self.state.message_shortcuts = list(dict.fromkeys(callback_ids))

    def reset(self) -> None:
        """Forget calls, messages, views and faults (random ones too); keep the directory and scopes."""
        self.state.reset()

    # directory -------------------------------------------------------------------------------------
    def add_team(self, team_id: str, name: str, domain: str | None = None) -> Team:
        team = Team(team_id, name, domain or "".join(c for c in name.lower() if c.isalnum()))
        with self.state.lock:
            self.state.teams[team_id] = team
        return team

    def add_user(self, user_id: str, team_id: str, name: str, email: str | None = None,
                 tz: str = "Europe/London", is_bot: bool = False, *, title: str | None = None) -> User:
        """Add a person; `name` is their full name, `title` shows in transcripts (`Alex (AE)`)."""
        if team_id not in self.state.teams:
            raise SandboxError(f"unknown team {team_id!r}: add_team() first")
        username = ".".join(name.lower().split()) or user_id.lower()
        user = User(user_id, team_id, username, name, email, tz, is_bot, title)
        with self.state.lock:
            self.state.users[user_id] = user
        return user

    def add_channel(self, channel_id: str, name: str, members: Iterable[str] = (), is_ext_shared: bool = False,
                    *, bot_member: bool = True, is_private: bool = False) -> Channel:
        """Add a channel; the bot is a member unless bot_member=False (then use driver.bot_joined)."""
        members = list(members)
        unknown = [m for m in members if m not in self.state.users]
        if unknown:
            raise SandboxError(f"unknown users {unknown}: add_user() first")
        if not is_ext_shared and any(self.state.is_external(m) for m in members):
            raise SandboxError(f"#{name} has external members, so it must be is_ext_shared=True")
        member_list = list(dict.fromkeys(members))
        if bot_member and self.bot_user_id not in member_list:
            member_list.append(self.bot_user_id)
        channel = Channel(channel_id, name, member_list, is_ext_shared, is_private=is_private)
        with self.state.lock:
            self.state.channels[channel_id] = channel
        return channel

    def dm_channel(self, user_id: str) -> str:
        """The bot's DM channel id with a user (what conversations.open returns)."""
        return self.state.dm_channel_id(user_id)

    # faults ----------------------------------------------------------------------------------------
    def fail(self, method: str, status: int | None = None, *, error: str | None = None,
             retry_after: int = 1, times: int = 1, after_effect: bool = False, delay: float | None = None) -> None:
        """Make the next `times` calls of `method` fail: HTTP 429 (with Retry-After), 5xx, or ok:false `error`.

        after_effect=True: the call takes effect first, so the caller cannot know it did. delay=seconds: the
        answer is held that long (a timeout for a shorter WebClient timeout); it is then status/error if
        given, else the real answer (after_effect) or HTTP 504 `request_timeout` (nothing done)."""
        self._check_method(method)
        try:
            fault = faults.scripted(status, error, retry_after=retry_after, after_effect=after_effect, delay=delay)
        except ValueError as problem:
            raise SandboxError(str(problem)) from None
        self.state.faults.add(method, fault, times)

    def fail_randomly(self, method: str, rate: float, kinds: Iterable[str] = ("429", "500", "timeout"), *,
                      seed: int | None = None, timeout_delay: float = 2.0, retry_after: int = 1) -> None:
        """Fail that fraction of `method` calls with one of `kinds` until stop_failing(); for benchmarks.

        Kinds: "429", "500", "502", "503", "504", "internal_error" (ok:false) and "timeout" (held
        `timeout_delay` s). All but 429 land before or after the effect at random. A seed repeats the draws."""
        self._check_method(method)
        try:
            self.state.faults.fail_randomly(method, rate, tuple(kinds), seed=seed, timeout_delay=timeout_delay,
                                            retry_after=retry_after)
        except ValueError as problem:
            raise SandboxError(str(problem)) from None

    def stop_failing(self, method: str | None = None) -> None:
        """Drop pending and random faults of one method (all methods when None)."""
        self.state.faults.stop(method)

    @staticmethod
    def _check_method(method: str) -> None:
        if method not in KNOWN_METHODS:
            raise SandboxError(f"{method!r} is not a Slack Web API method")

    # what happened ---------------------------------------------------------------------------------
    def calls(self, method: str | None = None) -> list[Call]:
        with self.state.lock:
            return [c for c in self.state.calls if method is None or c.method == method]

    def messages(self, channel: str | None = None, *, thread_ts: str | None = None) -> list[Message]:
        """Current messages (updates applied, oldest first), optionally of one channel or thread."""
        with self.state.lock:
            found = [m for cid, msgs in self.state.messages.items() if channel in (None, cid) for m in msgs]
            if thread_ts is not None:
                found = [m for m in found if m.thread_ts == thread_ts and m.ts != thread_ts]
            return copy.deepcopy(sorted(found, key=lambda m: m.ts))

    def pins(self, channel: str) -> list[str]:
        """The ts of messages pinned in a channel (pins.add), in the order they were pinned."""
        with self.state.lock:
            return list(self.state.pins.get(channel, []))

    def ephemerals(self, user: str | None = None) -> list[Ephemeral]:
        with self.state.lock:
            return copy.deepcopy([e for e in self.state.ephemerals if user in (None, e.user)])

    def views(self, user: str | None = None) -> list[View]:
        """Modals and Home tabs (latest content), optionally of one user."""
        with self.state.lock:
            return copy.deepcopy([v for v in self.state.views.values() if user in (None, v.user)])

    def view(self, view_id: str) -> View:
        with self.state.lock:
            if view_id not in self.state.views:
                raise SandboxError(f"no view {view_id!r}")
            return copy.deepcopy(self.state.views[view_id])

    def open_modal(self, user: str) -> View | None:
        """The modal on top of the user's stack, if any is open."""
        open_views = [v for v in self.views(user) if v.type == "modal" and not v.closed]
        return open_views[-1] if open_views else None

    def home(self, user: str) -> View | None:
        """The Home tab last published for a user."""
        with self.state.lock:
            home = self.state.homes.get(user)
            return copy.deepcopy(home) if home else None

    @staticmethod
    def buttons(surface: Message | Ephemeral | View | dict) -> list[blockkit.Button]:
        """Buttons on a message or view: (action_id, value, text, block_id) in display order."""
        blocks = surface.get("blocks", []) if isinstance(surface, dict) else surface.blocks
        return blockkit.buttons(blocks)

    def issue_trigger(self, user_id: str = "", *, age: float = 0.0) -> str:
        """A trigger_id as Slack would send; `age` seconds old (age > 3 gives an expired one)."""
        return self.state.issue_trigger(user_id, age)

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.005) -> Any:
        """Poll until predicate() is truthy (work the app does after ack); returns its value."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() >= deadline:
                recent = ", ".join(f"{c.method}:{'ok' if c.ok else c.response.get('error')}"
                                   for c in self.calls()[-8:])
                raise TimeoutError(f"condition not met within {timeout}s; last calls: {recent or 'none'}")
            time.sleep(interval)

    # companions ------------------------------------------------------------------------------------
    def driver(self, app_url: str, *, timeout: float = 10.0) -> Driver:
        return Driver(self, app_url, timeout=timeout)

    def transcript(self) -> Transcript:
        return Transcript(self.state)

    def client(self, **kwargs: Any):
        """A slack_sdk WebClient pointed at the emulator with the bot token."""
        from slack_sdk import WebClient

        return WebClient(token=self.bot_token, base_url=self.api_url, **kwargs)
