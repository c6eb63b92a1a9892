"""/stats numbers come from the audit trail: every expiry, release and no-show, in each area's own days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.texts import Texts, stats_text
from dispatch.clock import FakeClock
from dispatch.stats import AreaStats, Stats, accept_time_counts, compute_stats
from storage.db import Database
from storage.records import Language
from storage.repos import Transaction
from tests.dispatch.sql_cost import sql_cost

# 04:00 PST in Las Vegas, 05:00 MST in Chandler, 07:00 EST at Tysons, all on Thu Jan 22.
NOW = datetime(2026, 1, 22, 12, 0, tzinfo=UTC)
EN = Texts(Language.EN, FakeClock(NOW))


def at(text: str) -> datetime:
    """A UTC instant from "2026-01-15 20:30:00"."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def add_offer(tx: Transaction, store_id: int, ref: str, status: str, pickup_end: str) -> int:
    """An offer as it stands now; what happened to it is its trail of events."""
    end = at(pickup_end)
    return await tx.offers.add(
        store_id=store_id,
        ref=ref,
        packages=1,
        zone="89109",
        address="1 Test Way",
        pay_cents=1500,
        pickup_start=end - timedelta(minutes=30),
        pickup_end=end,
        pickup_code="1234",
        status=status,
        created_at=end - timedelta(hours=1),
    )


async def trail(tx: Transaction, offer_id: int, *steps: tuple[str, str]) -> None:
    """The offer's events in the order they happened: (UTC time, kind)."""
    for when, kind in steps:
        await tx.events.add(at(when), "test", kind, offer_id=offer_id)


async def seed(db: Database) -> None:
    """Three areas: Las Vegas with a busy week, Chandler with two offers, Tysons with none."""
    async with db.transaction() as tx:
        vegas = await tx.areas.upsert("las-vegas", "Fashion Show, Las Vegas Strip", "America/Los_Angeles")
        chandler = await tx.areas.upsert("chandler", "Chandler Fashion Center", "America/Phoenix")
        tysons = await tx.areas.upsert("tysons", "Tysons Corner", "America/New_York")
        zara = await tx.stores.upsert("FS-ZARA", "Zara", vegas, "Level 1")
        nike = await tx.stores.upsert("CH-NIKE", "Nike", chandler, "Level 2")
        await tx.stores.upsert("TY-APPLE", "Apple", tysons, "Level 1")

        # Las Vegas (PST, UTC-8); its week is Jan 16 00:00 PST (08:00 UTC) to now.
        v1 = await add_offer(tx, zara, "V1", "delivered", pickup_end="2026-01-17 19:00:00")
        await trail(  # expired at 08:10 PST, re-offered at 10:00, taken in 30 s, delivered
            tx, v1, ("2026-01-17 16:00:00", "open"), ("2026-01-17 16:00:00", "wave"),
            ("2026-01-17 16:10:00", "expire"), ("2026-01-17 18:00:00", "reopen"),
            ("2026-01-17 18:00:30", "accept"), ("2026-01-17 18:40:00", "pickup"),
            ("2026-01-17 19:10:00", "deliver"),
        )  # fmt: skip
        v2 = await add_offer(tx, zara, "V2", "returned", pickup_end="2026-01-18 21:00:00")
        await trail(  # taken three times: released, then a no-show; picked up late and returned
            tx, v2, ("2026-01-18 20:00:00", "open"), ("2026-01-18 20:01:40", "accept"),
            ("2026-01-18 20:05:00", "release"), ("2026-01-18 20:10:00", "accept"),
            ("2026-01-18 21:00:00", "no_show"), ("2026-01-18 21:00:40", "accept"),
            ("2026-01-18 21:20:00", "pickup"), ("2026-01-18 21:40:00", "fail"),
        )  # fmt: skip
        v3 = await add_offer(tx, zara, "V3", "expired", pickup_end="2026-01-19 19:00:00")
        await trail(tx, v3, ("2026-01-19 17:00:00", "open"), ("2026-01-19 17:10:00", "expire"))  # 09:00 PST
        v4 = await add_offer(tx, zara, "V4", "cancelled", pickup_end="2026-01-20 03:00:00")
        await trail(tx, v4, ("2026-01-20 01:00:00", "open"), ("2026-01-20 01:05:00", "cancel"))
        # Offered at 23:59 PST the evening before the week, taken in its first minutes.
        v5 = await add_offer(tx, zara, "V5", "accepted", pickup_end="2026-01-16 10:00:00")
        await trail(tx, v5, ("2026-01-16 07:59:00", "open"), ("2026-01-16 08:01:00", "accept"))
        # All of it on Jan 15 in Las Vegas, though within the last 7 × 24 hours.
        v6 = await add_offer(tx, zara, "V6", "expired", pickup_end="2026-01-16 09:00:00")
        await trail(tx, v6, ("2026-01-16 07:30:00", "open"), ("2026-01-16 07:40:00", "expire"))

        # Chandler (MST, UTC-7 all year).
        c1 = await add_offer(tx, nike, "C1", "delivered", pickup_end="2026-01-21 20:30:00")
        await trail(  # 13:00 MST, taken in 90 s, picked up at the very end of its window
            tx, c1, ("2026-01-21 20:00:00", "open"), ("2026-01-21 20:01:30", "accept"),
            ("2026-01-21 20:30:00", "pickup"), ("2026-01-21 21:00:00", "deliver"),
        )  # fmt: skip
        c2 = await add_offer(tx, nike, "C2", "expired", pickup_end="2026-01-22 08:00:00")
        # Offered at 23:55 MST on Jan 21, expired at 00:05 MST on Jan 22.
        await trail(tx, c2, ("2026-01-22 06:55:00", "open"), ("2026-01-22 07:05:00", "expire"))


def hours(*hours_with_one_each: int) -> tuple[int, ...]:
    """24 hourly counts, one for each hour given (an hour given twice counts two)."""
    counts = [0] * 24
    for hour in hours_with_one_each:
        counts[hour] += 1
    return tuple(counts)


def by_slug(stats: Stats) -> dict[str, AreaStats]:
    return {area.slug: area for area in stats.areas}


async def test_an_offer_that_expired_then_was_reoffered_and_delivered_counts_its_expiry(db: Database) -> None:
    async with db.transaction() as tx:
        vegas = await tx.areas.upsert("las-vegas", "Fashion Show", "America/Los_Angeles")
        zara = await tx.stores.upsert("FS-ZARA", "Zara", vegas, "")
        offer = await add_offer(tx, zara, "R1", "delivered", pickup_end="2026-01-21 20:00:00")
        await trail(
            tx, offer, ("2026-01-21 18:00:00", "open"), ("2026-01-21 18:10:00", "expire"),
            ("2026-01-21 18:30:00", "reopen"), ("2026-01-21 18:31:00", "accept"),
            ("2026-01-21 19:50:00", "pickup"), ("2026-01-21 20:20:00", "deliver"),
        )  # fmt: skip

    area = (await compute_stats(db, now=NOW)).areas[0]

    assert (area.created, area.expired, area.reopened, area.accepted, area.delivered) == (1, 1, 1, 1, 1)
    assert area.accept_rate == 0.5  # one offering taken, one let expire


async def test_every_event_of_the_week_is_counted_in_las_vegas(db: Database) -> None:
    await seed(db)

    vegas = by_slug(await compute_stats(db, now=NOW))["las-vegas"]

    assert (vegas.name, vegas.tz) == ("Fashion Show, Las Vegas Strip", "America/Los_Angeles")
    assert (vegas.first_day, vegas.last_day) == (date(2026, 1, 16), date(2026, 1, 22))
    assert (vegas.created, vegas.reopened, vegas.accepted, vegas.expired, vegas.cancelled) == (4, 1, 5, 2, 1)
    assert (vegas.released, vegas.no_shows) == (1, 1)
    assert (vegas.picked_up, vegas.picked_up_on_time, vegas.delivered, vegas.returned) == (2, 1, 1, 1)


async def test_rates_divide_by_what_could_have_happened(db: Database) -> None:
    await seed(db)

    vegas = by_slug(await compute_stats(db, now=NOW))["las-vegas"]

    assert vegas.accept_rate == pytest.approx(5 / 7)  # of the offerings that ended: taken, not expired
    assert vegas.on_time_pickup_rate == 0.5  # of the pickups
    assert vegas.delivery_rate == 0.5  # of the deliveries that ended: delivered, not returned


async def test_time_to_accept_runs_from_when_the_offer_was_last_put_on_the_board(db: Database) -> None:
    await seed(db)

    vegas = by_slug(await compute_stats(db, now=NOW))["las-vegas"]

    # V5 120 s after it opened; V1 30 s after the re-offer, not 2 h after it was created;
    # V2 100 s after it opened, 300 s after the release, 40 s after the no-show.
    assert vegas.accept_seconds == (30.0, 40.0, 100.0, 120.0, 300.0)  # counted per wait: shortest first
    assert vegas.median_accept_seconds == 100.0


async def test_offerings_are_bucketed_by_the_local_hour_they_went_on_the_board(db: Database) -> None:
    await seed(db)

    areas = by_slug(await compute_stats(db, now=NOW))

    # PST: V5 at 23:59, V1's re-offer at 10:00, V2 at 12:00, 12:05 (release) and 13:00 (no-show).
    assert areas["las-vegas"].accepted_per_hour == hours(23, 10, 12, 12, 13)
    assert areas["las-vegas"].expired_per_hour == hours(8, 9)  # V1 first time, V3
    # The same 20:00 UTC is 13:00 in Chandler (MST), and C2 went out at 23:55 MST.
    assert areas["chandler"].accepted_per_hour == hours(13)
    assert areas["chandler"].expired_per_hour == hours(23)


async def test_one_day_is_today_in_each_areas_own_zone(db: Database) -> None:
    await seed(db)

    stats = await compute_stats(db, now=NOW, days=1)

    vegas, chandler, tysons = stats.areas
    assert (vegas.first_day, vegas.last_day) == (date(2026, 1, 22), date(2026, 1, 22))
    assert vegas.created == vegas.expired == 0  # its day began at 08:00 UTC
    # Chandler's day began at 07:00 UTC: C2 expired on it, but was offered the evening before.
    assert (chandler.created, chandler.expired) == (0, 1)
    assert chandler.expired_per_hour == hours(23)
    assert tysons.first_day == date(2026, 1, 22)


async def test_each_area_counts_its_own_local_days(db: Database) -> None:
    await seed(db)

    # 22:00 PST on Jan 21 in Las Vegas is already 01:00 EST on Jan 22 at Tysons.
    stats = await compute_stats(db, now=at("2026-01-22 06:00:00"), days=2)

    assert [(area.first_day, area.last_day) for area in stats.areas] == [
        (date(2026, 1, 20), date(2026, 1, 21)),
        (date(2026, 1, 20), date(2026, 1, 21)),
        (date(2026, 1, 21), date(2026, 1, 22)),
    ]
    assert by_slug(stats)["las-vegas"].created == 0  # V4 went out at 17:00 PST on Jan 19
    assert by_slug(stats)["chandler"].created == 1  # C1; C2 comes later


async def test_an_area_without_offers_still_appears_with_zeros(db: Database) -> None:
    await seed(db)

    tysons = by_slug(await compute_stats(db, now=NOW))["tysons"]

    assert tysons == AreaStats(
        slug="tysons",
        name="Tysons Corner",
        tz="America/New_York",
        first_day=date(2026, 1, 16),
        last_day=date(2026, 1, 22),
    )
    assert tysons.median_accept_seconds is None
    assert tysons.accept_rate is None
    assert tysons.on_time_pickup_rate is None
    assert tysons.delivery_rate is None


async def test_total_combines_every_area(db: Database) -> None:
    await seed(db)

    total = (await compute_stats(db, now=NOW)).total

    # No name: the bot names the total in the reader's words.
    assert (total.slug, total.name) == ("all", "")
    assert (total.created, total.accepted, total.expired, total.delivered, total.no_shows) == (6, 6, 3, 2, 1)
    assert total.accept_seconds == (30.0, 40.0, 100.0, 120.0, 300.0, 90.0)  # each area's, one after another
    assert total.median_accept_seconds == 95.0  # the median of all times, not of the areas' medians
    assert total.on_time_pickup_rate == pytest.approx(2 / 3)
    assert total.accepted_per_hour == hours(23, 10, 12, 12, 13, 13)


async def test_one_area_only(db: Database) -> None:
    await seed(db)

    stats = await compute_stats(db, now=NOW, area_slug="chandler")

    assert [area.slug for area in stats.areas] == ["chandler"]
    assert (stats.total.created, stats.total.accepted, stats.total.expired) == (2, 1, 1)


async def test_an_unknown_area_is_refused(db: Database) -> None:
    await seed(db)

    with pytest.raises(LookupError, match="no area nowhere"):
        await compute_stats(db, now=NOW, area_slug="nowhere")


@pytest.mark.parametrize("days", [0, -1, 366])
async def test_days_outside_one_to_365_are_refused(db: Database, days: int) -> None:
    with pytest.raises(ValueError):
        await compute_stats(db, now=NOW, days=days)


def test_times_to_accept_fall_in_fixed_buckets_however_few_there_are() -> None:
    assert accept_time_counts(()) == (0, 0, 0, 0, 0, 0)
    assert accept_time_counts((45.0,)) == (0, 1, 0, 0, 0, 0)
    # Edges belong to the bucket above: under 30 s, 30 s–1 min, 1–2, 2–5, 5–10 min, 10 min and more.
    assert accept_time_counts((0.0, 29.9, 30.0, 60.0, 119.0, 120.0, 300.0, 599.0, 600.0, 5000.0)) == (
        2,
        1,
        2,
        1,
        2,
        2,
    )


async def test_stats_text_for_one_area(db: Database) -> None:
    await seed(db)

    text = stats_text(EN, await compute_stats(db, now=NOW, area_slug="las-vegas"))

    assert text == (
        "Fashion Show, Las Vegas Strip (las-vegas) · Jan 16 – Jan 22\n"
        "created 4 · reopened 1 · accepted 5 · expired 2 · cancelled 1\n"
        "released 1 · no-shows 1 · picked up 2 · delivered 1 · returned 1\n"
        "accepted before expiry 71% (5 of 7) · median time to accept 1m 40s\n"
        "on-time pickup 50% (1 of 2) · delivered, not returned 50% (1 of 2)"
    )


async def test_stats_text_for_every_area_ends_with_the_total(db: Database) -> None:
    await seed(db)

    blocks = stats_text(EN, await compute_stats(db, now=NOW)).split("\n\n")

    assert len(blocks) == 4
    assert blocks[1].startswith("Chandler Fashion Center (chandler) · Jan 16 – Jan 22\n")
    assert blocks[2] == (
        "Tysons Corner (tysons) · Jan 16 – Jan 22\n"
        "created 0 · reopened 0 · accepted 0 · expired 0 · cancelled 0\n"
        "released 0 · no-shows 0 · picked up 0 · delivered 0 · returned 0\n"
        "accepted before expiry — · median time to accept —\n"
        "on-time pickup — · delivered, not returned —"
    )
    assert blocks[3].startswith(
        "All areas · last 7 days\ncreated 6 · reopened 1 · accepted 6 · expired 3 · cancelled 1\n"
    )
    assert "accepted before expiry 67% (6 of 9) · median time to accept 1m 35s\n" in blocks[3]


async def test_stats_text_for_one_day_names_that_day(db: Database) -> None:
    await seed(db)

    stats = await compute_stats(db, now=NOW, days=1)

    assert stats_text(EN, stats).startswith("Fashion Show, Las Vegas Strip (las-vegas) · Jan 22\n")
    assert stats_text(EN, stats).split("\n\n")[-1].startswith("All areas · today\n")


def test_local_days_read_as_one_date_or_a_range() -> None:
    assert EN.days(date(2026, 11, 25), date(2026, 11, 25)) == "Nov 25"
    assert EN.days(date(2026, 11, 19), date(2026, 11, 25)) == "Nov 19 – Nov 25"
    assert EN.days(date(2025, 12, 29), date(2026, 1, 4)) == "Dec 29, 2025 – Jan 4, 2026"


def test_durations_read_naturally() -> None:
    assert [EN.duration(s) for s in (0, 45, 59.6, 100, 3599, 3600, 7500)] == [
        "0s",
        "45s",
        "1m 0s",
        "1m 40s",
        "59m 59s",
        "1h 0m",
        "2h 5m",
    ]


async def test_a_long_history_costs_stats_no_more_rows(db: Database) -> None:
    """Counted in the database: a week of 20 offers and one of 200 bring back the same rows."""
    async with db.transaction() as tx:
        vegas = await tx.areas.upsert("las-vegas", "Fashion Show", "America/Los_Angeles")
        zara = await tx.stores.upsert("FS-ZARA", "Zara", vegas, "")

    async def busy_week(offers: int) -> None:
        async with db.transaction() as tx:
            for number in range(offers):
                day = f"2026-01-{17 + number % 5}"
                offer = await add_offer(tx, zara, f"W{offers}-{number}", "delivered", f"{day} 21:00:00")
                await trail(
                    tx, offer, (f"{day} 20:00:00", "open"), (f"{day} 20:01:40", "accept"),
                    (f"{day} 20:30:00", "pickup"), (f"{day} 21:10:00", "deliver"),
                )  # fmt: skip

    await busy_week(20)
    with sql_cost(db) as few:
        small = (await compute_stats(db, now=NOW)).areas[0]
    await busy_week(180)
    with sql_cost(db) as many:
        large = (await compute_stats(db, now=NOW)).areas[0]

    assert (small.created, small.accepted, large.created, large.accepted) == (20, 20, 200, 200)
    assert large.accepted_per_hour == tuple(200 if hour == 12 else 0 for hour in range(24))
    assert large.median_accept_seconds == 100.0
    assert (len(many.statements), many.rows) == (len(few.statements), few.rows)


async def test_hours_are_local_on_both_sides_of_a_daylight_saving_switch(db: Database) -> None:
    async with db.transaction() as tx:
        vegas = await tx.areas.upsert("las-vegas", "Fashion Show", "America/Los_Angeles")
        zara = await tx.stores.upsert("FS-ZARA", "Zara", vegas, "")
        # Noon on Saturday Mar 7 (PST, UTC-8) and on Monday Mar 9 (PDT, UTC-7), 2026.
        before = await add_offer(tx, zara, "D1", "accepted", "2026-03-07 21:00:00")
        await trail(tx, before, ("2026-03-07 20:00:00", "open"), ("2026-03-07 20:01:00", "accept"))
        after = await add_offer(tx, zara, "D2", "expired", "2026-03-09 20:00:00")
        await trail(tx, after, ("2026-03-09 19:00:00", "open"), ("2026-03-09 19:10:00", "expire"))

    vegas_stats = (await compute_stats(db, now=at("2026-03-10 12:00:00"))).areas[0]

    assert vegas_stats.accepted_per_hour == hours(12)
    assert vegas_stats.expired_per_hour == hours(12)
    assert vegas_stats.accept_seconds == (60.0,)
