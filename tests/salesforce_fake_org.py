"""The in-memory org behind the fake Salesforce: records, external ids, lookups, validation rules and the REST
routes the writer uses (sObject rows, sObject Collections, Composite, query, limits), answering as Salesforce does.
"""

from __future__ import annotations

import copy
import itertools
import json
import threading
from collections import defaultdict
from datetime import datetime, timezone
from urllib.parse import parse_qs, unquote, urlsplit

try:  # imported as a top-level module by pytest, as part of `tests` by the benchmark
    from salesforce_fake_describe import deployed_fields, describe, external_ids, picklists
    from salesforce_fake_soql import UnknownField, run_query
except ImportError:
    from tests.salesforce_fake_describe import deployed_fields, describe, external_ids, picklists
    from tests.salesforce_fake_soql import UnknownField, run_query

EXTERNAL_IDS = external_ids()  # as deployed from salesforce/force-app: a field not marked there cannot key an upsert
PICKLISTS = picklists()
RELATIONSHIPS = {  # relationship name -> (lookup field, parent sObject)
    "Partner_Account__r": ("Partner_Account__c", "Account"),
    "Opportunity__r": ("Opportunity__c", "Opportunity"),
    "Opportunity": ("OpportunityId", "Opportunity"),
    "AccountTo": ("AccountToId", "Account"),
    "Account": ("AccountId", "Account"),
}
REQUIRED = {
    "Lead": ("LastName", "Company"),
    "Opportunity": ("Name", "StageName", "CloseDate"),
    "Account": ("Name",),
    "Partner": ("AccountToId", "OpportunityId"),
    "Partnerbot_Revenue__c": ("Opportunity__c", "Month__c"),
}
ORG_ID = "00D000000000001AAA"
CURRENCY_FIELDS = {"Amount", "Estimated_Value__c", "Signing_Monthly_Revenue__c", "Current_Monthly_Revenue__c",
                   "Amount__c"}
PREFIX = {"Account": "001", "Lead": "00Q", "Opportunity": "006", "Partner": "00I", "Partnerbot_Revenue__c": "a01"}
NOT_FOUND = [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]


def _folded(value):
    """An external id as Salesforce compares it: every Partnerbot external id is deployed case-insensitive."""
    return value.lower() if isinstance(value, str) else value


class RecordError(Exception):
    """Salesforce refused one record: its error code, message and fields."""

    def __init__(self, code: str, message: str, fields: list[str] | None = None):
        super().__init__(message)
        self.code, self.message, self.fields = code, message, fields or []


class FakeOrg:
    """Salesforce's data side; `validation_rules` are functions `(sobject, record) -> message | None`."""

    def __init__(self, *, api_limit: int, currency: str = "USD"):
        self.api_limit, self.api_used = api_limit, 0
        self.objects: dict[str, dict[str, dict]] = defaultdict(dict)
        self.validation_rules: list = []
        self.fields = deployed_fields()  # what describe shows; tests remove one to play an undeployed field
        self.lock = threading.RLock()
        self._ids = itertools.count(1)
        self._index: dict[tuple[str, str], dict] = defaultdict(dict)
        self.soql: list[str] = []  # every query asked, in order
        self.rates: dict[str, float] | None = None  # ISO code -> units per corporate unit, in a multi-currency org
        self.objects["Organization"][ORG_ID] = {"Id": ORG_ID, "Name": "Fake Org", "DefaultCurrencyIsoCode": currency}

    @property
    def currency(self) -> str:
        """The org's currency (the corporate currency of a multi-currency org)."""
        return self.objects["Organization"][ORG_ID]["DefaultCurrencyIsoCode"]

    def enable_currencies(self, rates: dict[str, float]) -> None:
        """Turn on multiple currencies, as Setup does: records get CurrencyIsoCode; `rates` are Salesforce's
        conversion rates (units of each currency per unit of the corporate currency)."""
        self.rates = {self.currency: 1.0} | rates
        for sobject in ("Opportunity", "Account", "Lead"):
            self.fields[sobject].add("CurrencyIsoCode")
            for record in self.objects[sobject].values():
                record.setdefault("CurrencyIsoCode", self.currency)

    def _in_corporate(self, record: dict, field: str, value):
        """What an aggregate over a currency field adds up: the value in the corporate currency."""
        if self.rates is None or field not in CURRENCY_FIELDS:
            return value
        return value / self.rates[record.get("CurrencyIsoCode") or self.currency]

    def records(self, sobject: str) -> list[dict]:
        return list(self.objects[sobject].values())

    def by_external_id(self, sobject: str, value: str, field: str = "Partnerbot_Id__c") -> list[dict]:
        """Records whose external id `field` is `value` (Partnerbot's external ids ignore case, as deployed)."""
        return [self.objects[sobject][rid] for rid in self._find(sobject, field, value)]

    def add_record(self, sobject: str, fields: dict) -> str:
        """A record people made in the org (any field, no check of what the API would accept from us)."""
        with self.lock:
            return self._save(sobject, fields, checked=False)[0]

    def _find(self, sobject: str, field: str, value) -> list[str]:
        if field in EXTERNAL_IDS.get(sobject, ()):  # indexed, as Salesforce indexes external ids
            return sorted(self._index[(sobject, field)].get(_folded(value), ()))
        return [rid for rid, r in self.objects[sobject].items() if r.get(field) == value]

    def _check_field(self, sobject: str, name: str, value) -> None:
        """Refuse what Salesforce refuses: a field the org does not have, a value a restricted picklist lacks."""
        if name not in self.fields.get(sobject, ()):
            raise RecordError(
                "INVALID_FIELD",
                f"No such column '{name}' on sobject of type {sobject}. If you are attempting to use a custom "
                "field, be sure to append the '__c' after the custom field name.",
                [name],
            )
        values, restricted = PICKLISTS.get((sobject, name), ((), False))
        if restricted and value is not None and value not in values:
            raise RecordError("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                              f"{name}: bad value for restricted picklist field: {value}", [name])

    def _resolve(self, sobject: str, fields: dict, checked: bool = True) -> dict:
        resolved = {}
        for name, value in fields.items():
            if name == "attributes":
                continue
            if isinstance(value, dict):
                if name not in RELATIONSHIPS:
                    raise RecordError("INVALID_FIELD", f"No such column '{name}' on entity '{sobject}'")
                lookup, parent = RELATIONSHIPS[name]
                ((ext_field, ext_value),) = value.items()
                if checked:
                    self._check_field(sobject, lookup, None)
                    if ext_field not in EXTERNAL_IDS.get(parent, ()):
                        raise RecordError("INVALID_FIELD", f"{ext_field} is not an external id field of {parent}",
                                          [lookup])
                found = self._find(parent, ext_field, ext_value)
                if len(found) != 1:
                    raise RecordError(
                        "INVALID_FIELD",
                        f"Foreign key external ID: {ext_value} not found for field {ext_field} in entity {parent}",
                        [lookup],
                    )
                resolved[lookup] = found[0]
            else:
                if checked and name != "Id":
                    self._check_field(sobject, name, value)
                resolved[name] = value
        return resolved

    def _save(
        self, sobject: str, fields: dict, record_id: str | None = None, *, checked: bool = True
    ) -> tuple[str, bool]:
        fields = self._resolve(sobject, fields, checked)
        existing = self.objects[sobject].get(record_id, {}) if record_id else {}
        if sobject == "Lead" and existing.get("IsConverted"):
            raise RecordError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead")
        merged = existing | fields
        missing = [f for f in REQUIRED.get(sobject, ()) if merged.get(f) in (None, "")]
        if missing:
            raise RecordError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing)
        for lookup, parent in RELATIONSHIPS.values():
            if merged.get(lookup) and lookup in fields and merged[lookup] not in self.objects[parent]:
                raise RecordError("FIELD_INTEGRITY_EXCEPTION", f"{lookup}: id value of incorrect type", [lookup])
        for rule in self.validation_rules:
            message = rule(sobject, merged)
            if message:
                raise RecordError("FIELD_CUSTOM_VALIDATION_EXCEPTION", message)
        if sobject == "Opportunity":
            merged["IsClosed"] = str(merged.get("StageName", "")).startswith("Closed")
            merged["IsWon"] = merged.get("StageName") == "Closed Won"
        created = not record_id
        if created and sobject == "Opportunity":  # system fields Salesforce sets on insert
            merged.setdefault("CreatedDate", datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000+0000"))
        if created and self.rates is not None and sobject in ("Opportunity", "Account", "Lead"):
            merged.setdefault("CurrencyIsoCode", self.currency)
        record_id = record_id or f"{PREFIX.get(sobject, 'a99')}{next(self._ids):015d}"
        merged["Id"] = record_id
        for field in EXTERNAL_IDS.get(sobject, ()):
            self._index[(sobject, field)].setdefault(_folded(existing.get(field)), set()).discard(record_id)
            self._index[(sobject, field)].setdefault(_folded(merged.get(field)), set()).add(record_id)
        self.objects[sobject][record_id] = merged
        return record_id, created

    def _upsert(self, sobject: str, field: str, value, fields: dict) -> tuple[str, bool]:
        matches = self._find(sobject, field, value)
        if len(matches) > 1:
            raise RecordError("MULTIPLE_CHOICES", f"more than one record found for {field} = {value}")
        return self._save(sobject, fields | {field: value}, matches[0] if matches else None)

    @staticmethod
    def _failure(exc: RecordError) -> dict:
        return {"success": False, "errors": [{"statusCode": exc.code, "message": exc.message, "fields": exc.fields}]}

    def _each(self, records: list[dict], all_or_none: bool, write) -> tuple[int, list]:
        if len(records) > 200:
            return 400, [
                {
                    "errorCode": "EXCEEDED_ID_LIMIT",
                    "message": "record limit reached. cannot submit more than 200 records into this call",
                }
            ]
        snapshot = copy.deepcopy((self.objects, self._index)) if all_or_none else None
        results = []
        for record in records:
            try:
                record_id, created = write(record)
                results.append({"id": record_id, "success": True, "errors": [], "created": created})
            except RecordError as exc:
                results.append(self._failure(exc))
        if snapshot is not None and not all(r["success"] for r in results):
            self.objects, self._index = snapshot
            rolled = {
                "success": False,
                "errors": [
                    {
                        "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                        "message": "Record rolled back because not all records were valid.",
                    }
                ],
            }
            results = [r if not r["success"] else rolled for r in results]
        return 200, results

    # --- REST routes ---------------------------------------------------------------------------
    def route(self, method: str, path: str, params: dict, body) -> tuple[int, object]:
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if parts[0] == "limits":
            return 200, {
                "DailyApiRequests": {"Max": self.api_limit, "Remaining": max(0, self.api_limit - self.api_used)}
            }
        if parts[0] in ("query", "queryAll"):
            self.soql.append(params.get("q", [""])[0])
            try:
                records = run_query(params.get("q", [""])[0], self.objects, self.fields, self._in_corporate)
            except ValueError as exc:
                code = "INVALID_FIELD" if isinstance(exc, UnknownField) else "MALFORMED_QUERY"
                return 400, [{"errorCode": code, "message": str(exc)}]
            return 200, {"totalSize": len(records), "done": True, "records": records}
        if parts[:2] == ["composite", "sobjects"]:
            return self._collections(method, parts[2:], body or {})
        if parts == ["composite"] and method == "POST":
            return self._composite(body or {})
        if parts[0] == "sobjects" and len(parts) >= 2:
            return self._sobject(method, parts[1], parts[2:], body or {})
        return 404, NOT_FOUND

    def _collections(self, method: str, rest: list[str], body: dict) -> tuple[int, object]:
        records, all_or_none = body.get("records", []), bool(body.get("allOrNone"))
        if method == "PATCH" and len(rest) == 2:
            sobject, field = rest
            if field not in EXTERNAL_IDS.get(sobject, ()):
                return 404, [
                    {
                        "errorCode": "NOT_FOUND",
                        "message": f"Provided external ID field does not exist or is not accessible: {field}",
                    }
                ]
            seen = [r.get(field) for r in records]

            def upsert(record):
                if seen.count(record.get(field)) > 1:
                    raise RecordError("DUPLICATE_EXTERNAL_ID", f"Duplicate external id: {record.get(field)}", [field])
                return self._upsert(sobject, field, record.get(field), record)

            return self._each(records, all_or_none, upsert)
        if method == "POST" and not rest:
            return self._each(records, all_or_none, lambda r: self._save(r["attributes"]["type"], r))
        if method == "PATCH" and not rest:

            def update(record):
                sobject = record["attributes"]["type"]
                if record.get("Id") not in self.objects[sobject]:
                    raise RecordError("ENTITY_IS_DELETED", "entity is deleted", ["Id"])
                return self._save(sobject, {k: v for k, v in record.items() if k != "Id"}, record["Id"])[0], False

            return self._each(records, all_or_none, update)
        return 404, NOT_FOUND

    def _composite(self, body: dict) -> tuple[int, object]:
        subrequests = body.get("compositeRequest", [])
        heavy = sum(1 for s in subrequests if "/composite/sobjects" in s["url"] or "/query" in s["url"])
        if len(subrequests) > 25 or heavy > 5:
            return 400, [{"errorCode": "INVALID_API_INPUT", "message": "too many subrequests"}]
        answers, refs = [], {}
        for sub in subrequests:
            text = json.dumps(sub)
            for name, value in refs.items():
                text = text.replace(f"@{{{name}.id}}", str(value.get("id") if isinstance(value, dict) else ""))
            sub = json.loads(text)
            url = urlsplit(sub["url"])
            path = url.path.split("/services/data/", 1)[1].split("/", 1)[1]
            status, result = self.route(sub["method"], path, parse_qs(url.query), sub.get("body"))
            refs[sub["referenceId"]] = result
            answers.append(
                {"body": result, "httpHeaders": {}, "httpStatusCode": status, "referenceId": sub["referenceId"]}
            )
        return 200, {"compositeResponse": answers}

    def _sobject(self, method: str, sobject: str, rest: list[str], body: dict) -> tuple[int, object]:
        if sobject not in REQUIRED:
            return 404, NOT_FOUND
        try:
            if method == "POST" and not rest:
                record_id, _ = self._save(sobject, body)
                return 201, {"id": record_id, "success": True, "errors": []}
            if len(rest) == 2 and rest[0] not in EXTERNAL_IDS.get(sobject, ()):
                return 404, [
                    {
                        "errorCode": "NOT_FOUND",
                        "message": f"Provided external ID field does not exist or is not accessible: {rest[0]}",
                    }
                ]
            if method == "PATCH" and len(rest) == 2:
                record_id, created = self._upsert(sobject, rest[0], rest[1], body)
                return (201 if created else 200), {"id": record_id, "success": True, "errors": [], "created": created}
            if method == "PATCH" and len(rest) == 1 and rest[0] in self.objects[sobject]:
                self._save(sobject, body, rest[0])
                return 204, None
            if method == "GET" and rest == ["describe"]:
                return 200, describe(sobject, self.fields[sobject])
            if method == "GET" and rest:
                found = [rest[0]] if len(rest) == 1 else self._find(sobject, rest[0], rest[1])
                if found and found[0] in self.objects[sobject]:
                    return 200, self.objects[sobject][found[0]]
        except RecordError as exc:
            status = 300 if exc.code == "MULTIPLE_CHOICES" else 400
            return status, [{"errorCode": exc.code, "message": exc.message, "fields": exc.fields}]
        return 404, NOT_FOUND
