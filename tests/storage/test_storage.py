"""Storage on every backend: migrations, conditional writes, the outbox's rows."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select

from dispatch.pilot import PILOT_FILE, read_pilot, seed
from storage import schema
from storage.db import Database, alembic_config
from storage.records import Delivery, Language

NOW = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)


async def _make_offer(db: Database) -> int:
    async with db.transaction() as tx:
        area = await tx.areas.upsert("las-vegas", "Fashion Show", "America/Los_Angeles")
        store = await tx.stores.upsert("FS-ZARA", "Zara", area, "Level 1")
        return await tx.offers.add(
            store_id=store,
            ref="A123",
            packages=2,
            zone="89109",
            address="3200 Las Vegas Blvd S",
            pay_cents=1850,
            pickup_start=NOW,
            pickup_end=NOW + timedelta(minutes=30),
            pickup_code="4821",
            status="open",
            created_at=NOW,
        )


async def test_upgrade_creates_every_table_and_is_repeatable(db: Database) -> None:
    await db.upgrade()  # a second upgrade is a no-op
    async with db.connection() as connection:
        tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        revision = await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )
    assert set(schema.metadata.tables) <= tables
    assert revision == ScriptDirectory.from_config(alembic_config()).get_current_head()


async def test_migrations_match_the_schema(db: Database) -> None:
    from alembic.autogenerate import compare_metadata

    async with db.connection() as connection:
        differences = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), schema.metadata)
        )
    assert differences == []


async def test_seeding_the_pilot_twice_gives_three_areas_once(db: Database) -> None:
    pilot = read_pilot(PILOT_FILE)
    assert await seed(db, pilot) == await seed(db, pilot)
    async with db.transaction() as tx:
        areas = {area.slug: area.tz for area in await tx.areas.all()}
        zara = await tx.stores.by_code("FS-ZARA")
    assert areas == {
        "las-vegas": "America/Los_Angeles",
        "chandler": "America/Phoenix",
        "tysons": "America/New_York",
    }
    assert zara is not None and zara.location


async def test_times_come_back_as_aware_utc(db: Database) -> None:
    offer_id = await _make_offer(db)
    async with db.transaction() as tx:
        offer = await tx.offers.by_id(offer_id)
    assert offer is not None
    assert offer.pickup_start == NOW and offer.pickup_start.tzinfo is not None
    assert offer.pickup_start.utcoffset() == timedelta(0)


async def test_a_transition_happens_once(db: Database) -> None:
    offer_id = await _make_offer(db)
    async with db.transaction() as tx:
        assert await tx.offers.transition(offer_id, "open", "cancelled")
    async with db.transaction() as tx:
        assert not await tx.offers.transition(offer_id, "open", "cancelled")
        offer = await tx.offers.by_id(offer_id)
    assert offer is not None and offer.status == "cancelled"


async def test_concurrent_transitions_have_exactly_one_winner(db: Database) -> None:
    offer_id = await _make_offer(db)
    async with db.transaction() as tx:
        drivers = [await tx.drivers.add(9000 + n, 9000 + n, f"Driver {n}", NOW) for n in range(20)]

    async def accept(driver_id: int) -> bool:
        async with db.transaction() as tx:
            won = await tx.offers.transition(offer_id, "open", "accepted", holder_id=driver_id)
            if won:
                await tx.events.add(NOW, f"driver:{driver_id}", "accept", offer_id=offer_id)
            return won

    results = await asyncio.gather(*(accept(driver) for driver in drivers))
    assert sum(results) == 1
    async with db.transaction() as tx:
        offer = await tx.offers.by_id(offer_id)
        events = await tx.events.for_offer(offer_id)
    assert offer is not None and offer.holder_id == drivers[results.index(True)]
    assert len(events) == 1


async def test_a_failed_transaction_leaves_nothing(db: Database) -> None:
    offer_id = await _make_offer(db)
    with pytest.raises(RuntimeError):
        async with db.transaction() as tx:
            await tx.offers.transition(offer_id, "open", "cancelled")
            await tx.events.add(NOW, "admin", "cancel", offer_id=offer_id)
            raise RuntimeError("crash before commit")
    async with db.transaction() as tx:
        offer = await tx.offers.by_id(offer_id)
        assert await tx.events.for_offer(offer_id) == []
    assert offer is not None and offer.status == "open"


async def test_outbox_rows_move_from_pending_to_sent_and_record_the_message_id(db: Database) -> None:
    offer_id = await _make_offer(db)
    async with db.transaction() as tx:
        driver = await tx.drivers.add(7001, 7001, "Maria", NOW)
        notice = (
            await tx.connection.execute(
                schema.notices.insert()
                .values(offer_id=offer_id, driver_id=driver, chat_id=7001, wave=1, created_at=NOW)
                .returning(schema.notices.c.id)
            )
        ).scalar_one()
        first = await tx.outbox.add(
            lane=1, chat_id=7001, kind=Delivery.MESSAGE, payload="{}", at=NOW, notice_id=notice
        )
        second = await tx.outbox.add(lane=0, chat_id=7002, kind=Delivery.MESSAGE, payload="{}", at=NOW)
    async with db.transaction() as tx:
        assert [row.id for row in await tx.outbox.pending()] == [first, second]
        await tx.outbox.mark_sent(first, at=NOW, message_id=55, attempts=1)
        await tx.outbox.retry_later(second, attempts=1, not_before=NOW + timedelta(seconds=2), error="502")
    async with db.transaction() as tx:
        pending = await tx.outbox.pending()
        message_id = (
            await tx.connection.execute(
                select(schema.notices.c.message_id).where(schema.notices.c.id == notice)
            )
        ).scalar_one()
        await tx.outbox.give_up(second, status="failed", attempts=2, error="400")
        counts = await tx.outbox.counts()
    assert [(row.id, row.attempts) for row in pending] == [(second, 1)]
    assert message_id == 55
    assert counts == {"sent": 1, "failed": 1}


async def test_a_blocked_chat_makes_its_driver_unreachable_until_they_write_again(db: Database) -> None:
    async with db.transaction() as tx:
        driver = await tx.drivers.add(7001, 7001, "Maria", NOW)
        await tx.chats.seen({7001: Language.EN}, NOW)
        await tx.chats.set_reachable(7001, False, NOW)
    async with db.transaction() as tx:
        blocked = await tx.drivers.by_id(driver)
        assert await tx.chats.unreachable() == {7001}
        await tx.chats.seen({7001: Language.EN}, NOW)
    async with db.transaction() as tx:
        again = await tx.drivers.by_id(driver)
        assert await tx.chats.unreachable() == set()
    assert blocked is not None and not blocked.reachable
    assert again is not None and again.reachable


async def test_staff_are_linked_once_per_store(db: Database) -> None:
    async with db.transaction() as tx:
        area = await tx.areas.upsert("tysons", "Tysons", "America/New_York")
        store = await tx.stores.upsert("TC-UNIQLO", "Uniqlo", area, "Level 1")
        assert await tx.stores.link_staff(store, 500, 500, NOW)
        assert not await tx.stores.link_staff(store, 500, 500, NOW)
        assert [s.code for s in await tx.stores.staffed_by(500)] == ["TC-UNIQLO"]
