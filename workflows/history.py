"""Recording status changes: the history row and, in the same transaction, the CRM outbox write."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from storage import sla_clock
from storage.at_commit import insert_at_commit
from storage.conflict_index import follow_status
from storage.models import CrmOutbox, Registration, RegistrationEvent, RegistrationStatus

# Status changes the CRM must hear about; "under review" is internal bookkeeping only.
CRM_EVENTS = {
    RegistrationStatus.received: "submitted",
    RegistrationStatus.approved: "approved",
    RegistrationStatus.rejected: "rejected",
    RegistrationStatus.expired: "expired",
    RegistrationStatus.won: "won",
    RegistrationStatus.lost: "lost",
    RegistrationStatus.withdrawn: "withdrawn",
}
URGENT_CRM_EVENTS = {"approved", "won"}
# A decision taken back within its undo window (workflows/undo.py): "undone" when Salesforce has (or will
# have) the deal's Opportunity, "reopened" when only its Lead.
UNDONE, REOPENED = "undone", "reopened"
# A partner withdrew an approved registration: Salesforce has its Opportunity too ("withdrawn" alone refreshes
# the Lead, so withdrawing an open registration never creates an Opportunity).
DEAL_WITHDRAWN = "deal_withdrawn"


def change_status(
    session: Session, registration: Registration, to: RegistrationStatus, *, actor_slack_id: str | None,
    now: datetime, reason: str | None = None, crm_event: str | None = None,
) -> None:
    """Move a registration to `to`, keeping who/when/why and queueing the CRM write when it matters.

    `crm_event` names the CRM event instead of the one `to` implies (an undo: "undone", whatever it restores).
    """
    previous = None if registration.id is None else registration.status
    registration.status = to
    registration.updated_at = now
    session.add(registration)
    session.flush()
    follow_status(session, registration, previous)
    if to == RegistrationStatus.under_review:  # its approval SLA starts (again) now
        sla_clock.start(session, sla_clock.REVIEW, registration.id, now)
    insert_at_commit(session, RegistrationEvent(registration_id=registration.id, from_status=previous, to_status=to,
                                                actor_slack_id=actor_slack_id, reason=reason, at=now))
    if crm_event is None:
        crm_event = CRM_EVENTS.get(to) if previous != to else None
        urgent = crm_event in URGENT_CRM_EVENTS
    else:
        urgent = CRM_EVENTS.get(previous) in URGENT_CRM_EVENTS  # an approval or a win taken back matters as much
    if crm_event:
        payload = {"status": to.value, "actor": actor_slack_id, "reason": reason}
        if crm_event in (UNDONE, REOPENED):
            payload["undone"] = previous.value
        insert_at_commit(session, CrmOutbox(registration_id=registration.id, event=crm_event, urgent=urgent,
                                            payload=payload, created_at=now, next_attempt_at=now))


def record_attribution_change(session: Session, registration: Registration, *, now: datetime) -> None:
    """The attribution type changed (an override made it a co-sell): the CRM must hear it."""
    session.add(CrmOutbox(registration_id=registration.id, event="attribution", urgent=False,
                          payload={"attribution": registration.attribution.value}, created_at=now,
                          next_attempt_at=now))


def record_in_history(session: Session, registration: Registration, *, actor_slack_id: str | None, now: datetime,
                      reason: str, crm_event: str | None = None) -> None:
    """Something that happened to a registration without changing its status (its AE confirmed it is still being
    worked, its protection was extended): a history row from and to the same status, with who, when and why. It
    counts as a change (`updated_at`), so a stalled deal's clock starts again; `crm_event` queues the CRM write."""
    registration.updated_at = now
    session.add(registration)
    session.add(RegistrationEvent(registration_id=registration.id, from_status=registration.status,
                                  to_status=registration.status, actor_slack_id=actor_slack_id, reason=reason, at=now))
    if crm_event:
        session.add(CrmOutbox(registration_id=registration.id, event=crm_event, urgent=False,
                              payload={"status": registration.status.value, "actor": actor_slack_id,
                                       "reason": reason}, created_at=now, next_attempt_at=now))
