"""Tables of the CRM writer: the local Salesforce mirror, usage revenue history and the writer's state."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, ForeignKey, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.models import json_field, money_field, ts_field, utcnow


class CrmRecord(SQLModel, table=True):
    """One Salesforce record as Partnerbot wants it (the local mirror), and its Salesforce Id once written.

    `version` goes up each time the wanted values change; `synced_version` is the version Salesforce last
    accepted. A record is up to date in Salesforce when the two are equal.
    """

    __tablename__ = "crm_record"
    __table_args__ = (UniqueConstraint("sobject", "external_key"),)
    id: int | None = Field(default=None, primary_key=True)
    sobject: str = Field(max_length=64)  # Lead, Opportunity, Account, Partner, Partnerbot_Revenue__c
    # our external id value (REG-00001, UPS-00001, a partner key, customer:<customer key>, ...)
    external_key: str = Field(max_length=255)
    registration_id: int | None = Field(default=None, foreign_key="registration.id", index=True)
    upsell_id: int | None = Field(default=None, foreign_key="upsell.id", index=True)
    partner_id: int | None = Field(default=None, foreign_key="partner.id", index=True)
    field_values: dict[str, Any] = json_field(dict)
    salesforce_id: str | None = Field(default=None, max_length=18)
    version: int = 1
    synced_version: int | None = None
    mirrored_at: datetime = ts_field(default_factory=utcnow)
    synced_at: datetime | None = ts_field(default=None, nullable=True)


class CrmMirroredWrite(SQLModel, table=True):
    """An outbox row already shown in the local mirror; it stays pending until Salesforce has it too."""

    __tablename__ = "crm_mirrored_write"
    outbox_id: int = Field(
        sa_column=Column(Integer, ForeignKey("crm_outbox.id"), primary_key=True, autoincrement=False)
    )
    mirrored_at: datetime = ts_field(default_factory=utcnow)


class UsageRevenue(SQLModel, table=True):
    """One month of revenue of a usage-based deal: one row per (registration, month)."""

    __tablename__ = "usage_revenue"
    __table_args__ = (UniqueConstraint("registration_id", "month"),)
    id: int | None = Field(default=None, primary_key=True)
    registration_id: int = Field(foreign_key="registration.id", index=True)
    month: str = Field(sa_column=Column(String(7), nullable=False))  # YYYY-MM
    amount: Decimal = money_field(nullable=False)
    recorded_by_slack_id: str = Field(max_length=64)
    recorded_at: datetime = ts_field(default_factory=utcnow)


class CrmSyncState(SQLModel, table=True):
    """The writer's single state row: Salesforce API usage, notices already sent, the drain lease."""

    __tablename__ = "crm_sync_state"
    id: int = Field(default=1, primary_key=True)
    api_used: int | None = None
    api_total: int | None = None
    api_checked_at: datetime | None = ts_field(default=None, nullable=True)
    threshold_notified_at: datetime | None = ts_field(default=None, nullable=True)
    auth_notified_at: datetime | None = ts_field(default=None, nullable=True)
    last_error: str | None = Field(default=None, max_length=3000)
    last_error_at: datetime | None = ts_field(default=None, nullable=True)
    last_drain_at: datetime | None = ts_field(default=None, nullable=True)
    lease_owner: str | None = Field(default=None, max_length=36)
    lease_until: datetime | None = ts_field(default=None, nullable=True)
