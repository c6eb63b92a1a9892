"""Killed mid-burst: 8 rounds of 40 people, `storerun run` SIGKILLed and restarted; every update once."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.crash import crash_rounds


@pytest.mark.timeout(600)
@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_every_update_has_its_effect_exactly_once_whatever_moment_the_bot_is_killed(
    mode: str, tmp_path: Path
) -> None:
    report = await crash_rounds(mode=mode, rounds=8, people=40, workdir=tmp_path, say=lambda line: None)
    assert report.updates == 8 * 40
    assert (report.lost, report.applied_twice) == (0, 0), report.summary()
    # The kills did land while updates were stored but not yet applied, in some rounds at least.
    assert any(report.pending_at_kill), report.summary()
