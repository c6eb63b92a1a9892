"""A wave is written in bulk: the same few statements whether it reaches ten drivers or hundreds."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest_asyncio
from sqlalchemy import event, insert, select

from bot.texts import Catalog
from dispatch.actors import Actor
from dispatch.clock import FakeClock
from dispatch.dispatcher import Dispatch, Rules
from dispatch.orders import parse_order_line
from dispatch.pilot import PILOT_FILE, read_pilot, seed
from storage import schema
from storage.db import Database
from storage.records import Delivery

ADMIN = 1000
NOON = datetime(2026, 7, 15, 19, 0, tzinfo=UTC)  # 12:00 PDT; the pickup window is 13:00–13:30 PDT
WAVE_INTERVAL = timedelta(seconds=60)
RULES = Rules(
    wave_size=500,
    wave_interval=WAVE_INTERVAL,
    acceptance_window=timedelta(seconds=600),
    award_window=timedelta(0),
)


@dataclass
class World:
    db: Database
    clock: FakeClock
    dispatch: Dispatch
    area_id: int

    async def online_drivers(self, first_user_id: int, count: int) -> list[int]:
        """`count` approved, online drivers of Las Vegas, written in one go."""
        users = range(first_user_id, first_user_id + count)
        async with self.db.transaction() as tx:
            rows = [
                {
                    "tg_user_id": user,
                    "chat_id": user,
                    "name": f"Driver {user}",
                    "status": "approved",
                    "online": True,
                    "created_at": self.clock.now(),
                }
                for user in users
            ]
            await tx.connection.execute(insert(schema.drivers), rows)
            ids = list(
                (
                    await tx.connection.execute(
                        select(schema.drivers.c.id).where(schema.drivers.c.tg_user_id.in_(list(users)))
                    )
                ).scalars()
            )
            await tx.connection.execute(
                insert(schema.driver_areas), [{"driver_id": i, "area_id": self.area_id} for i in ids]
            )
        return ids

    async def offer_nobody_got_yet(self, ref: str) -> int:
        """An open offer whose first wave found nobody; its next wave is due a minute later."""
        line = parse_order_line(
            f"store=FS-ZARA packages=2 pay=18.50 window=13:00-13:30 date=2026-07-15 zone=89109 ref={ref} "
            f'address="3200 Las Vegas Blvd S"'
        )
        created = await self.dispatch.offers.create(line, store_code="FS-ZARA", by=Actor.admin(ADMIN))
        assert created.view is not None, created.problems
        return created.view.offer.id


@pytest_asyncio.fixture
async def world(db: Database) -> AsyncIterator[World]:
    await seed(db, read_pilot(PILOT_FILE))
    clock = FakeClock(NOON)
    dispatch = Dispatch(db, clock, Catalog(clock), rules=RULES, admin_ids={ADMIN})
    async with db.read() as tx:
        area = await tx.areas.by_slug("las-vegas")
    assert area is not None
    yield World(db, clock, dispatch, area.id)


@contextmanager
def statements_on(db: Database) -> Iterator[list[str]]:
    """Every SQL statement sent to the database while the block runs (an executemany counts once)."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)


async def _wave_statements(world: World, ref: str, newcomers: int, first_user_id: int, reach: int) -> int:
    offer_id = await world.offer_nobody_got_yet(ref)
    await world.online_drivers(first_user_id, newcomers)
    world.clock.advance(WAVE_INTERVAL.total_seconds())
    with statements_on(world.db) as seen:
        reached = await world.dispatch.offers.send_wave(offer_id)
    assert reached == reach
    return len(seen)


async def test_a_wave_to_two_hundred_drivers_takes_as_few_statements_as_one_to_ten(world: World) -> None:
    small = await _wave_statements(world, "SMALL", 10, 20_000, reach=10)
    # BIG's first wave reaches the first ten; its second, the two hundred who came online since.
    large = await _wave_statements(world, "BIG", 200, 30_000, reach=200)
    assert large == small
    assert small <= 25


async def test_a_bulk_wave_queues_each_copy_with_its_notice_and_counts_it_for_the_driver(
    world: World,
) -> None:
    drivers = await world.online_drivers(40_000, 5)
    offer_id = await world.offer_nobody_got_yet("BULK")  # its first wave reaches all five
    # One copy comes back, as after a release: the next wave sends it again to the same notice.
    async with world.db.transaction() as tx:
        (again,) = [n for n in await tx.notices.for_offer(offer_id) if n.driver_id == drivers[0]]
        await tx.notices.set_outcome(again.id, ["sent"], "taken")
    newcomers = await world.online_drivers(41_000, 2)
    world.clock.advance(WAVE_INTERVAL.total_seconds())
    assert await world.dispatch.offers.send_wave(offer_id) == 3

    async with world.db.read() as tx:
        notices = {n.driver_id: n for n in await tx.notices.for_offer(offer_id)}
        copies = (
            await tx.connection.execute(
                select(schema.outbox.c.notice_id, schema.outbox.c.chat_id, schema.outbox.c.payload).where(
                    schema.outbox.c.kind == Delivery.MESSAGE, schema.outbox.c.notice_id.is_not(None)
                )
            )
        ).all()
        people = {d: await tx.drivers.by_id(d) for d in [*drivers, *newcomers]}
    assert set(notices) == {*drivers, *newcomers}
    assert notices[drivers[0]].id == again.id
    for driver_id in [drivers[0], *newcomers]:
        notice = notices[driver_id]
        assert (notice.wave, notice.outcome, notice.created_at) == (2, "sent", world.clock.now())
    by_notice: dict[int, list[int]] = {}
    for notice_id, chat_id, payload in copies:
        by_notice.setdefault(notice_id, []).append(chat_id)
        assert "New offer" in json.loads(payload)["text"]
    chats = {driver_id: person.chat_id for driver_id, person in people.items() if person is not None}
    assert by_notice[again.id] == [chats[drivers[0]]] * 2  # the first copy and the one sent again
    for driver_id in newcomers:
        assert by_notice[notices[driver_id].id] == [chats[driver_id]]
    for driver_id, person in people.items():
        assert person is not None
        assert person.offered == (2 if driver_id == drivers[0] else 1)
        first_wave = driver_id in drivers[1:]
        assert person.last_offered_at == (NOON if first_wave else world.clock.now())


async def _expiry_statements(world: World, ref: str, drivers: int, first_user_id: int) -> int:
    await world.online_drivers(first_user_id, drivers)
    offer_id = await world.offer_nobody_got_yet(ref)  # its first wave reaches every driver online
    async with world.db.read() as tx:
        offer = await tx.offers.by_id(offer_id)
    assert offer is not None and offer.expires_at is not None
    world.clock.set(offer.expires_at)
    with statements_on(world.db) as seen:
        assert await world.dispatch.offers.expire(offer_id)
    async with world.db.read() as tx:
        assert {n.outcome for n in await tx.notices.for_offer(offer_id)} == {"expired"}
    return len(seen)


async def test_an_offer_nobody_took_expires_in_as_few_statements_for_two_hundred_copies_as_for_ten(
    world: World,
) -> None:
    small = await _expiry_statements(world, "SMALL", 10, 50_000)
    world.clock.set(NOON)
    async with world.db.transaction() as tx:  # the first ten are busy elsewhere now
        for driver in await tx.drivers.with_status("approved"):
            await tx.drivers.set_online(driver.id, False)
    large = await _expiry_statements(world, "BIG", 200, 60_000)
    assert large == small
    async with world.db.read() as tx:
        missed = [driver.timed_out for driver in await tx.drivers.with_status("approved")]
    assert missed == [1] * 210  # every copy that expired unanswered counts once for its driver
