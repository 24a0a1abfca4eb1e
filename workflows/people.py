"""Read-side use cases: who is asking, what they may see, and the partner desks in shared channels."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlmodel import Session

from storage.actors import Actor, resolve_actor
from storage.db import insert_once, single_reads, transaction
from storage.lists import (
    Cursor,
    DealSearch,
    HomeFilter,
    Page,
    deals_page,
    home_count,
    home_page,
    upsells_page,
    upsells_waiting_for,
)
from storage.models import Registration, ReviewDecision
from storage.reviews import undoable_decisions
from storage.slack.outbox import retry_failed
from storage.models import Partner, ProcessedEvent
from storage.queries import (
    partner_by_channel,
    claim_partner_desk,
    claim_request,
    move_channel_references,
    partner_choices,
    program_runners,
    partners_with_channels,
)
from workflows.normalize import InvalidDomain, company_key, normalize_domain
from workflows.services import Services, WorkflowError

logger = logging.getLogger(__name__)


def identify(services: Services, *, user_id: str, team_id: str | None) -> Actor:
    with single_reads(services.engine) as session:
        return resolve_actor(session, user_id=user_id, team_id=team_id, our_team_id=services.our_team_id)


MAX_SEARCH = 100


def deal_search(text: str | None) -> DealSearch | None:
    """`acme`, `Acme Inc.` or `acme.com` as a search of company names and domains; None for nothing to search.

    Something with a dot that is a domain searches domains (`https://www.acme.com/x` -> `acme.com`); anything
    else searches company names as the form keys them (`Acme Inc.` -> `acme`) and the starts of domains."""
    text = (text or "").strip()[:MAX_SEARCH]
    if not text:
        return None
    if "." in text and " " not in text:
        try:
            return DealSearch(key="", domain=normalize_domain(text))
        except InvalidDomain:
            pass
    return DealSearch(key=company_key(text), domain=text.lower())


def deals_for(services: Services, actor: Actor, cursor: Cursor | None = None, *, search: str | None = None) -> Page:
    """One page of the registrations this actor may see, from where the cursor says (or the newest); `search`
    (a company name or domain, as typed) narrows it."""
    with Session(services.engine) as session:
        return deals_page(session, actor, cursor, search=deal_search(search))


def upsells_for(services: Services, actor: Actor, *, search: str | None = None) -> Page:
    """The newest upsells this actor may see, shown beside their registrations, and how many there are; `search`
    (a company name or domain, as typed) narrows them by account."""
    with Session(services.engine) as session:
        return upsells_page(session, actor, search=deal_search(search))


def home_for(services: Services, actor: Actor, cursor: Cursor | None = None, *,
             show: HomeFilter = HomeFilter.all) -> Page:
    """One page of an internal user's App Home list; nobody else has one."""
    with Session(services.engine) as session:
        return home_page(session, actor, cursor, show=show)


@dataclass
class HomeView:
    """What App Home shows an internal user: one page of the chosen list, how much waits for them and how many
    deals they have open, their decisions they may still undo, and the upsells waiting for their answer."""

    page: Page
    show: HomeFilter
    waiting: tuple[int, bool]  # (count, capped)
    open_deals: tuple[int, bool]
    undoable: list[tuple[ReviewDecision, Registration]]
    upsells: Page | None = None  # the newest upsells waiting for their Accept or Decline, and how many


def home_view(services: Services, actor: Actor, cursor: Cursor | None = None, *,
              show: HomeFilter = HomeFilter.all) -> HomeView:
    """App Home for an internal user, read in one session."""
    with Session(services.engine) as session:
        return HomeView(page=home_page(session, actor, cursor, show=show), show=show,
                        waiting=home_count(session, actor, HomeFilter.waiting),
                        open_deals=home_count(session, actor, HomeFilter.open),
                        undoable=undoable_decisions(session, actor.slack_user_id, services.clock())
                        if actor.is_internal else [],
                        upsells=upsells_waiting_for(session, actor))


def partner_options(services: Services, actor: Actor, query: str) -> list[tuple[int, str]]:
    """Partners an internal user may register for, filtered by the typed text; partners get none."""
    with Session(services.engine) as session:
        return [(p.id, p.name) for p in partner_choices(session, actor, name_contains=query.strip())]


def first_delivery(services: Services, event_id: str) -> bool:
    """True the first time an Events API delivery is seen; retries of it return False."""
    return insert_once(services.engine, ProcessedEvent(event_id=event_id, received_at=services.clock()))


def _open_desk(services: Services, session: Session, partner: Partner) -> bool:
    """Claim the desk and owe its post in one transaction: start-up and a join event never both post it."""
    if not claim_partner_desk(session, partner.id):
        return False
    services.notifier.partner_desk(session, partner)
    return True


def repost_partner_desk(services: Services, *, actor: Actor, channel_id: str | None) -> str:
    """`/partner desk` or “@Partnerbot desk” in a partner's channel: the desk is posted again at the bottom, so
    nobody has to scroll for it. Our team may ask in any partner channel; a partner's people in their own."""
    with transaction(services.engine) as session:
        partner = partner_by_channel(session, channel_id) if channel_id else None
        if partner is None:
            raise WorkflowError("This isn't a partner's channel: ask in the channel shared with the partner.")
        if not (actor.is_internal or (actor.is_partner and actor.partner_id == partner.id)):
            raise WorkflowError("Only our team and this partner's people can post its desk here.")
        services.notifier.partner_desk(session, partner, again=True)
    services.kick()
    return f"Posted {partner.name}'s partner desk again."


def open_partner_desks(services: Services) -> int:
    """At start-up: owe the desk in every imported partner channel that does not have one yet."""
    with Session(services.engine) as session:
        waiting = [p.id for p in partners_with_channels(session) if p.desk_message_ts is None]
    opened = 0
    for partner_id in waiting:
        with transaction(services.engine) as session:
            opened += _open_desk(services, session, session.get(Partner, partner_id))
    services.kick()
    return opened


def open_desk_in_channel(services: Services, channel_id: str, *, event_id: str | None = None) -> bool:
    """When the bot joins a channel: the partner's desk if it has none, and whatever failed there goes again
    (the usual failure is `not_in_channel`, which joining fixes). The event is marked handled with it."""
    with transaction(services.engine) as session:
        if event_id and not claim_request(session, event_id, services.clock()):
            return False
        retried = retry_failed(session, services.clock(), channel=channel_id)
        partner = partner_by_channel(session, channel_id)
        opened = partner is not None and _open_desk(services, session, partner)
    if opened or retried:
        services.kick()
    return opened


def tell_program_runners(services: Services, text: str, *, key: str | None = None) -> int:
    """A plain-text notice (CRM failures, API limits) to every partner manager, else to the admins.

    With a `key`, each runner is told once whatever the number of calls (the outbox keeps the key).
    """
    with transaction(services.engine) as session:
        runners = program_runners(session)
        managers = [m for m in runners if m.role == "partner_manager"] or runners
        for member in managers:
            services.notifier.tell_user(session, member.slack_user_id, text,
                                        key=f"{key}:{member.slack_user_id}" if key else None)
    services.kick()
    return len(managers)


def channel_id_changed(services: Services, old_channel_id: str, new_channel_id: str, *,
                       event_id: str | None = None) -> int:
    """Slack gives a channel a new id when it is shared; partners and their threads follow it.

    The event is marked handled in the same transaction, so a failure leaves its retry to do it.
    """
    with transaction(services.engine) as session:
        if event_id and not claim_request(session, event_id, services.clock()):
            return 0
        return move_channel_references(session, old_channel_id, new_channel_id)
