"""The /stats chart: a real PNG of the expected size, drawn from the stats' own numbers, even with none."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from matplotlib.image import imread

from bot.charts import DPI, HEIGHT_INCHES, WIDTH_INCHES, chart_series, chart_title, stats_chart
from dispatch.stats import AreaStats, Stats

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
UNTIL = datetime(2026, 1, 22, 12, 0, tzinfo=UTC)


def week(*areas: AreaStats) -> Stats:
    """Stats for the week up to UNTIL."""
    return Stats(since=UNTIL - timedelta(days=7), until=UNTIL, days=7, areas=areas)


def hours(**counts: int) -> tuple[int, ...]:
    """24 hourly counts from h8=3, h13=1, …"""
    per_hour = [0] * 24
    for name, count in counts.items():
        per_hour[int(name.removeprefix("h"))] = count
    return tuple(per_hour)


VEGAS = AreaStats(
    slug="las-vegas",
    name="Fashion Show",
    tz="America/Los_Angeles",
    created=5,
    accepted=3,
    accept_seconds=(100.0, 300.0, 45.0),
    offers_per_hour=hours(h8=2, h12=1, h19=2),
)
CHANDLER = AreaStats(
    slug="chandler",
    name="Chandler",
    tz="America/Phoenix",
    created=2,
    accepted=1,
    accept_seconds=(90.0,),
    offers_per_hour=hours(h12=1, h23=1),
)
TYSONS = AreaStats(slug="tysons", name="Tysons Corner", tz="America/New_York")


def image_size(png: bytes) -> tuple[int, int]:
    """(width, height) of the PNG in pixels."""
    pixels = imread(io.BytesIO(png))
    return pixels.shape[1], pixels.shape[0]


def test_the_chart_is_a_png_of_the_expected_size() -> None:
    png = stats_chart(week(VEGAS, CHANDLER, TYSONS))

    assert png.startswith(PNG_SIGNATURE)
    assert image_size(png) == (round(WIDTH_INCHES * DPI), round(HEIGHT_INCHES * DPI))


def test_the_chart_draws_the_totals_of_every_area() -> None:
    per_hour, minutes = chart_series(week(VEGAS, CHANDLER, TYSONS))

    assert per_hour == list(hours(h8=2, h12=2, h19=2, h23=1))
    assert len(per_hour) == 24
    assert minutes == [100 / 60, 5.0, 0.75, 1.5]


def test_the_chart_draws_one_area_alone() -> None:
    stats = week(CHANDLER)

    assert chart_series(stats) == (list(CHANDLER.offers_per_hour), [1.5])
    assert chart_title(stats) == "Chandler · Jan 15, 2026 – Jan 22, 2026"


def test_the_title_names_all_areas_and_the_dates() -> None:
    assert chart_title(week(VEGAS, CHANDLER)) == "All areas · Jan 15, 2026 – Jan 22, 2026"


def test_the_chart_works_without_any_data() -> None:
    for stats in (week(TYSONS), week()):
        png = stats_chart(stats)

        assert png.startswith(PNG_SIGNATURE)
        assert image_size(png) == (1000, 400)
        assert chart_series(stats) == ([0] * 24, [])
