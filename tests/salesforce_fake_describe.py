"""What the fake org knows of its fields: standard fields plus the custom fields deployed from
`salesforce/force-app`, read from the metadata files (so the fake has exactly what `sf project deploy` gives):
which exist, which are external ids, which picklists are restricted to which values, and what
`sobjects/{name}/describe` answers."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from xml.etree import ElementTree

OBJECTS = Path(__file__).resolve().parent.parent / "salesforce" / "force-app" / "main" / "default" / "objects"
METADATA = {"md": "http://soap.sforce.com/2006/04/metadata"}
STANDARD = {
    "Lead": ("Id", "FirstName", "LastName", "Company", "Email", "Website", "Description", "LeadSource", "Status"),
    "Opportunity": ("Id", "Name", "AccountId", "Amount", "StageName", "CloseDate", "LeadSource", "Type",
                    "Description", "IsClosed", "IsWon", "CreatedDate"),
    "Account": ("Id", "Name", "Website", "Type"),
    "Partner": ("Id", "OpportunityId", "AccountToId", "Role", "IsPrimary"),
    "Partnerbot_Revenue__c": ("Id", "Name"),
    "Organization": ("Id", "Name", "DefaultCurrencyIsoCode"),
}
# Standard picklists with the values a new org has; admins may add values, so they are not restricted.
STANDARD_PICKLISTS = {
    ("Opportunity", "Type"): ("Existing Customer - Upgrade", "Existing Customer - Replacement",
                              "Existing Customer - Downgrade", "New Customer"),
    ("Account", "Type"): ("Prospect", "Customer - Direct", "Customer - Channel", "Channel Partner / Reseller",
                          "Installation Partner", "Technology Partner", "Other"),
}


@cache
def _custom_fields() -> dict[tuple[str, str], ElementTree.Element]:
    return {(sobject, path.name.removesuffix(".field-meta.xml")): ElementTree.parse(path).getroot()
            for sobject in STANDARD
            for path in sorted((OBJECTS / sobject / "fields").glob("*.field-meta.xml"))}


def deployed_fields() -> dict[str, set[str]]:
    """Field names per sObject in an org where the Partnerbot package was deployed."""
    fields = {sobject: set(standard) for sobject, standard in STANDARD.items()}
    for sobject, name in _custom_fields():
        fields[sobject].add(name)
    return fields


def external_ids() -> dict[str, set[str]]:
    """The external id fields per sObject: the ones records can be upserted by and looked up through."""
    result: dict[str, set[str]] = {sobject: set() for sobject in STANDARD}
    for (sobject, name), field in _custom_fields().items():
        if field.findtext("md:externalId", namespaces=METADATA) == "true":
            result[sobject].add(name)
    return result


def picklists() -> dict[tuple[str, str], tuple[tuple[str, ...], bool]]:
    """(sObject, field) -> (its values, whether the value list is restricted)."""
    result = {key: (values, False) for key, values in STANDARD_PICKLISTS.items()}
    for key, field in _custom_fields().items():
        value_set = field.find("md:valueSet", METADATA)
        if value_set is not None:
            values = tuple(v.findtext("md:fullName", namespaces=METADATA)
                           for v in value_set.iterfind("md:valueSetDefinition/md:value", METADATA))
            result[key] = (values, value_set.findtext("md:restricted", namespaces=METADATA) == "true")
    return result


def describe(sobject: str, fields: set[str]) -> dict:
    """The parts of Salesforce's describe result a client reads to see which fields exist and what they take."""
    lists = picklists()
    ids = external_ids().get(sobject, set())

    def field(name: str) -> dict:
        values, restricted = lists.get((sobject, name), ((), False))
        answer = {"name": name, "label": name.removesuffix("__c").replace("_", " "), "custom": name.endswith("__c"),
                  "createable": name != "Id", "updateable": name != "Id", "externalId": name in ids,
                  "type": "picklist" if values else "id" if name == "Id" else "string"}
        if values:
            answer["picklistValues"] = [{"value": v, "label": v, "active": True, "defaultValue": False}
                                        for v in values]
            answer["restrictedPicklist"] = restricted
        return answer

    return {"name": sobject, "custom": sobject.endswith("__c"), "createable": True, "updateable": True,
            "fields": [field(name) for name in sorted(fields)]}
