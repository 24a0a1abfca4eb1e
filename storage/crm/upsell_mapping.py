"""What Partnerbot writes to Salesforce for an upsell: an expansion Opportunity on the customer's Account, the
partner's credit on it, and the customer's Account found or created by its key. Data plus pure functions, as the
registration mapping in `storage.crm.mapping`.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from storage.crm.mapping import (
    ACCOUNT_KEY_FIELD,
    CUSTOMER_KEY_FIELD,
    DEFAULT_CLOSE_DAYS,
    EXTERNAL_ID_FIELD,
    OPPORTUNITY,
    PARTNER,
    STAGE_ON_CREATE,
    _day,
    _money,
    _text,
    description,
    partner_key,
)
from storage.models import AttributionType, CustomerAccount, Partner, Recurrence, Upsell, UpsellStatus

DEFAULT_OPPORTUNITY_TYPE = "Existing Customer - Upgrade"  # program.upsell.opportunity_type's default
CUSTOMER_ACCOUNT_TYPE = "Customer - Channel"  # a standard Account type: a customer that came through a partner
CUSTOMER_MIRROR_PREFIX = "customer:"  # mirror keys of customer Accounts, apart from partner Accounts' keys
STAGE_BY_STATUS = {UpsellStatus.won: "Closed Won", UpsellStatus.lost: "Closed Lost"}
# An upsell has an Opportunity from its acceptance on; before that (open, declined, a duplicate) Salesforce has
# nothing of it, whatever events are pending.
IN_SALESFORCE = frozenset({UpsellStatus.accepted, UpsellStatus.won, UpsellStatus.lost})
# The expected close date of a new expansion: the end of the timeline the partner gave (the form's choices).
CLOSE_DAYS_BY_TIMELINE = {"0-1m": 30, "1-3m": 90, "3-6m": 180, "6-12m": 365}

# Which records each upsell event touches; the values are read from the upsell at drain time, as registrations'.
# Every Opportunity write also makes sure the customer's Account exists and, once the partner is credited, the
# partner's Account and the Opportunity's Partner record.
UPSELL_EVENT_TARGETS: dict[str, frozenset[str]] = {
    "accepted": frozenset({OPPORTUNITY, PARTNER}),
    "won": frozenset({OPPORTUNITY}),
    "lost": frozenset({OPPORTUNITY}),
    "attribution": frozenset({OPPORTUNITY, PARTNER}),  # the partner joined an upsell the AE asked them into
}


def customer_key(account: CustomerAccount) -> str:
    """The customer Account's external id: its domain, or a stable id-based key when it has none."""
    return account.domain.strip().lower() if account.domain else f"partnerbot-customer-{account.id}"


def customer_mirror_key(account: CustomerAccount) -> str:
    """The customer Account's key in the local mirror (a partner's Account may have the same domain as its key)."""
    return CUSTOMER_MIRROR_PREFIX + customer_key(account)


def in_salesforce(upsell: Upsell) -> bool:
    return UpsellStatus(_text(upsell.status)) in IN_SALESFORCE


def partner_credited(upsell: Upsell) -> bool:
    """The partner flagged it, or confirmed (Join) that they help on an upsell the AE asked them into."""
    asked_in = AttributionType(_text(upsell.attribution)) == AttributionType.influenced
    return not asked_in or upsell.partner_joined_at is not None


def to_salesforce_customer_account(account: CustomerAccount) -> dict[str, Any]:
    """The customer's Account, created (upserted by its key) when none is found by key or website."""
    fields = {CUSTOMER_KEY_FIELD: customer_key(account), "Name": account.name[:255], "Type": CUSTOMER_ACCOUNT_TYPE}
    if account.domain:
        fields["Website"] = account.domain
    return fields


def _description(upsell: Upsell, partner: Partner) -> str:
    per = "per month" if Recurrence(_text(upsell.recurrence)) == Recurrence.monthly else "one-time"
    return description(f"Partnerbot upsell {upsell.reference}, flagged with {partner.name}", {
        "Signal": _text(upsell.signal).replace("_", " "),
        "Target": upsell.target,
        "Expected value": f"{Decimal(str(upsell.expected_value)):.2f} {upsell.currency} {per}",
        "Timeline": upsell.timeline,
    }, upsell.notes)


def _expected_close(upsell: Upsell) -> str:
    start = upsell.accepted_at or upsell.created_at
    return _day(start + timedelta(days=CLOSE_DAYS_BY_TIMELINE.get(upsell.timeline, DEFAULT_CLOSE_DAYS)))


def to_salesforce_upsell_opportunity(
    upsell: Upsell,
    account: CustomerAccount,
    partner: Partner,
    *,
    creating: bool = False,
    opportunity_type: str = DEFAULT_OPPORTUNITY_TYPE,
) -> dict[str, Any]:
    """The expansion Opportunity of an accepted upsell, upserted by `Partnerbot_Id__c` (UPS-00001).

    Type, description, stage, close date and amount are the AE's to change while the deal is open: they are sent
    when the Opportunity is created (Prospecting, the expected value, the end of the timeline) and when it closes
    (Closed Won with the final amount, or Closed Lost with the reason), never in between. The partner's credit
    (lookup and attribution type) is sent once the partner is credited: at once for an upsell the partner flagged,
    after the partner joined for one the AE asked them into.
    """
    fields: dict[str, Any] = {
        EXTERNAL_ID_FIELD: upsell.reference,
        "Name": f"{account.name} - {upsell.target} ({upsell.reference})"[:120],
        # Lookup set through the customer Account's external id, so no Salesforce Id is needed here.
        "Account": {CUSTOMER_KEY_FIELD: customer_key(account)},
        "Upsell_Signal__c": _text(upsell.signal),
        "Landing_Zone__c": account.landing_zone,
        "Target_Product_Line__c": upsell.target,
        "Upsell_Recurrence__c": _text(upsell.recurrence),
    }
    if account.source_registration_id is not None:
        fields["Original_Deal__c"] = f"REG-{account.source_registration_id:05d}"  # the registration it grew from
    if partner_credited(upsell):
        fields["Partner_Account__r"] = {ACCOUNT_KEY_FIELD: partner_key(partner)}
        fields["Attribution_Type__c"] = _text(upsell.attribution)
    status = UpsellStatus(_text(upsell.status))
    stage = STAGE_BY_STATUS.get(status)
    if creating:
        fields |= {"Type": opportunity_type, "Description": _description(upsell, partner)}
    if stage:
        closed = upsell.closed_at or upsell.updated_at
        amount = upsell.final_amount if status == UpsellStatus.won and upsell.final_amount is not None \
            else upsell.expected_value
        fields |= {"StageName": stage, "CloseDate": _day(closed), "Amount": _money(amount)}
        if status == UpsellStatus.lost:
            fields["Upsell_Loss_Reason__c"] = upsell.close_reason
    elif creating:
        fields |= {"StageName": STAGE_ON_CREATE, "CloseDate": _expected_close(upsell),
                   "Amount": _money(upsell.expected_value)}
    return fields
