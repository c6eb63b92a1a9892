"""`python -m bench.scale` at a tenth of its size: every figure reported, one winner, no command
timed out (the figures themselves are the README's, measured at full size)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FIGURES = {
    "backend",
    "drivers",
    "offers",
    "notices",
    "events",
    "outbox_rows",
    "seed_s",
    "db_mb_seeded",
    "db_mb",
    "startup_s",
    "rss_idle_mb",
    "rss_peak_mb",
    "rss_peak_by_phase_mb",
    "rss_children_peak_mb",
    "commands",
    "wave_drivers",
    "wave_reached",
    "wave_last_copy_s",
    "wave_floor_s",
    "wave_ratio_to_floor",
    "wave_429s",
    "race_presses",
    "race_winners",
    "race_answered",
    "race_p50_ms",
    "race_p99_ms",
    "bare_answered",
    "bare_p50_ms",
    "bare_p99_ms",
    "race_p99_ratio",
    "timeouts",
}

COMMANDS = {
    "/stats",
    "/stats las-vegas 30",
    "/export offers 30",
    "/export drivers",
    "/offers",
    "/offers today",
    "/offers las-vegas",
    "/drivers",
    "/drivers online",
    "/driver ID",
    "/offer ID",
    "/orders",
    "/status",
}


@pytest.mark.timeout(300)
def test_a_small_pilot_answers_every_admin_command_and_one_wave_has_one_winner(tmp_path: Path) -> None:
    small = ["--drivers", "1000", "--offers", "10000", "--runs", "1", "--command-timeout", "60"]
    run = subprocess.run(
        [sys.executable, "-m", "bench.scale", *small],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])

    assert set(report) >= FIGURES, FIGURES - set(report)
    assert (report["drivers"], report["offers"], report["backend"]) == (1000, 10000, "sqlite")
    assert report["notices"] >= 3 * 10000 and report["events"] >= 3 * 10000
    assert set(report["commands"]) == COMMANDS
    assert report["timeouts"] == [], report["commands"]
    for label, command in report["commands"].items():
        assert command["p95_s"] is not None and command["median_s"] is not None, label
        assert command["answer"], label
    assert report["rss_idle_mb"] > 0 and report["rss_peak_mb"] >= report["rss_idle_mb"]
    assert report["db_mb"] > 0

    wave = report["wave_drivers"]
    assert wave >= 50 and report["wave_reached"] == wave  # every online driver of the area
    assert report["wave_429s"] == 0
    assert report["race_presses"] == report["race_answered"] == report["bare_answered"] == wave
    assert report["race_winners"] == 1
    assert report["rss_children_peak_mb"] > 0  # /stats drew its chart in a process of its own
