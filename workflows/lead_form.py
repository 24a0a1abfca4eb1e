"""The lead registration form as typed input: choices, limits and validation with one message per field.

The form has two steps: what routing and the conflict check need (`validate_lead`), then optional details
that only feed the score (`validate_details`). A detail not given is stored as "".
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from email_validator import EmailNotValidError, validate_email

from storage.models import AttributionType, PricingModel, Registration
from workflows.amounts import AmountUnclear, decimal_marks, parse_amount, plain
from workflows.countries import COUNTRY_CODES, country_name, country_names, search_countries
from workflows.normalize import InvalidDomain, company_key, normalize_domain
from workflows.program import Program

COMPANY_SIZES = {
    "1-10": "1–10 employees",
    "11-50": "11–50 employees",
    "51-200": "51–200 employees",
    "201-1000": "201–1,000 employees",
    "1001-5000": "1,001–5,000 employees",
    "5000+": "More than 5,000 employees",
}
BUDGETS = {
    "approved": "Budget approved",
    "identified": "Budget identified, not yet approved",
    "exploring": "Exploring, no budget yet",
    "none": "No budget",
}
TIMELINES = {
    "0-1m": "Within a month",
    "1-3m": "1–3 months",
    "3-6m": "3–6 months",
    "6-12m": "6–12 months",
    "12m+": "More than a year or unknown",
}
PRICING_MODELS = {
    PricingModel.one_time: "One-time",
    PricingModel.subscription: "Subscription",
    PricingModel.usage_based: "Usage-based",
}
ATTRIBUTIONS = {
    AttributionType.sourced: "I introduced this customer (partner-sourced)",
    AttributionType.influenced: "I'm helping on a deal already in progress (partner-influenced)",
}
MAX_LENGTHS = {"company": 200, "contact_name": 200, "contact_email": 320, "domain": 253, "notes": 2900}
MAX_AMOUNT = Decimal("1000000000")
MAX_PARTNER_ID_DIGITS = 18  # fits a BIGINT
DETAIL_FIELDS = ("company_size", "budget", "timeline", "notes")  # the optional second step


@dataclass(frozen=True)
class LeadInput:
    """A validated registration, ready to store."""

    company: str
    company_key: str
    domain: str
    contact_name: str
    contact_email: str
    region: str
    product_line: str
    estimated_value: Decimal
    currency: str
    pricing_model: PricingModel
    starting_monthly_usage: Decimal | None
    company_size: str  # "" when not given (the details step is optional)
    budget: str
    timeline: str
    attribution: AttributionType
    notes: str
    partner_id: int | None = None
    country: str | None = None  # ISO 3166; None on registrations from before the form asked for it


@dataclass(frozen=True)
class LeadDetails:
    """The optional second step: each "" when not given."""

    company_size: str = ""
    budget: str = ""
    timeline: str = ""
    notes: str = ""

    @property
    def given(self) -> bool:
        return any((self.company_size, self.budget, self.timeline, self.notes))


class LeadFormInvalid(ValueError):
    """One message per field that needs fixing, keyed by form field name."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


def amount_field(raw: str | None, label: str, currency: str | None, errors: dict[str, str],
                 field: str) -> Decimal | None:
    """A typed amount in `currency`, or None with the field's error in `errors` (empty, unclear, not positive,
    too large)."""
    text = (raw or "").strip()
    if not text:
        errors[field] = f"Enter the {label}."
        return None
    try:
        value = parse_amount(text, currency or "USD")
    except AmountUnclear as unclear:
        message = str(unclear)
        errors[field] = message if message.startswith("“") else f"The {label} {message}."
        return None
    if value <= 0:
        errors[field] = f"The {label} must be more than zero."
    elif value >= MAX_AMOUNT:
        errors[field] = f"The {label} looks too large: enter an amount below 1 billion."
    else:
        return value
    return None


def prepare_lead_form(program: Program) -> None:
    """Load the CLDR data validation reads (about 0.2 s cold), so the first submission acks as fast as the rest."""
    for currency in program.currencies:
        decimal_marks(currency)
    country_names()


def country_label(program: Program, code: str) -> str:
    """`Germany · EMEA`: a country as the form's select offers it, with the region it routes to."""
    region = program.region_of(code)
    return f"{country_name(code)} · {region}" if region else country_name(code)


def country_choices(program: Program, typed: str) -> list[tuple[str, str]]:
    """(code, `Germany · EMEA`) for what someone typed into the country select, at most Slack's 100."""
    return [(code, country_label(program, code)) for code in search_countries(typed[:100], limit=100)]


def typed_values(registration: Registration) -> dict[str, str]:
    """A stored registration as the form's inputs show it again: what was typed, amounts in a form that reads
    back the same whatever the currency (`48000`, never `48.000`)."""
    values = {name: getattr(registration, name) or "" for name in
              ("company", "domain", "contact_name", "contact_email", "country", "product_line", "currency",
               *DETAIL_FIELDS)}
    values["pricing_model"] = registration.pricing_model.value
    values["estimated_value"] = plain(registration.estimated_value)
    usage = registration.starting_monthly_usage
    values["starting_monthly_usage"] = "" if usage is None else plain(usage)
    return values


def _country(fields: dict[str, str], program: Program, errors: dict[str, str]) -> tuple[str | None, str | None]:
    """(country, region): the region follows from the country. A form opened before the country was asked
    (still open in someone's Slack during an upgrade) sends a region: it is taken as it was."""
    if "country" not in fields and fields.get("region"):
        return None, choice_field(fields.get("region"), program.region_names, "region", errors, "region")
    code = fields.get("country", "")
    if not code:
        errors["country"] = "Choose the customer's country."
        return None, None
    if code not in COUNTRY_CODES:
        errors["country"] = "Choose the country from the list (type to search)."
        return None, None
    return code, program.region_of(code) or ""


def choice_field(raw: str | None, allowed, label: str, errors: dict[str, str], field: str) -> str | None:
    """A required choice among `allowed`, or None with the field's error in `errors`."""
    if not raw:
        errors[field] = f"Choose the {label}."
        return None
    if raw not in allowed:
        errors[field] = f"“{raw[:40]}” is not one of the {label} choices."
        return None
    return raw


def optional_choice_field(raw: str | None, allowed, label: str, errors: dict[str, str], field: str) -> str:
    """A choice of the optional details: "" when left empty, refused when not one of the choices."""
    if not raw:
        return ""
    return choice_field(raw, allowed, label, errors, field) or ""


def stripped_texts(fields: dict[str, str | None]) -> dict[str, str]:
    return {k: (v or "").strip() for k, v in fields.items() if isinstance(v, str) or v is None}


def _details(text: dict[str, str], errors: dict[str, str]) -> LeadDetails:
    return LeadDetails(
        company_size=optional_choice_field(text.get("company_size"), COMPANY_SIZES, "company size", errors,
                                           "company_size"),
        budget=optional_choice_field(text.get("budget"), BUDGETS, "budget", errors, "budget"),
        timeline=optional_choice_field(text.get("timeline"), TIMELINES, "timeline", errors, "timeline"),
        notes=text.get("notes", ""),
    )


def has_details(fields: dict[str, str | None]) -> bool:
    """Whether a submitted first step carried the details too (a one-step form opened before an upgrade)."""
    return any(name in fields for name in DETAIL_FIELDS)


def validate_details(fields: dict[str, str | None]) -> LeadDetails:
    """Check the optional details step; raises LeadFormInvalid for a choice not offered or notes too long."""
    errors: dict[str, str] = {}
    text = stripped_texts(fields)
    if len(text.get("notes", "")) > MAX_LENGTHS["notes"]:
        errors["notes"] = f"Keep this under {MAX_LENGTHS['notes']} characters (it has {len(text['notes'])})."
    details = _details(text, errors)
    if errors:
        raise LeadFormInvalid(errors)
    return details


def validate_lead(fields: dict[str, str | None], program: Program, *, needs_partner: bool = False) -> LeadInput:
    """Check a submitted first step; raises LeadFormInvalid listing every field to fix.

    Details (size, budget, timeline, notes) are optional here: checked when present, else stored as "".
    """
    errors: dict[str, str] = {}
    text = stripped_texts(fields)

    for field, label in (("company", "company name"), ("contact_name", "contact's name")):
        if not text.get(field):
            errors[field] = f"Enter the {label}."
    for field, limit in MAX_LENGTHS.items():
        if len(text.get(field, "")) > limit:
            errors[field] = f"Keep this under {limit} characters (it has {len(text[field])})."

    domain = None
    if "domain" not in errors:
        try:
            domain = normalize_domain(text.get("domain", ""))
        except InvalidDomain as exc:
            errors["domain"] = str(exc)
        except ValueError:  # urlsplit refuses text such as "acme[.com" (an unclosed IPv6 bracket)
            errors["domain"] = f"“{text['domain'][:60]}” is not a domain such as acme.com"

    email = None
    if "contact_email" not in errors:
        try:
            email = validate_email(text.get("contact_email", ""), check_deliverability=False).normalized
        except EmailNotValidError as exc:
            errors["contact_email"] = f"Enter a valid email address ({exc})."[:150]
        except (ValueError, UnicodeError):  # anything else the validator trips on is still a bad address
            errors["contact_email"] = "Enter a valid email address."

    country, region = _country(text, program, errors)
    product_line = choice_field(text.get("product_line"), program.product_lines, "product line", errors, "product_line")
    currency = choice_field(text.get("currency"), program.currencies, "currency", errors, "currency")
    details = _details(text, errors)
    pricing = choice_field(text.get("pricing_model"), [p.value for p in PricingModel], "pricing model", errors,
                      "pricing_model")
    attribution = text.get("attribution") or AttributionType.sourced.value
    if attribution not in [a.value for a in ATTRIBUTIONS]:
        errors["attribution"] = "Choose how you are involved in this deal."

    value = amount_field(text.get("estimated_value"), "estimated value", currency, errors, "estimated_value")
    usage = None
    if pricing == PricingModel.usage_based:
        usage = amount_field(text.get("starting_monthly_usage"), "starting monthly usage", currency, errors,
                        "starting_monthly_usage")
    elif text.get("starting_monthly_usage"):
        errors["starting_monthly_usage"] = "Only usage-based deals have a starting monthly usage."

    partner_id = None
    if needs_partner:
        raw_partner = text.get("partner", "")
        # "²".isdigit() is True too: only ASCII digits make a partner id.
        if not (raw_partner.isascii() and raw_partner.isdigit() and len(raw_partner) <= MAX_PARTNER_ID_DIGITS):
            errors["partner"] = "Choose the partner you are registering this lead for."
        else:
            partner_id = int(raw_partner)

    if errors:
        raise LeadFormInvalid(errors)
    return LeadInput(
        company=text["company"],
        company_key=company_key(text["company"]),
        domain=domain,
        contact_name=text["contact_name"],
        contact_email=email,
        region=region,
        country=country,
        product_line=product_line,
        estimated_value=value,
        currency=currency,
        pricing_model=PricingModel(pricing),
        starting_monthly_usage=usage,
        company_size=details.company_size,
        budget=details.budget,
        timeline=details.timeline,
        attribution=AttributionType(attribution),
        notes=details.notes,
        partner_id=partner_id,
    )
