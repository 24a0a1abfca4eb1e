"""Reporting periods (workflows/periods.py): weeks across the new year, months and quarters in a time zone, the
period before each, and a message naming the accepted forms for anything else."""

from __future__ import annotations

import pytest

from tests.test_reporting import NOW, WEEK, at
from workflows.periods import Period, PeriodError, PeriodKind


def test_week_is_the_last_full_monday_to_monday_week_and_crosses_the_year():
    assert (WEEK.start, WEEK.end, WEEK.label, WEEK.kind) == (at(2026, 12, 28, 0), at(2027, 1, 4, 0), "2026-W53",
                                                             PeriodKind.week)
    dates = Period.parse("2026-12-28..2027-01-03", NOW)
    assert (dates.start, dates.end) == (WEEK.start, WEEK.end)
    assert (dates.previous().start, dates.previous().end) == (at(2026, 12, 21, 0), at(2026, 12, 28, 0))
    assert dates.previous().label == "2026-12-21..2026-12-27"
    assert WEEK.previous().label == "2026-W52"
    assert Period.parse("2027-W01", NOW).previous().label == "2026-W53"
    # Sunday 23:00 in Los Angeles is Monday 07:00 UTC: the week that ended is still the one before.
    la = Period.parse("week", at(2027, 1, 4, 3), "America/Los_Angeles")
    assert (la.start, la.end, la.label) == (at(2026, 12, 21, 8), at(2026, 12, 28, 8), "2026-W52")


def test_months_quarters_and_their_previous_ones():
    assert Period.parse("month", NOW).label == "2026-12"
    assert Period.parse("quarter", NOW).label == "2026-Q4"
    q1 = Period.parse("2027-q1", NOW)
    assert (q1.start, q1.end) == (at(2027, 1, 1, 0), at(2027, 4, 1, 0))
    assert (q1.previous().label, q1.previous().start) == ("2026-Q4", at(2026, 10, 1, 0))
    january = Period.parse("2027-01", NOW)
    assert (january.previous().label, january.previous().start, january.previous().end) == (
        "2026-12", at(2026, 12, 1, 0), at(2027, 1, 1, 0))
    berlin = Period.parse("2026-11", NOW, "Europe/Berlin")
    assert (berlin.start, berlin.end) == (at(2026, 10, 31, 23), at(2026, 11, 30, 23))


@pytest.mark.parametrize("text", ["fortnight", "2026-13", "2026-Q5", "2026-W60", "2027-01-05..2027-01-01",
                                  "2026-02-30..2026-03-01", "", "9999-Q4", "0001-01-01..9999-12-31",
                                  "0001-01-02..0001-01-03", "2026-01-01..2040-01-01"])
def test_bad_periods_name_the_accepted_forms(text):
    with pytest.raises(PeriodError) as error:
        Period.parse(text, NOW)
    assert "YYYY-Qn" in str(error.value) and "week" in str(error.value)
