"""An admin's list costs the same few statements whether the history behind it is 20 rows or 200:
one page is read with its stores, areas and holders joined in, and the rest is only counted."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from sqlalchemy import insert, select

from bot.texts import Catalog
from dispatch.clock import FakeClock
from dispatch.dispatcher import Dispatch
from dispatch.pilot import PILOT_FILE, read_pilot, seed
from dispatch.views import orders_today
from storage import schema
from storage.db import Database
from tests.dispatch.sql_cost import sql_cost

ADMIN, CLERK = 1000, 2000
NOW = datetime(2026, 7, 15, 19, 0, tzinfo=UTC)  # 12:00 PDT in Las Vegas
PAGE = 10


@dataclass
class Strip:
    db: Database
    dispatch: Dispatch
    zara: int
    added: int = 0

    async def busy(self, count: int) -> None:
        """`count` more approved drivers of Las Vegas, each holding an order of Zara made today."""
        first = 5000 + self.added
        self.added += count
        async with self.db.transaction() as tx:
            area = await tx.areas.by_slug("las-vegas")
            assert area is not None
            users = list(range(first, first + count))
            await tx.connection.execute(
                insert(schema.drivers),
                [
                    {
                        "tg_user_id": u,
                        "chat_id": u,
                        "name": f"Driver {u}",
                        "status": "approved",
                        "created_at": NOW,
                    }
                    for u in users
                ],
            )
            drivers = (
                await tx.connection.execute(
                    select(schema.drivers.c.id).where(schema.drivers.c.tg_user_id.in_(users))
                )
            ).scalars()
            ids = list(drivers)
            await tx.connection.execute(
                insert(schema.driver_areas), [{"driver_id": i, "area_id": area.id} for i in ids]
            )
            await tx.connection.execute(
                insert(schema.offers),
                [
                    {
                        "store_id": self.zara,
                        "ref": f"R{driver}",
                        "packages": 1,
                        "zone": "89109",
                        "address": "1 Test Way",
                        "pay_cents": 1500,
                        "pickup_start": NOW + timedelta(hours=1),
                        "pickup_end": NOW + timedelta(hours=1, minutes=30),
                        "pickup_code": "1234",
                        "status": "accepted",
                        "holder_id": driver,
                        "created_at": NOW - timedelta(minutes=5),
                    }
                    for driver in ids
                ],
            )


@pytest_asyncio.fixture
async def strip(db: Database) -> AsyncIterator[Strip]:
    await seed(db, read_pilot(PILOT_FILE))
    clock = FakeClock(NOW)
    dispatch = Dispatch(db, clock, Catalog(clock), admin_ids={ADMIN})
    async with db.transaction() as tx:
        zara = await tx.stores.by_code("FS-ZARA")
        assert zara is not None
        await tx.stores.link_staff(zara.id, CLERK, CLERK, NOW)
    yield Strip(db, dispatch, zara.id)


@pytest.mark.parametrize("kind", [None, "accepted", "today", "las-vegas"])
async def test_a_page_of_the_offer_board_costs_the_same_for_20_offers_as_for_200(
    strip: Strip, kind: str | None
) -> None:
    await strip.busy(20)
    with sql_cost(strip.db) as few:
        small = await strip.dispatch.admin.board(kind, 1, PAGE)
    await strip.busy(180)
    with sql_cost(strip.db) as many:
        large = await strip.dispatch.admin.board(kind, 1, PAGE)

    assert small is not None and large is not None
    assert (small.total, len(small.items), large.total, len(large.items)) == (20, 10, 200, 10)
    assert large.items[0].holder is not None and large.items[0].store.code == "FS-ZARA"
    assert len(many.statements) == len(few.statements) <= 4  # area, count, page (and SQLite BEGIN)
    assert many.rows == few.rows


async def test_a_page_of_drivers_costs_the_same_for_20_drivers_as_for_200(strip: Strip) -> None:
    await strip.busy(20)
    with sql_cost(strip.db) as few:
        small = await strip.dispatch.admin.drivers("las-vegas", 0, PAGE)
    await strip.busy(180)
    with sql_cost(strip.db) as many:
        large = await strip.dispatch.admin.drivers("las-vegas", 0, PAGE)

    assert small is not None and large is not None
    assert (small.total, len(small.items), large.total, len(large.items)) == (20, 10, 200, 10)
    assert len(many.statements) == len(few.statements) <= 4
    assert many.rows == few.rows


async def test_a_page_past_the_end_shows_the_last_page(strip: Strip) -> None:
    await strip.busy(25)

    page = await strip.dispatch.admin.drivers("approved", 7, PAGE)
    assert page is not None and (page.number, len(page.items), page.total) == (2, 5, 25)
    empty = await strip.dispatch.admin.drivers("pending", 3, PAGE)
    assert empty is not None and (empty.number, empty.items, empty.total) == (0, [], 0)


async def test_a_stores_orders_of_today_cost_the_same_for_20_orders_as_for_200(strip: Strip) -> None:
    await strip.busy(20)
    with sql_cost(strip.db) as few:
        async with strip.db.read() as tx:
            small = await orders_today(tx, CLERK, NOW)
    await strip.busy(180)
    with sql_cost(strip.db) as many:
        async with strip.db.read() as tx:
            large = await orders_today(tx, CLERK, NOW)

    assert (len(small), len(large)) == (20, 200)
    assert all(view.holder is not None and view.area.slug == "las-vegas" for view in large)
    assert len(many.statements) == len(few.statements)


async def test_areas_are_counted_per_area_in_the_database(strip: Strip) -> None:
    await strip.busy(20)
    with sql_cost(strip.db) as few:
        await strip.dispatch.admin.areas()
    await strip.busy(180)
    with sql_cost(strip.db) as many:
        lines = await strip.dispatch.admin.areas()

    vegas = next(line for line in lines if line.area.slug == "las-vegas")
    assert (vegas.stores, vegas.approved, vegas.online) == (3, 200, 0)
    assert (len(many.statements), many.rows) == (len(few.statements), few.rows)


async def test_a_busy_stores_orders_list_fits_one_message_with_the_active_ones_first(strip: Strip) -> None:
    await strip.busy(400)
    o = schema.offers
    async with strip.db.transaction() as tx:  # the newest two already delivered
        ids = list((await tx.connection.execute(select(o.c.id).order_by(o.c.id))).scalars())
        await tx.connection.execute(o.update().where(o.c.id.in_(ids[-2:])).values(status="delivered"))
        refs = dict((await tx.connection.execute(select(o.c.id, o.c.ref))).all())
    assert await strip.dispatch.stores.show_orders(CLERK) == 400
    async with strip.db.read() as tx:
        payload = (
            await tx.connection.execute(
                select(schema.outbox.c.payload).where(schema.outbox.c.chat_id == CLERK)
            )
        ).scalar_one()
        listed = await tx.cards.of("orders", ids[-3])  # the newest order still under way
    params = json.loads(payload)
    assert len(params["text"]) <= 4096
    assert "and 380 more" in params["text"]
    buttons = [row[0]["text"] for row in params["reply_markup"]["inline_keyboard"]]
    assert len(buttons) == 20
    assert f" {refs[ids[-1]]} " not in params["text"]  # delivered ones give way to those under way
    assert f" {refs[ids[-3]]} " in params["text"]
    assert len(listed) == 1  # a listed order remembers the list
