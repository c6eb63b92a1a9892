"""Offline means off: going offline withdraws every unanswered copy, and only copies a driver could
have answered while online count towards being set offline."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from dispatch.offers import Press
from storage import schema
from storage.records import Delivery, Driver
from tests.dispatch.test_timers import ADMIN, NOON, World, world

__all__ = ["world"]  # the fixture, imported so pytest finds it here

MARIA = 2001


async def copies(world: World, chat_id: int) -> list[tuple[str, str, bool]]:
    """What the outbox holds for a chat: (kind, text, has buttons), oldest first."""
    async with world.db.read() as tx:
        rows = await tx.connection.execute(
            select(schema.outbox.c.kind, schema.outbox.c.payload)
            .where(schema.outbox.c.chat_id == chat_id)
            .order_by(schema.outbox.c.id)
        )
        return [
            (kind, json.loads(payload).get("text", ""), "reply_markup" in json.loads(payload))
            for kind, payload in rows
        ]


async def driver_row(world: World, driver_id: int) -> Driver:
    async with world.db.read() as tx:
        driver = await tx.drivers.by_id(driver_id)
    assert driver is not None
    return driver


async def test_going_offline_withdraws_the_unanswered_copy_and_it_never_counts(world: World) -> None:
    driver_id = await world.driver(MARIA)
    offer_id = await world.offer()
    assert (await copies(world, MARIA))[-1][1].startswith("📦 New offer")

    await world.dispatch.drivers.set_online(MARIA, False)

    kind, text, has_buttons = (await copies(world, MARIA))[-1]
    assert kind == Delivery.EDIT and "withdrawn" in text and not has_buttons
    assert await world.dispatch.offers.accept(offer_id, MARIA) is Press.WITHDRAWN
    await world.at(NOON + timedelta(seconds=600))  # the offer expires with nobody online
    assert await world.status(offer_id) == "expired"
    driver = await driver_row(world, driver_id)
    assert driver.timed_out == 0 and driver.timeouts_in_a_row == 0


async def test_a_driver_back_online_gets_a_withdrawn_offer_again_on_the_next_wave(world: World) -> None:
    await world.driver(MARIA)
    offer_id = await world.offer()
    await world.dispatch.drivers.set_online(MARIA, False)
    await world.at(NOON + timedelta(seconds=30))
    await world.dispatch.drivers.set_online(MARIA, True)
    await world.at(NOON + timedelta(seconds=60))
    sent = [text for kind, text, _ in await copies(world, MARIA) if kind == Delivery.MESSAGE]
    assert len([text for text in sent if "New offer" in text]) == 2
    assert await world.dispatch.offers.accept(offer_id, MARIA) is Press.AWARDED


async def test_set_offline_for_missed_offers_withdraws_the_rest_and_they_do_not_count_later(
    world: World,
) -> None:
    driver_id = await world.driver(MARIA)
    for minute, ref in ((0, "T0"), (5, "T5"), (6, "T6"), (8, "T8")):
        await world.at(NOON + timedelta(minutes=minute))
        await world.offer(ref=ref)
    await world.at(NOON + timedelta(minutes=10))  # T0 expires: one missed
    await world.at(NOON + timedelta(minutes=15))  # T5 expires: two missed, set offline
    driver = await driver_row(world, driver_id)
    assert not driver.online and driver.timed_out == 2
    withdrawn = [text for _, text, _ in await copies(world, MARIA) if "withdrawn" in text]
    assert len(withdrawn) == 2  # the copies of T6 and T8

    await world.at(NOON + timedelta(minutes=16))  # T6 expires while she is offline: not hers to miss
    await world.dispatch.drivers.set_online(MARIA, True)
    await world.at(NOON + timedelta(minutes=17))  # T8's next wave reaches her again
    await world.at(NOON + timedelta(minutes=18))  # and it expires: one missed since she came back
    driver = await driver_row(world, driver_id)
    assert driver.online and driver.timed_out == 3 and driver.timeouts_in_a_row == 1
    offline_notes = [text for _, text, _ in await copies(world, MARIA) if "so I set you offline" in text]
    assert len(offline_notes) == 1


async def test_a_suspended_driver_s_copies_are_withdrawn(world: World) -> None:
    driver_id = await world.driver(MARIA)
    offer_id = await world.offer()
    await world.dispatch.admin.suspend(driver_id, ADMIN, suspend=True)
    assert any("withdrawn" in text for _, text, _ in await copies(world, MARIA))
    async with world.db.read() as tx:
        notice = await tx.notices.of(offer_id, driver_id)
    assert notice is not None and notice.outcome == "withdrawn"
