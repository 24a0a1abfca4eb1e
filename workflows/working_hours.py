"""When a message may reach a person: the next moment inside the program's working hours, in their time zone."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from workflows.program import WEEKDAYS, WorkingHours


def zone_named(name: str | None, default: str = "UTC") -> ZoneInfo:
    """The IANA zone `name`, or `default` when there is none or Slack gave one this machine does not know."""
    for candidate in (name, default, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def _clock(text: str) -> time | None:
    """"09:00" -> 09:00; "24:00" -> None (the end of the day)."""
    hours, minutes = (int(part) for part in text.split(":"))
    return None if hours == 24 else time(hours, minutes)


def next_working_moment(now: datetime, zone: ZoneInfo, hours: WorkingHours) -> datetime:
    """`now` when it falls inside working hours in `zone`, else the next start of them (in UTC).

    Local times are built from the wall clock each day, so a daylight-saving change moves the hours with it."""
    local = now.astimezone(zone)
    start, end = _clock(hours.start), _clock(hours.end)
    for offset in range(8):
        day = local.date() + timedelta(days=offset)
        if WEEKDAYS[day.weekday()] not in hours.days:
            continue
        opens = datetime.combine(day, start, tzinfo=zone)
        closes = (datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone) if end is None
                  else datetime.combine(day, end, tzinfo=zone))
        if local < opens:
            return opens.astimezone(timezone.utc)
        if local < closes:
            return now.astimezone(timezone.utc)
    raise ValueError("working hours name no day")  # the program refuses an empty list of days
