"""Who a report is about (Scope) and what an actor may ask for (scope_for): every report's permission rule, applied
here so no surface (digest, `/partner report`, scorecard, CLI) can forget it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from sqlalchemy import and_, true
from sqlmodel import Session, select

from storage.actors import Actor
from storage.models import Partner, PartnerTier, PartnerType, Registration, Role
from storage.queries import sees_only_own_registrations


class ScopeKind(StrEnum):
    all = "all"  # the whole program
    manager = "manager"  # the partners whose manager_slack_id is the manager
    partner = "partner"  # one partner
    type = "type"  # partners of one PartnerType
    tier = "tier"  # partners of one PartnerTier
    assignee = "assignee"  # the deals assigned to one AE


class ScopeRefused(Exception):
    """The actor may not see what they asked for; the message says why and is safe to show as it is."""


@dataclass(frozen=True)
class Scope:
    """The partners and deals a report covers: every filter set is applied (they narrow each other).

    `kind` is what was asked for (it names the report); a partner manager who asks for a tier gets kind `tier` with
    their own `manager_slack_id` too. `submitted_by_slack_id` is set for a referral partner's contact: only the
    registrations (and upsells, accounts) that person brought. `label` is how a report names the scope."""

    kind: ScopeKind = ScopeKind.all
    manager_slack_id: str | None = None
    partner_id: int | None = None
    partner_type: PartnerType | None = None
    partner_tier: PartnerTier | None = None
    assignee_slack_id: str | None = None
    submitted_by_slack_id: str | None = None
    label: str = "all partners"

    @classmethod
    def everything(cls) -> Scope:
        return cls()

    @classmethod
    def of_manager(cls, slack_id: str, label: str | None = None) -> Scope:
        return cls(ScopeKind.manager, manager_slack_id=slack_id, label=label or f"partners of {slack_id}")

    @classmethod
    def of_partner(cls, partner_id: int, label: str | None = None) -> Scope:
        return cls(ScopeKind.partner, partner_id=partner_id, label=label or f"partner {partner_id}")

    @classmethod
    def of_type(cls, partner_type: PartnerType | str) -> Scope:
        return cls(ScopeKind.type, partner_type=PartnerType(partner_type), label=f"{PartnerType(partner_type)} partners")

    @classmethod
    def of_tier(cls, tier: PartnerTier | str) -> Scope:
        return cls(ScopeKind.tier, partner_tier=PartnerTier(tier), label=f"{PartnerTier(tier)} tier partners")

    @classmethod
    def of_assignee(cls, slack_id: str, label: str | None = None) -> Scope:
        return cls(ScopeKind.assignee, assignee_slack_id=slack_id, label=label or f"deals assigned to {slack_id}")

    def partner_clause(self, *, with_assignee: bool = True):
        """The WHERE clause on Partner of the partners in scope (the deal filters are applied per table); an AE's
        partners are those with a registration assigned to them (`with_assignee`)."""
        clauses = []
        if self.manager_slack_id is not None:
            clauses.append(Partner.manager_slack_id == self.manager_slack_id)
        if self.partner_id is not None:
            clauses.append(Partner.id == self.partner_id)
        if self.partner_type is not None:
            clauses.append(Partner.type == self.partner_type)
        if self.partner_tier is not None:
            clauses.append(Partner.tier == self.partner_tier)
        if with_assignee and self.assignee_slack_id is not None:
            clauses.append(select(Registration.id).where(Registration.partner_id == Partner.id,
                                                         Registration.assigned_to_slack_id == self.assignee_slack_id)
                           .exists())
        return and_(*clauses) if clauses else true()


def _partner_named(session: Session, partner_id: int) -> Partner | None:
    return session.get(Partner, partner_id)


def scope_for(session: Session, actor: Actor, requested: Scope) -> Scope:
    """What `actor` may get of `requested`: admins anything; a partner manager only their own partners (a type or
    tier narrows to theirs of it; another's partner or another manager's partners are refused); an AE only the
    deals assigned to them (other filters narrow within those); a partner's person only their own partner (a
    referral contact only what they submitted). Raises ScopeRefused with the reason otherwise."""
    if actor.is_internal and actor.role == Role.admin:
        return requested
    if actor.is_internal and actor.role == Role.partner_manager:
        if requested.manager_slack_id not in (None, actor.slack_user_id):
            raise ScopeRefused("You can see reports on the partners you manage only, not another manager's.")
        if requested.partner_id is not None:
            partner = _partner_named(session, requested.partner_id)
            if partner is None or partner.manager_slack_id != actor.slack_user_id:
                name = partner.name if partner else "That partner"
                raise ScopeRefused(f"{name} is not one of the partners you manage, so you can't see its report.")
        label = requested.label if requested.kind is not ScopeKind.all else "your partners"
        kind = requested.kind if requested.kind is not ScopeKind.all else ScopeKind.manager
        return replace(requested, kind=kind, manager_slack_id=actor.slack_user_id, label=label)
    if actor.is_internal and actor.role == Role.ae:
        if requested.assignee_slack_id not in (None, actor.slack_user_id):
            raise ScopeRefused("You can see reports on the deals assigned to you only.")
        label = requested.label if requested.kind is not ScopeKind.all else "deals assigned to you"
        kind = requested.kind if requested.kind is not ScopeKind.all else ScopeKind.assignee
        return replace(requested, kind=kind, assignee_slack_id=actor.slack_user_id, label=label)
    if actor.is_partner and actor.partner_id is not None:
        if requested.partner_id not in (None, actor.partner_id):
            raise ScopeRefused("You can see your own organisation's figures only.")
        own = sees_only_own_registrations(actor.partner_type)
        return Scope(ScopeKind.partner, partner_id=actor.partner_id,
                     submitted_by_slack_id=actor.slack_user_id if own else None,
                     label=actor.partner_name or "your organisation")
    raise ScopeRefused("Reports are for the partner team and its partners; ask a partner manager for access.")
