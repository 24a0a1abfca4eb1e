"""The weekly digest's side of the Slack notifier: the digest DM and, in the same lane after it, its chart as an
upload (drawn when sent; if Slack refuses the upload, the digest has gone already and the failure is recorded on the
upload's row, reported like any refused message); its Full report as a reply in its thread."""

from __future__ import annotations

from sqlmodel import Session

from handlers.blocks.digest import build_digest, build_full_report
from handlers.notify_upsells import message_blocks
from storage.nudges.models import Nudge
from storage.slack.outbox import enqueue_post, enqueue_upload
from workflows.digest import DigestContent
from workflows.digest_chart import chart_file

CHART_COMMENT = "Partner-sourced vs direct new pipeline, last 12 weeks"


def digest_lane(nudge: Nudge) -> str:
    return f"digest:{nudge.id}"


class DigestNotices:
    def digest(self, session: Session, nudge: Nudge, content: DigestContent) -> None:
        message = build_digest(nudge, content)
        enqueue_post(session, key=nudge.message_key, lane=digest_lane(nudge), channel=nudge.recipient,
                     text=message.text, blocks=message_blocks(message), now=self.clock(), not_before=nudge.deliver_at)
        enqueue_upload(session, key=f"{nudge.message_key}:chart", lane=digest_lane(nudge), channel=nudge.recipient,
                       spec=chart_file(content.chart, filename=f"pipeline-{content.figures.period.label}.png"),
                       comment=CHART_COMMENT, now=self.clock(), not_before=nudge.deliver_at)

    def digest_full_report(self, session: Session, nudge: Nudge, content: DigestContent) -> bool:
        """Once per digest (a second press finds it in the thread already): True when queued now."""
        message = build_full_report(content)
        row = enqueue_post(session, key=f"{nudge.message_key}:full", lane=f"{digest_lane(nudge)}:full", channel="",
                     parent_key=nudge.message_key, text=message.text, blocks=message_blocks(message),
                     now=self.clock())
        return row.id is None  # added now, not found: flushed with the transaction
