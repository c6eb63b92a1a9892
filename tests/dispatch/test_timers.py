"""Every timer on a clock the test moves: it fires at its moment and not before, once, and across restarts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pytest
import pytest_asyncio
from sqlalchemy import select

from bot.texts import Catalog
from dispatch.actors import Actor
from dispatch.clock import FakeClock, SystemClock
from dispatch.deadlines import Deadline, Kind, Timing
from dispatch.dispatcher import Dispatch, Rules
from dispatch.offers import Press
from dispatch.orders import parse_order_line
from dispatch.pilot import PILOT_FILE, read_pilot, seed
from dispatch.problems import Issue, Problem, issue
from dispatch.timers import Timers
from storage import schema
from storage.db import Database

ADMIN = 1000
# 12:00 PDT in Las Vegas; the offers' pickup window is 13:00–13:30 PDT (20:00–20:30 UTC).
NOON = datetime(2026, 7, 15, 19, 0, tzinfo=UTC)
PICKUP_START = datetime(2026, 7, 15, 20, 0, tzinfo=UTC)
PICKUP_END = PICKUP_START + timedelta(minutes=30)
TIMING = Timing(
    pickup_reminder_lead=timedelta(minutes=15),
    no_show_grace=timedelta(minutes=10),
    delivery_reminder_lead=timedelta(minutes=10),
)
RULES = Rules(
    wave_size=1,
    wave_interval=timedelta(seconds=60),
    acceptance_window=timedelta(seconds=600),
    auto_offline_after=2,
    timing=TIMING,
    award_window=timedelta(0),  # the first Accept wins (the award window has tests of its own)
)


@dataclass
class World:
    db: Database
    clock: FakeClock
    timers: Timers
    dispatch: Dispatch

    async def restart(self) -> None:
        """The bot stops and starts again: new timers, rebuilt from the database."""
        await self.timers.stop()
        self.timers = Timers(self.clock, TIMING, follow_wall_clock=False)
        self.dispatch = Dispatch(
            self.db,
            self.clock,
            Catalog(self.clock),
            rules=RULES,
            admin_ids={ADMIN},
            deadlines=self.timers,
        )
        self.timers.bind(self.dispatch)
        await self.timers.start()

    async def at(self, when: datetime) -> int:
        """Move the clock to `when` and fire what is due."""
        self.clock.set(when)
        return await self.timers.fire_due()

    async def driver(self, tg_user_id: int) -> int:
        async with self.db.transaction() as tx:
            area = await tx.areas.by_slug("las-vegas")
            assert area is not None
            driver_id = await tx.drivers.add(tg_user_id, tg_user_id, f"Driver {tg_user_id}", self.clock.now())
            await tx.drivers.add_area(driver_id, area.id)
            await tx.drivers.set_status(driver_id, ["pending"], "approved")
            await tx.drivers.update(driver_id, online=True)
        return driver_id

    async def offer(self, *, deliver_by: str = "", ref: str = "T1") -> int:
        line = parse_order_line(
            f"store=FS-ZARA packages=2 pay=18.50 window=13:00-13:30 date=2026-07-15 zone=89109 ref={ref} "
            f'address="3200 Las Vegas Blvd S" {deliver_by}'
        )
        created = await self.dispatch.offers.create(line, store_code="FS-ZARA", by=Actor.admin(ADMIN))
        assert created.view is not None, created.problems
        return created.view.offer.id

    async def messages(self, chat_id: int) -> list[str]:
        """Texts queued for a chat, sends and edits alike, oldest first."""
        async with self.db.transaction() as tx:
            rows = await tx.connection.execute(
                select(schema.outbox.c.payload)
                .where(schema.outbox.c.chat_id == chat_id)
                .order_by(schema.outbox.c.id)
            )
            return [json.loads(payload).get("text", "") for (payload,) in rows]

    async def events(self, offer_id: int) -> list[str]:
        async with self.db.transaction() as tx:
            return [event.kind for event in await tx.events.for_offer(offer_id)]

    async def status(self, offer_id: int) -> str:
        async with self.db.transaction() as tx:
            offer = await tx.offers.by_id(offer_id)
        assert offer is not None
        return offer.status


@pytest_asyncio.fixture
async def world(db: Database) -> AsyncIterator[World]:
    await seed(db, read_pilot(PILOT_FILE))
    clock = FakeClock(NOON)
    timers = Timers(clock, TIMING, follow_wall_clock=False)
    dispatch = Dispatch(db, clock, Catalog(clock), rules=RULES, admin_ids={ADMIN}, deadlines=timers)
    timers.bind(dispatch)
    await timers.start()
    created = World(db, clock, timers, dispatch)
    yield created
    await created.timers.stop()


async def test_the_next_wave_goes_out_at_the_wave_interval_and_not_before(world: World) -> None:
    await world.driver(2001)
    await world.driver(2002)
    await world.offer()
    assert len([t for t in await world.messages(2001) if "New offer" in t]) == 1
    assert await world.messages(2002) == []
    await world.at(NOON + timedelta(seconds=59))
    assert await world.messages(2002) == []
    await world.at(NOON + timedelta(seconds=60))
    assert any("New offer" in text for text in await world.messages(2002))


async def test_an_offer_expires_when_its_window_ends_and_not_before(world: World) -> None:
    await world.driver(2001)
    offer_id = await world.offer()
    await world.at(NOON + timedelta(seconds=599))
    assert await world.status(offer_id) == "open"
    await world.at(NOON + timedelta(seconds=600))
    assert await world.status(offer_id) == "expired"
    assert (await world.messages(2001))[-1].endswith(": expired.")
    assert any("expired with no driver" in text for text in await world.messages(ADMIN))


async def test_drivers_who_let_offers_time_out_in_a_row_are_set_offline(world: World) -> None:
    driver_id = await world.driver(2001)
    for minute in (0, 20):
        world.clock.set(NOON + timedelta(minutes=minute))
        await world.offer(ref=f"T{minute}")
        await world.at(NOON + timedelta(minutes=minute + 10))
    async with world.db.transaction() as tx:
        driver = await tx.drivers.by_id(driver_id)
    assert driver is not None and not driver.online and driver.timed_out == 2
    assert "You missed 2 offers in a row, so I set you offline" in (await world.messages(2001))[-1]


async def accepted_offer(world: World, *, deliver_by: str = "") -> int:
    await world.driver(2001)
    offer_id = await world.offer(deliver_by=deliver_by)
    assert await world.dispatch.offers.accept(offer_id, 2001) is Press.AWARDED
    return offer_id


async def test_the_pickup_reminder_comes_fifteen_minutes_before_the_window(world: World) -> None:
    await accepted_offer(world)
    await world.at(PICKUP_START - timedelta(minutes=15, seconds=1))
    assert not any("⏰" in text for text in await world.messages(2001))
    await world.at(PICKUP_START - timedelta(minutes=15))
    assert (await world.messages(2001))[-1].startswith(
        "⏰ Pickup at Zara, Level 1, near the Neiman Marcus entrance, 1:00–1:30 PM PDT — in 15 min."
    )


async def test_the_late_reminder_comes_when_the_window_closes_with_a_release_button(world: World) -> None:
    offer_id = await accepted_offer(world)
    await world.at(PICKUP_END - timedelta(seconds=1))
    assert not any("late" in text for text in await world.messages(2001))
    await world.at(PICKUP_END)
    assert "You're late for pickup" in (await world.messages(2001))[-1]
    assert await world.status(offer_id) == "accepted"


async def test_a_no_show_is_released_after_the_grace_and_waits_for_a_new_window(world: World) -> None:
    offer_id = await accepted_offer(world)
    await world.driver(2002)
    await world.at(PICKUP_END + timedelta(minutes=9, seconds=59))
    assert await world.status(offer_id) == "accepted"
    await world.at(PICKUP_END + timedelta(minutes=10))
    assert await world.status(offer_id) == "expired"  # its window is over: offered to nobody as it is
    assert "released because it wasn't picked up" in (await world.messages(2001))[-1]
    assert any("No-show: Driver" in text for text in await world.messages(ADMIN))
    assert not any("New offer" in text for text in await world.messages(2002))
    async with world.db.transaction() as tx:
        no_show = await tx.drivers.by_telegram_id(2001)
    assert no_show is not None and no_show.no_shows == 1

    two_pm = datetime(2026, 7, 15, 21, 0, tzinfo=UTC)
    chosen = await world.dispatch.offers.new_window(
        offer_id, two_pm.strftime("%Y%m%d%H%M"), user_id=ADMIN, chat_id=ADMIN, name="Ada"
    )
    assert chosen is Press.REOPENED and await world.status(offer_id) == "open"
    assert any("New offer" in text for text in await world.messages(2002))
    await world.at(PICKUP_END + timedelta(minutes=30))
    assert sum("New offer" in text for text in await world.messages(2001)) == 1  # never to them again


async def test_the_delivery_reminder_comes_as_deliver_by_nears(world: World) -> None:
    offer_id = await accepted_offer(world, deliver_by="deliver_by=14:30")
    await world.at(PICKUP_START)
    await world.dispatch.offers.start_pickup(offer_id, 2001)
    async with world.db.transaction() as tx:
        offer = await tx.offers.by_id(offer_id)
    assert offer is not None
    await world.dispatch.offers.enter_code(2001, offer.pickup_code)
    deliver_by = datetime(2026, 7, 15, 21, 30, tzinfo=UTC)
    await world.at(deliver_by - timedelta(minutes=10, seconds=1))
    assert not any("Deliver order T1 by" in text for text in await world.messages(2001))
    await world.at(deliver_by - timedelta(minutes=10))
    assert (await world.messages(2001))[-1].startswith("⏰ Deliver order T1 by 2:30 PM PDT — in 10 min.")


async def test_a_timer_that_fires_twice_reminds_once(world: World) -> None:
    offer_id = await accepted_offer(world)
    world.clock.set(PICKUP_START - timedelta(minutes=15))
    await world.dispatch.offers.on_deadline(Kind.PICKUP_REMINDER, offer_id)
    await world.dispatch.offers.on_deadline(Kind.PICKUP_REMINDER, offer_id)
    assert sum("⏰" in text for text in await world.messages(2001)) == 1


async def test_a_restart_after_the_deadlines_passed_runs_each_overdue_one_once_in_order(world: World) -> None:
    offer_id = await accepted_offer(world)
    await world.timers.stop()  # the bot is down across the pickup window
    world.clock.set(PICKUP_END + timedelta(hours=1))
    await world.restart()
    kinds = await world.events(offer_id)
    assert kinds[kinds.index("accept") + 1 :][:3] == ["pickup_reminder", "late", "no_show"]
    texts = await world.messages(2001)
    assert sum("⏰ Pickup" in t for t in texts) == 1 and sum("You're late" in t for t in texts) == 1
    await world.restart()  # and again: nothing is sent twice
    assert await world.messages(2001) == texts
    assert (await world.events(offer_id)).count("no_show") == 1


async def test_pending_deadlines_are_scheduled_again_on_start(world: World) -> None:
    await accepted_offer(world)
    await world.restart()
    assert [deadline.kind for deadline in world.timers.pending] == [
        Kind.PICKUP_REMINDER,
        Kind.LATE,
        Kind.NO_SHOW,
    ]


async def test_a_window_across_midnight_ends_on_the_next_local_day(world: World) -> None:
    line = parse_order_line(
        'store=FS-ZARA packages=1 pay=9 window=23:30-00:15 date=2026-07-15 zone=89109 ref=N1 address="x"'
    )
    created = await world.dispatch.offers.create(line, store_code="FS-ZARA", by=Actor.admin(ADMIN))
    assert created.view is not None
    assert created.view.offer.pickup_start == datetime(2026, 7, 16, 6, 30, tzinfo=UTC)  # 11:30 PM PDT
    assert created.view.offer.pickup_end == datetime(2026, 7, 16, 7, 15, tzinfo=UTC)  # 12:15 AM PDT


async def test_a_local_time_that_happens_twice_is_refused_at_creation(world: World) -> None:
    world.clock.set(datetime(2026, 10, 30, 19, 0, tzinfo=UTC))
    line = parse_order_line(
        'store=TC-UNIQLO packages=1 pay=9 window=01:30-01:45 date=2026-11-01 zone=22102 ref=D1 address="x"'
    )
    created = await world.dispatch.offers.create(line, store_code="TC-UNIQLO", by=Actor.admin(ADMIN))
    assert created.view is None
    assert created.problems == (
        issue(Problem.TIME_REPEATED, at=time(1, 30), day=date(2026, 11, 1), zone="America/New_York"),
    )


@pytest.mark.parametrize(
    ("date", "window", "problem"),
    [
        ("9999-12-31", "23:00-23:30", issue(Problem.DATE_TOO_FAR, days=14, last="2026-07-29")),
        ("2026-07-30", "10:00-10:30", issue(Problem.DATE_TOO_FAR, days=14, last="2026-07-29")),
        ("2026-07-14", "10:00-10:30", issue(Problem.DATE_PAST)),
        ("0001-01-01", "10:00-10:30", issue(Problem.DATE_PAST)),
        ("2026-07-15", "01:00-01:30", issue(Problem.WINDOW_ENDED)),
    ],
)
async def test_a_date_out_of_reason_is_refused_with_a_clear_answer(
    world: World, date: str, window: str, problem: Issue
) -> None:
    world.clock.set(datetime(2026, 7, 15, 19, 0, tzinfo=UTC))  # noon in Las Vegas
    line = parse_order_line(
        f'store=FS-ZARA packages=1 pay=9 window={window} date={date} zone=89109 ref=Y1 address="x"'
    )
    created = await world.dispatch.offers.create(line, store_code="FS-ZARA", by=Actor.admin(ADMIN))
    assert created.view is None and created.problems == (problem,)


async def test_the_last_day_within_reach_is_accepted(world: World) -> None:
    world.clock.set(datetime(2026, 7, 15, 19, 0, tzinfo=UTC))
    line = parse_order_line(
        'store=FS-ZARA packages=1 pay=9 window=23:00-23:30 date=2026-07-29 zone=89109 ref=Y2 address="x"'
    )
    created = await world.dispatch.offers.create(line, store_code="FS-ZARA", by=Actor.admin(ADMIN))
    assert created.view is not None


class FailingOnce:
    """An offer desk whose first run of a deadline fails, as a deadlock or a lost connection would."""

    def __init__(self) -> None:
        self.runs: list[tuple[Kind, int]] = []

    async def on_deadline(self, kind: Kind, offer_id: int) -> None:
        self.runs.append((kind, offer_id))
        if len(self.runs) == 1:
            raise ConnectionResetError("the database went away for a moment")


async def test_a_deadline_whose_run_failed_is_tried_again_a_little_later(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("dispatch.timers.RETRY_AFTER", timedelta(milliseconds=50))
    clock = SystemClock()
    timers = Timers(clock, TIMING)
    desk = FailingOnce()
    timers._offers = desk  # type: ignore[assignment]  # the transition alone, without a database
    timers.scheduler.start()
    timers._schedule(Deadline(clock.now(), Kind.EXPIRE, 7))
    for _ in range(200):
        if len(desk.runs) >= 2:
            break
        await asyncio.sleep(0.02)
    await timers.stop()
    assert desk.runs == [(Kind.EXPIRE, 7), (Kind.EXPIRE, 7)]
