"""The PNG chart sent with /stats: offers per local hour and the time drivers take to accept."""

from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from dispatch.stats import HOURS, Stats

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
WIDTH_INCHES, HEIGHT_INCHES, DPI = 10.0, 4.0, 100
MAX_BINS = 20


def chart_series(stats: Stats) -> tuple[list[int], list[float]]:
    """What the chart draws: offers per local hour (0–23), and each time to accept in minutes."""
    total = stats.total
    return list(total.offers_per_hour), [seconds / 60 for seconds in total.accept_seconds]


def _day(instant: datetime, tz: str) -> str:
    """A date as "Jan 15, 2026" in the zone (UTC when the areas' zones differ)."""
    local = instant.astimezone(ZoneInfo(tz or "UTC"))
    return f"{_MONTHS[local.month - 1]} {local.day}, {local.year}"


def chart_title(stats: Stats) -> str:
    """The area (or "All areas") and the dates the chart covers."""
    area = stats.areas[0] if len(stats.areas) == 1 else stats.total
    return f"{area.name} · {_day(stats.since, area.tz)} – {_day(stats.until, area.tz)}"


def stats_chart(stats: Stats) -> bytes:
    """Two panels as PNG bytes: offers per hour of the local day, and a histogram of times to accept."""
    per_hour, minutes = chart_series(stats)
    # A Figure with its own Agg canvas: no pyplot, so no global figure state and no display needed.
    figure = Figure(figsize=(WIDTH_INCHES, HEIGHT_INCHES), dpi=DPI)
    FigureCanvasAgg(figure)
    figure.suptitle(chart_title(stats))
    hours_panel, accept_panel = figure.subplots(1, 2)

    hours_panel.bar(range(HOURS), per_hour, color="#3b7dd8")
    hours_panel.set_title("Offers per hour (local time)")
    hours_panel.set_xlabel("hour of day")
    hours_panel.set_ylabel("offers")
    hours_panel.set_xticks(range(0, HOURS, 3))
    hours_panel.set_xlim(-0.6, HOURS - 0.4)
    hours_panel.set_ylim(0, max(1, *per_hour) * 1.1)
    hours_panel.yaxis.set_major_locator(MaxNLocator(integer=True))

    accept_panel.set_title("Time to accept")
    accept_panel.set_xlabel("minutes")
    accept_panel.set_ylabel("offers")
    if minutes:
        accept_panel.hist(minutes, bins=min(MAX_BINS, len(minutes)), color="#e07b39")
        accept_panel.yaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        accept_panel.set_xticks([])
        accept_panel.set_yticks([])
        accept_panel.text(
            0.5, 0.5, "no accepted offers", ha="center", va="center", transform=accept_panel.transAxes
        )
    figure.tight_layout()

    png = io.BytesIO()
    figure.savefig(png, format="png", dpi=DPI)
    return png.getvalue()
