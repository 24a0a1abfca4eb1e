"""Drain the Slack outbox through the Web API: in order per lane, retried with backoff, never posted twice,
within Slack's rate limits.

The only place that sends what the outbox owes. Transactions are short and never open during a Slack call.

Pacing: Slack takes about one chat.postMessage per second per channel (a DM is a channel too, by the id it is
sent to), so after a post the sender leaves that channel alone for `post_interval`; a 429 makes the channel
(or, for the methods Slack limits per workspace, the method) wait out Retry-After. Rows that must wait are
left out of the query, so other channels keep flowing; nothing sleeps: the worker's loop comes back.
"""

from __future__ import annotations

import logging
import random
import socket
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlparse

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage.db import transaction
from storage.slack.models import SlackMessage, SlackMessageKind, SlackMessageStatus
from storage.slack.outbox import due_messages, fail_dependents, message_by_key

logger = logging.getLogger(__name__)

METADATA_EVENT = "partnerbot_outbox"
POST_INTERVAL = 1.0  # seconds between two posts to one channel: Slack takes about one per second per channel
POST = "chat.postMessage"
# An upload is files_upload_v2: files.getUploadURLExternal, a POST of the bytes, files.completeUploadExternal (both
# Tier 4, counted per workspace: a 429 on either holds every upload).
FILE_METHODS = ("files.getUploadURLExternal", "files.completeUploadExternal")
KIND_METHODS = {SlackMessageKind.post: POST, SlackMessageKind.update: "chat.update", SlackMessageKind.pin: "pins.add",
                SlackMessageKind.upload: FILE_METHODS[1]}
# Tiered methods: Slack counts their calls per workspace, so a 429 on one makes every channel's calls wait.
# (chat.update is Tier 3, about 50 a minute, across channels: pacing it per channel would not keep under that
# limit, and the outbox already folds an update not yet tried into the next, so updates are not paced; a 429
# holds them all for Retry-After.) chat.postMessage is limited per channel: a 429 holds that channel only.
LOOKUP_METHODS = ("conversations.open", "conversations.history", "conversations.replies")  # _find_posted's
WORKSPACE_LIMITED = frozenset({"chat.update", "pins.add", *LOOKUP_METHODS, *FILE_METHODS})
# At most this many waiting channels are named in the due query (bound parameters are limited: SQLite 32,766);
# beyond it the channels freed soonest are left out of the list and their rows are skipped when they come up.
MAX_SKIPPED_CHANNELS = 5000
MAX_ATTEMPTS = 12
HISTORY_PAGES = 3
# Slack refuses these for good: trying again changes nothing until someone fixes the channel or the message.
PERMANENT_ERRORS = frozenset({
    "channel_not_found", "not_in_channel", "is_archived", "user_not_found", "user_disabled", "cannot_dm_bot",
    "invalid_blocks", "invalid_blocks_format", "msg_too_long", "no_text", "message_not_found",
    "cant_update_message", "edit_window_closed", "restricted_action", "restricted_action_read_only_channel",
    "restricted_action_thread_only_channel", "restricted_action_non_threadable_channel", "team_access_not_granted",
    "ekm_access_denied", "invalid_metadata_format", "invalid_metadata_schema", "metadata_too_large",
    "messages_tab_disabled", "thread_not_found", "parent_failed",
})
# pins.add refusals that no retry changes (until someone grants the scope, or pins by hand).
PERMANENT_PIN_ERRORS = frozenset({"missing_scope", "not_pinnable", "permission_denied", "no_permission",
                                  "bad_timestamp", "no_item_specified"})
# Upload refusals that no retry changes (until someone grants files:write, or the workspace allows uploads).
PERMANENT_UPLOAD_ERRORS = frozenset({
    "missing_scope", "not_allowed_token_type", "file_uploads_disabled", "file_uploads_except_images_disabled",
    "file_upload_size_restricted", "file_type_not_allowed", "invalid_channel", "channel_not_found",
    "not_in_channel", "invalid_arguments", "missing_argument", "alt_txt_too_large", "user_not_found",
    "cannot_dm_bot", "restricted_action", "ekm_access_denied",
})
# Slack says it failed on its side: the message may or may not have been posted.
UNKNOWN_OUTCOME_ERRORS = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})
NETWORK_ERRORS = (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError, OSError)


def default_backoff(attempts: int) -> float:
    """Seconds before the next try: exponential from 1 s, capped at 15 minutes, with jitter."""
    return min(900.0, 2.0 ** (attempts - 1)) * random.uniform(0.5, 1.0)


@dataclass
class DrainReport:
    sent: int = 0
    failed: int = 0
    retrying: int = 0
    found_already_sent: int = 0
    failures: list[SlackMessage] = field(default_factory=list)


class _Outcome(Exception):
    """How one Slack call ended when it did not succeed."""

    def __init__(self, error: str, *, permanent: bool = False, maybe_sent: bool = False,
                 retry_after: float | None = None):
        super().__init__(error)
        self.error, self.permanent, self.maybe_sent, self.retry_after = error, permanent, maybe_sent, retry_after


def _classify(exc: Exception) -> _Outcome:
    if isinstance(exc, SlackApiError):
        status = exc.response.status_code
        error = str(exc.response.get("error") or f"http_{status}")
        if status == 429:
            return _Outcome("ratelimited", retry_after=float(exc.response.headers.get("Retry-After", 1) or 1))
        if status >= 500 or error in UNKNOWN_OUTCOME_ERRORS:
            return _Outcome(error if status < 500 else f"http_{status}", maybe_sent=True)
        return _Outcome(error, permanent=error in PERMANENT_ERRORS)
    if isinstance(exc, NETWORK_ERRORS):
        return _Outcome(f"network: {exc.__class__.__name__}", maybe_sent=True)
    if isinstance(exc, SlackRequestError):  # files_upload_v2: the upload URL did not take the bytes
        return _Outcome(f"upload: {str(exc)[:200]}")
    raise exc


class SlackSender:
    """Sends due outbox rows with one WebClient (no retry handlers of its own: the outbox retries)."""

    def __init__(self, engine: Engine, client: WebClient, *, clock: Callable[[], datetime],
                 backoff: Callable[[int], float] = default_backoff,
                 on_failed: Callable[[SlackMessage], None] | None = None, post_interval: float = POST_INTERVAL,
                 render_file: Callable[[dict], bytes] | None = None):
        """`clock` times retries, pacing and Retry-After alike (a test's moving clock makes all three come due);
        `post_interval` is the least time between two posts to one channel; `render_file` draws an upload row's
        file from its spec (without it, uploads fail for good)."""
        self.engine, self.client, self.clock, self.backoff, self.on_failed = engine, client, clock, backoff, on_failed
        self.render_file = render_file
        self.post_interval = timedelta(seconds=post_interval)
        self._dm_channels: dict[str, str] = {}
        self._channel_free_at: dict[str, datetime] = {}  # no post to the channel before (pacing, Retry-After)
        self._method_free_at: dict[str, datetime] = {}  # no call of a workspace-limited method before (Retry-After)
        self._reached_channel = ""  # the last channel of the last batch: a search channel by channel goes on after it

    def drain(self, *, batch: int = 100, max_rounds: int = 1000,
              still_leader: Callable[[], bool] | None = None) -> DrainReport:
        """Send everything due now, lane by lane, until nothing is due (later retries stay queued).

        `still_leader` is asked before each batch: a worker that lost its lead stops sending.
        """
        report = DrainReport()
        for _ in range(max_rounds):
            if still_leader is not None and not still_leader():
                break
            now = self.clock()
            skip_channels, skip_kinds = self._waiting(now)
            with Session(self.engine) as session:
                due = due_messages(session, now, limit=batch, skip_channels=skip_channels, skip_kinds=skip_kinds,
                                   after_channel=self._reached_channel)
            posts = [row.channel for row in due if row.kind == SlackMessageKind.post]
            self._reached_channel = max(posts, default=self._reached_channel)
            progressed = False
            for row in due:
                progressed |= self._send(row, report)
            if not progressed:
                break
        return report

    # rate limits -------------------------------------------------------------------------------------
    def _waiting(self, now: datetime) -> tuple[list[str], list[SlackMessageKind]]:
        """Channels whose posts must wait, and row kinds whose method must wait (expired holds are forgotten)."""
        for holds in (self._channel_free_at, self._method_free_at):
            for name in [name for name, free_at in holds.items() if free_at <= now]:
                del holds[name]
        channels = sorted(self._channel_free_at, key=self._channel_free_at.__getitem__, reverse=True)
        return channels[:MAX_SKIPPED_CHANNELS], [kind for kind, method in KIND_METHODS.items()
                                                 if method in self._method_free_at]

    def _may_call(self, method: str, channel: str | None = None) -> bool:
        now = self.clock()
        if self._method_free_at.get(method, now) > now:
            return False
        return channel is None or self._channel_free_at.get(channel, now) <= now

    def _hold_channel(self, channel: str, seconds: float) -> None:
        free_at = self.clock() + timedelta(seconds=seconds)
        self._channel_free_at[channel] = max(free_at, self._channel_free_at.get(channel, free_at))

    def _rate_limited(self, exc: Exception, row: SlackMessage, retry_after: float) -> None:
        """Slack said 429: the method (if Slack limits it per workspace) or else the row's channel waits."""
        url = getattr(getattr(exc, "response", None), "api_url", "") or ""
        method = urlparse(url).path.rsplit("/", 1)[-1] or KIND_METHODS[row.kind]
        if method in FILE_METHODS:  # either step of an upload holds the upload kind's method
            method = KIND_METHODS[SlackMessageKind.upload]
        if method in WORKSPACE_LIMITED:
            self._method_free_at[method] = self.clock() + timedelta(seconds=retry_after)
        else:
            self._hold_channel(row.channel, retry_after)

    def _post(self, row: SlackMessage, **args) -> dict:
        """chat.postMessage, pacing the row's channel from the answer (whatever it was): the next post to the
        channel then reaches Slack at least `post_interval` after this one did."""
        try:
            return self.client.chat_postMessage(**args)
        finally:
            self._hold_channel(row.channel, self.post_interval.total_seconds())

    # one row -------------------------------------------------------------------------------------------
    def _send(self, row: SlackMessage, report: DrainReport) -> bool:
        """Try one row; True when its state changed (sent, failed or rescheduled)."""
        parent, posted = None, False
        if row.parent_key:
            with Session(self.engine) as session:
                parent = message_by_key(session, row.parent_key)
            if parent is None:
                return self._settle(row, report, _Outcome("parent_missing", permanent=True), posted)
            if parent.status == SlackMessageStatus.failed:
                return self._settle(row, report, _Outcome("parent_failed", permanent=True), posted)
            if parent.status == SlackMessageStatus.pending:
                return False  # its thread root or target is in another lane and not out yet
        # Paced or rate limited since the batch was read (an earlier row of the batch went to the same channel).
        if not self._may_call(KIND_METHODS[row.kind], row.channel if row.kind == SlackMessageKind.post else None):
            return False
        if row.maybe_sent and row.kind == SlackMessageKind.post and not all(map(self._may_call, LOOKUP_METHODS)):
            return False  # it is looked for before posting again, and the lookup waits out a 429
        try:
            if row.kind == SlackMessageKind.pin:
                posted = True
                return self._pin(row, parent, report)
            if row.kind == SlackMessageKind.upload:
                posted = True
                return self._upload(row, report)
            if row.kind == SlackMessageKind.update:
                text, blocks = self._mark_attempt(row)
                posted = True
                self.client.chat_update(channel=parent.sent_channel, ts=parent.sent_ts, text=text,
                                        blocks=blocks or None)
                return self._mark_sent(row, report, parent.sent_channel, parent.sent_ts)
            channel = parent.sent_channel if parent else row.channel
            thread_ts = parent.sent_ts if parent else None
            if row.maybe_sent:
                found = self._find_posted(row, channel, thread_ts)
                if found is not None:
                    report.found_already_sent += 1
                    return self._mark_sent(row, report, *found)
            text, blocks = self._mark_attempt(row)
            posted = True
            response = self._post(
                row, channel=channel, thread_ts=thread_ts, text=text, blocks=blocks or None, unfurl_links=False,
                metadata={"event_type": METADATA_EVENT, "event_payload": {"key": row.key}})
            return self._mark_sent(row, report, response["channel"], response["ts"])
        except Exception as exc:  # noqa: BLE001 - classified below; anything unexpected counts as unknown
            try:
                outcome = _classify(exc)
            except Exception:  # noqa: BLE001
                logger.exception("Slack outbox row %s failed unexpectedly", row.id)
                outcome = _Outcome(f"unexpected: {exc.__class__.__name__}", maybe_sent=True)
            if outcome.retry_after is not None:
                self._rate_limited(exc, row, outcome.retry_after)
            return self._settle(row, report, outcome, posted)

    def _pin(self, row: SlackMessage, parent: SlackMessage, report: DrainReport) -> bool:
        """Pin the posted parent; a pin already there (an earlier try whose answer was lost) is done."""
        self._mark_attempt(row)
        try:
            self.client.pins_add(channel=parent.sent_channel, timestamp=parent.sent_ts)
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error in PERMANENT_PIN_ERRORS:
                return self._settle(row, report, _Outcome(str(error), permanent=True), True)
            if error != "already_pinned":
                raise
        return self._mark_sent(row, report, parent.sent_channel, parent.sent_ts)

    def _upload(self, row: SlackMessage, report: DrainReport) -> bool:
        """Draw the row's file and share it with files_upload_v2 in the row's channel (a DM by the D... id that
        conversations.open gives); `sent_ts` keeps the file id. A refusal no retry changes fails it at once; a
        failure of the drawing too (the same spec draws the same way)."""
        if row.channel.startswith(("U", "W")) and row.channel not in self._dm_channels \
                and not self._may_call("conversations.open"):
            return False
        comment, blocks = self._mark_attempt(row)
        spec = blocks[0] if blocks else {}
        try:
            if self.render_file is None:
                raise LookupError("this sender draws no files")
            content = self.render_file(spec)
        except Exception:  # noqa: BLE001 - a spec that cannot be drawn will not draw later either
            logger.exception("Slack outbox %s: the file could not be drawn", row.key)
            return self._settle(row, report, _Outcome("render_failed", permanent=True), True)
        channel = self._conversation_id(row.channel)
        try:
            response = self.client.files_upload_v2(channel=channel, content=content,
                                                   filename=str(spec.get("filename") or "file"),
                                                   title=str(spec.get("title") or ""), initial_comment=comment or None)
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "")
            if error in PERMANENT_UPLOAD_ERRORS:
                return self._settle(row, report, _Outcome(error, permanent=True), True)
            raise
        file = response.get("file") or {}
        return self._mark_sent(row, report, channel, str(file.get("id") or "")[:32])

    def _conversation_id(self, channel: str) -> str:
        """A DM is addressed by user id, but its history lives under the D... id conversations.open gives."""
        if not channel.startswith(("U", "W")):
            return channel
        if channel not in self._dm_channels:
            self._dm_channels[channel] = self.client.conversations_open(users=channel)["channel"]["id"]
        return self._dm_channels[channel]

    def _find_posted(self, row: SlackMessage, channel: str, thread_ts: str | None) -> tuple[str, str] | None:
        """Was this row posted by an attempt whose answer never came? Look for its key in the metadata."""
        conversation = self._conversation_id(channel)
        cursor = None
        for _ in range(HISTORY_PAGES):
            args = {"channel": conversation, "include_all_metadata": True, "limit": 200, "cursor": cursor}
            response = (self.client.conversations_replies(ts=thread_ts, **args) if thread_ts
                        else self.client.conversations_history(**args))
            for message in response.get("messages", []):
                payload = (message.get("metadata") or {}).get("event_payload") or {}
                if payload.get("key") == row.key:
                    return conversation, message["ts"]
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        return None

    # bookkeeping -------------------------------------------------------------------------------------
    def _mark_attempt(self, row: SlackMessage) -> tuple[str, list]:
        """Claim the row before the call, committed: if the process dies mid-call, the next try looks before
        posting; and an update claimed here is no longer rewritten by a newer one (that one is queued anew).
        Returns the content as stored now, which is what is sent."""
        with transaction(self.engine) as session:
            stored = session.get(SlackMessage, row.id)
            stored.attempts += 1
            stored.maybe_sent = stored.kind == SlackMessageKind.post
            return stored.text, list(stored.blocks or [])

    def _mark_sent(self, row: SlackMessage, report: DrainReport, channel: str, ts: str) -> bool:
        with transaction(self.engine) as session:
            stored = session.get(SlackMessage, row.id)
            stored.status, stored.sent_channel, stored.sent_ts = SlackMessageStatus.sent, channel, ts
            stored.sent_at, stored.maybe_sent = self.clock(), False
        report.sent += 1
        return True

    def _settle(self, row: SlackMessage, report: DrainReport, outcome: _Outcome, called: bool) -> bool:
        """Reschedule a failed try, or mark the row failed for good (and its replies and updates with it).

        `called`: the post or update itself was made (a failure while looking for an earlier post was not).
        """
        with transaction(self.engine) as session:
            stored = session.get(SlackMessage, row.id)
            if not called:
                stored.attempts += 1  # a call's attempt was counted before it was made
            elif outcome.retry_after is not None:
                stored.attempts -= 1  # rate limited: Slack did nothing, and waiting is not failing
            if called:
                stored.maybe_sent = outcome.maybe_sent and stored.kind == SlackMessageKind.post
            stored.last_error = outcome.error[:500]
            give_up = outcome.permanent or stored.attempts >= MAX_ATTEMPTS
            if give_up:
                stored.status = SlackMessageStatus.failed
                fail_dependents(session, stored.key, "parent_failed")
            else:
                delay = outcome.retry_after if outcome.retry_after is not None else self.backoff(stored.attempts)
                stored.next_attempt_at = self.clock() + timedelta(seconds=delay)
            failed = SlackMessage.model_validate(stored.model_dump()) if give_up else None
        if failed is None:
            report.retrying += 1
            logger.info("Slack outbox %s: %s; trying again later", row.key, outcome.error)
            return True
        report.failed += 1
        report.failures.append(failed)
        logger.warning("Slack outbox %s failed for good: %s", row.key, outcome.error)
        if self.on_failed is not None and outcome.error not in ("parent_failed", "parent_missing"):
            try:
                self.on_failed(failed)
            except Exception:  # noqa: BLE001 - reporting must not stop the drain; the row stays failed
                logger.exception("reporting the failed Slack message %s failed", failed.key)
        return True
