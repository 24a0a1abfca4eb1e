"""Shared sandbox state: the directory, the message and view stores, recorded traffic and id generators."""

from __future__ import annotations

import copy
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field

from bot.sandbox.faults import Fault, FaultBook

TRIGGER_TTL_SECONDS = 3.0


class SandboxError(Exception):
    """A sandbox call that Slack itself could never produce (bad test set-up, impossible user action)."""


@dataclass
class Team:
    id: str
    name: str
    domain: str


@dataclass
class User:
    id: str
    team_id: str
    name: str
    real_name: str
    email: str | None = None
    tz: str = "Europe/London"
    is_bot: bool = False
    title: str | None = None


@dataclass
class Channel:
    id: str
    name: str
    members: list[str]
    is_ext_shared: bool = False
    is_im: bool = False
    user: str | None = None  # the other party of a DM
    is_private: bool = False


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[dict]
    user: str
    thread_ts: str | None = None
    bot_id: str | None = None
    edited: bool = False
    reply_broadcast: bool = False
    metadata: dict | None = None  # {"event_type": ..., "event_payload": {...}} as chat.postMessage got it
    files: list[dict] | None = None  # files shared with the message (files.completeUploadExternal)


@dataclass
class UploadedFile:
    """A file from files.getUploadURLExternal: its bytes once POSTed to the upload URL, shared once completed."""

    id: str
    filename: str
    length: int
    upload_token: str
    alt_txt: str | None = None
    data: bytes | None = None
    title: str | None = None
    completed: bool = False
    channels: list[str] = field(default_factory=list)


@dataclass
class Ephemeral:
    channel: str
    user: str
    ts: str
    text: str
    blocks: list[dict]
    thread_ts: str | None = None


@dataclass
class View:
    id: str
    user: str
    type: str
    title: str
    blocks: list[dict]
    callback_id: str
    private_metadata: str
    external_id: str
    hash: str
    root_view_id: str
    previous_view_id: str | None = None
    submit: str | None = None
    closed: bool = False
    raw: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Call:
    """One Web API call as the emulator saw and answered it."""

    seq: int
    method: str
    args: dict
    response: dict
    status: int
    time: float
    duration: float = 0.0  # seconds the emulator spent answering (for latency benchmarks)
    fault: Fault | None = None  # the injected fault (kind, after_effect, delay), if this call got one

    @property
    def ok(self) -> bool:
        return bool(self.response.get("ok"))


@dataclass(frozen=True)
class Inbound:
    """One request the driver sent to the app (for the transcript)."""

    seq: int
    kind: str  # command, shortcut, click, submit, suggest, event, mention, bot_joined, home_opened
    user: str | None
    channel: str | None
    detail: dict
    status: int
    time: float


class State:
    """Everything the Web API emulator and the driver share, guarded by one lock."""

    def __init__(self, *, team_id: str, team_name: str, bot_user_id: str, bot_token: str,
                 trigger_ttl: float = TRIGGER_TTL_SECONDS) -> None:
        self.lock = threading.RLock()
        self.trigger_ttl = trigger_ttl
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_token = bot_token
        self.socket_mode = None  # a SocketModeServer once enabled
        self.socket_mode_token: str | None = None
        self.bot_id = "B0" + bot_user_id[2:] if len(bot_user_id) > 2 else "B0BOT"
        self.app_id = "A0PARTNERBOT"
        self.teams: dict[str, Team] = {}
        self.users: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        self.messages: dict[str, list[Message]] = {}
        self.pins: dict[str, list[str]] = {}  # channel id -> pinned message ts, in pin order (pins.add)
        self.files: dict[str, UploadedFile] = {}  # file id -> the file (files.getUploadURLExternal and after)
        self.base_url = ""  # the emulator's http://127.0.0.1:PORT/, for the upload URLs it hands out
        self.ephemerals: list[Ephemeral] = []
        self.views: dict[str, View] = {}
        self.homes: dict[str, View] = {}
        self.triggers: dict[str, float] = {}
        self.trigger_users: dict[str, str] = {}
        self.used_triggers: set[str] = set()
        self.response_urls: dict[str, dict] = {}
        self.calls: list[Call] = []
        self.inbound: list[Inbound] = []
        self.faults = FaultBook()
        self.scopes: list[str] = []  # granted bot scopes, sent back in x-oauth-scopes
        self.events: list[str] = []  # bot events the app subscribes to (message.channels, app_mention, ...)
        self.message_shortcuts: list[str] = []  # callback ids of the app's message shortcuts (Slack's menu shows them)
        self._seq = 0
        self.generation = 0  # bumped by reset() so incremental readers start over
        self._ts_base = int(time.time()) * 1_000_000
        self._ts_count = 0
        self._id_count = 0
        self.teams[team_id] = Team(team_id, team_name, _domain(team_name))
        self.users[bot_user_id] = User(bot_user_id, team_id, "partnerbot", "Partnerbot", is_bot=True)

    # ids -------------------------------------------------------------------------------------------
    def next_seq(self) -> int:
        with self.lock:
            self._seq += 1
            return self._seq

    def next_ts(self) -> str:
        """A message ts: strictly increasing, shaped like Slack's `1700000000.000100`."""
        with self.lock:
            self._ts_count += 1
            micros = self._ts_base + self._ts_count * 100
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def next_id(self, prefix: str) -> str:
        with self.lock:
            self._id_count += 1
            return f"{prefix}0{_base36(self._id_count).rjust(9, '0')}"

    def dm_channel_id(self, user_id: str) -> str:
        """The bot's DM channel with a user: stable for that user, created on first use."""
        digest = hashlib.sha1(user_id.encode()).hexdigest().upper()
        channel_id = "D0" + digest[:9]
        with self.lock:
            if channel_id not in self.channels:
                self.channels[channel_id] = Channel(
                    channel_id, "directmessage", [user_id, self.bot_user_id], is_im=True, user=user_id
                )
        return channel_id

    # triggers --------------------------------------------------------------------------------------
    def issue_trigger(self, user_id: str = "", age: float = 0.0) -> str:
        """A trigger_id the emulator will accept for views.open/push for 3 s (minus `age`)."""
        trigger_id = f"{int(time.time() * 1000)}{self.next_seq()}.{self.team_id[1:]}.{secrets.token_hex(16)}"
        with self.lock:
            self.triggers[trigger_id] = time.monotonic() - age
            self.trigger_users[trigger_id] = user_id
        return trigger_id

    def use_trigger(self, trigger_id: str | None) -> str | None:
        """Consume a trigger; return Slack's error code when it cannot be used."""
        with self.lock:
            if not trigger_id:
                return "invalid_trigger_id"
            if trigger_id in self.used_triggers:
                return "exchanged_trigger_id"
            issued = self.triggers.get(trigger_id)
            if issued is None:
                return "invalid_trigger_id"
            if time.monotonic() - issued > self.trigger_ttl:
                return "expired_trigger_id"
            self.used_triggers.add(trigger_id)
            return None

    # lookups ---------------------------------------------------------------------------------------
    def find_message(self, channel_id: str, ts: str) -> Message | None:
        with self.lock:
            return next((m for m in self.messages.get(channel_id, []) if m.ts == ts), None)

    def resolve_channel(self, channel: str) -> Channel | None:
        """Map a `channel` argument (C…, G…, D… or a user id meaning a DM) to a known channel."""
        with self.lock:
            if channel in self.channels:
                return self.channels[channel]
            if channel[:1] in ("U", "W") and channel in self.users:
                return self.channels[self.dm_channel_id(channel)]
            return None

    def display_name(self, user_id: str | None) -> str:
        user = self.users.get(user_id or "")
        return user.real_name if user else (user_id or "someone")

    def is_external(self, user_id: str | None) -> bool:
        user = self.users.get(user_id or "")
        return bool(user and user.team_id != self.team_id)

    # recording ------------------------------------------------------------------------------------
    def record_call(self, method: str, args: dict, response: dict, status: int, duration: float = 0.0,
                    fault: Fault | None = None) -> Call:
        call = Call(self.next_seq(), method, copy.deepcopy(args), copy.deepcopy(response), status, time.time(),
                    duration, fault)
        with self.lock:
            self.calls.append(call)
        return call

    def record_inbound(self, kind: str, user: str | None, channel: str | None, detail: dict, status: int,
                       *, seq: int | None = None) -> None:
        """Record a driver request; `seq` reserved before sending keeps it ahead of the calls it caused."""
        entry = Inbound(seq or self.next_seq(), kind, user, channel, copy.deepcopy(detail), status, time.time())
        with self.lock:
            self.inbound.append(entry)

    def reset(self) -> None:
        """Forget traffic, messages and views; keep the directory."""
        with self.lock:
            self.generation += 1
            self.messages.clear()
            self.pins.clear()
            self.files.clear()
            self.ephemerals.clear()
            self.views.clear()
            self.homes.clear()
            self.triggers.clear()
            self.trigger_users.clear()
            self.used_triggers.clear()
            self.response_urls.clear()
            self.calls.clear()
            self.inbound.clear()
            self.faults.clear()


def _base36(number: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    while number:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
    return out or "0"


def _domain(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum()) or "workspace"
