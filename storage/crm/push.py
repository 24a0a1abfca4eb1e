"""Sending one chunk of wanted records to Salesforce: accounts found or created, upserts batched, partners once."""

from __future__ import annotations

import re
from datetime import datetime

from simple_salesforce.exceptions import SalesforceError

from storage.crm.api import COLLECTION_LIMIT, Batch, CrmApi, RecordResult, _errors_text
from storage.crm.mapping import (
    ACCOUNT,
    ACCOUNT_KEY_FIELD,
    CUSTOMER_KEY_FIELD,
    EXTERNAL_ID_FIELD,
    LEAD,
    OPPORTUNITY,
    PARTNER,
    STAGE_FIELDS,
)
from storage.crm.mirror import ORDER, Wanted

CONVERTED_LEAD = "CANNOT_UPDATE_CONVERTED_LEAD"
# A query travels in the request line, which Salesforce caps at 16,384 bytes; URL-encoding adds about a third.
MAX_QUERY_CHARS = 10_000


def _soql_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def soql_quote(value: str) -> str:
    return f"'{_soql_escape(value)}'"


def _like_contains(value: str) -> str:
    """A LIKE pattern matching `value` anywhere, its own % and _ taken literally."""
    escaped = _soql_escape(value).replace("%", "\\%").replace("_", "\\_")
    return f"'%{escaped}%'"


def _in_list(values) -> str:
    return "(" + ", ".join(soql_quote(v) for v in values) + ")"


def website_domain(website: str | None) -> str:
    """`https://www.Acme.com/about` -> `acme.com`, to match an existing Account to a partner's domain."""
    host = re.sub(r"^[a-z]+://", "", (website or "").strip().lower()).split("/")[0].split(":")[0]
    return host.removeprefix("www.")


def _up_to_date(item: Wanted) -> bool:
    record = item.record
    return bool(record and record.salesforce_id and record.synced_version == record.version)


def _apply(items: list[Wanted] | list[list[Wanted]], results: list[RecordResult], now: datetime) -> None:
    """Salesforce's answer for each record sent, to the Wanted it was sent for (or to each of several Wanted that
    one record served, as an Account stamped with a partner's and a customer's key)."""
    for index, sent in enumerate(items):
        result = results[index] if index < len(results) else RecordResult(False, error="no answer", transient=True)
        for item in sent if isinstance(sent, list) else [sent]:
            converted = item.sobject == LEAD and CONVERTED_LEAD in (result.error or "")
            if result.ok or converted:
                # A Lead sales has converted is closed to updates; the Opportunity carries the attribution on.
                item.record.salesforce_id = result.salesforce_id or item.record.salesforce_id
                item.record.synced_at, item.record.synced_version = now, item.record.version
                item.created = result.created
            else:
                item.fail(f"{item.sobject} {item.key}: {result.error}", transient=result.transient)


def _refuse(items: list[Wanted], exc: SalesforceError) -> None:
    text, transient = _errors_text(exc.content)
    for item in items:
        item.fail(f"{item.sobject} {item.key}: {text or exc.status}", transient=transient)


def _chunks(items: list[Wanted]) -> list[list[Wanted]]:
    return [items[i : i + COLLECTION_LIMIT] for i in range(0, len(items), COLLECTION_LIMIT)]


def account_key(item: Wanted) -> tuple[str, str]:
    """(key field, key value) an Account is upserted by: a customer's key, or a partner's."""
    field = CUSTOMER_KEY_FIELD if CUSTOMER_KEY_FIELD in item.fields else ACCOUNT_KEY_FIELD
    return field, str(item.fields[field])


def stage_of(item: Wanted) -> dict:
    """The stage fields a partner's Account should show (none for a customer's)."""
    return {name: item.fields[name] for name in STAGE_FIELDS if name in item.fields}


def _stage_update(item: Wanted) -> dict | None:
    """A partner's Account that Salesforce has, whose stage changed since it last accepted it: the update to send."""
    stage = stage_of(item)
    if not stage or _up_to_date(item) or not item.record.salesforce_id:
        return None
    return {"Id": item.record.salesforce_id} | stage


def _account_queries(accounts: list[Wanted]) -> list[tuple[str, list[Wanted]]]:
    """SOQL finding these Accounts by our keys, else by website, with the Accounts each looks for: one key field per
    query (an org that has not deployed the customers' key yet still finds partners' Accounts), split so that no
    query outgrows a request line."""
    queries: list[tuple[str, list[Wanted]]] = []
    by_field: dict[str, list[Wanted]] = {}
    for item in accounts:
        by_field.setdefault(account_key(item)[0], []).append(item)
    for field, items in by_field.items():
        parts: list[list[Wanted]] = [[]]
        size = 0
        for item in items:
            cost = 2 * len(account_key(item)[1]) + 40
            if parts[-1] and size + cost > MAX_QUERY_CHARS:
                parts.append([])
                size = 0
            parts[-1].append(item)
            size += cost
        for part in parts:
            values = [account_key(item)[1] for item in part]
            conditions = [f"{field} IN {_in_list(values)}"]
            # Websites are typed by people (https://www.acme.com/, acme.com): match loosely, check exactly later.
            conditions += [f"Website LIKE {_like_contains(value)}" for value in values if "." in value]
            # A partner's Account found by key keeps its stage if it already shows the right one.
            selected = ", ".join(["Id", "Website", field, *(STAGE_FIELDS if field == ACCOUNT_KEY_FIELD else ())])
            queries.append((f"SELECT {selected} FROM Account WHERE {' OR '.join(conditions)}", part))
    return queries


def _find_accounts(api: CrmApi, accounts: list[Wanted], now: datetime) -> list[tuple[Batch, list[list[Wanted]]]]:
    """Link partners and customers to Accounts that already exist (by our key, else by website); batches for the
    rest: the found ones stamped with our key (one update per Account, whoever else it is), the others created.
    A refused look-up fails the groups of the Accounts it was for, and only those."""
    found: dict[str, dict] = {}
    looked: list[Wanted] = []
    for soql, items in _account_queries(accounts):
        try:
            found |= {r["Id"]: r for r in api.query_all(soql)}
        except SalesforceError as exc:
            _refuse(items, exc)
            continue
        looked += items
    by_key: dict[tuple[str, str], str] = {}
    by_site: dict[str, str] = {}
    for record_id in sorted(found):  # oldest Id first when several match
        record = found[record_id]
        for field in (ACCOUNT_KEY_FIELD, CUSTOMER_KEY_FIELD):
            if record.get(field):
                by_key.setdefault((field, str(record[field]).lower()), record_id)
        by_site.setdefault(website_domain(record.get("Website")), record_id)
    stamps: dict[str, dict] = {}
    stamped: dict[str, list[Wanted]] = {}
    creates: dict[str, tuple[list[dict], list[list[Wanted]]]] = {}
    for item in looked:
        field, value = account_key(item)
        stage = stage_of(item)
        if (field, value.lower()) in by_key:
            record_id = by_key[(field, value.lower())]
            item.record.salesforce_id, item.record.synced_at = record_id, now
            if all(found[record_id].get(name) == wanted for name, wanted in stage.items()):
                item.record.synced_version = item.record.version  # an existing Account is left as people keep it
            else:  # ... but for its stage, which is ours
                stamps.setdefault(record_id, {"Id": record_id}).update(stage)
                stamped.setdefault(record_id, []).append(item)
        elif "." in value and value in by_site:
            # Found by domain: mark it as this partner's (or customer's) Account and give a partner's its stage,
            # leave everything else as people set it. A partner that is also a customer gets both keys in one update.
            record_id = by_site[value]
            stamps.setdefault(record_id, {"Id": record_id}).update({field: value} | stage)
            stamped.setdefault(record_id, []).append(item)
        else:
            records, items = creates.setdefault(field, ([], []))
            records.append(item.fields)
            items.append([item])
    planned = [(list(stamps.values()), list(stamped.values()), {"update": True})]
    planned += [(records, items, {"external_field": field}) for field, (records, items) in creates.items()]
    return [
        (Batch(ACCOUNT, records[start : start + COLLECTION_LIMIT], **how), items[start : start + COLLECTION_LIMIT])
        for records, items, how in planned
        for start in range(0, len(records), COLLECTION_LIMIT)
    ]


def _write_partners(api: CrmApi, wanted: list[Wanted], now: datetime) -> None:
    """Create each Opportunity's Partner record once: look first unless its Opportunity was just created."""
    by_key = {(w.sobject, w.key): w for w in wanted}
    todo = []
    for item in wanted:
        if item.sobject != PARTNER or item.record.salesforce_id or not item.group.ok:
            continue
        opportunity = by_key.get((OPPORTUNITY, item.key))
        account = by_key.get((ACCOUNT, item.fields["AccountTo"][ACCOUNT_KEY_FIELD]))
        opp_id = opportunity.record.salesforce_id if opportunity else None
        account_id = account.record.salesforce_id if account else None
        if not opp_id or not account_id:
            item.group.fail(f"Partner {item.key}: Opportunity or partner Account not in Salesforce yet", transient=True)
            continue
        todo.append((item, opp_id, account_id, opportunity.created is not True))
    uncertain = [(item, opp_id, account_id) for item, opp_id, account_id, unsure in todo if unsure]
    existing: set[tuple[str, str]] = set()
    existing_ids: dict[tuple[str, str], str] = {}
    for start in range(0, len(uncertain), COLLECTION_LIMIT):
        opp_ids = [opp_id for _, opp_id, _ in uncertain[start : start + COLLECTION_LIMIT]]
        soql = f"SELECT Id, OpportunityId, AccountToId FROM Partner WHERE OpportunityId IN {_in_list(opp_ids)}"
        for row in api.query_all(soql):
            pair = (row["OpportunityId"], row["AccountToId"])
            existing.add(pair)
            existing_ids[pair] = row["Id"]
    create: list[dict] = []
    create_items: list[Wanted] = []
    for item, opp_id, account_id, _ in todo:
        if (opp_id, account_id) in existing:
            item.record.salesforce_id, item.record.synced_at = existing_ids[(opp_id, account_id)], now
            item.record.synced_version = item.record.version
            continue
        create.append(
            {
                "OpportunityId": opp_id,
                "AccountToId": account_id,
                "Role": item.fields["Role"],
                "IsPrimary": item.fields["IsPrimary"],
            }
        )
        create_items.append(item)
    for start in range(0, len(create), COLLECTION_LIMIT):
        batch = Batch(PARTNER, create[start : start + COLLECTION_LIMIT])
        api.write([batch])
        _apply(create_items[start : start + COLLECTION_LIMIT], batch.results, now)


def push_wanted(api: CrmApi, wanted: list[Wanted], now: datetime) -> None:
    """Write one chunk's records in dependency order; failures land on their groups, outages raise."""
    accounts = [w for w in wanted if w.sobject == ACCOUNT and not w.record.salesforce_id]
    staged = [(w, update) for w in wanted if w.sobject == ACCOUNT and (update := _stage_update(w)) is not None]
    planned: list[tuple[Batch, list[Wanted] | list[list[Wanted]]]] = []
    if accounts:
        planned = _find_accounts(api, accounts, now)
    for start in range(0, len(staged), COLLECTION_LIMIT):  # partners' Accounts whose stage changed
        part = staged[start : start + COLLECTION_LIMIT]
        planned.append((Batch(ACCOUNT, [update for _, update in part], update=True), [w for w, _ in part]))
    for sobject in ORDER:
        if sobject in (ACCOUNT, PARTNER):
            continue
        items = [w for w in wanted if w.sobject == sobject and not _up_to_date(w)]
        for part in _chunks(items):
            planned.append((Batch(sobject, [w.fields for w in part], external_field=EXTERNAL_ID_FIELD), part))
    if planned:
        api.write([batch for batch, _ in planned])
        for batch, items in planned:
            _apply(items, batch.results, now)
    try:
        _write_partners(api, wanted, now)
    except SalesforceError as exc:
        _refuse([w for w in wanted if w.sobject == PARTNER], exc)
