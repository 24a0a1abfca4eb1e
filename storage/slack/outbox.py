"""Queue and inspect messages in the Slack outbox; the sender (storage/slack/sender.py) drains it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from storage.at_commit import insert_at_commit
from storage.slack.models import SlackMessage, SlackMessageKind, SlackMessageStatus


def _find(session: Session, key: str) -> SlackMessage | None:
    return session.exec(select(SlackMessage).where(SlackMessage.key == key)).first()


def enqueue_post(session: Session, *, key: str, lane: str, channel: str, text: str, blocks: list[dict[str, Any]],
                 now: datetime, parent_key: str | None = None, partner_id: int | None = None,
                 not_before: datetime | None = None, new_key: bool = False) -> SlackMessage:
    """Owe a message (a thread reply under `parent_key` when given), sent from `not_before` (default now);
    enqueueing the same key twice owes it once. `new_key`: the key is made from a unique row this transaction
    inserted (a new registration's thread root, a reminder), so no message can hold it yet and it is not looked
    up: one query fewer (before an ack, or per reminder in a job's write transaction)."""
    existing = None if new_key else _find(session, key)
    if existing is not None:
        return existing
    if parent_key and not channel:
        # A reply goes where its root went; storing it lets a channel's failures be retried together. Only the
        # channel is read: the root's blocks are not needed here.
        channel = session.exec(select(SlackMessage.channel).where(SlackMessage.key == parent_key)).first() or ""
    row = SlackMessage(key=key, lane=lane, kind=SlackMessageKind.post, channel=channel, parent_key=parent_key,
                       text=text, blocks=blocks, partner_id=partner_id, created_at=now,
                       next_attempt_at=max(now, not_before) if not_before else now)
    if new_key:  # nothing in this transaction looks for it either
        insert_at_commit(session, row)
    else:
        session.add(row)
    return row


FILE_SPEC_CHARS = 20_000  # an upload row holds what its file is drawn from, never the file itself


def enqueue_upload(session: Session, *, key: str, lane: str, channel: str, spec: dict[str, Any], comment: str,
                   now: datetime, not_before: datetime | None = None) -> SlackMessage:
    """Owe a file, drawn when it is sent from `spec` (`renderer`, its `input`, `filename`, `title`: the sender's
    `render_file` knows the renderers) and shared in `channel` (a user id: their DM) with `comment`; enqueueing
    the same key twice owes it once. The row stays small: `spec` is bounded, the bytes are never stored."""
    if len(json.dumps(spec)) > FILE_SPEC_CHARS:
        raise ValueError(f"a file to upload is described in at most {FILE_SPEC_CHARS} characters")
    existing = _find(session, key)
    if existing is not None:
        return existing
    row = SlackMessage(key=key, lane=lane, kind=SlackMessageKind.upload, channel=channel, text=comment,
                       blocks=[spec], created_at=now, next_attempt_at=max(now, not_before) if not_before else now)
    session.add(row)
    return row


def enqueue_update(session: Session, *, lane: str, parent_key: str, text: str, blocks: list[dict[str, Any]],
                   now: datetime) -> SlackMessage:
    """Owe an update in place of the message queued under `parent_key`.

    An update not yet tried is rewritten rather than followed by another: only the latest content matters,
    and Slack's rate limits are better spent on messages people read.
    """
    # By lane and status (the lane index): the outbox holds every message ever sent, never scan it.
    waiting = session.exec(select(SlackMessage).where(
        SlackMessage.lane == lane, SlackMessage.status == SlackMessageStatus.pending,
        SlackMessage.parent_key == parent_key, SlackMessage.kind == SlackMessageKind.update,
        SlackMessage.attempts == 0)).first()
    if waiting is not None:
        # Conditional: the sender may have just claimed it (attempts 1), and then it is too late to rewrite.
        merged = session.exec(update(SlackMessage).where(
            SlackMessage.id == waiting.id, SlackMessage.status == SlackMessageStatus.pending,
            SlackMessage.attempts == 0).values(text=text, blocks=blocks)).rowcount
        if merged:
            session.expire(waiting)
            return waiting
    parent = _find(session, parent_key)
    row = SlackMessage(key=f"{parent_key}~{uuid.uuid4().hex[:12]}", lane=lane, kind=SlackMessageKind.update,
                       channel=parent.channel if parent else "", parent_key=parent_key, text=text, blocks=blocks,
                       partner_id=parent.partner_id if parent else None, created_at=now, next_attempt_at=now)
    session.add(row)
    return row


def enqueue_pin(session: Session, *, lane: str, parent_key: str, now: datetime) -> SlackMessage:
    """Owe pinning the message queued under `parent_key`, once per message; the sender waits for it to be posted."""
    key = f"{parent_key}:pin"
    existing = _find(session, key)
    if existing is not None:
        return existing
    parent = _find(session, parent_key)
    row = SlackMessage(key=key, lane=lane, kind=SlackMessageKind.pin, channel=parent.channel if parent else "",
                       parent_key=parent_key, partner_id=parent.partner_id if parent else None, created_at=now,
                       next_attempt_at=now)
    session.add(row)
    return row


def due_messages(session: Session, now: datetime, *, limit: int, skip_channels: Collection[str] = (),
                 skip_kinds: Collection[SlackMessageKind] = ()) -> list[SlackMessage]:
    """Pending rows whose time has come and that head their lane (nothing earlier in it still pending).

    Rows that cannot go now are left out here, so a batch is never filled with them while other channels
    wait behind: posts to `skip_channels` (paced, or told to wait by a 429) and rows of `skip_kinds` (their
    Web API method is rate limited for the whole workspace). A skipped lane head still holds its lane.
    """
    earlier = aliased(SlackMessage)
    blocked = (select(earlier.id).where(earlier.lane == SlackMessage.lane,
                                        earlier.status == SlackMessageStatus.pending, earlier.id < SlackMessage.id)
               .exists())
    query = select(SlackMessage).where(SlackMessage.status == SlackMessageStatus.pending,
                                       SlackMessage.next_attempt_at <= now, ~blocked)
    if skip_channels:
        query = query.where(or_(SlackMessage.kind != SlackMessageKind.post,
                                SlackMessage.channel.not_in(list(skip_channels))))
    if skip_kinds:
        query = query.where(SlackMessage.kind.not_in(list(skip_kinds)))
    return list(session.exec(query.order_by(SlackMessage.id).limit(limit)).all())


def message_by_key(session: Session, key: str) -> SlackMessage | None:
    return _find(session, key)


def next_due_at(session: Session) -> datetime | None:
    """When the earliest pending row may be tried (None when nothing is pending)."""
    return session.exec(select(func.min(SlackMessage.next_attempt_at))
                        .where(SlackMessage.status == SlackMessageStatus.pending)).one()


def fail_dependents(session: Session, key: str, error: str) -> int:
    """Replies and updates of a message that will never exist cannot be sent either.

    Found by their parent's key (ix_slack_outbox_parent): the pending rows may be a backlog of thousands after
    an outage, and this runs inside the sender's write transaction.
    """
    return session.exec(update(SlackMessage)
                        .where(SlackMessage.status == SlackMessageStatus.pending, SlackMessage.parent_key == key)
                        .values(status=SlackMessageStatus.failed, last_error=error)).rowcount


def retry_failed(session: Session, now: datetime, *, channel: str | None = None) -> int:
    """Failed rows (all, or one channel's) go back to pending, oldest first, as if new."""
    query = update(SlackMessage).where(SlackMessage.status == SlackMessageStatus.failed)
    if channel is not None:
        query = query.where(or_(SlackMessage.channel == channel, SlackMessage.sent_channel == channel))
    return session.exec(query.values(status=SlackMessageStatus.pending, attempts=0, next_attempt_at=now)).rowcount


def move_channel(session: Session, old_channel_id: str, new_channel_id: str) -> None:
    """A shared channel got a new id: owed messages and updates of sent ones follow it."""
    session.exec(update(SlackMessage).where(SlackMessage.channel == old_channel_id)
                 .values(channel=new_channel_id))
    session.exec(update(SlackMessage).where(SlackMessage.sent_channel == old_channel_id)
                 .values(sent_channel=new_channel_id))


@dataclass
class OutboxSummary:
    counts: dict[str, int]
    last_error: str | None
    last_error_key: str | None
    failed: list[SlackMessage]


def outbox_summary(session: Session, *, failed_limit: int = 20) -> OutboxSummary:
    """Pending, failed and sent counts, the last error and the failed rows, for `partnerbot slack status`."""
    counts = {str(status): 0 for status in SlackMessageStatus}
    for status, count in session.exec(select(SlackMessage.status, func.count()).group_by(SlackMessage.status)):
        counts[str(status)] = count
    last = session.exec(select(SlackMessage).where(SlackMessage.last_error.is_not(None))
                        .order_by(SlackMessage.id.desc()).limit(1)).first()
    failed = list(session.exec(select(SlackMessage).where(SlackMessage.status == SlackMessageStatus.failed)
                               .order_by(SlackMessage.id).limit(failed_limit)).all())
    return OutboxSummary(counts, last.last_error if last else None, last.key if last else None, failed)
