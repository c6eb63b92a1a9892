"""An offer stands only while a driver who takes it could still reach the store in its window."""

from __future__ import annotations

from datetime import timedelta

from dispatch.actors import Actor
from dispatch.orders import parse_order_line
from dispatch.problems import Issue, Problem, issue
from tests.dispatch.test_timers import ADMIN, PICKUP_END, RULES, World, world

__all__ = ["world"]  # the fixture, imported so pytest finds it here


async def create(world: World, ref: str = "X1") -> tuple[int | None, tuple[Issue, ...]]:
    line = parse_order_line(
        f"store=FS-ZARA packages=2 pay=18.50 window=13:00-13:30 date=2026-07-15 zone=89109 ref={ref} "
        'address="3200 Las Vegas Blvd S"'
    )
    created = await world.dispatch.offers.create(line, store_code="FS-ZARA", by=Actor.admin(ADMIN))
    return (created.view.offer.id if created.view else None), created.problems


async def test_an_offer_close_to_its_window_expires_when_a_driver_could_no_longer_make_it(
    world: World,
) -> None:
    await world.driver(2001)
    world.clock.set(PICKUP_END - timedelta(minutes=20))  # 1:10 PM: 20 minutes of the window left
    offer_id, problems = await create(world)
    assert offer_id is not None, problems
    async with world.db.read() as tx:
        offer = await tx.offers.by_id(offer_id)
    assert offer is not None
    # Not the usual 10 minutes: 5, when 15 are left (the time to reach the store).
    assert offer.expires_at == PICKUP_END - RULES.time_to_reach_store


async def test_an_order_whose_window_is_too_close_to_take_is_refused(world: World) -> None:
    world.clock.set(PICKUP_END - timedelta(minutes=10))
    offer_id, problems = await create(world)
    assert offer_id is None and problems == (issue(Problem.WINDOW_TOO_CLOSE),)
