"""Flagging an upsell: what the form opens with, storing the flag before the ack (with its thread root, or a
duplicate's review for the partner manager), and the partner manager's decision on a duplicate.

A flag is about an existing customer account the actor may see (storage/accounts.py), for a partner attached to
it, unless our own team marks it partner-influenced (any partner, asked in). One open upsell per account and
target: the same partner is shown the one it has; another partner's flag waits for the partner manager.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session

from storage import sla_clock
from storage.accounts import account_for_actor, attached_partners, is_attached, visible_accounts
from storage.actors import Actor, acting_partner
from storage.db import transaction
from storage.models import AttributionType, CustomerAccount, Partner, Upsell, UpsellEvent, UpsellSignal, UpsellStatus
from storage.queries import (
    claim_request,
    partner_by_channel,
    partner_manager_or_runner,
    registration_thread_channel,
)
from storage.reviews import sent_location
from storage.upsells import (
    latest_flag,
    open_upsells_on,
    serialize_account_upsells,
    upsell_for_runner,
    upsell_parties,
)
from workflows.acting import required_text
from workflows.partner_names import ensure_names_no_other_partner
from workflows.services import ACK_LOCK_TIMEOUT, NotAllowed, NotFound, Services, WorkflowError
from workflows.upsell_form import MAX_NOTES, UpsellFormInvalid, UpsellInput
from workflows.upsell_join import ask_partner_in

MAX_REASON = 1000


class Entry(StrEnum):
    """Where the form was opened from."""

    desk = "desk"  # the partner desk's Flag an upsell button
    command = "command"  # /upsell [account]
    shortcut = "shortcut"  # the Flag as upsell message shortcut
    suggestion = "suggestion"  # an expansion signal's suggestion button


@dataclass(frozen=True)
class Choice:
    id: int
    label: str


@dataclass(frozen=True)
class UpsellFormStart:
    """What the form opens with. `asked_in`: an internal user in a partner's channel asks that partner in
    (partner-influenced, no partner to choose); `choose_partner`: an internal user picks the partner."""

    channel_id: str | None
    account: Choice | None = None
    signal: UpsellSignal | None = None
    notes: str = ""
    partner: Choice | None = None
    choose_partner: bool = False
    asked_in: bool = False


@dataclass(frozen=True)
class UpsellOrigin:
    """What the submitted form says about where it came from (its private_metadata: a claim, re-checked)."""

    channel_id: str | None = None
    asked_in: bool = False


def account_label(account: CustomerAccount) -> str:
    """`Acme Corp (acme.com)`: an account as the form's select offers it."""
    return f"{account.name} ({account.domain})" if account.domain else account.name


def start_upsell_form(services: Services, actor: Actor, entry: Entry, *, channel_id: str | None, text: str = "",
                      account_id: int | None = None, signal: UpsellSignal | None = None,
                      notes: str = "") -> UpsellFormStart:
    """The form's prefill for this actor, or a WorkflowError saying why they cannot flag from here.

    `account_id` (a suggestion's) is checked against the actor; `text` (`/upsell acme`) prefills the account when
    exactly one the actor may see matches.
    """
    if not (actor.is_partner or actor.is_internal):
        raise NotAllowed("Only partners and our own team can flag upsells.")
    with Session(services.engine) as session:
        channel_partner = partner_by_channel(session, channel_id) if channel_id else None
        if entry is Entry.shortcut:
            if not actor.is_internal:
                raise NotAllowed("Only our own team can flag an upsell from a message: partners use the Flag an "
                                 "upsell button on their partner desk.")
            if channel_partner is None:
                raise NotAllowed("Flag as upsell works on messages in a partner's shared channel, and this isn't "
                                 "one.")
        account = None
        if account_id is not None:
            account = account_for_actor(session, account_id, actor)
            if account is None:
                raise NotAllowed("You can't flag an upsell on that account: it isn't one you can see.")
        elif text.strip():
            matches = visible_accounts(session, actor, search=text.strip()[:100], limit=2)
            account = matches[0] if len(matches) == 1 else None
        internal_partner = channel_partner if actor.is_internal else None
        asked_in = entry is Entry.command and internal_partner is not None
        return UpsellFormStart(
            channel_id=channel_id,
            account=Choice(account.id, account_label(account)) if account else None,
            signal=signal, notes=notes[:MAX_NOTES],
            partner=Choice(internal_partner.id, internal_partner.name) if internal_partner else None,
            choose_partner=actor.is_internal and not asked_in, asked_in=asked_in)


def account_choices(services: Services, actor: Actor, typed: str) -> list[Choice]:
    """The accounts this actor may see matching what they typed into the form's account select."""
    with Session(services.engine) as session:
        return [Choice(a.id, account_label(a)) for a in visible_accounts(session, actor, search=typed[:100])]


class AlreadyFlagged(WorkflowError):
    """The same partner already has an open upsell on this account and target: it is shown that one instead."""

    def __init__(self, message: str, reference: str, where: tuple[str, str] | None):
        super().__init__(message)
        self.reference, self.where = reference, where
        self.link: str | None = None  # Slack's permalink of its thread root, when Slack gives one


@dataclass
class FlagOutcome:
    """A stored flag (open, or waiting for the partner manager as a duplicate); `replayed` for a delivery
    Slack repeated, which was stored the first time."""

    upsell: Upsell | None
    account: CustomerAccount | None
    partner: Partner | None
    replayed: bool = False


def change_upsell_status(session: Session, upsell: Upsell, to: UpsellStatus, *, actor_slack_id: str | None,
                         now: datetime, reason: str | None = None) -> None:
    """Move an upsell to `to`, keeping who/when/why in its history."""
    previous = None if upsell.id is None else upsell.status
    upsell.status, upsell.updated_at = to, now
    session.add(upsell)
    session.flush()
    if to == UpsellStatus.open:  # its accept SLA starts now
        sla_clock.start(session, sla_clock.UPSELL, upsell.id, now)
    session.add(UpsellEvent(upsell_id=upsell.id, from_status=previous, to_status=to, actor_slack_id=actor_slack_id,
                            reason=reason, at=now))


def upsell_assignee(session: Session, account: CustomerAccount, partner: Partner) -> str | None:
    """Who answers an open upsell: the account's owner AE, else the partner's manager, else a program runner."""
    if account.owner_slack_id:
        return account.owner_slack_id
    return partner_manager_or_runner(session, partner)


def _open_thread(session: Session, services: Services, upsell: Upsell, account: CustomerAccount,
                 partner: Partner) -> None:
    """The thread root of an upsell that opens, and the partner asked in where it cannot see the root."""
    services.notifier.upsell_flagged(session, upsell, account, partner)
    ask_partner_in(session, services, upsell, account, partner)


def _refuse(field: str, message: str) -> UpsellFormInvalid:
    return UpsellFormInvalid({field: message})


def _flagging_partner(session: Session, actor: Actor, form: UpsellInput, origin: UpsellOrigin,
                      account: CustomerAccount) -> tuple[Partner, AttributionType]:
    """The partner the upsell is credited to and how. A partner's people flag for their own partner (the account
    query already required it to be attached); our own team for the one they chose, or the channel's partner
    when they asked it in from its channel."""
    if actor.is_partner:
        return acting_partner(session, actor), AttributionType.sourced
    if origin.asked_in:
        partner = partner_by_channel(session, origin.channel_id) if origin.channel_id else None
        if partner is None:
            raise _refuse("account", "This form is out of date: that channel is no longer a partner's. Close it "
                                     "and run /upsell again.")
        return partner, AttributionType.influenced
    partner = session.get(Partner, form.partner_id) if form.partner_id else None
    if partner is None:
        raise _refuse("partner", "Choose the partner you are flagging this upsell for.")
    if form.influenced:
        return partner, AttributionType.influenced
    if not is_attached(session, account.id, partner.id):
        names = ", ".join(p.name for p in attached_partners(session, account.id)[:5])
        attached = f"{account.name}'s partners: {names}" if names else f"{account.name} has no partner attached"
        raise _refuse("partner", f"{partner.name} isn't attached to {account.name} ({attached}). Choose one of "
                                 "them, or tick partner-influenced to ask this partner in.")
    return partner, AttributionType.sourced


def _already_flagged(session: Session, mine: Upsell, account: CustomerAccount, partner: Partner) -> AlreadyFlagged:
    where = sent_location(session, mine.root_message_key)
    state = "it waits for our partner manager" if mine.status == UpsellStatus.duplicate_review \
        else f"it is {mine.status.replace('_', ' ')}; follow it in its thread"
    return AlreadyFlagged(f"{partner.name} already flagged {account.name} for {mine.target}: {mine.reference}, on "
                          f"{mine.created_at:%-d %b %Y}, and {state}.", mine.reference, where)


def flag_upsell(services: Services, *, actor: Actor, form: UpsellInput, origin: UpsellOrigin,
                request_key: str | None = None) -> FlagOutcome:
    """Store the flag before the ack, with its history and the message it owes, in one transaction.

    Open: its thread root, mentioning the account's owner AE. Another partner's open upsell on the same account and
    target: waiting for the partner manager (duplicate_review), who gets the evidence. The same partner's: refused
    with that one (AlreadyFlagged). Refusals of the form's fields raise UpsellFormInvalid; DatabaseBusy when the
    database stays locked. Nothing is stored unless all of it is.
    """
    now = services.clock()
    try:
        with transaction(services.engine, lock_timeout=ACK_LOCK_TIMEOUT) as session:
            if request_key and not claim_request(session, request_key, now):
                upsell = latest_flag(session, flagged_by=actor.slack_user_id, account_id=form.account_id,
                                     target=form.target)
                account, partner = upsell_parties(session, upsell) if upsell else (None, None)
                return FlagOutcome(upsell, account, partner, replayed=True)
            if not (actor.is_partner or actor.is_internal):
                raise NotAllowed("Only partners and our own team can flag upsells.")
            account = account_for_actor(session, form.account_id, actor)
            if account is None:
                raise _refuse("account", "You can't flag an upsell on that account: choose one of your customer "
                                         "accounts from the list.")
            partner, attribution = _flagging_partner(session, actor, form, origin, account)
            serialize_account_upsells(session, account.id)
            existing = open_upsells_on(session, account.id, form.target)
            mine = next((u for u in existing if u.partner_id == partner.id), None)
            if mine is not None:
                raise _already_flagged(session, mine, account, partner)
            original = existing[0] if existing else None
            upsell = Upsell(
                account_id=account.id, partner_id=partner.id, flagged_by_slack_id=actor.slack_user_id,
                flagged_by_team_id=actor.team_id, attribution=attribution, signal=form.signal, target=form.target,
                expected_value=form.expected_value, currency=form.currency, recurrence=form.recurrence,
                timeline=form.timeline, notes=form.notes, duplicate_of=original.id if original else None,
                assigned_to_slack_id=partner_manager_or_runner(session, partner) if original
                else upsell_assignee(session, account, partner),
                partner_channel_id=registration_thread_channel(partner), created_at=now, updated_at=now)
            if original is None:
                change_upsell_status(session, upsell, UpsellStatus.open, actor_slack_id=actor.slack_user_id,
                                     now=now)
                _open_thread(session, services, upsell, account, partner)
            else:
                change_upsell_status(session, upsell, UpsellStatus.duplicate_review, actor_slack_id=actor.slack_user_id,
                                     now=now, reason=f"{original.reference} is open on the same account and target")
                services.notifier.upsell_duplicate_review(session, upsell, original, account, partner,
                                                          session.get(Partner, original.partner_id))
    except AlreadyFlagged as already:
        if already.where and services.message_link is not None:
            already.link = services.message_link(*already.where)
        raise
    services.kick()
    return FlagOutcome(upsell, account, partner)


@dataclass
class DuplicateOutcome:
    """What a partner manager's decision on a duplicate did (the shape handlers/reviews.commit_then_tell reads)."""

    upsell: Upsell | None
    changed: bool
    message: str
    replayed: bool = False


def _duplicate_under_review(session: Session, actor: Actor, upsell_id: int) -> Upsell:
    """The upsell if this actor may decide it (a partner manager or admin), raising why not otherwise."""
    if not (actor.is_internal and actor.runs_program):
        raise NotAllowed("Only partner managers and admins decide duplicate upsells.")
    upsell = upsell_for_runner(session, upsell_id, actor)
    if upsell is None:
        raise NotFound("That upsell no longer exists.")
    return upsell


def _already_decided(upsell: Upsell) -> str:
    return f"{upsell.reference} was already decided: it is {upsell.status.replace('_', ' ')}."


def ensure_can_decide_duplicate(services: Services, *, actor: Actor, upsell_id: int) -> Upsell:
    """The duplicate, unless this actor may not decide it or it was decided already (before opening a modal)."""
    with Session(services.engine) as session:
        upsell = _duplicate_under_review(session, actor, upsell_id)
        if upsell.status != UpsellStatus.duplicate_review:
            raise WorkflowError(_already_decided(upsell))
        session.expunge(upsell)
        return upsell


def decide_duplicate(services: Services, *, actor: Actor, upsell_id: int, approve: bool, reason: str | None = None,
                     request_key: str | None = None) -> DuplicateOutcome:
    """The partner manager approves a duplicate flag (it opens, and its thread root is posted) or rejects it (the
    flagger is told why, in words that never name the other partner). Once: a second click changes nothing."""
    now = services.clock()
    with transaction(services.engine, lock_timeout=ACK_LOCK_TIMEOUT) as session:
        if request_key and not claim_request(session, request_key, now):
            return DuplicateOutcome(None, False, "", replayed=True)
        upsell = _duplicate_under_review(session, actor, upsell_id)
        if upsell.status != UpsellStatus.duplicate_review:
            return DuplicateOutcome(upsell, False, _already_decided(upsell))
        account, partner = upsell_parties(session, upsell)
        original = session.get(Upsell, upsell.duplicate_of) if upsell.duplicate_of else None
        if approve:
            upsell.assigned_to_slack_id = upsell_assignee(session, account, partner)
            change_upsell_status(session, upsell, UpsellStatus.open, actor_slack_id=actor.slack_user_id, now=now,
                                 reason="duplicate approved")
            _open_thread(session, services, upsell, account, partner)
            message = f"{upsell.reference} approved: it is open with <@{upsell.assigned_to_slack_id}>."
        else:
            reason = required_text(reason, MAX_REASON, "Write a reason: the partner sees it.")
            ensure_names_no_other_partner(session, reason, partner=partner)
            upsell.decision_reason, upsell.closed_at = reason, now
            change_upsell_status(session, upsell, UpsellStatus.rejected, actor_slack_id=actor.slack_user_id, now=now,
                                 reason=reason)
            services.notifier.tell_user(
                session, upsell.flagged_by_slack_id,
                f"{upsell.reference}: your upsell flag on {account.name} ({upsell.target}) was not taken forward. "
                f"Reason: {reason}")
            message = f"{upsell.reference} rejected; <@{upsell.flagged_by_slack_id}> was told why."
        services.notifier.upsell_duplicate_decided(
            session, upsell, original, account, partner,
            session.get(Partner, original.partner_id) if original else None, actor_slack_id=actor.slack_user_id)
    services.kick()
    return DuplicateOutcome(upsell, True, message)

