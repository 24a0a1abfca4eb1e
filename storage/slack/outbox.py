"""Queue and inspect messages in the Slack outbox; the sender (storage/slack/sender.py) drains it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, and_, case, cast, func, literal, null, or_, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from storage.at_commit import insert_at_commit
from storage.slack.models import FAILED, PENDING, PENDING_OTHER, PENDING_POST, SETTLED, SlackMessage
from storage.slack.models import SlackMessageKind, SlackMessageStatus


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
    # By the lane or the parent index, which hold only pending rows: the outbox holds every message ever sent.
    waiting = session.exec(select(SlackMessage).where(
        PENDING, SlackMessage.lane == lane,
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


# How many of the oldest due rows the sender's search looks at first (times its batch), before it looks for what
# may go channel by channel: enough to fill a batch when little waits, few enough to cost next to nothing.
OLDEST_DUE_LOOKED_AT = 4


def due_messages(session: Session, now: datetime, *, limit: int, skip_channels: Collection[str] = (),
                 skip_kinds: Collection[SlackMessageKind] = (), after_channel: str = "") -> list[SlackMessage]:
    """Pending rows whose time has come and that head their lane (nothing earlier in it still pending), in id order.

    Rows that cannot go now are left out here, so a batch is never filled with them while other channels
    wait behind: posts to `skip_channels` (paced, or told to wait by a 429) and rows of `skip_kinds` (their
    Web API method is rate limited for the whole workspace). A skipped lane head still holds its lane.

    What this reads is what may go, not what is stored or waiting (the sent history is in none of the partial
    indexes it reads). First the oldest due rows, a few batches' worth: usually some of them may go, and they are
    the batch (a post retried later then takes its turn by when it came due again; within a lane, order is
    always kept). When all of those must wait (a burst queued to a few paced channels, say), the rest may be
    thousands behind them, so it looks channel by channel instead: a channel takes one post at a time, so each
    free channel's first due post (ix_slack_outbox_pending_posts; a channel that must wait is passed over
    without reading its backlog), and the other kinds by due time. That look stops once it has a batch, starting
    after `after_channel` and coming round to it (the sender passes the last channel it reached, so while the
    oldest rows wait, every channel takes its turn, not only the first in the order of their ids).
    """
    ids = _oldest_due_that_may_go(session, now, OLDEST_DUE_LOOKED_AT * limit, skip_channels, skip_kinds)
    if ids is None:  # all of the oldest must wait: what may go, channel by channel
        ids = _may_go_channel_by_channel(session, now, limit, skip_channels, skip_kinds, after_channel)
    if not ids:
        return []
    return list(session.exec(select(SlackMessage).where(SlackMessage.id.in_(ids))
                             .order_by(SlackMessage.id).limit(limit)).all())


def _oldest_due_that_may_go(session: Session, now: datetime, looked_at: int, skip_channels: Collection[str],
                            skip_kinds: Collection[SlackMessageKind]) -> list[int] | None:
    """Of the `looked_at` oldest due rows (ix_slack_outbox_due), the ids of those that may go; None when there
    were that many and all must wait (what may go, if anything, is further on).

    All of them are looked at, not only until a batch is found: the batch is taken in id order, so a channel's
    post retried after a 429 (due again later than the posts queued behind it) goes before them."""
    row = aliased(SlackMessage)
    oldest = (select(row.id, row.lane, row.kind, row.channel).where(PENDING, row.next_attempt_at <= now)
              .order_by(row.next_attempt_at, row.id).limit(looked_at).subquery())
    may_go = [_heads_its_lane(oldest.c.lane, oldest.c.id)]
    if skip_kinds:
        may_go.insert(0, oldest.c.kind.not_in(list(skip_kinds)))
    if skip_channels:
        may_go.insert(0, or_(oldest.c.kind != SlackMessageKind.post, oldest.c.channel.not_in(list(skip_channels))))
    found = session.exec(select(oldest.c.id, case((and_(*may_go), True), else_=False))).all()
    ids = [row_id for row_id, goes in found if goes]
    return ids if ids or len(found) < looked_at else None


def _may_go_channel_by_channel(session: Session, now: datetime, limit: int, skip_channels: Collection[str],
                               skip_kinds: Collection[SlackMessageKind], after_channel: str) -> list[int]:
    """Ids that may go: the first due posts of up to `limit` free channels after `after_channel` (then from the
    first channel up to it, if that found fewer), and up to `limit` of the other kinds by due time."""
    ids = []
    if SlackMessageKind.post not in skip_kinds:
        ids = list(session.exec(_first_posts_of_free_channels(now, limit, skip_channels, after=after_channel)).all())
        if after_channel and len(ids) < limit:  # round to the start
            ids += session.exec(_first_posts_of_free_channels(now, limit - len(ids), skip_channels, after="",
                                                              until=after_channel)).all()
    others = [kind for kind in SlackMessageKind if kind != SlackMessageKind.post and kind not in skip_kinds]
    if others:
        row = aliased(SlackMessage)
        ids += session.exec(select(row.id)
                            .where(PENDING_OTHER, row.next_attempt_at <= now, row.kind.in_(others),
                                   _heads_its_lane(row.lane, row.id))
                            .order_by(row.next_attempt_at, row.id).limit(limit)).all()
    return ids


def _heads_its_lane(lane, row_id):
    earlier = aliased(SlackMessage)
    return ~select(earlier.id).where(PENDING, earlier.lane == lane, earlier.id < row_id).exists()


def _first_posts_of_free_channels(now: datetime, limit: int, skip_channels: Collection[str], *, after: str,
                                  until: str | None = None):
    """The first due post that heads its lane of each channel (after `after`, up to `until`) with pending posts
    and not in `skip_channels`, for the first `limit` such channels in channel order (a channel takes one post at
    a time; its posts in id order, as queued, a retried one first once it is due).

    The channels are stepped through one index probe each (a recursive query: without it SQLite and PostgreSQL
    would read every pending post to find the distinct channels), and the steps stop once `limit` posts are found,
    so a search that finds what it needs in the channels it reaches first does not step through thousands. The
    count is kept in the recursion itself, which stops it on both databases (tests/test_slack_outbox_scale.py
    counts the work). Each step carries the previous channel's post, found by a second probe: SQLite's recursive
    step may name the recursive table only once, and not inside a subquery of its own."""

    def first_channel(after):
        step = aliased(SlackMessage)
        return (select(step.channel).where(PENDING_POST, step.channel > after)
                .order_by(step.channel, step.id).limit(1).scalar_subquery())  # the partial index's order

    def first_post(channel):
        post = aliased(SlackMessage)
        # The channel as a range, not an equality: ordered by (channel, id), only the pending posts' index gives
        # that order. Given `channel =` and an id order, PostgreSQL may walk the primary key, through the whole
        # history, expecting the channel's posts to be spread evenly over it.
        found = (select(post.id)
                 .where(PENDING_POST, post.channel >= channel, post.channel <= channel,
                        post.next_attempt_at <= now, _heads_its_lane(post.lane, post.id))
                 .order_by(post.channel, post.id).limit(1).scalar_subquery())
        if skip_channels:
            return case((channel.in_(list(skip_channels)), None), else_=found)
        return found

    # Each row: a channel, the post found in the channel before it (or none), and how many were found in the
    # channels before that one (so the steps may find one more than `limit`).
    steps = select(first_channel(literal(after)).label("channel"), cast(null(), Integer).label("post"),
                   literal(0).label("found")
                   ).cte("steps", recursive=True)
    more = [steps.c.channel.is_not(None), steps.c.found < limit]
    if until is not None:
        more.append(steps.c.channel <= until)
    steps = steps.union_all(
        select(first_channel(steps.c.channel), first_post(steps.c.channel),
               steps.c.found + case((steps.c.post.is_(None), 0), else_=1)).where(*more))
    return select(steps.c.post).where(steps.c.post.is_not(None)).limit(limit)


def message_by_key(session: Session, key: str) -> SlackMessage | None:
    return _find(session, key)


def next_due_at(session: Session) -> datetime | None:
    """When the earliest pending row may be tried (None when nothing is pending)."""
    return session.exec(select(func.min(SlackMessage.next_attempt_at)).where(PENDING)).one()


def fail_dependents(session: Session, key: str, error: str) -> int:
    """Replies and updates of a message that will never exist cannot be sent either.

    Found by their parent's key (ix_slack_outbox_parent): the pending rows may be a backlog of thousands after
    an outage, and this runs inside the sender's write transaction.
    """
    return session.exec(update(SlackMessage).where(PENDING, SlackMessage.parent_key == key)
                        .values(status=SlackMessageStatus.failed, last_error=error)).rowcount


def retry_failed(session: Session, now: datetime, *, channel: str | None = None) -> int:
    """Failed rows (all, or one channel's) go back to pending, oldest first, as if new."""
    query = update(SlackMessage).where(FAILED)
    if channel is not None:
        query = query.where(or_(SlackMessage.channel == channel, SlackMessage.sent_channel == channel))
    return session.exec(query.values(status=SlackMessageStatus.pending, attempts=0, next_attempt_at=now)).rowcount


def move_channel(session: Session, old_channel_id: str, new_channel_id: str) -> None:
    """A shared channel got a new id: owed messages and updates of sent ones follow it."""
    for rows in (PENDING_POST, PENDING_OTHER, SETTLED):  # each by its partial index
        session.exec(update(SlackMessage).where(rows, SlackMessage.channel == old_channel_id)
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
    failed = list(session.exec(select(SlackMessage).where(FAILED).order_by(SlackMessage.id).limit(failed_limit))
                  .all())
    return OutboxSummary(counts, last.last_error if last else None, last.key if last else None, failed)
