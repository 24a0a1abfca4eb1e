"""The nudge job the scheduler runs: every kind switched on in the program file, each nudge once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from workflows.nudge_partners import activation_nudges
from workflows.nudges import NudgeReport, NudgeSource, run_nudges
from workflows.services import Services

# Each kind: a factory giving its source, or None when the program file switches it off.
KINDS: tuple[Callable[[Services, datetime], NudgeSource | None], ...] = (
    activation_nudges,
)


def send_due_nudges(services: Services) -> NudgeReport:
    """Create every nudge that is due now (each once); they go out in their recipients' working hours."""
    now, report = services.clock(), NudgeReport()
    for factory in KINDS:
        source = factory(services, now)
        if source is not None:
            run_nudges(services, source, report=report, now=now)
    return report
