"""The simulated day's clockwork: people act in order of simulated time, paced by the day's speed."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dispatch.clock import SimulatedClock
from sandbox.simulation import Pacer, Timeline

OPENS = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("America/Los_Angeles"))


def later(seconds: float) -> datetime:
    return OPENS + timedelta(seconds=seconds)


async def test_people_act_one_at_a_time_in_order_of_their_moments() -> None:
    clock = SimulatedClock(OPENS)
    timeline = Timeline(clock)
    acted: list[tuple[str, datetime]] = []

    async def person(name: str, *pauses: float) -> None:
        for pause in pauses:
            await timeline.sleep(pause)
            assert not [other for other, at in acted if at == clock.now() and other == name]
            acted.append((name, clock.now()))

    timeline.start(person("Ana", 10, 10))
    timeline.start(person("Ben", 5, 15))
    while True:
        await timeline.until_quiet()
        if timeline.resume_next():
            continue
        upcoming = timeline.next_at()
        if upcoming is None:
            break
        clock.move_to(upcoming)

    # At the same moment, whoever scheduled first goes first (Ben chose his moment at +5, Ana at +10).
    assert acted == [("Ben", later(5)), ("Ana", later(10)), ("Ben", later(20)), ("Ana", later(20))]


def test_the_simulated_clock_never_goes_back() -> None:
    clock = SimulatedClock(OPENS)
    clock.move_to(later(60))

    with pytest.raises(ValueError, match="cannot go back"):
        clock.move_to(later(30))
    assert clock.now() == later(60)


def test_the_clock_keeps_to_its_speed_and_does_not_rush_after_a_busy_spell() -> None:
    real = [0.0]
    pacer = Pacer(10, monotonic=lambda: real[0])

    assert pacer.wait(OPENS, later(100)) == 10  # 100 simulated seconds at 10x
    real[0] = 10
    assert pacer.wait(OPENS, later(100)) == 0
    assert pacer.wait(later(100), later(150)) == 5

    real[0] = 100  # the bot was busy for a long while: the clock stood at +100
    assert pacer.wait(later(100), later(150)) == 5  # paced from here on, no rush to make up

    real[0] = 107  # a little behind (moved to +150 at 105; +160 was due at 106)
    assert pacer.wait(later(150), later(160)) == 0  # a small lag is caught up
