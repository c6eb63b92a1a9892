"""Bot-speed taps are counted, not punished: a driver whose last presses come faster than a person
taps is reported to the admins once, and nothing is done to them."""

from __future__ import annotations

from datetime import timedelta

from dispatch.dispatcher import Rules
from tests.dispatch.test_award_window import MARIA, RULES, World, world  # noqa: F401  (fixture)
from tests.dispatch.test_timers import ADMIN, NOON

INSTANT = Rules(
    wave_size=RULES.wave_size,
    wave_interval=RULES.wave_interval,
    acceptance_window=RULES.acceptance_window,
    timing=RULES.timing,
    award_window=timedelta(0),
    max_offers_held=100,
)


async def _delivered(world: World, offer_id: int, driver_id: int) -> None:
    """Telegram took the driver's copy now (as the outbox sender records it)."""
    async with world.db.transaction() as tx:
        notice = await tx.notices.of(offer_id, driver_id)
        assert notice is not None
        outbox_id = await tx.notices.outbox_row(notice.id)
        assert outbox_id is not None
        await tx.outbox.mark_sent(outbox_id, at=world.clock.now(), message_id=notice.id, attempts=1)


async def _admin_alerts(world: World) -> list[str]:
    async with world.db.read() as tx:
        rows = await tx.outbox.pending(limit=10_000)
    return [row.payload for row in rows if row.chat_id == ADMIN and "faster than a person" in row.payload]


async def _press_offers(world: World, driver_id: int, count: int, after: timedelta, start: int) -> None:
    for index in range(start, start + count):
        offer_id = await world.offer(f"F{index}")
        await _delivered(world, offer_id, driver_id)
        world.clock.advance(after.total_seconds())
        await world.accept(offer_id, MARIA)
        world.clock.advance(60)


async def test_a_driver_who_taps_faster_than_a_person_is_reported_once(world: World) -> None:
    await world.restart(INSTANT)
    driver_id = await world.driver(MARIA)
    world.clock.set(NOON)

    await _press_offers(world, driver_id, 19, timedelta(milliseconds=50), 0)
    assert await _admin_alerts(world) == []  # 19 presses are not yet a sample

    await _press_offers(world, driver_id, 1, timedelta(milliseconds=50), 19)
    alerts = await _admin_alerts(world)
    assert len(alerts) == 1 and "20 of their last 20" in alerts[0]

    await _press_offers(world, driver_id, 5, timedelta(milliseconds=50), 20)
    assert len(await _admin_alerts(world)) == 1  # told once
    async with world.db.read() as tx:
        driver = await tx.drivers.by_id(driver_id)
    assert driver is not None and driver.status == "approved" and driver.fast_taps_told_at is not None


async def test_a_driver_who_reads_first_is_never_reported(world: World) -> None:
    await world.restart(INSTANT)
    driver_id = await world.driver(MARIA)
    await _press_offers(world, driver_id, 25, timedelta(seconds=3), 0)
    assert await _admin_alerts(world) == []
    async with world.db.read() as tx:
        fast, presses = await tx.notices.press_tally(driver_id, 600)
    assert (fast, presses) == (0, 25)
