"""Extensions of an approved registration's protection window: each request a row (who asked, whom it went to,
who decided, when and why), and who may ask for one or decide it, filtered in the queries."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, false, func, or_, true
from sqlmodel import Field, Session, SQLModel, select

from storage.actors import Actor
from storage.models import Partner, Registration, Role, ts_field, utcnow
from storage.queries import deal_visibility


class ExtensionStatus(StrEnum):
    pending = "pending"
    extended = "extended"
    declined = "declined"


class ExtensionRequest(SQLModel, table=True):
    """A partner asked for more protection on a registration; its owner AE (else the partner's manager) extends or
    declines it. `expires_before` is the end it asked to move; `expires_after` the end an extension gave."""

    __tablename__ = "protection_extension"
    __table_args__ = (Index("ix_protection_extension_registration", "registration_id", "status"),)
    id: int | None = Field(default=None, primary_key=True)
    registration_id: int = Field(foreign_key="registration.id")
    partner_id: int = Field(foreign_key="partner.id")
    requested_by_slack_id: str = Field(max_length=32)
    requested_at: datetime = ts_field(default_factory=utcnow)
    decider_slack_id: str = Field(max_length=32)  # whom it was sent to
    status: ExtensionStatus = ExtensionStatus.pending
    expires_before: datetime | None = ts_field(default=None, nullable=True)
    expires_after: datetime | None = ts_field(default=None, nullable=True)
    decided_by_slack_id: str | None = Field(default=None, max_length=32)
    decided_at: datetime | None = ts_field(default=None, nullable=True)
    reason: str | None = Field(default=None, max_length=1000)  # why it was declined (the partner reads it)


def registration_for_extension(session: Session, registration_id: int, actor: Actor) -> Registration | None:
    """The registration if this actor may ask to extend its protection: the partner's people who may see it, the
    partner's manager, or an admin. Locked where the database can, so two requests are taken one at a time."""
    if actor.is_partner:
        may = deal_visibility(actor, partner_id=Registration.partner_id,
                              submitted_by=Registration.submitted_by_slack_id,
                              assigned_to=Registration.assigned_to_slack_id)
    elif actor.is_internal:
        may = or_(Partner.manager_slack_id == actor.slack_user_id, true() if actor.role == Role.admin else false())
    else:
        return None
    query = (select(Registration).join(Partner, Partner.id == Registration.partner_id)
             .where(Registration.id == registration_id, may).with_for_update(of=Registration))
    return session.exec(query).first()


def extension_for_decision(session: Session, request_id: int, actor: Actor) -> ExtensionRequest | None:
    """The request if this actor may extend or decline it: whom it was sent to, the registration's owner AE, the
    partner's manager, or an admin. Locked where the database can, so two clicks decide it once."""
    if not actor.is_internal:
        return None
    may = or_(ExtensionRequest.decider_slack_id == actor.slack_user_id,
              Registration.assigned_to_slack_id == actor.slack_user_id,
              Partner.manager_slack_id == actor.slack_user_id, true() if actor.role == Role.admin else false())
    query = (select(ExtensionRequest).join(Registration, Registration.id == ExtensionRequest.registration_id)
             .join(Partner, Partner.id == ExtensionRequest.partner_id)
             .where(ExtensionRequest.id == request_id, may).with_for_update(of=ExtensionRequest))
    return session.exec(query).first()


def extension_exists(session: Session, request_id: int) -> bool:
    return session.get(ExtensionRequest, request_id) is not None


def pending_extension(session: Session, registration_id: int) -> ExtensionRequest | None:
    return session.exec(select(ExtensionRequest).where(ExtensionRequest.registration_id == registration_id,
                                                       ExtensionRequest.status == ExtensionStatus.pending)).first()


def extensions_granted(session: Session, registration_id: int) -> int:
    return session.exec(select(func.count()).select_from(ExtensionRequest).where(
        ExtensionRequest.registration_id == registration_id,
        ExtensionRequest.status == ExtensionStatus.extended)).one()
