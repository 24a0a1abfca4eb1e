"""The one scheduler: periodic jobs that call the same workflows the Slack handlers do."""

from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler

from workflows.decisions import expire_registrations
from workflows.nudge_jobs import send_due_nudges
from workflows.reminders import remind_overdue_reviews
from workflows.retention import forget_old_rows
from workflows.upsell_reminders import remind_overdue_upsells
from workflows.services import Services

logger = logging.getLogger(__name__)


def build_scheduler(services: Services, extra_jobs: dict | None = None) -> BackgroundScheduler:
    """Jobs have fixed ids and replace_existing, so a restart never runs a job twice. Not started here."""
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1,
                                                                  "misfire_grace_time": 60})
    scheduler.add_job(expire_registrations, "interval", hours=1, args=[services], id="expire_registrations",
                      replace_existing=True)
    scheduler.add_job(remind_overdue_reviews, "interval", minutes=15, args=[services], id="remind_overdue_reviews",
                      replace_existing=True)
    scheduler.add_job(remind_overdue_upsells, "interval", minutes=15, args=[services], id="remind_overdue_upsells",
                      replace_existing=True)
    scheduler.add_job(send_due_nudges, "interval", minutes=15, args=[services], id="send_due_nudges",
                      replace_existing=True)
    scheduler.add_job(forget_old_rows, "interval", hours=24, args=[services], id="forget_old_rows",
                      replace_existing=True)
    for job_id, (func, minutes) in (extra_jobs or {}).items():
        scheduler.add_job(func, "interval", minutes=minutes, id=job_id, replace_existing=True)
    return scheduler
