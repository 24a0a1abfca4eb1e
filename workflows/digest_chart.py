"""The digest's chart: partner-sourced vs direct new pipeline per week, as a PNG sized for a phone.

A workflow module, not a Block Kit builder: it turns figures into a file, knows nothing of Slack, and the outbox
renders it again from the stored `ChartSpec` when it sends (so a row holds a few hundred bytes, not the image).
matplotlib draws headless through its Agg canvas on a `Figure` of its own (no pyplot: no global figure registry
to leak or to lock between threads); the figure is cleared once its bytes are out.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

WIDTH_INCHES, HEIGHT_INCHES, DPI = 6.4, 4.0, 150  # 960 x 600 px: a phone shows it full width, labels readable
MAX_WEEKS = 26
PARTNER_COLOUR, DIRECT_COLOUR = "#2e7d32", "#9e9e9e"
NOT_CONNECTED = "direct: not connected"


@dataclass(frozen=True)
class ChartWeek:
    start: date  # the week's Monday
    sourced: Decimal  # partner-sourced new pipeline in the base currency
    direct: Decimal | None = None  # direct new pipeline; None: Salesforce is not connected


@dataclass(frozen=True)
class ChartSpec:
    """What the chart shows; stored in the outbox row as JSON and drawn when the row is sent."""

    weeks: tuple[ChartWeek, ...]
    base_currency: str
    title: str = "New pipeline per week"

    @property
    def direct_connected(self) -> bool:
        return any(week.direct is not None for week in self.weeks)

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "base_currency": self.base_currency,
                "weeks": [[w.start.isoformat(), str(w.sourced), None if w.direct is None else str(w.direct)]
                          for w in self.weeks]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChartSpec:
        weeks = tuple(ChartWeek(date.fromisoformat(start), Decimal(sourced),
                                None if direct is None else Decimal(direct))
                      for start, sourced, direct in data["weeks"][-MAX_WEEKS:])
        return cls(weeks, str(data["base_currency"])[:3], str(data.get("title") or cls.title)[:80])


def short_amount(value: float) -> str:
    """1234 -> 1.2k, 5600000 -> 5.6M: axis labels a phone can show."""
    for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            scaled = value / limit
            return f"{scaled:.0f}{suffix}" if scaled >= 100 or scaled == int(scaled) else f"{scaled:.1f}{suffix}"
    return f"{value:.0f}"


def render_chart(spec: ChartSpec) -> bytes:
    """The PNG: one pair of bars a week (partner-sourced, direct), amounts in the base currency."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    weeks = spec.weeks[-MAX_WEEKS:]
    figure = Figure(figsize=(WIDTH_INCHES, HEIGHT_INCHES), dpi=DPI)
    try:
        axes = figure.add_subplot()
        positions = list(range(len(weeks)))
        connected = spec.direct_connected
        width = 0.4 if connected else 0.7
        offset = width / 2 if connected else 0.0
        sourced = [float(week.sourced) for week in weeks]
        axes.bar([p - offset for p in positions], sourced, width, color=PARTNER_COLOUR, label="Partner-sourced")
        if connected:
            axes.bar([p + offset for p in positions], [float(week.direct or 0) for week in weeks], width,
                     color=DIRECT_COLOUR, label="Direct")
        axes.set_title(spec.title, fontsize=15, loc="left")
        axes.set_ylabel(spec.base_currency, fontsize=12)
        axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: short_amount(value)))
        axes.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
        top = max([*sourced, *(float(week.direct or 0) for week in weeks), 0.0])
        axes.set_ylim(0, top * 1.15 if top > 0 else 100)  # empty weeks: an empty axis, said in words
        if top <= 0:
            axes.text(0.5, 0.5, "no new pipeline in these weeks", transform=axes.transAxes, ha="center",
                      va="center", fontsize=13, color="#616161")
        step = max(1, -(-len(weeks) // 6))  # at most about six dates on the axis
        axes.set_xticks(positions[::step], [f"{week.start.day} {week.start:%b}" for week in weeks][::step],
                        fontsize=11)
        axes.tick_params(axis="y", labelsize=11)
        axes.set_xlim(-0.6, max(len(weeks), 1) - 0.4)
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
        axes.grid(axis="y", alpha=0.3)
        axes.legend(loc="upper left", fontsize=11, frameon=False)
        if not connected:
            axes.text(0.99, 0.98, NOT_CONNECTED, transform=axes.transAxes, ha="right", va="top", fontsize=11,
                      color="#616161")
        figure.tight_layout()
        out = io.BytesIO()
        figure.savefig(out, format="png", metadata={"Software": None})
        return out.getvalue()
    finally:
        figure.clear()


RENDERER = "digest_chart"


def chart_file(spec: ChartSpec, *, filename: str = "pipeline.png") -> dict[str, Any]:
    """The outbox's description of the chart file (storage.slack.outbox.enqueue_upload's `spec`)."""
    return {"renderer": RENDERER, "input": spec.to_json(), "filename": filename, "title": spec.title}


def render_file(file: dict[str, Any]) -> bytes:
    """The bytes of an outbox upload (the sender's `render_file`): the renderers this program knows."""
    if file.get("renderer") != RENDERER:
        raise ValueError(f"no renderer {file.get('renderer')!r}")
    return render_chart(ChartSpec.from_json(file["input"]))
