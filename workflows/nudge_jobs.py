"""The nudge job the scheduler runs: every kind switched on in the program file, each nudge once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from workflows.nudge_deals import protection_expiry_nudges, stalled_registration_nudges
from workflows.nudge_managers import rollup_nudges
from workflows.nudge_partners import activation_nudges, onboarding_nudges, reengagement_nudges
from workflows.nudge_qbr import qbr_nudges
from workflows.nudges import NudgeReport, NudgeSource, run_nudges
from workflows.services import Services

# Each kind: a factory giving its source, or None when the program file switches it off.
KINDS: tuple[Callable[[Services, datetime], NudgeSource | None], ...] = (
    onboarding_nudges,
    activation_nudges,
    reengagement_nudges,
    qbr_nudges,
    rollup_nudges,
    stalled_registration_nudges,
    protection_expiry_nudges,
)


def send_due_nudges(services: Services) -> NudgeReport:
    """Create every nudge that is due now (each once); they go out in their recipients' working hours."""
    now, report = services.clock(), NudgeReport()
    for factory in KINDS:
        source = factory(services, now)
        if source is not None:
            run_nudges(services, source, report=report, now=now)
    return report
