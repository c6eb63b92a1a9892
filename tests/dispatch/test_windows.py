"""When an order's pickup window leaves a driver no time, and the new windows it may be given."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dispatch.windows import Slot, next_slots, no_time_left

VEGAS = "America/Los_Angeles"
QUARTER = timedelta(minutes=15)
# 1:00–1:30 PM PDT in Las Vegas.
PICKUP_END = datetime(2026, 7, 15, 20, 30, tzinfo=UTC)


def test_a_window_is_still_takeable_while_a_driver_has_time_to_reach_the_store() -> None:
    assert not no_time_left(PICKUP_END, PICKUP_END - QUARTER - timedelta(seconds=1), QUARTER)


def test_a_window_closing_sooner_than_a_driver_can_get_there_leaves_no_time() -> None:
    assert no_time_left(PICKUP_END, PICKUP_END - QUARTER, QUARTER)
    assert no_time_left(PICKUP_END, PICKUP_END - timedelta(minutes=5), QUARTER)


def test_a_window_that_is_over_leaves_no_time_even_when_no_travel_time_is_needed() -> None:
    assert no_time_left(PICKUP_END, PICKUP_END, timedelta(0))
    assert no_time_left(PICKUP_END, PICKUP_END + timedelta(hours=1), QUARTER)


def test_the_next_slots_start_at_the_next_half_hour_on_the_stores_clock() -> None:
    at_1_10_pm = datetime(2026, 7, 15, 20, 10, 42, tzinfo=UTC)
    assert [slot.clock(VEGAS) for slot in next_slots(at_1_10_pm, VEGAS, QUARTER)] == [
        "13:30-14:00",
        "14:00-14:30",
        "14:30-15:00",
        "15:00-15:30",
    ]
    on_the_hour = datetime(2026, 7, 15, 21, 0, tzinfo=UTC)  # 2:00 PM sharp: 2:00 itself is gone
    assert next_slots(on_the_hour, VEGAS, QUARTER, count=1)[0].clock(VEGAS) == "14:30-15:00"


def test_the_next_slots_run_past_midnight_into_the_next_day() -> None:
    at_11_40_pm = datetime(2026, 7, 16, 6, 40, tzinfo=UTC)  # 11:40 PM PDT on Jul 15
    slots = next_slots(at_11_40_pm, VEGAS, QUARTER, count=2)
    assert [slot.clock(VEGAS) for slot in slots] == ["00:00-00:30", "00:30-01:00"]
    assert slots[0].start == datetime(2026, 7, 16, 7, 0, tzinfo=UTC)


def test_a_slot_a_driver_could_not_reach_in_time_is_left_out() -> None:
    at_1_20_pm = datetime(2026, 7, 15, 20, 20, tzinfo=UTC)  # 13:30-14:00 ends in 40 minutes
    slots = next_slots(at_1_20_pm, VEGAS, timedelta(minutes=45), count=2)
    assert [slot.clock(VEGAS) for slot in slots] == ["14:00-14:30", "14:30-15:00"]


def test_a_slot_travels_in_a_button_as_its_utc_start() -> None:
    slot = next_slots(datetime(2026, 7, 15, 20, 10, tzinfo=UTC), VEGAS, QUARTER, count=1)[0]
    assert slot.key == "202607152030"
    assert Slot.from_key(slot.key) == slot


def test_a_mangled_or_forged_slot_key_is_no_slot() -> None:
    for key in ("", "2026071520", "20260715203x", "202613152030", "202607152075", "-20260715203"):
        assert Slot.from_key(key) is None, key
