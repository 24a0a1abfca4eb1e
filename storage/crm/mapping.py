"""What Partnerbot writes to Salesforce: the field mapping as data plus pure conversion functions."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from storage.models import Partner, PartnerType, Registration, RegistrationStatus, Upsell

EXTERNAL_ID_FIELD = "Partnerbot_Id__c"  # on Lead, Opportunity and Partnerbot_Revenue__c
ACCOUNT_KEY_FIELD = "Partnerbot_Partner_Key__c"  # on Account: the partner's domain, or a stable fallback
CUSTOMER_KEY_FIELD = "Partnerbot_Customer_Key__c"  # on Account: a customer's domain, or a stable fallback
# On a partner's Account: its lifecycle stage and the day it entered it, ours to keep up to date.
STAGE_FIELD, STAGE_SINCE_FIELD = "Partner_Stage__c", "Partner_Stage_Since__c"
STAGE_FIELDS = (STAGE_FIELD, STAGE_SINCE_FIELD)
PROTECTION_FIELD = "Protection_Expires__c"  # on Opportunity: the day the partner's protection ends
LEAD = "Lead"
OPPORTUNITY = "Opportunity"
ACCOUNT = "Account"
PARTNER = "Partner"  # the standard object behind the Opportunity's Partners related list
REVENUE = "Partnerbot_Revenue__c"

LEAD_SOURCE = "Partner"  # Salesforce's own deal registration is a Lead with this source
STAGE_ON_CREATE = "Prospecting"
STAGE_BY_STATUS = {RegistrationStatus.won: "Closed Won", RegistrationStatus.lost: "Closed Lost"}
DEFAULT_CLOSE_DAYS = 90
PARTNER_ROLE_BY_TYPE = {
    PartnerType.referral: "Referral",
    PartnerType.reseller: "Reseller",
    PartnerType.agency: "Agency",
    PartnerType.msp: "Managed Service Provider",
    PartnerType.technology: "Technology Partner",
    PartnerType.distributor: "Distributor",
}

# Which Salesforce records each outbox event touches. The values themselves are always read from the
# registration at drain time, so several pending events of one registration collapse into one write, and
# the Lead (the registration) and the Opportunity (the deal) always show the current state. A record whose
# values did not change since Salesforce accepted them is not sent again.
EVENT_TARGETS: dict[str, frozenset[str]] = {
    "submitted": frozenset({LEAD}),
    "approved": frozenset({LEAD, OPPORTUNITY, PARTNER}),
    "rejected": frozenset({LEAD}),
    "expired": frozenset({LEAD, OPPORTUNITY}),
    "won": frozenset({LEAD, OPPORTUNITY}),
    "lost": frozenset({LEAD, OPPORTUNITY}),
    "usage": frozenset({OPPORTUNITY, REVENUE}),
    "attribution": frozenset({LEAD, OPPORTUNITY}),  # attribution type changed after approval (e.g. co-sell)
    "undone": frozenset({LEAD, OPPORTUNITY}),  # an approval, win or loss taken back within its undo window
    "reopened": frozenset({LEAD}),  # a rejection (or an approval Salesforce never heard of) taken back
    "withdrawn": frozenset({LEAD}),  # the partner withdrew an open registration
    "deal_withdrawn": frozenset({LEAD, OPPORTUNITY}),  # the partner withdrew an approved one
    "edited": frozenset({LEAD}),  # the partner corrected an undecided registration: no Opportunity exists yet
    "extended": frozenset({OPPORTUNITY}),  # its protection window was extended (Protection_Expires__c)
}

Getter = Callable[[Registration, Partner], Any]


def partner_key(partner: Partner) -> str:
    """The partner Account's external id: its domain, or a stable id-based key when it has none."""
    return partner.domain.strip().lower() if partner.domain else f"partnerbot-partner-{partner.id}"


def _text(value: Any) -> str:
    return str(value.value) if hasattr(value, "value") else str(value)


def _money(value: Decimal | float | int | str) -> float:
    return float(Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _day(value: datetime | date) -> str:
    return (value.date() if isinstance(value, datetime) else value).isoformat()


def _split_name(name: str) -> tuple[str | None, str]:
    first, _, last = name.strip().rpartition(" ")
    return (first[:40] or None), (last or name.strip())[:80]


def description(title: str, facts: dict[str, str], notes: str) -> str:
    """A record's Description: a title line, one "Label: value" line per fact, then the notes if any."""
    lines = [title, *(f"{label}: {value}" for label, value in facts.items())]
    if notes:
        lines.append(f"Notes: {notes}")
    return "\n".join(lines)


def _lead_description(reg: Registration) -> str:
    return description(f"Partnerbot registration {reg.reference}", {
        "Region": reg.region,
        "Company size": reg.company_size,
        "Budget": reg.budget,
        "Timeline": reg.timeline,
        "Estimated value": f"{Decimal(str(reg.estimated_value)):.2f} {reg.currency}",
    }, reg.notes)


# Fields the Lead and the Opportunity share: the attribution a partner manager reports on.
ATTRIBUTION_FIELDS: dict[str, Getter] = {
    EXTERNAL_ID_FIELD: lambda reg, partner: reg.reference,
    # Lookup set through the Account's external id, so no Salesforce Id is needed here.
    "Partner_Account__r": lambda reg, partner: {ACCOUNT_KEY_FIELD: partner_key(partner)},
    "Attribution_Type__c": lambda reg, partner: _text(reg.attribution),
    "Registration_Status__c": lambda reg, partner: _text(reg.status),
    "Product_Line__c": lambda reg, partner: reg.product_line,
    "Pricing_Model__c": lambda reg, partner: _text(reg.pricing_model),
}

LEAD_FIELDS: dict[str, Getter] = {
    "LeadSource": lambda reg, partner: LEAD_SOURCE,
    "Company": lambda reg, partner: reg.company,
    "FirstName": lambda reg, partner: _split_name(reg.contact_name)[0],
    "LastName": lambda reg, partner: _split_name(reg.contact_name)[1],
    "Email": lambda reg, partner: reg.contact_email,
    "Website": lambda reg, partner: reg.domain,
    "Description": lambda reg, partner: _lead_description(reg),
    "Estimated_Value__c": lambda reg, partner: _money(reg.estimated_value),
}

OPPORTUNITY_FIELDS: dict[str, Getter] = {
    "Name": lambda reg, partner: f"{reg.company} ({reg.reference})"[:120],
    "Amount": lambda reg, partner: _money(reg.estimated_value),
    "LeadSource": lambda reg, partner: LEAD_SOURCE,
    # Ours, sent whenever it changes (an extension moves it); CloseDate is the AE's after creation.
    PROTECTION_FIELD: lambda reg, partner: _day(reg.protection_expires_at) if reg.protection_expires_at else None,
}


def _apply(table: dict[str, Getter], reg: Registration, partner: Partner) -> dict[str, Any]:
    return {name: getter(reg, partner) for name, getter in table.items()}


def to_salesforce_lead(reg: Registration, partner: Partner) -> dict[str, Any]:
    """The Lead of a registration, upserted by `Partnerbot_Id__c`."""
    return _apply(ATTRIBUTION_FIELDS, reg, partner) | _apply(LEAD_FIELDS, reg, partner)


def _close_date(reg: Registration) -> str:
    if reg.status in STAGE_BY_STATUS and reg.closed_at:
        return _day(reg.closed_at)
    if reg.protection_expires_at:
        return _day(reg.protection_expires_at)
    return _day((reg.approved_at or reg.created_at) + timedelta(days=DEFAULT_CLOSE_DAYS))


def revenue_summary(reg: Registration, history: Sequence[tuple[str, Decimal]]) -> dict[str, Any]:
    """Monthly revenue at signing, now, and the growth between, for a usage-based Opportunity."""
    months = sorted(history)
    signing = reg.starting_monthly_usage if reg.starting_monthly_usage else (months[0][1] if months else None)
    if signing is None:
        return {}
    current_month, current = months[-1] if months else (None, signing)
    growth = (Decimal(str(current)) - Decimal(str(signing))) / Decimal(str(signing)) * 100
    summary = {
        "Signing_Monthly_Revenue__c": _money(signing),
        "Current_Monthly_Revenue__c": _money(current),
        "Revenue_Growth__c": _money(growth),
    }
    if current_month:
        summary["Current_Revenue_Month__c"] = f"{current_month}-01"
    return summary


def to_salesforce_opportunity(
    reg: Registration,
    partner: Partner,
    *,
    revenue: Sequence[tuple[str, Decimal]] = (),
    creating: bool = False,
    sent: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The Opportunity of an approved registration, upserted by `Partnerbot_Id__c`.

    Stage and close date are only sent when creating the record, closing the deal, or reopening one that
    `sent` (what Salesforce last accepted from us) shows closed: a win or loss undone within its window goes
    back to the stage it was created with. Later syncs never undo an AE's progress in Salesforce.
    """
    fields = _apply(ATTRIBUTION_FIELDS, reg, partner) | _apply(OPPORTUNITY_FIELDS, reg, partner)
    if _text(reg.pricing_model) == "usage_based":
        fields |= revenue_summary(reg, revenue)
    stage = STAGE_BY_STATUS.get(RegistrationStatus(_text(reg.status)))
    reopening = stage is None and (sent or {}).get("StageName") in STAGE_BY_STATUS.values()
    if stage or creating or reopening:
        fields["StageName"] = stage or STAGE_ON_CREATE
        fields["CloseDate"] = _close_date(reg)
    return fields


def to_salesforce_account(partner: Partner) -> dict[str, Any]:
    """The partner's Account, created (upserted by its key) when none is found by domain.

    Name, type and website are only written when the Account is created (people keep them after); the stage
    fields are ours and are sent whenever they change (storage/crm/push.py)."""
    fields = {ACCOUNT_KEY_FIELD: partner_key(partner), "Name": partner.name[:255], "Type": "Partner"}
    if partner.domain:
        fields["Website"] = partner.domain
    return fields | stage_fields(partner)


def stage_fields(partner: Partner) -> dict[str, Any]:
    """The partner's lifecycle stage and the day it entered it, as its Account shows them."""
    return {STAGE_FIELD: _text(partner.stage), STAGE_SINCE_FIELD: _day(partner.stage_since)}


def to_salesforce_partner(deal: Registration | Upsell, partner: Partner) -> dict[str, Any]:
    """The Opportunity's primary partner (a registration's deal or an upsell's expansion); references by external
    id (the writer swaps in Salesforce Ids)."""
    return {
        "Opportunity": {EXTERNAL_ID_FIELD: deal.reference},
        "AccountTo": {ACCOUNT_KEY_FIELD: partner_key(partner)},
        "Role": PARTNER_ROLE_BY_TYPE.get(PartnerType(_text(partner.type)), "Referral"),
        "IsPrimary": True,
    }


def to_salesforce_revenue(reg: Registration, month: str, amount: Decimal) -> dict[str, Any]:
    """One month of a usage-based deal's revenue history, under its Opportunity."""
    return {
        EXTERNAL_ID_FIELD: revenue_key(reg, month),
        "Opportunity__r": {EXTERNAL_ID_FIELD: reg.reference},
        "Month__c": f"{month}-01",
        "Amount__c": _money(amount),
    }


def revenue_key(reg: Registration, month: str) -> str:
    return f"{reg.reference}-{month}"


def targets_for(events: Iterable[str], table: dict[str, frozenset[str]] = EVENT_TARGETS) -> frozenset[str]:
    """The union of records a set of events touches (registration events unless `table` says otherwise); raises
    KeyError on an unknown event."""
    result: frozenset[str] = frozenset()
    for event in events:
        result |= table[event]
    return result
