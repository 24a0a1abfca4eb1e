"""Draining the CRM outbox into Salesforce, or into the local mirror when Salesforce is not configured."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import uuid4

from simple_salesforce import Salesforce
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.settings import Settings
from storage.crm.api import CrmApi, CrmTransientError
from storage.crm.client import CrmAuthError, CrmConfigError, build_salesforce, salesforce_configured
from storage.crm.mirror import known_records, save_mirror, save_synced, wanted_records
from storage.crm.outbox import WriteGroup, count_due, load_due_groups, mark_mirrored, settle_groups
from storage.crm.push import push_wanted
from storage.crm.upsell_mapping import DEFAULT_OPPORTUNITY_TYPE
from storage.crm.state import (
    USAGE_RECHECK,
    acquire_lease,
    load_state,
    note_error,
    note_usage,
    over_threshold,
    release_lease,
    renew_lease,
    safe_notify,
)
from storage.db import checkpoint
from storage.models import utcnow

logger = logging.getLogger(__name__)
Notify = Callable[[str], object]
Progress = Callable[[int, int], object]
MAX_LISTED_FAILURES = 10
CHECKPOINT_EVERY = 10  # chunks between SQLite WAL checkpoints in a long drain


@dataclass
class DrainReport:
    """What one drain did, counted in outbox rows (several rows of one registration or upsell travel together)."""

    mode: str = "mirror"  # "salesforce", or "mirror" when only the local mirror was written
    considered: int = 0
    written: int = 0
    failed: int = 0
    retrying: int = 0
    mirrored: int = 0
    held: int = 0  # non-urgent rows waiting because the org's API usage is over the threshold
    api_calls: int = 0
    api_usage: tuple[int, int] | None = None
    stopped: str | None = None  # why the drain ended early, if it did


def failure_text(groups: list[WriteGroup]) -> str:
    """The Slack message for records Salesforce refused."""
    lines = [f"• {g.reference}: {'; '.join(g.errors)[:300]}" for g in groups[:MAX_LISTED_FAILURES]]
    if len(groups) > MAX_LISTED_FAILURES:
        lines.append(f"…and {len(groups) - MAX_LISTED_FAILURES} more (`partnerbot crm status`)")
    return (
        f"Salesforce refused {len(groups)} CRM write(s). Fix the data (or the Salesforce rule), "
        "then run `partnerbot crm retry`:\n" + "\n".join(lines)
    )


def _connect(engine: Engine, settings: Settings, notify: Notify, now: datetime) -> tuple[Salesforce | None, str | None]:
    try:
        return build_salesforce(settings), None
    except (CrmConfigError, CrmAuthError) as exc:
        message = str(exc)
        logger.error("Salesforce unavailable, writing the local mirror only: %s", message)
        with Session(engine) as session:
            note_error(load_state(session), message, now, notify=notify)
            session.commit()
        return None, message


def _check_usage(engine: Engine, api: CrmApi, threshold: float, notify: Notify, now: datetime) -> bool:
    """Whether non-urgent writes must wait; asks Salesforce again when an "over" reading has gone stale."""
    with Session(engine) as session:
        state = load_state(session)
        usage = None
        never = state.api_checked_at is None
        stale = never or now - state.api_checked_at >= USAGE_RECHECK
        # Writes report usage in every answer; ask separately only at first, or to see an "over" pass.
        if never or (stale and over_threshold((state.api_used, state.api_total), threshold)):
            try:
                usage = api.limits()
            except CrmTransientError as exc:
                logger.warning("could not check Salesforce API usage: %s", exc)
                if exc.limit_exceeded:
                    usage = (state.api_total or 1, state.api_total or 1)
        over = note_usage(state, usage, threshold, notify, now)
        session.commit()
    return over


def drain_outbox(
    engine: Engine,
    settings: Settings,
    *,
    notify: Notify,
    now: datetime | None = None,
    sf: Salesforce | None = None,
    batch_limit: int = 20_000,
    chunk_size: int = 200,
    on_progress: Progress | None = None,
    request_timeout: float = 30.0,
    rng: random.Random | None = None,
    opportunity_type: str = DEFAULT_OPPORTUNITY_TYPE,
) -> DrainReport:
    """Send due outbox rows to Salesforce (or the local mirror without it); safe to run at any time, from anywhere.

    `opportunity_type` is the `Type` a new upsell's expansion Opportunity gets (program.upsell.opportunity_type).
    """
    owner = uuid4().hex
    if not acquire_lease(engine, owner):
        return DrainReport(stopped="another drain is running")
    try:
        return _drain(
            engine,
            settings,
            notify=notify,
            now=now or utcnow(),
            sf=sf,
            batch_limit=batch_limit,
            chunk_size=chunk_size,
            on_progress=on_progress,
            timeout=request_timeout,
            rng=rng or random.Random(),
            renew=lambda: renew_lease(engine, owner),
            opportunity_type=opportunity_type,
        )
    finally:
        release_lease(engine, owner)


def _drain(
    engine, settings, *, notify, now, sf, batch_limit, chunk_size, on_progress, timeout, rng, renew, opportunity_type
) -> DrainReport:
    report = DrainReport()
    threshold = settings.crm_api_usage_threshold
    api = None
    if sf is None and salesforce_configured(settings):
        sf, report.stopped = _connect(engine, settings, notify, now)
    if sf is not None:
        api, report.mode = CrmApi(sf, timeout=timeout), "salesforce"
    mirror_mode = api is None
    urgent_only = api is not None and _check_usage(engine, api, threshold, notify, now)
    with Session(engine) as session:
        total = count_due(session, now=now, urgent_only=urgent_only, mirror_mode=mirror_mode)
    cursor, stop, chunks = 0, None, 0
    while report.considered < batch_limit and stop is None:
        renew()
        chunks += 1
        if chunks % CHECKPOINT_EVERY == 0:
            # SQLite only checkpoints when the worker does (never inside a commit): a long drain would grow the
            # write-ahead log without bound, and every read searches it, so chunks got slower as it went on.
            checkpoint(engine)
        refused: list[WriteGroup] = []
        with Session(engine, expire_on_commit=False) as session:
            groups, cursor = load_due_groups(
                session, now=now, after_id=cursor, limit=chunk_size, urgent_only=urgent_only, mirror_mode=mirror_mode
            )
            if not groups:
                session.commit()
                break
            known = known_records(session, groups)
            wanted = wanted_records(groups, known, opportunity_type=opportunity_type)
            # Salesforce's answer comes before new rows are stored: each is written once, Id and all.
            save_mirror(session, wanted, known, now, defer_inserts=not mirror_mode)
            rows = sum(len(g.rows) for g in groups)
            report.considered += rows
            if mirror_mode:
                mark_mirrored(session, groups, now)
                report.mirrored += rows
            session.commit()
        if not mirror_mode:
            # Salesforce is called with no transaction open: on SQLite an open write would hold the database
            # lock for as long as Salesforce takes, and Slack requests would miss their 3-second ack.
            try:
                push_wanted(api, wanted, now)
            except CrmTransientError as exc:
                stop = exc
            notices: list[str] = []  # told after the commit, so no Slack call waits inside the transaction
            with Session(engine, expire_on_commit=False) as session:
                save_synced(session, wanted, now)  # the Salesforce ids and versions push_wanted set
                if stop is not None:
                    for group in groups:
                        group.fail(str(stop), transient=True)
                by_outcome = settle_groups(session, groups, now=now, rng=rng)
                for outcome, settled in by_outcome.items():
                    setattr(report, outcome, getattr(report, outcome) + sum(len(g.rows) for g in settled))
                refused = by_outcome["failed"]
                state = load_state(session)
                usage = api.usage
                if stop is not None and stop.limit_exceeded and usage:
                    usage = (usage[1], usage[1])  # the org is out of calls whatever the last header said
                urgent_only = note_usage(state, usage, threshold, notices.append, now) or urgent_only
                if stop is not None or refused:
                    # Only credential problems are told: they need a person; outages and limits pass by themselves.
                    told = notices.append if stop is not None and stop.auth else None
                    note_error(state, str(stop) if stop else refused[-1].errors[0], now, notify=told)
                session.commit()
            for text in notices:
                safe_notify(notify, text)
        if refused:
            safe_notify(notify, failure_text(refused))
        if on_progress:
            on_progress(min(report.considered, total), max(total, report.considered))
    if stop is not None:
        report.stopped = str(stop)
    if api is not None:
        report.api_calls, report.api_usage = api.calls, api.usage
    with Session(engine) as session:
        if urgent_only:
            report.held = count_due(session, now=now) - count_due(session, now=now, urgent_only=True)
        load_state(session).last_drain_at = now
        session.commit()
    return report
