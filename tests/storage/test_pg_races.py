"""Every rule holds with real concurrency on PostgreSQL: two instances' transactions interleaved at
the moment a rule is checked (the first pauses right after its check, the second runs the competing
action, then the first goes on), and the rule still holds: the second waited for the first's row
lock, or found the first's conditional write done."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

import pytest
import pytest_asyncio
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.texts import Catalog
from dispatch.actors import Actor, By
from dispatch.admin import BROADCAST_TAG
from dispatch.clock import FakeClock
from dispatch.dispatcher import Dispatch, Rules
from dispatch.drivers import Availability, Decision
from dispatch.offers import Award, Code, Entered, Press
from dispatch.orders import parse_order_line
from dispatch.pilot import PILOT_FILE, read_pilot, seed
from dispatch.problems import Problem
from dispatch.stores import Link
from storage import schema
from storage.db import Database
from storage.records import Account, Driver, EventKind, Offer, OfferStatus, Outcome, RequestKind
from storage.repos import Broadcasts, Drivers, ExportRequests, Invites, Notices, Offers, Stores
from tests.dispatch.test_timers import ADMIN, NOON, PICKUP_END, PICKUP_START, TIMING

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]

RULES = Rules(
    max_offers_held=2,
    auto_offline_after=1,  # one copy missed and the driver is set offline
    timing=TIMING,
    award_window=timedelta(0),  # the first Accept wins, unless the area has a window of its own
)
WINDOW_SECONDS = 30
MARIA, JOSE = 2001, 2002  # drivers' Telegram ids (and chats)
CLERK, OTHER_CLERK = 7001, 7002
ORDER = "store=FS-ZARA packages=2 pay=18.50 window=13:00-13:30 date=2026-07-15 zone=89109"

T = TypeVar("T")
U = TypeVar("U")

# --- pausing one transaction right after its check ---


class Gate:
    """Holds the transaction of the task that armed it just after a chosen query returns (its
    check made, its write not yet), until the test lets it go on; once only."""

    def __init__(self) -> None:
        self.reached = asyncio.Event()
        self.go = asyncio.Event()
        self.passed = False

    async def hold(self) -> None:
        if self.passed:
            return
        self.passed = True
        self.reached.set()
        await self.go.wait()


# The gate of the task (and only that task) that is to pause.
_armed: ContextVar[Gate | None] = ContextVar("race_gate", default=None)


def pause_after(monkeypatch: pytest.MonkeyPatch, repo: type, *methods: str) -> Gate:
    """A gate that pauses an armed task right after the first of these repository methods returns."""
    gate = Gate()
    for name in methods:
        original = getattr(repo, name)

        async def paused(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            result = await _original(self, *args, **kwargs)
            if _armed.get() is gate:
                await gate.hold()
            return result

        monkeypatch.setattr(repo, name, paused)
    return gate


async def _armed_with(gate: Gate, action: Awaitable[T]) -> T:
    _armed.set(gate)  # in this task's own context only
    return await action


@dataclass(frozen=True, slots=True)
class Race(Generic[T, U]):
    first: T
    second: U
    waited: bool  # the second was waiting for a lock the first held when the first went on


async def _lock_waiters(probe: AsyncEngine) -> int:
    async with probe.connect() as connection:
        query = text(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int((await connection.execute(query)).scalar_one())


async def race(
    gate: Gate,
    first: Coroutine[Any, Any, T],
    second: Callable[[], Coroutine[Any, Any, U]],
    probe: AsyncEngine,
) -> Race[T, U]:
    """`first` runs up to its gate; `second` runs until it is done or waits for a lock `first`
    holds; then `first` goes on and both finish."""
    a = asyncio.create_task(_armed_with(gate, first))
    reached = asyncio.create_task(gate.reached.wait())
    await asyncio.wait({a, reached}, return_when=asyncio.FIRST_COMPLETED)
    reached.cancel()
    assert gate.reached.is_set(), f"the first never reached its check: {a.result() if a.done() else a}"
    b = asyncio.create_task(second())
    waited = False
    while not b.done():
        # Polled (not timed): the second is either done or parked on the first's lock.
        if await _lock_waiters(probe):
            waited = True
            break
        await asyncio.wait({b}, timeout=0.02)
    gate.go.set()
    return Race(await a, await b, waited)


# --- two instances on one database ---


@dataclass
class Instances:
    """Two bot instances (each its own Database, so its own connections) on one PostgreSQL."""

    db: Database
    clock: FakeClock
    first: Dispatch
    second: Dispatch
    probe: AsyncEngine
    driver_ids: dict[int, int]

    async def driver(self, tg_user_id: int, *, online: bool = True) -> int:
        """An approved driver of Las Vegas."""
        async with self.db.transaction() as tx:
            area = await tx.areas.by_slug("las-vegas")
            assert area is not None
            driver_id = await tx.drivers.add(tg_user_id, tg_user_id, f"Driver {tg_user_id}", self.clock.now())
            await tx.drivers.add_area(driver_id, area.id)
            assert await tx.drivers.set_status(driver_id, [Account.PENDING], Account.APPROVED)
            await tx.drivers.update(driver_id, online=online)
        self.driver_ids[tg_user_id] = driver_id
        return driver_id

    async def offer(self, ref: str) -> int:
        """A new offer of FS-ZARA (picked up 1:00–1:30 PM PDT); its first wave goes out."""
        line = parse_order_line(f'{ORDER} ref={ref} address="3200 Las Vegas Blvd S"')
        created = await self.first.offers.create(line, store_code="FS-ZARA", by=Actor.admin(ADMIN))
        assert created.view is not None, created.problems
        return created.view.offer.id

    async def award_window(self) -> None:
        """Las Vegas collects Accepts for a window, then awards by its order."""
        async with self.db.transaction() as tx:
            area = await tx.areas.by_slug("las-vegas")
            assert area is not None
            await tx.areas.update(area.id, award_window_seconds=WINDOW_SECONDS)

    async def row(self, offer_id: int) -> Offer:
        async with self.db.read() as tx:
            offer = await tx.offers.by_id(offer_id)
        assert offer is not None
        return offer

    async def person(self, tg_user_id: int) -> Driver:
        async with self.db.read() as tx:
            driver = await tx.drivers.by_telegram_id(tg_user_id)
        assert driver is not None
        return driver

    async def held(self, tg_user_id: int) -> int:
        async with self.db.read() as tx:
            return len(await tx.offers.held_by(self.driver_ids[tg_user_id]))

    async def outcomes(self, offer_id: int) -> dict[int, Outcome]:
        by_driver = {driver_id: tg for tg, driver_id in self.driver_ids.items()}
        async with self.db.read() as tx:
            return {by_driver[n.driver_id]: Outcome(n.outcome) for n in await tx.notices.for_offer(offer_id)}

    async def events(self, kind: EventKind) -> int:
        async with self.db.read() as tx:
            query = select(func.count()).select_from(schema.events).where(schema.events.c.kind == kind)
            return int((await tx.connection.execute(query)).scalar_one())

    async def held_offer(self, ref: str, tg_user_id: int) -> int:
        """A new offer that this driver takes at once (no award window yet)."""
        offer_id = await self.offer(ref)
        assert await self.first.offers.accept(offer_id, tg_user_id) is Press.AWARDED
        return offer_id

    async def code(self, offer_id: int) -> str:
        return (await self.row(offer_id)).pickup_code

    async def at_the_counter(self, tg_user_id: int, at: datetime) -> tuple[int, str]:
        """This driver holds a new offer and, at `at`, is at the counter, asked for the code:
        the offer and its code."""
        await self.driver(tg_user_id)
        offer_id = await self.held_offer("T1", tg_user_id)
        self.clock.set(at)
        assert await self.first.offers.start_pickup(offer_id, tg_user_id) is Press.TYPE_CODE
        return offer_id, await self.code(offer_id)


def _dispatch(db: Database, clock: FakeClock) -> Dispatch:
    return Dispatch(db, clock, Catalog(clock), rules=RULES, admin_ids={ADMIN})


@pytest_asyncio.fixture
async def two(db: Database, database_url: str) -> AsyncIterator[Instances]:
    await seed(db, read_pilot(PILOT_FILE))
    async with db.transaction() as tx:
        zara = await tx.stores.by_code("FS-ZARA")
        assert zara is not None
        await tx.stores.link_staff(zara.id, CLERK, CLERK, NOON)
    clock = FakeClock(NOON)
    other = Database.connect(database_url)
    probe = create_async_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        yield Instances(db, clock, _dispatch(db, clock), _dispatch(other, clock), probe, {})
    finally:
        await probe.dispose()
        await other.close()


# --- the holding limit ---


async def test_two_accepts_by_one_driver_at_once_leave_her_holding_no_more_than_the_limit(
    two: Instances, monkeypatch: pytest.MonkeyPatch
) -> None:
    await two.driver(MARIA)
    await two.held_offer("H1", MARIA)  # one short of the limit
    first, second = await two.offer("T1"), await two.offer("T2")
    gate = pause_after(monkeypatch, Offers, "held_by")

    done = await race(
        gate,
        two.first.offers.accept(first, MARIA),
        lambda: two.second.offers.accept(second, MARIA),
        two.probe,
    )

    assert [done.first, done.second] == [Press.AWARDED, Press.FULL]
    assert await two.held(MARIA) == RULES.max_offers_held
    assert done.waited  # the second waited for the first's lock


async def test_two_awards_at_once_skip_a_presser_the_other_award_just_filled(
    two: Instances, monkeypatch: pytest.MonkeyPatch
) -> None:
    await two.driver(MARIA)
    await two.driver(JOSE)
    await two.award_window()
    # Each won one offer today, Maria first: she comes first in both windows (fewest today, then
    # longest since her last award).
    for ref, tg in (("H1", MARIA), ("H2", JOSE)):
        held = await two.offer(ref)
        assert isinstance(await two.first.offers.accept(held, tg, two.clock.now()), Entered)
        two.clock.set((await two.row(held)).award_at or NOON)
        award = await two.first.offers.award(held)
        assert award is not None and award.winner_id == two.driver_ids[tg]
        two.clock.advance(60)
    first, second = await two.offer("T1"), await two.offer("T2")
    for offer_id, tg in ((first, MARIA), (second, MARIA), (second, JOSE)):
        assert isinstance(await two.first.offers.accept(offer_id, tg, two.clock.now()), Entered)
    two.clock.advance(WINDOW_SECONDS)
    gate = pause_after(monkeypatch, Offers, "held_counts")

    done = await race(gate, two.first.offers.award(first), lambda: two.second.offers.award(second), two.probe)

    assert done.first is not None and done.first.winner_id == two.driver_ids[MARIA]
    assert await two.held(MARIA) == RULES.max_offers_held
    assert (await two.row(second)).holder_id == two.driver_ids[JOSE]
    assert done.waited  # the second waited for the first's lock


# --- one award, one taker ---


async def test_one_award_per_offer_when_two_instances_run_it_at_once(
    two: Instances, monkeypatch: pytest.MonkeyPatch
) -> None:
    await two.driver(MARIA)
    await two.driver(JOSE)
    await two.award_window()
    offer_id = await two.offer("T1")
    for tg in (MARIA, JOSE):
        assert isinstance(await two.first.offers.accept(offer_id, tg, two.clock.now()), Entered)
    two.clock.advance(WINDOW_SECONDS)
    gate = pause_after(monkeypatch, Offers, "held_counts")

    done = await race(
        gate, two.first.offers.award(offer_id), lambda: two.second.offers.award(offer_id), two.probe
    )

    assert [done.first is None, done.second is None].count(True) == 1
    assert await two.events(EventKind.ACCEPT) == 1
    assert await two.events(EventKind.NO_AWARD) == 0


async def test_an_award_that_finds_nobody_eligible_run_twice_at_once_ends_the_window_once(
    two: Instances, monkeypatch: pytest.MonkeyPatch
) -> None:
    await two.driver(MARIA)
    await two.held_offer("H1", MARIA)  # taken before the area had a window: one short of the limit
    await two.award_window()
    first, second = await two.offer("T1"), await two.offer("T2")
    for offer_id in (first, second):
        assert isinstance(await two.first.offers.accept(offer_id, MARIA, two.clock.now()), Entered)
    two.clock.advance(WINDOW_SECONDS)
    award = await two.first.offers.award(first)
    assert award is not None and award.winner_id == two.driver_ids[MARIA]  # now she is full
    gate = pause_after(monkeypatch, Offers, "held_counts")

    done = await race(
        gate, two.first.offers.award(second), lambda: two.second.offers.award(second), two.probe
    )

    assert [done.first, done.second] == [Award(None, 1, 0), None]
    assert await two.events(EventKind.NO_AWARD) == 1
    assert (await two.row(second)).award_at is None
    assert done.waited  # the second waited for the first's lock


async def test_a_decline_as_the_award_runs_does_not_leave_her_holding_an_offer_she_declined(
    two: Instances, monkeypatch: pytest.MonkeyPatch
) -> None:
    await two.driver(MARIA)
    await two.award_window()
    offer_id = await two.offer("T1")
    assert isinstance(await two.first.offers.accept(offer_id, MARIA, two.clock.now()), Entered)
    two.clock.advance(WINDOW_SECONDS)
    gate = pause_after(monkeypatch, Offers, "held_counts")

    done = await race(
        gate, two.first.offers.award(offer_id), lambda: two.second.offers.decline(offer_id, MARIA), two.probe
    )

    assert done.first is not None and done.first.winner_id == two.driver_ids[MARIA]
    assert done.second is Press.ALREADY_YOURS
    assert await two.outcomes(offer_id) == {MARIA: Outcome.ACCEPTED}
    assert done.waited  # the second waited for the first's lock


async def test_a_wave_going_out_as_the_offer_is_taken_leaves_no_copy_open(
    two: Instances, monkeypatch: pytest.MonkeyPatch
) -> None:
    await two.driver(MARIA)
    await two.driver(JOSE, online=False)
    offer_id = await two.offer("T1")  # wave 1: Maria only
    await two.first.drivers.set_online(JOSE, True)
    two.clock.advance(60)  # wave 2 is due: Jose
    gate = pause_after(monkeypatch, Notices, "record_many")

    done = await race(
        gate,
        two.first.offers.send_wave(offer_id),
        lambda: two.second.offers.accept(offer_id, MARIA),
        two.probe,
    )

    assert done.second is Press.AWARDED
    assert await two.outcomes(offer_id) == {MARIA: Outcome.ACCEPTED, JOSE: Outcome.TAKEN}
    assert done.waited  # the second waited for the first's lock


async def test_an_accept_as_the_offer_is_cancelled_is_answered_cancelled(
    two: Instances, monkeypatch: pytest.MonkeyPatch
) -> None:
    await two.driver(MARIA)
    offer_id = await two.offer("T1")
    gate = pause_after(monkeypatch, Offers, "by_id", "lock")

    done = await race(
        gate,
        two.first.offers.cancel(offer_id, actor=Actor.admin(ADMIN).encode(), by=By("Ana"), reason=None),
        lambda: two.second.offers.accept(offer_id, MARIA),
        two.probe,
    )

    assert done.first is Press.CANCELLED
    assert done.second is Press.CANCELLED
    assert (await two.row(offer_id)).status == OfferStatus.CANCELLED
    assert await two.held(MARIA) == 0
    assert done.waited  # the second waited for the first's lock


async def test_an_accept_as_the_admin_suspends_the_driver_does_not_give_her_the_offer(
    two: Instances, monkeypatch: pytest.MonkeyPatch
) -> None:
    maria = await two.driver(MARIA)
    offer_id = await two.offer("T1")
    gate = pause_after(monkeypatch, Drivers, "set_status")

    done = await race(
        gate,
        two.first.admin.suspend(maria, ADMIN, suspend=True),
        lambda: two.second.offers.accept(offer_id, MARIA),
        two.probe,
    )

    assert done.second is Press.NOT_APPROVED
    assert (await two.row(offer_id)).status == OfferStatus.OPEN
    assert await two.held(MARIA) == 0
    assert done.waited  # the second waited for the first's lock


async def test_the_first_accept_opening_a_window_as_the_offer_expires_is_told_it_expired(
    two: Instances, monkeypatch: pytest.MonkeyPatch
) -> None:
    await two.driver(MARIA)
    await two.award_window()
    offer_id = await two.offer("T1")
    expires_at = (await two.row(offer_id)).expires_at
    assert expires_at is not None
    two.clock.set(expires_at)
    gate = pause_after(monkeypatch, Offers, "by_id", "lock")
    pressed_in_time = expires_at - timedelta(seconds=1)  # reached the bot in time, applied late

    done = await race(
        gate,
        two.first.offers.expire(offer_id),
        lambda: two.second.offers.accept(offer_id, MARIA, pressed_in_time),
        two.probe,
    )

    # Not "you are in" on an offer that then expires under her: the expiry went first, wholly.
    assert [done.first, done.second] == [True, Press.EXPIRED]
    assert (await two.row(offer_id)).status == OfferStatus.EXPIRED
    assert (await two.row(offer_id)).award_at is None
    assert done.waited  # the second waited for the first's lock


async def test_the_same_order_ref_made_twice_at_once_is_one_offer(
    two: Instances, monkeypatch: pytest.MonkeyPatch
) -> None:
    line = parse_order_line(f'{ORDER} ref=DUP address="3200 Las Vegas Blvd S"')
    gate = pause_after(monkeypatch, Offers, "by_ref")

    done = await race(
        gate,
        two.first.offers.create(line, store_code="FS-ZARA", by=Actor.admin(ADMIN)),
        lambda: two.second.offers.create(line, store_code="FS-ZARA", by=Actor.admin(ADMIN)),
        two.probe,
    )

    # The second made it first; the first's conditional insert refuses the ref it checked free.
    assert done.second.view is not None
    assert done.first.view is None
    assert [problem.code for problem in done.first.problems] == [Problem.REF_TAKEN]
    assert not done.waited


# --- pickup, release, no-show, delivery ---


async def test_release_at_the_moment_of_pickup_one_of_them_happens(
    two: Instances, monkeypatch: pytest.MonkeyPatch
) -> None:
    offer_id, code = await two.at_the_counter(MARIA, PICKUP_START + timedelta(minutes=5))
    gate = pause_after(monkeypatch, Offers, "transition")

    done = await race(
        gate,
        two.first.offers.enter_code(MARIA, code),
        lambda: two.second.offers.release(offer_id, MARIA),
        two.probe,
    )

    assert done.first is Code.ACCEPTED and done.second is Press.DONE
    assert (await two.row(offer_id)).status == OfferStatus.PICKED_UP
    assert (await two.person(MARIA)).released == 0
    assert done.waited  # the second waited for the first's lock


async def test_the_no_show_at_the_moment_of_pickup_one_of_them_happens(
    two: Instances, monkeypatch: pytest.MonkeyPatch
) -> None:
    offer_id, code = await two.at_the_counter(MARIA, PICKUP_END + TIMING.no_show_grace)
    gate = pause_after(monkeypatch, Offers, "transition")

    done = await race(
        gate,
        two.first.offers.no_show(offer_id),
        lambda: two.second.offers.enter_code(MARIA, code),
        two.probe,
    )

    assert done.first is True and done.second is Code.NOT_EXPECTED
    assert (await two.row(offer_id)).holder_id is None
    assert (await two.person(MARIA)).no_shows == 1
    assert done.waited  # the second waited for the first's lock


async def test_the_pickup_code_is_redeemed_once(two: Instances, monkeypatch: pytest.MonkeyPatch) -> None:
    _, code = await two.at_the_counter(MARIA, PICKUP_START + timedelta(minutes=5))
    gate = pause_after(monkeypatch, Offers, "transition")

    done = await race(
        gate,
        two.first.offers.enter_code(MARIA, code),
        lambda: two.second.offers.enter_code(MARIA, code),
        two.probe,
    )

    assert [done.first, done.second] == [Code.ACCEPTED, Code.NOT_EXPECTED]
    assert await two.events(EventKind.PICKUP) == 1
    assert done.waited  # the second waited for the first's lock


async def test_a_delivery_confirmed_twice_at_once_counts_once(
    two: Instances, monkeypatch: pytest.MonkeyPatch
) -> None:
    offer_id, code = await two.at_the_counter(MARIA, PICKUP_START + timedelta(minutes=5))
    assert await two.first.offers.enter_code(MARIA, code) is Code.ACCEPTED
    gate = pause_after(monkeypatch, Offers, "transition")

    done = await race(
        gate,
        two.first.offers.deliver(offer_id, MARIA),
        lambda: two.second.offers.deliver(offer_id, MARIA),
        two.probe,
    )

    assert [done.first, done.second] == [Press.DELIVERED, Press.DONE]
    assert (await two.person(MARIA)).delivered == 1
    assert done.waited  # the second waited for the first's lock


# --- drivers ---


async def test_two_admins_deciding_one_application_at_once_make_one_decision(
    two: Instances, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with two.db.transaction() as tx:
        applicant = await tx.drivers.add(MARIA, MARIA, "Maria", NOON)
    gate = pause_after(monkeypatch, Drivers, "set_status")

    done = await race(
        gate,
        two.first.drivers.decide(applicant, ADMIN, "Ana", approve=True),
        lambda: two.second.drivers.decide(applicant, ADMIN, "Ben", approve=False),
        two.probe,
    )

    assert [done.first, done.second] == [Decision.APPROVED, Decision.ALREADY_DECIDED]
    assert (await two.person(MARIA)).status == Account.APPROVED
    assert await two.events(EventKind.APPROVED) + await two.events(EventKind.REJECTED) == 1
    assert done.waited  # the second waited for the first's lock


async def test_online_as_the_bot_sets_the_driver_offline_ends_online(
    two: Instances, monkeypatch: pytest.MonkeyPatch
) -> None:
    await two.driver(MARIA)
    offer_id = await two.offer("T1")
    expires_at = (await two.row(offer_id)).expires_at
    assert expires_at is not None
    two.clock.set(expires_at)
    gate = pause_after(monkeypatch, Drivers, "timed_out")  # her copy missed: she goes offline

    done = await race(
        gate,
        two.first.offers.expire(offer_id),
        lambda: two.second.drivers.set_online(MARIA, True),
        two.probe,
    )

    assert done.first is True and done.second[0] is Availability.ONLINE
    maria = await two.person(MARIA)
    assert maria.online and maria.timeouts_in_a_row == 0
    assert done.waited  # the second waited for the first's lock


# --- stores, broadcasts, exports ---


async def test_one_invite_opened_twice_at_once_links_one_chat(
    two: Instances, monkeypatch: pytest.MonkeyPatch
) -> None:
    invitation = await two.first.stores.invite(ADMIN, "FS-APPLE")
    assert invitation.token is not None
    token = invitation.token
    gate = pause_after(monkeypatch, Invites, "redeem")

    done = await race(
        gate,
        two.first.stores.redeem(token, CLERK, CLERK),
        lambda: two.second.stores.redeem(token, OTHER_CLERK, OTHER_CLERK),
        two.probe,
    )

    assert [done.first[0], done.second[0]] == [Link.LINKED, Link.USED]
    async with two.db.read() as tx:
        apple = await tx.stores.by_code("FS-APPLE")
        assert apple is not None
        assert await tx.stores.staff_chats(apple.id) == [CLERK]
    assert done.waited  # the second waited for the first's lock


async def test_a_broadcast_confirmed_twice_at_once_is_sent_once(
    two: Instances, monkeypatch: pytest.MonkeyPatch
) -> None:
    await two.driver(MARIA)
    await two.driver(JOSE)
    draft = await two.first.admin.draft_broadcast(ADMIN, "las-vegas", "Parking B is closed today")
    assert draft.broadcast_id is not None
    broadcast_id = draft.broadcast_id
    gate = pause_after(monkeypatch, Broadcasts, "move")

    done = await race(
        gate,
        two.first.admin.send_broadcast(broadcast_id, ADMIN),
        lambda: two.second.admin.send_broadcast(broadcast_id, ADMIN),
        two.probe,
    )

    assert [done.first, done.second] == [2, None]
    async with two.db.read() as tx:
        assert sum((await tx.outbox.counts(BROADCAST_TAG.format(id=broadcast_id))).values()) == 2
    assert done.waited  # the second waited for the first's lock


async def test_a_store_made_twice_at_once_is_one_store(
    two: Instances, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = pause_after(monkeypatch, Stores, "upsert")

    done = await race(
        gate,
        two.first.admin.add_store("fs-new", "las-vegas", "New", "Level 1", ADMIN),
        lambda: two.second.admin.add_store("FS-NEW", "las-vegas", "New store", "Level 2", ADMIN),
        two.probe,
    )

    assert done.first is not None and done.second is not None
    assert done.first.id == done.second.id
    async with two.db.read() as tx:
        assert [store.code for store in await tx.stores.all()].count("FS-NEW") == 1
    assert done.waited  # the second waited for the first's lock


async def test_an_export_request_is_taken_off_the_list_once(
    two: Instances, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with two.db.transaction() as tx:
        request_id = await tx.export_requests.add(ADMIN, RequestKind.OFFERS, 7, NOON)
    gate = pause_after(monkeypatch, ExportRequests, "remove")

    async def remove(db: Database) -> bool:
        async with db.transaction() as tx:
            return await tx.export_requests.remove(request_id)

    done = await race(gate, remove(two.first.db), lambda: remove(two.second.db), two.probe)

    assert [done.first, done.second] == [True, False]
    assert done.waited  # the second waited for the first's lock
