"""`partnerbot doctor`: one line per check, ✓ or ✗, with the fix for each failure; never a secret."""

from __future__ import annotations

import typer

from bot.doctor import Result, run_checks

MARKS = {True: "✓", False: "✗", None: "–"}


def render(result: Result) -> list[str]:
    """A check as the lines the command prints."""
    lines = [f"{MARKS[result.ok]} {result.name}: {result.summary}"]
    lines += [f"    • {problem}" for problem in result.problems]
    if result.fix and not result.ok:
        lines.append(f"    fix: {result.fix}")
    return lines


def doctor() -> None:
    """Check settings, database, Slack, partner channels and people, program and Salesforce; say how to fix."""
    results = run_checks()
    for result in results:
        for line in render(result):
            typer.echo(line)
    raise typer.Exit(0 if all(result.ok for result in results) else 1)
