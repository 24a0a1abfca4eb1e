"""The outbox drained into the local HTTPS Salesforce fake by the real simple-salesforce client."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from crm_factories import make_partner, make_registration, queue
from sqlmodel import Session, select

from storage.crm.status import crm_status, mirror_of, retry_failed
from storage.crm.writer import drain_outbox
from storage.models import AttributionType, CrmOutbox, OutboxStatus, Partner, Registration, RegistrationStatus


def outbox(engine) -> list[CrmOutbox]:
    with Session(engine) as session:
        return session.exec(select(CrmOutbox).order_by(CrmOutbox.id)).all()


def approved_deals(engine, now, count: int, *, partner_domain="northwind-partners.com", submitted=True):
    with Session(engine) as session:
        partner = make_partner(session, domain=partner_domain)
        regs = []
        for number in range(count):
            reg = make_registration(session, partner, now, company=f"Customer {number}", domain=f"c{number}.com")
            if submitted:
                queue(session, reg, "submitted", now)
            queue(session, reg, "approved", now)
            regs.append(reg.reference)
        session.commit()
    return regs


def test_approval_lands_as_lead_opportunity_and_partner_once(engine, now, fake, sf_settings, notes):
    [ref] = approved_deals(engine, now, 1)
    report = drain_outbox(engine, sf_settings, notify=notes.append, now=now)
    assert (report.mode, report.written, report.failed) == ("salesforce", 2, 0)
    [account] = fake.records("Account")
    [lead] = fake.by_external_id("Lead", ref)
    [opp] = fake.by_external_id("Opportunity", ref)
    [partner] = fake.records("Partner")
    assert (account["Partnerbot_Partner_Key__c"], account["Name"]) == ("northwind-partners.com", "Northwind Partners")
    assert (lead["LeadSource"], lead["Partner_Account__c"], lead["Registration_Status__c"]) == (
        "Partner",
        account["Id"],
        "approved",
    )
    assert (opp["Partner_Account__c"], opp["Attribution_Type__c"], opp["StageName"]) == (
        account["Id"],
        "partner_sourced",
        "Prospecting",
    )
    assert (partner["OpportunityId"], partner["AccountToId"], partner["IsPrimary"], partner["Role"]) == (
        opp["Id"],
        account["Id"],
        True,
        "Reseller",
    )
    # Usage (first drain only), Account look-up, Account+Lead+Opportunity in one Composite call, the Partner.
    assert fake.calls == ["GET limits/", "GET query/", "POST composite", "POST sobjects/Partner/"]
    assert all(row.status == OutboxStatus.written for row in outbox(engine))
    # What Salesforce answered is stored: ids, and that each record is up to date there.
    stored = {(r.sobject, r.salesforce_id, r.synced_version == r.version) for r in mirror_of(engine, ref)}
    assert stored == {("Account", account["Id"], True), ("Lead", lead["Id"], True),
                      ("Opportunity", opp["Id"], True), ("Partner", partner["Id"], True)}

    # A second drain, and a later status change, never duplicate anything.
    assert drain_outbox(engine, sf_settings, notify=notes.append, now=now).considered == 0
    with Session(engine) as session:
        [reg_row] = session.exec(select(CrmOutbox.registration_id).limit(1)).all()
        from storage.models import Registration

        reg = session.get(Registration, reg_row)
        reg.status, reg.closed_at = RegistrationStatus.won, now
        session.add(reg)
        queue(session, reg, "won", now)
        session.commit()
    drain_outbox(engine, sf_settings, notify=notes.append, now=now)
    assert [r["StageName"] for r in fake.records("Opportunity")] == ["Closed Won"]
    assert len(fake.records("Partner")) == 1 and len(fake.records("Lead")) == 1 and not notes


def test_a_win_or_loss_undone_reopens_the_opportunity_and_later_syncs_leave_its_stage_alone(
        engine, now, fake, sf_settings, notes):
    from storage.models import Registration

    [ref] = approved_deals(engine, now, 1)
    drain_outbox(engine, sf_settings, notify=notes.append, now=now)

    def change(status: RegistrationStatus, event: str, closed_at=None) -> None:
        with Session(engine) as session:
            reg = session.exec(select(Registration)).one()
            reg.status, reg.closed_at = status, closed_at
            session.add(reg)
            queue(session, reg, event, now)
            session.commit()
        drain_outbox(engine, sf_settings, notify=notes.append, now=now)

    change(RegistrationStatus.won, "won", closed_at=now)
    [opp] = fake.by_external_id("Opportunity", ref)
    assert (opp["StageName"], opp["CloseDate"]) == ("Closed Won", now.date().isoformat())
    change(RegistrationStatus.approved, "undone")  # Mark won taken back within its undo window
    [opp] = fake.by_external_id("Opportunity", ref)
    assert opp["StageName"] == "Prospecting" and opp["CloseDate"] != now.date().isoformat()
    fake.records("Opportunity")[0]["StageName"] = "Negotiation/Review"  # the AE moves the deal on in Salesforce
    change(RegistrationStatus.approved, "attribution")  # a later sync of the open deal sends no stage
    assert fake.by_external_id("Opportunity", ref)[0]["StageName"] == "Negotiation/Review"
    change(RegistrationStatus.lost, "lost", closed_at=now)
    assert fake.by_external_id("Opportunity", ref)[0]["StageName"] == "Closed Lost"
    change(RegistrationStatus.approved, "undone")
    assert fake.by_external_id("Opportunity", ref)[0]["StageName"] == "Prospecting" and not notes


def test_existing_partner_account_is_found_by_domain(engine, now, fake, sf_settings, notes):
    existing = fake.add_record(
        "Account", {"Name": "Northwind (our CRM)", "Website": "https://www.northwind-partners.com"}
    )
    approved_deals(engine, now, 2)
    drain_outbox(engine, sf_settings, notify=notes.append, now=now)
    [account] = fake.records("Account")
    assert (account["Id"], account["Name"], account["Partnerbot_Partner_Key__c"]) == (
        existing,
        "Northwind (our CRM)",
        "northwind-partners.com",
    )
    assert {o["Partner_Account__c"] for o in fake.records("Opportunity")} == {existing}


def test_a_refused_record_does_not_block_the_batch_and_can_be_retried(engine, now, fake, sf_settings, notes):
    refs = approved_deals(engine, now, 5)
    fake.validation_rules.append(
        lambda sobject, record: (
            "Amount is too low for Customer 3"
            if sobject == "Opportunity"
            and record.get("Name", "").startswith("Customer 3")
            and not record.get("Fixed__c")
            else None
        )
    )
    report = drain_outbox(engine, sf_settings, notify=notes.append, now=now)
    assert (report.written, report.failed) == (8, 2)
    assert len(fake.records("Opportunity")) == 4 and len(fake.records("Partner")) == 4
    [message] = notes
    assert refs[3] in message and "FIELD_CUSTOM_VALIDATION_EXCEPTION: Amount is too low for Customer 3" in message
    status = crm_status(engine, sf_settings, now=now)
    assert (status.failed, status.written) == (2, 8)
    assert "Amount is too low" in status.last_error

    fake.validation_rules.clear()  # the admin relaxes the rule
    assert retry_failed(engine, now=now) == 2
    report = drain_outbox(engine, sf_settings, notify=notes.append, now=now)
    assert (report.written, report.failed) == (2, 0)
    assert sorted(o["Partnerbot_Id__c"] for o in fake.records("Opportunity")) == refs
    assert len(fake.records("Partner")) == 5


def test_outage_backs_off_without_sleeping_and_loses_nothing(engine, now, fake, sf_settings, notes):
    drain_outbox(engine, sf_settings, notify=notes.append, now=now)  # an earlier run learned the API usage
    approved_deals(engine, now, 3)
    fake.fail_next("503")
    report = drain_outbox(engine, sf_settings, notify=notes.append, now=now)
    assert report.retrying == 6 and report.stopped and "503" in report.stopped
    rows = outbox(engine)
    assert all(r.status == OutboxStatus.pending and r.attempts == 1 and r.next_attempt_at > now for r in rows)
    assert drain_outbox(engine, sf_settings, notify=notes.append, now=now).considered == 0  # still backing off
    later = now + timedelta(hours=2)
    assert drain_outbox(engine, sf_settings, notify=notes.append, now=later).written == 6
    assert len(fake.records("Opportunity")) == 3 and len(fake.records("Partner")) == 3


def test_request_limit_exceeded_holds_writes(engine, now, fake, sf_settings, notes):
    drain_outbox(engine, sf_settings, notify=notes.append, now=now)
    approved_deals(engine, now, 2)
    fake.fail_next("limit")
    report = drain_outbox(engine, sf_settings, notify=notes.append, now=now)
    assert "REQUEST_LIMIT_EXCEEDED" in report.stopped
    assert all(r.status == OutboxStatus.pending and r.next_attempt_at > now for r in outbox(engine))


def test_over_the_usage_threshold_only_urgent_writes_go(engine, now, fake, sf_settings, notes):
    fake.api_limit, fake.api_used = 1000, 850  # 85% used, over the default 80%
    with Session(engine) as session:
        partner = make_partner(session)
        calm = make_registration(session, partner, now, company="Calm Co")
        hurry = make_registration(session, partner, now, company="Hurry Co")
        queue(session, calm, "approved", now)
        queue(session, hurry, "approved", now, urgent=True)
        session.commit()
    first = drain_outbox(engine, sf_settings, notify=notes.append, now=now)
    assert (first.written, first.held) == (1, 1)
    [opp] = fake.records("Opportunity")
    assert opp["Name"].startswith("Hurry Co")
    second = drain_outbox(engine, sf_settings, notify=notes.append, now=now + timedelta(minutes=1))
    assert (second.written, second.held, second.api_calls) == (0, 1, 0)  # no call spent to learn nothing new
    assert len([n for n in notes if "threshold" in n]) == 1  # told once, not every minute
    fake.api_used = 100  # the rolling 24 h window moved on
    third = drain_outbox(engine, sf_settings, notify=notes.append, now=now + timedelta(minutes=30))
    assert third.written == 1 and len(fake.records("Opportunity")) == 2


def test_without_salesforce_the_mirror_shows_the_records_and_the_backlog_goes_later(
    engine, now, fake, sf_settings, bare_settings, notes
):
    [ref] = approved_deals(engine, now, 1)
    report = drain_outbox(engine, bare_settings, notify=notes.append, now=now)
    assert (report.mode, report.mirrored, report.written) == ("mirror", 2, 0)
    records = {r.sobject: r for r in mirror_of(engine, ref)}
    assert records["Opportunity"].field_values["Attribution_Type__c"] == "partner_sourced"
    assert records["Opportunity"].field_values["Partner_Account__r"] == {
        "Partnerbot_Partner_Key__c": "northwind-partners.com"
    }
    assert records["Lead"].field_values["LeadSource"] == "Partner"
    assert all(r.salesforce_id is None for r in records.values())
    status = crm_status(engine, bare_settings, now=now)
    assert (status.auth_mode, status.pending, status.pending_mirrored) == (None, 2, 2)
    assert drain_outbox(engine, bare_settings, notify=notes.append, now=now).considered == 0  # already mirrored

    report = drain_outbox(engine, sf_settings, notify=notes.append, now=now)  # Salesforce connected later
    assert report.written == 2
    assert len(fake.by_external_id("Opportunity", ref)) == 1
    assert all(r.salesforce_id for r in mirror_of(engine, ref))


def test_usage_growth_updates_revenue_and_keeps_attribution(engine, now, fake, sf_settings, notes):
    from storage.crm.models import UsageRevenue
    from storage.models import PricingModel

    with Session(engine) as session:
        partner = make_partner(session)
        reg = make_registration(
            session,
            partner,
            now,
            pricing_model=PricingModel.usage_based,
            starting_monthly_usage=Decimal("5000"),
            attribution=AttributionType.influenced,
        )
        queue(session, reg, "approved", now)
        ref, reg_id = reg.reference, reg.id
        session.commit()
    drain_outbox(engine, sf_settings, notify=notes.append, now=now)
    for month, amount in (("2026-10", "5000"), ("2026-11", "15000")):
        with Session(engine) as session:
            session.add(
                UsageRevenue(
                    registration_id=reg_id,
                    month=month,
                    amount=Decimal(amount),
                    recorded_by_slack_id="U_PM",
                    recorded_at=now,
                )
            )
            session.add(
                CrmOutbox(
                    registration_id=reg_id, event="usage", payload={"month": month}, created_at=now, next_attempt_at=now
                )
            )
            session.commit()
        drain_outbox(engine, sf_settings, notify=notes.append, now=now)
    [opp] = fake.by_external_id("Opportunity", ref)
    assert (opp["Attribution_Type__c"], opp["Current_Monthly_Revenue__c"], opp["Revenue_Growth__c"]) == (
        "partner_influenced",
        15000.0,
        200.0,
    )
    assert opp["StageName"] == "Prospecting" and len(fake.records("Partner")) == 1
    revenue = sorted(
        (r["Month__c"], r["Amount__c"], r["Opportunity__c"]) for r in fake.records("Partnerbot_Revenue__c")
    )
    assert revenue == [("2026-10-01", 5000.0, opp["Id"]), ("2026-11-01", 15000.0, opp["Id"])]


def reg_partner_since(engine) -> str:
    with Session(engine) as session:
        return session.exec(select(Partner.stage_since)).one().date().isoformat()


def test_one_refused_record_alone_goes_as_a_single_call(engine, now, fake, sf_settings, notes):
    drain_outbox(engine, sf_settings, notify=notes.append, now=now)
    with Session(engine) as session:
        reg = make_registration(session, make_partner(session), now, status=RegistrationStatus.received)
        queue(session, reg, "submitted", now)
        session.commit()
    fake.add_record("Account", {"Name": "Northwind", "Partnerbot_Partner_Key__c": "northwind-partners.com",
                                "Partner_Stage__c": "prospect",  # showing the partner's stage already: left alone
                                "Partner_Stage_Since__c": reg_partner_since(engine)})
    fake.validation_rules.append(lambda sobject, record: "Email domain is blocked" if sobject == "Lead" else None)
    fake.calls.clear()
    report = drain_outbox(engine, sf_settings, notify=notes.append, now=now)
    assert report.failed == 1 and fake.calls == ["GET query/", "PATCH sobjects/Lead/Partnerbot_Id__c/REG-00001"]
    [row] = outbox(engine)
    assert (
        row.status == OutboxStatus.failed
        and "FIELD_CUSTOM_VALIDATION_EXCEPTION: Email domain is blocked" in row.last_error
    )


def test_a_refused_login_keeps_writes_in_the_mirror_and_tells_once(engine, now, fake, sf_settings, notes, monkeypatch):
    import requests

    from storage.crm import client, writer

    # The writer logs in itself; route Salesforce's login host to the fake, as DNS would to the real one.
    monkeypatch.setattr(
        writer, "build_salesforce", lambda s: client.build_salesforce(s, session=fake.mount_login(requests.Session()))
    )
    wrong = sf_settings.model_copy(
        update={
            "salesforce_access_token": None,
            "salesforce_instance_url": None,
            "salesforce_username": fake.username,
            "salesforce_password": type(sf_settings.salesforce_access_token)("An0ther-passw0rd"),
            "salesforce_security_token": type(sf_settings.salesforce_access_token)(fake.security_token),
        }
    )
    [ref] = approved_deals(engine, now, 1)
    report = drain_outbox(engine, wrong, notify=notes.append, now=now)
    assert (report.mode, report.mirrored) == ("mirror", 2) and "INVALID_LOGIN" in report.stopped
    drain_outbox(engine, wrong, notify=notes.append, now=now + timedelta(minutes=1))
    [told] = notes  # once, not every minute
    assert "cannot write to Salesforce" in told and "INVALID_LOGIN" in told
    for secret in ("An0ther-passw0rd", fake.security_token):
        assert secret not in told and secret not in report.stopped
    assert {r.sobject for r in mirror_of(engine, ref)} == {"Account", "Lead", "Opportunity", "Partner"}
    assert all(r.status == OutboxStatus.pending for r in outbox(engine))


def test_an_expired_access_token_holds_writes_and_tells_once(engine, now, fake, sf_settings, notes):
    approved_deals(engine, now, 1)
    fake.expire_sessions()
    report = drain_outbox(engine, sf_settings, notify=notes.append, now=now)
    assert report.retrying == 2 and "INVALID_SESSION_ID" in report.stopped
    drain_outbox(engine, sf_settings, notify=notes.append, now=now + timedelta(minutes=10))
    assert len(notes) == 1 and "INVALID_SESSION_ID" in notes[0] and fake.access_token not in notes[0]
    assert all(r.status == OutboxStatus.pending and r.attempts == 2 for r in outbox(engine))


def test_a_second_drain_at_the_same_time_waits(engine, now, sf_settings, notes):
    from storage.crm.state import acquire_lease, release_lease

    assert acquire_lease(engine, "someone-else")
    try:
        assert drain_outbox(engine, sf_settings, notify=notes.append, now=now).stopped == "another drain is running"
    finally:
        release_lease(engine, "someone-else")
    assert drain_outbox(engine, sf_settings, notify=notes.append, now=now).stopped is None


def test_a_lead_sales_converted_does_not_block_the_deals_later_changes(engine, now, fake, sf_settings, notes):
    [ref] = approved_deals(engine, now, 1)
    drain_outbox(engine, sf_settings, notify=notes.append, now=now)
    [lead] = fake.by_external_id("Lead", ref)
    lead["IsConverted"] = True  # sales converted the Lead; Salesforce now refuses updates to it
    with Session(engine) as session:
        from storage.models import Registration

        reg = session.get(Registration, session.exec(select(CrmOutbox.registration_id).limit(1)).one())
        reg.status, reg.closed_at = RegistrationStatus.won, now
        session.add(reg)
        queue(session, reg, "won", now)
        session.commit()
    report = drain_outbox(engine, sf_settings, notify=notes.append, now=now)
    assert (report.written, report.failed) == (1, 0) and not notes
    assert [o["StageName"] for o in fake.records("Opportunity")] == ["Closed Won"]
    assert lead["Registration_Status__c"] == "approved"  # the converted Lead was left as it was


def test_an_extension_moves_the_opportunitys_protection_date_and_leaves_its_close_date(engine, now, fake,
                                                                                     sf_settings, notes):
    [ref] = approved_deals(engine, now, 1)
    drain_outbox(engine, sf_settings, notify=notes.append, now=now)
    [opp] = fake.by_external_id("Opportunity", ref)
    first_end, close_date = opp["Protection_Expires__c"], opp["CloseDate"]
    assert first_end == close_date == (now + timedelta(days=89)).date().isoformat()
    with Session(engine) as session:
        reg = session.exec(select(Registration)).one()
        reg.protection_expires_at += timedelta(days=30)
        session.add(reg)
        queue(session, reg, "extended", now)
        session.commit()
    report = drain_outbox(engine, sf_settings, notify=notes.append, now=now)
    assert (report.written, report.failed) == (1, 0)
    [opp] = fake.by_external_id("Opportunity", ref)
    assert opp["Protection_Expires__c"] == (now + timedelta(days=119)).date().isoformat()
    assert opp["CloseDate"] == close_date  # the AE's, after creation
