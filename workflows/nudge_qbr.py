"""QBR prep (program.nudges.qbr): in the first week of each quarter (days 1-7 of January, April, July, October,
UTC), the manager of each strategic partner (else the first program runner) gets a brief of the quarter that just
ended, compared with the one before: registrations, won value in the routing base currency, win rate, upsells,
stage changes, and the pipeline open now. Once per partner and quarter (the period is the quarter reported on)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal

from sqlmodel import Session

from storage.lifecycle import member_name
from storage.models import Partner, PartnerStageEvent
from storage.nudges.models import Nudge, NudgeKind
from storage.nudges.qbr import Amounts, QuarterCounts, open_pipeline, quarter_counts, stage_changes, strategic_partners
from storage.queries import first_program_runner
from workflows.amounts import shown
from workflows.money import Money
from workflows.nudge_partners import partner_subject
from workflows.nudges import Due, NudgeContent, plural
from workflows.program import Program
from workflows.services import Services

FIRST_WEEK_DAYS = 7
STAGE_CHANGES_SHOWN = 5


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    number: int  # 1-4

    @classmethod
    def of(cls, when: datetime) -> Quarter:
        return cls(when.year, (when.month - 1) // 3 + 1)

    @property
    def start(self) -> datetime:
        return datetime(self.year, 3 * self.number - 2, 1, tzinfo=timezone.utc)

    @property
    def end(self) -> datetime:
        return self.following().start

    def previous(self) -> Quarter:
        return Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)

    def following(self) -> Quarter:
        return Quarter(self.year + 1, 1) if self.number == 4 else Quarter(self.year, self.number + 1)

    def __str__(self) -> str:
        return f"{self.year}-Q{self.number}"


def in_first_week(now: datetime) -> bool:
    utc = now.astimezone(timezone.utc)
    return utc.month in (1, 4, 7, 10) and utc.day <= FIRST_WEEK_DAYS


def in_base(amounts: Amounts, program: Program) -> Money:
    return Money.of(amounts, program.routing)


@dataclass
class QuarterFigures:
    """A quarter's figures as the brief shows them (values in the base currency)."""

    registrations: int
    won: Money
    lost: int
    upsells_flagged: int
    upsells_won: Money

    @property
    def closed(self) -> int:
        return self.won.count + self.lost

    @property
    def win_rate(self) -> int | None:
        """Won deals as a share of the deals won or lost in the quarter, in whole percent; None when none closed."""
        return round(100 * self.won.count / self.closed) if self.closed else None

    @classmethod
    def of(cls, counts: QuarterCounts, program: Program) -> QuarterFigures:
        return cls(counts.registrations, in_base(counts.won, program), counts.lost, counts.upsells_flagged,
                   in_base(counts.upsells_won, program))


@dataclass
class QbrBrief:
    """What a strategic partner's manager reads before the QBR: this quarter, the one before, and now."""

    partner: Partner
    quarter: Quarter
    this: QuarterFigures
    before: QuarterFigures
    pipeline: Money
    changes: list[PartnerStageEvent] = field(default_factory=list)
    who: dict[str, str] = field(default_factory=dict)  # actor of a stage change -> a name


def qbr_brief(session: Session, program: Program, partner: Partner, quarter: Quarter) -> QbrBrief:
    """The brief's figures, each from an aggregate query."""
    this = QuarterFigures.of(quarter_counts(session, partner.id, quarter.start, quarter.end), program)
    earlier = quarter.previous()
    before = QuarterFigures.of(quarter_counts(session, partner.id, earlier.start, earlier.end), program)
    changes = stage_changes(session, partner.id, quarter.start, quarter.end, limit=STAGE_CHANGES_SHOWN)
    who = {event.actor: member_name(session, event.actor) or event.actor for event in changes
           if not event.actor.startswith("rule:") and event.actor not in ("import", "migration")}
    return QbrBrief(partner, quarter, this, before, in_base(open_pipeline(session, partner.id), program), changes,
                    who)


def signed(difference: int | Decimal) -> str:
    if difference == 0:
        return "±0"
    return f"+{shown(Decimal(difference))}" if difference > 0 else f"−{shown(Decimal(-difference))}"


def _value(converted: Money, base: str) -> str:
    text = f"{shown(converted.value)} {base}"
    if converted.unconverted:
        text += f" (not counting {', '.join(converted.unconverted)}: no exchange rate)"
    return text


def _actor(event: PartnerStageEvent, who: dict[str, str]) -> str:
    if event.actor.startswith("rule:"):
        return "automatic"
    return who.get(event.actor, event.actor)


def _rate_change(this: QuarterFigures, before: QuarterFigures, earlier: Quarter) -> str:
    if this.win_rate is not None and before.win_rate is not None:
        return f"{signed(this.win_rate - before.win_rate)} points vs {earlier}"
    if before.win_rate is not None:
        return f"{before.win_rate}% in {earlier}"
    return f"none closed in {earlier} either" if this.win_rate is None else f"none closed in {earlier}"


def brief_lines(brief: QbrBrief, base: str) -> tuple[str, ...]:
    """The brief as plain lines (escaped when rendered): each figure with its change since the quarter before."""
    this, before, earlier = brief.this, brief.before, brief.quarter.previous()
    vs = f"vs {earlier}"
    rate = "no deal won or lost" if this.win_rate is None else \
        f"{this.win_rate}% ({this.won.count} won, {this.lost} lost)"
    rate_change = _rate_change(this, before, earlier)
    lines = [
        f"Registrations: {this.registrations} ({signed(this.registrations - before.registrations)} {vs})",
        f"Won: {plural(this.won.count, 'deal')} for {_value(this.won, base)} "
        f"({signed(this.won.count - before.won.count)} deals, {signed(this.won.value - before.won.value)} {base} "
        f"{vs})",
        f"Win rate: {rate}; {rate_change}",
        f"Upsells: {this.upsells_flagged} flagged, {this.upsells_won.count} won for {_value(this.upsells_won, base)} "
        f"({signed(this.upsells_flagged - before.upsells_flagged)} flagged, "
        f"{signed(this.upsells_won.count - before.upsells_won.count)} won {vs})",
        f"Open pipeline now: {plural(brief.pipeline.count, 'registration')} in review or approved, "
        f"{_value(brief.pipeline, base)}",
    ]
    since = f"{brief.partner.stage.value} since {brief.partner.stage_since:%-d %b %Y}"
    if brief.changes:
        moves = "; ".join(f"{event.from_stage.value if event.from_stage else 'new'} → {event.to_stage.value} on "
                          f"{event.at:%-d %b %Y} ({_actor(event, brief.who)})" for event in brief.changes)
        lines.append(f"Stage: {since}. Changes in {brief.quarter}: {moves}")
    else:
        lines.append(f"Stage: {since}; no change in {brief.quarter}.")
    lines.append(f"The full card: /partner show {brief.partner.name}")
    return tuple(lines)


@dataclass
class QbrRow:
    partner: Partner
    recipient: str


@dataclass
class QbrNudges:
    """Strategic partners' quarterly briefs to their managers (a NudgeSource)."""

    services: Services
    now: datetime
    kind = NudgeKind.qbr

    @property
    def quarter(self) -> Quarter:
        """The quarter the brief is about: the one that just ended."""
        return Quarter.of(self.now.astimezone(timezone.utc)).previous()

    def page(self, session: Session, *, after, limit: int) -> list[QbrRow]:
        partners = strategic_partners(session, after=after, limit=limit)
        runner = first_program_runner(session) if any(p.manager_slack_id is None for p in partners) else None
        return [QbrRow(p, p.manager_slack_id or runner) for p in partners]

    def cursor(self, row: QbrRow):
        return row.partner.id

    def owed(self, row: QbrRow) -> list[Due]:
        if not row.recipient:
            return []
        return [Due(kind=self.kind, subject=partner_subject(row.partner), recipient=row.recipient,
                    period=str(self.quarter), partner_id=row.partner.id, zone_user=row.recipient, row=row.partner)]

    def content(self, session: Session, due: Due, nudge: Nudge) -> NudgeContent:
        program = self.services.program
        brief = qbr_brief(session, program, due.row, self.quarter)
        return NudgeContent(title=f"QBR prep: {brief.partner.name}, {brief.quarter}",
                            lines=brief_lines(brief, program.routing.base_currency))


def qbr_nudges(services: Services, now: datetime) -> QbrNudges | None:
    """Only in the first week of a quarter, and when the program file has it on."""
    return QbrNudges(services, now) if services.program.nudges.qbr.enabled and in_first_week(now) else None
