"""What is kept only for a while: the keys that drop Slack's retries, and updates Slack already has.

Slack retries an event or a request within minutes, so a delivery's key is needed for days, not years. An
update (chat.update) is never the parent of anything, and once sent its copy serves no one. Posts stay: later
replies and updates find their thread and message through them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlmodel import Session, select

from storage.models import ProcessedEvent
from storage.slack.models import SENT_UPDATE, SlackMessage


def old_delivery_keys(session: Session, before: datetime, *, limit: int) -> list[str]:
    return list(session.exec(select(ProcessedEvent.event_id).where(ProcessedEvent.received_at < before)
                             .order_by(ProcessedEvent.received_at).limit(limit)).all())


def forget_delivery_keys(session: Session, keys: list[str]) -> None:
    session.exec(delete(ProcessedEvent).where(ProcessedEvent.event_id.in_(keys)))


def old_sent_updates(session: Session, before: datetime, *, limit: int) -> list[int]:
    # The partial index ix_slack_outbox_sent_updates holds exactly these rows: no scan of the posts kept. Its
    # condition is repeated word for word (not as bound values), or SQLite cannot tell that it applies.
    return list(session.exec(select(SlackMessage.id).where(SENT_UPDATE, SlackMessage.sent_at < before)
                             .order_by(SlackMessage.sent_at).limit(limit)).all())


def forget_messages(session: Session, ids: list[int]) -> None:
    session.exec(delete(SlackMessage).where(SlackMessage.id.in_(ids)))
