"""The weekly digest (issue 11): each partner manager (their partners) and each admin (the whole program) gets one
DM a week with last week's figures (workflows/reporting.py), what needs action with buttons, and a chart.

It is a kind of nudge (run_nudges, the `digest` NudgeKind): one Nudge row per recipient and week with a unique key
(digest, manager:U1 or program, U1, the recipient's local ISO week), written in the same transaction as the digest
message and its chart in the Slack outbox. So two runs or two processes never send it twice, and a run after
downtime sends this week's once (a two-week outage: one, this week's). A recipient is owed it once their own local
time (Slack's users.info zone, kept a week as nudges keep it) has passed `digest.schedule` this week; it then goes
at once, not at the next working hour. The figures are computed before the writing transaction (reads only), for
those still owed this week.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlmodel import Session

from storage.actors import Actor, ActorKind
from storage.db import transaction
from storage.lists import HomeFilter, home_count
from storage.models import Role, TeamMember
from storage.nudges.managers import rollup_exists, rollup_for_actor
from storage.nudges.models import Nudge, NudgeKind
from storage.nudges.queries import nudge_keys_used
from storage.queries import program_runners
from workflows.digest_chart import ChartSpec, ChartWeek
from workflows.nudge_managers import iso_week
from workflows.nudges import Due, NudgeReport, run_nudges, time_zones
from workflows.periods import Period
from workflows.program import DigestRules
from workflows.report_figures import Figures, GroupBy, Headline, LeadToClose, WeekPoint
from workflows.reporting import (
    CHART_WEEKS,
    DirectFigures,
    Scope,
    compute_figures,
    compute_figures_by_manager,
    direct_for,
    headline_figures,
    headline_figures_by_manager,
    lead_to_close_by,
    lead_to_close_by_manager,
    report_scope,
    weekly_series,
    weekly_series_by_manager,
)
from workflows.services import ACK_LOCK_TIMEOUT, NotAllowed, NotFound, Services
from workflows.working_hours import zone_named

PROGRAM_SUBJECT = "program"  # an admin's digest: the whole program
# Salesforce's direct figures are org-wide: one run asks once per period (readers in one zone share a week).
DirectRead = tuple[DirectFigures | None, str | None]


@dataclass(frozen=True)
class Reader:
    """Who gets a digest, in which zone, about what."""

    slack_id: str
    name: str
    admin: bool
    zone: str  # an IANA name (Slack's, else the program's default)

    @property
    def subject(self) -> str:
        return PROGRAM_SUBJECT if self.admin else f"manager:{self.slack_id}"

    @property
    def scope(self) -> Scope:
        return Scope.everything() if self.admin else Scope.of_manager(self.slack_id, label="your partners")


def reader_of(member: TeamMember, zone: str | None, rules_zone: str) -> Reader:
    return Reader(member.slack_user_id, member.name, member.role == Role.admin,
                  zone_named(zone, rules_zone).key)


@dataclass(frozen=True)
class ScopeWeek:
    """A digest's figures of one scope and week: the week's figures, the week before's headline (for the changes),
    lead-to-close by partner type and the chart. Readers with the same scope, week and zone (the admins) share
    one."""

    figures: Figures
    before: Headline
    by_type: tuple[LeadToClose, ...]
    chart: ChartSpec


@dataclass(frozen=True)
class DigestContent:
    """What one digest says: the week's figures and the week before's headline (for the changes), lead-to-close by
    partner type, the chart's weeks, and what waits for the reader (registrations for their review: App Home's
    list)."""

    reader: Reader
    figures: Figures
    before: Headline
    by_type: tuple[LeadToClose, ...]
    chart: ChartSpec
    pending_reviews: int

    @property
    def stuck(self) -> int:
        return self.figures.funnel.stuck


def scheduled_moment(now: datetime, zone: ZoneInfo, rules: DigestRules) -> datetime:
    """This week's digest time (the reader's local Monday-to-Sunday week), in UTC; built from the wall clock, so a
    daylight-saving change keeps it at the same local time."""
    local = now.astimezone(zone)
    day = local.date() - timedelta(days=local.weekday()) + timedelta(days=rules.weekday)
    return datetime.combine(day, time(*rules.at), tzinfo=zone).astimezone(timezone.utc)


def digest_week(now: datetime, zone: ZoneInfo) -> str:
    """The key's period: the reader's local ISO week."""
    return iso_week(now.astimezone(zone))


# (scope, week start, week end, zone): what a run's readers share
ScopeWeekKey = tuple[Scope, datetime, datetime, str]


def scope_week_key(scope: Scope, period: Period) -> ScopeWeekKey:
    return scope, period.start, period.end, period.zone


def direct_reads_for(services: Services, period: Period,
                     reads: dict[tuple[datetime, datetime, str], DirectRead]) -> tuple[DirectRead, DirectRead]:
    """Salesforce's direct figures of `period` and the week before, asked once per week and zone in `reads`."""
    for week in (period, period.previous()):
        if (week.start, week.end, week.zone) not in reads:
            reads[(week.start, week.end, week.zone)] = direct_for(services, week, weeks=CHART_WEEKS)
    earlier = period.previous()
    return reads[(period.start, period.end, period.zone)], reads[(earlier.start, earlier.end, earlier.zone)]


def scope_week(services: Services, scope: Scope, period: Period, now: datetime,
               reads: dict[tuple[datetime, datetime, str], DirectRead]) -> ScopeWeek:
    """Every figure a digest of `scope` shows for the week `period` (reads only)."""
    (this_direct, this_error), (before_direct, _) = direct_reads_for(services, period, reads)
    figures = compute_figures(services, period, scope, direct=this_direct, direct_error=this_error, now=now)
    return scope_week_of(services, figures, headline_figures(services, period.previous(), scope,
                                                             direct=before_direct),
                         tuple(lead_to_close_by(services, period, scope, GroupBy.type)),
                         weekly_series(services, scope, until=period, weeks=CHART_WEEKS, direct=this_direct))


def scope_week_of(services: Services, figures: Figures, before: Headline, by_type: tuple[LeadToClose, ...],
                  series: tuple[WeekPoint, ...]) -> ScopeWeek:
    chart = ChartSpec(tuple(ChartWeek(point.week_start, point.sourced.value,
                                      None if point.direct is None else point.direct.value) for point in series),
                      figures.base_currency, title="New pipeline per week: partner-sourced vs direct")
    return ScopeWeek(figures, before, by_type, chart)


def manager_weeks(services: Services, period: Period, managers: list[str], now: datetime,
                  reads: dict[tuple[datetime, datetime, str], DirectRead]) -> dict[ScopeWeekKey, ScopeWeek]:
    """scope_week of each partner manager in `managers` for the week `period`, each query run once for them all
    (grouped by the partner's manager): what a run's due managers in one zone share."""
    (this_direct, this_error), (before_direct, _) = direct_reads_for(services, period, reads)
    scopes = {manager: Reader(manager, "", False, period.zone).scope for manager in managers}
    figures = compute_figures_by_manager(services, period, scopes, direct=this_direct, direct_error=this_error,
                                         now=now)
    before = headline_figures_by_manager(services, period.previous(), managers, direct=before_direct)
    by_type = lead_to_close_by_manager(services, period, managers, GroupBy.type)
    series = weekly_series_by_manager(services, managers, until=period, weeks=CHART_WEEKS, direct=this_direct)
    return {scope_week_key(scopes[manager], period): scope_week_of(
        services, figures[manager], before[manager], tuple(by_type.get(manager, ())), series[manager])
        for manager in managers}


def share_manager_weeks(services: Services, readers: list[Reader], now: datetime,
                        shared: dict[ScopeWeekKey, ScopeWeek], reads: dict[tuple[datetime, datetime, str], DirectRead]
                        ) -> None:
    """Put the partner managers' among `readers` figures in `shared`, computed together per week and zone
    (manager_weeks), so that digest_content finds them."""
    weeks: dict[Period, list[str]] = {}
    for reader in readers:
        period = Period.parse("week", now, reader.zone)
        if not reader.admin and scope_week_key(reader.scope, period) not in shared:
            weeks.setdefault(period, []).append(reader.slack_id)
    for period, slack_ids in weeks.items():
        shared.update(manager_weeks(services, period, slack_ids, now, reads))


def digest_content(services: Services, reader: Reader, now: datetime, *,
                   direct_reads: dict[tuple[datetime, datetime, str], DirectRead] | None = None,
                   shared: dict[ScopeWeekKey, ScopeWeek] | None = None) -> DigestContent:
    """The figures of the week that ended most recently in the reader's zone, for the reader's scope (reads only).
    Direct figures come from Salesforce (services.read_direct), once per week and zone in `direct_reads`; a scope's
    week is computed once per run in `shared` (readers of the same scope, week and zone)."""
    period = Period.parse("week", now, reader.zone)
    shared = {} if shared is None else shared
    key = scope_week_key(reader.scope, period)
    if key not in shared:
        shared[key] = scope_week(services, reader.scope, period, now, {} if direct_reads is None else direct_reads)
    week = shared[key]
    with Session(services.engine) as session:
        actor = Actor(reader.slack_id, services.our_team_id, ActorKind.internal,
                      role=Role.admin if reader.admin else Role.partner_manager)
        pending, _ = home_count(session, actor, HomeFilter.waiting)
    return DigestContent(reader, week.figures, week.before, week.by_type, week.chart, pending)


@dataclass
class DigestRow:
    reader: Reader
    week: str
    due: bool  # the reader's local time has passed this week's schedule, and no digest of this week exists


@dataclass
class DigestNudges:
    """Partner managers and admins owed this week's digest (a NudgeSource that queues its own message)."""

    services: Services
    now: datetime
    readers: list[Reader]
    direct_reads: dict = field(default_factory=dict)  # Salesforce asked once per week and zone in a run
    shared: dict = field(default_factory=dict)  # a scope's week computed once in a run (ScopeWeekKey: ScopeWeek)
    kind = NudgeKind.digest

    def page(self, session: Session, *, after, limit: int) -> list[DigestRow]:
        readers = [r for r in self.readers if after is None or r.slack_id > after][:limit]
        rows = [DigestRow(r, digest_week(self.now, ZoneInfo(r.zone)), False) for r in readers]
        used = nudge_keys_used(session, [self._due(row).key for row in rows])
        rules = self.services.program.digest
        for row in rows:  # the figures are computed only for those still owed
            row.due = self._due(row).key not in used and \
                self.now >= scheduled_moment(self.now, ZoneInfo(row.reader.zone), rules)
        share_manager_weeks(self.services, [row.reader for row in rows if row.due], self.now, self.shared,
                            self.direct_reads)
        return rows

    def cursor(self, row: DigestRow):
        return row.reader.slack_id

    def _due(self, row: DigestRow, content: DigestContent | None = None) -> Due:
        return Due(kind=self.kind, subject=row.reader.subject, recipient=row.reader.slack_id, period=row.week,
                   zone=row.reader.zone, row=content, deliver_at=self.now)

    def owed(self, row: DigestRow) -> list[Due]:
        if not row.due:
            return []
        return [self._due(row, digest_content(self.services, row.reader, self.now, direct_reads=self.direct_reads,
                                                  shared=self.shared))]

    def content(self, session: Session, due: Due, nudge: Nudge):  # the digest is no nudge: `deliver` queues it
        raise NotImplementedError

    def deliver(self, session: Session, due: Due, nudge: Nudge) -> None:
        self.services.notifier.digest(session, nudge, due.row)


def readers(services: Services, now: datetime) -> list[Reader]:
    """Every partner manager and admin, with their time zone (asked of Slack outside any transaction)."""
    with Session(services.engine) as session:
        members = program_runners(session)
    zones = time_zones(services, [m.slack_user_id for m in members], now)
    default = services.program.nudges.default_time_zone
    return sorted((reader_of(m, zones.get(m.slack_user_id), default) for m in members), key=lambda r: r.slack_id)


def digest_nudges(services: Services, now: datetime) -> DigestNudges | None:
    return DigestNudges(services, now, readers(services, now)) if services.program.digest.enabled else None


def send_due_digests(services: Services) -> NudgeReport:
    """Create the digests due now (each recipient once a week, once their local time passed the schedule)."""
    now, report = services.clock(), NudgeReport()
    source = digest_nudges(services, now)
    if source is not None:
        run_nudges(services, source, report=report, now=now)
    return report


# The preview and Full report --------------------------------------------------------------------------------
def preview_digest(services: Services, slack_id: str | None = None) -> DigestContent:
    """What `slack_id`'s next digest would say now (default: the first admin, else partner manager); nothing is
    stored or sent. Only partner managers and admins get a digest."""
    now = services.clock()
    with Session(services.engine) as session:
        members = program_runners(session)
    if not members:
        raise NotFound("No partner manager or admin is imported yet: there is nobody to send a digest to.")
    if slack_id is None:
        member = sorted(members, key=lambda m: (m.role != Role.admin, m.slack_user_id))[0]
    else:
        member = next((m for m in members if m.slack_user_id == slack_id), None)
        if member is None:
            raise NotFound(f"{slack_id} is not a partner manager or admin: only they get a digest.")
    zone = time_zones(services, [member.slack_user_id], now, store=False).get(member.slack_user_id)
    return digest_content(services, reader_of(member, zone, services.program.nudges.default_time_zone), now)


@dataclass(frozen=True)
class DigestOutcome:
    """`message` is safe mrkdwn (no user text)."""

    changed: bool
    message: str
    replayed: bool = False


def digest_of(services: Services, actor: Actor, nudge_id: int) -> Nudge:
    """The digest whose Review or Full report `actor` pressed, if it was sent to them: what these open is theirs
    (their list; a reply in their DM), so not even an admin opens them on someone else's digest."""
    with Session(services.engine) as session:
        nudge = rollup_for_actor(session, nudge_id, actor, kinds=(NudgeKind.digest,))
        if nudge is None or nudge.recipient != actor.slack_user_id:
            if nudge is not None or rollup_exists(session, nudge_id, kinds=(NudgeKind.digest,)):
                raise NotAllowed("Only the person this digest was sent to can use its buttons.")
            raise NotFound("That digest no longer exists.")
        return Nudge.model_validate(nudge.model_dump())


def full_report(services: Services, actor: Actor, nudge_id: int) -> DigestOutcome:
    """The digest's Full report, in its thread: the digest's week (its stored ISO week) and scope, every section in
    full. Only the digest's recipient may ask, and only while they may still see that scope (an admin since made a
    partner manager may not); built after the ack (every figure, and Salesforce's direct ones, may take seconds),
    queued once per digest."""
    nudge = digest_of(services, actor, nudge_id)
    zone = time_zones(services, [nudge.recipient], services.clock()).get(nudge.recipient)
    reader = Reader(nudge.recipient, "", nudge.subject == PROGRAM_SUBJECT,
                    zone_named(zone, services.program.nudges.default_time_zone).key)
    if report_scope(services, actor, reader.scope) != reader.scope:
        raise NotAllowed("This digest covered more than you may see now, so its full report can't be built; "
                         "`/partner report week` shows what you may see.")
    sent_in = Period.parse(nudge.period, nudge.created_at, reader.zone)  # its key's week: the one it was sent in
    content = digest_content(services, reader, sent_in.start)  # so the week before it, the digest's
    with transaction(services.engine, lock_timeout=ACK_LOCK_TIMEOUT) as session:
        new = services.notifier.digest_full_report(session, nudge, content)
    services.kick()
    return DigestOutcome(bool(new), "The full report is in this digest's thread." if new else
                         "The full report is in this digest's thread already.")
