"""`partnerbot report` with Salesforce configured: direct figures read from the org beside the partner figures, and
"Salesforce unavailable" (why, without secrets) when it does not answer; the weeks asked for the chart."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timezone

from tests.crm.test_direct_figures import november_org
from tests.test_report_cli import cells, env, run  # noqa: F401  (the fixture)
from tests.test_reporting import data  # noqa: F401  (the fixture)
from workflows.periods import Period
from workflows.reporting import direct_for

NOVEMBER = ["--period", "2026-11", "--tz", "UTC"]


def connect(monkeypatch, fake) -> None:
    for name, value in (("SALESFORCE_INSTANCE_URL", fake.base_url), ("SALESFORCE_ACCESS_TOKEN", fake.access_token),
                        ("SALESFORCE_CA_BUNDLE", str(fake.ca_bundle))):
        monkeypatch.setenv(name, value)


def test_the_report_reads_direct_figures_from_salesforce(env, data, fake, monkeypatch):  # noqa: F811
    november_org(fake)
    connect(monkeypatch, fake)
    result = run(*NOVEMBER, "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    # Counted by hand in november_org: direct won B (4000) and C (2000), lost D; A open (1000) created in November.
    assert cells(rows, "direct", "won", "value") == "6000.00"
    assert cells(rows, "direct", "new", "value") == "1500.00"  # A (1000) and D (500) were created in November
    assert cells(rows, "direct", "all", "lost") == "1"
    assert cells(rows, "direct", "all", "win rate") == "66.7"
    assert not [row for row in rows if row["measure"] == "status"]


def test_salesforce_not_answering_is_said_not_zero(env, data, fake, monkeypatch):  # noqa: F811
    connect(monkeypatch, fake)
    fake.fail_next("none-yet", "503")
    result = run(*NOVEMBER, "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    status = cells(rows, "direct", "all", "status")
    assert status.startswith("Salesforce unavailable: Salesforce error 503")
    assert fake.access_token not in result.output


class Recorder:
    def __init__(self):
        self.asked = []

    def __call__(self, start, end, weeks_start, *, tz):
        self.asked.append((start, end, weeks_start, tz.key))
        return None


def test_direct_for_asks_the_period_and_the_twelve_weeks_ending_with_it():
    from types import SimpleNamespace

    recorder = Recorder()
    services = SimpleNamespace(read_direct=recorder)
    week = Period.parse("2027-01-03..2027-01-03", datetime(2027, 1, 5, tzinfo=timezone.utc), "Asia/Tokyo")
    assert direct_for(services, Period.week_of(date(2026, 12, 30), "Asia/Tokyo")) == (None, None)
    assert direct_for(services, week) == (None, None)
    (start, end, monday, zone), second = recorder.asked
    assert (monday, zone) == (date(2026, 10, 12), "Asia/Tokyo")  # 11 weeks before the week of 2026-12-28
    assert start == datetime(2026, 12, 27, 15, tzinfo=timezone.utc)
    assert second[2] == date(2026, 10, 12)  # a Sunday's week is the week it ends
    assert direct_for(SimpleNamespace(read_direct=None), week) == (None, None)
