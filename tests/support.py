"""Test helpers: a notifier that records what workflows tell people, and a ready lead form."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from storage.models import AttributionType, PricingModel
from workflows.lead_form import LeadInput
from workflows.normalize import company_key, normalize_domain
from workflows.services import MessageRef


class RecordingNotifier:
    """Stands in for Slack in workflow tests; the end-to-end tests use the real one through the sandbox."""

    def __init__(self):
        self.calls: list[tuple] = []
        self._count = 0

    def _ref(self, channel: str) -> MessageRef:
        self._count += 1
        return MessageRef(channel, f"1700000000.{self._count:06d}")

    def registration_received(self, registration, partner):
        self.calls.append(("received", registration.id))
        return self._ref(partner.slack_channel_id or registration.submitted_by_slack_id)

    def partner_update(self, registration, partner, *, actor_slack_id):
        self.calls.append(("partner_update", registration.id, registration.status.value))

    def review_requested(self, registration, partner, conflicts):
        self.calls.append(("review", registration.id, registration.assigned_to_slack_id,
                           [c.registration.id for c in conflicts]))
        return self._ref("D" + registration.assigned_to_slack_id)

    def review_settled(self, registration, partner, *, actor_slack_id):
        self.calls.append(("settled", registration.id, registration.status.value, actor_slack_id))

    def tell_user(self, slack_user_id, text):
        self.calls.append(("tell", slack_user_id, text))

    def review_overdue(self, registration, partner, *, recipient, hours_waiting):
        self.calls.append(("overdue", registration.id, recipient, hours_waiting))

    def partner_desk(self, partner):
        self.calls.append(("desk", partner.id))
        return self._ref(partner.slack_channel_id)


BASE_LEAD = LeadInput(
    company="Acme Inc.", company_key="acme", domain="acme.com", contact_name="Jane Smith",
    contact_email="jane@acme.com", region="EMEA", product_line="Platform", estimated_value=Decimal("50000"),
    currency="USD", pricing_model=PricingModel.subscription, starting_monthly_usage=None, company_size="201-1000",
    budget="approved", timeline="1-3m", attribution=AttributionType.sourced,
    notes="Evaluating us against two others; CFO already involved.",
)


def lead(**changes) -> LeadInput:
    """BASE_LEAD with changes; company and domain are normalised as the form would."""
    if "company" in changes:
        changes.setdefault("company_key", company_key(changes["company"]))
    if "domain" in changes:
        changes["domain"] = normalize_domain(changes["domain"])
    return replace(BASE_LEAD, **changes)
