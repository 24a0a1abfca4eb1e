"""Registrations due a nudge, read by index a page at a time: approved and quiet (ix_registration_status_updated),
approved and near the end of their protection (ix_registration_status_expires); and a registration's nudges."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from storage.models import Partner, Registration, RegistrationStatus
from storage.nudges.models import Nudge
from storage.statements import past


def stalled_registrations(session: Session, *, quiet_since: datetime, after: tuple[datetime, int] | None,
                          limit: int) -> list[tuple[Registration, Partner]]:
    """Approved registrations with an owner whose last change (`updated_at`: the approval, a status event, a
    Still working) is no later than `quiet_since`; quietest first."""
    query = (select(Registration, Partner).join(Partner, Partner.id == Registration.partner_id)
             .where(Registration.status == RegistrationStatus.approved, Registration.updated_at <= quiet_since,
                    Registration.assigned_to_slack_id.is_not(None))
             .order_by(Registration.updated_at, Registration.id).limit(limit))
    if after is not None:
        query = query.where(past(Registration.updated_at, Registration.id, after))
    return list(session.exec(query).all())


def expiring_registrations(session: Session, *, now: datetime, until: datetime, after: tuple[datetime, int] | None,
                           limit: int) -> list[tuple[Registration, Partner]]:
    """Approved registrations whose protection ends after `now` and no later than `until`; soonest first."""
    query = (select(Registration, Partner).join(Partner, Partner.id == Registration.partner_id)
             .where(Registration.status == RegistrationStatus.approved, Registration.protection_expires_at > now,
                    Registration.protection_expires_at <= until)
             .order_by(Registration.protection_expires_at, Registration.id).limit(limit))
    if after is not None:
        query = query.where(past(Registration.protection_expires_at, Registration.id, after))
    return list(session.exec(query).all())


def open_nudges_of(session: Session, registration_id: int, kinds: tuple[str, ...]) -> list[Nudge]:
    """A registration's nudges of these kinds nobody has answered yet (ix_nudge_registration), locked for the
    answer."""
    return list(session.exec(select(Nudge).where(Nudge.registration_id == registration_id, Nudge.kind.in_(kinds),
                                                 Nudge.response.is_(None))
                             .order_by(Nudge.id).with_for_update()).all())


def registration_of_nudge(session: Session, nudge_id: int) -> int | None:
    """Which registration a nudge is about (not who may answer it: nudge_for_actor checks that)."""
    return session.exec(select(Nudge.registration_id).where(Nudge.id == nudge_id)).first()
