"""Partners due a nudge, read by index (ix_partner_stage_since) a page at a time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_
from sqlmodel import Session, select

from storage.models import Partner, PartnerContact, PartnerStage, Registration


def _past(after: tuple[datetime, int] | None):
    if after is None:
        return True
    return or_(Partner.stage_since > after[0], and_(Partner.stage_since == after[0], Partner.id > after[1]))


def partners_without_registration(session: Session, stages: tuple[PartnerStage, ...], *, entered_before: datetime,
                                  after: tuple[datetime, int] | None, limit: int) -> list[Partner]:
    """Partners in `stages` since before `entered_before`, with a channel, who registered nothing since they
    entered it; oldest in their stage first."""
    registered = (select(Registration.id).where(Registration.partner_id == Partner.id,
                                                Registration.created_at >= Partner.stage_since).exists())
    return list(session.exec(
        select(Partner).where(Partner.stage.in_(stages), Partner.stage_since <= entered_before,
                              Partner.slack_channel_id.is_not(None), ~registered, _past(after))
        .order_by(Partner.stage_since, Partner.id).limit(limit)).all())


def partner_contacts(session: Session, partner_id: int, *, limit: int = 5) -> list[str]:
    return list(session.exec(select(PartnerContact.slack_user_id).where(PartnerContact.partner_id == partner_id)
                             .order_by(PartnerContact.id).limit(limit)).all())
