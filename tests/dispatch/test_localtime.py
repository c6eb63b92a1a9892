"""Local times of the pilot areas: shown with their abbreviation, read back refusing DST gaps and overlaps."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from dispatch.localtime import (
    LocalTimeError,
    local_now_date,
    show_day,
    show_time,
    show_window,
    to_utc,
    window_to_utc,
)

LAS_VEGAS = "America/Los_Angeles"
CHANDLER = "America/Phoenix"
TYSONS = "America/New_York"

WINTER = date(2026, 1, 15)
SUMMER = date(2026, 7, 15)


@pytest.mark.parametrize(
    ("tz", "day", "shown"),
    [
        (LAS_VEGAS, WINTER, "2:15 PM PST"),
        (LAS_VEGAS, SUMMER, "2:15 PM PDT"),
        (CHANDLER, WINTER, "2:15 PM MST"),
        (CHANDLER, SUMMER, "2:15 PM MST"),
        (TYSONS, WINTER, "2:15 PM EST"),
        (TYSONS, SUMMER, "2:15 PM EDT"),
    ],
)
def test_a_local_time_goes_to_utc_and_shows_the_same_with_its_abbreviation(
    tz: str, day: date, shown: str
) -> None:
    instant = to_utc(day, time(14, 15), tz)
    assert instant.tzinfo is UTC
    assert show_time(instant, tz) == shown


def test_pilot_offsets_from_utc_in_winter_and_summer() -> None:
    assert to_utc(WINTER, time(14, 15), LAS_VEGAS) == datetime(2026, 1, 15, 22, 15, tzinfo=UTC)
    assert to_utc(SUMMER, time(14, 15), LAS_VEGAS) == datetime(2026, 7, 15, 21, 15, tzinfo=UTC)
    assert to_utc(WINTER, time(14, 15), CHANDLER) == datetime(2026, 1, 15, 21, 15, tzinfo=UTC)
    assert to_utc(SUMMER, time(14, 15), CHANDLER) == datetime(2026, 7, 15, 21, 15, tzinfo=UTC)
    assert to_utc(WINTER, time(14, 15), TYSONS) == datetime(2026, 1, 15, 19, 15, tzinfo=UTC)
    assert to_utc(SUMMER, time(14, 15), TYSONS) == datetime(2026, 7, 15, 18, 15, tzinfo=UTC)


def test_chandler_matches_las_vegas_in_summer_and_is_an_hour_ahead_in_winter() -> None:
    summer = datetime(2026, 7, 15, 21, 15, tzinfo=UTC)
    assert show_time(summer, CHANDLER) == "2:15 PM MST"
    assert show_time(summer, LAS_VEGAS) == "2:15 PM PDT"
    winter = datetime(2026, 1, 15, 22, 15, tzinfo=UTC)
    assert show_time(winter, CHANDLER) == "3:15 PM MST"
    assert show_time(winter, LAS_VEGAS) == "2:15 PM PST"


def test_hours_show_without_a_leading_zero_and_midnight_and_noon_as_twelve() -> None:
    assert show_time(to_utc(WINTER, time(9, 5), TYSONS), TYSONS) == "9:05 AM EST"
    assert show_time(to_utc(WINTER, time(0, 0), TYSONS), TYSONS) == "12:00 AM EST"
    assert show_time(to_utc(WINTER, time(12, 0), TYSONS), TYSONS) == "12:00 PM EST"
    assert show_time(to_utc(WINTER, time(23, 59), TYSONS), TYSONS) == "11:59 PM EST"


def test_a_time_in_the_spring_forward_gap_is_refused_in_words() -> None:
    with pytest.raises(LocalTimeError) as caught:
        to_utc(date(2026, 3, 8), time(2, 30), LAS_VEGAS)
    assert str(caught.value) == (
        "2:30 AM does not exist on Mar 8 in Los Angeles time (clocks spring forward); pick another time"
    )
    with pytest.raises(LocalTimeError) as caught:
        to_utc(date(2026, 3, 8), time(2, 0), TYSONS)
    assert str(caught.value) == (
        "2:00 AM does not exist on Mar 8 in New York time (clocks spring forward); pick another time"
    )


def test_a_time_that_happens_twice_at_fall_back_is_refused_in_words() -> None:
    with pytest.raises(LocalTimeError) as caught:
        to_utc(date(2026, 11, 1), time(1, 30), LAS_VEGAS)
    assert str(caught.value) == (
        "1:30 AM happens twice on Nov 1 in Los Angeles time (clocks fall back); pick another time"
    )
    with pytest.raises(LocalTimeError) as caught:
        to_utc(date(2026, 11, 1), time(1, 0), TYSONS)
    assert str(caught.value) == (
        "1:00 AM happens twice on Nov 1 in New York time (clocks fall back); pick another time"
    )


def test_times_just_outside_the_gap_and_the_overlap_are_fine() -> None:
    assert to_utc(date(2026, 3, 8), time(1, 59), LAS_VEGAS) == datetime(2026, 3, 8, 9, 59, tzinfo=UTC)
    assert to_utc(date(2026, 3, 8), time(3, 0), LAS_VEGAS) == datetime(2026, 3, 8, 10, 0, tzinfo=UTC)
    assert to_utc(date(2026, 11, 1), time(0, 59), LAS_VEGAS) == datetime(2026, 11, 1, 7, 59, tzinfo=UTC)
    assert to_utc(date(2026, 11, 1), time(2, 0), LAS_VEGAS) == datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


def test_phoenix_has_no_gap_or_overlap_on_those_days() -> None:
    assert to_utc(date(2026, 3, 8), time(2, 30), CHANDLER) == datetime(2026, 3, 8, 9, 30, tzinfo=UTC)
    assert to_utc(date(2026, 11, 1), time(1, 30), CHANDLER) == datetime(2026, 11, 1, 8, 30, tzinfo=UTC)


def test_a_window_past_midnight_ends_on_the_next_day() -> None:
    start, end = window_to_utc(date(2026, 11, 26), time(23, 30), time(0, 15), LAS_VEGAS)
    assert start == datetime(2026, 11, 27, 7, 30, tzinfo=UTC)
    assert end == datetime(2026, 11, 27, 8, 15, tzinfo=UTC)
    assert show_window(start, end, LAS_VEGAS, now=start) == "11:30 PM–12:15 AM PST"


def test_a_window_within_the_afternoon_names_pm_once() -> None:
    start, end = window_to_utc(date(2026, 11, 26), time(14, 0), time(14, 30), LAS_VEGAS)
    assert end - start == timedelta(minutes=30)
    assert show_window(start, end, LAS_VEGAS, now=start - timedelta(hours=3)) == "2:00–2:30 PM PST"


def test_a_window_across_noon_names_both_halves() -> None:
    start, end = window_to_utc(date(2026, 7, 15), time(11, 45), time(12, 15), TYSONS)
    assert show_window(start, end, TYSONS, now=start) == "11:45 AM–12:15 PM EDT"


def test_a_window_on_another_day_gets_the_day_in_front() -> None:
    start, end = window_to_utc(date(2026, 11, 26), time(14, 0), time(14, 30), LAS_VEGAS)
    the_day_before = start - timedelta(days=1)
    assert show_window(start, end, LAS_VEGAS, now=the_day_before) == "Thu Nov 26, 2:00–2:30 PM PST"
    the_day_after = start + timedelta(days=1)
    assert show_window(start, end, LAS_VEGAS, now=the_day_after) == "Thu Nov 26, 2:00–2:30 PM PST"


def test_tomorrow_is_judged_in_the_area_not_in_utc() -> None:
    evening_in_las_vegas = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)  # 9 PM PST on Nov 25
    tonight = window_to_utc(date(2026, 11, 25), time(22, 0), time(22, 30), LAS_VEGAS)
    tomorrow = window_to_utc(date(2026, 11, 26), time(14, 0), time(14, 30), LAS_VEGAS)
    assert show_window(*tonight, LAS_VEGAS, now=evening_in_las_vegas) == "10:00–10:30 PM PST"
    shown = show_window(*tomorrow, LAS_VEGAS, now=evening_in_las_vegas)
    assert shown == "Thu Nov 26, 2:00–2:30 PM PST"


def test_a_window_longer_than_twelve_hours_is_refused() -> None:
    with pytest.raises(LocalTimeError, match="longer than 12 hours"):
        window_to_utc(date(2026, 11, 26), time(8, 0), time(20, 30), LAS_VEGAS)
    with pytest.raises(LocalTimeError, match="longer than 12 hours"):
        window_to_utc(date(2026, 11, 26), time(14, 0), time(14, 0), LAS_VEGAS)
    start, end = window_to_utc(date(2026, 11, 26), time(8, 0), time(20, 0), LAS_VEGAS)
    assert end - start == timedelta(hours=12)


def test_a_window_reaching_into_the_gap_is_refused() -> None:
    with pytest.raises(LocalTimeError, match="2:30 AM does not exist on Mar 8"):
        window_to_utc(date(2026, 3, 7), time(23, 30), time(2, 30), LAS_VEGAS)


def test_today_is_the_date_in_the_area_not_in_utc() -> None:
    evening_in_las_vegas = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)
    assert local_now_date(evening_in_las_vegas, LAS_VEGAS) == date(2026, 11, 25)
    assert local_now_date(evening_in_las_vegas, TYSONS) == date(2026, 11, 26)


def test_a_day_is_shown_short() -> None:
    assert show_day(datetime(2026, 11, 26, 20, 0, tzinfo=UTC), LAS_VEGAS) == "Thu Nov 26"
    assert show_day(datetime(2026, 11, 27, 4, 0, tzinfo=UTC), LAS_VEGAS) == "Thu Nov 26"


def test_a_naive_datetime_is_refused_rather_than_read_as_server_time() -> None:
    with pytest.raises(ValueError):
        show_time(datetime(2026, 11, 26, 20, 0), LAS_VEGAS)
