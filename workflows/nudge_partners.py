"""Nudges to partners that stall between signing and producing (workflows/nudges.py runs them).

Onboarding: a partner entering onboarded gets, in its shared channel, a welcome on the sequence's first day
(`nudges.onboarding.days`, default 0) and follow-ups with the training links on the later ones (3, 7), until it
registers a lead. The period is the stay in the stage and the step; after downtime only the latest step due goes.
Activation: a partner onboarded (or recruited) that has registered nothing `after_days` after entering its stage
gets a nudge in its shared channel with training links and Register a lead, every `every_days`, at most
`max_times` times per stay in the stage (the period is the stay and the occurrence).
Re-engagement: an activated or producing partner that has registered nothing for `after_days` (since its latest
registration, or since it entered its stage if later) gets a nudge in its channel with Register a lead, and its
manager a note in a DM; once per quiet spell (the period is when the spell began). Not relevant on either stops
both.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import urlencode

from sqlmodel import Session

from storage.models import Partner, PartnerStage
from storage.nudges.models import Nudge, NudgeKind
from storage.nudges.partners import (
    ACTIVATION_STAGES,
    REENGAGEMENT_STAGES,
    QuietPartner,
    latest_registration,
    partner_contacts,
    partners_without_registration,
    quiet_partners,
)
from storage.queries import first_program_runner
from workflows.lifecycle import stage_label, won_figures
from workflows.nudges import Due, NudgeAction, NudgeButton, NudgeContent
from workflows.program import Program
from workflows.services import Services

# How long the onboarding sequence's last step stays due (a bot down on day 7 still sends it up to day 14); a
# partner onboarded longer ago than that is the activation nudge's (after 14 days by default).
LAST_STEP_GRACE = timedelta(days=7)


def partner_subject(partner: Partner) -> str:
    return f"partner:{partner.id}"


def channel_due(program: Program, partner: Partner, kind: NudgeKind, period: str) -> Due:
    """A nudge in the partner's shared channel, timed by the partner's zone (program file), else its manager's."""
    return Due(kind=kind, subject=partner_subject(partner), recipient=partner.slack_channel_id, period=period,
               partner_id=partner.id, zone_user=partner.manager_slack_id,
               zone=program.nudges.partner_time_zones.get(partner.name), row=partner)


def training_links(program: Program) -> tuple[tuple[str, str], ...]:
    return tuple((link.title, link.url) for link in program.nudges.onboarding.links)


def on_day(when: datetime) -> str:
    return f"{when:%-d %b %Y}"


def days_between(earlier: datetime, later: datetime) -> str:
    days = (later - earlier).days
    return f"{days} day{'s' if days != 1 else ''}"


def register_lead_button() -> tuple[NudgeButton, ...]:
    return (NudgeButton(NudgeAction.register_lead, "Register a lead"),)


def stage_by_stage(stages: tuple[PartnerStage, ...], after, limit: int, fetch) -> list:
    """A page that walks `stages` one after the other, each a range of ix_partner_stage_since already in order (an
    IN over the stages would sort every candidate for every page). `after` is a `stage_cursor`; `fetch(stage,
    after (stage_since, id) or None, limit)` reads one stage."""
    start = after[0] if after else 0
    rows: list = []
    for index in range(start, len(stages)):
        rows += fetch(stages[index], after[1:] if after and index == start else None, limit - len(rows))
        if len(rows) >= limit:
            break
    return rows


def stage_cursor(stages: tuple[PartnerStage, ...], partner: Partner) -> tuple[int, datetime, int]:
    return stages.index(partner.stage), partner.stage_since, partner.id


@dataclass
class ActivationNudges:
    """Onboarded or recruited partners with no registration for `after_days` (a NudgeSource)."""

    services: Services
    now: datetime
    partner_ids: frozenset[int] | None = None  # only these (a manager's Nudge them all); None: every partner
    kind = NudgeKind.activation

    @property
    def rules(self):
        return self.services.program.nudges.activation

    def page(self, session: Session, *, after, limit: int) -> list[Partner]:
        """Partners still owed an occurrence: in their stage for `after_days` but not past the last one."""
        rules = self.rules
        last_due = timedelta(days=rules.after_days + rules.every_days * rules.max_times)
        return stage_by_stage(ACTIVATION_STAGES, after, limit, lambda stage, cursor, n: partners_without_registration(
            session, (stage,), entered_before=self.now - timedelta(days=rules.after_days),
            entered_after=self.now - last_due, after=cursor, limit=n, partner_ids=self.partner_ids))

    def cursor(self, partner: Partner):
        return stage_cursor(ACTIVATION_STAGES, partner)

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
            buttons=register_lead_button(),
            mentions=tuple(partner_contacts(session, partner.id)))


def activation_nudges(services: Services, now: datetime,
                      partner_ids: frozenset[int] | None = None) -> ActivationNudges | None:
    return ActivationNudges(services, now, partner_ids) if services.program.nudges.activation.enabled else None


@dataclass
class OnboardingNudges:
    """Partners in onboarded for up to the sequence's last day (plus LAST_STEP_GRACE) that have registered
    nothing since: each step of `nudges.onboarding.days` once (a NudgeSource)."""

    services: Services
    now: datetime
    kind = NudgeKind.onboarding

    @property
    def steps(self) -> tuple[int, ...]:
        return self.services.program.nudges.onboarding.days  # sorted and distinct (workflows/program.py)

    def page(self, session: Session, *, after, limit: int) -> list[Partner]:
        return partners_without_registration(
            session, (PartnerStage.onboarded,), entered_before=self.now - timedelta(days=self.steps[0]),
            entered_after=self.now - timedelta(days=self.steps[-1]) - LAST_STEP_GRACE, after=after, limit=limit)

    def cursor(self, partner: Partner):
        return partner.stage_since, partner.id

    def step(self, partner: Partner) -> int | None:
        """The latest step due: one nudge however many were missed while the bot was down."""
        if self.now >= partner.stage_since + timedelta(days=self.steps[-1]) + LAST_STEP_GRACE:
            return None
        due = [day for day in self.steps if partner.stage_since + timedelta(days=day) <= self.now]
        return due[-1] if due else None

    def owed(self, partner: Partner) -> list[Due]:
        day = self.step(partner)
        if day is None:
            return []
        return [channel_due(self.services.program, partner, self.kind,
                            f"{partner.stage_since:%Y%m%d%H%M%S}:day{day}")]

    def content(self, session: Session, due: Due, nudge: Nudge) -> NudgeContent:
        partner: Partner = due.row
        program = self.services.program
        window = program.protection_window_days
        mentions = tuple(partner_contacts(session, partner.id))
        if self.step(partner) == self.steps[0]:
            return NudgeContent(
                title=f"Welcome to the partner program, {partner.name}!",
                lines=("This channel is where we work together. Found an opportunity? Press Register a lead (here or "
                       "on the partner desk pinned in this channel): the company, a contact and a few details, two "
                       "minutes in Slack.",
                       f"We check it for conflicts, route it to the right account executive and keep you posted in a "
                       f"thread. Once approved, the deal is protected for you for {window} days.",
                       "The partner desk also has My deals and Flag an upsell. Scrolled away? Mention me with "
                       "“desk” and I post it again."),
                buttons=register_lead_button(), mentions=mentions)
        links = training_links(program)
        days = days_between(partner.stage_since, self.now)
        guide = ("These short guides cover what to register and how protection works:" if links else
                 "Not sure what to register? Ask here: we're happy to walk you through it.")
        return NudgeContent(
            title=f"{days} in: ready for your first lead, {partner.name}?",
            lines=(f"When a customer shows interest, press Register a lead: approved registrations are protected "
                   f"for {window} days and we keep you posted in a thread.", guide),
            links=links, buttons=register_lead_button(), mentions=mentions)


def onboarding_nudges(services: Services, now: datetime) -> OnboardingNudges | None:
    rules = services.program.nudges.onboarding
    return OnboardingNudges(services, now) if rules.enabled and rules.days else None


@dataclass(frozen=True)
class QuietRow:
    quiet: QuietPartner
    manager: str | None  # its manager, else the program's first partner manager or admin

    @property
    def partner(self) -> Partner:
        return self.quiet.partner


@dataclass
class ReengagementNudges:
    """Activated or producing partners quiet for `after_days`: their channel and their manager, once per quiet
    spell (a NudgeSource)."""

    services: Services
    now: datetime
    partner_ids: frozenset[int] | None = None  # only these (a manager's Nudge them all); None: every partner
    kind = NudgeKind.reengagement

    @property
    def rules(self):
        return self.services.program.nudges.reengagement

    def page(self, session: Session, *, after, limit: int) -> list[QuietRow]:
        runner = first_program_runner(session)
        quiet_before = self.now - timedelta(days=self.rules.after_days)
        found = stage_by_stage(REENGAGEMENT_STAGES, after, limit, lambda stage, cursor, n: quiet_partners(
            session, stage, quiet_before=quiet_before, after=cursor, limit=n, partner_ids=self.partner_ids))
        return [QuietRow(quiet, quiet.partner.manager_slack_id or runner) for quiet in found]

    def cursor(self, row: QuietRow):
        return stage_cursor(REENGAGEMENT_STAGES, row.partner)

    def owed(self, row: QuietRow) -> list[Due]:
        """The partner's nudge first, then the note: storage reads a note as both having gone."""
        partner, period = row.partner, f"{row.quiet.quiet_since:%Y%m%d%H%M%S}"
        owed = [replace(channel_due(self.services.program, partner, self.kind, period), row=row)] \
            if partner.slack_channel_id else []
        if row.manager:
            owed.append(Due(kind=NudgeKind.reengagement_note, subject=partner_subject(partner),
                            recipient=row.manager, period=period, partner_id=partner.id, zone_user=row.manager,
                            row=row))
        return owed

    def content(self, session: Session, due: Due, nudge: Nudge) -> NudgeContent:
        partner: Partner = due.row.partner
        last = latest_registration(session, partner.id)
        if due.kind == NudgeKind.reengagement_note:
            return self._note(session, partner, last)
        window = self.services.program.protection_window_days
        # Not which one: a referral partner's people see only the registrations they submitted themselves.
        quiet = (f"Your last lead registration was {days_between(last.created_at, self.now)} ago." if last else
                 f"We haven't had a lead registration from you in {days_between(partner.stage_since, self.now)}.")
        return NudgeContent(
            title=f"Anything new to register, {partner.name}?",
            lines=(quiet,
                   f"A customer looking at a project? Press Register a lead: once approved, the deal is protected "
                   f"for you for {window} days and we keep you posted in a thread."),
            links=training_links(self.services.program), buttons=register_lead_button(),
            mentions=tuple(partner_contacts(session, partner.id)))

    def _note(self, session: Session, partner: Partner, last) -> NudgeContent:
        """The manager's note: how long, the last registration, what it still wins, and where to reach it."""
        stage = PartnerStage(partner.stage).value
        if last is not None:
            quiet = (f"{partner.name} has registered nothing for {days_between(last.created_at, self.now)}; its "
                     f"last registration was {last.reference} ({last.company}) on {on_day(last.created_at)}.")
        else:
            quiet = (f"{partner.name} has registered nothing since it became {stage} on "
                     f"{on_day(partner.stage_since)}, {days_between(partner.stage_since, self.now)} ago.")
        won = won_figures(session, self.services.program, partner.id, now=self.now)
        lines = [quiet, f"Stage: {stage_label(partner.stage)} since {on_day(partner.stage_since)}. Last 12 months: "
                        f"{won.describe() if won.deals else 'no deal won'}."]
        if partner.slack_channel_id:
            lines.append("Its channel gets a nudge with Register a lead. A word from you does more: ask what they "
                         "are working on, or offer a refresher on what to register.")
            links = (("Open its shared channel", "https://slack.com/app_redirect?" +
                      urlencode({"channel": partner.slack_channel_id})),)
        else:
            lines.append("It has no shared channel, so only you were told: reach out to its people directly.")
            links = ()
        if not partner.manager_slack_id:
            lines.append("It has no partner manager, so this comes to you as one who runs the program.")
        lines.append(f"The whole picture: /partner show {partner.name}")
        return NudgeContent(title=f"{partner.name} has gone quiet", lines=tuple(lines), links=links)


def reengagement_nudges(services: Services, now: datetime,
                        partner_ids: frozenset[int] | None = None) -> ReengagementNudges | None:
    return ReengagementNudges(services, now, partner_ids) if services.program.nudges.reengagement.enabled else None
