"""Fair offers over a database, on a clock the test moves: Accepts are collected from the first one
for the award window, and at its close the offer goes to one eligible driver by the area's order."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest_asyncio

from bot import texts
from bot.texts import Catalog
from dispatch.actors import Actor, By
from dispatch.awards import AWARD_DETAIL, NO_AWARD_EVENT, Key, Out, draw
from dispatch.clock import FakeClock
from dispatch.deadlines import Kind
from dispatch.dispatcher import Dispatch, Rules
from dispatch.offers import WINDOW_EVENT, Award, Entered, Press, Verdict
from dispatch.orders import parse_order_line
from dispatch.pilot import PILOT_FILE, read_pilot, seed
from dispatch.timers import Timers
from dispatch.why import NotYou, WhyNot
from storage.db import Database
from storage.records import Language, Notice, Offer
from tests.dispatch.test_timers import ADMIN, NOON, TIMING

WINDOW = timedelta(seconds=30)
RULES = Rules(
    wave_size=10,
    wave_interval=timedelta(seconds=60),
    acceptance_window=timedelta(seconds=600),
    timing=TIMING,
    award_window=WINDOW,
)
VEGAS_TZ = "America/Los_Angeles"
MARIA, JOSE, LENA = 2001, 2002, 2003


@dataclass
class World:
    db: Database
    clock: FakeClock
    rules: Rules
    timers: Timers
    dispatch: Dispatch

    async def restart(self, rules: Rules | None = None) -> None:
        """The bot stops and starts again (with these rules): new timers, rebuilt from the database."""
        await self.timers.stop()
        self.rules = rules or self.rules
        self.timers = Timers(self.clock, TIMING, follow_wall_clock=False)
        self.dispatch = Dispatch(
            self.db,
            self.clock,
            Catalog(self.clock),
            rules=self.rules,
            admin_ids={ADMIN},
            deadlines=self.timers,
        )
        self.timers.bind(self.dispatch)
        await self.timers.start()

    async def at(self, when: datetime) -> int:
        """Move the clock to `when` and fire what is due."""
        self.clock.set(when)
        return await self.timers.fire_due()

    async def driver(self, tg_user_id: int, *areas: str) -> int:
        """An approved, online driver of these areas (Las Vegas if none)."""
        async with self.db.transaction() as tx:
            driver_id = await tx.drivers.add(tg_user_id, tg_user_id, f"Driver {tg_user_id}", self.clock.now())
            for slug in areas or ("las-vegas",):
                area = await tx.areas.by_slug(slug)
                assert area is not None
                await tx.drivers.add_area(driver_id, area.id)
            await tx.drivers.set_status(driver_id, ["pending"], "approved")
            await tx.drivers.update(driver_id, online=True)
        return driver_id

    async def offer(
        self,
        ref: str = "T1",
        *,
        store: str = "FS-ZARA",
        window: str = "13:00-13:30",
        date: str = "2026-07-15",
    ) -> int:
        line = parse_order_line(
            f"store={store} packages=2 pay=18.50 window={window} date={date} zone=89109 ref={ref} "
            'address="3200 Las Vegas Blvd S"'
        )
        created = await self.dispatch.offers.create(line, store_code=store, by=Actor.admin(ADMIN))
        assert created.view is not None, created.problems
        return created.view.offer.id

    async def accept(self, offer_id: int, tg_user_id: int) -> Press | Entered:
        """The driver presses Accept now (it reaches the bot now)."""
        return await self.dispatch.offers.accept(offer_id, tg_user_id, self.clock.now())

    async def award_at(self, offer_id: int) -> datetime:
        award_at = (await self.offer_row(offer_id)).award_at
        assert award_at is not None, "no award window is open"
        return award_at

    async def award_when_due(self, offer_id: int) -> Award | None:
        """The award deadline comes and the award runs (as its timer would)."""
        self.clock.set(await self.award_at(offer_id))
        return await self.dispatch.offers.award(offer_id)

    async def offer_row(self, offer_id: int) -> Offer:
        async with self.db.read() as tx:
            offer = await tx.offers.by_id(offer_id)
        assert offer is not None
        return offer

    async def holder(self, offer_id: int) -> int | None:
        return (await self.offer_row(offer_id)).holder_id

    async def notice(self, offer_id: int, driver_id: int) -> Notice:
        async with self.db.read() as tx:
            notice = await tx.notices.of(offer_id, driver_id)
        assert notice is not None
        return notice

    async def events(self, offer_id: int) -> list[str]:
        async with self.db.read() as tx:
            return [event.kind for event in await tx.events.for_offer(offer_id)]

    async def awards(self, offer_id: int) -> int:
        """How many times the trail says the offer was awarded (an accept step by an award)."""
        async with self.db.read() as tx:
            trail = await tx.events.for_offer(offer_id)
        return sum(1 for event in trail if event.kind == "accept" and AWARD_DETAIL.match(event.detail))

    async def verdicts(self, presses: dict[tuple[int, int], datetime]) -> dict[tuple[int, int], Verdict]:
        """The answers Accepts (offer id, Telegram user → arrival) get as they arrive."""
        async with self.db.read() as tx:
            return await self.dispatch.offers.on_arrival(tx, presses)


@pytest_asyncio.fixture
async def world(db: Database) -> AsyncIterator[World]:
    await seed(db, read_pilot(PILOT_FILE))
    clock = FakeClock(NOON)
    timers = Timers(clock, TIMING, follow_wall_clock=False)
    dispatch = Dispatch(db, clock, Catalog(clock), rules=RULES, admin_ids={ADMIN}, deadlines=timers)
    timers.bind(dispatch)
    await timers.start()
    created = World(db, clock, RULES, timers, dispatch)
    yield created
    await created.timers.stop()


def by_draw(offer_id: int, drivers: dict[int, int]) -> list[int]:
    """Telegram ids of these drivers (Telegram id → driver id), the seeded draw's favourite first:
    the driver who would win this offer if nothing but the draw told them apart."""
    return sorted(drivers, key=lambda tg: draw(offer_id, drivers[tg]))


async def two_drivers_in_the_window(world: World) -> tuple[int, int, int, dict[int, int]]:
    """Maria and Jose both press Accept on a new offer; returns the offer and the two by the draw
    (the favourite first), and their driver ids."""
    ids = {MARIA: await world.driver(MARIA), JOSE: await world.driver(JOSE)}
    offer_id = await world.offer()
    favourite, other = by_draw(offer_id, ids)
    await world.at(NOON + timedelta(seconds=5))
    assert isinstance(await world.accept(offer_id, favourite), Entered)
    await world.at(NOON + timedelta(seconds=10))
    assert isinstance(await world.accept(offer_id, other), Entered)
    return offer_id, favourite, other, ids


# --- the window ---


async def test_the_first_accept_opens_the_window_and_later_ones_are_told_the_same_award_time(
    world: World,
) -> None:
    for tg in (MARIA, JOSE, LENA):
        await world.driver(tg)
    offer_id = await world.offer()

    await world.at(NOON + timedelta(seconds=5))
    first = await world.accept(offer_id, MARIA)
    award_at = NOON + timedelta(seconds=5) + WINDOW
    assert first == Entered(offer_id, award_at, VEGAS_TZ)
    await world.at(NOON + timedelta(seconds=20))
    assert await world.accept(offer_id, JOSE) == Entered(offer_id, award_at, VEGAS_TZ)
    assert await world.accept(offer_id, MARIA) == Entered(offer_id, award_at, VEGAS_TZ)  # pressed again

    offer = await world.offer_row(offer_id)
    assert offer.status == "open" and offer.holder_id is None and offer.award_at == award_at
    assert (await world.events(offer_id)).count(WINDOW_EVENT) == 1  # the window opens once
    pending = [(d.kind, d.when) for d in world.timers.pending if d.offer_id == offer_id]
    assert (Kind.AWARD, award_at) in pending and Kind.EXPIRE not in [kind for kind, _ in pending]


async def test_at_the_close_of_the_window_exactly_one_driver_gets_the_job(world: World) -> None:
    for tg in (MARIA, JOSE, LENA):
        await world.driver(tg)
    offer_id = await world.offer()
    for tg in (MARIA, JOSE, LENA):
        assert isinstance(await world.accept(offer_id, tg), Entered)
    award_at = await world.award_at(offer_id)

    await world.at(award_at - timedelta(seconds=1))
    assert (await world.offer_row(offer_id)).status == "open"
    await world.at(award_at)

    offer = await world.offer_row(offer_id)
    assert offer.status == "accepted" and offer.holder_id is not None and offer.award_at is None
    async with world.db.read() as tx:
        outcomes = sorted(notice.outcome for notice in await tx.notices.for_offer(offer_id))
    assert outcomes == ["accepted", "taken", "taken"]
    assert await world.awards(offer_id) == 1


async def test_the_award_goes_to_the_driver_with_fewest_offers_won_today(world: World) -> None:
    ids = {MARIA: await world.driver(MARIA), JOSE: await world.driver(JOSE)}
    earlier = await world.offer("T1")
    offer_id = await world.offer("T2")
    # The draw alone would give T2 to its favourite; that driver already won T1 today.
    favourite, other = by_draw(offer_id, ids)
    assert isinstance(await world.accept(earlier, favourite), Entered)
    await world.at(await world.award_at(earlier))
    assert await world.holder(earlier) == ids[favourite]

    await world.at(NOON + timedelta(minutes=2))
    await world.accept(offer_id, favourite)
    await world.accept(offer_id, other)
    award = await world.award_when_due(offer_id)

    assert award == Award(ids[other], entrants=2, eligible=2, deciding=Key.WON_TODAY)
    assert await world.holder(offer_id) == ids[other]
    winner, loser = await world.notice(offer_id, ids[other]), await world.notice(offer_id, ids[favourite])
    assert winner.won_at == NOON + timedelta(minutes=2) + WINDOW and loser.won_at is None
    assert json.loads(winner.award_detail or "{}") | {"draw": None} == {
        "order": "fewest-today",
        "rank": 1,
        "won_today": 0,
        "last_award": None,
        "on_time": None,
        "draw": None,
    }
    seen = json.loads(loser.award_detail or "{}")
    assert seen["rank"] == 2 and seen["won_today"] == 1 and seen["last_award"] is not None


async def test_with_nothing_else_between_them_the_seeded_draw_decides(world: World) -> None:
    offer_id, favourite, _, ids = await two_drivers_in_the_window(world)
    award = await world.award_when_due(offer_id)
    assert award == Award(ids[favourite], entrants=2, eligible=2, deciding=Key.DRAW)


async def test_the_deciding_key_is_the_one_between_the_winner_and_the_runner_up(world: World) -> None:
    ids = {tg: await world.driver(tg) for tg in (MARIA, JOSE, LENA)}
    earlier = await world.offer("T1")
    await world.accept(earlier, LENA)
    await world.at(await world.award_at(earlier))  # Lena has won one today; Maria and Jose none
    await world.at(NOON + timedelta(minutes=2))
    offer_id = await world.offer("T2")
    for tg in (MARIA, JOSE, LENA):
        await world.accept(offer_id, tg)

    award = await world.award_when_due(offer_id)

    favourite, _ = by_draw(offer_id, {MARIA: ids[MARIA], JOSE: ids[JOSE]})
    # Maria and Jose tie on fewest today: the draw decided, not Lena's win.
    assert award == Award(ids[favourite], entrants=3, eligible=3, deciding=Key.DRAW)


async def test_only_offers_won_since_local_midnight_count_as_won_today(world: World) -> None:
    maria, jose = await world.driver(MARIA), await world.driver(JOSE)
    # 10 PM in Las Vegas the evening before (already the 15th in UTC): Maria wins and delivers one.
    world.clock.set(datetime(2026, 7, 15, 5, 0, tzinfo=UTC))
    yesterday = await world.offer("Y1", window="22:30-23:00", date="2026-07-14")
    await world.accept(yesterday, MARIA)
    await world.at(await world.award_at(yesterday))
    await world.at((await world.offer_row(yesterday)).pickup_start)
    await world.dispatch.offers.start_pickup(yesterday, MARIA)
    await world.dispatch.offers.enter_code(MARIA, (await world.offer_row(yesterday)).pickup_code)
    assert await world.dispatch.offers.deliver(yesterday, MARIA) is Press.DELIVERED
    # This morning Jose wins one.
    await world.at(NOON - timedelta(hours=2))
    this_morning = await world.offer("T1")
    await world.accept(this_morning, JOSE)
    await world.at(await world.award_at(this_morning))
    assert await world.holder(this_morning) == jose

    await world.at(NOON)
    offer_id = await world.offer("T2")
    await world.accept(offer_id, JOSE)
    await world.accept(offer_id, MARIA)
    award = await world.award_when_due(offer_id)

    # Maria's win last night is not today's (0 against Jose's 1), whatever the draw says.
    assert award == Award(maria, entrants=2, eligible=2, deciding=Key.WON_TODAY)


# --- eligibility, checked again at the award ---


async def test_a_driver_who_went_offline_in_the_window_is_passed_over(world: World) -> None:
    offer_id, favourite, other, ids = await two_drivers_in_the_window(world)
    await world.dispatch.drivers.set_online(favourite, False)

    award = await world.award_when_due(offer_id)

    assert award is not None and award.winner_id == ids[other]
    assert await world.holder(offer_id) == ids[other]
    assert (await world.notice(offer_id, ids[favourite])).outcome == "withdrawn"


async def test_a_driver_suspended_in_the_window_is_passed_over(world: World) -> None:
    offer_id, favourite, other, ids = await two_drivers_in_the_window(world)
    await world.dispatch.admin.suspend(ids[favourite], ADMIN, suspend=True)

    await world.at(await world.award_at(offer_id))

    assert await world.holder(offer_id) == ids[other]
    assert (await world.notice(offer_id, ids[favourite])).outcome == "withdrawn"


async def test_a_driver_who_took_as_many_offers_as_allowed_during_the_window_is_passed_over(
    world: World,
) -> None:
    ids = {tg: await world.driver(tg, "las-vegas", "tysons") for tg in (MARIA, JOSE)}
    offer_id = await world.offer()
    favourite, other = by_draw(offer_id, ids)
    await world.accept(offer_id, favourite)
    await world.accept(offer_id, other)
    # Tysons gives its offers to the first Accept; the favourite takes two there meanwhile
    # (3:00 PM in Tysons; those wins do not count towards Las Vegas's fewest today).
    await world.dispatch.fairness.set_area("tysons", ADMIN, window_seconds=0)
    for ref in ("U1", "U2"):
        held = await world.offer(ref, store="TC-UNIQLO", window="16:00-16:30")
        assert await world.accept(held, favourite) is Press.AWARDED
    assert world.rules.max_offers_held == 2

    award = await world.award_when_due(offer_id)

    assert award == Award(ids[other], entrants=2, eligible=1, deciding=None)
    detail = json.loads((await world.notice(offer_id, ids[favourite])).award_detail or "{}")
    assert detail == {"order": "fewest-today", "out": "full"}
    why = await world.dispatch.fairness.why_not(offer_id, favourite)
    assert why == WhyNot(NotYou.OUT, out=Out.FULL, tz=VEGAS_TZ)


async def test_when_nobody_in_the_window_can_take_it_the_offer_stays_open_for_the_next_press(
    world: World,
) -> None:
    await world.driver(MARIA)
    jose = await world.driver(JOSE)
    offer_id = await world.offer()
    await world.accept(offer_id, MARIA)
    await world.dispatch.drivers.set_online(MARIA, False)

    award = await world.award_when_due(offer_id)

    assert award == Award(None, entrants=0, eligible=0)
    assert NO_AWARD_EVENT in await world.events(offer_id) and await world.awards(offer_id) == 0
    offer = await world.offer_row(offer_id)
    assert offer.status == "open" and offer.holder_id is None and offer.award_at is None
    # A later Accept opens a new window, and that one is awarded.
    assert isinstance(await world.accept(offer_id, JOSE), Entered)
    await world.at(await world.award_at(offer_id))
    assert await world.holder(offer_id) == jose


async def test_a_driver_who_declines_in_the_window_is_out(world: World) -> None:
    offer_id, favourite, other, ids = await two_drivers_in_the_window(world)
    assert await world.dispatch.offers.decline(offer_id, favourite) is Press.DECLINED

    award = await world.award_when_due(offer_id)

    assert award == Award(ids[other], entrants=1, eligible=1)
    assert (await world.notice(offer_id, ids[favourite])).outcome == "declined"
    why = await world.dispatch.fairness.why_not(offer_id, favourite)
    assert why.reason is NotYou.DECLINED


async def test_an_offer_cancelled_in_its_window_goes_to_nobody(world: World) -> None:
    offer_id, _, _, ids = await two_drivers_in_the_window(world)
    award_at = await world.award_at(offer_id)
    cancelled = await world.dispatch.offers.cancel(
        offer_id, actor=Actor.admin(ADMIN).encode(), by=By("Ada"), reason="store closed"
    )
    assert cancelled is Press.CANCELLED

    await world.at(award_at)
    assert await world.dispatch.offers.award(offer_id) is None

    offer = await world.offer_row(offer_id)
    assert offer.status == "cancelled" and offer.holder_id is None
    assert await world.awards(offer_id) == 0
    for driver_id in ids.values():
        notice = await world.notice(offer_id, driver_id)
        assert notice.outcome == "cancelled" and notice.won_at is None


# --- deadlines: restarts, twice, early ---


async def test_a_restart_during_the_window_schedules_the_award_again_and_it_fires_once(
    world: World,
) -> None:
    offer_id, _, _, ids = await two_drivers_in_the_window(world)
    award_at = await world.award_at(offer_id)

    await world.restart()
    assert (award_at, Kind.AWARD) in [
        (d.when, d.kind) for d in world.timers.pending if d.offer_id == offer_id
    ]
    await world.at(award_at)
    assert await world.holder(offer_id) in ids.values()

    await world.restart()  # and again, after the award: nothing is awarded twice
    await world.at(award_at + timedelta(seconds=30))
    assert await world.awards(offer_id) == 1


async def test_a_restart_after_the_window_closed_awards_at_once(world: World) -> None:
    offer_id, _, _, ids = await two_drivers_in_the_window(world)
    award_at = await world.award_at(offer_id)
    await world.timers.stop()  # the bot is down across the close of the window
    world.clock.set(award_at + timedelta(minutes=2))
    await world.restart()
    assert await world.holder(offer_id) in ids.values()
    assert await world.awards(offer_id) == 1


async def test_the_award_deadline_firing_twice_awards_once(world: World) -> None:
    offer_id, _, _, _ = await two_drivers_in_the_window(world)
    first = await world.award_when_due(offer_id)
    assert first is not None and first.winner_id is not None
    before = await world.offer_row(offer_id)
    async with world.db.read() as tx:
        notices_before = await tx.notices.for_offer(offer_id)

    await world.dispatch.offers.on_deadline(Kind.AWARD, offer_id)
    assert await world.dispatch.offers.award(offer_id) is None

    assert await world.offer_row(offer_id) == before
    async with world.db.read() as tx:
        assert await tx.notices.for_offer(offer_id) == notices_before
    assert await world.awards(offer_id) == 1


async def test_an_award_timer_firing_early_awards_nothing_and_waits_for_the_close(world: World) -> None:
    offer_id, _, _, _ = await two_drivers_in_the_window(world)
    award_at = await world.award_at(offer_id)
    world.clock.set(award_at - timedelta(seconds=1))

    assert await world.dispatch.offers.award(offer_id) is None

    assert (await world.offer_row(offer_id)).status == "open"
    assert Kind.AWARD in [d.kind for d in world.timers.pending if d.offer_id == offer_id]
    await world.at(award_at)
    assert (await world.offer_row(offer_id)).status == "accepted"


async def test_the_window_keeps_an_offer_from_expiring_until_the_award(world: World) -> None:
    jose = await world.driver(JOSE)
    offer_id = await world.offer()
    expires_at = (await world.offer_row(offer_id)).expires_at
    assert expires_at is not None
    await world.at(expires_at - timedelta(seconds=10))  # the first Accept, 10 s before expiry
    await world.accept(offer_id, JOSE)
    await world.at(expires_at)
    assert (await world.offer_row(offer_id)).status == "open"
    # Even an expiry timer set before the window opened, firing now, leaves the offer to the award.
    assert await world.dispatch.offers.expire(offer_id) is False
    assert (await world.offer_row(offer_id)).status == "open"
    await world.at(expires_at + timedelta(seconds=20))
    assert await world.holder(offer_id) == jose


# --- late presses ---


async def test_a_press_after_the_window_closed_is_told_so_and_cannot_win(world: World) -> None:
    ids = {MARIA: await world.driver(MARIA), JOSE: await world.driver(JOSE)}
    offer_id = await world.offer()
    favourite, other = by_draw(offer_id, ids)
    await world.accept(offer_id, other)
    award_at = await world.award_at(offer_id)

    world.clock.set(award_at + timedelta(seconds=1))  # closed, and the award has not run yet
    assert await world.accept(offer_id, favourite) is Press.WINDOW_CLOSED
    assert (await world.notice(offer_id, ids[favourite])).outcome == "sent"
    award = await world.dispatch.offers.award(offer_id)

    assert award == Award(ids[other], entrants=1, eligible=1)
    assert await world.holder(offer_id) == ids[other]


# --- no window, and an area's own ---


async def test_with_no_award_window_the_first_accept_wins_at_once(world: World) -> None:
    await world.restart(replace(RULES, award_window=timedelta(0)))
    maria = await world.driver(MARIA)
    await world.driver(JOSE)
    offer_id = await world.offer()

    assert await world.accept(offer_id, MARIA) is Press.AWARDED
    assert await world.accept(offer_id, JOSE) is Press.TAKEN

    offer = await world.offer_row(offer_id)
    assert offer.status == "accepted" and offer.holder_id == maria and offer.award_at is None
    events = await world.events(offer_id)
    assert events.count("accept") == 1 and WINDOW_EVENT not in events
    assert await world.awards(offer_id) == 0  # taken by the press itself
    assert (await world.notice(offer_id, maria)).won_at == NOON


async def test_an_area_s_own_window_overrides_a_first_accept_setting(world: World) -> None:
    await world.restart(replace(RULES, award_window=timedelta(0)))
    await world.driver(MARIA)
    await world.dispatch.fairness.set_area("las-vegas", ADMIN, window_seconds=45)
    offer_id = await world.offer()

    entered = await world.accept(offer_id, MARIA)

    assert entered == Entered(offer_id, NOON + timedelta(seconds=45), VEGAS_TZ)
    assert (await world.offer_row(offer_id)).holder_id is None


async def test_an_area_s_window_of_zero_overrides_the_setting_and_the_first_accept_wins(
    world: World,
) -> None:
    maria = await world.driver(MARIA)
    await world.dispatch.fairness.set_area("las-vegas", ADMIN, window_seconds=0)
    offer_id = await world.offer()

    assert await world.accept(offer_id, MARIA) is Press.AWARDED
    assert await world.holder(offer_id) == maria


async def test_an_area_with_no_window_of_its_own_uses_the_setting(world: World) -> None:
    await world.driver(MARIA)
    await world.dispatch.fairness.set_area("tysons", ADMIN, window_seconds=0)  # another area's
    offer_id = await world.offer()
    assert await world.accept(offer_id, MARIA) == Entered(offer_id, NOON + WINDOW, VEGAS_TZ)


# --- answers on arrival ---


async def test_on_arrival_an_accept_on_an_offer_never_sent_is_refused_for_good(world: World) -> None:
    await world.driver(MARIA)
    offer_id = await world.offer()
    await world.driver(JOSE)  # came online after the wave: no copy of it
    verdicts = await world.verdicts({(offer_id, JOSE): NOON, (offer_id, 999_999): NOON})
    assert verdicts == {
        (offer_id, JOSE): Verdict(Press.NOT_YOURS, final=True),
        (offer_id, 999_999): Verdict(Press.NOT_YOURS, final=True),
    }


async def test_on_arrival_an_accept_in_the_window_is_told_it_is_in_and_still_applied(world: World) -> None:
    for tg in (MARIA, JOSE):
        await world.driver(tg)
    offer_id = await world.offer()
    first_at = NOON + timedelta(seconds=3)

    # Nobody has pressed yet: this press will open the window.
    verdicts = await world.verdicts({(offer_id, MARIA): first_at})
    assert verdicts == {(offer_id, MARIA): Verdict(Entered(offer_id, first_at + WINDOW, VEGAS_TZ), False)}

    world.clock.set(first_at)
    await world.accept(offer_id, MARIA)
    later = {(offer_id, MARIA): NOON + timedelta(seconds=9), (offer_id, JOSE): NOON + timedelta(seconds=9)}
    assert await world.verdicts(later) == {
        # Already in: answering again changes nothing.
        (offer_id, MARIA): Verdict(Entered(offer_id, first_at + WINDOW, VEGAS_TZ), final=True),
        # In the open window: the same award time, and the press is still recorded in its turn.
        (offer_id, JOSE): Verdict(Entered(offer_id, first_at + WINDOW, VEGAS_TZ), final=False),
    }

    late = first_at + WINDOW + timedelta(seconds=1)
    assert await world.verdicts({(offer_id, JOSE): late}) == {
        (offer_id, JOSE): Verdict(Press.WINDOW_CLOSED, final=True)
    }


async def test_on_arrival_with_no_window_an_accept_that_might_win_is_left_to_its_turn(world: World) -> None:
    await world.restart(replace(RULES, award_window=timedelta(0)))
    await world.driver(MARIA)
    offer_id = await world.offer()
    assert await world.verdicts({(offer_id, MARIA): NOON}) == {}


async def test_on_arrival_an_accept_on_an_offer_already_awarded_is_refused_for_good(world: World) -> None:
    offer_id, _, _, _ = await two_drivers_in_the_window(world)
    await world.at(await world.award_at(offer_id))
    verdicts = await world.verdicts({(offer_id, MARIA): NOON, (offer_id, JOSE): NOON})
    answers = {verdict.answer for verdict in verdicts.values()}
    assert answers == {Press.ALREADY_YOURS, Press.TAKEN}
    assert all(verdict.final for verdict in verdicts.values())


async def test_on_arrival_a_driver_holding_as_many_offers_as_allowed_is_told_so_not_that_they_are_in(
    world: World,
) -> None:
    await world.driver(MARIA)
    offer_id = await world.offer("T3")  # Maria has her copy, and lets it wait
    await world.dispatch.fairness.set_area("las-vegas", ADMIN, window_seconds=0)
    for ref in ("H1", "H2"):  # meanwhile she takes two others, as many as a driver may hold
        assert await world.accept(await world.offer(ref), MARIA) is Press.AWARDED
    await world.dispatch.fairness.set_area("las-vegas", ADMIN, window_seconds=30)

    on_arrival = (await world.verdicts({(offer_id, MARIA): NOON}))[(offer_id, MARIA)]
    in_turn = await world.accept(offer_id, MARIA)

    assert in_turn is Press.FULL
    assert on_arrival == Verdict(Press.FULL, final=True)  # not "you're in", and nothing to collect


# --- why not me ---


async def test_why_not_for_a_loser_gives_the_deciding_key_with_both_values_and_names_nobody(
    world: World,
) -> None:
    ids = {MARIA: await world.driver(MARIA), JOSE: await world.driver(JOSE)}
    earlier = await world.offer("T1")
    offer_id = await world.offer("T2")
    favourite, other = by_draw(offer_id, ids)
    await world.accept(earlier, favourite)
    await world.at(await world.award_at(earlier))
    await world.at(NOON + timedelta(minutes=2))
    await world.accept(offer_id, favourite)
    await world.accept(offer_id, other)
    await world.at(await world.award_at(offer_id))
    assert await world.holder(offer_id) == ids[other]

    why = await world.dispatch.fairness.why_not(offer_id, favourite)

    assert why == WhyNot(NotYou.KEY, Key.WON_TODAY, them=0, you=1, tz=VEGAS_TZ)
    said = texts.why_not(texts.Texts(Language.EN, world.clock), why)
    assert said == "It went to a driver with fewer offers today (them: 0, you: 1)."
    assert f"Driver {other}" not in said and str(other) not in said
    assert (await world.dispatch.fairness.why_not(offer_id, other)).reason is NotYou.YOURS


async def test_why_not_after_a_draw_gives_both_draws(world: World) -> None:
    offer_id, favourite, other, ids = await two_drivers_in_the_window(world)
    await world.at(await world.award_at(offer_id))

    why = await world.dispatch.fairness.why_not(offer_id, other)

    them, you = draw(offer_id, ids[favourite]), draw(offer_id, ids[other])
    assert why == WhyNot(NotYou.KEY, Key.DRAW, them=them, you=you, tz=VEGAS_TZ)
    assert them < you


# --- found wanting (see the reasons) ---


async def test_why_not_for_a_press_after_the_window_closed_says_it_came_late(world: World) -> None:
    ids = {MARIA: await world.driver(MARIA), JOSE: await world.driver(JOSE)}
    offer_id = await world.offer()
    await world.accept(offer_id, MARIA)
    world.clock.set(await world.award_at(offer_id) + timedelta(seconds=1))
    assert await world.accept(offer_id, JOSE) is Press.WINDOW_CLOSED
    await world.dispatch.offers.award(offer_id)
    assert await world.holder(offer_id) == ids[MARIA]

    why = await world.dispatch.fairness.why_not(offer_id, JOSE)

    assert why == WhyNot(NotYou.OUT, out=Out.LATE, tz=VEGAS_TZ)


async def test_why_not_for_a_driver_who_went_offline_in_the_window_says_they_were_offline(
    world: World,
) -> None:
    offer_id, favourite, other, ids = await two_drivers_in_the_window(world)
    await world.dispatch.drivers.set_online(favourite, False)
    await world.at(await world.award_at(offer_id))
    assert await world.holder(offer_id) == ids[other]

    why = await world.dispatch.fairness.why_not(offer_id, favourite)

    assert why == WhyNot(NotYou.OUT, out=Out.OFFLINE, tz=VEGAS_TZ)


async def test_why_not_after_a_release_and_a_second_award_speaks_of_the_second_window(
    world: World,
) -> None:
    ids = {tg: await world.driver(tg) for tg in (MARIA, JOSE, LENA)}
    offer_id = await world.offer()
    await world.accept(offer_id, MARIA)
    await world.accept(offer_id, JOSE)
    first = await world.award_when_due(offer_id)
    assert first is not None
    holder, loser = (MARIA, JOSE) if first.winner_id == ids[MARIA] else (JOSE, MARIA)
    world.clock.advance(60)
    assert await world.dispatch.offers.release(offer_id, holder) is Press.RELEASED
    assert (await world.notice(offer_id, ids[loser])).outcome == "sent"  # offered to them again
    # This time only Lena presses; the driver who lost the first window lets it be.
    await world.accept(offer_id, LENA)
    await world.at(await world.award_at(offer_id))
    assert await world.holder(offer_id) == ids[LENA]

    why = await world.dispatch.fairness.why_not(offer_id, loser)

    assert why == WhyNot(NotYou.NO_PRESS, tz=VEGAS_TZ)


# --- bot-speed taps are counted, not punished ---

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
