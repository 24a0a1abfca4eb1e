"""The collaborators every workflow is given: database, program rules, notifier and clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol

from sqlalchemy.engine import Engine

from storage.models import Partner, Registration
from workflows.program import Program


@dataclass(frozen=True)
class MessageRef:
    channel_id: str
    ts: str


@dataclass(frozen=True)
class ConflictEvidence:
    """Another registration that protects the same company, and how it matched."""

    registration: Registration
    partner: Partner
    match: str


class Notifier(Protocol):
    """What workflows tell people; the Slack implementation lives in handlers/notify.py."""

    def registration_received(self, registration: Registration, partner: Partner) -> MessageRef | None: ...

    def partner_update(self, registration: Registration, partner: Partner, *, actor_slack_id: str | None) -> None: ...

    def review_requested(
        self, registration: Registration, partner: Partner, conflicts: list[ConflictEvidence]
    ) -> MessageRef | None: ...

    def review_settled(self, registration: Registration, partner: Partner, *, actor_slack_id: str) -> None: ...

    def tell_user(self, slack_user_id: str, text: str) -> None: ...

    def partner_desk(self, partner: Partner) -> MessageRef | None: ...

    def review_overdue(self, registration: Registration, partner: Partner, *, recipient: str,
                       hours_waiting: int) -> None: ...


class WorkflowError(Exception):
    """A rule said no; the message is safe to show the user as it is."""


class NotAllowed(WorkflowError):
    pass


class NotFound(WorkflowError):
    pass


class OverrideReasonNeeded(WorkflowError):
    """Approving would override an earlier approved registration: a written reason is required."""

    def __init__(self, message: str, winner_ids: list[int]):
        super().__init__(message)
        self.winner_ids = winner_ids


def utc_clock() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Services:
    engine: Engine
    program: Program
    notifier: Notifier
    clock: Callable[[], datetime] = utc_clock
    our_team_id: str | None = None
    bot_user_id: str | None = None
