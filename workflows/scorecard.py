"""The partners' monthly scorecard (issue 11): last month's registrations, approvals, wins, lead-to-close against
the partner type's average, and the protections ending in the next 30 days. Only the partner's own figures, ever:
the scope comes from the report rules in storage (storage/reporting_scope.py scope_for), never from the request.

It is a kind of nudge (run_nudges, the `scorecard` NudgeKind): from `scorecard.day` of each month (the partner's time
zone: the program file's, else the program's default) one Nudge row per partner and month with a unique key,
written with its Slack outbox message, which goes out at the next working hour in the partner's zone (else its
manager's). Two runs or two processes never send it twice; a run after downtime sends the month's once.

A referral partner's people may each see only the registrations they submitted (storage/queries.py
sees_only_own_registrations), and its shared channel never shows one contact's deals to the others
(registration_thread_channel). A figure for the whole partner would tell each contact the others' numbers, so a
referral partner gets no channel scorecard: each listed contact gets their own by DM, covering what they submitted.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlmodel import Session

from storage.actors import Actor
from storage.db import read_snapshot
from storage.models import Partner
from storage.nudges.models import Nudge, NudgeKind
from storage.nudges.queries import muted, nudge_keys_used
from storage.queries import partner_by_channel, sees_only_own_registrations
from storage.reporting_scope import Scope
from storage.scorecard import (
    Expiring,
    expiring_protections,
    listed_contacts,
    partners_in_type_average,
    registration_activity,
    scorecard_partners,
)
from workflows.money import Money
from workflows.nudges import Due, NudgeAction, NudgeButton, NudgeContent, NudgeReport, plural, run_nudges
from workflows.periods import Period, PeriodKind
from workflows.report_figures import LeadToClose
from workflows.reporting import partner_against_type, report_scope
from workflows.services import NotFound, Services
from workflows.working_hours import zone_named

EXPIRY_DAYS = 30  # protections ending within this many days are listed
EXPIRING_SHOWN = 10
# The type's average is shown only when it pools at least this many partners (this one included): with two, it
# would tell each partner the other's figures.
MIN_TYPE_POOL = 3


@dataclass(frozen=True)
class Scorecard:
    """One partner's (or one referral contact's) figures for a period, and how its type did."""

    partner_name: str
    partner_type: str
    scope: Scope
    period: Period
    base_currency: str
    submitted: int
    approved: int
    won: Money
    mine: LeadToClose
    type_average: LeadToClose
    type_pool: int  # partners of the type with a decided registration in the period
    expiring: tuple[Expiring, ...]
    expiring_total: int

    @property
    def personal(self) -> bool:
        """A referral contact's own scorecard: only the registrations they submitted."""
        return self.scope.submitted_by_slack_id is not None

    @property
    def shows_type_average(self) -> bool:
        return self.type_pool >= MIN_TYPE_POOL


def partner_zone(services: Services, partner: Partner) -> str:
    """The partner's time zone for its months: the program file's, else the program's default."""
    rules = services.program.nudges
    return zone_named(rules.partner_time_zones.get(partner.name), rules.default_time_zone).key


def compute_scorecard(services: Services, scope: Scope, period: Period, *, now: datetime | None = None) -> Scorecard:
    """The scorecard of `scope` (a partner scope from the report rules) for `period` (reads only)."""
    if scope.partner_id is None:
        raise ValueError("a scorecard needs a partner scope")
    now = now or services.clock()
    rules = services.program.routing
    mine, average = partner_against_type(services, period, scope)
    with read_snapshot(services.engine) as session:
        partner = session.get(Partner, scope.partner_id)
        name, partner_type = partner.name, str(partner.type)
        activity = registration_activity(session, scope, period.start, period.end)
        expiring, total = expiring_protections(session, scope, now, now + timedelta(days=EXPIRY_DAYS),
                                               limit=EXPIRING_SHOWN)
        pool = partners_in_type_average(session, partner_type, period.start, period.end)
    return Scorecard(name, partner_type, scope, period, rules.base_currency, activity.submitted,
                     activity.approved, Money.of(activity.won, rules), mine, average, pool, tuple(expiring), total)


# What it says -------------------------------------------------------------------------------------------------
def period_name(period: Period) -> str:
    """"November 2026" for a month; the period's label otherwise."""
    return f"{period.first_day:%B %Y}" if period.kind is PeriodKind.month else period.label


def _ratio(ratio: LeadToClose) -> str:
    if ratio.ratio is None:
        return f"none decided yet ({ratio.open} still open)" if ratio.open else "nothing submitted"
    return f"{ratio.ratio}% ({ratio.won} won of {ratio.decided} decided" + \
        (f", {ratio.open} still open)" if ratio.open else ")")


def scorecard_title(card: Scorecard) -> str:
    if card.personal:
        return f"Your scorecard for {period_name(card.period)}: what you registered for {card.partner_name}"
    if card.scope.assignee_slack_id:  # an AE sees the partner's deals assigned to them, not the whole partner's
        return f"{card.partner_name}'s scorecard for {period_name(card.period)}: the deals assigned to you"
    return f"{card.partner_name}'s scorecard for {period_name(card.period)}"


def scorecard_lines(card: Scorecard) -> tuple[str, ...]:
    """The scorecard as plain lines (escaped when rendered: company and partner names are user text)."""
    won = card.won
    value = f" worth {won.value:,.0f} {card.base_currency}" if won.count else ""
    if won.unconverted:
        value += f" (not counting {', '.join(won.unconverted)}: no exchange rate)"
    lines = [f"Registrations: {card.submitted} submitted, {card.approved} approved, {plural(won.count, 'deal')} "
             f"won{value}",
             f"Lead-to-close: {_ratio(card.mine)}"]
    kind = f"{card.partner_type.capitalize()} partners"
    if card.shows_type_average:
        lines.append(f"{kind} on average: {_ratio(card.type_average)}")
    else:
        lines.append(f"{kind} on average: not shown this time (fewer than {MIN_TYPE_POOL} partners of the type had "
                     "a registration decided)")
    if card.expiring:
        lines.append(f"Protection ending in the next {EXPIRY_DAYS} days (ask for an extension in the registration's "
                     "thread):")
        lines += [f"• {item.reference} {item.company}: {item.expires_at:%-d %b %Y}" for item in card.expiring]
        if card.expiring_total > len(card.expiring):
            lines.append(f"and {card.expiring_total - len(card.expiring)} more")
    else:
        lines.append(f"No protection ends in the next {EXPIRY_DAYS} days.")
    return tuple(lines)


def scorecard_content(card: Scorecard) -> NudgeContent:
    """The monthly message: no Snooze (it comes once a month), Not relevant stops it; Register a lead in a
    channel (the desk's button)."""
    buttons = () if card.personal else (NudgeButton(NudgeAction.register_lead, "Register a lead"),)
    return NudgeContent(title=scorecard_title(card), lines=scorecard_lines(card), buttons=buttons, snooze=False)


# The monthly job -----------------------------------------------------------------------------------------------
@dataclass
class ScorecardRow:
    partner: Partner
    dues: list[Due]


@dataclass
class ScorecardNudges:
    """Partners (or referral contacts) owed last month's scorecard (a NudgeSource). The figures are computed in
    `page`, before the writing transaction and only for those still owed."""

    services: Services
    now: datetime
    kind = NudgeKind.scorecard

    def page(self, session: Session, *, after, limit: int) -> list[ScorecardRow]:
        partners = scorecard_partners(session, after=after, limit=limit)
        contacts = listed_contacts(session, [p.id for p in partners if sees_only_own_registrations(p.type)])
        rows = [ScorecardRow(p, self._dues(p, contacts.get(p.id, []))) for p in partners]
        dues = [due for row in rows for due in row.dues]
        used = nudge_keys_used(session, [due.key for due in dues])
        stopped = muted(session, [(self.kind, due.subject) for due in dues], self.now)  # Not relevant: for good
        for row in rows:
            row.dues = [self._with_card(due) for due in row.dues
                        if due.key not in used and (self.kind, due.subject) not in stopped]
        return rows

    def cursor(self, row: ScorecardRow) -> int:
        return row.partner.id

    def _dues(self, partner: Partner, contacts: list[str]) -> list[Due]:
        zone = partner_zone(self.services, partner)
        local = self.now.astimezone(zone_named(zone))
        period = Period.parse("month", self.now, zone)
        if local.day < self.services.program.scorecard.day or partner.created_at >= period.end:
            return []
        named_zone = self.services.program.nudges.partner_time_zones.get(partner.name)
        if sees_only_own_registrations(partner.type):  # the scope scope_for gives the contact: what they submitted
            return [Due(kind=self.kind, subject=f"contact:{contact}", recipient=contact, period=period.label,
                        partner_id=partner.id, zone_user=contact, zone=named_zone,
                        row=(partner, period, replace(Scope.of_partner(partner.id, partner.name),
                                                      submitted_by_slack_id=contact)))
                    for contact in contacts]
        return [Due(kind=self.kind, subject=f"partner:{partner.id}", recipient=partner.slack_channel_id,
                    period=period.label, partner_id=partner.id, zone_user=partner.manager_slack_id, zone=named_zone,
                    row=(partner, period, Scope.of_partner(partner.id, partner.name)))]

    def _with_card(self, due: Due) -> Due:
        _, period, scope = due.row
        return replace(due, row=compute_scorecard(self.services, scope, period, now=self.now))

    def owed(self, row: ScorecardRow) -> list[Due]:
        return row.dues

    def content(self, session: Session, due: Due, nudge: Nudge) -> NudgeContent:
        return scorecard_content(due.row)


def send_due_scorecards(services: Services) -> NudgeReport:
    """Create the scorecards due now (each partner, or referral contact, once a month); they go out at working
    hours in the partner's zone."""
    now, report = services.clock(), NudgeReport()
    if services.program.scorecard.enabled:
        run_nudges(services, ScorecardNudges(services, now), report=report, now=now)
    return report


# On demand ------------------------------------------------------------------------------------------------------
def scorecard_for(services: Services, actor: Actor, *, channel_id: str | None = None,
                  period_text: str = "month") -> Scorecard:
    """The scorecard `actor` asks for (My scorecard, `/partner report` by a partner): a partner's person gets their
    own (a referral contact only what they submitted); our own team, in a partner's channel, that partner's, if
    the report rules let them see it. Raises NotAllowed / NotFound with the reason, PeriodError for a bad period."""
    requested = Scope.everything()
    if not actor.is_partner:
        with Session(services.engine) as session:
            partner = partner_by_channel(session, channel_id) if channel_id else None
        if partner is None and actor.is_internal:
            raise NotFound("A scorecard is a partner's: press My scorecard in a partner's channel, or ask for "
                           "`/partner report month <partner name>`.")
        if partner is not None:
            requested = Scope.of_partner(partner.id, partner.name)
    scope = report_scope(services, actor, requested)
    with Session(services.engine) as session:
        partner = session.get(Partner, scope.partner_id)
        zone = partner_zone(services, partner)
    return compute_scorecard(services, scope, Period.parse(period_text, services.clock(), zone))
