"""A progress bar for long CLI commands, shown only on a terminal."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

T = TypeVar("T")
OnProgress = Callable[[int, int], None]


def with_progress(console: Console, label: str, run: Callable[[OnProgress | None], T]) -> T:
    """Call `run(on_progress)` with a live bar on a terminal, `run(None)` in scripts and CI logs."""
    if not console.is_terminal:
        return run(None)
    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), console=console, transient=True) as bar:
        task = bar.add_task(label, total=None)
        return run(lambda done, total: bar.update(task, completed=done, total=total))
