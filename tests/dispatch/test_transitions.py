"""The lifecycle table is in charge: every status change the code makes is a step the table holds
(recorded while offers go through every journey), all of them go through `lifecycle.step`, and
editing the table changes what the code does."""

from __future__ import annotations

import ast
from collections.abc import AsyncIterator, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Unpack

import pytest
import pytest_asyncio

from bot.texts import Catalog
from dispatch import lifecycle
from dispatch.actors import Actor, By
from dispatch.clock import FakeClock
from dispatch.deadlines import Timing
from dispatch.dispatcher import Dispatch, Rules
from dispatch.lifecycle import TRANSITIONS, Action, IllegalTransition, Route, Status, route
from dispatch.offers import Code, Entered, Press
from dispatch.orders import parse_order_line
from dispatch.pilot import PILOT_FILE, read_pilot, seed
from dispatch.timers import Timers
from dispatch.views import FailReason
from storage.db import Database
from storage.records import Offer, OfferStatus
from storage.repos import OfferChanges, Offers

ADMIN = 1000
# 12:00 PDT in Las Vegas; the offers' pickup window is 13:00-13:30 PDT (20:00-20:30 UTC).
NOON = datetime(2026, 7, 15, 19, 0, tzinfo=UTC)
PICKUP_END = datetime(2026, 7, 15, 20, 30, tzinfo=UTC)
TIMING = Timing(
    pickup_reminder_lead=timedelta(minutes=15),
    no_show_grace=timedelta(minutes=10),
    delivery_reminder_lead=timedelta(minutes=10),
)
RULES = Rules(
    wave_size=10,
    wave_interval=timedelta(seconds=60),
    acceptance_window=timedelta(seconds=600),
    auto_offline_after=100,  # copies left to time out never set the drivers here offline
    timing=TIMING,
    award_window=timedelta(0),  # the first Accept wins (the award window has tests of its own)
)
AWARD_WINDOW = timedelta(seconds=30)
MARIA, JOSE, LENA, OMAR = 2001, 2002, 2003, 2004
ADMIN_ACTOR = Actor.admin(ADMIN).encode()
# Offers are stored open when they are made (an insert, not a step): nothing is ever a draft.
NEVER_MADE = {(Status.DRAFT, Action.OPEN), (Status.DRAFT, Action.CANCEL)}
PRODUCTION = ("bot", "dispatch", "storage", "sandbox", "bench")
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class World:
    db: Database
    clock: FakeClock
    timers: Timers
    dispatch: Dispatch
    windowed: Dispatch  # the same bot with an award window (no timers: its award is run by hand)

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

    async def offer(self, ref: str, *, desk: Dispatch | None = None) -> int:
        line = parse_order_line(
            f"store=FS-ZARA packages=2 pay=18.50 window=13:00-13:30 date=2026-07-15 zone=89109 ref={ref} "
            'address="3200 Las Vegas Blvd S"'
        )
        created = await (desk or self.dispatch).offers.create(
            line, store_code="FS-ZARA", by=Actor.admin(ADMIN)
        )
        assert created.view is not None, created.problems
        return created.view.offer.id

    async def row(self, offer_id: int) -> Offer:
        async with self.db.read() as tx:
            offer = await tx.offers.by_id(offer_id)
        assert offer is not None
        return offer

    async def status(self, offer_id: int) -> str:
        return (await self.row(offer_id)).status

    async def accepted(self, offer_id: int, tg_user_id: int) -> None:
        assert await self.dispatch.offers.accept(offer_id, tg_user_id, self.clock.now()) is Press.AWARDED

    async def picked_up(self, offer_id: int, tg_user_id: int) -> None:
        assert await self.dispatch.offers.start_pickup(offer_id, tg_user_id) is Press.TYPE_CODE
        code = (await self.row(offer_id)).pickup_code
        assert await self.dispatch.offers.enter_code(tg_user_id, code) is Code.ACCEPTED

    async def cancel(self, offer_id: int) -> Press:
        return await self.dispatch.offers.cancel(offer_id, actor=ADMIN_ACTOR, by=By("Ada"), reason="test")


@pytest_asyncio.fixture
async def world(db: Database) -> AsyncIterator[World]:
    await seed(db, read_pilot(PILOT_FILE))
    clock = FakeClock(NOON)
    timers = Timers(clock, TIMING, follow_wall_clock=False)
    dispatch = Dispatch(db, clock, Catalog(clock), rules=RULES, admin_ids={ADMIN}, deadlines=timers)
    timers.bind(dispatch)
    windowed = Dispatch(
        db,
        clock,
        Catalog(clock),
        rules=replace(RULES, award_window=AWARD_WINDOW),
        admin_ids={ADMIN},
    )
    await timers.start()
    yield World(db, clock, timers, dispatch, windowed)
    await timers.stop()


# --- recording every status write ---


@dataclass(frozen=True, slots=True)
class Made:
    """One conditional status write: the action it was taken for (None: not through `step`), the
    status the offer was really in just before, the status written, and whether it moved."""

    offer_id: int
    action: Action | None
    before: str
    to: str
    moved: bool


_routed: ContextVar[Route | None] = ContextVar("_routed", default=None)


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Made]]:
    """Every status write of the test, as storage sees it, with the action `step` took it for."""
    writes: list[Made] = []
    real_route, real_transition = lifecycle.route, Offers.transition

    def routing(
        action: Action, *, into: Status | None = None, only_from: Status | None = None
    ) -> Route | None:
        way = real_route(action, into=into, only_from=only_from)
        _routed.set(way)
        return way

    async def transition(
        self: Offers,
        offer_id: int,
        from_status: OfferStatus | Sequence[OfferStatus],
        to_status: OfferStatus,
        *,
        held_by: int | None = None,
        **values: Unpack[OfferChanges],
    ) -> bool:
        before = await self.by_id(offer_id)
        way = _routed.get()
        _routed.set(None)
        moved = await real_transition(self, offer_id, from_status, to_status, held_by=held_by, **values)
        assert before is not None
        writes.append(Made(offer_id, way.action if way else None, before.status, to_status, moved))
        return moved

    monkeypatch.setattr(lifecycle, "route", routing)
    monkeypatch.setattr(Offers, "transition", transition)
    yield writes


async def every_journey(world: World) -> None:
    """Offers through every way they can go: delivered, returned, released, cancelled in each
    status that allows it, expired and offered again, awarded, given back too late, no-shows."""
    for tg in (MARIA, JOSE, LENA, OMAR):
        await world.driver(tg)
    o = world.dispatch.offers

    delivered = await world.offer("T1")
    await world.accepted(delivered, MARIA)
    await world.picked_up(delivered, MARIA)
    assert await o.deliver(delivered, MARIA) is Press.DELIVERED
    assert await o.deliver(delivered, MARIA) is Press.DONE  # pressed twice: nothing moves

    returned = await world.offer("T2")
    await world.accepted(returned, MARIA)
    await world.picked_up(returned, MARIA)
    assert await o.fail(returned, MARIA, FailReason.ABSENT) is Press.RETURNING
    assert await o.release(returned, MARIA) is Press.DONE  # too late to give it back

    released = await world.offer("T3")
    await world.accepted(released, JOSE)
    assert await o.release(released, JOSE) is Press.RELEASED
    assert await world.status(released) == Status.OPEN
    assert await world.cancel(released) is Press.CANCELLED
    assert await world.cancel(released) is Press.DONE

    held = await world.offer("T4")
    await world.accepted(held, JOSE)
    assert await world.cancel(held) is Press.CANCELLED

    unanswered = await world.offer("T5")
    no_show = await world.offer("T6")
    await world.accepted(no_show, LENA)

    awarded = await world.offer("T7", desk=world.windowed)
    assert isinstance(await world.windowed.offers.accept(awarded, OMAR, NOON), Entered)
    world.clock.set(NOON + AWARD_WINDOW)
    award = await world.windowed.offers.award(awarded)
    assert award is not None and award.winner_id is not None

    await world.at(NOON + timedelta(minutes=10))  # T5's acceptance window ends
    assert await world.status(unanswered) == Status.EXPIRED
    assert await o.reopen(unanswered, ADMIN) is Press.REOPENED
    await world.at(NOON + timedelta(minutes=20))
    assert await world.status(unanswered) == Status.EXPIRED
    assert await world.cancel(unanswered) is Press.CANCELLED

    await world.at(PICKUP_END - timedelta(minutes=10))  # too little time left for another driver
    assert await o.release(awarded, OMAR) is Press.RELEASED_TOO_LATE
    assert await world.status(awarded) == Status.EXPIRED
    two_pm = datetime(2026, 7, 15, 21, 0, tzinfo=UTC)
    moved = await o.new_window(awarded, f"{two_pm:%Y%m%d%H%M}", user_id=ADMIN, chat_id=ADMIN, name="Ada")
    assert moved is Press.REOPENED and await world.status(awarded) == Status.OPEN

    await world.at(PICKUP_END + TIMING.no_show_grace)
    assert await world.status(no_show) == Status.EXPIRED
    assert (await world.row(no_show)).holder_id is None


async def test_every_transition_the_code_makes_is_in_the_table(world: World, made: list[Made]) -> None:
    await every_journey(world)

    assert made, "no status was written"
    assert [m for m in made if m.action is None] == [], "status writes that did not go through step"
    moves = [m for m in made if m.moved]
    strays = [m for m in moves if m.action is None or TRANSITIONS.get((Status(m.before), m.action)) != m.to]
    assert strays == [], "transitions the table does not hold"
    # And the journeys took every step the table holds but the draft ones (nothing is a draft).
    taken = {(Status(m.before), m.action) for m in moves}
    assert taken == set(TRANSITIONS) - NEVER_MADE


# --- one function writes statuses ---


def _calls(path: Path) -> Iterator[tuple[str, ast.Call]]:
    """Every call in the module, with the name of the function it is in (dotted for methods)."""

    def walk(node: ast.AST, where: str) -> Iterator[tuple[str, ast.Call]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                yield from walk(child, f"{where}.{child.name}" if where else child.name)
                continue
            if isinstance(child, ast.Call):
                yield where, child
            yield from walk(child, where)

    yield from walk(ast.parse(path.read_text(encoding="utf-8"), str(path)), "")


def test_only_step_writes_an_offers_status() -> None:
    transitions, status_updates = [], []
    for package in PRODUCTION:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = path.relative_to(ROOT).as_posix()
            for where, call in _calls(path):
                if not isinstance(call.func, ast.Attribute):
                    continue
                if call.func.attr == "transition":
                    transitions.append((module, where))
                owner = call.func.value
                offers = (isinstance(owner, ast.Attribute) and owner.attr == "offers") or (
                    isinstance(owner, ast.Name) and owner.id == "offers"
                )
                if offers and call.func.attr == "update" and any(k.arg == "status" for k in call.keywords):
                    status_updates.append((module, where))
    assert transitions == [("dispatch/lifecycle.py", "step")]
    assert status_updates == []


# --- the table decides ---


async def test_taking_a_step_out_of_the_table_refuses_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await world.driver(MARIA)
    offer_id = await world.offer("T1")

    edited = {step: to for step, to in TRANSITIONS.items() if step != (Status.OPEN, Action.CANCEL)}
    monkeypatch.setattr(lifecycle, "TRANSITIONS", edited)
    assert await world.cancel(offer_id) is Press.NOT_OPEN
    assert await world.status(offer_id) == Status.OPEN

    monkeypatch.undo()  # the table as designed again
    assert await world.cancel(offer_id) is Press.CANCELLED
    assert await world.status(offer_id) == Status.CANCELLED


async def test_adding_a_step_to_the_table_allows_it(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    await world.driver(MARIA)
    offer_id = await world.offer("T1")
    await world.accepted(offer_id, MARIA)
    await world.picked_up(offer_id, MARIA)
    assert await world.cancel(offer_id) is Press.NOT_OPEN  # a picked-up order is not cancelled

    edited = {**TRANSITIONS, (Status.PICKED_UP, Action.CANCEL): Status.CANCELLED}
    monkeypatch.setattr(lifecycle, "TRANSITIONS", edited)
    assert await world.cancel(offer_id) is Press.CANCELLED
    assert await world.status(offer_id) == Status.CANCELLED


def test_a_route_is_every_source_of_the_action_to_its_one_status() -> None:
    assert route(Action.CANCEL) == Route(
        Action.CANCEL, (Status.DRAFT, Status.OPEN, Status.ACCEPTED, Status.EXPIRED), Status.CANCELLED
    )
    assert route(Action.EXPIRE) == Route(Action.EXPIRE, (Status.OPEN, Status.ACCEPTED), Status.EXPIRED)
    assert route(Action.EXPIRE, only_from=Status.OPEN) == Route(Action.EXPIRE, (Status.OPEN,), Status.EXPIRED)
    # Given back with no time left is an expiry, not a release: a release only ever reopens.
    assert route(Action.RELEASE, into=Status.EXPIRED) is None
    assert route(Action.PICKUP, only_from=Status.OPEN) is None


def test_an_action_leading_to_two_statuses_must_name_the_one_meant(monkeypatch: pytest.MonkeyPatch) -> None:
    edited = {**TRANSITIONS, (Status.PICKED_UP, Action.RELEASE): Status.ACCEPTED}
    monkeypatch.setattr(lifecycle, "TRANSITIONS", edited)
    with pytest.raises(IllegalTransition):
        route(Action.RELEASE)
    assert route(Action.RELEASE, into=Status.OPEN) == Route(Action.RELEASE, (Status.ACCEPTED,), Status.OPEN)
    assert route(Action.RELEASE, into=Status.ACCEPTED) == Route(
        Action.RELEASE, (Status.PICKED_UP,), Status.ACCEPTED
    )
