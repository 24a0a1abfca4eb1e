"""A partner's lifecycle stage on its Salesforce Account, through the one CRM outbox: the writer against the local
HTTPS fake, and the local mirror without Salesforce."""

from __future__ import annotations

from datetime import timedelta

from crm_factories import make_partner, make_registration, queue
from sqlmodel import Session, select

from storage.crm.status import crm_status, mirror_of, parse_reference, retry_failed
from storage.crm.writer import drain_outbox
from storage.db import transaction
from storage.models import CrmOutbox, OutboxStatus, Partner, PartnerStage
from workflows.lifecycle import move_stage


def new_partner(engine, now, **fields) -> int:
    with Session(engine) as session:
        partner = make_partner(session, **fields)
        session.commit()
        return partner.id


def move(engine, partner_id: int, stage: PartnerStage, now) -> None:
    """A stage change as the workflows record it: the history row and the CRM row, in one transaction."""
    with transaction(engine) as session:
        move_stage(session, session.get(Partner, partner_id), stage, actor="U_PM", now=now)


def outbox(engine) -> list[CrmOutbox]:
    with Session(engine) as session:
        return session.exec(select(CrmOutbox).order_by(CrmOutbox.id)).all()


def test_a_stage_change_reaches_the_partners_account_and_only_the_stage_is_ours_to_update(engine, now, fake,
                                                                                          sf_settings, notes):
    partner_id = new_partner(engine, now)
    move(engine, partner_id, PartnerStage.activated, now)
    assert [(r.partner_id, r.event) for r in outbox(engine)] == [(partner_id, "stage")]
    report = drain_outbox(engine, sf_settings, notify=notes.append, now=now)
    assert (report.written, report.failed) == (1, 0)
    [account] = fake.records("Account")
    assert (account["Partnerbot_Partner_Key__c"], account["Type"], account["Partner_Stage__c"],
            account["Partner_Stage_Since__c"]) == ("northwind-partners.com", "Partner", "activated",
                                                   now.date().isoformat())
    assert fake.calls == ["GET limits/", "GET query/",
                          "PATCH sobjects/Account/Partnerbot_Partner_Key__c/northwind-partners.com"]

    account["Name"] = "Northwind (as sales calls it)"  # people keep the Account's name
    later = now + timedelta(days=3)
    move(engine, partner_id, PartnerStage.producing, later)
    fake.calls.clear()
    assert drain_outbox(engine, sf_settings, notify=notes.append, now=later).written == 1
    [account] = fake.records("Account")
    assert (account["Name"], account["Partner_Stage__c"], account["Partner_Stage_Since__c"]) == (
        "Northwind (as sales calls it)", "producing", later.date().isoformat())
    assert fake.calls == ["PATCH composite/sobjects"]  # an update by Id: no look-up, nothing else
    fake.calls.clear()
    assert drain_outbox(engine, sf_settings, notify=notes.append, now=later).considered == 0
    assert fake.calls == []
    [record] = mirror_of(engine, f"PARTNER-{partner_id:05d}")
    assert (record.sobject, record.salesforce_id, record.synced_version == record.version) == (
        "Account", account["Id"], True)


def test_accounts_found_by_key_or_website_get_the_stage_unless_they_show_it(engine, now, fake, sf_settings, notes):
    keyed = fake.add_record("Account", {"Name": "Northwind", "Partnerbot_Partner_Key__c": "northwind-partners.com",
                                        "Partner_Stage__c": "prospect"})
    by_site = fake.add_record("Account", {"Name": "Globex (ours)", "Website": "https://www.globex.com/"})
    shown = fake.add_record("Account", {"Name": "Initech", "Partnerbot_Partner_Key__c": "initech.dev",
                                        "Partner_Stage__c": "onboarded",
                                        "Partner_Stage_Since__c": now.date().isoformat()})
    ids = [new_partner(engine, now), new_partner(engine, now, name="Globex", domain="globex.com"),
           new_partner(engine, now, name="Initech", domain="initech.dev")]
    for partner_id, stage in zip(ids, (PartnerStage.recruited, PartnerStage.activated, PartnerStage.onboarded)):
        move(engine, partner_id, stage, now)
    report = drain_outbox(engine, sf_settings, notify=notes.append, now=now)
    assert (report.written, report.failed) == (3, 0)
    accounts = {a["Id"]: a for a in fake.records("Account")}
    assert len(accounts) == 3  # found, none created
    assert (accounts[keyed]["Partner_Stage__c"], accounts[keyed]["Partner_Stage_Since__c"]) == (
        "recruited", now.date().isoformat())
    assert (accounts[by_site]["Partnerbot_Partner_Key__c"], accounts[by_site]["Name"],
            accounts[by_site]["Partner_Stage__c"]) == ("globex.com", "Globex (ours)", "activated")
    assert fake.calls == ["GET limits/", "GET query/", "PATCH composite/sobjects"]  # one update: two Accounts
    assert accounts[shown]["Partner_Stage__c"] == "onboarded"


def test_a_deals_and_a_stages_rows_share_the_account_and_fail_together_and_retry(engine, now, fake, sf_settings,
                                                                                 notes):
    with Session(engine) as session:
        partner = make_partner(session)
        reg = make_registration(session, partner, now, status="received")
        queue(session, reg, "submitted", now)
        session.commit()
        partner_id = partner.id
    move(engine, partner_id, PartnerStage.activated, now)
    refused = lambda sobject, record: "Accounts need a billing country" if sobject == "Account" else None  # noqa: E731
    fake.validation_rules.append(refused)
    report = drain_outbox(engine, sf_settings, notify=notes.append, now=now)
    assert report.failed == 2 and fake.records("Account") == []
    assert {(r.registration_id is None, r.status) for r in outbox(engine)} == {(False, OutboxStatus.failed),
                                                                               (True, OutboxStatus.failed)}
    status = crm_status(engine, sf_settings, now=now)
    reference = f"PARTNER-{partner_id:05d}"
    assert (reference, "stage") in [(ref, event) for ref, event, _ in status.failures]
    assert any(reference in note for note in notes)  # partner managers are told which writes were refused
    assert parse_reference(reference.lower()) == ("partner", partner_id)

    fake.validation_rules.remove(refused)
    assert retry_failed(engine, now=now, partner_id=partner_id) == 1
    report = drain_outbox(engine, sf_settings, notify=notes.append, now=now)
    assert (report.written, report.failed) == (1, 0)
    [account] = fake.records("Account")
    assert account["Partner_Stage__c"] == "activated"


def test_without_salesforce_the_mirror_shows_the_stage(engine, now, bare_settings, notes):
    partner_id = new_partner(engine, now)
    move(engine, partner_id, PartnerStage.onboarded, now)
    report = drain_outbox(engine, bare_settings, notify=notes.append, now=now)
    assert (report.mode, report.mirrored) == ("mirror", 1)
    [record] = mirror_of(engine, f"PARTNER-{partner_id:05d}")
    assert (record.sobject, record.field_values["Partner_Stage__c"], record.field_values["Partner_Stage_Since__c"],
            record.salesforce_id) == ("Account", "onboarded", now.date().isoformat(), None)
    [row] = outbox(engine)
    assert row.status == OutboxStatus.pending  # Salesforce, once connected, still gets it
    later = now + timedelta(days=1)
    move(engine, partner_id, PartnerStage.activated, later)
    drain_outbox(engine, bare_settings, notify=notes.append, now=later)
    [record] = mirror_of(engine, f"PARTNER-{partner_id:05d}")
    assert (record.field_values["Partner_Stage__c"], record.version) == ("activated", 2)
