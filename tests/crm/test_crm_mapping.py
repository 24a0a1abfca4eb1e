"""The field mapping, field by field: what a partner manager will see on each Salesforce record."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from tests.crm.crm_factories import registration_values
from storage.crm import mapping
from storage.crm.push import website_domain
from storage.models import (
    AttributionType,
    Partner,
    PartnerType,
    PricingModel,
    Registration,
    RegistrationStatus,
)

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=timezone.utc)


def partner(**fields) -> Partner:
    values = dict(id=7, name="Northwind Partners", type=PartnerType.reseller, domain="northwind-partners.com")
    return Partner(**(values | fields))


def registration(**fields) -> Registration:
    values = registration_values(NOW, id=42, partner_id=7, submitted_by_slack_id="U1",
                                 contact_name="Ada King Lovelace", estimated_value=Decimal("48000"),
                                 notes="Met at the summit", created_at=NOW, approved_at=NOW,
                                 protection_expires_at=datetime(2027, 1, 31, tzinfo=timezone.utc))
    return Registration(**(values | fields))


ATTRIBUTION = {
    "Partnerbot_Id__c": "REG-00042",
    "Partner_Account__r": {"Partnerbot_Partner_Key__c": "northwind-partners.com"},
    "Attribution_Type__c": "partner_sourced",
    "Registration_Status__c": "approved",
    "Product_Line__c": "analytics",
    "Pricing_Model__c": "subscription",
}


def test_lead_is_a_partner_deal_registration():
    assert mapping.to_salesforce_lead(registration(status=RegistrationStatus.received), partner()) == ATTRIBUTION | {
        "Registration_Status__c": "received",
        "LeadSource": "Partner",
        "Company": "Acme Inc.",
        "FirstName": "Ada King",
        "LastName": "Lovelace",
        "Email": "ada@acme.com",
        "Website": "acme.com",
        "Description": "Partnerbot registration REG-00042\nRegion: EMEA\nCompany size: 51-200\nBudget: approved\n"
        "Timeline: this_quarter\nEstimated value: 48000.00 EUR\nNotes: Met at the summit",
        "Estimated_Value__c": 48000.0,
    }


def test_new_opportunity_carries_stage_and_close_date_once():
    created = mapping.to_salesforce_opportunity(registration(), partner(), creating=True)
    assert created == ATTRIBUTION | {
        "Name": "Acme Inc. (REG-00042)",
        "Amount": 48000.0,
        "LeadSource": "Partner",
        "Protection_Expires__c": "2027-01-31",
        "StageName": "Prospecting",
        "CloseDate": "2027-01-31",
    }
    later = mapping.to_salesforce_opportunity(registration(attribution=AttributionType.co_sell), partner())
    assert "StageName" not in later and "CloseDate" not in later
    assert later["Attribution_Type__c"] == "co_sell"


def test_an_extension_moves_the_protection_date_but_never_the_aes_close_date():
    extended = mapping.to_salesforce_opportunity(
        registration(protection_expires_at=datetime(2027, 3, 2, tzinfo=timezone.utc)), partner())
    assert extended["Protection_Expires__c"] == "2027-03-02" and "CloseDate" not in extended
    assert mapping.targets_for(["extended"]) == {mapping.OPPORTUNITY}


def test_won_deal_closes_the_opportunity():
    won = registration(status=RegistrationStatus.won, closed_at=datetime(2026, 12, 15, tzinfo=timezone.utc))
    fields = mapping.to_salesforce_opportunity(won, partner())
    assert (fields["StageName"], fields["CloseDate"], fields["Registration_Status__c"]) == (
        "Closed Won",
        "2026-12-15",
        "won",
    )


def test_usage_growth_from_5k_to_15k_keeps_the_attribution():
    deal = registration(
        pricing_model=PricingModel.usage_based,
        starting_monthly_usage=Decimal("5000"),
        attribution=AttributionType.influenced,
    )
    history = [("2026-09", Decimal("5000")), ("2026-11", Decimal("15000")), ("2026-10", Decimal("9000"))]
    fields = mapping.to_salesforce_opportunity(deal, partner(), revenue=history)
    assert fields == ATTRIBUTION | {
        "Attribution_Type__c": "partner_influenced",
        "Pricing_Model__c": "usage_based",
        "Name": "Acme Inc. (REG-00042)",
        "Amount": 48000.0,
        "LeadSource": "Partner",
        "Protection_Expires__c": "2027-01-31",
        "Signing_Monthly_Revenue__c": 5000.0,
        "Current_Monthly_Revenue__c": 15000.0,
        "Revenue_Growth__c": 200.0,
        "Current_Revenue_Month__c": "2026-11-01",
    }
    assert mapping.to_salesforce_revenue(deal, "2026-11", Decimal("15000")) == {
        "Partnerbot_Id__c": "REG-00042-2026-11",
        "Opportunity__r": {"Partnerbot_Id__c": "REG-00042"},
        "Month__c": "2026-11-01",
        "Amount__c": 15000.0,
    }


def test_partner_account_and_partner_record():
    assert mapping.to_salesforce_account(partner(stage="producing", stage_since=datetime(2026, 10, 1, 9, 30,
                                                                                        tzinfo=timezone.utc))) == {
        "Partnerbot_Partner_Key__c": "northwind-partners.com",
        "Name": "Northwind Partners",
        "Type": "Partner",
        "Website": "northwind-partners.com",
        "Partner_Stage__c": "producing",  # the lifecycle stage and the day it entered it
        "Partner_Stage_Since__c": "2026-10-01",
    }
    assert mapping.to_salesforce_account(partner(domain=None))["Partnerbot_Partner_Key__c"] == "partnerbot-partner-7"
    assert mapping.to_salesforce_partner(registration(), partner()) == {
        "Opportunity": {"Partnerbot_Id__c": "REG-00042"},
        "AccountTo": {"Partnerbot_Partner_Key__c": "northwind-partners.com"},
        "Role": "Reseller",
        "IsPrimary": True,
    }


def test_events_choose_the_records_they_touch():
    assert mapping.targets_for(["submitted"]) == {"Lead"}
    assert mapping.targets_for(["submitted", "approved"]) == {"Lead", "Opportunity", "Partner"}
    assert mapping.targets_for(["usage"]) == {"Opportunity", "Partnerbot_Revenue__c"}
    assert mapping.targets_for(["edited"]) == {"Lead"}  # only undecided registrations are edited: no Opportunity
    with pytest.raises(KeyError):
        mapping.targets_for(["deleted"])


@pytest.mark.parametrize("website", ["acme.com", "https://www.Acme.com/about", "http://acme.com:443", " www.acme.com "])
def test_existing_account_websites_match_a_domain(website):
    assert website_domain(website) == "acme.com"
