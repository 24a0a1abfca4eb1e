"""The manager roll-up (program.nudges.rollup): once a week (the period is the ISO week) a partner manager with
stuck partners gets a DM with how many are stuck in each stage, their names, and Nudge them all; partners without
a manager are in the first program runner's.

Stuck is what the partner nudges wait for: recruited or onboarded past `activation.after_days` with no
registration since, activated or producing past `reengagement.after_days` with none. Nudge them all creates each
stuck partner's own nudge (activation, or re-engagement) now, through the same mechanism and keys as the 15-minute
job (run_nudges with the kind's source limited to those partners), so a partner already nudged this period is not
nudged again; the roll-up then shows who pressed it and what it did.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session

from storage.actors import Actor
from storage.db import transaction
from storage.models import PartnerStage
from storage.nudges.managers import (
    Stuck,
    nudged_in_stage,
    owners_with_stuck_partners,
    rollup_exists,
    rollup_for_actor,
    stuck_counts,
    stuck_names,
    stuck_partners,
)
from storage.nudges.models import Nudge, NudgeKind, NudgeResponse
from storage.nudges.partners import ACTIVATION_STAGES, REENGAGEMENT_STAGES
from storage.nudges.queries import muted, nudge_keys_used
from storage.queries import first_program_runner
from workflows.nudge_partners import activation_nudges, reengagement_nudges
from workflows.nudges import (
    BATCH,
    Due,
    NudgeAction,
    NudgeButton,
    NudgeContent,
    NudgeSource,
    plural,
    record_response,
    run_nudges,
)
from workflows.services import ACK_LOCK_TIMEOUT, NotAllowed, NotFound, Services

PRESS_SECONDS = 1.5  # Nudge them all starts no chunk after this long (before the ack); the rest is the 15-minute
# job's, due by the same rule under the same keys
PRESS_CHUNK = 25  # partners per run_nudges (about 0.1-0.3 s on PostgreSQL), so the budget is not overrun by much
NAMES_SHOWN = 10  # partners named per stage; the rest are counted ("and 12 more")
NAMES_CHARS = 450  # ... and no more characters of names per stage, so the DM stays within a Slack section

# A source of one kind limited to some partners (the kind's own source, so the same keys), or None when the
# program file switches the kind off.
LimitedSource = Callable[[Services, datetime, frozenset[int]], NudgeSource | None]
SOURCES: dict[NudgeKind, LimitedSource] = {
    NudgeKind.activation: activation_nudges,
    NudgeKind.reengagement: reengagement_nudges,
}
KIND_OF_STAGE = {**{stage: NudgeKind.activation for stage in ACTIVATION_STAGES},
                 **{stage: NudgeKind.reengagement for stage in REENGAGEMENT_STAGES}}


def iso_week(now: datetime) -> str:
    year, week, _ = now.isocalendar()
    return f"{year}-W{week:02d}"


def stuck_rules(services: Services, now: datetime) -> Stuck:
    rules = services.program.nudges
    return Stuck(entered_before=now - timedelta(days=rules.activation.after_days),
                 quiet_since=now - timedelta(days=rules.reengagement.after_days))


def stuck_days(services: Services, stage: PartnerStage) -> int:
    rules = services.program.nudges
    return rules.activation.after_days if stage in ACTIVATION_STAGES else rules.reengagement.after_days


def owner_subject(owner: str) -> str:
    return f"manager:{owner}"


@dataclass
class RollupRow:
    owner: str  # the manager's Slack id
    counts: dict[PartnerStage, int]
    runner: str | None  # the first program runner (partners without a manager are theirs)


@dataclass
class RollupNudges:
    """Managers with stuck partners, each owed this week's roll-up (a NudgeSource)."""

    services: Services
    now: datetime
    kind = NudgeKind.rollup

    def page(self, session: Session, *, after, limit: int) -> list[RollupRow]:
        stuck, runner = stuck_rules(self.services, self.now), first_program_runner(session)
        owners = owners_with_stuck_partners(session, stuck, runner, after=after, limit=limit)
        counts = stuck_counts(session, stuck, runner, owners)
        return [RollupRow(owner, counts[owner], runner) for owner in owners]

    def cursor(self, row: RollupRow):
        return row.owner

    def owed(self, row: RollupRow) -> list[Due]:
        return [Due(kind=self.kind, subject=owner_subject(row.owner), recipient=row.owner,
                    period=iso_week(self.now), zone_user=row.owner, row=row)]

    def content(self, session: Session, due: Due, nudge: Nudge) -> NudgeContent:
        row: RollupRow = due.row
        stuck = stuck_rules(self.services, self.now)
        lines = []
        for stage in (s for s in KIND_OF_STAGE if row.counts.get(s)):
            names = stuck_names(session, stuck, row.runner, row.owner, stage, limit=NAMES_SHOWN)
            lines.append(f"{plural(row.counts[stage], 'partner')} stuck in {stage.value} for more than "
                         f"{stuck_days(self.services, stage)} days with no registration: "
                         f"{named(names, row.counts[stage])}")
        lines.append("Nudge them all sends each of them its nudge now, in its channel: the activation nudge "
                     "(recruited, onboarded) or the re-engagement nudge (activated, producing). A partner nudged "
                     "this period already is not nudged twice.")
        total = sum(row.counts.values())
        return NudgeContent(title=f"{plural(total, 'partner')} stuck this week",
                            lines=tuple(lines), buttons=(NudgeButton(NudgeAction.nudge_them_all, "Nudge them all"),))


def named(names: list[str], total: int) -> str:
    """`A, B, C and 12 more`: at most NAMES_SHOWN names and NAMES_CHARS characters of them."""
    shown, used = [], 0
    for name in names:
        if shown and used + len(name) > NAMES_CHARS:
            break
        shown.append(name if len(name) <= NAMES_CHARS else name[:NAMES_CHARS - 1] + "…")
        used += len(name) + 2
    rest = total - len(shown)
    return ", ".join(shown) + (f" and {rest} more" if rest else "")


def rollup_nudges(services: Services, now: datetime) -> RollupNudges | None:
    return RollupNudges(services, now) if services.program.nudges.rollup.enabled else None


# Nudge them all ------------------------------------------------------------------------------------------
@dataclass
class NudgedAll:
    """What Nudge them all did, per stuck partner: nudged now, nudged already (this period, or as many times as the
    kind allows in this stage), muted by its people (Snooze, Not relevant), or not nudgeable (no shared channel, or
    the kind switched off)."""

    nudged: int = 0
    already: int = 0
    muted: int = 0
    not_nudgeable: int = 0
    left: int = 0  # not reached before the ack: still due, so the 15-minute job nudges them (same keys)

    def describe(self) -> str:
        parts = [f"nudged {self.nudged}", f"{self.already} already nudged this period"]
        if self.muted:
            parts.append(f"{self.muted} muted (Snooze or Not relevant)")
        if self.not_nudgeable:
            parts.append(f"{self.not_nudgeable} not nudgeable (no shared channel, or the nudge is switched off)")
        if self.left:
            parts.append(f"{self.left} more left to the scheduled nudges (every 15 minutes)")
        return ", ".join(parts)


@dataclass(frozen=True)
class NudgeAllOutcome:
    """`message` is safe mrkdwn (numbers and a user mention)."""

    changed: bool
    message: str
    tally: NudgedAll = field(default_factory=NudgedAll)
    replayed: bool = False


def nudge_them_all(services: Services, actor: Actor, nudge_id: int) -> NudgeAllOutcome:
    """Each partner stuck for the roll-up's manager gets its own nudge now, once per period; committed before
    the ack. Only the manager the roll-up (or weekly digest: its Nudge N stuck partners) went to, or an admin, may
    press it."""
    now, deadline = services.clock(), time.perf_counter() + PRESS_SECONDS
    with Session(services.engine) as session:
        rollup = rollup_for_actor(session, nudge_id, actor)
        if rollup is None:
            if rollup_exists(session, nudge_id):
                raise NotAllowed("Only the partner manager this roll-up was sent to, or an admin, can nudge "
                                 "these partners.")
            raise NotFound("That roll-up no longer exists.")
        if rollup.response == NudgeResponse.acted:
            return _pressed_already(rollup)
        owner, runner = stuck_owner(session, rollup)
        stuck = {kind: stuck_partners(session, stuck_rules(services, now), runner, owner, stages)
                 for kind, stages in ((NudgeKind.activation, ACTIVATION_STAGES),
                                      (NudgeKind.reengagement, REENGAGEMENT_STAGES))}
    tally = NudgedAll()
    for kind, partner_ids in stuck.items():
        for start in range(0, len(partner_ids), PRESS_CHUNK):
            chunk = partner_ids[start:start + PRESS_CHUNK]
            if (tally.nudged or tally.already) and time.perf_counter() >= deadline:
                tally.left += len(chunk)
            else:
                _nudge_partners(services, kind, chunk, now, tally)
    with transaction(services.engine, lock_timeout=ACK_LOCK_TIMEOUT) as session:
        rollup = rollup_for_actor(session, nudge_id, actor, lock=True)
        if rollup is None:
            raise NotFound("That roll-up no longer exists.")
        if rollup.response == NudgeResponse.acted:  # a second press got here first: its line stays
            return _pressed_already(rollup)
        record_response(rollup, NudgeResponse.acted, actor.slack_user_id, now)
        session.add(rollup)
        note = f":mega: <@{actor.slack_user_id}> pressed Nudge them all: {tally.describe()}."
        services.notifier.nudge_answered(session, rollup, note=note)
    services.kick()
    return NudgeAllOutcome(True, note, tally)


def stuck_owner(session: Session, rollup: Nudge) -> tuple[str | None, str | None]:
    """Whose stuck partners a press nudges, and the runner who has partners without a manager: the roll-up's
    manager (with those partners if they are the first runner); a digest's manager (their own partners, as the
    digest counts them), or everyone's for an admin's digest (subject `program`)."""
    if rollup.kind == NudgeKind.digest:
        return (None if rollup.subject == "program" else rollup.subject.removeprefix("manager:")), None
    return rollup.subject.removeprefix("manager:"), first_program_runner(session)


def _pressed_already(rollup: Nudge) -> NudgeAllOutcome:
    return NudgeAllOutcome(False, f"<@{rollup.responded_by_slack_id}> already pressed Nudge them all on "
                                  f"{rollup.responded_at:%-d %b %Y at %H:%M} UTC; nothing was sent again.")


def _nudge_partners(services: Services, kind: NudgeKind, partner_ids: list[int], now: datetime,
                    tally: NudgedAll) -> None:
    """The kind's own nudge for these partners, through run_nudges, and what became of each partner."""
    factory = SOURCES.get(kind)
    source = factory(services, now, frozenset(partner_ids)) if factory else None
    if source is None:
        tally.not_nudgeable += len(partner_ids)
        return
    with Session(services.engine) as session:
        owed = _owed(session, source)
        before = nudge_keys_used(session, [due.key for due in owed])
    run_nudges(services, source, now=now)
    with Session(services.engine) as session:
        after = nudge_keys_used(session, [due.key for due in owed])
        stopped = muted(session, [(due.mute_kind, due.subject) for due in owed], now)
    outcome: dict[int, str] = {}
    for due in owed:  # a partner's main nudge decides (not a note to its manager beside it)
        if due.kind != kind or due.partner_id in outcome:
            continue
        outcome[due.partner_id] = "already" if due.key in before else "nudged" if due.key in after else \
            "muted" if (due.mute_kind, due.subject) in stopped else "not_nudgeable"
    not_owed = [partner_id for partner_id in partner_ids if partner_id not in outcome]
    if not_owed:  # a source may leave out whom it nudged already (its due query), or owe no more this stay
        with Session(services.engine) as session:
            nudged = nudged_in_stage(session, kind, not_owed)
        outcome.update({partner_id: "already" if partner_id in nudged else "not_nudgeable" for partner_id in not_owed})
    for state in outcome.values():
        setattr(tally, state, getattr(tally, state) + 1)


def _owed(session: Session, source: NudgeSource) -> list[Due]:
    """Every nudge the (limited) source owes, whether or not it was sent already."""
    owed, after = [], None
    while True:
        page = source.page(session, after=after, limit=BATCH)
        owed.extend(due for row in page for due in source.owed(row))
        if len(page) < BATCH:
            return owed
        after = source.cursor(page[-1])
