"""The Slack outbox table: one row per message owed (a post, a thread reply, an update in place)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Index, String, text
from sqlmodel import Field, SQLModel

from storage.models import json_field, ts_field, utcnow


class SlackMessageStatus(StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"


class SlackMessageKind(StrEnum):
    post = "post"  # chat.postMessage (a thread reply when parent_key is set)
    update = "update"  # chat.update of the message stored under parent_key
    pin = "pin"  # pins.add of the message stored under parent_key, once it is posted
    upload = "upload"  # a file drawn when sent (blocks: [FileSpec]) and shared with files_upload_v2; text: its comment


SENT_UPDATE = text("kind = 'update' AND status = 'sent'")
# The outbox keeps every post it sent, so its status indexes are partial: they hold only the rows looked for (the
# sender's search, storage/slack/outbox.py due_messages, reads pending rows only), and no index on a channel's rows
# serves that search but the pending posts' (its plan cannot stray into a channel's history).
PENDING = text("status = 'pending'")
FAILED = text("status = 'failed'")
PENDING_POST = text("status = 'pending' AND kind = 'post'")
PENDING_OTHER = text("status = 'pending' AND kind <> 'post'")
SETTLED = text("status <> 'pending'")  # sent or failed: found by channel when a channel moves (move_channel)


class SlackMessage(SQLModel, table=True):
    """A message the bot owes someone, recorded in the same transaction as the change it reports.

    `key` makes enqueueing idempotent and is attached to the posted message as metadata, so a send whose
    outcome is unknown can be looked up before it is tried again. Rows of one `lane` go out in id order:
    a reply waits for its thread root, an update for the message it updates.
    """

    __tablename__ = "slack_outbox"
    __table_args__ = (Index("ix_slack_outbox_due", "next_attempt_at", "id", sqlite_where=PENDING,
                            postgresql_where=PENDING),
                      Index("ix_slack_outbox_failed", "id", sqlite_where=FAILED, postgresql_where=FAILED),
                      Index("ix_slack_outbox_channel", "channel", sqlite_where=SETTLED, postgresql_where=SETTLED),
                      Index("ix_slack_outbox_lane", "lane", "id", sqlite_where=PENDING, postgresql_where=PENDING),
                      # A message that failed for good fails its pending replies and updates (fail_dependents).
                      Index("ix_slack_outbox_parent", "parent_key", sqlite_where=PENDING, postgresql_where=PENDING),
                      # A reply in a registration's thread is matched to it by the root's channel and ts.
                      Index("ix_slack_outbox_sent", "sent_channel", "sent_ts"),
                      # Only sent updates, which the daily clean-up deletes after a while (workflows/retention.py).
                      Index("ix_slack_outbox_sent_updates", "sent_at", sqlite_where=SENT_UPDATE,
                            postgresql_where=SENT_UPDATE),
                      Index("ix_slack_outbox_pending_posts", "channel", "id", "next_attempt_at", "lane",
                            sqlite_where=PENDING_POST, postgresql_where=PENDING_POST),
                      Index("ix_slack_outbox_pending_others", "next_attempt_at", "id", sqlite_where=PENDING_OTHER,
                            postgresql_where=PENDING_OTHER))
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_column=Column(String(200), unique=True, nullable=False))
    lane: str = Field(max_length=200)
    kind: SlackMessageKind = SlackMessageKind.post
    channel: str = Field(max_length=32)  # a channel id, or a user id for a DM
    parent_key: str | None = Field(default=None, max_length=200)
    text: str = Field(default="", max_length=40000)
    blocks: list[dict[str, Any]] = json_field(list)
    partner_id: int | None = None  # whose channel, to name it when Slack refuses (read from the row, never searched)
    status: SlackMessageStatus = SlackMessageStatus.pending
    attempts: int = 0
    maybe_sent: bool = False  # an attempt's outcome is unknown: look before posting again
    next_attempt_at: datetime = ts_field(default_factory=utcnow)
    last_error: str | None = Field(default=None, max_length=500)
    sent_channel: str | None = Field(default=None, max_length=32)
    sent_ts: str | None = Field(default=None, max_length=32)
    created_at: datetime = ts_field(default_factory=utcnow)
    sent_at: datetime | None = ts_field(default=None, nullable=True)
