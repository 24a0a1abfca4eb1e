"""Nothing lost, nothing duplicated: random Salesforce faults while deals move, drained until the outbox is empty."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from crm_factories import make_partner, make_registration, queue
from sqlmodel import Session, select

from bot.settings import load_settings
from storage.crm import mapping
from storage.crm.client import build_salesforce
from storage.crm.models import UsageRevenue
from storage.crm.writer import drain_outbox
from storage.models import (
    AttributionType,
    CrmOutbox,
    OutboxStatus,
    Partner,
    PricingModel,
    Registration,
    RegistrationStatus,
)

DEALS = 36


def seed(engine, now, rng: random.Random) -> list[int]:
    """Three partners (one already in Salesforce by website) and deals at every stage of their life."""
    with Session(engine) as session:
        partners = [make_partner(session, name=f"Partner {n}", domain=f"partner{n}.com") for n in range(3)]
        ids = []
        for number in range(DEALS):
            usage = number % 3 == 0
            reg = make_registration(
                session,
                rng.choice(partners),
                now,
                company=f"Customer {number}",
                domain=f"c{number}.com",
                pricing_model=PricingModel.usage_based if usage else PricingModel.subscription,
                starting_monthly_usage=Decimal("5000") if usage else None,
                status=RegistrationStatus.received,
            )
            queue(session, reg, "submitted", now)
            ids.append(reg.id)
        session.commit()
    return ids


def move(engine, now, rng: random.Random, ids: list[int], month: int) -> None:
    """The spine and partner managers keep working while Salesforce misbehaves."""
    with Session(engine) as session:
        for reg_id in rng.sample(ids, 12):
            reg = session.get(Registration, reg_id)
            if reg.status == RegistrationStatus.received:
                reg.status = RegistrationStatus.approved
                queue(session, reg, "approved", now, urgent=rng.random() < 0.3)
            elif reg.status == RegistrationStatus.approved and reg.pricing_model == PricingModel.usage_based:
                amount = Decimal(5000 + 2500 * month)
                key = f"2026-{month:02d}"
                entry = session.exec(
                    select(UsageRevenue).where(UsageRevenue.registration_id == reg_id, UsageRevenue.month == key)
                ).first()
                session.add(
                    entry
                    or UsageRevenue(
                        registration_id=reg_id, month=key, amount=amount, recorded_by_slack_id="U_PM", recorded_at=now
                    )
                )
                queue(session, reg, "usage", now, payload={"month": key})
            elif reg.status == RegistrationStatus.approved and rng.random() < 0.5:
                reg.attribution = AttributionType.co_sell
                queue(session, reg, "attribution", now)
            elif reg.status == RegistrationStatus.approved:
                reg.status, reg.closed_at = RegistrationStatus.won, now
                queue(session, reg, "won", now)
            session.add(reg)
        session.commit()


def check_salesforce_matches(engine, fake) -> None:
    with Session(engine) as session:
        partners = {p.id: p for p in session.exec(select(Partner))}
        accounts = {}
        for partner in partners.values():
            [account] = fake.by_external_id("Account", partner.domain, "Partnerbot_Partner_Key__c")
            accounts[partner.id] = account["Id"]
        for reg in session.exec(select(Registration)):
            partner = partners[reg.partner_id]
            [lead] = fake.by_external_id("Lead", reg.reference)
            expected = mapping.to_salesforce_lead(reg, partner)
            expected.pop("Partner_Account__r")
            assert {k: lead.get(k) for k in expected} == expected
            assert lead["Partner_Account__c"] == accounts[partner.id]
            opportunities = fake.by_external_id("Opportunity", reg.reference)
            if reg.status == RegistrationStatus.received:
                assert opportunities == []
                continue
            [opp] = opportunities
            revenue = session.exec(select(UsageRevenue).where(UsageRevenue.registration_id == reg.id)).all()
            expected = mapping.to_salesforce_opportunity(
                reg, partner, revenue=[(r.month, r.amount) for r in revenue], creating=True
            )
            expected.pop("Partner_Account__r")
            assert {k: opp.get(k) for k in expected} == expected
            [partner_row] = [p for p in fake.records("Partner") if p["OpportunityId"] == opp["Id"]]
            assert partner_row["AccountToId"] == accounts[partner.id]
            months = sorted(
                r["Month__c"] for r in fake.records("Partnerbot_Revenue__c") if r["Opportunity__c"] == opp["Id"]
            )
            assert months == sorted(f"{r.month}-01" for r in revenue)


@pytest.mark.parametrize("mode", ["access_token", "password"])
def test_fault_storm_loses_and_duplicates_nothing(engine, now, fake, sf_settings, mode):
    rng = random.Random(20261102)
    fake.add_record("Account", {"Name": "Partner 0 Ltd", "Website": "https://www.partner0.com/"})
    fake.fault_rate = 0.35
    if mode == "password":
        fake.fault_kinds = ("500", "503", "timeout", "expire")
        settings = load_settings(
            database_url=sf_settings.database_url,
            salesforce_username=fake.username,
            salesforce_password=fake.password,
            salesforce_security_token=fake.security_token,
            salesforce_ca_bundle=fake.ca_bundle,
            _env_file=None,
        )
        sf = build_salesforce(settings, session=fake.mount_login(requests.Session()))
    else:
        fake.fault_kinds = ("500", "503", "timeout", "limit", "session")
        settings, sf = sf_settings, None
    ids = seed(engine, now, rng)
    told: list[str] = []
    clock = now
    for round_number in range(1, 60):
        if round_number <= 8:
            move(engine, clock, rng, ids, month=round_number)
        drain_outbox(engine, settings, notify=told.append, now=clock, sf=sf, chunk_size=5, request_timeout=0.2, rng=rng)
        clock += timedelta(hours=2)  # past any backoff
        with Session(engine) as session:
            left = session.exec(select(CrmOutbox).where(CrmOutbox.status != OutboxStatus.written)).all()
        if round_number > 8 and not left:
            break
    assert not left, [(r.registration_id, r.event, r.status, r.last_error) for r in left]
    assert set(fake.injected) == set(fake.fault_kinds), fake.injected  # every kind of fault was met
    assert len(fake.records("Account")) == 3  # the existing one was found, two were created
    assert len(fake.records("Partner")) == len(fake.records("Opportunity")) > 0
    check_salesforce_matches(engine, fake)
    assert not [t for t in told if "refused" in t]  # passing faults are never reported as refusals
