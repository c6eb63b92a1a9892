"""The PNG chart sent with /stats: per area, offers by local hour, accepted and expired; time to accept."""

from __future__ import annotations

import io
import threading

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from bot.export_words import ChartLabels, chart_labels
from bot.i18n import Words
from dispatch.stats import HOURS, AreaStats, Stats, accept_time_counts
from storage.records import Language

# Sized for a phone: 960 px wide, and with the three pilot areas at most 1280 px high, so Telegram
# shows it without scaling it down; no text under 10 pt (11 px on a phone 400 px wide).
DPI = 192
WIDTH_INCHES, HEADER_INCHES, ROW_INCHES = 5.0, 0.625, 1.5
HEADING_PT, TITLE_PT, LABEL_PT = 12, 11, 10
ACCEPTED_COLOR, EXPIRED_COLOR = "#3b7dd8", "#e07b39"
# The local hours named under an hour panel.
HOUR_TICKS = (0, 6, 12, 18)
# One label per bucket of dispatch.stats.ACCEPT_TIME_EDGES (units read the same in every language).
ACCEPT_TIME_LABELS = ("<30s", "30s–1m", "1–2m", "2–5m", "5–10m", "10m+")
# Matplotlib is not thread-safe (its fonts are shared): one chart is drawn at a time.
_DRAWING = threading.Lock()


def _note(panel: Axes, text: str) -> None:
    panel.text(
        0.5, 0.5, text, ha="center", va="center", color="grey", fontsize=TITLE_PT, transform=panel.transAxes
    )


def _frame(panel: Axes) -> None:
    """Only the axes that carry numbers, with labels large enough for a phone."""
    panel.spines[["top", "right"]].set_visible(False)
    panel.tick_params(labelsize=LABEL_PT)
    panel.yaxis.set_major_locator(MaxNLocator(nbins=3, integer=True))


def _draw_hours(panel: Axes, area: AreaStats, period: str, labels: ChartLabels) -> None:
    """Rounds that ended accepted, with those that expired stacked on them, per local hour."""
    hours = range(HOURS)
    panel.bar(hours, area.accepted_per_hour, width=0.8, color=ACCEPTED_COLOR)
    panel.bar(hours, area.expired_per_hour, width=0.8, bottom=area.accepted_per_hour, color=EXPIRED_COLOR)
    _frame(panel)
    panel.set_title(area.name, loc="left", fontsize=TITLE_PT)
    panel.set_title(period, loc="right", fontsize=TITLE_PT)
    panel.set_xlim(-0.6, HOURS - 0.4)
    panel.set_xticks(HOUR_TICKS, [labels.hours[hour] for hour in HOUR_TICKS])
    tallest = max(a + e for a, e in zip(area.accepted_per_hour, area.expired_per_hour, strict=True))
    panel.set_ylim(0, max(1, tallest) * 1.15)
    if not tallest:
        _note(panel, labels.no_offers)


def _draw_accept_times(panel: Axes, total: AreaStats, labels: ChartLabels) -> None:
    """How long offers waited for a driver, in fixed buckets."""
    buckets = range(len(ACCEPT_TIME_LABELS))
    panel.bar(buckets, accept_time_counts(total.accept_seconds), width=0.7, color=ACCEPTED_COLOR)
    _frame(panel)
    panel.set_title(labels.time_to_accept, loc="left", fontsize=TITLE_PT)
    panel.set_xticks(buckets, ACCEPT_TIME_LABELS)
    if total.median_accept_seconds is None:
        panel.set_ylim(0, 1)
        _note(panel, labels.no_accepts)


def stats_figure(stats: Stats, labels: ChartLabels) -> Figure:
    """The chart as a Figure: a row per area, then one of times to accept across them."""
    if len(labels.periods) != len(stats.areas):
        raise ValueError(f"{len(labels.periods)} periods labelled for {len(stats.areas)} areas")
    rows = len(stats.areas) + 1
    # A Figure with its own Agg canvas: no pyplot, so no global figure state and no display needed.
    figure = Figure(figsize=(WIDTH_INCHES, HEADER_INCHES + ROW_INCHES * rows), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    panels = figure.subplots(rows, 1, squeeze=False)[:, 0]
    for panel, area, period in zip(panels, stats.areas, labels.periods, strict=False):
        _draw_hours(panel, area, period, labels)
    _draw_accept_times(panels[-1], stats.total, labels)
    figure.suptitle(labels.title, x=0.02, ha="left", fontsize=HEADING_PT)
    figure.legend(
        handles=[Patch(color=ACCEPTED_COLOR), Patch(color=EXPIRED_COLOR)],
        labels=[labels.accepted, labels.expired],
        loc="outside upper right",
        ncols=2,
        frameon=False,
        fontsize=LABEL_PT,
    )
    return figure


def stats_chart(stats: Stats, labels: ChartLabels | None = None) -> bytes:
    """The chart as PNG bytes, with these words on it, made in the reader's language beforehand
    (bot.export_words.chart_labels; English without them, for a chart nobody asked for in a chat);
    about 0.3 s of CPU: call it off the event loop."""
    if labels is None:
        labels = chart_labels(Words(Language.EN), stats)
    png = io.BytesIO()
    with _DRAWING:
        stats_figure(stats, labels).savefig(png, format="png", dpi=DPI)
    return png.getvalue()
