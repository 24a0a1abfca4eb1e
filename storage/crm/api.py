"""Salesforce REST calls the writer makes, batched, counted, and with errors sorted into transient and permanent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceRefusedRequest,
)

COLLECTION_LIMIT = 200  # records per sObject Collections request
COMPOSITE_COLLECTIONS = 5  # collection or query subrequests per Composite request
# Per-record codes that say "try again later" rather than "this record is wrong".
TRANSIENT_CODES = frozenset(
    {
        "UNABLE_TO_LOCK_ROW",
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "PROCESSING_HALTED",
        "REQUEST_LIMIT_EXCEEDED",
        "SERVER_UNAVAILABLE",
        "UNKNOWN_EXCEPTION",
    }
)


class CrmTransientError(Exception):
    """The request as a whole failed for a reason that passes (outage, timeout, limit, expired session)."""

    def __init__(self, message: str, *, limit_exceeded: bool = False, auth: bool = False):
        super().__init__(message)
        self.limit_exceeded = limit_exceeded
        self.auth = auth


@dataclass
class RecordResult:
    """What Salesforce said about one record."""

    ok: bool
    salesforce_id: str | None = None
    created: bool | None = None
    error: str | None = None
    transient: bool = False


@dataclass
class Batch:
    """Records of one sObject written the same way: upsert by `external_field`, create, or update by Id."""

    sobject: str
    records: list[dict[str, Any]]
    external_field: str | None = None  # upsert key; None with update=False means create
    update: bool = False
    results: list[RecordResult] = field(default_factory=list)

    def path(self) -> tuple[str, str]:
        if self.external_field:
            return "PATCH", f"composite/sobjects/{self.sobject}/{self.external_field}"
        return ("PATCH" if self.update else "POST"), "composite/sobjects"

    def body(self) -> dict[str, Any]:
        records = [{"attributes": {"type": self.sobject}} | r for r in self.records]
        return {"allOrNone": False, "records": records}


def _errors_text(content: Any) -> tuple[str, bool]:
    """A readable "CODE: message" from Salesforce's error list, and whether it is transient."""
    if isinstance(content, list) and content and isinstance(content[0], dict):
        first = content[0]
        code = first.get("errorCode") or first.get("statusCode") or "ERROR"
        text = f"{code}: {first.get('message', '')}".strip()
        if first.get("fields"):
            text += f" (fields: {', '.join(first['fields'])})"
        return text[:1000], code in TRANSIENT_CODES
    return str(content)[:1000], False


def record_result(item: dict[str, Any]) -> RecordResult:
    if item.get("success", True) and not item.get("errors"):
        return RecordResult(True, item.get("id"), item.get("created"))
    text, transient = _errors_text(item.get("errors"))
    return RecordResult(False, error=text, transient=transient)


class CrmApi:
    """The writer's view of Salesforce: collections, composite, queries; counts calls and reads API usage."""

    def __init__(self, sf: Salesforce, *, timeout: float = 30.0):
        self.sf = sf
        self.timeout = timeout
        self.calls = 0

    @property
    def usage(self) -> tuple[int, int] | None:
        usage = self.sf.api_usage.get("api-usage")
        return (usage.used, usage.total) if usage else None

    def _call(self, path: str, method: str = "GET", **kwargs: Any) -> Any:
        self.calls += 1
        try:
            return self.sf.restful(path, method=method, timeout=self.timeout, **kwargs)
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise CrmTransientError(f"Salesforce did not answer ({type(exc).__name__})") from None
        except SalesforceRefusedRequest as exc:
            text, _ = _errors_text(exc.content)
            if "REQUEST_LIMIT_EXCEEDED" in text:
                raise CrmTransientError(f"Salesforce API limit reached: {text}", limit_exceeded=True) from None
            raise
        except SalesforceExpiredSession as exc:
            text, _ = _errors_text(exc.content)
            raise CrmTransientError(f"Salesforce session expired or invalid: {text}", auth=True) from None
        except SalesforceAuthenticationFailed as exc:
            raise CrmTransientError(f"Salesforce login failed: {exc}", auth=True) from None
        except SalesforceGeneralError as exc:
            if exc.status >= 500:
                text, _ = _errors_text(exc.content)
                raise CrmTransientError(f"Salesforce error {exc.status}: {text}") from None
            raise
        except ValueError as exc:  # a body that is not JSON: a proxy or an outage page
            raise CrmTransientError(f"Salesforce sent an unreadable answer: {exc}"[:500]) from None

    def limits(self) -> tuple[int, int] | None:
        """The org's daily API requests as (used, total), asking Salesforce."""
        body = self._call("limits/") or {}
        daily = body.get("DailyApiRequests") or {}
        if "Max" in daily:
            return daily["Max"] - daily.get("Remaining", 0), daily["Max"]
        return self.usage

    def query_all(self, soql: str) -> list[dict[str, Any]]:
        """Every record a SOQL query returns, following Salesforce's pages."""
        body = self._call("query/", params={"q": soql}) or {}
        records = list(body.get("records", []))
        while not body.get("done", True) and body.get("nextRecordsUrl"):
            path = body["nextRecordsUrl"].split(f"/v{self.sf.sf_version}/", 1)[-1]
            body = self._call(path) or {}
            records.extend(body.get("records", []))
        return records

    def write(self, batches: list[Batch]) -> None:
        """Send batches in order with as few calls as possible; fills each batch's `results`.

        One record goes as a single-record call, one batch as an sObject Collections call, several batches
        as Composite calls (up to five collections each, run in order, so a later batch can reference a
        record an earlier one creates). Raises CrmTransientError; permanent errors land in the results.
        """
        batches = [b for b in batches if b.records]
        if not batches:
            return
        if len(batches) == 1 and len(batches[0].records) == 1 and not batches[0].update:
            self._write_one(batches[0])
        elif len(batches) == 1:
            self._write_collection(batches[0])
        else:
            for start in range(0, len(batches), COMPOSITE_COLLECTIONS):
                self._write_composite(batches[start : start + COMPOSITE_COLLECTIONS])

    def _refused(self, batch: Batch, exc: SalesforceError) -> None:
        text, transient = _errors_text(exc.content)
        if not text.strip():
            text = f"HTTP {exc.status}"
        batch.results = [RecordResult(False, error=text, transient=transient) for _ in batch.records]

    def _write_one(self, batch: Batch) -> None:
        record = dict(batch.records[0])
        if batch.external_field:
            key = quote(str(record.pop(batch.external_field)), safe="")
            method, path = "PATCH", f"sobjects/{batch.sobject}/{batch.external_field}/{key}"
        else:
            method, path = "POST", f"sobjects/{batch.sobject}/"
        try:
            body = self._call(path, method, json=record) or {}
        except SalesforceError as exc:
            self._refused(batch, exc)
            return
        batch.results = [record_result(body)]

    def _write_collection(self, batch: Batch) -> None:
        method, path = batch.path()
        try:
            body = self._call(path, method, json=batch.body()) or []
        except SalesforceError as exc:
            self._refused(batch, exc)
            return
        batch.results = [record_result(item) for item in body]

    def _write_composite(self, batches: list[Batch]) -> None:
        prefix = f"/services/data/v{self.sf.sf_version}/"
        subrequests = []
        for number, batch in enumerate(batches):
            method, path = batch.path()
            subrequests.append(
                {"method": method, "url": prefix + path, "referenceId": f"batch{number}", "body": batch.body()}
            )
        payload = {"allOrNone": False, "collateSubrequests": False, "compositeRequest": subrequests}
        try:
            body = self._call("composite", "POST", json=payload) or {}
        except SalesforceError as exc:
            for batch in batches:
                self._refused(batch, exc)
            return
        answers = {item.get("referenceId"): item for item in body.get("compositeResponse", [])}
        for number, batch in enumerate(batches):
            answer = answers.get(f"batch{number}", {})
            status, content = answer.get("httpStatusCode", 500), answer.get("body")
            if status < 300 and isinstance(content, list):
                batch.results = [record_result(item) for item in content]
            else:
                text, transient = _errors_text(content)
                batch.results = [
                    RecordResult(False, error=text, transient=transient or status >= 500) for _ in batch.records
                ]
