"""/stats says how evenly each area's offers were won (each driver's share, a Gini coefficient over
everyone who pressed Accept or won) and how many presses were fast taps; /driver counts fast taps."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from bot.texts import Catalog, Texts, driver_profile, stats_text
from dispatch.awards import gini
from dispatch.clock import FakeClock
from dispatch.dispatcher import Dispatch, Rules
from dispatch.stats import AreaStats, Stats, compute_stats
from storage import schema
from storage.db import Database
from storage.records import Language
from storage.repos import Transaction
from tests.dispatch.sql_cost import sql_cost

# 04:00 PST in Las Vegas, 05:00 MST in Chandler, on Thu Jan 22; Las Vegas's week began on
# Jan 16 at 08:00 UTC, Chandler's at 07:00 UTC.
NOW = datetime(2026, 1, 22, 12, 0, tzinfo=UTC)
EN = Texts(Language.EN, FakeClock(NOW))


def at(text: str) -> datetime:
    """A UTC instant from "2026-01-20 18:00:00"."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass
class Place:
    vegas: int
    chandler: int
    zara: int
    nike: int
    ana: int
    ben: int
    cai: int
    dee: int  # pressed Accept, never won
    eli: int  # only ever declined
    offers: int = 0


async def add_offer(tx: Transaction, place: Place, store_id: int, when: datetime) -> int:
    place.offers += 1
    return await tx.offers.add(
        store_id=store_id,
        ref=f"F{place.offers}",
        packages=1,
        zone="89109",
        address="1 Test Way",
        pay_cents=1500,
        pickup_start=when + timedelta(hours=1),
        pickup_end=when + timedelta(hours=1, minutes=30),
        pickup_code="1234",
        status="accepted",
        created_at=when,
    )


async def press(
    tx: Transaction,
    offer_id: int,
    driver_id: int,
    when: datetime,
    ms: int | None,
    *,
    won: bool = False,
    outcome: str = "taken",
) -> None:
    """A copy of the offer, first pressed at `when`, `ms` after its delivery (None: delivery
    unknown); the winner's copy won a second later."""
    notice_id = await tx.notices.record(offer_id, driver_id, driver_id, 1, when - timedelta(seconds=5))
    n = schema.notices
    await tx.connection.execute(
        update(n)
        .where(n.c.id == notice_id)
        .values(
            outcome="accepted" if won else outcome,
            pressed_at=when,
            press_ms=ms,
            won_at=when + timedelta(seconds=1) if won else None,
        )
    )


async def won_offer(
    tx: Transaction,
    place: Place,
    store_id: int,
    when: str,
    winner: int,
    others: dict[int, int | None] | None = None,
    winner_ms: int | None = 1500,
) -> None:
    """An offer the winner won at `when`; the others pressed Accept too (ms after delivery)."""
    offer = await add_offer(tx, place, store_id, at(when) - timedelta(minutes=1))
    await press(tx, offer, winner, at(when), winner_ms, won=True)
    for driver, ms in (others or {}).items():
        await press(tx, offer, driver, at(when) + timedelta(milliseconds=300), ms)


async def seed(db: Database) -> Place:
    """Las Vegas: Ana wins 3 offers (with fast taps), Ben 2, Cai 1; Dee presses Accept and wins
    nothing; Eli only declines. Chandler: Ben wins 2. Some of it falls before the week."""
    async with db.transaction() as tx:
        vegas = await tx.areas.upsert("las-vegas", "Fashion Show", "America/Los_Angeles")
        chandler = await tx.areas.upsert("chandler", "Chandler Fashion Center", "America/Phoenix")
        zara = await tx.stores.upsert("FS-ZARA", "Zara", vegas, "Level 1")
        nike = await tx.stores.upsert("CH-NIKE", "Nike", chandler, "Level 2")
        drivers = [
            await tx.drivers.add(100 + number, 100 + number, name, NOW - timedelta(days=30))
            for number, name in enumerate(["Ana Ruiz", "Ben Ode", "Cai Lin", "Dee Moss", "Eli Park"])
        ]
        place = Place(vegas, chandler, zara, nike, *drivers)
        ana, ben, cai, dee, eli = drivers

        # Las Vegas, in its week: 6 awards, 14 timed presses of which 4 fast (under 600 ms).
        await won_offer(tx, place, zara, "2026-01-17 18:00:00", ana, {dee: 2000, ben: 900}, winner_ms=200)
        await won_offer(tx, place, zara, "2026-01-18 18:00:00", ana, {dee: 2500}, winner_ms=250)
        await won_offer(tx, place, zara, "2026-01-19 18:00:00", ana, {cai: None}, winner_ms=300)
        await won_offer(tx, place, zara, "2026-01-20 18:00:00", ben, {dee: 700})
        await won_offer(tx, place, zara, "2026-01-21 18:00:00", ben, {ana: 1200})
        await won_offer(tx, place, zara, "2026-01-22 09:00:00", cai, {dee: 1100})  # 01:00 PST today
        declined = await add_offer(tx, place, zara, at("2026-01-20 19:00:00"))
        await press(tx, declined, eli, at("2026-01-20 19:00:01"), 100, outcome="declined")  # a fast Decline
        await press(tx, declined, dee, at("2026-01-20 19:00:02"), 3000, outcome="declined")

        # Before Las Vegas's week (23:30 PST on Jan 15): counted nowhere.
        await won_offer(tx, place, zara, "2026-01-16 07:30:00", dee, {ana: 100})
        # Chandler: Ben twice, Ana pressed too.
        await won_offer(tx, place, nike, "2026-01-20 20:00:00", ben, {ana: 400})
        await won_offer(tx, place, nike, "2026-01-21 20:00:00", ben)
    return place


def by_slug(stats: Stats) -> dict[str, AreaStats]:
    return {area.slug: area for area in stats.areas}


async def test_each_driver_who_pressed_accept_or_won_in_the_area_has_their_awards(db: Database) -> None:
    place = await seed(db)

    vegas = by_slug(await compute_stats(db, now=NOW))["las-vegas"]

    # The most won first; Dee pressed Accept and won nothing; Eli only declined: not among them.
    assert vegas.awards_won == ((place.ana, 3), (place.ben, 2), (place.cai, 1), (place.dee, 0))
    assert (vegas.awards, vegas.winners) == (6, 3)
    drivers, shares = zip(*vegas.top_shares(), strict=True)
    assert drivers == (place.ana, place.ben, place.cai)
    assert shares == pytest.approx((3 / 6, 2 / 6, 1 / 6))
    assert [driver for driver, _ in vegas.top_shares(1)] == [place.ana]


async def test_gini_counts_the_drivers_who_pressed_accept_and_won_nothing(db: Database) -> None:
    await seed(db)

    vegas = by_slug(await compute_stats(db, now=NOW))["las-vegas"]

    assert vegas.awards_gini == pytest.approx(gini([3, 2, 1, 0])) == pytest.approx(5 / 12)
    assert vegas.awards_gini != pytest.approx(gini([3, 2, 1]))  # without Dee it would look fairer


async def test_fast_taps_are_a_share_of_the_timed_presses_accept_or_decline(db: Database) -> None:
    await seed(db)

    vegas = by_slug(await compute_stats(db, now=NOW))["las-vegas"]

    # 15 presses in the week, Cai's untimed: Ana's three winning ones and Eli's Decline are fast.
    assert (vegas.fast_taps, vegas.timed_presses) == (4, 14)
    assert vegas.fast_tap_share == pytest.approx(4 / 14)


async def test_what_a_fast_tap_is_follows_the_rules_human_min(db: Database) -> None:
    await seed(db)

    quick = by_slug(await compute_stats(db, now=NOW, human_min=timedelta(seconds=0.22)))["las-vegas"]
    slow = by_slug(await compute_stats(db, now=NOW, human_min=timedelta(seconds=1)))["las-vegas"]

    assert (quick.fast_taps, quick.timed_presses) == (2, 14)  # Ana's 200 ms and Eli's 100 ms
    assert (slow.fast_taps, slow.timed_presses) == (6, 14)  # and Ana's 250, 300, Dee's 700, Ben's 900


async def test_each_area_counts_its_own_awards_and_presses(db: Database) -> None:
    place = await seed(db)

    chandler = by_slug(await compute_stats(db, now=NOW))["chandler"]

    assert chandler.awards_won == ((place.ben, 2), (place.ana, 0))
    assert chandler.awards_gini == pytest.approx(0.5)
    assert (chandler.fast_taps, chandler.timed_presses) == (1, 3)


async def test_only_the_period_counts(db: Database) -> None:
    place = await seed(db)

    today = by_slug(await compute_stats(db, now=NOW, days=1))
    quiet = by_slug(await compute_stats(db, now=at("2026-01-17 12:00:00"), days=1))

    # Jan 22 in Las Vegas: Cai's win at 01:00 PST, Dee's press with it.
    assert today["las-vegas"].awards_won == ((place.cai, 1), (place.dee, 0))
    assert (today["las-vegas"].fast_taps, today["las-vegas"].timed_presses) == (0, 2)
    assert today["chandler"].awards_won == ()
    # Jan 16 in Las Vegas (from 08:00 UTC): nothing, though Dee won at 07:30 UTC.
    assert quiet["las-vegas"] == AreaStats(
        slug="las-vegas",
        name="Fashion Show",
        tz="America/Los_Angeles",
        first_day=quiet["las-vegas"].first_day,
        last_day=quiet["las-vegas"].last_day,
    )
    assert quiet["las-vegas"].awards_gini is None and quiet["las-vegas"].fast_tap_share is None


async def test_all_areas_add_up_each_drivers_awards(db: Database) -> None:
    place = await seed(db)

    total = (await compute_stats(db, now=NOW)).total

    assert total.awards_won == ((place.ben, 4), (place.ana, 3), (place.cai, 1), (place.dee, 0))
    assert total.awards_gini == pytest.approx(gini([4, 3, 1, 0]))
    assert (total.fast_taps, total.timed_presses) == (5, 17)


async def test_stats_text_has_a_fairness_line_per_area(db: Database) -> None:
    place = await seed(db)

    blocks = stats_text(EN, await compute_stats(db, now=NOW)).split("\n\n")

    vegas, chandler, total = (block.splitlines() for block in blocks)
    assert vegas[0].startswith("Fashion Show (las-vegas)")
    assert vegas[-1] == (
        f"awards 6 to 3 drivers · top #{place.ana} 50%, #{place.ben} 33%, #{place.cai} 17%"
        " · Gini 0.42 · fast taps 29% of 14 presses"
    )
    assert (
        chandler[-1]
        == f"awards 2 to 1 driver · top #{place.ben} 100% · Gini 0.50 · fast taps 33% of 3 presses"
    )
    assert total[-1].startswith(f"awards 8 to 3 drivers · top #{place.ben} 50%, #{place.ana} 38%, ")


def test_the_fairness_line_without_awards_or_without_timed_presses() -> None:
    quiet = AreaStats("x", "X", "UTC", NOW.date(), NOW.date())
    lost = replace(quiet, awards_won=((7, 0),), timed_presses=5, fast_taps=1)
    untimed = replace(quiet, awards_won=((7, 2), (9, 2)))

    last_line = stats_text(EN, Stats(NOW, 1, (lost,))).splitlines()[-1]
    assert last_line == "awards none · fast taps 20% of 5 presses"
    assert stats_text(EN, Stats(NOW, 1, (untimed,))).splitlines()[-1] == (
        "awards 4 to 2 drivers · top #7 50%, #9 50% · Gini 0.00 · fast taps —"
    )
    assert "awards" not in stats_text(EN, Stats(NOW, 1, (quiet,)))  # nobody won or pressed: no line


async def test_a_long_history_costs_the_fairness_numbers_no_more_rows(db: Database) -> None:
    """One row per driver who won or pressed, however many offers they pressed on."""
    place = await seed(db)

    async def busy_week(offers: int) -> None:
        async with db.transaction() as tx:
            for number in range(offers):
                when = f"2026-01-{17 + number % 5} 20:{number % 60:02d}:00"
                await won_offer(tx, place, place.zara, when, place.cai, {place.dee: 300, place.eli: 900})

    await busy_week(10)
    with sql_cost(db) as few:
        small = by_slug(await compute_stats(db, now=NOW))["las-vegas"]
    await busy_week(90)
    with sql_cost(db) as many:
        large = by_slug(await compute_stats(db, now=NOW))["las-vegas"]

    assert (small.awards, large.awards) == (16, 106)
    assert dict(large.awards_won)[place.cai] == 101
    assert (len(many.statements), many.rows) == (len(few.statements), few.rows)


async def test_driver_profile_counts_fast_taps_of_all_presses(db: Database) -> None:
    place = await seed(db)
    clock = FakeClock(NOW)
    dispatch = Dispatch(db, clock, Catalog(clock), rules=Rules(human_min=timedelta(seconds=0.5)))

    ana = await dispatch.admin.driver(place.ana)
    cai = await dispatch.admin.driver(place.cai)
    eli = await dispatch.admin.driver(place.eli)

    assert ana is not None and cai is not None and eli is not None
    # Ana, ever and anywhere: 200, 250, 300, 1200, 100 (before the week), 400 (Chandler) ms.
    assert (ana.presses, ana.fast_taps) == (6, 5)
    assert (cai.presses, cai.fast_taps) == (2, 0)  # one untimed
    assert (eli.presses, eli.fast_taps) == (1, 1)
    text = driver_profile(EN, ana.driver, ana.areas, ana.on_time_rate, ana.presses, ana.fast_taps)
    assert text.splitlines()[-1] == "Presses 6 · fast taps 5 (83%)"
    assert driver_profile(EN, ana.driver, [], None).splitlines()[-1] == "Presses 0 · fast taps —"
