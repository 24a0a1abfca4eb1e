"""Undo of a partner manager's conflict clearance (workflows/decisions.py): what the clearance changed is kept
in its decision's `previous` and put back, on the cleared registration and on the approved rivals an override
made co-sells; the AE's review request it sent is withheld or settled in place.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from sqlmodel import Session

from storage.models import AttributionType, Partner, Registration, ReviewDecision, ReviewKind
from storage.reviews import withhold_unsent
from workflows.history import record_attribution_change
from workflows.services import ConflictEvidence, Notifier

CLEARED = "cleared"  # the key of a clearance in ReviewDecision.previous
# What clearing a conflict changes on the registration (in decide_registration and send_to_review).
CLEARED_FIELDS = ("review_kind", "conflict_with", "assigned_to_slack_id", "routing_reason", "review_message_key",
                  "override_reason", "attribution")
_ENUMS = {"review_kind": ReviewKind, "attribution": AttributionType}


def is_clearance(decision: ReviewDecision) -> bool:
    return CLEARED in decision.previous


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else list(value) if isinstance(value, list) else value


@dataclass
class Clearance:
    """What a clearance replaced: the registration's fields, each co-sold rival's attribution and the key of the
    update its partner was sent, and the review request that went to the AE."""

    fields: dict[str, Any]
    rivals: list[dict[str, Any]] = field(default_factory=list)  # {"id", "attribution", "told"}
    review_key: str | None = None

    @classmethod
    def before(cls, registration: Registration, winners: list[ConflictEvidence]) -> Clearance:
        """Taken before the clearance changes anything."""
        return cls(fields={name: _plain(getattr(registration, name)) for name in CLEARED_FIELDS},
                   rivals=[{"id": w.registration.id, "attribution": _plain(w.registration.attribution), "told": None}
                           for w in winners])

    def partner_told(self, rival_id: int, key: str | None) -> None:
        for rival in self.rivals:
            if rival["id"] == rival_id:
                rival["told"] = key

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of(cls, previous: dict[str, Any]) -> Clearance | None:
        """The clearance a decision's `previous` holds; None for any other decision."""
        return cls(**previous[CLEARED]) if CLEARED in previous else None

    def still_current(self, registration: Registration) -> bool:
        """Nothing has moved the registration on since: the AE's review is still the one the clearance
        requested (a reassignment, an edit or a rival approved meanwhile each request another)."""
        return registration.review_kind == ReviewKind.ae and registration.review_message_key == self.review_key


def restore_clearance(session: Session, notifier: Notifier, registration: Registration, partner: Partner,
                      clearance: Clearance, *, actor_slack_id: str, now: datetime) -> None:
    """Put back what the clearance changed, in the caller's transaction: the registration's fields; each rival
    still a co-sell its previous attribution (the CRM hears it), its partner corrected if they saw the co-sell;
    the AE's review request withheld if unsent, else settled in place without buttons."""
    for name in CLEARED_FIELDS:
        value = clearance.fields[name]
        setattr(registration, name, _ENUMS[name](value) if name in _ENUMS and value is not None else value)
    session.add(registration)
    for kept in clearance.rivals:
        rival = session.get(Registration, kept["id"])
        was = AttributionType(kept["attribution"])
        changed = rival is not None and rival.attribution == AttributionType.co_sell and was != rival.attribution
        if changed:
            rival.attribution = was
            session.add(rival)
            record_attribution_change(session, rival, now=now)
        seen = kept["told"] is not None and not withhold_unsent(session, kept["told"])
        if changed and seen:
            notifier.co_sell_withdrawn(session, rival, session.get(Partner, rival.partner_id))
    if clearance.review_key and not withhold_unsent(session, clearance.review_key):
        notifier.review_withdrawn(session, registration, partner, review_key=clearance.review_key,
                                  actor_slack_id=actor_slack_id)
