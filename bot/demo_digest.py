"""The reports' part of `partnerbot demo`, its last: the partners' monthly scorecards, then Monday's digest for the
partner manager (with its chart), a report on demand and the digest's full report.

bot/demo.py calls `play_reports(bot, w)` after every other flow. Time is not waited for: everything the walkthrough
did is dated back into the middle of last month for the scorecards (last month's), then into the last full week for
the digest.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlmodel import select

from bot.local import LocalBot
from storage.db import transaction
from storage.models import AccountProductLine, CustomerAccount, Partner, Registration, RegistrationEvent, Upsell
from workflows.digest import send_due_digests
from workflows.periods import Period
from workflows.scorecard import send_due_scorecards

if TYPE_CHECKING:
    from bot.demo import Walkthrough

DATED = {  # what a report reads, and when each happened
    Registration: ("created_at", "approved_at", "closed_at", "protection_expires_at"),
    RegistrationEvent: ("at",),
    Upsell: ("created_at", "accepted_at", "closed_at"),
    CustomerAccount: ("created_at",),
    AccountProductLine: ("since",),
    Partner: ("created_at", "stage_since"),
}


def dates_back(bot: LocalBot, by: timedelta) -> None:
    """The demo's time machine: every date the reports read moves back by `by`."""
    with transaction(bot.engine) as session:
        for model, columns in DATED.items():
            for row in session.exec(select(model)):  # a demo's few rows
                for column in columns:
                    if (when := getattr(row, column)) is not None:
                        setattr(row, column, when - by)
                session.add(row)


def last_weeks_thursday(now: datetime) -> datetime:
    """Thursday noon of the last full week (UTC; any reader's zone puts it in their last full week too)."""
    return Period.parse("week", now, "UTC").start + timedelta(days=3, hours=12)


def mid_last_month(now: datetime) -> datetime:
    return Period.parse("month", now, "UTC").start + timedelta(days=14)


def into_last_month(bot: LocalBot) -> None:
    """What happened a moment ago happened in the middle of last month."""
    now = bot.services.clock()
    dates_back(bot, now - mid_last_month(now))


def into_last_week(bot: LocalBot) -> None:
    """What happened in the middle of last month happened on Thursday of the last full week (always later: the
    15th of last month is at least 16 days ago, last Thursday at most 14)."""
    now = bot.services.clock()
    dates_back(bot, mid_last_month(now) - last_weeks_thursday(now))


def play_reports(bot: LocalBot, w: "Walkthrough") -> None:
    """The partners' monthly scorecards, then Priya's Monday digest with its chart, a report, and Full report."""
    driver = bot.driver
    w.step("The month turns (the demo dates everything above into the middle of last month): the scorecard job "
           "(hourly) sends each partner last month's scorecard in its channel; Globex is a referral partner, so "
           "each of its people gets their own by DM", lambda: (into_last_month(bot), send_due_scorecards(bot.services)))
    w.step("Dana (Northwind, external, so no slash commands) presses My scorecard on the desk: answered "
           "privately", lambda: w.click_in("U0DANA", "C0NORTH", "my_scorecard"))
    w.step("A week's figures: the demo dates it all into last week (the digest reports on the last full "
           "Monday-Sunday week in each reader's own time zone)", lambda: into_last_week(bot))
    w.step("Monday, past digest.schedule (this demo's program: any time this week; by default Monday 08:30 in "
           "each reader's zone): the digest job (every 15 minutes) sends Priya her partners' week, and the admin "
           "the whole program's, each as a DM with a chart of 12 weeks of partner-sourced vs direct pipeline "
           "(direct: not connected, as no Salesforce is set up)", lambda: send_due_digests(bot.services))
    w.step("The job runs again: each reader gets one digest a week", lambda: send_due_digests(bot.services))
    w.step("Priya asks for last week's report on resellers: /partner report week resellers",
           lambda: driver.command("U0PRIYA", "/partner", "report week resellers"))
    w.step("Priya presses Full report on her digest: every section, in the digest's thread",
           lambda: w.click_in_dm("U0PRIYA", "digest_full_report"))
