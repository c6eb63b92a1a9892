"""The injectable clock and the pilot seed file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dispatch.clock import FakeClock, SystemClock
from dispatch.pilot import PILOT_FILE, SeedError, read_pilot


def test_system_clock_is_aware_utc() -> None:
    assert SystemClock().now().utcoffset() == timedelta(0)


def test_fake_clock_moves_only_when_told() -> None:
    clock = FakeClock(datetime(2026, 7, 1, 12, 0, tzinfo=UTC))
    assert clock.now() == clock.now()
    clock.advance(90)
    assert clock.now() == datetime(2026, 7, 1, 12, 1, 30, tzinfo=UTC)


def test_fake_clock_refuses_naive_times() -> None:
    with pytest.raises(ValueError):
        FakeClock(datetime(2026, 7, 1, 12, 0))


def test_pilot_file_has_the_three_areas_with_stores() -> None:
    pilot = read_pilot(PILOT_FILE)
    assert [(area.slug, area.tz) for area in pilot.areas] == [
        ("las-vegas", "America/Los_Angeles"),
        ("chandler", "America/Phoenix"),
        ("tysons", "America/New_York"),
    ]
    assert all(len(area.stores) >= 2 for area in pilot.areas)


def test_a_bad_seed_file_is_named_with_what_is_wrong(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[areas]]\nslug = "mars"\nname = "Mars"\ntz = "Mars/Olympus"\n')
    with pytest.raises(SeedError, match=r"areas\.0\.tz.*unknown IANA time zone"):
        read_pilot(bad)
    bad.write_text("areas = [")
    with pytest.raises(SeedError, match="not valid TOML"):
        read_pilot(bad)
    with pytest.raises(SeedError, match="cannot read"):
        read_pilot(tmp_path / "missing.toml")
