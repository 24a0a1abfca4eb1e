"""The nudge side of the Slack notifier: a nudge is queued to go out at its working-hours moment, in its own lane
(a nudge waiting for Monday morning holds up nothing else), and shows who answered it in place of its buttons."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from handlers.blocks.nudges import answer_note, build_nudge, build_nudge_answered
from handlers.notify_upsells import message_blocks
from storage.nudges.models import Nudge
from storage.slack.outbox import enqueue_post, enqueue_update, message_by_key
from workflows.nudges import NudgeContent


class NudgeNotices:
    def nudge(self, session: Session, nudge: Nudge, content: NudgeContent, *, parent_key: str | None = None) -> None:
        message = build_nudge(nudge, content, snooze_days=self.program.nudges.snooze_days)
        enqueue_post(session, key=nudge.message_key, lane=f"nudge:{nudge.id}", channel="" if parent_key else
                     nudge.recipient, text=message.text, blocks=message_blocks(message), now=self.clock(),
                     parent_key=parent_key, partner_id=nudge.partner_id, not_before=nudge.deliver_at)

    def nudge_answered(self, session: Session, nudge: Nudge, *, until: datetime | None = None,
                       note: str | None = None) -> None:
        """The nudge keeps what it said; its buttons give way to who answered and how."""
        original = message_by_key(session, nudge.message_key)
        if original is None:
            return
        message = build_nudge_answered(original.text, list(original.blocks or []), nudge,
                                       note or answer_note(nudge, until))
        enqueue_update(session, lane=f"nudge:{nudge.id}", parent_key=nudge.message_key, text=message.text,
                       blocks=message_blocks(message), now=self.clock())
