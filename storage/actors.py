"""Who is acting: an internal team member, a partner's person, or someone the bot does not know."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import literal
from sqlmodel import Session, select

from storage.models import Partner, PartnerContact, PartnerType, Role, TeamMember


class ActorKind(StrEnum):
    internal = "internal"
    partner = "partner"
    unknown = "unknown"


@dataclass(frozen=True)
class Actor:
    """The person behind a Slack request, resolved against our own records (never the payload alone)."""

    slack_user_id: str
    team_id: str | None
    kind: ActorKind
    role: Role | None = None
    partner_id: int | None = None
    partner_type: PartnerType | None = None
    partner_name: str | None = None
    is_listed_contact: bool = False
    name: str | None = None
    # The partner's row as read when the actor was resolved (detached; None for our own people, or an actor
    # made by hand): `acting_partner` takes it into a transaction without reading it again.
    partner: Partner | None = field(default=None, compare=False, repr=False)

    @property
    def is_internal(self) -> bool:
        return self.kind is ActorKind.internal

    @property
    def is_partner(self) -> bool:
        return self.kind is ActorKind.partner

    @property
    def runs_program(self) -> bool:
        return self.role in (Role.partner_manager, Role.admin)


def _partner_actor(user_id: str, team_id: str | None, partner: Partner, listed: bool) -> Actor:
    return Actor(
        slack_user_id=user_id,
        team_id=team_id,
        kind=ActorKind.partner,
        partner_id=partner.id,
        partner_type=partner.type,
        partner_name=partner.name,
        is_listed_contact=listed,
        partner=partner,
    )


def acting_partner(session: Session, actor: Actor) -> Partner | None:
    """A partner actor's partner in this session: the row read a moment ago to resolve the actor, taken in
    without a query (one round trip fewer before an ack; a read inside the transaction would not lock it
    either), else read now."""
    if actor.partner is not None and actor.partner.id == actor.partner_id:
        return session.merge(actor.partner, load=False)
    return session.get(Partner, actor.partner_id) if actor.partner_id is not None else None


def resolve_actor(session: Session, *, user_id: str, team_id: str | None, our_team_id: str | None) -> Actor:
    """Internal member by user id; else a listed partner contact; else anyone from a partner's own Slack org.
    The first two are looked up in one query: this runs before most acks."""
    asked = select(literal(user_id).label("user_id")).subquery()
    member, listed = session.exec(
        select(TeamMember, Partner).select_from(asked)
        .outerjoin(TeamMember, TeamMember.slack_user_id == asked.c.user_id)
        .outerjoin(PartnerContact, PartnerContact.slack_user_id == asked.c.user_id)
        .outerjoin(Partner, Partner.id == PartnerContact.partner_id)
    ).first()
    if member is not None:
        return Actor(user_id, team_id, ActorKind.internal, role=member.role, name=member.name)
    if listed is not None:
        return _partner_actor(user_id, team_id, listed, listed=True)
    if team_id and team_id != our_team_id:
        partner = session.exec(select(Partner).where(Partner.slack_team_id == team_id)).first()
        if partner is not None:
            return _partner_actor(user_id, team_id, partner, listed=False)
    return Actor(user_id, team_id, ActorKind.unknown)
