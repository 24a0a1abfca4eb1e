"""Partner, registration, customer account and upsell rows built directly with SQLModel, as the workflows
would leave them."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlmodel import Session

from storage.models import (
    AccountPartner,
    AttributionType,
    CrmOutbox,
    CustomerAccount,
    Partner,
    PartnerType,
    PricingModel,
    Recurrence,
    Registration,
    RegistrationStatus,
    Upsell,
    UpsellSignal,
    UpsellStatus,
)


def make_partner(session: Session, name: str = "Northwind Partners", **fields) -> Partner:
    partner = Partner(
        name=name,
        type=fields.pop("type", PartnerType.reseller),
        domain=fields.pop("domain", "northwind-partners.com"),
        **fields,
    )
    session.add(partner)
    session.flush()
    return partner


def registration_values(now: datetime, **fields) -> dict:
    """An approved subscription registration's columns, with `fields` changed (tests and the CRM benchmark)."""
    values = dict(
        submitted_by_slack_id="U_PARTNER",
        company="Acme Inc.",
        company_key="acme",
        domain="acme.com",
        contact_name="Ada Lovelace",
        contact_email="ada@acme.com",
        region="EMEA",
        product_line="analytics",
        estimated_value=Decimal("48000.00"),
        currency="EUR",
        pricing_model=PricingModel.subscription,
        company_size="51-200",
        budget="approved",
        timeline="this_quarter",
        attribution=AttributionType.sourced,
        status=RegistrationStatus.approved,
        created_at=now - timedelta(days=2),
        approved_at=now - timedelta(days=1),
        protection_expires_at=now + timedelta(days=89),
    )
    return values | fields


def make_registration(session: Session, partner: Partner, now: datetime, **fields) -> Registration:
    values = registration_values(now, partner_id=partner.id, **fields)
    registration = Registration(**values)
    session.add(registration)
    session.flush()
    return registration


def queue(
    session: Session,
    registration: Registration,
    event: str,
    now: datetime,
    *,
    urgent: bool = False,
    payload: dict | None = None,
) -> CrmOutbox:
    row = CrmOutbox(
        registration_id=registration.id,
        event=event,
        payload=payload or {},
        urgent=urgent,
        created_at=now,
        next_attempt_at=now,
    )
    session.add(row)
    session.flush()
    return row


def make_account(session: Session, now: datetime, *, partners: list[Partner] = (), **fields) -> CustomerAccount:
    """A customer account with its attached partners, as a won registration or an import leaves it."""
    values = dict(name="Acme Inc.", name_key="acme", domain="acme.com", owner_slack_id="U_AE",
                  landing_zone="analytics", created_at=now - timedelta(days=30), updated_at=now - timedelta(days=30))
    account = CustomerAccount(**(values | fields))
    session.add(account)
    session.flush()
    for partner in partners:
        session.add(AccountPartner(account_id=account.id, partner_id=partner.id, attached_at=account.created_at))
    session.flush()
    return account


def make_upsell(session: Session, account: CustomerAccount, partner: Partner, now: datetime, **fields) -> Upsell:
    """An upsell the partner flagged and the owner AE accepted, with `fields` changed."""
    values = dict(
        flagged_by_slack_id="U_PARTNER",
        attribution=AttributionType.sourced,
        signal=UpsellSignal.plan_upgrade,
        target="Enterprise",
        expected_value=Decimal("2400.00"),
        currency="EUR",
        recurrence=Recurrence.monthly,
        timeline="1-3m",
        notes="They hit the seat limit twice this month",
        status=UpsellStatus.accepted,
        assigned_to_slack_id=account.owner_slack_id,
        created_at=now - timedelta(days=1),
        updated_at=now,
        accepted_at=now,
    )
    upsell = Upsell(account_id=account.id, partner_id=partner.id, **(values | fields))
    session.add(upsell)
    session.flush()
    return upsell
