"""Nudge queries: keys already used, mutes in force, people's stored time zones, and who may answer a nudge."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import and_, or_, tuple_
from sqlmodel import Session, select

from storage.actors import Actor
from storage.statements import upsert, upsert_rows
from storage.models import Partner
from storage.nudges.models import Nudge, NudgeMute, SlackUserZone

CHUNK = 500  # keys per IN (...) list


def _chunks(items: list, size: int = CHUNK) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def nudge_keys_used(session: Session, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(list(dict.fromkeys(keys))):
        found.update(session.exec(select(Nudge.key).where(Nudge.key.in_(chunk))).all())
    return found


def muted(session: Session, pairs: list[tuple[str, str]], now: datetime) -> set[tuple[str, str]]:
    """Which (kind, subject) pairs are stopped (for good) or snoozed (until after `now`)."""
    found: set[tuple[str, str]] = set()
    for chunk in _chunks(list(dict.fromkeys(pairs))):
        rows = session.exec(select(NudgeMute.kind, NudgeMute.subject).where(
            tuple_(NudgeMute.kind, NudgeMute.subject).in_(chunk),
            or_(NudgeMute.until.is_(None), NudgeMute.until > now))).all()
        found.update((kind, subject) for kind, subject in rows)
    return found


def stored_zones(session: Session, user_ids: list[str], fresh_after: datetime) -> dict[str, str | None]:
    """Time zones fetched since `fresh_after`, by user id (None: Slack gave none)."""
    zones: dict[str, str | None] = {}
    for chunk in _chunks(list(dict.fromkeys(user_ids))):
        for row in session.exec(select(SlackUserZone).where(SlackUserZone.slack_user_id.in_(chunk),
                                                             SlackUserZone.fetched_at > fresh_after)):
            zones[row.slack_user_id] = row.tz
    return zones


def store_zones(session: Session, zones: dict[str, str | None], now: datetime) -> None:
    """Kept or refreshed (a few statements for any number of people); two runs storing the same person's zone at
    once both succeed."""
    upsert_rows(session, SlackUserZone, key="slack_user_id",
                rows=[{"slack_user_id": user_id, "tz": tz, "fetched_at": now} for user_id, tz in zones.items()])


def set_mute(session: Session, *, kind: str, subject: str, until: datetime | None, by: str, nudge_id: int,
             now: datetime) -> None:
    """Snooze (until) or stop (None) a kind for a subject; a later answer replaces an earlier one, and two presses
    at the same moment both succeed (one statement on the unique kind and subject)."""
    upsert(session, NudgeMute, key=("kind", "subject"), values={
        "kind": kind, "subject": subject, "until": until, "by_slack_id": by, "nudge_id": nudge_id, "at": now})


def nudge_for_actor(session: Session, nudge_id: int, actor: Actor) -> Nudge | None:
    """The nudge, when `actor` may answer it: the person it was sent to; for one in a partner's channel, that
    partner's people and its manager; partner managers and admins always. Locked for the answer."""
    query = (select(Nudge).outerjoin(Partner, Partner.id == Nudge.partner_id).where(Nudge.id == nudge_id)
             .with_for_update(of=Nudge))
    allowed = [Nudge.recipient == actor.slack_user_id]
    if actor.is_partner and actor.partner_id is not None:
        allowed.append(and_(Nudge.partner_id == actor.partner_id, Nudge.recipient == Partner.slack_channel_id))
    if actor.is_internal:
        allowed.append(Partner.manager_slack_id == actor.slack_user_id)
    if actor.runs_program:
        return session.exec(query).first()
    return session.exec(query.where(or_(*allowed))).first()


def recent_nudges(session: Session, partner_id: int, *, limit: int = 5) -> list[Nudge]:
    """A partner's latest nudges, newest first (the partner card)."""
    return list(session.exec(select(Nudge).where(Nudge.partner_id == partner_id)
                             .order_by(Nudge.created_at.desc(), Nudge.id.desc()).limit(limit)).all())
