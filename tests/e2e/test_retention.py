"""The running bot forgets old personal data: at start, and whenever its purge runs on the clock."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot import keyboards, texts
from bot.app import StorerunBot
from dispatch.clock import FakeClock
from dispatch.drivers import Availability
from dispatch.pilot import PILOT_FILE, read_pilot, seed
from dispatch.retention import Purged
from sandbox.emulator import BotApiEmulator
from storage import schema
from storage.db import Database
from storage.records import EventKind
from tests.e2e.conftest import ADMIN_ID, BotFactory, make_settings
from tests.e2e.people import new_offer, online_driver
from tests.e2e.words import (
    ASK_PICKUP_CODE,
    DELIVERY_CARD,
    DRIVER_RECORD,
    EN,
    JOB_CARD,
    OFFER_COPY,
    PROOF_SAVED,
    TRAIL,
    TRAIL_STEP,
    WHO_DRIVER,
    matches,
    part,
)

MARIA = 3001
MARIAS_PHONE = "+15550003001"  # the emulator's number for her
ADDRESS = "3200 Las Vegas Blvd S"  # in every offer the helpers create


async def _deliver_with_a_photo(emulator: BotApiEmulator) -> int:
    """Maria takes an offer, picks it up with the code, delivers it and sends a photo; then goes offline."""
    await online_driver(emulator, MARIA, "Maria")
    offer = await new_offer(emulator)
    await emulator.wait_for_message(MARIA, part(OFFER_COPY))
    await emulator.press(MARIA, EN(keyboards.ACCEPT))
    await emulator.wait_for_message(MARIA, part(JOB_CARD))
    await emulator.press(MARIA, EN(keyboards.CONFIRM_PICKUP))
    await emulator.wait_for_message(MARIA, part(ASK_PICKUP_CODE))
    await emulator.send_text(MARIA, offer.pickup_code)
    await emulator.wait_for_message(MARIA, part(DELIVERY_CARD, ref="A123"))
    await emulator.press(MARIA, EN(keyboards.DELIVERED))
    await emulator.send_photo(MARIA, caption="at the door")
    await emulator.wait_for_message(MARIA, EN(PROOF_SAVED, ref="A123"))
    await emulator.send_text(MARIA, "/offline")
    await emulator.wait_for_message(MARIA, EN(texts.AVAILABILITY[Availability.OFFLINE]))
    return offer.offer_id


async def _copies_with(db: Database, *secrets: str) -> list[str]:
    """Stored messages and updates that still say any of these."""
    async with db.read() as tx:
        sent = (await tx.connection.execute(select(schema.outbox.c.payload))).scalars().all()
        received = (await tx.connection.execute(select(schema.inbox.c.payload))).scalars().all()
    return [text for text in [*sent, *received] if any(secret in text for secret in secrets)]


async def test_ninety_days_after_a_delivery_its_address_photo_and_the_idle_drivers_phone_are_forgotten(
    emulator: BotApiEmulator, start_bot: BotFactory, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(datetime.now(UTC))
    bot = await start_bot(clock=clock)
    offer_id = await _deliver_with_a_photo(emulator)
    await bot.sender.drain()
    assert await _copies_with(bot.db, ADDRESS, MARIAS_PHONE)

    clock.advance(timedelta(days=89).total_seconds())
    assert await bot.purge_personal_data() == Purged()  # not old enough yet
    clock.advance(timedelta(days=2).total_seconds())
    with caplog.at_level(logging.INFO, logger="bot.app"):
        purged = await bot.purge_personal_data()

    assert purged is not None
    assert (purged.addresses, purged.photos, purged.phones) == (1, 1, 1)
    async with bot.db.read() as tx:
        offer = await tx.offers.by_id(offer_id)
        maria = await tx.drivers.by_telegram_id(MARIA)
    assert offer is not None and offer.address == "" and offer.proof_file_id is None
    assert maria is not None and maria.phone is None
    assert await _copies_with(bot.db, ADDRESS, MARIAS_PHONE) == []
    logged = [record.getMessage() for record in caplog.records if "personal data" in record.getMessage()]
    assert logged == [f"forgot personal data older than 90 days: {purged}"]
    assert MARIAS_PHONE not in caplog.text and ADDRESS not in caplog.text

    # The admin's views of what is left cope with the gaps.
    await emulator.send_text(ADMIN_ID, f"/driver {maria.id}")
    profile = await emulator.wait_for_message(ADMIN_ID, f"#{maria.id} Maria")
    assert matches(DRIVER_RECORD, phone=EN(texts.NOT_SHARED)).search(profile.text or ""), profile.text
    await emulator.send_text(ADMIN_ID, "/export drivers 365")
    drivers = await emulator.wait_for_message(ADMIN_ID, lambda m: m.document is not None)
    assert drivers.document is not None
    (row,) = csv.DictReader(io.StringIO(drivers.document.content.decode()))
    assert row["name"] == "Maria" and row["phone"] == "" and row["delivered"] == "1"
    await emulator.send_text(ADMIN_ID, "/export offers 365")
    offers = await emulator.wait_for_message(
        ADMIN_ID, lambda m: m.document is not None and "offers" in (m.document.file_name or "")
    )
    assert offers.document is not None
    (row,) = csv.DictReader(io.StringIO(offers.document.content.decode()))
    assert row["status"] == "delivered" and row["proof_file_id"] == ""


async def _old_delivery(db: Database, now: datetime) -> int:
    """An offer delivered 100 days ago, still with its address."""
    async with db.transaction() as tx:
        store = await tx.stores.by_code("FS-ZARA")
        assert store is not None
        long_ago = now - timedelta(days=100)
        return await tx.offers.add(
            store_id=store.id,
            ref="OLD1",
            packages=1,
            zone="89109",
            address=ADDRESS,
            pay_cents=1850,
            pickup_start=long_ago,
            pickup_end=long_ago + timedelta(minutes=30),
            pickup_code="1234",
            status="delivered",
            wave=1,
            created_at=long_ago,
            finished_at=long_ago,
        )


async def _address_of(db: Database, offer_id: int) -> str:
    async with db.read() as tx:
        offer = await tx.offers.by_id(offer_id)
    assert offer is not None
    return offer.address


async def test_the_bot_forgets_old_personal_data_as_soon_as_it_starts(
    emulator: BotApiEmulator, sqlite_url: str
) -> None:
    clock = FakeClock(datetime.now(UTC))
    bot = StorerunBot(make_settings(emulator, sqlite_url), clock=clock)
    await bot.db.upgrade()
    await seed(bot.db, read_pilot(PILOT_FILE))
    offer_id = await _old_delivery(bot.db, clock.now())
    try:
        await bot.start()
        async with asyncio.timeout(10):
            while await _address_of(bot.db, offer_id) != "":  # noqa: ASYNC110 (a row the bot's task writes)
                await asyncio.sleep(0.02)
    finally:
        await bot.stop()


async def test_with_personal_data_days_0_nothing_is_ever_forgotten(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    clock = FakeClock(datetime.now(UTC))
    bot = await start_bot(clock=clock, personal_data_days=0)
    offer_id = await _old_delivery(bot.db, clock.now() - timedelta(days=3650))
    assert await bot.purge_personal_data() is None
    assert await _address_of(bot.db, offer_id) == ADDRESS


async def _outbox_ids(db: Database) -> set[int]:
    async with db.read() as tx:
        return set((await tx.connection.execute(select(schema.outbox.c.id))).scalars())


async def _still_needed(db: Database) -> set[int]:
    """Calls a card names or an edit targets: a prune keeps them."""
    async with db.read() as tx:
        carded = (await tx.connection.execute(select(schema.cards.c.outbox_id))).scalars()
        edited = (await tx.connection.execute(select(schema.outbox.c.target_id))).scalars()
        return {*carded, *(target for target in edited if target is not None)}


async def test_a_month_after_a_delivery_its_messages_are_pruned_once_a_day_and_its_trail_stays(
    emulator: BotApiEmulator, start_bot: BotFactory, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(datetime.now(UTC))
    bot = await start_bot(clock=clock)  # its first prune runs at start: nothing is old yet
    offer_id = await _deliver_with_a_photo(emulator)
    await bot.sender.drain()
    sent = await _outbox_ids(bot.db)

    clock.advance(timedelta(days=29).total_seconds())
    not_old_enough = await bot.prune_history()
    assert not_old_enough is not None and not_old_enough.messages == 0
    clock.advance(timedelta(hours=1).total_seconds())
    assert await bot.prune_history() is None  # the last prune was an hour ago: not due yet
    clock.advance(timedelta(days=2).total_seconds())
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="bot.app"):
        pruned = await bot.prune_history()

    assert pruned is not None and pruned.messages > 0
    left = await _outbox_ids(bot.db)
    assert left < sent and len(sent) - len(left) == pruned.messages
    # The newest call stays too: SQLite would hand its id out again, and the sender takes new calls by id.
    assert left <= await _still_needed(bot.db) | {max(sent)}
    logged = [record.getMessage() for record in caplog.records if "pruned" in record.getMessage()]
    assert logged == [f"pruned history older than 30 days: {pruned}"]

    await emulator.send_text(ADMIN_ID, f"/offer {offer_id}")  # answered as ever, from the events kept
    trail = await emulator.wait_for_message(ADMIN_ID, EN(TRAIL))
    said = EN(texts.EVENT_WORDS[EventKind.DELIVER])
    delivered = matches(TRAIL_STEP, kind=said, who=matches(WHO_DRIVER, name="Maria"))
    assert delivered.search(trail.text or ""), trail.text
