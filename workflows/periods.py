"""Reporting periods as people name them (`week`, `2026-Q3`, `2026-11-01..2026-11-15`): their bounds in UTC for a
time zone, the period before, and a message naming the accepted forms for anything else."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from enum import StrEnum
from zoneinfo import ZoneInfo

FIRST_YEAR, LAST_YEAR = 1970, 2999  # a period's years (and the period before it) stay within Python's dates
MAX_PERIOD_DAYS = 10 * 366


class PeriodKind(StrEnum):
    week = "week"  # Monday 00:00 to the next Monday 00:00 in the zone
    month = "month"  # a calendar month in the zone
    quarter = "quarter"  # a calendar quarter in the zone
    dates = "dates"  # given dates, first to last inclusive


class PeriodError(ValueError):
    """Text that is not a period; the message names the accepted forms."""


PERIOD_FORMS = ("week", "month", "quarter", "YYYY-Qn (2026-Q3)", "YYYY-MM (2026-11)", "YYYY-Www (2026-W48)",
                "YYYY-MM-DD..YYYY-MM-DD (2026-11-01..2026-11-15, both days included)")


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC: a report's time range. Bounds are midnights in `zone` (the reader's or the program's
    time zone), so "week" is the reader's Monday to Monday. `label` names it for people ("2026-W48", "2026-11",
    "2026-Q4", "2026-11-01..2026-11-15")."""

    start: datetime
    end: datetime
    label: str
    kind: PeriodKind = PeriodKind.dates
    zone: str = "UTC"

    @classmethod
    def parse(cls, text: str, now: datetime, tz: str = "UTC") -> Period:
        """`week` (the last full Monday-Sunday week in tz: last Monday 00:00 to this Monday 00:00), `month` (the last
        full calendar month), `quarter` (the last full quarter), `YYYY-Qn`, `YYYY-MM`, `YYYY-Www` (ISO week),
        `YYYY-MM-DD..YYYY-MM-DD` (end date included). Raises PeriodError naming the accepted forms otherwise."""
        zone = _zone(tz)
        word = text.strip().lower()
        today = now.astimezone(zone).date()
        if any(not FIRST_YEAR <= int(year) <= LAST_YEAR for year in re.findall(r"\d{4}", word)):
            raise PeriodError(f"{text.strip()[:40]}: years go from {FIRST_YEAR} to {LAST_YEAR}. {_forms()}")
        if word == "week":
            return cls.week_of(today - timedelta(days=7), tz)
        if word == "month":
            first = today.replace(day=1) - timedelta(days=1)
            return cls._month(first.year, first.month, tz)
        if word == "quarter":
            return cls._quarter(today.year, (today.month - 1) // 3 + 1, tz).previous()
        if match := re.fullmatch(r"(\d{4})-q([1-4])", word):
            return cls._quarter(int(match[1]), int(match[2]), tz)
        if match := re.fullmatch(r"(\d{4})-(0[1-9]|1[0-2])", word):
            return cls._month(int(match[1]), int(match[2]), tz)
        if match := re.fullmatch(r"(\d{4})-w(\d{2})", word):
            try:
                return cls.week_of(date.fromisocalendar(int(match[1]), int(match[2]), 1), tz)
            except ValueError:
                raise PeriodError(f"{text.strip()} is not a week of {match[1]}. {_forms()}") from None
        if match := re.fullmatch(r"(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})", word):
            try:
                first, last = date.fromisoformat(match[1]), date.fromisoformat(match[2])
            except ValueError:
                raise PeriodError(f"{text.strip()} has a date that does not exist. {_forms()}") from None
            if last < first:
                raise PeriodError(f"{text.strip()} ends before it starts. {_forms()}")
            if (last - first).days >= MAX_PERIOD_DAYS:
                raise PeriodError(f"{text.strip()} is longer than {MAX_PERIOD_DAYS // 366} years. {_forms()}")
            return cls.of_dates(first, last, tz)
        raise PeriodError(f"“{text.strip()[:40]}” is not a period. {_forms()}")

    @classmethod
    def of_dates(cls, first: date, last: date, tz: str = "UTC") -> Period:
        """From `first` to `last`, both days included."""
        return cls(_midnight(first, tz), _midnight(last + timedelta(days=1), tz), f"{first}..{last}",
                   PeriodKind.dates, tz)

    @classmethod
    def _month(cls, year: int, month: int, tz: str) -> Period:
        following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
        return cls(_midnight(date(year, month, 1), tz), _midnight(following, tz), f"{year}-{month:02d}",
                   PeriodKind.month, tz)

    @classmethod
    def _quarter(cls, year: int, number: int, tz: str) -> Period:
        following = date(year + 1, 1, 1) if number == 4 else date(year, 3 * number + 1, 1)
        return cls(_midnight(date(year, 3 * number - 2, 1), tz), _midnight(following, tz), f"{year}-Q{number}",
                   PeriodKind.quarter, tz)

    @classmethod
    def week_of(cls, day: date, tz: str = "UTC") -> Period:
        """The Monday-to-Monday week that contains `day`."""
        monday = day - timedelta(days=day.weekday())
        year, week, _ = monday.isocalendar()
        return cls(_midnight(monday, tz), _midnight(monday + timedelta(days=7), tz), f"{year}-W{week:02d}",
                   PeriodKind.week, tz)

    @property
    def first_day(self) -> date:
        return self.start.astimezone(_zone(self.zone)).date()

    @property
    def last_day(self) -> date:
        """The last day in the period (its end is the midnight after it)."""
        return self.end.astimezone(_zone(self.zone)).date() - timedelta(days=1)

    def previous(self) -> Period:
        """The period of the same kind just before (the week, month or quarter before; for dates, as many days
        ending where this one starts). Crossing a year works."""
        first = self.first_day
        if self.kind is PeriodKind.week:
            return Period.week_of(first - timedelta(days=7), self.zone)
        if self.kind is PeriodKind.month:
            before = first - timedelta(days=1)
            return Period._month(before.year, before.month, self.zone)
        if self.kind is PeriodKind.quarter:
            before = first - timedelta(days=1)
            return Period._quarter(before.year, (before.month - 1) // 3 + 1, self.zone)
        days = (self.last_day - first).days + 1
        return Period.of_dates(first - timedelta(days=days), first - timedelta(days=1), self.zone)


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (KeyError, ValueError):
        raise PeriodError(f"{tz} is not a time zone; use a name such as Europe/Berlin") from None


def _midnight(day: date, tz: str) -> datetime:
    """00:00 of `day` in `tz`, in UTC."""
    return datetime.combine(day, time(0), tzinfo=_zone(tz)).astimezone(timezone.utc)


def _forms() -> str:
    return "Give one of: " + "; ".join(PERIOD_FORMS) + "."
