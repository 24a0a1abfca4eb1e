"""Test helpers: a notifier that records what workflows tell people, a ready lead form, waiting on a condition."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from storage.models import AttributionType, PricingModel
from workflows.lead_form import LeadInput
from workflows.normalize import company_key, normalize_domain


class RecordingNotifier:
    """Stands in for Slack in workflow tests, recording what each workflow queued for people (in the same
    transaction as its change); the end-to-end tests use the real one through the sandbox."""

    def __init__(self):
        self.calls: list[tuple] = []

    def registration_received(self, session, registration, partner):
        self.calls.append(("received", registration.id))

    def partner_update(self, session, registration, partner, *, actor_slack_id):
        self.calls.append(("partner_update", registration.id, registration.status.value))
        return f"update:{registration.id}:{len(self.calls)}"

    def review_requested(self, session, registration, partner, conflicts):
        registration.review_message_key = f"review:{registration.id}:{len(self.calls)}"
        self.calls.append(("review", registration.id, registration.assigned_to_slack_id,
                           [c.registration.id for c in conflicts]))

    def review_settled(self, session, registration, partner, *, review_key, actor_slack_id):
        self.calls.append(("settled", registration.id, registration.status.value, actor_slack_id))

    def tell_user(self, session, slack_user_id, text, *, key=None):
        self.calls.append(("tell", slack_user_id, text))

    def review_overdue(self, session, registration, partner, *, recipient, hours_waiting, key, link=None):
        self.calls.append(("overdue", registration.id, recipient, hours_waiting))
        if link:
            self.calls.append(("overdue_link", registration.id, recipient, link))

    def review_chased(self, session, registration, partner, *, key, hours_waiting):
        self.calls.append(("chased", registration.id, hours_waiting))

    def partner_withdrew(self, session, registration, partner, *, actor_slack_id, reason):
        self.calls.append(("partner_withdrew", registration.id, actor_slack_id, reason))

    def partner_note(self, session, registration, partner, *, author_slack_id, text):
        self.calls.append(("partner_note", registration.id, author_slack_id, text))

    def registration_edited(self, session, registration, partner, *, actor_slack_id, changed, review_key,
                            reviewer):
        self.calls.append(("edited", registration.id, actor_slack_id, changed, review_key, reviewer))

    def review_handed_over(self, session, registration, partner, *, review_key, actor_slack_id, previous_assignee,
                           reason):
        self.calls.append(("handed_over", registration.id, previous_assignee, registration.assigned_to_slack_id,
                           reason))

    def review_restored(self, session, registration, partner, *, review_key, conflicts, actor_slack_id):
        self.calls.append(("restored", registration.id, registration.status.value, actor_slack_id))

    def decision_withdrawn(self, session, registration, partner, *, withdrawn, told):
        self.calls.append(("withdrawn", registration.id, withdrawn.value, told))

    def review_withdrawn(self, session, registration, partner, *, review_key, actor_slack_id):
        self.calls.append(("review_withdrawn", registration.id, review_key, actor_slack_id))

    def co_sell_withdrawn(self, session, registration, partner):
        self.calls.append(("co_sell_withdrawn", registration.id))

    def question_to_partner(self, session, registration, partner, *, asker_slack_id, question):
        self.calls.append(("question", registration.id, asker_slack_id, question))

    def partner_replied(self, session, registration, partner, *, recipient, author_slack_id, text, link):
        self.calls.append(("reply", registration.id, recipient, author_slack_id, text, link))

    def strategic_proposed(self, session, proposal, partner):
        self.calls.append(("strategic_proposed", partner.id, proposal.recipient_slack_id))

    def strategic_decided(self, session, proposal, partner):
        self.calls.append(("strategic_decided", partner.id, proposal.status.value))

    def partner_desk(self, session, partner, *, again=False):
        self.calls.append(("desk", partner.id, "again") if again else ("desk", partner.id))

    def upsell_overdue(self, session, upsell, account, partner, *, recipient, hours_waiting, key, link=None):
        self.calls.append(("upsell_overdue", upsell.id, recipient, hours_waiting))


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


class MovingClock:
    """Real time plus whatever the test skips ahead, so retries come due without waiting."""

    def __init__(self):
        self.skipped = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(timezone.utc) + self.skipped

    def skip(self, seconds: float) -> None:
        self.skipped += timedelta(seconds=seconds)


def wait_until(predicate, seconds: float = 5.0):
    """Poll `predicate` until it is truthy; its value."""
    deadline = time.monotonic() + seconds
    while not (value := predicate()):
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.01)
    return value
