"""The scheduled jobs' record: per job, its last run (started, finished, outcome, result) and its next planned run.

Operators read it (`partnerbot jobs list`); the scheduler reads it at start to catch up once on what it missed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from storage.db import transaction
from storage.statements import upsert
from storage.models import JOB_RESULT_LENGTH, JobOutcome, JobRun  # noqa: F401  (the outcomes recorded)


def _upsert(engine: Engine, name: str, **values) -> None:
    """Write `values` into `name`'s row, creating it if it is the job's first: one statement, so a `jobs run` and
    the scheduler recording at the same moment cannot both try to create it."""
    with transaction(engine) as session:
        upsert(session, JobRun, key="name", values={"name": name, **values})


def record_start(engine: Engine, name: str, *, at: datetime, ran_by: str) -> None:
    """The run began: its outcome and result stay those of the previous run until it ends."""
    _upsert(engine, name, started_at=at, ran_by=ran_by[:200])


def record_finish(engine: Engine, name: str, *, at: datetime, outcome: str, result: str,
                  next_run_at: datetime | None = None, keep_next_run: bool = False) -> None:
    """The run ended with `outcome` and its short `result`; `next_run_at` is the scheduler's next plan for the job
    (kept as it was with `keep_next_run`: a run by hand does not move the scheduler's plan)."""
    values = dict(finished_at=at, outcome=outcome, result=result[:JOB_RESULT_LENGTH])
    if not keep_next_run:
        values["next_run_at"] = next_run_at
    _upsert(engine, name, **values)


def record_next_run(engine: Engine, name: str, next_run_at: datetime | None) -> None:
    """The scheduler's plan for the job, written when it takes the lead (before the job's first run under it)."""
    _upsert(engine, name, next_run_at=next_run_at)


def job_runs(engine: Engine) -> dict[str, JobRun]:
    """Every job's row by name (jobs never run have none)."""
    with Session(engine) as session:
        return {run.name: run for run in session.exec(select(JobRun)).all()}
