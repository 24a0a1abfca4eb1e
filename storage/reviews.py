"""Queries of the reviewer tools: undo records, threads and reminders in the Slack outbox, partner names.

The Slack outbox keys read here are the ones handlers/notify.py writes: `thread_root_key` is the format of a
registration's thread root, and reminders are keyed `review-sla:{registration id}:…` (workflows/reminders.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlmodel import Session, select

from storage.models import CrmOutbox, OutboxStatus, Partner, Registration, Reminder, ReviewDecision
from storage.slack.models import SlackMessage, SlackMessageKind, SlackMessageStatus

ROOT_PREFIX, ROOT_SUFFIX = "reg:", ":root"


def thread_root_key(registration_id: int) -> str:
    """The outbox key of the partner-facing message a registration's updates are threaded under."""
    return f"{ROOT_PREFIX}{registration_id}{ROOT_SUFFIX}"


def registration_of_thread(session: Session, channel_id: str, thread_ts: str) -> tuple[Registration, Partner] | None:
    """The registration whose thread root Slack shows at (channel, ts), found by index; None for other threads."""
    key = session.exec(select(SlackMessage.key).where(
        SlackMessage.sent_channel == channel_id, SlackMessage.sent_ts == thread_ts,
        SlackMessage.kind == SlackMessageKind.post, SlackMessage.parent_key.is_(None))).first()
    if not key or not (key.startswith(ROOT_PREFIX) and key.endswith(ROOT_SUFFIX)):
        return None
    middle = key[len(ROOT_PREFIX):-len(ROOT_SUFFIX)]
    if not middle.isdigit():
        return None
    row = session.exec(select(Registration, Partner).join(Partner, Partner.id == Registration.partner_id)
                       .where(Registration.id == int(middle))).first()
    return None if row is None else (row[0], row[1])


def sent_location(session: Session, key: str | None) -> tuple[str, str] | None:
    """Where Slack shows the message queued under `key` (its conversation and ts), once it was posted."""
    if not key:
        return None
    row = session.exec(select(SlackMessage.sent_channel, SlackMessage.sent_ts).where(SlackMessage.key == key)).first()
    return (row[0], row[1]) if row and row[0] and row[1] else None


def withhold_unsent(session: Session, key: str | None) -> bool:
    """Drop a queued post that no attempt has touched yet (nobody has seen it); False when it may be out.

    Conditional on the row as stored, so a sender that just claimed it (attempts 1) keeps it."""
    if not key:
        return False
    return session.exec(delete(SlackMessage).where(
        SlackMessage.key == key, SlackMessage.status == SlackMessageStatus.pending,
        SlackMessage.attempts == 0, SlackMessage.maybe_sent.is_(False))).rowcount == 1


def withhold_unsent_crm(session: Session, registration_id: int, event: str) -> int:
    """Drop a registration's CRM writes of `event` that no drain has tried yet; returns how many."""
    return session.exec(delete(CrmOutbox).where(
        CrmOutbox.registration_id == registration_id, CrmOutbox.event == event,
        CrmOutbox.status == OutboxStatus.pending, CrmOutbox.attempts == 0)).rowcount


def reminder_keys(session: Session, registration_id: int) -> list[str]:
    """Keys of the approval-SLA reminders sent about a registration (each is also its outbox key)."""
    return reminder_keys_under(session, f"review-sla:{registration_id}:")


def reminder_keys_under(session: Session, prefix: str) -> list[str]:
    """Keys of the reminders sent whose key starts with `prefix` (ending in ":"), the first sent first.

    A range on the unique key rather than LIKE, so both databases read it from the index."""
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return list(session.exec(select(Reminder.key).where(Reminder.key >= prefix, Reminder.key < upper)
                             .order_by(Reminder.id)).all())


def latest_decision(session: Session, registration_id: int) -> ReviewDecision | None:
    """The newest decision on a registration that was not undone, locked where the database can."""
    return session.exec(select(ReviewDecision).where(ReviewDecision.registration_id == registration_id,
                                                     ReviewDecision.undone_at.is_(None))
                        .order_by(ReviewDecision.id.desc()).limit(1).with_for_update()).first()


def undoable_until(session: Session, registration_id: int, now: datetime) -> datetime | None:
    """When the newest decision on a registration stops being undoable, if it still is."""
    decision = session.exec(select(ReviewDecision).where(ReviewDecision.registration_id == registration_id,
                                                         ReviewDecision.undone_at.is_(None))
                            .order_by(ReviewDecision.id.desc()).limit(1)).first()
    return decision.undo_until if decision is not None and decision.undo_until > now else None


def undoable_decisions(session: Session, actor_slack_id: str, now: datetime, *,
                       limit: int = 3) -> list[tuple[ReviewDecision, Registration]]:
    """This reviewer's decisions still in their undo window whose registration still shows them, newest first."""
    rows = session.exec(select(ReviewDecision, Registration)
                        .join(Registration, Registration.id == ReviewDecision.registration_id)
                        .where(ReviewDecision.actor_slack_id == actor_slack_id, ReviewDecision.undo_until > now,
                               ReviewDecision.undone_at.is_(None), Registration.status == ReviewDecision.to_status)
                        .order_by(ReviewDecision.undo_until.desc()).limit(limit)).all()
    return [(row[0], row[1]) for row in rows]


def partner_names(session: Session) -> list[tuple[int, str, str | None]]:
    """(id, name, domain) of every partner in the program, to keep one partner's name from another."""
    return [(row[0], row[1], row[2]) for row in session.exec(select(Partner.id, Partner.name, Partner.domain)).all()]
