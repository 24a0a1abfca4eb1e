"""Who may act on a review: the assigned reviewer or a partner manager, re-checked on every request."""

from __future__ import annotations

from sqlmodel import Session

from storage.actors import Actor
from storage.models import Registration
from storage.queries import registration_for_decision
from workflows.services import NotAllowed


def load_for_reviewer(session: Session, registration_id: int, actor: Actor) -> Registration:
    """The registration, locked, if this actor may decide it; the ids Slack sent back are never trusted."""
    registration = registration_for_decision(session, registration_id, actor)
    if registration is not None:
        return registration
    # The same words whether or not the id exists, so a refusal tells nobody which registrations there are.
    if actor.is_partner:
        raise NotAllowed("Partners can't approve or reject registrations, including their own.")
    raise NotAllowed("Only the assigned reviewer or a partner manager can decide this registration.")
