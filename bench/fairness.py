"""Fairness benchmark: 1,000 offers to 20 drivers, one of whom taps 50 ms after delivery; who wins them?

Run with `python -m bench.fairness`. The offers are played in the domain itself (Dispatch and its
OfferDesk over a SQLite database, the pilot seeded), with a clock the benchmark moves and no
Telegram: 50 offers a local day (09:00–18:48 in Las Vegas, one every 12 minutes), each sent in one
wave to all 20 approved, online drivers of the area. Each copy is marked delivered 0.1–1 s after
the wave (the outbox's fan-out); one driver (a script) presses Accept 50 ms after their copy is
delivered, every time; each of the other 19 presses Accept 2–8 s after theirs with a chance of
75 %, Decline with 10 %, and otherwise lets it pass. The presses are applied in time order, an
Accept first answered from what is committed as the bot does (one that cannot win changes
nothing). The holding limit is set above the number of offers, so no driver is ever kept out of
an award by MAX_OFFERS_HELD. The same offers and presses are played twice, side by side in a
process each: in instant mode (award window 0, the first Accept wins) and with the default award
window (AWARD_WINDOW_SECONDS, the area's default fairness order). The report gives each group's
share of the awards against its fair share (1/20 each) and the fast driver's share over a human's
mean share (target with the window: at most 1.2). The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import random
import statistics
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.config import Settings
from bot.texts import Catalog
from dispatch.actors import Actor
from dispatch.awards import DEFAULT_ORDER
from dispatch.clock import FakeClock
from dispatch.dispatcher import Dispatch, Rules
from dispatch.offers import Entered, Press
from dispatch.orders import parse_order_line
from dispatch.pilot import PILOT_FILE, read_pilot, seed
from storage import schema
from storage.db import Database
from storage.records import Account

ADMIN = 1000
FIRST_USER = 500_000  # the drivers' Telegram user ids; the first is the fast one
DRIVERS = 20
AREA = "las-vegas"
TZ = ZoneInfo("America/Los_Angeles")
STORES = ("FS-ZARA", "FS-APPLE", "FS-SEPHORA")
FIRST_DAY = date(2026, 11, 30)  # a Monday
OFFERS_PER_DAY = 50
DAY_STARTS = clock_time(9, 0)
SPACING = timedelta(minutes=12)  # between two offers of a day
PICKUP_LEAD = timedelta(hours=1)  # from an offer's creation to its pickup window
PICKUP_LENGTH = timedelta(minutes=30)
DELIVERY = (0.1, 1.0)  # seconds from the wave until a copy is delivered
FAST_TAP = 0.05  # seconds after delivery
HUMAN_TAP = (2.0, 8.0)
ACCEPT_CHANCE = 0.75
DECLINE_CHANCE = 0.10
# Winners keep what they win (nothing is picked up or delivered here): a holding limit above any
# run's offers, so nobody is ever kept out of an award by MAX_OFFERS_HELD.
NEVER_FULL = 1_000_000
TARGET_RATIO = 1.2
DEFAULT_WINDOW = timedelta(seconds=Settings.model_fields["award_window_seconds"].default)


@dataclass(frozen=True, slots=True)
class Tap:
    """One driver's copy of one offer: when it is delivered (seconds after the wave) and what the
    driver does with it, how long after delivery."""

    delivered: float
    action: str | None  # "accept", "decline", or None: they let it pass
    after: float


def plan(offers: int, seed_value: int) -> list[list[Tap]]:
    """Every offer's taps, driver by driver (index 0 is the fast driver); the same in both modes."""
    chance = random.Random(seed_value)
    offers_taps = []
    for _ in range(offers):
        taps = []
        for index in range(DRIVERS):
            delivered = chance.uniform(*DELIVERY)
            if index == 0:
                taps.append(Tap(delivered, "accept", FAST_TAP))
                continue
            roll = chance.random()
            action = (
                "accept"
                if roll < ACCEPT_CHANCE
                else "decline"
                if roll < ACCEPT_CHANCE + DECLINE_CHANCE
                else None
            )
            taps.append(Tap(delivered, action, chance.uniform(*HUMAN_TAP)))
        offers_taps.append(taps)
    return offers_taps


def created_at(number: int) -> datetime:
    """When offer `number` is put out: 50 a local day, 12 minutes apart from 09:00."""
    day = FIRST_DAY + timedelta(days=number // OFFERS_PER_DAY)
    local = datetime.combine(day, DAY_STARTS, tzinfo=TZ) + SPACING * (number % OFFERS_PER_DAY)
    return local.astimezone(ZoneInfo("UTC"))


def order_line(number: int, store: str, at: datetime) -> str:
    """An admin's order line for offer `number`: its pickup window an hour after it is put out."""
    start = at.astimezone(TZ) + PICKUP_LEAD
    end = start + PICKUP_LENGTH
    return (
        f"store={store} packages=2 pay=18.50 window={start:%H:%M}-{end:%H:%M} date={start:%Y-%m-%d} "
        f'zone=89109 ref=F{number:05d} address="3200 Las Vegas Blvd S, Las Vegas, NV 89109"'
    )


@dataclass(frozen=True, slots=True)
class Outcome:
    """One mode's run: awards won and Accepts pressed per driver (index 0 is the fast driver)."""

    window: timedelta
    offers: int
    wins: list[int]
    accepts: list[int]
    seconds: float
    deciding: dict[str, int]  # with a window: how many awards each key of the order decided

    @property
    def awarded(self) -> int:
        return sum(self.wins)

    @property
    def fast_won(self) -> int:
        return self.wins[0]

    @property
    def human_wins(self) -> list[int]:
        return self.wins[1:]

    def share(self, wins: float) -> float:
        return wins / self.awarded if self.awarded else 0.0

    @property
    def ratio(self) -> float:
        """The fast driver's share of the awards over a human's mean share (inf: humans won none)."""
        human = statistics.mean(self.human_wins)
        if human == 0:
            return math.inf if self.fast_won else math.nan
        return self.fast_won / human

    def figures(self) -> dict[str, Any]:
        fair = 1 / DRIVERS
        human_mean = statistics.mean(self.human_wins)
        ratio = self.ratio
        return {
            "award_window_s": self.window.total_seconds(),
            "awarded": self.awarded,
            "fast_won": self.fast_won,
            "fast_share": round(self.share(self.fast_won), 4),
            "fast_vs_fair": round(self.share(self.fast_won) / fair, 2),
            "human_won_mean": round(human_mean, 2),
            "human_won_min": min(self.human_wins),
            "human_won_max": max(self.human_wins),
            "human_share_mean": round(self.share(human_mean), 4),
            "human_vs_fair": round(self.share(human_mean) / fair, 2),
            "fast_accepts": self.accepts[0],
            "human_accepts_mean": round(statistics.mean(self.accepts[1:]), 1),
            # JSON has no infinity: null when the humans won nothing at all.
            "fast_to_human_ratio": round(ratio, 3) if math.isfinite(ratio) else None,
            "decided_by": self.deciding,
            "seconds": round(self.seconds, 1),
        }


@dataclass
class World:
    """One mode's world: a database with the pilot seeded and the drivers, and its own clock."""

    db: Database
    clock: FakeClock
    dispatch: Dispatch
    users: list[int]  # Telegram user ids by driver index
    index_of: dict[int, int]  # driver id → index


async def build(window: timedelta, folder: Path) -> World:
    """A fresh database file in `folder` for this award window, upgraded and seeded, with the drivers."""
    db = Database.connect(f"sqlite+aiosqlite:///{folder / f'fairness-{window.total_seconds():g}s.db'}")
    await db.upgrade()
    await seed(db, read_pilot(PILOT_FILE))
    clock = FakeClock(created_at(0) - timedelta(hours=1))
    rules = Rules(wave_size=DRIVERS, award_window=window, max_offers_held=NEVER_FULL)
    dispatch = Dispatch(db, clock, Catalog(clock), rules=rules, admin_ids={ADMIN})
    users = [FIRST_USER + index for index in range(DRIVERS)]
    return World(db, clock, dispatch, users, await _drivers(db, users, clock.now()))


async def play(world: World, taps: list[list[Tap]]) -> Outcome:
    """Play every offer through the domain; returns who won what."""
    started = time.perf_counter()
    db, clock, dispatch, users, index_of = world.db, world.clock, world.dispatch, world.users, world.index_of
    drivers = {index: driver_id for driver_id, index in index_of.items()}
    window = dispatch.rules.award_window
    wins = [0] * DRIVERS
    deciding: Counter[str] = Counter()
    message_id = 0
    for number, offer_taps in enumerate(taps):
        wave_at = created_at(number)
        clock.set(wave_at)
        store = STORES[number % len(STORES)]
        line = parse_order_line(order_line(number, store, wave_at))
        created = await dispatch.offers.create(line, store_code=store, by=Actor.admin(ADMIN))
        if created.view is None:
            raise RuntimeError(f"offer {number} was not created: {created.problems}")
        offer_id = created.view.offer.id
        # The outbox's fan-out: each copy is delivered (its notice gets delivered_at).
        async with db.transaction() as tx:
            notices = await tx.notices.for_offer(offer_id)
            rows = await tx.notices.outbox_rows([notice.id for notice in notices])
            for notice in notices:
                message_id += 1
                delivered = wave_at + timedelta(seconds=offer_taps[index_of[notice.driver_id]].delivered)
                await tx.outbox.mark_sent(rows[notice.id], at=delivered, message_id=message_id, attempts=1)
        if len(notices) != DRIVERS:
            raise RuntimeError(f"offer {number} reached {len(notices)} drivers, not {DRIVERS}")
        presses = sorted(
            (wave_at + timedelta(seconds=tap.delivered + tap.after), index, tap.action)
            for index, tap in enumerate(offer_taps)
            if tap.action is not None
        )
        winner: int | None = None  # the driver id the offer went to
        award_at: datetime | None = None
        for at, index, action in presses:
            clock.set(at)
            if action == "decline":
                await dispatch.offers.decline(offer_id, users[index])
                continue
            if not window:
                # As the bot does: an Accept is first answered from what is committed, and one
                # that cannot change anything (the offer is taken) ends with that answer. (With a
                # window that answer is "you're in", and the press is applied in its turn anyway.)
                async with db.read() as tx:
                    verdicts = await dispatch.offers.on_arrival(tx, {(offer_id, users[index]): at})
                verdict = verdicts.get((offer_id, users[index]))
                if verdict is not None and verdict.final:
                    continue
            pressed = await dispatch.offers.accept(offer_id, users[index], pressed_at=at)
            if pressed is Press.AWARDED:
                winner = drivers[index]
            elif isinstance(pressed, Entered):
                award_at = pressed.award_at
        if window:
            if award_at is None:
                raise RuntimeError(f"offer {number}: nobody entered its award window")
            clock.set(award_at)
            award = await dispatch.offers.award(offer_id)
            if award is None or award.winner_id is None:
                raise RuntimeError(f"offer {number} was not awarded: {award}")
            winner = award.winner_id
            deciding[str(award.deciding or "alone")] += 1
        if winner is None:
            raise RuntimeError(f"offer {number} went to nobody")
        wins[index_of[winner]] += 1
    await _check_holders(db, wins, index_of)
    accepts = [sum(1 for offer_taps in taps if offer_taps[i].action == "accept") for i in range(DRIVERS)]
    return Outcome(window, len(taps), wins, accepts, time.perf_counter() - started, dict(deciding))


async def _drivers(db: Database, users: list[int], now: datetime) -> dict[int, int]:
    """The drivers, approved and online in the area; returns driver id → index."""
    index_of = {}
    async with db.transaction() as tx:
        area = await tx.areas.by_slug(AREA)
        assert area is not None
        for index, user_id in enumerate(users):
            driver_id = await tx.drivers.add(user_id, user_id, f"Driver {index + 1}", now)
            await tx.drivers.add_area(driver_id, area.id)
            await tx.drivers.set_status(driver_id, [Account.PENDING], Account.APPROVED)
            await tx.drivers.update(driver_id, online=True, enrolled_at=now)
            index_of[driver_id] = index
    return index_of


async def _check_holders(db: Database, wins: list[int], index_of: dict[int, int]) -> None:
    """The wins counted from the domain's answers are the holders the database has."""
    offers = schema.offers
    async with db.read() as tx:
        rows = await tx.connection.execute(
            select(offers.c.holder_id, func.count())
            .where(offers.c.status == "accepted")
            .group_by(offers.c.holder_id)
        )
        held = [0] * DRIVERS
        for holder_id, count in rows:
            held[index_of[holder_id]] = int(count)
    if held != wins:
        raise RuntimeError(f"the database's holders {held} are not the wins counted {wins}")


@dataclass(frozen=True, slots=True)
class Comparison:
    """The two modes' runs over the same offers and presses."""

    instant: Outcome
    window: Outcome

    @property
    def met(self) -> bool:
        return self.window.ratio <= TARGET_RATIO


def play_mode(offers: int, seed_value: int, window_seconds: float) -> Outcome:
    """One mode, from a fresh database in a folder of its own (a process of its own may run it)."""
    taps = plan(offers, seed_value)
    with tempfile.TemporaryDirectory() as folder:
        return asyncio.run(_play_in(Path(folder), taps, timedelta(seconds=window_seconds)))


async def _play_in(folder: Path, taps: list[list[Tap]], window: timedelta) -> Outcome:
    world = await build(window, folder)
    try:
        return await play(world, taps)
    finally:
        await world.db.close()


def compare(offers: int, seed_value: int, window: timedelta = DEFAULT_WINDOW, jobs: int = 2) -> Comparison:
    """The same offers and presses in instant mode and with the award window; with `jobs` 2 the
    two modes run side by side, each in a process of its own."""
    windows = [0.0, window.total_seconds()]
    if jobs > 1:
        spawn = multiprocessing.get_context("spawn")  # no copy of a caller's running event loop
        with ProcessPoolExecutor(max_workers=2, mp_context=spawn) as pool:
            instant, windowed = pool.map(play_mode, [offers] * 2, [seed_value] * 2, windows)
    else:
        instant, windowed = (play_mode(offers, seed_value, seconds) for seconds in windows)
    return Comparison(instant, windowed)


def report(result: Comparison, seed_value: int) -> dict[str, Any]:
    """Print the readable report; returns the figures for the JSON line."""
    offers = result.instant.offers
    days = math.ceil(offers / OFFERS_PER_DAY)
    print(
        f"fairness: {offers} offers over {days} local days, each to all {DRIVERS} drivers "
        f"(seed {seed_value}); 1 driver taps Accept {FAST_TAP * 1000:.0f} ms after delivery, "
        f"{DRIVERS - 1} tap {HUMAN_TAP[0]:g}–{HUMAN_TAP[1]:g} s after it ({ACCEPT_CHANCE:.0%} accept, "
        f"{DECLINE_CHANCE:.0%} decline, the rest let it pass)"
    )
    print(f"  fair share           {1 / DRIVERS:.1%} of the awards each")
    for name, outcome in (
        ("instant (first Accept wins)", result.instant),
        (f"award window {result.window.window.total_seconds():g} s, {DEFAULT_ORDER} order", result.window),
    ):
        f = outcome.figures()
        ratio = outcome.ratio
        shown = f"{ratio:.2f}" if math.isfinite(ratio) else "∞ (the humans won none)"
        print(f"  {name}: {f['awarded']} awarded in {f['seconds']} s")
        print(
            f"    fast driver        won {f['fast_won']}: {f['fast_share']:.1%} of the awards, "
            f"{f['fast_vs_fair']}× the fair share ({f['fast_accepts']} Accepts pressed)"
        )
        print(
            f"    each human         won {f['human_won_mean']} on average (min {f['human_won_min']}, "
            f"max {f['human_won_max']}): {f['human_share_mean']:.1%}, {f['human_vs_fair']}× the fair share "
            f"({f['human_accepts_mean']} Accepts pressed on average)"
        )
        print(f"    fast / human share {shown}")
        if outcome.deciding:
            keys = ", ".join(f"{key} {count}" for key, count in sorted(outcome.deciding.items()))
            print(f"    decided by         {keys}")
    met = result.met
    print(f"  target with the window: fast / human share <= {TARGET_RATIO}: {'met' if met else 'MISSED'}")
    return {
        "benchmark": "fairness",
        "offers": offers,
        "drivers": DRIVERS,
        "seed": seed_value,
        "instant": result.instant.figures(),
        "window": result.window.figures(),
        "target_ratio": TARGET_RATIO,
        "met": met,
    }


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--offers", type=int, default=1000)
    options.add_argument("--seed", type=int, default=7)
    options.add_argument(
        "--window",
        type=float,
        default=DEFAULT_WINDOW.total_seconds(),
        help="the award window in seconds (default: AWARD_WINDOW_SECONDS's default)",
    )
    options.add_argument(
        "--jobs",
        type=int,
        default=2,
        help="2: the two modes side by side, a process each; 1: one after the other",
    )
    arguments = options.parse_args()
    if arguments.window <= 0:
        options.error("--window must be above 0 (instant mode is always played)")
    result = compare(arguments.offers, arguments.seed, timedelta(seconds=arguments.window), arguments.jobs)
    print(json.dumps(report(result, arguments.seed)))


if __name__ == "__main__":
    main()
