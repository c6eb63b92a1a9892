"""Many instances on one PostgreSQL: what a second one buys, the accept race across two, leader takeover.

Run: python -m bench.instances [--drivers 1000] [--kills 5] [--race-drivers 200] [--window N] [--takeover N]

On PostgreSQL only (DATABASE_URL from the environment, else TEST_DATABASE_URL; a scratch database
is made on that server for each part and dropped after it). Every instance is a real
`storerun run` process in webhook mode; the emulator spreads the POSTs over the instances at
random and keeps Telegram's limits (30 messages a second, one a second per chat), as Telegram does.

1. Throughput: `--drivers` drivers each send /status at once, to one instance and then (on a fresh
   database, the same flood) to two; an update counts as applied when its inbox row is done. The
   rate is the updates over the time from the first stored to the last applied.
2. The accept race: `--race-drivers` drivers press Accept on one offer at once, spread over two
   instances: how many were awarded it (must be 1), how many presses were answered, and the
   press-to-answer latency (p50, p99).
3. Takeover: the leader is SIGKILLed `--kills` times; each time, the seconds until another instance
   says in /healthz that it leads (p50, max). The killed one is restarted between kills.

The report ends with one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from bench.accept_race import EN, offer_line, percentile, press_all
from bench.cluster import ADMIN_ID, Cluster, prepare_database, scratch_database
from bot import keyboards, texts
from bot.config import Settings
from sandbox.emulator import BotApiEmulator
from sandbox.reading import part
from storage import schema
from storage.db import Database
from storage.records import EventKind, InboxStatus

FIRST_DRIVER = 400_000
FLOOD_TIMEOUT_SECONDS = 600.0
RACE_TIMEOUT_SECONDS = 120.0
SEED = 7


@dataclass(frozen=True, slots=True)
class Flood:
    """One flood of /status: how many updates, and over how long they were stored and applied."""

    instances: int
    updates: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.updates / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True, slots=True)
class RaceResult:
    drivers: int
    window_seconds: int
    awarded: int
    answered: int
    p50_ms: float
    p99_ms: float


def database_server() -> str:
    """The PostgreSQL server to make scratch databases on: DATABASE_URL, else TEST_DATABASE_URL."""
    url = os.environ.get("DATABASE_URL") or os.environ.get("TEST_DATABASE_URL") or ""
    if not url.startswith(("postgresql", "postgres")):
        raise SystemExit(
            "bench.instances runs on PostgreSQL: set DATABASE_URL (or TEST_DATABASE_URL) to a server, "
            "like postgresql://postgres@127.0.0.1:5432/postgres"
        )
    return url


def add_people(emulator: BotApiEmulator, drivers: range) -> None:
    for user_id in drivers:
        emulator.add_user(user_id, f"Driver {user_id}")


async def _applied(db: Database) -> tuple[int, float]:
    """Inbox rows done, and the seconds from the first stored to the last applied."""
    i = schema.inbox
    query = select(func.count(), func.min(i.c.received_at), func.max(i.c.done_at)).where(
        i.c.status == InboxStatus.DONE
    )
    async with db.read() as tx:
        done, first, last = (await tx.connection.execute(query)).one()
    seconds = (last - first).total_seconds() if first is not None and last is not None else 0.0
    return int(done), seconds


async def flood(
    server: str, instances: int, drivers: range, workdir: Path, settings: dict[str, str]
) -> Flood:
    """Every driver sends /status at once to a cluster of `instances`; until every one is applied."""
    async with scratch_database(server, prefix="storerun_bench_instances") as url:
        await prepare_database(url, drivers)
        async with Cluster(url, workdir, size=instances, settings=settings) as cluster:
            add_people(cluster.emulator, drivers)
            await cluster.wait_for_leader()
            db = Database.connect(url)
            try:
                for user_id in drivers:
                    await cluster.emulator.send_text(user_id, "/status")
                deadline = time.monotonic() + FLOOD_TIMEOUT_SECONDS
                while (done := (await _applied(db))[0]) < len(drivers):
                    cluster.check_alive()
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{done} of {len(drivers)} applied in time:\n{cluster.tails()}")
                    await asyncio.sleep(0.05)
                done, seconds = await _applied(db)
            finally:
                await db.close()
    return Flood(instances, done, seconds)


async def race(cluster: Cluster, db: Database, drivers: range, window: int) -> RaceResult:
    """Every driver presses Accept on one offer at once, each press through either instance."""
    emulator = cluster.emulator
    await emulator.send_text(ADMIN_ID, offer_line())
    copy = part(EN(texts.OFFER_COPY))
    await asyncio.gather(*(emulator.wait_for_message(d, copy, timeout=120) for d in drivers))
    presses = await press_all(drivers, lambda d: emulator.press(d, EN(keyboards.ACCEPT), timeout=30), SEED)
    awarded = 0
    deadline = time.monotonic() + window + RACE_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        async with db.read() as tx:
            offers = await tx.offers.listed()
            events = [event for offer in offers for event in await tx.events.for_offer(offer.id)]
        awarded = sum(1 for event in events if event.kind == EventKind.ACCEPT)
        decided = any(event.kind in (EventKind.ACCEPT, EventKind.NO_AWARD) for event in events)
        if decided:
            await asyncio.sleep(1.0)  # a second award, if the rule were broken, would come now
            async with db.read() as tx:
                events = [event for offer in offers for event in await tx.events.for_offer(offer.id)]
            awarded = sum(1 for event in events if event.kind == EventKind.ACCEPT)
            break
        await asyncio.sleep(0.1)
    latencies = [press.latency for press in presses if press.latency is not None]
    return RaceResult(
        drivers=len(drivers),
        window_seconds=window,
        awarded=awarded,
        answered=sum(1 for press in presses if press.answered),
        p50_ms=round(statistics.median(latencies) * 1000, 1) if latencies else 0.0,
        p99_ms=round(percentile(latencies, 0.99) * 1000, 1) if latencies else 0.0,
    )


async def takeovers(cluster: Cluster, kills: int, say: Callable[[str], None]) -> list[float]:
    """SIGKILL the leader `kills` times; seconds until another instance says it leads, each time."""
    seconds = []
    for number in range(1, kills + 1):
        leader = await cluster.wait_for_leader()
        killed_at = time.monotonic()
        await cluster.kill(leader)
        successor = await cluster.wait_for_leader(besides=leader)
        seconds.append(time.monotonic() - killed_at)
        say(f"  kill {number}: {leader.name} killed, {successor.name} leads after {seconds[-1]:.2f} s")
        await cluster.restart(leader)
    return seconds


async def race_and_takeovers(
    server: str,
    drivers: range,
    kills: int,
    window: int,
    workdir: Path,
    settings: dict[str, str],
    say: Callable[[str], None],
) -> tuple[RaceResult, list[float], dict[str, int]]:
    async with scratch_database(server, prefix="storerun_bench_instances") as url:
        await prepare_database(url, drivers, online=True)
        race_settings = {**settings, "WAVE_SIZE": str(len(drivers)), "AWARD_WINDOW_SECONDS": str(window)}
        async with Cluster(url, workdir, size=2, settings=race_settings) as cluster:
            add_people(cluster.emulator, drivers)
            await cluster.wait_for_leader()
            db = Database.connect(url)
            try:
                result = await race(cluster, db, drivers, window)
            finally:
                await db.close()
            say(
                f"accept race: {result.drivers} drivers, award window {window} s: awarded to {result.awarded}"
                f" (must be 1), {result.answered} answered, p50 {result.p50_ms} ms, p99 {result.p99_ms} ms"
            )
            say(f"takeover: the leader SIGKILLed {kills} times")
            seconds = await takeovers(cluster, kills, say)
            stats = cluster.emulator.stats
            limits = {
                "too_many_requests": stats.too_many_requests,
                "chat_spacing_violations": stats.chat_spacing_violations,
            }
    return result, seconds, limits


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.instances", description=__doc__.splitlines()[0])
    parser.add_argument("--drivers", type=int, default=1000, help="drivers in the /status flood")
    parser.add_argument("--kills", type=int, default=5, help="SIGKILLs of the leader")
    parser.add_argument("--race-drivers", type=int, default=200, help="drivers pressing Accept at once")
    parser.add_argument(
        "--window", type=int, default=None, help="AWARD_WINDOW_SECONDS in the race (default: the setting's)"
    )
    parser.add_argument(
        "--takeover", type=float, default=None, help="LEADER_TAKEOVER_SECONDS (default: the setting's)"
    )
    arguments = parser.parse_args(argv)
    if arguments.drivers < 1 or arguments.kills < 1 or arguments.race_drivers < 1:
        parser.error("--drivers, --kills and --race-drivers must be at least 1")
    server = database_server()
    settings: dict[str, str] = {"LOG_LEVEL": "WARNING"}
    if arguments.takeover is not None:
        settings["LEADER_TAKEOVER_SECONDS"] = str(arguments.takeover)
    takeover_setting = (
        arguments.takeover
        if arguments.takeover is not None
        else Settings.model_fields["leader_takeover_seconds"].default
    )
    window = (
        arguments.window
        if arguments.window is not None
        else Settings.model_fields["award_window_seconds"].default
    )

    def say(line: str) -> None:
        print(line, flush=True)

    flood_drivers = range(FIRST_DRIVER, FIRST_DRIVER + arguments.drivers)
    floods = []
    say(f"throughput: {arguments.drivers} drivers send /status at once (Telegram's limits on)")
    for instances in (1, 2):
        with tempfile.TemporaryDirectory(prefix="storerun-instances-") as scratch:
            result = asyncio.run(flood(server, instances, flood_drivers, Path(scratch), settings))
        floods.append(result)
        say(
            f"  {instances} instance{'s' if instances > 1 else ' '}: {result.updates} updates applied in"
            f" {result.seconds:.2f} s, {result.per_second:.0f} per second"
        )
    one, two = floods
    ratio = round(two.per_second / one.per_second, 2) if one.per_second else 0.0
    say(f"  ratio 2 : 1       {ratio} (on this machine, {os.cpu_count()} cores)")

    race_drivers = range(FIRST_DRIVER, FIRST_DRIVER + arguments.race_drivers)
    with tempfile.TemporaryDirectory(prefix="storerun-instances-") as scratch:
        accept, seconds, limits = asyncio.run(
            race_and_takeovers(server, race_drivers, arguments.kills, window, Path(scratch), settings, say)
        )
    p50 = round(statistics.median(seconds), 2)
    worst = round(max(seconds), 2)
    say(f"  takeover          p50 {p50} s, max {worst} s (LEADER_TAKEOVER_SECONDS={takeover_setting:g})")
    say(
        f"emulator: {limits['too_many_requests']} × 429, {limits['chat_spacing_violations']} messages"
        " to a chat within a second of the one before"
    )
    print(
        json.dumps(
            {
                "benchmark": "instances",
                "cores": os.cpu_count(),
                "flood_drivers": arguments.drivers,
                "applied_per_second_1": round(one.per_second, 1),
                "applied_per_second_2": round(two.per_second, 1),
                "ratio_2_to_1": ratio,
                "race_drivers": accept.drivers,
                "race_award_window_s": accept.window_seconds,
                "race_awarded": accept.awarded,
                "race_answered": accept.answered,
                "race_p50_ms": accept.p50_ms,
                "race_p99_ms": accept.p99_ms,
                "kills": len(seconds),
                "leader_takeover_setting_s": takeover_setting,
                "takeover_p50_s": p50,
                "takeover_max_s": worst,
                "takeover_s": [round(value, 3) for value in seconds],
                **limits,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
