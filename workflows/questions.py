"""Ask the partner: a reviewer's question goes into the registration's thread; the partner's reply there
reaches the reviewer."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from storage.actors import Actor, resolve_actor
from storage.db import transaction
from storage.models import Partner, Registration, RegistrationStatus
from storage.queries import claim_request
from storage.reviews import registration_of_thread
from workflows.acting import ActionOutcome, act_on_deal, required_text
from workflows.partner_names import ensure_names_no_other_partner
from workflows.review_access import load_for_reviewer
from workflows.services import Services

MAX_QUESTION = 1000
MAX_REPLY = 2000  # what is forwarded of a reply; the link leads to all of it
ASKABLE = (RegistrationStatus.under_review, RegistrationStatus.approved)


def ask_partner(services: Services, *, actor: Actor, registration_id: int, question: str,
                request_key: str | None = None) -> ActionOutcome:
    """Post a reviewer's question in the partner's registration thread (committed before the ack)."""
    question = required_text(question, MAX_QUESTION,
                             "Write your question: the partner sees it in their registration's thread.")

    def ask(session: Session, registration: Registration, partner: Partner, now: datetime) -> str:
        ensure_names_no_other_partner(session, question, partner=partner, registration=registration)
        services.notifier.question_to_partner(session, registration, partner, asker_slack_id=actor.slack_user_id,
                                              question=question)
        return f"Asked in {registration.reference}'s thread; their reply will come to you here."
    return act_on_deal(
        services, request_key=request_key, load=lambda session: load_for_reviewer(session, registration_id, actor),
        allowed=ASKABLE, work=ask,
        refusal=lambda r: f"{r.reference} is {r.status.replace('_', ' ')}: questions are for leads under review "
                          "and open deals.")


def is_registration_thread(services: Services, channel_id: str, thread_ts: str) -> bool:
    """A plain read: is this thread a registration's (so a reply there may be for its reviewer)?"""
    with Session(services.engine) as session:
        return registration_of_thread(session, channel_id, thread_ts) is not None


def forward_partner_reply(services: Services, *, channel_id: str, thread_ts: str, user_id: str,
                          team_id: str | None, text: str, link: str | None, event_id: str | None = None) -> bool:
    """A reply in a registration's thread by one of that partner's people goes to the reviewer, once per event.

    Anyone else's message there (our own team, another organisation, a bot) is left alone. Returns whether
    it was forwarded.
    """
    text = (text or "").strip()
    if not text:
        return False
    now = services.clock()
    with transaction(services.engine) as session:
        if event_id and not claim_request(session, event_id, now):
            return False
        found = registration_of_thread(session, channel_id, thread_ts)
        if found is None:
            return False
        registration, partner = found
        author = resolve_actor(session, user_id=user_id, team_id=team_id, our_team_id=services.our_team_id)
        if not author.is_partner or author.partner_id != partner.id or not registration.assigned_to_slack_id:
            return False
        services.notifier.partner_replied(session, registration, partner,
                                          recipient=registration.assigned_to_slack_id, author_slack_id=user_id,
                                          text=text[:MAX_REPLY], link=link)
    services.kick()
    return True
