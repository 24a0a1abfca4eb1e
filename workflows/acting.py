"""The frame of an action someone takes on one deal (a registration or an upsell) from Slack: once per request,
committed before the ack, on a deal the actor may act on, in a status that allows it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlmodel import Session

from storage.db import transaction
from storage.models import Partner, Registration, Upsell
from storage.queries import claim_request
from workflows.services import ACK_LOCK_TIMEOUT, Services, WorkflowError

Deal = TypeVar("Deal", Registration, Upsell)


@dataclass
class ActionOutcome:
    deal: Registration | Upsell | None
    changed: bool
    message: str
    replayed: bool = False


def act_on_deal(services: Services, *, request_key: str | None, load: Callable[[Session], Deal], allowed: tuple,
                refusal: Callable[[Deal], str], work: Callable[[Session, Deal, Partner, datetime], str]
                ) -> ActionOutcome:
    """`load` finds the deal for this actor (raising a WorkflowError if they may not act on it); outside the
    `allowed` statuses `refusal` says why not (the request still counts once), or raises to refuse with nothing
    stored; `work` makes the change in the same transaction and says what happened. A replayed request changes
    nothing."""
    now = services.clock()
    with transaction(services.engine, lock_timeout=ACK_LOCK_TIMEOUT) as session:
        if request_key and not claim_request(session, request_key, now):
            return ActionOutcome(None, False, "", replayed=True)
        deal = load(session)
        if deal.status not in allowed:
            return ActionOutcome(deal, False, refusal(deal))
        message = work(session, deal, session.get(Partner, deal.partner_id), now)
    services.kick()
    return ActionOutcome(deal, True, message)


def required_text(text: str | None, limit: int, missing: str) -> str:
    """Typed text an action needs: stripped, refused with `missing` when blank or when longer than `limit`."""
    text = (text or "").strip()
    if not text:
        raise WorkflowError(missing)
    if len(text) > limit:
        raise WorkflowError(f"Keep it under {limit} characters.")
    return text
