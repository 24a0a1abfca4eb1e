"""What the fake org's `sobjects/{name}/describe` answers: standard fields plus the custom fields deployed from
`salesforce/force-app` (read from the metadata files, so the fake has exactly what `sf project deploy` gives)."""

from __future__ import annotations

from pathlib import Path

OBJECTS = Path(__file__).resolve().parent.parent / "salesforce" / "force-app" / "main" / "default" / "objects"
STANDARD = {
    "Lead": ("Id", "FirstName", "LastName", "Company", "Email", "Website", "Description", "LeadSource", "Status"),
    "Opportunity": ("Id", "Name", "AccountId", "Amount", "StageName", "CloseDate", "LeadSource", "Type"),
    "Account": ("Id", "Name", "Website", "Type"),
    "Partner": ("Id", "OpportunityId", "AccountToId", "Role", "IsPrimary"),
    "Partnerbot_Revenue__c": ("Id", "Name"),
}


def deployed_fields() -> dict[str, set[str]]:
    """Field names per sObject in an org where the Partnerbot package was deployed."""
    return {sobject: set(standard) | {path.name.removesuffix(".field-meta.xml")
                                      for path in (OBJECTS / sobject / "fields").glob("*.field-meta.xml")}
            for sobject, standard in STANDARD.items()}


def describe(sobject: str, fields: set[str]) -> dict:
    """The parts of Salesforce's describe result a client reads to see which fields exist."""
    return {"name": sobject, "custom": sobject.endswith("__c"), "createable": True, "updateable": True,
            "fields": [{"name": name, "label": name.removesuffix("__c").replace("_", " "),
                        "custom": name.endswith("__c"), "createable": name != "Id", "updateable": name != "Id"}
                       for name in sorted(fields)]}
