"""`/partner usage`: a partner manager records a month of revenue on a usage-based deal."""

from __future__ import annotations

from storage.actors import Actor
from storage.db import transaction
from storage.models import Registration
from workflows.services import ACK_LOCK_TIMEOUT, NotAllowed, Services, WorkflowError
from workflows.usage import UsageError, record_usage

USAGE_HELP = "Use `/partner usage REG-00042 2026-10 15000` (registration, month, amount in the deal's currency)."


def record_usage_as(services: Services, actor: Actor, words: list[str]) -> str:
    """Record `REG month amount` for a partner manager or admin; returns what to tell them."""
    if not actor.runs_program:
        raise NotAllowed("Only partner managers and admins record usage revenue.")
    if len(words) != 3:
        raise WorkflowError(USAGE_HELP)
    reference, month, amount = words
    try:
        # Committed before the ack, so the wait for locks is bounded.
        with transaction(services.engine, lock_timeout=ACK_LOCK_TIMEOUT) as session:
            entry = record_usage(session, registration_id=reference, month=month, amount=amount,
                                 actor_slack_id=actor.slack_user_id, now=services.clock())
            registration = session.get(Registration, entry.registration_id)
            summary = (f"Recorded {entry.amount:,.2f} {registration.currency} for {entry.month} on "
                       f"{registration.reference} ({registration.company}); the CRM is updated within a minute, "
                       "with the partner's attribution unchanged.")
    except UsageError as exc:
        raise WorkflowError(f"{str(exc)[:1].upper()}{str(exc)[1:]}. {USAGE_HELP}") from None
    return summary
