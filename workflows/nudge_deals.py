"""Nudges about deals (workflows/nudges.py runs them): a stalled registration to its owner AE, and a protection window
about to end to the partner, in the registration's thread.

Stalled: approved, not won or lost, and no change (its `updated_at`: the approval, a status event, an extension or
the AE's last Still working) for `after_days`; the period is that moment, so each quiet spell is nudged once and Still
working starts a new one. Expiry: `days_before` its protection ends (14 and 7 by default), once each; the period is
the end date and the days, so an extension's new date is warned about again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from storage.actors import Actor
from storage.db import transaction
from storage.models import Partner, Registration, RegistrationStatus
from storage.nudges.deals import expiring_registrations, registration_of_nudge, stalled_registrations
from storage.nudges.models import Nudge, NudgeKind, NudgeResponse
from storage.nudges.queries import nudge_for_actor
from storage.protection import extensions_granted
from storage.queries import claim_request
from storage.reviews import thread_root_key
from workflows.acting import ActionOutcome
from workflows.history import record_in_history
from workflows.nudges import Due, NudgeAction, NudgeButton, NudgeContent, record_response
from workflows.protection import on_day as day
from workflows.services import ACK_LOCK_TIMEOUT, NotFound, Services

Row = tuple[Registration, Partner]


def registration_subject(registration: Registration) -> str:
    return f"registration:{registration.id}"


@dataclass
class StalledRegistrations:
    """Approved registrations nobody has touched for `after_days` (a NudgeSource): their owner AE is asked."""

    services: Services
    now: datetime
    kind = NudgeKind.stalled_registration

    @property
    def quiet(self) -> timedelta:
        return timedelta(days=self.services.program.nudges.stalled_registrations.after_days)

    def page(self, session: Session, *, after, limit: int) -> list[Row]:
        return stalled_registrations(session, quiet_since=self.now - self.quiet, after=after, limit=limit)

    def cursor(self, row: Row):
        return row[0].updated_at, row[0].id

    def owed(self, row: Row) -> list[Due]:
        registration, partner = row
        owner = registration.assigned_to_slack_id
        return [Due(kind=self.kind, subject=registration_subject(registration), recipient=owner,
                    period=f"{registration.updated_at:%Y%m%d%H%M%S}", partner_id=partner.id,
                    registration_id=registration.id, zone_user=owner, row=row)]

    def content(self, session: Session, due: Due, nudge: Nudge) -> NudgeContent:
        registration, partner = due.row
        quiet_days = (self.now - registration.updated_at).days
        return NudgeContent(
            title=f"Is {registration.reference} still in play?",
            lines=(f"{registration.company} for {partner.name}: approved on {day(registration.approved_at)}, and "
                   f"nothing has changed for {quiet_days} days. The partner's protection runs until "
                   f"{day(registration.protection_expires_at)}.",
                   f"Still working keeps it open (I'll ask again after {self.quiet.days} quiet days); Mark won or "
                   "Mark lost closes it and tells the partner."),
            buttons=(NudgeButton(NudgeAction.still_working, "Still working"),
                     NudgeButton(NudgeAction.mark_won, "Mark won", registration.id),
                     NudgeButton(NudgeAction.mark_lost, "Mark lost", registration.id)))


@dataclass
class ExpiringProtection:
    """Approved registrations whose protection ends within the largest of `days_before` (a NudgeSource): the
    partner is warned in the registration's thread, with Request extension while extensions are left."""

    services: Services
    now: datetime
    kind = NudgeKind.protection_expiry

    @property
    def days_before(self) -> tuple[int, ...]:
        return tuple(sorted(set(self.services.program.nudges.protection_expiry.days_before)))

    def page(self, session: Session, *, after, limit: int) -> list[Row]:
        if not self.days_before:
            return []
        return expiring_registrations(session, now=self.now, until=self.now + timedelta(days=self.days_before[-1]),
                                      after=after, limit=limit)

    def cursor(self, row: Row):
        return row[0].protection_expires_at, row[0].id

    def owed(self, row: Row) -> list[Due]:
        """The nearest warning reached (a run that comes late sends the 7-day one, not the 14-day one too)."""
        registration, partner = row
        ends = registration.protection_expires_at
        reached = [days for days in self.days_before if ends - self.now <= timedelta(days=days)]
        if not reached:
            return []
        in_channel = bool(registration.partner_channel_id)
        # Where the registration's thread is: the partner's channel (timed by the partner's zone, else its
        # manager's), or the submitter's DM when it has no channel (timed by the submitter's).
        return [Due(kind=self.kind, subject=registration_subject(registration),
                    recipient=registration.partner_channel_id or registration.submitted_by_slack_id,
                    period=f"{ends:%Y%m%d}:{reached[0]}", partner_id=partner.id, registration_id=registration.id,
                    zone_user=partner.manager_slack_id if in_channel else registration.submitted_by_slack_id,
                    zone=self.services.program.nudges.partner_time_zones.get(partner.name) if in_channel else None,
                    parent_key=thread_root_key(registration.id), row=row)]

    def content(self, session: Session, due: Due, nudge: Nudge) -> NudgeContent:
        registration, partner = due.row
        rules = self.services.program.protection
        ends = registration.protection_expires_at
        left = max(0, -((self.now - ends) // timedelta(days=1)))  # whole days, rounded up: 9 days 23 hours is 10
        lines = [f"{registration.reference} is registered to {partner.name} until {day(ends)}; after that another "
                 "partner can register this company."]
        buttons: tuple[NudgeButton, ...] = ()
        if extensions_granted(session, registration.id) < rules.max_extensions:
            lines.append(f"If the deal needs longer, ask for an extension of {rules.extension_days} days: its account "
                         "executive decides, and you hear here.")
            buttons = (NudgeButton(NudgeAction.request_extension, "Request extension", registration.id),)
        else:
            lines.append("It has had every extension the program allows: if the deal needs longer, talk to your "
                         "account executive.")
        return NudgeContent(title=f"Protection for {registration.company} ends in {left} days",
                            lines=tuple(lines), buttons=buttons,
                            mentions=(registration.submitted_by_slack_id,) if registration.partner_channel_id else ())


def stalled_registration_nudges(services: Services, now: datetime) -> StalledRegistrations | None:
    return StalledRegistrations(services, now) if services.program.nudges.stalled_registrations.enabled else None


def protection_expiry_nudges(services: Services, now: datetime) -> ExpiringProtection | None:
    return ExpiringProtection(services, now) if services.program.nudges.protection_expiry.enabled else None


def still_working(services: Services, *, actor: Actor, nudge_id: int, request_key: str | None = None) -> ActionOutcome:
    """The AE says a stalled deal is still being worked: recorded in its history (who, when), which starts its
    quiet period again; the nudge shows who confirmed in place of its buttons. Only whom it was sent to, the
    partner's manager and those who run the program may answer it."""
    now = services.clock()
    with transaction(services.engine, lock_timeout=ACK_LOCK_TIMEOUT) as session:
        if request_key and not claim_request(session, request_key, now):
            return ActionOutcome(None, False, "", replayed=True)
        # The registration is locked before its nudge, in the order closing the deal takes them (no deadlock).
        registration = session.get(Registration, registration_of_nudge(session, nudge_id) or 0, with_for_update=True)
        nudge = nudge_for_actor(session, nudge_id, actor)
        if nudge is None or nudge.kind != NudgeKind.stalled_registration or registration is None:
            raise NotFound("That nudge isn't yours to answer (or it no longer exists).")
        if nudge.response is not None:
            return ActionOutcome(registration, False, f"{registration.reference}: <@{nudge.responded_by_slack_id}> "
                                                      f"already answered this on {day(nudge.responded_at)}.")
        if registration.status != RegistrationStatus.approved:
            return ActionOutcome(registration, False, f"{registration.reference} is "
                                                      f"{registration.status.replace('_', ' ')} now: nothing to "
                                                      "confirm.")
        record_in_history(session, registration, actor_slack_id=actor.slack_user_id, now=now,
                          reason="still working: confirmed from the stalled-deal nudge")
        record_response(nudge, NudgeResponse.acted, actor.slack_user_id, now)
        session.add(nudge)
        services.notifier.nudge_answered(session, nudge, note=f":white_check_mark: <@{actor.slack_user_id}> is "
                                                              f"still working it ({day(now)}).")
    services.kick()
    quiet = services.program.nudges.stalled_registrations.after_days
    return ActionOutcome(registration, True, f"Noted: {registration.reference} stays open; I'll ask again if nothing "
                                             f"changes for {quiet} days.")
