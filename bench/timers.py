"""Timers benchmark: 10,000 pending deadlines in the database, the bot starts, and a slice of them fires.

Run with `python -m bench.timers`. 5,000 open offers each wait for a next wave and an expiry, spread
at random over the next hour. The report gives how long the start took to schedule them all, how
late the timers of the first `--slice` seconds fired (p50/p99, by the clock; deadlines that came due
while the bot was still starting are counted apart, as the restart's catch-up), and the process's
peak memory; a bare APScheduler holding the same 10,000 no-op jobs in the same process is the
baseline. The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import insert

from bot.app import StorerunBot
from bot.config import load_settings
from dispatch.pilot import PILOT_FILE, read_pilot, seed
from sandbox.emulator import BotApiEmulator
from storage import schema

TOKEN = "123456:BENCH-TOKEN"
HOUR = 3600.0


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def spread(count: int, rng: random.Random) -> list[tuple[float, float]]:
    """For each offer: seconds from now to its next wave and to its expiry (the wave comes first)."""
    pairs = []
    for _ in range(count):
        first, second = sorted((rng.uniform(1, HOUR), rng.uniform(1, HOUR)))
        pairs.append((first, second))
    return pairs


async def storerun_timers(
    offsets: list[tuple[float, float]], folder: Path, slice_seconds: float
) -> dict[str, float]:
    async with BotApiEmulator(token=TOKEN) as emulator:
        settings = load_settings(
            _env_file=None,
            telegram_bot_token=TOKEN,
            telegram_api_url=emulator.url,
            database_url=f"sqlite+aiosqlite:///{folder / 'timers.db'}",
            log_level="WARNING",
            http_listen="",  # no health or metrics server inside a tool
        )
        bot = StorerunBot(settings)
        await bot.db.upgrade()
        await seed(bot.db, read_pilot(PILOT_FILE))
        now = bot.clock.now()
        async with bot.db.transaction() as tx:
            store = await tx.stores.by_code("FS-ZARA")
            assert store is not None
            rows = [
                {
                    "store_id": store.id,
                    "ref": f"B{number}",
                    "packages": 1,
                    "zone": "89109",
                    "address": "3200 Las Vegas Blvd S",
                    "pay_cents": 1500,
                    "pickup_start": now + timedelta(hours=2),
                    "pickup_end": now + timedelta(hours=2, minutes=30),
                    "pickup_code": "1234",
                    "status": "open",
                    "wave": 1,
                    "next_wave_at": now + timedelta(seconds=wave),
                    "expires_at": now + timedelta(seconds=expiry),
                    "created_at": now,
                }
                for number, (wave, expiry) in enumerate(offsets)
            ]
            await tx.connection.execute(insert(schema.offers), rows)
        fired: list[tuple[datetime, float]] = []  # (the deadline's moment, seconds late)
        observe = bot.timers.on_fired
        assert observe is not None

        def record(seconds: float) -> None:
            fired.append((bot.clock.now() - timedelta(seconds=seconds), seconds))
            observe(seconds)

        bot.timers.on_fired = record
        started = time.perf_counter()
        await bot.start()
        start_seconds = time.perf_counter() - started
        running_since = bot.clock.now()
        scheduled = len(bot.timers.pending)
        await asyncio.sleep(slice_seconds)
        await bot.stop()
    # Deadlines that came due while the bot was starting ran when the start reached them (the
    # restart catch-up); the timers' own punctuality is that of the ones due once it runs.
    lateness = [seconds for moment, seconds in fired if moment >= running_since]
    overdue = [seconds for moment, seconds in fired if moment < running_since]
    return {
        "scheduled": scheduled,
        "start_seconds": start_seconds,
        "fired": len(lateness),
        "p50": statistics.median(lateness) if lateness else float("nan"),
        "p99": percentile(lateness, 0.99) if lateness else float("nan"),
        "overdue_at_start": len(overdue),
        "overdue_max": max(overdue, default=0.0),
    }


async def bare_timers(offsets: list[tuple[float, float]], slice_seconds: float) -> dict[str, float]:
    """APScheduler alone: the same deadlines as no-op jobs, no database, no bot."""
    scheduler = AsyncIOScheduler(timezone=UTC)
    lateness: list[float] = []

    async def record(when: datetime) -> None:
        lateness.append((datetime.now(UTC) - when).total_seconds())

    now = datetime.now(UTC)
    started = time.perf_counter()
    scheduler.start()
    for number, (wave, expiry) in enumerate(offsets):
        for kind, seconds in (("wave", wave), ("expire", expiry)):
            when = now + timedelta(seconds=seconds)
            scheduler.add_job(
                record, "date", run_date=when, args=[when], id=f"{kind}:{number}", misfire_grace_time=None
            )
    start_seconds = time.perf_counter() - started
    await asyncio.sleep(slice_seconds)
    scheduler.shutdown(wait=False)
    return {
        "scheduled": len(offsets) * 2,
        "start_seconds": start_seconds,
        "fired": len(lateness),
        "p50": statistics.median(lateness) if lateness else float("nan"),
        "p99": percentile(lateness, 0.99) if lateness else float("nan"),
    }


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--deadlines", type=int, default=10_000)
    options.add_argument("--slice", type=float, default=30.0, help="seconds of deadlines to wait for")
    options.add_argument("--seed", type=int, default=7)
    arguments = options.parse_args()
    offsets = spread(arguments.deadlines // 2, random.Random(arguments.seed))
    with tempfile.TemporaryDirectory() as folder:
        ours = asyncio.run(storerun_timers(offsets, Path(folder), arguments.slice))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    bare = asyncio.run(bare_timers(offsets, arguments.slice))
    met = ours["scheduled"] == arguments.deadlines and ours["start_seconds"] <= 5 and ours["p99"] <= 1.0
    figures = {
        "benchmark": "timers",
        "deadlines": arguments.deadlines,
        "scheduled": int(ours["scheduled"]),
        "start_seconds": round(ours["start_seconds"], 3),
        "fired_in_slice": int(ours["fired"]),
        "overdue_at_start": int(ours["overdue_at_start"]),
        "overdue_ran_within_s": round(ours["overdue_max"], 3),
        "slice_seconds": arguments.slice,
        "lateness_p50_ms": round(ours["p50"] * 1000, 1),
        "lateness_p99_ms": round(ours["p99"] * 1000, 1),
        "peak_memory_mb": round(peak_mb, 1),
        "bare_schedule_seconds": round(bare["start_seconds"], 3),
        "bare_lateness_p99_ms": round(bare["p99"] * 1000, 1),
        "schedule_ratio_to_bare": round(ours["start_seconds"] / bare["start_seconds"], 2),
        "target_met": met,
    }
    print(f"timers: {arguments.deadlines} deadlines in the next hour; a {arguments.slice:.0f} s slice fires")
    print(f"  scheduled on start   {figures['scheduled']} in {figures['start_seconds']} s (whole bot start)")
    print(
        f"  bare APScheduler     {figures['bare_schedule_seconds']} s to add the same jobs "
        f"(ratio {figures['schedule_ratio_to_bare']})"
    )
    print(f"  fired in the slice   {figures['fired_in_slice']} (came due after the start)")
    print(
        f"  overdue at start     {figures['overdue_at_start']} (came due while it started;"
        f" ran within {figures['overdue_ran_within_s']} s of their moment)"
    )
    print(
        f"  lateness             p50 {figures['lateness_p50_ms']} ms, p99 {figures['lateness_p99_ms']} ms "
        f"(bare APScheduler p99 {figures['bare_lateness_p99_ms']} ms)"
    )
    print(f"  peak memory          {figures['peak_memory_mb']} MB (whole process, storerun run)")
    print(f"  target (scheduled within 5 s, lateness p99 <= 1 s): {'met' if met else 'MISSED'}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
