"""/stats numbers: every count, the median, the on-time rate and the local-hour buckets, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dispatch.stats import AreaStats, Stats, compute_stats, show_duration, stats_text
from storage.db import Database
from storage.repos import Transaction

NOW = datetime(2026, 1, 22, 12, 0, tzinfo=UTC)  # a week back is 2026-01-15 12:00 UTC


def at(text: str) -> datetime:
    """A UTC instant from "2026-01-15 20:30:00"."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def add_offer(
    tx: Transaction,
    store_id: int,
    ref: str,
    created: str,
    *,
    status: str = "open",
    accept_after: float | None = None,
    picked_up: str | None = None,
    pickup_end: str | None = None,
) -> int:
    """An offer created at `created` (UTC), accepted `accept_after` seconds later if given."""
    created_at = at(created)
    values: dict[str, Any] = {
        "store_id": store_id,
        "ref": ref,
        "packages": 1,
        "zone": "89109",
        "address": "1 Test Way",
        "pay_cents": 1500,
        "pickup_start": created_at,
        "pickup_end": at(pickup_end) if pickup_end else created_at + timedelta(hours=1),
        "pickup_code": "1234",
        "status": status,
        "created_at": created_at,
    }
    if accept_after is not None:
        values["accepted_at"] = created_at + timedelta(seconds=accept_after)
    if picked_up is not None:
        values["picked_up_at"] = at(picked_up)
    return await tx.offers.add(**values)


async def seed(db: Database) -> None:
    """Three areas: Las Vegas and Chandler with offers, Tysons with none."""
    async with db.transaction() as tx:
        vegas = await tx.areas.upsert("las-vegas", "Fashion Show, Las Vegas Strip", "America/Los_Angeles")
        chandler = await tx.areas.upsert("chandler", "Chandler Fashion Center", "America/Phoenix")
        tysons = await tx.areas.upsert("tysons", "Tysons Corner", "America/New_York")
        zara = await tx.stores.upsert("FS-ZARA", "Zara", vegas, "Level 1")
        nike = await tx.stores.upsert("CH-NIKE", "Nike", chandler, "Level 2")
        await tx.stores.upsert("TY-APPLE", "Apple", tysons, "Level 1")

        # Las Vegas, PST (UTC-8) in January.
        await add_offer(  # 12:30 PST, accepted in 100 s, picked up on time, delivered
            tx, zara, "V1", "2026-01-15 20:30:00", status="delivered", accept_after=100,
            picked_up="2026-01-15 21:00:00", pickup_end="2026-01-15 21:30:00",
        )  # fmt: skip
        await add_offer(  # 19:10 PST the day before, accepted in 300 s, picked up late, returned
            tx, zara, "V2", "2026-01-16 03:10:00", status="returned", accept_after=300,
            picked_up="2026-01-16 04:00:00", pickup_end="2026-01-16 03:45:00",
        )  # fmt: skip
        await add_offer(tx, zara, "V3", "2026-01-17 16:00:00", status="expired")  # 08:00 PST
        await add_offer(tx, zara, "V4", "2026-01-18 17:00:00", status="accepted", accept_after=40)  # 09:00
        # 10:00 PST: accepted, then released after a no-show, so open again with accepted_at cleared.
        v5 = await add_offer(tx, zara, "V5", "2026-01-19 18:00:00", status="open")
        await add_offer(  # 17:00 PST Jan 20; delivered though accepted_at is missing: still accepted
            tx, zara, "V6", "2026-01-21 01:00:00", status="delivered",
            picked_up="2026-01-21 01:20:00", pickup_end="2026-01-21 01:30:00",
        )  # fmt: skip
        # Created a minute before the week began: not in the period.
        v7 = await add_offer(tx, zara, "V7", "2026-01-15 11:59:00", status="delivered", accept_after=10)

        # Chandler, MST (UTC-7) all year.
        await add_offer(  # 13:30 MST, accepted in 90 s, picked up exactly at the window's end
            tx, nike, "C1", "2026-01-15 20:30:00", status="delivered", accept_after=90,
            picked_up="2026-01-15 21:00:00", pickup_end="2026-01-15 21:00:00",
        )  # fmt: skip
        c2 = await add_offer(tx, nike, "C2", "2026-01-20 06:00:00", status="expired")  # 23:00 MST Jan 19

        await tx.events.add(at("2026-01-19 19:00:00"), "timer", "no_show", offer_id=v5)
        await tx.events.add(at("2026-01-19 19:00:00"), "driver:1", "decline", offer_id=v5)
        # A no-show counts when it happened, even on an offer created before the period.
        await tx.events.add(at("2026-01-16 10:00:00"), "timer", "no_show", offer_id=v7)
        await tx.events.add(at("2026-01-14 10:00:00"), "timer", "no_show", offer_id=v7)  # too early
        await tx.events.add(at("2026-01-20 07:00:00"), "timer", "no_show", offer_id=c2)


def hours(*hours_with_offers: int) -> tuple[int, ...]:
    """A 24-hour histogram with one offer in each hour given."""
    counts = [0] * 24
    for hour in hours_with_offers:
        counts[hour] += 1
    return tuple(counts)


def by_slug(stats: Stats) -> dict[str, AreaStats]:
    return {area.slug: area for area in stats.areas}


async def test_every_area_is_counted_over_the_last_week(db: Database) -> None:
    await seed(db)

    stats = await compute_stats(db, now=NOW)

    assert (stats.since, stats.until, stats.days) == (at("2026-01-15 12:00:00"), NOW, 7)
    assert [area.slug for area in stats.areas] == ["las-vegas", "chandler", "tysons"]
    vegas = by_slug(stats)["las-vegas"]
    assert (vegas.name, vegas.tz) == ("Fashion Show, Las Vegas Strip", "America/Los_Angeles")
    assert (vegas.created, vegas.accepted, vegas.expired, vegas.delivered, vegas.no_shows) == (6, 4, 1, 2, 2)
    assert vegas.accept_seconds == (100.0, 300.0, 40.0)
    assert vegas.median_accept_seconds == 100.0
    assert (vegas.picked_up, vegas.picked_up_on_time) == (3, 2)
    assert vegas.on_time_pickup_rate == pytest.approx(2 / 3)
    assert vegas.offers_per_hour == hours(12, 19, 8, 9, 10, 17)

    chandler = by_slug(stats)["chandler"]
    assert (chandler.created, chandler.accepted, chandler.expired, chandler.delivered) == (2, 1, 1, 1)
    assert chandler.no_shows == 1
    assert chandler.accept_seconds == (90.0,)
    assert chandler.median_accept_seconds == 90.0
    assert chandler.on_time_pickup_rate == 1.0  # picked up at the very end of the window is on time
    assert chandler.offers_per_hour == hours(13, 23)


async def test_the_same_instant_falls_in_each_areas_own_local_hour(db: Database) -> None:
    await seed(db)

    stats = await compute_stats(db, now=NOW)

    # 2026-01-15 20:30 UTC is 12:30 PST in Las Vegas and 13:30 MST in Chandler.
    assert by_slug(stats)["las-vegas"].offers_per_hour[12] == 1
    assert by_slug(stats)["las-vegas"].offers_per_hour[13] == 0
    assert by_slug(stats)["chandler"].offers_per_hour[13] == 1
    assert by_slug(stats)["chandler"].offers_per_hour[12] == 0


async def test_summer_time_moves_las_vegas_but_not_chandler(db: Database) -> None:
    async with db.transaction() as tx:
        vegas = await tx.areas.upsert("las-vegas", "Fashion Show", "America/Los_Angeles")
        chandler = await tx.areas.upsert("chandler", "Chandler", "America/Phoenix")
        zara = await tx.stores.upsert("FS-ZARA", "Zara", vegas, "")
        nike = await tx.stores.upsert("CH-NIKE", "Nike", chandler, "")
        # 2026-07-15 20:30 UTC is 13:30 PDT and 13:30 MST (Arizona keeps standard time).
        await add_offer(tx, zara, "S1", "2026-07-15 20:30:00")
        await add_offer(tx, nike, "S2", "2026-07-15 20:30:00")

    stats = await compute_stats(db, now=at("2026-07-16 00:00:00"), days=1)

    assert by_slug(stats)["las-vegas"].offers_per_hour == hours(13)
    assert by_slug(stats)["chandler"].offers_per_hour == hours(13)
    assert stats.total.offers_per_hour == hours(13, 13)


async def test_an_area_without_offers_still_appears_with_zeros(db: Database) -> None:
    await seed(db)

    tysons = by_slug(await compute_stats(db, now=NOW))["tysons"]

    assert tysons == AreaStats(slug="tysons", name="Tysons Corner", tz="America/New_York")
    assert (tysons.created, tysons.accepted, tysons.expired, tysons.delivered, tysons.no_shows) == (0,) * 5
    assert tysons.median_accept_seconds is None
    assert tysons.on_time_pickup_rate is None
    assert tysons.accept_seconds == ()
    assert tysons.offers_per_hour == (0,) * 24


async def test_total_combines_every_area(db: Database) -> None:
    await seed(db)

    total = (await compute_stats(db, now=NOW)).total

    assert (total.slug, total.name) == ("all", "All areas")
    assert (total.created, total.accepted, total.expired, total.delivered, total.no_shows) == (8, 5, 2, 3, 3)
    assert total.accept_seconds == (100.0, 300.0, 40.0, 90.0)
    assert total.median_accept_seconds == 95.0  # the median of all times, not of the areas' medians
    assert total.on_time_pickup_rate == 0.75
    assert total.offers_per_hour == hours(12, 19, 8, 9, 10, 17, 13, 23)


async def test_one_area_only(db: Database) -> None:
    await seed(db)

    stats = await compute_stats(db, now=NOW, area_slug="chandler")

    assert [area.slug for area in stats.areas] == ["chandler"]
    assert stats.total.created == 2
    assert stats.total.no_shows == 1
    assert stats.total.offers_per_hour == hours(13, 23)


async def test_an_unknown_area_is_refused(db: Database) -> None:
    await seed(db)

    with pytest.raises(LookupError, match="no area nowhere"):
        await compute_stats(db, now=NOW, area_slug="nowhere")


@pytest.mark.parametrize("days", [0, -1, 366])
async def test_days_outside_one_to_365_are_refused(db: Database, days: int) -> None:
    with pytest.raises(ValueError):
        await compute_stats(db, now=NOW, days=days)


async def test_the_period_follows_days(db: Database) -> None:
    await seed(db)

    last_day = await compute_stats(db, now=NOW, days=1)
    whole_year = await compute_stats(db, now=NOW, days=365)

    assert last_day.since == NOW - timedelta(days=1)
    assert last_day.total.created == 0  # the newest offer was created 11 hours before the day began
    assert whole_year.total.created == 9  # V7 too
    assert whole_year.total.no_shows == 4


async def test_stats_text_for_one_area(db: Database) -> None:
    await seed(db)

    text = stats_text(await compute_stats(db, now=NOW, area_slug="las-vegas"))

    assert text == (
        "Fashion Show, Las Vegas Strip (las-vegas) · last 7 days\n"
        "created 6 · accepted 4 · expired 1 · delivered 2\n"
        "median time to accept 1m 40s · on-time pickup 67% · no-shows 2"
    )


async def test_stats_text_for_every_area_ends_with_the_total(db: Database) -> None:
    await seed(db)

    blocks = stats_text(await compute_stats(db, now=NOW)).split("\n\n")

    assert len(blocks) == 4
    assert blocks[1].startswith("Chandler Fashion Center (chandler) · last 7 days\n")
    assert blocks[2] == (
        "Tysons Corner (tysons) · last 7 days\n"
        "created 0 · accepted 0 · expired 0 · delivered 0\n"
        "median time to accept — · on-time pickup — · no-shows 0"
    )
    assert blocks[3] == (
        "All areas · last 7 days\n"
        "created 8 · accepted 5 · expired 2 · delivered 3\n"
        "median time to accept 1m 35s · on-time pickup 75% · no-shows 3"
    )


async def test_stats_text_for_one_day_says_day(db: Database) -> None:
    await seed(db)

    text = stats_text(await compute_stats(db, now=NOW, days=1, area_slug="tysons"))

    assert text.startswith("Tysons Corner (tysons) · last day\n")


def test_durations_read_naturally() -> None:
    assert [show_duration(s) for s in (0, 45, 59.6, 100, 3599, 3600, 7500)] == [
        "0s",
        "45s",
        "1m 0s",
        "1m 40s",
        "59m 59s",
        "1h 0m",
        "2h 5m",
    ]
