"""The digest's chart: a PNG a phone can show, whatever the weeks hold."""

from __future__ import annotations

import struct
from datetime import date, timedelta
from decimal import Decimal

import pytest

from workflows.digest_chart import DPI, HEIGHT_INCHES, WIDTH_INCHES, ChartSpec, ChartWeek, render_chart, short_amount

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def weeks(sourced, direct=None) -> tuple[ChartWeek, ...]:
    start = date(2026, 9, 7)
    return tuple(ChartWeek(start + timedelta(weeks=i), Decimal(value), None if direct is None else Decimal(direct[i]))
                 for i, value in enumerate(sourced))


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == PNG_SIGNATURE and png[12:16] == b"IHDR"
    return struct.unpack(">II", png[16:24])


@pytest.mark.parametrize("spec", [
    ChartSpec(weeks([0] * 12), "USD"),  # empty weeks
    ChartSpec(weeks([0] * 5 + [10 ** 12] + [3] * 6), "EUR"),  # one huge week
    ChartSpec(weeks(range(0, 120000, 10000), direct=[5000] * 12), "GBP"),  # Salesforce connected
    ChartSpec((), "USD"),  # no weeks at all
])
def test_the_chart_is_a_phone_sized_png_whatever_the_weeks_hold(spec):
    png = render_chart(spec)
    assert png_size(png) == (int(WIDTH_INCHES * DPI), int(HEIGHT_INCHES * DPI))
    assert 5_000 < len(png) < 200_000


def test_the_chart_is_the_same_for_the_same_figures_and_travels_as_json():
    spec = ChartSpec(weeks([1, 2, 3], direct=[4, 0, 6]), "USD")
    assert ChartSpec.from_json(spec.to_json()) == spec
    assert render_chart(spec) == render_chart(ChartSpec.from_json(spec.to_json()))
    assert spec.direct_connected and not ChartSpec(weeks([1, 2]), "USD").direct_connected


def test_without_salesforce_the_chart_says_direct_is_not_connected_rather_than_showing_zero():
    without, with_zero = ChartSpec(weeks([5] * 12), "USD"), ChartSpec(weeks([5] * 12, direct=[0] * 12), "USD")
    assert render_chart(without) != render_chart(with_zero)  # the legend differs: no Direct bars, a note instead


@pytest.mark.parametrize("value, shown", [(0, "0"), (950, "950"), (1000, "1k"), (1250, "1.2k"), (125000, "125k"),
                                          (5_600_000, "5.6M"), (10 ** 12, "1T")])
def test_axis_amounts_are_short(value, shown):
    assert short_amount(value) == shown
