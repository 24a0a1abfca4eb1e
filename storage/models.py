"""SQLModel tables: partners, the internal team, lead registrations, their history and the CRM outbox."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Stores UTC and always hands back an aware datetime, on SQLite (naive storage) and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def ts_field(**kwargs) -> Any:
    nullable = kwargs.pop("nullable", False)
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable, index=kwargs.pop("index", False)), **kwargs)


def json_field(default_factory) -> Any:
    return Field(default_factory=default_factory, sa_column=Column(JSON, nullable=False))


def money_field(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(Numeric(14, 2), nullable=nullable))


class PartnerType(StrEnum):
    referral = "referral"
    reseller = "reseller"
    agency = "agency"
    msp = "msp"
    technology = "technology"
    distributor = "distributor"


class PartnerTier(StrEnum):
    registered = "registered"
    silver = "silver"
    gold = "gold"
    platinum = "platinum"


class PartnerStage(StrEnum):
    prospect = "prospect"
    recruited = "recruited"
    onboarded = "onboarded"
    activated = "activated"
    producing = "producing"
    strategic = "strategic"


class Role(StrEnum):
    ae = "ae"
    partner_manager = "partner_manager"
    admin = "admin"


class RegistrationStatus(StrEnum):
    received = "received"
    under_review = "under_review"
    approved = "approved"
    rejected = "rejected"
    expired = "expired"
    won = "won"
    lost = "lost"
    withdrawn = "withdrawn"  # the partner took it back (open or approved): it no longer protects the company


OPEN_STATUSES = (RegistrationStatus.received, RegistrationStatus.under_review)


class ReviewKind(StrEnum):
    """Who must act next on an open registration."""

    ae = "ae"  # the routed AE accepts or rejects
    conflict = "conflict"  # the partner manager clears or rejects a channel conflict


class PricingModel(StrEnum):
    one_time = "one_time"
    subscription = "subscription"
    usage_based = "usage_based"


class AttributionType(StrEnum):
    sourced = "partner_sourced"
    influenced = "partner_influenced"
    co_sell = "co_sell"


class OutboxStatus(StrEnum):
    pending = "pending"
    written = "written"
    failed = "failed"


class Partner(SQLModel, table=True):
    # Nudges find partners by stage and how long they have been in it (workflows/nudges.py); a manager's
    # reports and digest, their partners (storage/reporting.py).
    __table_args__ = (Index("ix_partner_stage_since", "stage", "stage_since"),
                      Index("ix_partner_manager", "manager_slack_id"))
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(200), unique=True, nullable=False))
    type: PartnerType
    tier: PartnerTier = PartnerTier.registered
    stage: PartnerStage = PartnerStage.prospect
    stage_since: datetime = ts_field(default_factory=utcnow)  # when it entered its stage (workflows/lifecycle.py)
    domain: str | None = Field(default=None, max_length=253, index=True)
    slack_team_id: str | None = Field(default=None, max_length=32, index=True)
    slack_channel_id: str | None = Field(default=None, max_length=32, index=True)
    manager_slack_id: str | None = Field(default=None, max_length=32)
    desk_message_ts: str | None = Field(default=None, max_length=32)
    created_at: datetime = ts_field(default_factory=utcnow)
    updated_at: datetime = ts_field(default_factory=utcnow)


class PartnerContact(SQLModel, table=True):
    __tablename__ = "partner_contact"
    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    slack_user_id: str = Field(sa_column=Column(String(32), unique=True, nullable=False))


class TeamMember(SQLModel, table=True):
    __tablename__ = "team_member"
    id: int | None = Field(default=None, primary_key=True)
    slack_user_id: str = Field(sa_column=Column(String(32), unique=True, nullable=False))
    name: str = Field(max_length=200)
    email: str | None = Field(default=None, max_length=320)
    role: Role
    territories: list[str] = json_field(list)
    product_lines: list[str] = json_field(list)
    last_assigned_at: datetime | None = ts_field(default=None, nullable=True)


class Registration(SQLModel, table=True):
    """A partner's lead/deal registration and where it stands."""

    __table_args__ = (
        # The lists filter by one owner and show the newest first (storage/queries.py).
        Index("ix_registration_partner_created", "partner_id", "created_at"),
        Index("ix_registration_assignee_created", "assigned_to_slack_id", "created_at"),
        # App Home's filters: one assignee's registrations in one status, newest first (storage/lists.py).
        Index("ix_registration_assignee_status_created", "assigned_to_slack_id", "status", "created_at"),
        Index("ix_registration_submitter_created", "submitted_by_slack_id", "created_at"),
        # The jobs and the conflict check look for one status within a time range.
        Index("ix_registration_status_expires", "status", "protection_expires_at"),
        Index("ix_registration_status_updated", "status", "updated_at"),
        Index("ix_registration_status_created", "status", "created_at"),
        # A partner's won deals in the last months: the strategic criteria and the partner card (storage/lifecycle.py).
        Index("ix_registration_partner_status_closed", "partner_id", "status", "closed_at"),
        # Reports (storage/reporting.py): new pipeline by approval time, program-wide and per partner; deals
        # decided in a period; the usage-based deals.
        Index("ix_registration_approved", "approved_at"),
        Index("ix_registration_partner_approved", "partner_id", "approved_at"),
        Index("ix_registration_status_closed", "status", "closed_at"),
        Index("ix_registration_pricing_status", "pricing_model", "status"),
        # A manager's or partner's usage-based deals (their partners' ids, then the two filters).
        Index("ix_registration_partner_pricing_status", "partner_id", "pricing_model", "status"),
        # App Home's conflicts waiting for every program runner (each digest counts them): the few conflicts among
        # the open registrations, newest first (storage/lists.py _home_branches).
        Index("ix_registration_review_kind_status_created", "review_kind", "status", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partner.id")
    submitted_by_slack_id: str = Field(max_length=32)
    submitted_by_team_id: str | None = Field(default=None, max_length=32)

    company: str = Field(max_length=200)
    company_key: str = Field(max_length=200, index=True)
    domain: str | None = Field(default=None, max_length=253, index=True)
    contact_name: str = Field(max_length=200)
    contact_email: str = Field(max_length=320)
    region: str = Field(max_length=100)
    country: str | None = Field(default=None, max_length=2)  # ISO 3166; the region follows from it (older rows: none)
    product_line: str = Field(max_length=100)
    estimated_value: Decimal = money_field(nullable=False)
    currency: str = Field(max_length=3)
    pricing_model: PricingModel
    starting_monthly_usage: Decimal | None = money_field()
    company_size: str = Field(max_length=32)
    budget: str = Field(max_length=32)
    timeline: str = Field(max_length=32)
    attribution: AttributionType = AttributionType.sourced
    notes: str = Field(default="", max_length=3000)

    status: RegistrationStatus = RegistrationStatus.received
    review_kind: ReviewKind | None = None
    conflict_with: list[int] = json_field(list)
    score: int | None = None
    score_breakdown: dict[str, Any] = json_field(dict)
    assigned_to_slack_id: str | None = Field(default=None, max_length=32)
    routing_reason: str | None = Field(default=None, max_length=500)
    decision_reason: str | None = Field(default=None, max_length=3000)
    override_reason: str | None = Field(default=None, max_length=3000)  # approved over an approved conflict
    close_reason: str | None = Field(default=None, max_length=1000)  # why a deal was lost (internal)

    partner_channel_id: str | None = Field(default=None, max_length=32)
    partner_thread_ts: str | None = Field(default=None, max_length=32)
    review_channel_id: str | None = Field(default=None, max_length=32)
    review_message_ts: str | None = Field(default=None, max_length=32)
    review_message_key: str | None = Field(default=None, max_length=200)  # its row in the Slack outbox

    created_at: datetime = ts_field(default_factory=utcnow, index=True)
    updated_at: datetime = ts_field(default_factory=utcnow)
    approved_at: datetime | None = ts_field(default=None, nullable=True)
    protection_expires_at: datetime | None = ts_field(default=None, nullable=True)
    closed_at: datetime | None = ts_field(default=None, nullable=True)

    @property
    def reference(self) -> str:
        return f"REG-{self.id:05d}"


class RegistrationNote(SQLModel, table=True):
    """A partner's update on its registration (Add an update): for the AE, and shown in the registration's thread."""

    __tablename__ = "registration_note"
    id: int | None = Field(default=None, primary_key=True)
    registration_id: int = Field(foreign_key="registration.id", index=True)
    author_slack_id: str = Field(max_length=32)
    text: str = Field(max_length=3000)
    created_at: datetime = ts_field(default_factory=utcnow)


class ConflictTrigram(SQLModel, table=True):
    """The trigrams of the company key of every registration whose status protects a company.

    The fuzzy conflict check finds its candidates here by index (storage/conflict_index.py) instead of
    reading every protected key. Only approved and open registrations are in it, so it grows with what is
    protected, not with what was ever registered. Each key also has one row with trigram -1 (its length row).
    Rows lead with the numbers in the key ("" for none): names whose numbers differ are different companies
    ("Studio 1", "Studio 2"), so only keys with the same numbers are ever candidates.
    """

    __tablename__ = "conflict_trigram"
    __table_args__ = (
        Index("ix_conflict_trigram_registration", "registration_id"),
        {"sqlite_with_rowid": False},
    )
    numbers: str = Field(sa_column=Column(String, primary_key=True, autoincrement=False))
    trigram: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))  # three code points
    key_length: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    registration_id: int = Field(sa_column=Column(Integer, ForeignKey("registration.id"), primary_key=True,
                                                  autoincrement=False))


class RegistrationEvent(SQLModel, table=True):
    """One status change: who, when, from what to what, and why."""

    __tablename__ = "registration_event"
    id: int | None = Field(default=None, primary_key=True)
    registration_id: int = Field(foreign_key="registration.id", index=True)
    from_status: RegistrationStatus | None = None
    to_status: RegistrationStatus
    actor_slack_id: str | None = Field(default=None, max_length=32)
    reason: str | None = Field(default=None, max_length=3000)
    at: datetime = ts_field(default_factory=utcnow)


class ReviewDecision(SQLModel, table=True):
    """A reviewer's decision (accept, reject, won, lost) and what it replaced, so it can be undone for a while.

    `previous` holds the registration's fields as they were before (workflows/undo.py restores them);
    `partner_message_key` is the partner's update in the Slack outbox, to know whether they were told.
    """

    __tablename__ = "review_decision"
    # App Home lists what its user may still undo.
    __table_args__ = (Index("ix_review_decision_actor_until", "actor_slack_id", "undo_until"),)
    id: int | None = Field(default=None, primary_key=True)
    registration_id: int = Field(foreign_key="registration.id", index=True)
    actor_slack_id: str = Field(max_length=32)
    from_status: RegistrationStatus
    to_status: RegistrationStatus
    previous: dict[str, Any] = json_field(dict)
    partner_message_key: str | None = Field(default=None, max_length=200)
    decided_at: datetime = ts_field(default_factory=utcnow)
    undo_until: datetime = ts_field(default_factory=utcnow)
    undone_at: datetime | None = ts_field(default=None, nullable=True)
    undone_by_slack_id: str | None = Field(default=None, max_length=32)


# Exactly one subject per CRM outbox row (migration 0015 writes the same text).
CRM_OUTBOX_ONE_SUBJECT = ("(CASE WHEN registration_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN upsell_id IS NULL THEN 0 "
                          "ELSE 1 END) + (CASE WHEN partner_id IS NULL THEN 0 ELSE 1 END) = 1")


class CrmOutbox(SQLModel, table=True):
    """A CRM write waiting to be sent, recorded in the same transaction as the change it reports.

    Each row is about one registration, one upsell or one partner (exactly one of the three ids is set): every
    kind shares this table, so one drain, one backoff and one `partnerbot crm status` serve them.
    """

    __tablename__ = "crm_outbox"
    __table_args__ = (CheckConstraint(CRM_OUTBOX_ONE_SUBJECT, name="ck_crm_outbox_one_subject"),)
    id: int | None = Field(default=None, primary_key=True)
    registration_id: int | None = Field(default=None, foreign_key="registration.id", index=True)
    upsell_id: int | None = Field(default=None, foreign_key="upsell.id", index=True)
    partner_id: int | None = Field(default=None, foreign_key="partner.id", index=True)
    # registrations: submitted, approved, rejected, expired, won, lost, usage, ...; upsells: accepted, won, lost,
    # attribution; partners: stage (storage/crm/mapping.py, storage/crm/upsells.py, storage/crm/partners.py)
    event: str = Field(max_length=32)
    payload: dict[str, Any] = json_field(dict)
    urgent: bool = False
    status: OutboxStatus = Field(default=OutboxStatus.pending, index=True)
    attempts: int = 0
    next_attempt_at: datetime = ts_field(default_factory=utcnow, index=True)
    last_error: str | None = Field(default=None, max_length=3000)
    created_at: datetime = ts_field(default_factory=utcnow)
    written_at: datetime | None = ts_field(default=None, nullable=True)


class ProcessedEvent(SQLModel, table=True):
    """Slack deliveries already handled (events, view submissions, button presses), so replays run once."""

    __tablename__ = "processed_event"
    event_id: str = Field(primary_key=True, max_length=64)
    received_at: datetime = ts_field(default_factory=utcnow, index=True)  # kept a week (workflows/retention.py)


class Reminder(SQLModel, table=True):
    """A reminder already sent; the unique key (what, to whom, which period) stops a double run sending twice."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_column=Column(String(200), unique=True, nullable=False))
    sent_at: datetime = ts_field(default_factory=utcnow)


class SlaClock(SQLModel, table=True):
    """Where the SLA reminders of one waiting row count from (storage/sla_clock.py): a review under review, an upsell
    open. Kept beside the row, not in it: the reminder job moves it once a period, and in the registration (or
    upsell) that rewrote an entry in each of the row's many indexes; here it rewrites two."""

    __tablename__ = "sla_clock"
    __table_args__ = (
        # The reminders due, oldest first: clocks of one SLA that count from a time at least one SLA ago.
        Index("ix_sla_clock_due", "sla", "counts_from", "row_id"),
    )

    sla: str = Field(sa_column=Column(String(16), primary_key=True))  # storage.sla_clock: REVIEW or UPSELL
    row_id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    counts_from: datetime = ts_field()


class PendingWork(SQLModel, table=True):
    """Work owed after an ack (e.g. checking and routing a stored registration); deleted when done, in the
    same transaction as the work, so a crash leaves it here for the next worker and it is never done twice."""

    __tablename__ = "pending_work"
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    subject_id: int
    created_at: datetime = ts_field(default_factory=utcnow)
    attempts: int = 0
    next_attempt_at: datetime = ts_field(default_factory=utcnow, index=True)
    last_error: str | None = Field(default=None, max_length=500)


class UpsellSignal(StrEnum):
    """Why a partner thinks a customer will buy more."""

    plan_upgrade = "plan_upgrade"
    more_seats = "more_seats"  # more seats or users
    usage_growth = "usage_growth"
    new_product_line = "new_product_line"
    renewal_at_risk = "renewal_at_risk"


class UpsellStatus(StrEnum):
    duplicate_review = "duplicate_review"  # another partner has an open upsell on it: the partner manager decides
    open = "open"  # waiting for the account's owner AE to accept or decline
    accepted = "accepted"  # the AE works it (an expansion Opportunity in the CRM)
    declined = "declined"
    rejected = "rejected"  # the partner manager rejected a duplicate
    won = "won"
    lost = "lost"


OPEN_UPSELL_STATUSES = (UpsellStatus.duplicate_review, UpsellStatus.open, UpsellStatus.accepted)


class Recurrence(StrEnum):
    monthly = "monthly"  # monthly recurring revenue
    one_time = "one_time"


class CustomerAccount(SQLModel, table=True):
    """A customer: from a won registration or `partnerbot import accounts`. Matched by normalised domain, then
    normalised name, exactly as registrations are; its attached partners decide who may see it."""

    __tablename__ = "customer_account"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    name_key: str = Field(max_length=200, index=True)
    domain: str | None = Field(default=None, sa_column=Column(String(253), unique=True, nullable=True))
    owner_slack_id: str | None = Field(default=None, max_length=32, index=True)  # the AE who owns the account
    landing_zone: str | None = Field(default=None, max_length=100)  # the first product line sold
    monthly_revenue: Decimal | None = money_field()
    currency: str | None = Field(default=None, max_length=3)
    source_registration_id: int | None = Field(default=None, foreign_key="registration.id")
    created_at: datetime = ts_field(default_factory=utcnow)
    updated_at: datetime = ts_field(default_factory=utcnow)


class AccountPartner(SQLModel, table=True):
    """A partner attached to a customer account. `submitted_by_slack_id` is the partner's person whose
    registration brought the account (a referral contact sees only those); None when attached otherwise."""

    __tablename__ = "account_partner"
    __table_args__ = (Index("ix_account_partner_partner", "partner_id", "account_id"),)
    account_id: int = Field(sa_column=Column(Integer, ForeignKey("customer_account.id"), primary_key=True,
                                             autoincrement=False))
    partner_id: int = Field(sa_column=Column(Integer, ForeignKey("partner.id"), primary_key=True,
                                             autoincrement=False))
    registration_id: int | None = Field(default=None, foreign_key="registration.id")
    submitted_by_slack_id: str | None = Field(default=None, max_length=32)
    attached_at: datetime = ts_field(default_factory=utcnow)


class AccountProductLine(SQLModel, table=True):
    """A product line (or plan) a customer has bought, and since when: the landing zone first, then expansions."""

    __tablename__ = "account_product_line"
    account_id: int = Field(sa_column=Column(Integer, ForeignKey("customer_account.id"), primary_key=True,
                                             autoincrement=False))
    product_line: str = Field(sa_column=Column(String(100), primary_key=True, autoincrement=False))
    since: datetime = ts_field(default_factory=utcnow)
    upsell_id: int | None = Field(default=None, foreign_key="upsell.id")  # the won upsell that added it


class Upsell(SQLModel, table=True):
    """A partner's (or an AE's, with the partner asked in) expansion of an existing customer account."""

    __table_args__ = (
        # Duplicates: one open upsell per account and target.
        Index("ix_upsell_account_target_status", "account_id", "target", "status"),
        # The lists filter by one owner and show the newest first.
        Index("ix_upsell_partner_created", "partner_id", "created_at"),
        Index("ix_upsell_assignee_status_created", "assigned_to_slack_id", "status", "created_at"),
        Index("ix_upsell_flagger_created", "flagged_by_slack_id", "created_at"),
        Index("ix_upsell_status_created", "status", "created_at"),
        # Reports: upsells accepted (new pipeline) and decided in a period.
        Index("ix_upsell_accepted", "accepted_at"),
        Index("ix_upsell_status_closed", "status", "closed_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="customer_account.id")
    partner_id: int = Field(foreign_key="partner.id")
    flagged_by_slack_id: str = Field(max_length=32)
    flagged_by_team_id: str | None = Field(default=None, max_length=32)
    attribution: AttributionType = AttributionType.sourced  # sourced: the partner flagged it; influenced: asked in
    signal: UpsellSignal
    target: str = Field(max_length=100)  # a product line or a plan (program file)
    expected_value: Decimal = money_field(nullable=False)
    currency: str = Field(max_length=3)
    recurrence: Recurrence
    timeline: str = Field(max_length=32)
    notes: str = Field(default="", max_length=3000)

    status: UpsellStatus = UpsellStatus.open
    assigned_to_slack_id: str | None = Field(default=None, max_length=32)  # the account's owner AE when flagged
    duplicate_of: int | None = Field(default=None, foreign_key="upsell.id")  # the open upsell it repeats
    partner_joined_at: datetime | None = ts_field(default=None, nullable=True)  # partner-influenced: confirmed
    decision_reason: str | None = Field(default=None, max_length=3000)  # declined or rejected: why
    close_reason: str | None = Field(default=None, max_length=1000)  # lost: why
    final_amount: Decimal | None = money_field()  # won: the amount signed

    partner_channel_id: str | None = Field(default=None, max_length=32)
    partner_thread_ts: str | None = Field(default=None, max_length=32)
    root_message_key: str | None = Field(default=None, max_length=200)  # its thread root in the Slack outbox

    created_at: datetime = ts_field(default_factory=utcnow)
    updated_at: datetime = ts_field(default_factory=utcnow)
    accepted_at: datetime | None = ts_field(default=None, nullable=True)
    closed_at: datetime | None = ts_field(default=None, nullable=True)

    @property
    def reference(self) -> str:
        return f"UPS-{self.id:05d}"


class UpsellEvent(SQLModel, table=True):
    """One status change of an upsell: who, when, from what to what, and why."""

    __tablename__ = "upsell_event"
    id: int | None = Field(default=None, primary_key=True)
    upsell_id: int = Field(foreign_key="upsell.id", index=True)
    from_status: UpsellStatus | None = None
    to_status: UpsellStatus
    actor_slack_id: str | None = Field(default=None, max_length=32)
    reason: str | None = Field(default=None, max_length=3000)
    at: datetime = ts_field(default_factory=utcnow)


class PartnerStageEvent(SQLModel, table=True):
    """One change of a partner's lifecycle stage: from, to, who, when and why. Only ever added to, never changed.

    `actor` is a Slack user id, `rule:<name>` for an automatic rule, `import` for `partnerbot import partners` (or
    `migration` for the stage partners had before history was kept); `registration_id` is the registration whose
    submission or win moved it (a rule's cause), so an undone win can take back exactly its own move.
    """

    __tablename__ = "partner_stage_event"
    __table_args__ = (Index("ix_partner_stage_event_partner", "partner_id", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partner.id")
    from_stage: PartnerStage | None = None
    to_stage: PartnerStage
    actor: str = Field(max_length=64)
    reason: str | None = Field(default=None, max_length=3000)
    registration_id: int | None = Field(default=None, foreign_key="registration.id")
    at: datetime = ts_field(default_factory=utcnow)


class ProposalStatus(StrEnum):
    pending = "pending"
    accepted = "accepted"
    dismissed = "dismissed"


class StageProposal(SQLModel, table=True):
    """A stage an automatic rule may only propose (strategic): sent once to the partner's manager, who accepts or
    dismisses it. One per partner and stage, ever (the unique key), however many wins meet the criteria again."""

    __tablename__ = "stage_proposal"
    __table_args__ = (UniqueConstraint("partner_id", "to_stage"),)
    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partner.id")
    to_stage: PartnerStage
    rule: str = Field(max_length=64)
    reason: str = Field(max_length=1000)  # the figures that met the criteria, as the manager reads them
    recipient_slack_id: str = Field(max_length=32)
    status: ProposalStatus = ProposalStatus.pending
    registration_id: int | None = Field(default=None, foreign_key="registration.id")  # the win that met them
    proposed_at: datetime = ts_field(default_factory=utcnow)
    decided_by_slack_id: str | None = Field(default=None, max_length=32)
    decided_at: datetime | None = ts_field(default=None, nullable=True)


JOB_RESULT_LENGTH = 500


class JobOutcome(StrEnum):
    ok = "ok"
    failed = "failed"


class JobRun(SQLModel, table=True):
    """One row per job name, rewritten by each run. `result` is the job's short answer ("3 reminded"), or for a
    failure the error's class and message (secrets taken out by the caller)."""

    __tablename__ = "job_run"
    name: str = Field(primary_key=True, max_length=64)
    started_at: datetime | None = ts_field(default=None, nullable=True)
    finished_at: datetime | None = ts_field(default=None, nullable=True)
    outcome: str | None = Field(default=None, max_length=16)
    result: str | None = Field(default=None, max_length=JOB_RESULT_LENGTH)
    ran_by: str | None = Field(default=None, max_length=200)  # "scheduler on host (pid 12)" or "jobs run on ..."
    next_run_at: datetime | None = ts_field(default=None, nullable=True)
