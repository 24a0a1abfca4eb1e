"""Nudges to partners that stall between signing and producing (workflows/nudges.py runs them).

Activation: a partner onboarded (or recruited) that has registered nothing `after_days` after entering its stage
gets a nudge in its shared channel with training links and Register a lead, every `every_days`, at most
`max_times` times per stay in the stage (the period is the stay and the occurrence).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from storage.models import Partner, PartnerStage
from storage.nudges.models import Nudge, NudgeKind
from storage.nudges.partners import partner_contacts, partners_without_registration
from workflows.nudges import Due, NudgeAction, NudgeButton, NudgeContent
from workflows.program import Program
from workflows.services import Services

ACTIVATION_STAGES = (PartnerStage.recruited, PartnerStage.onboarded)


def partner_subject(partner: Partner) -> str:
    return f"partner:{partner.id}"


def channel_due(program: Program, partner: Partner, kind: NudgeKind, period: str) -> Due:
    """A nudge in the partner's shared channel, timed by the partner's zone (program file), else its manager's."""
    return Due(kind=kind, subject=partner_subject(partner), recipient=partner.slack_channel_id, period=period,
               partner_id=partner.id, zone_user=partner.manager_slack_id,
               zone=program.nudges.partner_time_zones.get(partner.name), row=partner)


def training_links(program: Program) -> tuple[tuple[str, str], ...]:
    return tuple((link.title, link.url) for link in program.nudges.onboarding.links)


@dataclass
class ActivationNudges:
    """Onboarded or recruited partners with no registration for `after_days` (a NudgeSource)."""

    services: Services
    now: datetime
    kind = NudgeKind.activation

    @property
    def rules(self):
        return self.services.program.nudges.activation

    def page(self, session: Session, *, after, limit: int) -> list[Partner]:
        return partners_without_registration(session, ACTIVATION_STAGES,
                                             entered_before=self.now - timedelta(days=self.rules.after_days),
                                             after=after, limit=limit)

    def cursor(self, partner: Partner):
        return partner.stage_since, partner.id

    def occurrence(self, partner: Partner) -> int:
        """1 for the first nudge of this stay in the stage, 2 after `every_days` more, and so on."""
        waited = self.now - partner.stage_since - timedelta(days=self.rules.after_days)
        return int(waited / timedelta(days=self.rules.every_days)) + 1

    def owed(self, partner: Partner) -> list[Due]:
        occurrence = self.occurrence(partner)
        if occurrence > self.rules.max_times:
            return []
        return [channel_due(self.services.program, partner, self.kind,
                            f"{partner.stage_since:%Y%m%d%H%M%S}:{occurrence}")]

    def content(self, session: Session, due: Due, nudge: Nudge) -> NudgeContent:
        partner: Partner = due.row
        days = (self.now - partner.stage_since).days
        window = self.services.program.protection_window_days
        since = "your onboarding" if partner.stage == PartnerStage.onboarded else "you joined the program"
        return NudgeContent(
            title=f"Ready to register your first lead, {partner.name}?",
            lines=(f"It's been {days} days since {since} and no lead is registered yet.",
                   f"Registering takes two minutes here in Slack; once approved, the deal is yours for {window} "
                   "days and we keep you posted in a thread."),
            links=training_links(self.services.program),
            buttons=(NudgeButton(NudgeAction.register_lead, "Register a lead"),),
            mentions=tuple(partner_contacts(session, partner.id)))


def activation_nudges(services: Services, now: datetime) -> ActivationNudges | None:
    return ActivationNudges(services, now) if services.program.nudges.activation.enabled else None
