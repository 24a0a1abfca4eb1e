"""Upsells in Salesforce: record_upsell_change queues the write, the drain sends it to the local HTTPS fake by the
real simple-salesforce client (or to the local mirror without Salesforce), as registrations' writes go."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from crm_factories import make_account, make_partner, make_registration, make_upsell, queue
from sqlmodel import Session, select

from storage.crm.status import crm_status, mirror_of, retry_failed
from storage.crm.upsells import record_upsell_change
from storage.crm.writer import drain_outbox
from storage.models import AttributionType, CrmOutbox, OutboxStatus, Upsell, UpsellStatus


def outbox(engine) -> list[CrmOutbox]:
    with Session(engine) as session:
        return session.exec(select(CrmOutbox).order_by(CrmOutbox.id)).all()


def accepted_upsell(engine, now, *, partner_domain="northwind-partners.com", account_domain="acme.com",
                    from_registration=False, told="accepted", **fields) -> tuple[str, int]:
    """A customer account with an attached partner and that partner's accepted upsell on it, told to the CRM."""
    with Session(engine) as session:
        partner = make_partner(session, domain=partner_domain)
        source = make_registration(session, partner, now) if from_registration else None
        account = make_account(session, now, partners=[partner], domain=account_domain,
                               source_registration_id=source.id if source else None)
        upsell = make_upsell(session, account, partner, now, **fields)
        if told:
            record_upsell_change(session, upsell, told)
        session.commit()
        return upsell.reference, upsell.id


def change(engine, upsell_id: int, event: str, now, **fields) -> None:
    """The upsell workflow's step: the upsell changes and the CRM is told, in one transaction."""
    with Session(engine) as session:
        upsell = session.get(Upsell, upsell_id)
        for name, value in fields.items():
            setattr(upsell, name, value)
        upsell.updated_at = now
        session.add(upsell)
        record_upsell_change(session, upsell, event)
        session.commit()


def test_record_upsell_change_queues_one_row_due_at_the_change(engine, now):
    ref, upsell_id = accepted_upsell(engine, now)
    [row] = outbox(engine)
    assert (row.upsell_id, row.registration_id, row.event, row.urgent, row.status) == (
        upsell_id, None, "accepted", True, OutboxStatus.pending)
    assert row.next_attempt_at == now and row.payload == {"status": "accepted", "attribution": "partner_sourced"}
    with Session(engine) as session:
        with pytest.raises(ValueError, match="unknown upsell CRM event 'declined'"):
            record_upsell_change(session, session.get(Upsell, upsell_id), "declined")
        record_upsell_change(session, session.get(Upsell, upsell_id), "attribution", now=now + timedelta(hours=1))
        session.commit()
    later = outbox(engine)[-1]
    assert (later.event, later.urgent, later.next_attempt_at) == ("attribution", False, now + timedelta(hours=1))


def test_an_accepted_upsell_becomes_an_expansion_on_the_customers_account_credited_to_the_partner(
        engine, now, fake, sf_settings, notes):
    ref, _ = accepted_upsell(engine, now, from_registration=True)
    report = drain_outbox(engine, sf_settings, notify=notes.append, now=now)
    assert (report.mode, report.written, report.failed, notes) == ("salesforce", 1, 0, [])
    [opp] = fake.by_external_id("Opportunity", ref)
    [customer] = fake.by_external_id("Account", "acme.com", "Partnerbot_Customer_Key__c")
    [partner_account] = fake.by_external_id("Account", "northwind-partners.com", "Partnerbot_Partner_Key__c")
    [partner] = fake.records("Partner")
    assert {k: v for k, v in customer.items() if k != "Id"} == {
        "Partnerbot_Customer_Key__c": "acme.com", "Name": "Acme Inc.", "Type": "Customer - Channel",
        "Website": "acme.com"}
    assert {k: v for k, v in opp.items() if k not in ("Id", "CreatedDate")} == {  # CreatedDate: Salesforce sets it
        "Partnerbot_Id__c": ref,
        "Name": f"Acme Inc. - Enterprise ({ref})",
        "AccountId": customer["Id"],
        "Type": "Existing Customer - Upgrade",
        "Partner_Account__c": partner_account["Id"],
        "Attribution_Type__c": "partner_sourced",
        "Upsell_Signal__c": "plan_upgrade",
        "Landing_Zone__c": "analytics",
        "Target_Product_Line__c": "Enterprise",
        "Upsell_Recurrence__c": "monthly",
        "Original_Deal__c": "REG-00001",
        "Amount": 2400.0,
        "StageName": "Prospecting",
        "CloseDate": (now + timedelta(days=90)).date().isoformat(),
        "Description": f"Partnerbot upsell {ref}, flagged with Northwind Partners\nSignal: plan upgrade\n"
        "Target: Enterprise\nExpected value: 2400.00 EUR per month\nTimeline: 1-3m\n"
        "Notes: They hit the seat limit twice this month",
        "IsClosed": False,
        "IsWon": False,
    }
    assert (partner["OpportunityId"], partner["AccountToId"], partner["Role"], partner["IsPrimary"]) == (
        opp["Id"], partner_account["Id"], "Reseller", True)
    # Usage (first drain), the customer's and the partner's Account look-ups, both Accounts and the Opportunity in
    # one Composite, the Partner.
    assert fake.calls == ["GET limits/", "GET query/", "GET query/", "POST composite", "POST sobjects/Partner/"]
    assert {(r.sobject, r.external_key, r.salesforce_id) for r in mirror_of(engine, ref)} == {
        ("Account", "customer:acme.com", customer["Id"]), ("Account", "northwind-partners.com", partner_account["Id"]),
        ("Opportunity", ref, opp["Id"]), ("Partner", ref, partner["Id"])}
    # The registration the account came from is left alone: no Lead, no Opportunity of it was written.
    assert fake.records("Lead") == [] and fake.by_external_id("Opportunity", "REG-00001") == []
    assert drain_outbox(engine, sf_settings, notify=notes.append, now=now).considered == 0


def test_the_original_deal_keeps_its_attribution_and_its_usage_credit(engine, now, fake, sf_settings, notes):
    from storage.crm.models import UsageRevenue
    from storage.models import PricingModel

    with Session(engine) as session:  # a usage-based deal the partner registered and won, with revenue growing
        partner = make_partner(session)
        reg = make_registration(session, partner, now, pricing_model=PricingModel.usage_based,
                                starting_monthly_usage=Decimal("5000"))
        queue(session, reg, "approved", now)
        session.add(UsageRevenue(registration_id=reg.id, month="2026-10", amount=Decimal("15000"),
                                 recorded_by_slack_id="U_PM", recorded_at=now))
        queue(session, reg, "usage", now, payload={"month": "2026-10"})
        account = make_account(session, now, partners=[partner], source_registration_id=reg.id)
        upsell = make_upsell(session, account, partner, now, signal="usage_growth")
        session.commit()
        reg_ref, upsell_id = reg.reference, upsell.id
    drain_outbox(engine, sf_settings, notify=notes.append, now=now)
    [deal] = fake.by_external_id("Opportunity", reg_ref)
    before = (dict(deal), [dict(r) for r in fake.records("Partnerbot_Revenue__c")],
              [dict(p) for p in fake.records("Partner")])
    change(engine, upsell_id, "accepted", now)
    change(engine, upsell_id, "won", now, status=UpsellStatus.won, final_amount=Decimal("9000"), closed_at=now)
    report = drain_outbox(engine, sf_settings, notify=notes.append, now=now)
    assert (report.written, report.failed) == (2, 0) and not notes
    after = (fake.by_external_id("Opportunity", reg_ref)[0], fake.records("Partnerbot_Revenue__c"),
             [p for p in fake.records("Partner") if p["OpportunityId"] == deal["Id"]])
    assert after == before  # the deal, its revenue history and its partner: all as they were
    assert (deal["Attribution_Type__c"], deal["Current_Monthly_Revenue__c"], deal["Revenue_Growth__c"]) == (
        "partner_sourced", 15000.0, 200.0)
    [expansion] = fake.by_external_id("Opportunity", f"UPS-{upsell_id:05d}")
    assert (expansion["Original_Deal__c"], expansion["StageName"], expansion["Amount"]) == (reg_ref, "Closed Won",
                                                                                           9000.0)
    assert expansion["Id"] != deal["Id"] and expansion["Upsell_Signal__c"] == "usage_growth"


def test_the_customers_existing_account_is_found_by_website_and_only_stamped(engine, now, fake, sf_settings, notes):
    existing = fake.add_record("Account", {"Name": "ACME (our CRM)", "Website": "https://www.acme.com/",
                                           "Type": "Customer - Direct"})
    ref, _ = accepted_upsell(engine, now)
    drain_outbox(engine, sf_settings, notify=notes.append, now=now)
    customers = [a for a in fake.records("Account") if a.get("Partnerbot_Customer_Key__c")]
    assert [(a["Id"], a["Name"], a["Type"], a["Partnerbot_Customer_Key__c"]) for a in customers] == [
        (existing, "ACME (our CRM)", "Customer - Direct", "acme.com")]
    assert fake.by_external_id("Opportunity", ref)[0]["AccountId"] == existing and not notes


def test_a_partner_that_is_also_the_customer_has_one_account_with_both_keys(engine, now, fake, sf_settings, notes):
    existing = fake.add_record("Account", {"Name": "Acme", "Website": "acme.com"})
    ref, _ = accepted_upsell(engine, now, partner_domain="acme.com", account_domain="acme.com")
    report = drain_outbox(engine, sf_settings, notify=notes.append, now=now)
    assert (report.written, report.failed) == (1, 0)
    [account] = fake.records("Account")
    assert (account["Id"], account["Partnerbot_Partner_Key__c"], account["Partnerbot_Customer_Key__c"]) == (
        existing, "acme.com", "acme.com")
    [opp] = fake.by_external_id("Opportunity", ref)
    assert opp["AccountId"] == opp["Partner_Account__c"] == existing
    assert {(r.external_key, r.salesforce_id) for r in mirror_of(engine, ref) if r.sobject == "Account"} == {
        ("customer:acme.com", existing), ("acme.com", existing)}


def test_an_account_already_keyed_costs_no_write_and_one_without_a_domain_gets_a_stable_key(
        engine, now, fake, sf_settings, notes):
    keyed = fake.add_record("Account", {"Name": "Acme", "Partnerbot_Customer_Key__c": "ACME.COM"})
    ref, _ = accepted_upsell(engine, now)
    drain_outbox(engine, sf_settings, notify=notes.append, now=now)
    assert fake.by_external_id("Opportunity", ref)[0]["AccountId"] == keyed
    with Session(engine) as session:
        account = make_account(session, now, name="Initech", name_key="initech", domain=None)
        other = make_upsell(session, account, make_partner(session, name="Globex Partners", domain=None), now)
        record_upsell_change(session, other, "accepted")
        session.commit()
        other_ref, account_id = other.reference, account.id
    drain_outbox(engine, sf_settings, notify=notes.append, now=now)
    [initech] = fake.by_external_id("Account", f"partnerbot-customer-{account_id}", "Partnerbot_Customer_Key__c")
    assert initech["Name"] == "Initech" and "Website" not in initech
    assert fake.by_external_id("Opportunity", other_ref)[0]["AccountId"] == initech["Id"] and not notes


def test_won_closes_the_same_opportunity_with_the_final_amount(engine, now, fake, sf_settings, notes):
    ref, upsell_id = accepted_upsell(engine, now)
    drain_outbox(engine, sf_settings, notify=notes.append, now=now)
    [opp] = fake.by_external_id("Opportunity", ref)
    opp["StageName"], opp["Amount"] = "Negotiation/Review", 2000.0  # the AE works the deal in Salesforce
    later = now + timedelta(days=20)
    change(engine, upsell_id, "won", later, status=UpsellStatus.won, final_amount=Decimal("3150.75"), closed_at=later)
    report = drain_outbox(engine, sf_settings, notify=notes.append, now=later)
    assert (report.written, report.failed) == (1, 0)
    [opp] = fake.by_external_id("Opportunity", ref)
    assert (opp["StageName"], opp["IsWon"], opp["Amount"], opp["CloseDate"]) == (
        "Closed Won", True, 3150.75, later.date().isoformat())
    assert len(fake.records("Opportunity")) == 1 and len(fake.records("Partner")) == 1
    assert len(fake.records("Account")) == 2 and not notes


def test_lost_closes_it_with_the_reason(engine, now, fake, sf_settings, notes):
    ref, upsell_id = accepted_upsell(engine, now)
    drain_outbox(engine, sf_settings, notify=notes.append, now=now)
    change(engine, upsell_id, "lost", now, status=UpsellStatus.lost, close_reason="Budget frozen until Q3",
           closed_at=now)
    drain_outbox(engine, sf_settings, notify=notes.append, now=now)
    [opp] = fake.by_external_id("Opportunity", ref)
    assert (opp["StageName"], opp["IsClosed"], opp["IsWon"], opp["Upsell_Loss_Reason__c"], opp["Amount"]) == (
        "Closed Lost", True, False, "Budget frozen until Q3", 2400.0)


def test_accepted_and_won_before_a_drain_create_it_closed_won(engine, now, fake, sf_settings, notes):
    ref, upsell_id = accepted_upsell(engine, now)
    change(engine, upsell_id, "won", now, status=UpsellStatus.won, final_amount=Decimal("5000"), closed_at=now)
    report = drain_outbox(engine, sf_settings, notify=notes.append, now=now)
    assert report.written == 2  # both rows, one write
    [opp] = fake.by_external_id("Opportunity", ref)
    assert (opp["StageName"], opp["Amount"], opp["Type"]) == ("Closed Won", 5000.0, "Existing Customer - Upgrade")


def test_the_partner_the_ae_asked_in_is_credited_when_they_join(engine, now, fake, sf_settings, notes):
    ref, upsell_id = accepted_upsell(engine, now, attribution=AttributionType.influenced,
                                     flagged_by_slack_id="U_AE")
    drain_outbox(engine, sf_settings, notify=notes.append, now=now, opportunity_type="Expansion - Partner")
    [opp] = fake.by_external_id("Opportunity", ref)
    assert (opp.get("Partner_Account__c"), opp.get("Attribution_Type__c"), opp["Type"]) == (
        None, None, "Expansion - Partner")
    assert fake.records("Partner") == [] and len(fake.records("Account")) == 1  # the customer's only
    opp["StageName"], opp["Amount"] = "Negotiation/Review", 2000.0  # the AE works the deal in Salesforce
    change(engine, upsell_id, "attribution", now, partner_joined_at=now)
    report = drain_outbox(engine, sf_settings, notify=notes.append, now=now)
    assert (report.written, report.failed) == (1, 0)
    [opp] = fake.by_external_id("Opportunity", ref)
    [partner_account] = fake.by_external_id("Account", "northwind-partners.com", "Partnerbot_Partner_Key__c")
    [partner] = fake.records("Partner")
    assert (opp["Partner_Account__c"], opp["Attribution_Type__c"]) == (partner_account["Id"], "partner_influenced")
    assert (opp["StageName"], opp["Amount"], opp["Type"]) == ("Negotiation/Review", 2000.0, "Expansion - Partner")
    assert (partner["OpportunityId"], partner["AccountToId"]) == (opp["Id"], partner_account["Id"])


def test_an_upsell_never_accepted_writes_nothing(engine, now, fake, sf_settings, notes):
    ref, upsell_id = accepted_upsell(engine, now, status=UpsellStatus.open, accepted_at=None, told=None,
                                     attribution=AttributionType.influenced)
    change(engine, upsell_id, "attribution", now, partner_joined_at=now)  # joined before the AE accepted
    fake.calls.clear()
    report = drain_outbox(engine, sf_settings, notify=notes.append, now=now)
    assert (report.written, report.failed) == (1, 0)  # settled: nothing to tell Salesforce yet
    assert fake.records("Opportunity") == [] and fake.records("Account") == []
    assert fake.calls == ["GET limits/"] and mirror_of(engine, ref) == []


def test_without_salesforce_the_mirror_holds_the_same_writes_and_the_backlog_goes_later(
        engine, now, fake, sf_settings, bare_settings, notes):
    ref, upsell_id = accepted_upsell(engine, now)
    report = drain_outbox(engine, bare_settings, notify=notes.append, now=now)
    assert (report.mode, report.mirrored, report.written) == ("mirror", 1, 0)
    records = {(r.sobject, r.external_key): r for r in mirror_of(engine, ref)}
    assert set(records) == {("Account", "customer:acme.com"), ("Account", "northwind-partners.com"),
                            ("Opportunity", ref), ("Partner", ref)}
    opp = records[("Opportunity", ref)].field_values
    assert (opp["Type"], opp["StageName"], opp["Amount"], opp["Account"]) == (
        "Existing Customer - Upgrade", "Prospecting", 2400.0, {"Partnerbot_Customer_Key__c": "acme.com"})
    assert records[("Account", "customer:acme.com")].field_values["Type"] == "Customer - Channel"
    assert all(r.salesforce_id is None for r in records.values())
    change(engine, upsell_id, "won", now, status=UpsellStatus.won, final_amount=Decimal("2600"), closed_at=now)
    assert drain_outbox(engine, bare_settings, notify=notes.append, now=now).considered == 2  # the upsell's rows
    opp = {r.sobject: r for r in mirror_of(engine, ref)}["Opportunity"].field_values
    assert (opp["StageName"], opp["Amount"]) == ("Closed Won", 2600.0)
    status = crm_status(engine, bare_settings, now=now)
    assert (status.pending, status.pending_mirrored, status.mirror["Opportunity"]) == (2, 2, (1, 0))

    report = drain_outbox(engine, sf_settings, notify=notes.append, now=now)  # Salesforce connected later
    assert (report.written, report.failed) == (2, 0)
    [opp] = fake.by_external_id("Opportunity", ref)
    assert (opp["StageName"], opp["Amount"], opp["Type"]) == ("Closed Won", 2600.0, "Existing Customer - Upgrade")
    assert len(fake.records("Partner")) == 1 and all(r.salesforce_id for r in mirror_of(engine, ref))


def test_an_outage_backs_off_and_loses_nothing(engine, now, fake, sf_settings, notes):
    drain_outbox(engine, sf_settings, notify=notes.append, now=now)  # an earlier run learned the API usage
    ref, _ = accepted_upsell(engine, now)
    fake.fail_next("503")
    report = drain_outbox(engine, sf_settings, notify=notes.append, now=now)
    assert report.retrying == 1 and "503" in report.stopped
    [row] = outbox(engine)
    assert (row.status, row.attempts) == (OutboxStatus.pending, 1) and row.next_attempt_at > now
    assert "SERVER_UNAVAILABLE" in row.last_error
    assert drain_outbox(engine, sf_settings, notify=notes.append, now=now).considered == 0  # backing off
    assert drain_outbox(engine, sf_settings, notify=notes.append, now=now + timedelta(hours=2)).written == 1
    assert len(fake.by_external_id("Opportunity", ref)) == 1 and len(fake.records("Partner")) == 1 and not notes


def test_a_refused_expansion_is_reported_like_a_registration_and_retried(engine, now, fake, sf_settings, notes):
    with Session(engine) as session:  # a registration beside it, so the refusal is seen not to hold it back
        reg = make_registration(session, make_partner(session, name="Globex", domain="globex.example"), now)
        queue(session, reg, "approved", now)
        session.commit()
        reg_id = reg.id
    ref, upsell_id = accepted_upsell(engine, now)
    fake.validation_rules.append(
        lambda sobject, record: "Expansions need a close plan" if sobject == "Opportunity"
        and record.get("Type") == "Existing Customer - Upgrade" and not record.get("Fixed__c") else None)
    report = drain_outbox(engine, sf_settings, notify=notes.append, now=now)
    assert (report.written, report.failed) == (1, 1)
    [told] = notes
    assert ref in told and "FIELD_CUSTOM_VALIDATION_EXCEPTION: Expansions need a close plan" in told
    assert "partnerbot crm retry" in told
    status = crm_status(engine, sf_settings, now=now)
    assert (status.failed, status.written) == (1, 1)
    assert status.failures == [(ref, "accepted", f"Opportunity {ref}: FIELD_CUSTOM_VALIDATION_EXCEPTION: "
                                                 "Expansions need a close plan")]
    assert fake.by_external_id("Opportunity", ref) == [] and fake.records("Partner") != []

    fake.validation_rules.clear()  # the admin relaxes the rule
    assert retry_failed(engine, now=now, registration_id=reg_id) == 0
    assert retry_failed(engine, now=now, upsell_id=upsell_id) == 1
    report = drain_outbox(engine, sf_settings, notify=notes.append, now=now)
    assert (report.written, report.failed) == (1, 0)
    assert len(fake.by_external_id("Opportunity", ref)) == 1 and len(fake.records("Partner")) == 2


def test_an_org_without_the_upsell_fields_still_takes_registrations(engine, now, fake, sf_settings, notes):
    fake.fields["Account"].discard("Partnerbot_Customer_Key__c")  # deployed before upsells existed
    for name in ("Upsell_Signal__c", "Landing_Zone__c", "Target_Product_Line__c", "Upsell_Recurrence__c",
                 "Original_Deal__c", "Upsell_Loss_Reason__c"):
        fake.fields["Opportunity"].discard(name)
    with Session(engine) as session:
        reg = make_registration(session, make_partner(session, name="Globex", domain="globex.example"), now)
        queue(session, reg, "approved", now)
        session.commit()
        reg_ref = reg.reference
    ref, _ = accepted_upsell(engine, now)  # in the same chunk as the registration
    report = drain_outbox(engine, sf_settings, notify=notes.append, now=now)
    assert (report.written, report.failed) == (1, 1)
    assert len(fake.by_external_id("Opportunity", reg_ref)) == 1 and fake.by_external_id("Opportunity", ref) == []
    [told] = notes
    assert ref in told and reg_ref not in told and "INVALID_FIELD" in told


def test_the_cli_syncs_shows_and_retries_an_upsells_writes(engine, now, cli_env, tmp_path):
    from sqlalchemy import update
    from typer.testing import CliRunner

    from bot.cli_crm import crm_app

    (tmp_path / "program.yml").write_text("upsell:\n  opportunity_type: Partner Expansion\n", encoding="utf-8")
    ref, upsell_id = accepted_upsell(engine, now)
    runner = CliRunner()
    result = runner.invoke(crm_app, ["sync"])
    assert result.exit_code == 0, result.output
    assert "local mirror" in result.output and "1 written" in result.output
    result = runner.invoke(crm_app, ["status", "--upsell", ref.lower()])
    assert result.exit_code == 0, result.output
    for shown in ("Opportunity " + ref, "Upsell_Signal__c", "plan_upgrade", "Partner Expansion",
                  "Account customer:acme.com", "Customer - Channel", "Partner " + ref):
        assert shown in result.output, shown
    result = runner.invoke(crm_app, ["status"])
    assert "Pending: 1 (0 waiting to retry, 1 already in the local mirror)" in result.output

    with Session(engine) as session:  # as Salesforce would leave a refused write
        session.execute(update(CrmOutbox).values(status=OutboxStatus.failed, last_error="INVALID_FIELD: nope"))
        session.commit()
    result = runner.invoke(crm_app, ["status"])
    assert "Refused: 1" in result.output and f"refused {ref} accepted: INVALID_FIELD: nope" in result.output
    assert "Re-queued 0" in runner.invoke(crm_app, ["retry", "UPS-00999"]).output
    result = runner.invoke(crm_app, ["retry", ref])
    assert result.exit_code == 0 and "Re-queued 1" in result.output
    result = runner.invoke(crm_app, ["retry", "UPS-x"])
    assert result.exit_code == 1 and "not a registration, upsell or partner id" in result.output
    result = runner.invoke(crm_app, ["status", "--upsell", "UPS-00999"])
    assert result.exit_code == 1 and "no upsell UPS-00999" in result.output
