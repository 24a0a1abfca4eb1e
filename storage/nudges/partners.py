"""Partners due a nudge, read by index (ix_partner_stage_since) a page at a time."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, type_coerce
from sqlmodel import Session, select

from storage.models import Partner, PartnerContact, PartnerStage, Registration, UTCDateTime
from storage.nudges.models import Nudge, NudgeKind
from storage.statements import past

# Who the partner nudges are for: not yet registering (activation), or gone quiet (re-engagement).
ACTIVATION_STAGES = (PartnerStage.recruited, PartnerStage.onboarded)
REENGAGEMENT_STAGES = (PartnerStage.activated, PartnerStage.producing)


def _past(after: tuple[datetime, int] | None):
    return True if after is None else past(Partner.stage_since, Partner.id, after)


def registered_since(since):
    """The partner (of the outer query) registered a lead at or after `since` (a time, or a column such as
    Partner.stage_since), by index on registration (partner_id, created_at)."""
    return select(Registration.id).where(Registration.partner_id == Partner.id,
                                         Registration.created_at >= since).exists()


def partners_without_registration(session: Session, stages: tuple[PartnerStage, ...], *, entered_before: datetime,
                                  after: tuple[datetime, int] | None, limit: int,
                                  entered_after: datetime | None = None,
                                  partner_ids: Collection[int] | None = None) -> list[Partner]:
    """Partners in `stages` since before `entered_before` (and after `entered_after`), with a channel, who
    registered nothing since they entered it; oldest in their stage first. Only those of `partner_ids` when given
    (Nudge them all)."""
    query = select(Partner).where(Partner.stage.in_(stages), Partner.stage_since <= entered_before,
                                  Partner.slack_channel_id.is_not(None), ~registered_since(Partner.stage_since),
                                  _past(after))
    if entered_after is not None:
        query = query.where(Partner.stage_since > entered_after)
    return list(session.exec(_only(query, partner_ids).order_by(Partner.stage_since, Partner.id).limit(limit)).all())


def _only(query, partner_ids: Collection[int] | None):
    return query if partner_ids is None else query.where(Partner.id.in_(list(partner_ids)))


@dataclass(frozen=True)
class QuietPartner:
    partner: Partner
    quiet_since: datetime  # its latest registration, or when it entered its stage if it registered nothing since


def quiet_partners(session: Session, stage: PartnerStage, *, quiet_before: datetime,
                   after: tuple[datetime, int] | None, limit: int,
                   partner_ids: Collection[int] | None = None) -> list[QuietPartner]:
    """Partners in `stage` that have registered nothing since before `quiet_before` (nor entered the stage since),
    leaving out those whose manager was already told of this quiet spell; oldest in their stage first; only those
    of `partner_ids` when given (Nudge them all). One stage per call, so the page is a range of
    ix_partner_stage_since already in order (no sort of every quiet partner); each partner's registrations are
    probed by ix_registration_partner_created, its notes by ix_nudge_partner."""
    last = (select(Registration.created_at).where(Registration.partner_id == Partner.id)
            .order_by(Registration.created_at.desc()).limit(1).correlate(Partner).scalar_subquery())
    quiet_since = type_coerce(case((last > Partner.stage_since, last), else_=Partner.stage_since), UTCDateTime())
    # The note is written after the partner's own nudge (workflows/nudge_partners.py), so a note means both went.
    told = (select(Nudge.id).where(Nudge.partner_id == Partner.id, Nudge.created_at > quiet_since,
                                   Nudge.kind == NudgeKind.reengagement_note).exists())
    rows = session.exec(_only(
        select(Partner, quiet_since).where(Partner.stage == stage, Partner.stage_since <= quiet_before,
                                           ~registered_since(quiet_before), ~told, _past(after)), partner_ids)
        .order_by(Partner.stage_since, Partner.id).limit(limit)).all()
    return [QuietPartner(partner, since) for partner, since in rows]


def latest_registration(session: Session, partner_id: int) -> Registration | None:
    return session.exec(select(Registration).where(Registration.partner_id == partner_id)
                        .order_by(Registration.created_at.desc(), Registration.id.desc()).limit(1)).first()


def partner_contacts(session: Session, partner_id: int, *, limit: int = 5) -> list[str]:
    return list(session.exec(select(PartnerContact.slack_user_id).where(PartnerContact.partner_id == partner_id)
                             .order_by(PartnerContact.id).limit(limit)).all())
