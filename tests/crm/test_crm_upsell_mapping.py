"""The expansion Opportunity's mapping, field by field, and the Salesforce package that must take it."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from storage.crm import mapping, upsell_mapping
from storage.crm.push import _account_queries, MAX_QUERY_CHARS
from storage.crm.mirror import Wanted
from storage.models import (
    AttributionType,
    CustomerAccount,
    Partner,
    PartnerStage,
    PartnerType,
    PricingModel,
    Recurrence,
    RegistrationStatus,
    Upsell,
    UpsellSignal,
    UpsellStatus,
)
from tests.salesforce_fake_describe import OBJECTS, external_ids, picklists

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=timezone.utc)
FORCE_APP = OBJECTS.parent


def partner(**fields) -> Partner:
    return Partner(**(dict(id=7, name="Northwind Partners", type=PartnerType.reseller,
                           domain="northwind-partners.com") | fields))


def account(**fields) -> CustomerAccount:
    return CustomerAccount(**(dict(id=3, name="Acme Inc.", name_key="acme", domain="acme.com", landing_zone="analytics",
                                   source_registration_id=42) | fields))


def upsell(**fields) -> Upsell:
    values = dict(id=7, account_id=3, partner_id=7, flagged_by_slack_id="U1", attribution=AttributionType.sourced,
                  signal=UpsellSignal.more_seats, target="Enterprise", expected_value=Decimal("2400"), currency="EUR",
                  recurrence=Recurrence.monthly, timeline="1-3m", notes="Hit the seat limit",
                  status=UpsellStatus.accepted, created_at=NOW - timedelta(days=2), updated_at=NOW, accepted_at=NOW)
    return Upsell(**(values | fields))


ALWAYS = {
    "Partnerbot_Id__c": "UPS-00007",
    "Name": "Acme Inc. - Enterprise (UPS-00007)",
    "Account": {"Partnerbot_Customer_Key__c": "acme.com"},
    "Upsell_Signal__c": "more_seats",
    "Landing_Zone__c": "analytics",
    "Target_Product_Line__c": "Enterprise",
    "Upsell_Recurrence__c": "monthly",
    "Original_Deal__c": "REG-00042",
}
CREDIT = {
    "Partner_Account__r": {"Partnerbot_Partner_Key__c": "northwind-partners.com"},
    "Attribution_Type__c": "partner_sourced",
}


def test_an_accepted_upsell_creates_an_expansion_on_the_customers_account_credited_to_the_partner():
    fields = upsell_mapping.to_salesforce_upsell_opportunity(upsell(), account(), partner(), creating=True)
    assert fields == ALWAYS | CREDIT | {
        "Type": "Existing Customer - Upgrade",
        "Description": "Partnerbot upsell UPS-00007, flagged with Northwind Partners\nSignal: more seats\n"
        "Target: Enterprise\nExpected value: 2400.00 EUR per month\nTimeline: 1-3m\nNotes: Hit the seat limit",
        "StageName": "Prospecting",
        "CloseDate": "2027-01-31",  # the end of "1-3 months", counted from the acceptance
        "Amount": 2400.0,
    }


def test_later_writes_of_an_open_expansion_leave_the_aes_fields_alone():
    fields = upsell_mapping.to_salesforce_upsell_opportunity(upsell(), account(), partner(), creating=False)
    assert fields == ALWAYS | CREDIT


def test_won_sends_the_final_amount_and_lost_the_reason():
    won = upsell(status=UpsellStatus.won, final_amount=Decimal("3100.50"), closed_at=NOW + timedelta(days=5))
    assert upsell_mapping.to_salesforce_upsell_opportunity(won, account(), partner()) == ALWAYS | CREDIT | {
        "StageName": "Closed Won", "CloseDate": "2026-11-07", "Amount": 3100.5}
    lost = upsell(status=UpsellStatus.lost, close_reason="Budget frozen", closed_at=NOW)
    assert upsell_mapping.to_salesforce_upsell_opportunity(lost, account(), partner()) == ALWAYS | CREDIT | {
        "StageName": "Closed Lost", "CloseDate": "2026-11-02", "Amount": 2400.0,
        "Upsell_Loss_Reason__c": "Budget frozen"}


def test_the_program_names_the_type_and_a_plain_account_has_no_original_deal():
    plain = account(source_registration_id=None, landing_zone=None)
    fields = upsell_mapping.to_salesforce_upsell_opportunity(
        upsell(recurrence=Recurrence.one_time, timeline="12m+"), plain, partner(), creating=True,
        opportunity_type="Expansion")
    assert "Original_Deal__c" not in fields
    assert (fields["Type"], fields["Landing_Zone__c"], fields["CloseDate"]) == ("Expansion", None, "2027-01-31")
    assert "Expected value: 2400.00 EUR one-time" in fields["Description"]


def test_an_upsell_the_ae_asked_the_partner_into_credits_the_partner_once_they_joined():
    asked = upsell(attribution=AttributionType.influenced)
    assert not upsell_mapping.partner_credited(asked)
    fields = upsell_mapping.to_salesforce_upsell_opportunity(asked, account(), partner())
    assert "Partner_Account__r" not in fields and "Attribution_Type__c" not in fields
    joined = upsell(attribution=AttributionType.influenced, partner_joined_at=NOW)
    fields = upsell_mapping.to_salesforce_upsell_opportunity(joined, account(), partner())
    assert fields == ALWAYS | CREDIT | {"Attribution_Type__c": "partner_influenced"}


def test_only_accepted_won_and_lost_upsells_are_in_salesforce():
    assert {s for s in UpsellStatus if upsell_mapping.in_salesforce(upsell(status=s))} == {
        UpsellStatus.accepted, UpsellStatus.won, UpsellStatus.lost}


def test_the_customer_account_and_its_keys():
    assert upsell_mapping.to_salesforce_customer_account(account(domain="acme.com")) == {
        "Partnerbot_Customer_Key__c": "acme.com", "Name": "Acme Inc.", "Type": "Customer - Channel",
        "Website": "acme.com"}
    assert upsell_mapping.to_salesforce_customer_account(account(domain=None)) == {
        "Partnerbot_Customer_Key__c": "partnerbot-customer-3", "Name": "Acme Inc.", "Type": "Customer - Channel"}
    # The mirror keeps a customer's Account apart from a partner's Account of the same domain.
    assert upsell_mapping.customer_mirror_key(account()) == "customer:acme.com" != mapping.partner_key(
        partner(domain="acme.com"))


def test_the_partner_record_of_an_expansion():
    assert mapping.to_salesforce_partner(upsell(), partner(type=PartnerType.msp)) == {
        "Opportunity": {"Partnerbot_Id__c": "UPS-00007"},
        "AccountTo": {"Partnerbot_Partner_Key__c": "northwind-partners.com"},
        "Role": "Managed Service Provider",
        "IsPrimary": True,
    }


def test_every_value_sent_to_a_restricted_picklist_is_deployed():
    lists = picklists()
    sent = {
        "Attribution_Type__c": {a.value for a in AttributionType},
        "Registration_Status__c": {s.value for s in RegistrationStatus},
        "Pricing_Model__c": {p.value for p in PricingModel},
        "Upsell_Signal__c": {s.value for s in UpsellSignal},
        "Upsell_Recurrence__c": {r.value for r in Recurrence},
        "Partner_Stage__c": {s.value for s in PartnerStage},
    }
    for (sobject, name), (values, restricted) in lists.items():
        if restricted:
            assert sent[name] <= set(values), (sobject, name, sent[name] - set(values))
    assert {name for (_, name), (_, restricted) in lists.items() if restricted} == set(sent)
    assert "Existing Customer - Upgrade" in lists[("Opportunity", "Type")][0]
    assert upsell_mapping.CUSTOMER_ACCOUNT_TYPE in lists[("Account", "Type")][0]


def test_the_keys_are_external_ids_and_the_permission_set_grants_every_field():
    assert "Partnerbot_Customer_Key__c" in external_ids()["Account"]
    assert "Partnerbot_Id__c" in external_ids()["Opportunity"]
    permset = (FORCE_APP / "permissionsets" / "Partnerbot_Integration.permissionset-meta.xml").read_text()
    granted = set(re.findall(r"<field>(.*?)</field>", permset))
    for path in OBJECTS.glob("*/fields/*.field-meta.xml"):
        if "<type>MasterDetail</type>" in path.read_text():
            continue  # access follows the parent record
        assert f"{path.parent.parent.name}.{path.name.removesuffix('.field-meta.xml')}" in granted, path.name


def test_account_lookups_are_split_by_key_field_and_before_a_query_outgrows_a_request_line():
    def wanted(key: str, field: str = mapping.CUSTOMER_KEY_FIELD) -> Wanted:
        return Wanted(mapping.ACCOUNT, key, {field: key}, group=None)

    accounts = [wanted(f"customer-number-{n}.example.com") for n in range(400)]
    queries = _account_queries(accounts)
    assert len(queries) > 1 and all(len(soql) <= MAX_QUERY_CHARS + 200 for soql, _ in queries)
    assert sum(soql.count("Website LIKE") for soql, _ in queries) == 400
    assert [item for _, items in queries for item in items] == accounts
    assert all(soql.startswith("SELECT Id, Website, Partnerbot_Customer_Key__c FROM Account WHERE Partnerbot_Customer_"
                               "Key__c IN (") for soql, _ in queries)
    partner = wanted("p.com", mapping.ACCOUNT_KEY_FIELD)
    assert _account_queries([accounts[0], partner]) == [
        ("SELECT Id, Website, Partnerbot_Customer_Key__c FROM Account WHERE Partnerbot_Customer_Key__c IN "
         "('customer-number-0.example.com') OR Website LIKE '%customer-number-0.example.com%'", [accounts[0]]),
        ("SELECT Id, Website, Partnerbot_Partner_Key__c, Partner_Stage__c, Partner_Stage_Since__c FROM Account "
         "WHERE Partnerbot_Partner_Key__c IN ('p.com') OR Website LIKE '%p.com%'", [partner]),  # and its stage
    ]
