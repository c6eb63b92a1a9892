"""Lists read one page and count the rest in the database: a page of offers comes with its store,
area and holder from one joined query, and the count covers every match."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from storage import schema
from storage.db import Database
from storage.repos import Transaction

NOW = datetime(2026, 7, 15, 19, 0, tzinfo=UTC)


async def busy_strip(tx: Transaction, offers: int) -> tuple[int, int, int]:
    """Las Vegas with a Zara store, one driver holding every offer, and `offers` offers;
    returns the area's, store's and driver's ids."""
    vegas = await tx.areas.upsert("las-vegas", "Fashion Show", "America/Los_Angeles")
    await tx.areas.upsert("chandler", "Chandler", "America/Phoenix")
    zara = await tx.stores.upsert("FS-ZARA", "Zara", vegas, "Level 1")
    maria = await tx.drivers.add(501, 501, "Maria Lopez", NOW, username="maria")
    rows = [
        {
            "store_id": zara,
            "ref": f"R{number}",
            "packages": 1,
            "zone": "89109",
            "address": "1 Test Way",
            "pay_cents": 1500,
            "pickup_start": NOW,
            "pickup_end": NOW + timedelta(minutes=30),
            "pickup_code": "1234",
            "status": "accepted",
            "holder_id": maria,
            "created_at": NOW - timedelta(minutes=number),
        }
        for number in range(offers)
    ]
    await tx.connection.execute(insert(schema.offers), rows)
    return vegas, zara, maria


async def test_a_page_of_an_areas_offers_is_ten_rows_with_their_store_area_and_holder(db: Database) -> None:
    async with db.transaction() as tx:
        vegas, zara, maria = await busy_strip(tx, 25)

    async with db.read() as tx:
        page = await tx.offers.listed_with_places(area_id=vegas, limit=10, offset=20)
        total = await tx.offers.count_listed(area_id=vegas)
        first = await tx.offers.listed_with_places(area_id=vegas, limit=10, offset=0)

    assert total == 25
    assert len(first) == 10 and len(page) == 5  # the last page holds what is left
    assert [row.offer.ref for row in first] == [f"R{n}" for n in range(24, 14, -1)]  # newest first
    assert {(row.store.id, row.area.id, row.area.tz) for row in first} == {
        (zara, vegas, "America/Los_Angeles")
    }
    assert {row.holder.id if row.holder else None for row in first} == {maria}
    assert first[0].holder is not None and first[0].holder.name == "Maria Lopez"


async def test_an_offer_nobody_holds_is_listed_without_a_holder(db: Database) -> None:
    async with db.transaction() as tx:
        vegas, zara, _ = await busy_strip(tx, 3)
        await tx.offers.transition(
            (await tx.offers.by_ref(zara, "R0")).id, "accepted", "open", holder_id=None
        )  # type: ignore[union-attr]

    async with db.read() as tx:
        open_ones = await tx.offers.listed_with_places(statuses=["open"], limit=10)
        other_area = await tx.offers.count_listed(area_id=vegas + 1)

    assert [(row.offer.ref, row.holder) for row in open_ones] == [("R0", None)]
    assert other_area == 0


async def test_a_page_of_drivers_and_their_count(db: Database) -> None:
    async with db.transaction() as tx:
        vegas = await tx.areas.upsert("las-vegas", "Fashion Show", "America/Los_Angeles")
        for user in range(23):
            driver = await tx.drivers.add(600 + user, 600 + user, f"Driver {user}", NOW)
            if user % 2 == 0:
                await tx.drivers.set_status(driver, ["pending"], "approved")
                await tx.drivers.add_area(driver, vegas)

    async with db.read() as tx:
        pending = await tx.drivers.listed(status="pending", limit=10, offset=10)
        pending_count = await tx.drivers.count_listed(status="pending")
        in_vegas = await tx.drivers.listed(area_id=vegas, limit=10)
        vegas_count = await tx.drivers.count_listed(area_id=vegas)

    assert (pending_count, vegas_count) == (11, 12)
    assert [driver.name for driver in pending] == ["Driver 1"]  # newest first: 21, 19, … then 1
    assert len(in_vegas) == 10 and {driver.status for driver in in_vegas} == {"approved"}
