"""What bench/bench_ack.py measured, and its tables: acks by request and app against the bare Bolt app, the soak,
resident memory and CPU by process."""

from __future__ import annotations

import argparse
import json
import os
import statistics
from collections import Counter
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

from handlers.common import DATABASE_BUSY

SUBMIT, LEAD, HOME = "submission", "/lead", "App Home"
KINDS = (SUBMIT, LEAD, HOME)
BARE, BARE_AT_ACK = "bare bolt", "bare at ack"
APPS = ("partnerbot", BARE, BARE_AT_ACK)  # the bare apps: bench/bare_app.py
SLACK_LIMIT_MS = 3000.0
TARGET = 1.5


@dataclass
class Sample:
    app: str
    kind: str
    ms: float
    ok: bool  # answered 200
    refused: str | None = None  # the form answered with errors: Partnerbot's "very busy, try again", or worse
    at: float = 0.0  # when it was sent (time.monotonic())
    error: str | None = None  # why it got no answer


QUIET, BUSY, SOAK = "jobs on their schedule", "jobs looping", "soak"


@dataclass
class Phase:
    name: str
    samples: list[Sample]
    behind_ms: float  # the latest send behind its time
    cpu: tuple[dict, dict]  # CPU seconds by role at its start and end


@dataclass
class Result:
    target: str
    phases: dict[str, Phase] = field(default_factory=dict)
    memory: list[tuple[str, dict]] = field(default_factory=list)  # (when, MB by role)
    jobs: dict = field(default_factory=dict)
    api_errors: Counter = field(default_factory=Counter)
    outbox: dict = field(default_factory=dict)
    logged: dict[str, Counter] = field(default_factory=dict)
    gc_pause_ms: float = 0.0


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def report(result: Result, options: argparse.Namespace, console: Console) -> None:
    behind = f"{options.behind_days:g} days behind the clock" if options.behind_days else "as of the start"
    console.print(f"[bold]{result.target}, {options.registrations:,} registrations ({behind})[/]: acks (ms) with "
                  f"each app getting "
                  f"{options.rate:g} form submissions, {options.rate / 2:g} /lead and {options.rate / 2:g} App Home "
                  f"opens a second for {options.seconds:g} s")
    for name in (QUIET, BUSY):
        _ack_table(result.phases[name], console)
    console.print("  >3 s: acks Slack would have given up on; failed: not answered 200; busy: the form answered "
                  "\"very busy, try again\"")
    soak = result.phases[SOAK]
    table = Table(title=f"soak: Partnerbot alone, {len(soak.samples):,} requests at up to {options.soak_rate:g} a "
                        f"second, a quarter of them submissions (sent up to {soak.behind_ms:.0f} ms late)")
    for column in ("request", "n", "p50", "p99", "max", ">3 s", "failed", "busy"):
        table.add_column(column, justify="left" if column == "request" else "right")
    for kind in KINDS:
        samples = [s for s in soak.samples if s.kind == kind]
        if samples:
            table.add_row(kind, *_latency_cells(samples))
    console.print(table)

    rss = Table(title="resident memory of `partnerbot serve` (MB)")
    for column in ("when", "serve", "its worker", "other", "in all", BARE):
        rss.add_column(column, justify="left" if column == "when" else "right")
    for label, row in result.memory:
        cells = [row.get(role, 0.0) for role in ("serve", "worker", "other")]
        rss.add_row(label, *(f"{mb:.0f}" for mb in cells), f"{sum(cells):.0f}", f"{row.get(BARE, 0):.0f}")
    console.print(rss)
    console.print("  other: serve's other child, multiprocessing's resource tracker")
    console.print(_cpu_table(result))

    jobs = result.jobs
    console.print(f"  the job loop: {jobs.get('runs', 0):,} runs of both jobs in {jobs.get('seconds', 0):.0f} s; "
                  f"{jobs.get('reminded', 0):,} reminders, {jobs.get('expired', 0):,} expiries, "
                  f"{jobs.get('errors', 0)} failures")
    console.print(f"  the driver's process: longest garbage-collection pause {result.gc_pause_ms:.0f} ms")
    console.print(f"  Slack outbox at the end: {result.outbox}")
    errors = ", ".join(f"{name} x{count}" for name, count in result.api_errors.most_common()) or "none"
    console.print(f"  Web API errors the sandbox answered: {errors}")
    samples = [s for phase in result.phases.values() for s in phase.samples]
    for text, count in Counter(s.refused for s in samples if s.refused and not _busy(s)).most_common(3):
        console.print(f"  [red]form refused x{count}:[/] {text}")
    for text, count in Counter(s.error for s in samples if s.error).most_common(3):
        console.print(f"  [red]no answer x{count}:[/] {text}")
    for name, found in result.logged.items():
        for line, count in found.most_common(3):
            console.print(f"  {name} logged x{count}: {line}")


def _ack_table(phase: Phase, console: Console) -> None:
    by = {}
    for sample in phase.samples:
        by.setdefault((sample.kind, sample.app), []).append(sample)
    table = Table(title=f"{phase.name} (sent up to {phase.behind_ms:.0f} ms late)")
    for column in ("request", "app", "n", "p50", "p99", "max", ">3 s", "failed", "busy", "p99/bare",
                   "p99/at ack"):
        table.add_column(column, justify="left" if column in ("request", "app") else "right")
    verdicts = []
    for kind in KINDS:
        p99 = {app: percentile([s.ms for s in by[(kind, app)]], 0.99) for app in APPS}
        for app in APPS:
            table.add_row(kind, app, *_latency_cells(by[(kind, app)]), f"{p99[app] / p99[BARE]:.2f}x",
                          f"{p99[app] / p99[BARE_AT_ACK]:.2f}x")
        ratio, worst = p99["partnerbot"] / p99[BARE], max(s.ms for s in by[(kind, "partnerbot")])
        verdicts.append(f"{kind} p99 {ratio:.2f}x the bare app's: {'within' if ratio <= TARGET else '[red]OUTSIDE[/]'}"
                        f" {TARGET}x (and {p99['partnerbot'] / p99[BARE_AT_ACK]:.2f}x the bare app answered at its "
                        f"ack); max {worst:.0f} ms: "
                        f"{'far from' if worst < SLACK_LIMIT_MS / 3 else '[red]near or over[/]'} 3 s")
    console.print(table)
    for line in verdicts:
        console.print(f"  {phase.name}: Partnerbot {line}")


def _cpu_table(result: Result) -> Table:
    """Cores busy on average in each phase, by process, and what the rest of the machine used meanwhile."""
    roles = ("serve", "worker", BARE, BARE_AT_ACK, "jobs", "Slack (this process)")
    table = Table(title=f"CPU: cores busy on average (of {os.cpu_count()}); the rest of the machine includes other "
                        "users and any database server")
    for column in ("phase", *roles, "rest of the machine"):
        table.add_column(column, justify="left" if column == "phase" else "right")
    for phase in result.phases.values():
        before, after = phase.cpu
        wall = after["wall"] - before["wall"]
        used = {role: (after.get(role, 0.0) - before.get(role, 0.0)) / wall for role in (*roles, "other", "machine")}
        rest = used["machine"] - sum(used[role] for role in (*roles, "other"))
        table.add_row(phase.name, *(f"{used[role]:.2f}" for role in roles), f"{rest:.2f}")
    return table


def _busy(sample: Sample) -> bool:
    return sample.refused is not None and json.dumps(DATABASE_BUSY)[1:-1] in sample.refused


def _latency_cells(samples: list[Sample]) -> list[str]:
    ms = [s.ms for s in samples]
    return [str(len(ms)), f"{statistics.median(ms):.1f}", f"{percentile(ms, 0.99):.1f}", f"{max(ms):.1f}",
            str(sum(m >= SLACK_LIMIT_MS for m in ms)), str(sum(not s.ok for s in samples)),
            str(sum(_busy(s) for s in samples))]
