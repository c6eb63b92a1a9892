"""The /stats chart: a panel per area in its local hours, accepted and expired stacked, phone-sized,
its words from the catalog in the reader's language."""

from __future__ import annotations

import io
import pickle
import struct
from datetime import UTC, date, datetime

import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import imread
from matplotlib.text import Text

from bot import export_words, texts
from bot.charts import DPI, HOUR_TICKS, stats_chart, stats_figure
from bot.export_words import ChartLabels, chart_labels, hour_label, panel_title
from bot.i18n import Words
from dispatch.stats import AreaStats, Stats, accept_time_counts
from storage.records import Language
from tests.bot.test_export_words import Marked

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
UNTIL = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)  # noon PST on Wed Nov 25
WEEK = {"first_day": date(2026, 11, 19), "last_day": date(2026, 11, 25)}
# A phone shows a photo about 400 px wide; text smaller than 11 px there is hard to read.
PHONE_WIDTH_PX, SMALLEST_TEXT_PX = 400, 11
EN = Words(Language.EN)


def hours(**counts: int) -> tuple[int, ...]:
    """24 hourly counts from h8=3, h13=1, …"""
    per_hour = [0] * 24
    for name, count in counts.items():
        per_hour[int(name.removeprefix("h"))] = count
    return tuple(per_hour)


VEGAS = AreaStats(
    slug="las-vegas",
    name="Fashion Show, Las Vegas Strip",
    tz="America/Los_Angeles",
    **WEEK,
    created=7,
    accepted=5,
    expired=2,
    accept_seconds=(100.0, 300.0, 45.0, 20.0, 700.0),
    accepted_per_hour=hours(h8=2, h12=1, h19=2),
    expired_per_hour=hours(h8=1, h23=1),
)
CHANDLER = AreaStats(
    slug="chandler",
    name="Chandler Fashion Center",
    tz="America/Phoenix",
    **WEEK,
    created=1,
    accepted=1,
    accept_seconds=(90.0,),
    accepted_per_hour=hours(h12=1),
)
TYSONS = AreaStats(slug="tysons", name="Tysons Corner", tz="America/New_York", **WEEK)


def week(*areas: AreaStats) -> Stats:
    return Stats(until=UNTIL, days=7, areas=areas)


def figure_of(stats: Stats, t: Words = EN) -> Figure:
    return stats_figure(stats, chart_labels(t, stats))


def chart_of(stats: Stats, t: Words = EN) -> bytes:
    return stats_chart(stats, chart_labels(t, stats))


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) from the PNG's IHDR chunk, checked against the decoded pixels."""
    assert png.startswith(PNG_SIGNATURE) and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    pixels = imread(io.BytesIO(png))
    assert (pixels.shape[1], pixels.shape[0]) == (width, height)
    return int(width), int(height)


def bar_heights(panel: Axes) -> list[list[float]]:
    """The heights of each series of bars drawn in the panel."""
    return [[bar.get_height() for bar in container] for container in panel.containers]


def test_the_chart_is_a_phone_sized_png_that_grows_a_row_per_area() -> None:
    # Three areas still fit in the 1280 px Telegram shows a photo at without scaling it down.
    assert png_size(chart_of(week(VEGAS, CHANDLER, TYSONS))) == (960, 1272)
    assert png_size(chart_of(week(CHANDLER))) == (960, 696)


def test_every_text_on_the_chart_is_readable_on_a_phone() -> None:
    figure = figure_of(week(VEGAS, CHANDLER, TYSONS))
    figure.canvas.draw()
    width_px = figure.get_figwidth() * DPI
    texts = [t for t in figure.findobj(Text) if t.get_visible() and t.get_text().strip()]

    assert texts
    smallest = min(t.get_fontsize() * DPI / 72 * PHONE_WIDTH_PX / width_px for t in texts)
    assert smallest >= SMALLEST_TEXT_PX


def test_each_area_has_its_own_panel_with_accepted_and_expired_stacked() -> None:
    figure = figure_of(week(VEGAS, CHANDLER))

    vegas, chandler, _ = figure.axes
    assert (vegas.get_title(loc="left"), vegas.get_title(loc="right")) == (
        "Fashion Show, Las Vegas Strip",
        "Nov 19 – Nov 25 · PST",
    )
    assert (chandler.get_title(loc="left"), chandler.get_title(loc="right")) == (
        "Chandler Fashion Center",
        "Nov 19 – Nov 25 · MST",
    )
    expired = vegas.containers[1]
    assert bar_heights(vegas) == [list(VEGAS.accepted_per_hour), list(VEGAS.expired_per_hour)]
    # Expired stands on top of accepted in the same hour.
    assert [bar.get_y() for bar in expired] == [float(count) for count in VEGAS.accepted_per_hour]
    assert bar_heights(chandler) == [list(CHANDLER.accepted_per_hour), [0.0] * 24]


def test_one_day_is_labelled_with_that_day_alone() -> None:
    today = AreaStats(
        slug="las-vegas",
        name="Fashion Show",
        tz="America/Los_Angeles",
        first_day=date(2026, 11, 25),
        last_day=date(2026, 11, 25),
    )

    assert panel_title(EN, today) == "Nov 25 · PST"


def test_a_period_across_the_change_to_summer_time_names_both_abbreviations() -> None:
    spring = AreaStats(
        slug="las-vegas",
        name="Fashion Show",
        tz="America/Los_Angeles",
        first_day=date(2026, 3, 2),
        last_day=date(2026, 3, 31),
    )

    assert panel_title(EN, spring) == "Mar 2 – Mar 31 · PST/PDT"


def test_time_to_accept_keeps_few_points_apart_in_fixed_buckets() -> None:
    figure = figure_of(week(CHANDLER))

    _, accept_panel = figure.axes
    # One accept in 90 s is one bar of six, in "1–2 min", not a block across the whole panel.
    assert bar_heights(accept_panel) == [[0, 0, 1, 0, 0, 0]]
    assert [label.get_text() for label in accept_panel.get_xticklabels()] == [
        "<30s",
        "30s–1m",
        "1–2m",
        "2–5m",
        "5–10m",
        "10m+",
    ]


def test_time_to_accept_counts_every_area() -> None:
    figure = figure_of(week(VEGAS, CHANDLER, TYSONS))

    accept_panel = figure.axes[-1]
    seconds = VEGAS.accept_seconds + CHANDLER.accept_seconds
    assert bar_heights(accept_panel) == [list(accept_time_counts(seconds))]
    assert accept_panel.get_title(loc="left") == EN(export_words.TIME_TO_ACCEPT, median="1m 35s")


def test_the_chart_works_without_any_data() -> None:
    assert png_size(chart_of(week(TYSONS))) == (960, 696)
    assert png_size(chart_of(week())) == (960, 408)


def shown_texts(figure: Figure) -> list[str]:
    figure.canvas.draw()
    return [t.get_text() for t in figure.findobj(Text) if t.get_visible() and t.get_text().strip()]


@pytest.mark.parametrize("language", list(Language))
def test_every_word_on_the_chart_comes_from_the_catalog(language: Language) -> None:
    marked = Marked(language)
    stats = week(VEGAS, TYSONS)
    figure = stats_figure(stats, chart_labels(marked, stats))

    shown = shown_texts(figure)

    t = Words(language)
    catalog_words = {
        export_words.CHART_TITLE,
        export_words.CHART_ACCEPTED,
        export_words.CHART_EXPIRED,
        export_words.NO_OFFERS,  # Tysons had none
    }
    assert {f"«{t(message)}»" for message in catalog_words} <= set(shown)
    median = t.duration(VEGAS.median_accept_seconds or 0)
    assert f"«{t(export_words.TIME_TO_ACCEPT, median=median)}»" in shown
    # Words that are not the catalog's: the areas' names (data), their days and zones and the
    # hours (the locale's formats), the axes' numbers and the time buckets (units).
    made_otherwise = {
        VEGAS.name,
        TYSONS.name,
        panel_title(t, VEGAS),
        panel_title(t, TYSONS),
        *(hour_label(t, hour) for hour in HOUR_TICKS),
        "<30s",
        "30s–1m",
        "1–2m",
        "2–5m",
        "5–10m",
        "10m+",
    }
    words = [text for text in shown if not text.replace(".", "").replace("−", "").isdigit()]
    assert [text for text in words if not text.startswith("«") and text not in made_otherwise] == []


def test_a_chart_without_accepts_says_so_in_the_readers_words() -> None:
    marked = Marked(Language.ES)
    stats = week(TYSONS)

    shown = shown_texts(stats_figure(stats, chart_labels(marked, stats)))

    es = Words(Language.ES)
    assert f"«{es(export_words.NO_ACCEPTS)}»" in shown
    no_data = f"«{es(texts.NO_DATA)}»"
    assert f"«{es(export_words.TIME_TO_ACCEPT, median=no_data)}»" in shown


def test_the_hours_and_days_follow_the_readers_locale() -> None:
    es = Words(Language.ES)
    labels = chart_labels(es, week(VEGAS))

    assert [labels.hours[hour] for hour in HOUR_TICKS] == ["12 a.m.", "6 a.m.", "12 p.m.", "6 p.m."]
    assert labels.periods == (f"{es.days(VEGAS.first_day, VEGAS.last_day)} · PST",)
    assert [chart_labels(EN, week()).hours[hour] for hour in HOUR_TICKS] == ["12 AM", "6 AM", "12 PM", "6 PM"]


def test_the_labels_cross_to_the_drawing_process_as_plain_strings() -> None:
    labels = chart_labels(Words(Language.ES), week(VEGAS, CHANDLER))

    assert pickle.loads(pickle.dumps(labels)) == labels
    assert all(
        isinstance(value, str) or all(isinstance(item, str) for item in value)
        for value in (getattr(labels, name) for name in ChartLabels.__slots__)
    )


def test_a_label_for_each_area_is_required() -> None:
    with pytest.raises(ValueError):
        stats_figure(week(VEGAS, CHANDLER), chart_labels(EN, week(VEGAS)))


def test_a_chart_drawn_for_nobody_in_particular_is_in_english() -> None:
    # The pilot-day simulation draws its chart for whoever runs it, not for a chat.
    stats = week(VEGAS)

    assert stats_chart(stats) == stats_chart(stats, chart_labels(EN, stats))
