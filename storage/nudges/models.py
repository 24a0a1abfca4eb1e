"""The nudge tables: what was nudged (once per key), what people stopped or snoozed, and people's time zones."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.models import ts_field, utcnow


class NudgeKind(StrEnum):
    onboarding = "onboarding"  # a partner entering onboarded: welcome, then training follow-ups
    activation = "activation"  # onboarded or recruited, no registration yet
    reengagement = "reengagement"  # activated or producing, quiet for a while (the partner's message)
    reengagement_note = "reengagement_note"  # ... and the note to its manager
    stalled_registration = "stalled_registration"  # approved, unchanged for weeks: to the owner AE
    protection_expiry = "protection_expiry"  # an approved registration's protection ends soon: to the partner
    qbr = "qbr"  # a strategic partner's quarterly brief, to its manager
    rollup = "rollup"  # a manager's weekly list of stuck partners
    digest = "digest"  # the weekly digest to a partner manager (their partners) or an admin (the program)
    scorecard = "scorecard"  # a partner's monthly scorecard: its channel, or each referral contact by DM


class NudgeResponse(StrEnum):
    snoozed = "snoozed"
    not_relevant = "not_relevant"
    acted = "acted"  # the nudge's own button was used (Still working, Request extension, Nudge them all...)


class Nudge(SQLModel, table=True):
    """One nudge owed or sent. `key` (kind, subject, recipient, period) is unique: a second run, a second process
    or a restart finds it and sends nothing. Its message is the Slack outbox row `message_key`, queued in the same
    transaction to go out at `deliver_at` (the recipient's working hours) and retried until Slack takes it."""

    __tablename__ = "nudge"
    # A partner's recent nudges (its card); a registration's open ones (answered when someone acts on it).
    __table_args__ = (Index("ix_nudge_partner", "partner_id", "created_at"),
                      Index("ix_nudge_registration", "registration_id", "kind"))
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_column=Column(String(200), unique=True, nullable=False))
    kind: str = Field(max_length=32)
    subject: str = Field(max_length=64)  # what it is about: partner:12, registration:34, manager:U123
    recipient: str = Field(max_length=32)  # a user id (a DM) or a channel id
    period: str = Field(max_length=64)  # which occurrence: a step, a date, a quarter, a week
    partner_id: int | None = Field(default=None, foreign_key="partner.id")
    registration_id: int | None = Field(default=None, foreign_key="registration.id")
    message_key: str = Field(max_length=200)
    deliver_at: datetime = ts_field(default_factory=utcnow)
    created_at: datetime = ts_field(default_factory=utcnow)
    response: str | None = Field(default=None, max_length=32)
    responded_by_slack_id: str | None = Field(default=None, max_length=32)
    responded_at: datetime | None = ts_field(default=None, nullable=True)


class NudgeMute(SQLModel, table=True):
    """A kind of nudge stopped for a subject: until a time (Snooze) or for good (Not relevant, `until` null)."""

    __tablename__ = "nudge_mute"
    __table_args__ = (UniqueConstraint("kind", "subject"),)
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    subject: str = Field(max_length=64)
    until: datetime | None = ts_field(default=None, nullable=True)
    by_slack_id: str = Field(max_length=32)
    nudge_id: int | None = Field(default=None, foreign_key="nudge.id")
    at: datetime = ts_field(default_factory=utcnow)


class SlackUserZone(SQLModel, table=True):
    """A person's time zone as Slack's users.info gave it, kept so a run asks Slack once per person a week."""

    __tablename__ = "slack_user_zone"
    slack_user_id: str = Field(sa_column=Column(String(32), primary_key=True, autoincrement=False))
    tz: str | None = Field(default=None, max_length=64)  # None: Slack gave none (a bot, a deleted user)
    fetched_at: datetime = ts_field(default_factory=utcnow)
