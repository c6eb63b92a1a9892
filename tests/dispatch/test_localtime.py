"""Local times of the pilot areas read into UTC, refusing DST gaps and overlaps with the reason as a code."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from dispatch.localtime import LocalTimeError, local_now_date, start_of_day, to_utc, window_to_utc
from dispatch.problems import Problem, issue

LAS_VEGAS = "America/Los_Angeles"
CHANDLER = "America/Phoenix"
TYSONS = "America/New_York"

WINTER = date(2026, 1, 15)
SUMMER = date(2026, 7, 15)


@pytest.mark.parametrize(
    ("tz", "day", "abbreviation"),
    [
        (LAS_VEGAS, WINTER, "PST"),
        (LAS_VEGAS, SUMMER, "PDT"),
        (CHANDLER, WINTER, "MST"),
        (CHANDLER, SUMMER, "MST"),
        (TYSONS, WINTER, "EST"),
        (TYSONS, SUMMER, "EDT"),
    ],
)
def test_a_local_time_goes_to_utc_and_back_to_the_same_wall_time(
    tz: str, day: date, abbreviation: str
) -> None:
    instant = to_utc(day, time(14, 15), tz)
    assert instant.tzinfo is UTC
    local = instant.astimezone(ZoneInfo(tz))
    assert (local.date(), local.time(), local.tzname()) == (day, time(14, 15), abbreviation)


def test_pilot_offsets_from_utc_in_winter_and_summer() -> None:
    assert to_utc(WINTER, time(14, 15), LAS_VEGAS) == datetime(2026, 1, 15, 22, 15, tzinfo=UTC)
    assert to_utc(SUMMER, time(14, 15), LAS_VEGAS) == datetime(2026, 7, 15, 21, 15, tzinfo=UTC)
    assert to_utc(WINTER, time(14, 15), CHANDLER) == datetime(2026, 1, 15, 21, 15, tzinfo=UTC)
    assert to_utc(SUMMER, time(14, 15), CHANDLER) == datetime(2026, 7, 15, 21, 15, tzinfo=UTC)
    assert to_utc(WINTER, time(14, 15), TYSONS) == datetime(2026, 1, 15, 19, 15, tzinfo=UTC)
    assert to_utc(SUMMER, time(14, 15), TYSONS) == datetime(2026, 7, 15, 18, 15, tzinfo=UTC)


def test_chandler_matches_las_vegas_in_summer_and_is_an_hour_ahead_in_winter() -> None:
    summer = datetime(2026, 7, 15, 21, 15, tzinfo=UTC)
    assert summer.astimezone(ZoneInfo(CHANDLER)).time() == summer.astimezone(ZoneInfo(LAS_VEGAS)).time()
    winter = datetime(2026, 1, 15, 22, 15, tzinfo=UTC)
    assert to_utc(WINTER, time(15, 15), CHANDLER) == winter == to_utc(WINTER, time(14, 15), LAS_VEGAS)


def test_a_time_in_the_spring_forward_gap_is_refused_with_the_time_day_and_zone() -> None:
    with pytest.raises(LocalTimeError) as caught:
        to_utc(date(2026, 3, 8), time(2, 30), LAS_VEGAS)
    assert caught.value.issue == issue(
        Problem.TIME_SKIPPED, at=time(2, 30), day=date(2026, 3, 8), zone=LAS_VEGAS
    )
    with pytest.raises(LocalTimeError) as caught:
        to_utc(date(2026, 3, 8), time(2, 0), TYSONS)
    assert caught.value.issue == issue(Problem.TIME_SKIPPED, at=time(2, 0), day=date(2026, 3, 8), zone=TYSONS)


def test_a_time_that_happens_twice_at_fall_back_is_refused_with_the_time_day_and_zone() -> None:
    with pytest.raises(LocalTimeError) as caught:
        to_utc(date(2026, 11, 1), time(1, 30), LAS_VEGAS)
    assert caught.value.issue == issue(
        Problem.TIME_REPEATED, at=time(1, 30), day=date(2026, 11, 1), zone=LAS_VEGAS
    )
    with pytest.raises(LocalTimeError) as caught:
        to_utc(date(2026, 11, 1), time(1, 0), TYSONS)
    assert caught.value.issue == issue(
        Problem.TIME_REPEATED, at=time(1, 0), day=date(2026, 11, 1), zone=TYSONS
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


def test_a_window_within_the_afternoon_lasts_as_long_as_its_wall_times_say() -> None:
    start, end = window_to_utc(date(2026, 11, 26), time(14, 0), time(14, 30), LAS_VEGAS)
    assert start == datetime(2026, 11, 26, 22, 0, tzinfo=UTC)
    assert end - start == timedelta(minutes=30)


def test_a_window_longer_than_twelve_hours_is_refused_with_its_ends() -> None:
    with pytest.raises(LocalTimeError) as caught:
        window_to_utc(date(2026, 11, 26), time(8, 0), time(20, 30), LAS_VEGAS)
    assert caught.value.issue == issue(
        Problem.WINDOW_OVER_HOURS, start=time(8, 0), end=time(20, 30), hours=12
    )
    with pytest.raises(LocalTimeError) as caught:
        window_to_utc(date(2026, 11, 26), time(14, 0), time(14, 0), LAS_VEGAS)
    assert caught.value.issue.code is Problem.WINDOW_OVER_HOURS
    start, end = window_to_utc(date(2026, 11, 26), time(8, 0), time(20, 0), LAS_VEGAS)
    assert end - start == timedelta(hours=12)


def test_a_window_reaching_into_the_gap_is_refused() -> None:
    with pytest.raises(LocalTimeError) as caught:
        window_to_utc(date(2026, 3, 7), time(23, 30), time(2, 30), LAS_VEGAS)
    assert caught.value.issue == issue(
        Problem.TIME_SKIPPED, at=time(2, 30), day=date(2026, 3, 8), zone=LAS_VEGAS
    )


def test_today_is_the_date_in_the_area_not_in_utc() -> None:
    evening_in_las_vegas = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)
    assert local_now_date(evening_in_las_vegas, LAS_VEGAS) == date(2026, 11, 25)
    assert local_now_date(evening_in_las_vegas, TYSONS) == date(2026, 11, 26)


def test_the_day_starts_at_local_midnight() -> None:
    evening_in_las_vegas = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)
    assert start_of_day(evening_in_las_vegas, LAS_VEGAS) == datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def test_a_naive_datetime_is_refused_rather_than_read_as_server_time() -> None:
    with pytest.raises(ValueError):
        local_now_date(datetime(2026, 11, 26, 20, 0), LAS_VEGAS)
