"""When a scheduled job runs: every so often (`every`) or at times of the week (`cron`, UTC), each with its
APScheduler trigger, the words `partnerbot jobs list` shows, and its first run when a scheduler takes the lead."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

UNITS = (("day", 86_400), ("hour", 3_600), ("minute", 60), ("second", 1))
DAYS = {"mon": "Monday", "tue": "Tuesday", "wed": "Wednesday", "thu": "Thursday", "fri": "Friday",
        "sat": "Saturday", "sun": "Sunday"}


@dataclass(frozen=True)
class Every:
    """A fixed period, counted from the job's previous run (also across restarts: see `first_run`)."""

    period: timedelta

    def trigger(self) -> IntervalTrigger:
        return IntervalTrigger(seconds=self.period.total_seconds(), timezone=timezone.utc)

    def describe(self) -> str:
        seconds = self.period.total_seconds()
        for unit, size in UNITS:
            if seconds >= size and seconds % size == 0 and not (unit == "day" and seconds < 2 * size):
                count = int(seconds // size)
                return f"every {unit}" if count == 1 else f"every {count} {unit}s"
        return f"every {seconds:g} seconds"

    def first_run(self, last_started: datetime | None, now: datetime) -> datetime:
        """Right away when a period has passed since the last run (once, however many periods were missed), else
        a period after it, so restarts neither repeat a job nor put it off.

        A job never run runs right away too: it has as much to catch up on as one that missed every period, and
        waiting a full period from each start would mean a deployment restarted more often than that (a daily
        job, a service redeployed every few hours) never runs it at all."""
        if last_started is None:
            return now
        return max(now, last_started + self.period)


@dataclass(frozen=True)
class Cron:
    """Times of the week in UTC: `hour`:`minute` on `day_of_week` ("mon", "mon-fri"; every day when None), and
    optionally only on some days of the month or months (`day`="1-7", `month`="1,4,7,10": a quarter's first week)."""

    hour: int
    minute: int = 0
    day_of_week: str | None = None
    day: str | None = None
    month: str | None = None

    def trigger(self) -> CronTrigger:
        return CronTrigger(hour=self.hour, minute=self.minute, day_of_week=self.day_of_week, day=self.day,
                           month=self.month, timezone=timezone.utc)

    def describe(self) -> str:
        days = self.day_of_week
        if days is None:
            when = "daily"
        elif days in DAYS:
            when = DAYS[days] + "s"
        elif "-" in days and all(part in DAYS for part in days.split("-")):
            when = "-".join(DAYS[part] for part in days.split("-"))
        else:
            when = f"on {days}"
        if self.day:
            when += f", days {self.day} of the month"
        if self.month:
            when += f", months {self.month}"
        return f"{when} {self.hour:02d}:{self.minute:02d} UTC"

    def first_run(self, last_started: datetime | None, now: datetime) -> datetime:
        """Right away (once) when one of its times passed since the last run; else its next time. A job never run
        waits for its first time: a weekly roll-up belongs on its day, not on whatever day the bot was installed."""
        trigger = self.trigger()
        if last_started is None:
            return trigger.get_next_fire_time(None, now)
        missed = trigger.get_next_fire_time(last_started, now)  # its first time after the last run
        return now if missed <= now else missed


def every(**period: float) -> Every:
    """every(minutes=15), every(hours=1), every(seconds=0.2) in tests."""
    return Every(timedelta(**period))


def cron(*, hour: int, minute: int = 0, day_of_week: str | None = None, day: str | None = None,
         month: str | None = None) -> Cron:
    """cron(hour=8, day_of_week="mon"): Mondays 08:00 UTC."""
    return Cron(hour, minute, day_of_week, day, month)


Schedule = Every | Cron
