"""The offer desk as domain calls over a database, on a clock the test moves: accept, decline,
release, pickup, delivery, expiry and the no-show, each checked in the database (the offer, the
copies, the trail, the drivers' counters) and in the outbox (what each chat is sent or edited)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta

import pytest_asyncio

from bot.texts import Catalog
from dispatch.actors import DISPATCH, Actor, By
from dispatch.clock import FakeClock
from dispatch.deadlines import Deadline, Kind
from dispatch.dispatcher import Dispatch, Rules
from dispatch.offers import EXPIRY_CARD, NO_TIME_LEFT, WINDOW_ASK, Code, OfferDesk, Press
from dispatch.orders import parse_order_line
from dispatch.outbox import Lane
from dispatch.pilot import PILOT_FILE, read_pilot, seed
from dispatch.timers import Timers
from dispatch.views import FailReason
from storage.db import Database
from storage.records import Delivery, Driver, Event, Notice, Offer, OutboxMessage
from tests.dispatch.test_timers import ADMIN, NOON, PICKUP_END, PICKUP_START, TIMING

# Rules.award_window is left at its default, zero: the first Accept wins at once.
RULES = Rules(
    wave_size=2,
    wave_interval=timedelta(seconds=60),
    acceptance_window=timedelta(seconds=600),
    max_offers_held=2,
    pickup_code_tries=3,
    auto_offline_after=3,
    timing=TIMING,
    award_window=timedelta(0),  # the first Accept wins (the award window has tests of its own)
)
MARIA, JOSE, LENA = 2001, 2002, 2003  # drivers' Telegram ids (and chats)
CLERK = 7001  # the staff chat of FS-ZARA
EXPIRES = NOON + RULES.acceptance_window  # 12:10 PM PDT, well before the 1:00–1:30 PM window


@dataclass(frozen=True, slots=True)
class Queued:
    """One outbox row, read back: who gets it, how, and what it says."""

    id: int
    chat_id: int
    kind: Delivery
    text: str
    target_id: int | None
    lane: int
    notice_id: int | None
    buttons: tuple[str, ...]


def _queued(message: OutboxMessage) -> Queued:
    params = json.loads(message.payload)
    markup = params.get("reply_markup") or {}
    buttons = tuple(button["text"] for row in markup.get("inline_keyboard", []) for button in row)
    return Queued(
        message.id,
        message.chat_id,
        message.kind,
        params.get("text", ""),
        message.target_id,
        message.lane,
        message.notice_id,
        buttons,
    )


@dataclass
class Desk:
    db: Database
    clock: FakeClock
    rules: Rules
    timers: Timers
    dispatch: Dispatch
    driver_ids: dict[int, int]

    @property
    def offers(self) -> OfferDesk:
        return self.dispatch.offers

    async def use(self, rules: Rules) -> None:
        """The bot runs again with other rules (new timers, rebuilt from the database)."""
        await self.timers.stop()
        self.rules = rules
        self.timers = Timers(self.clock, TIMING, follow_wall_clock=False)
        self.dispatch = Dispatch(
            self.db,
            self.clock,
            Catalog(self.clock),
            rules=rules,
            admin_ids={ADMIN},
            deadlines=self.timers,
        )
        self.timers.bind(self.dispatch)
        await self.timers.start()

    async def driver(self, tg_user_id: int) -> int:
        """An approved, online driver of Las Vegas."""
        async with self.db.transaction() as tx:
            area = await tx.areas.by_slug("las-vegas")
            assert area is not None
            driver_id = await tx.drivers.add(tg_user_id, tg_user_id, f"Driver {tg_user_id}", self.clock.now())
            await tx.drivers.add_area(driver_id, area.id)
            assert await tx.drivers.set_status(driver_id, ["pending"], "approved")
            await tx.drivers.update(driver_id, online=True)
        self.driver_ids[tg_user_id] = driver_id
        return driver_id

    async def offer(self, ref: str = "T1") -> int:
        """A new offer of FS-ZARA, picked up 1:00–1:30 PM PDT today; its first wave goes out."""
        line = parse_order_line(
            f"store=FS-ZARA packages=2 pay=18.50 window=13:00-13:30 date=2026-07-15 zone=89109 ref={ref} "
            'address="3200 Las Vegas Blvd S"'
        )
        created = await self.offers.create(line, store_code="FS-ZARA", by=Actor.admin(ADMIN))
        assert created.view is not None, created.problems
        return created.view.offer.id

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

    async def notice(self, offer_id: int, tg_user_id: int) -> Notice:
        async with self.db.read() as tx:
            notice = await tx.notices.of(offer_id, self.driver_ids[tg_user_id])
        assert notice is not None
        return notice

    async def outcomes(self, offer_id: int) -> dict[int, str]:
        """Each driver's copy of the offer (by Telegram id) and how it ended so far."""
        by_driver = {driver_id: tg for tg, driver_id in self.driver_ids.items()}
        async with self.db.read() as tx:
            return {by_driver[n.driver_id]: n.outcome for n in await tx.notices.for_offer(offer_id)}

    async def copy_row(self, offer_id: int, tg_user_id: int) -> int:
        """The outbox row that sends this driver's copy of the offer (what its edits name)."""
        notice = await self.notice(offer_id, tg_user_id)
        async with self.db.read() as tx:
            row = await tx.notices.outbox_row(notice.id)
        assert row is not None
        return row

    async def trail(self, offer_id: int) -> list[Event]:
        async with self.db.read() as tx:
            return await tx.events.for_offer(offer_id)

    async def kinds(self, offer_id: int) -> list[str]:
        return [event.kind for event in await self.trail(offer_id)]

    async def queued(self, after: int = 0) -> list[Queued]:
        """Every outbox row queued after row `after` (nothing is sent in these tests)."""
        async with self.db.read() as tx:
            return [_queued(message) for message in await tx.outbox.pending(after_id=after, limit=500)]

    async def mark(self) -> int:
        """The last outbox row so far: what is queued after it is what came next."""
        rows = await self.queued()
        return rows[-1].id if rows else 0

    async def code(self, offer_id: int) -> str:
        return (await self.row(offer_id)).pickup_code

    async def cards(self, kind: str, offer_id: int) -> list[int]:
        async with self.db.read() as tx:
            return [card.chat_id for card in await tx.cards.of(kind, offer_id)]

    def deadlines(self, offer_id: int) -> list[Deadline]:
        return [deadline for deadline in self.timers.pending if deadline.offer_id == offer_id]


@pytest_asyncio.fixture
async def desk(db: Database) -> AsyncIterator[Desk]:
    await seed(db, read_pilot(PILOT_FILE))
    clock = FakeClock(NOON)
    async with db.transaction() as tx:
        zara = await tx.stores.by_code("FS-ZARA")
        assert zara is not None
        await tx.stores.link_staff(zara.id, CLERK, CLERK, NOON)
    timers = Timers(clock, TIMING, follow_wall_clock=False)
    dispatch = Dispatch(db, clock, Catalog(clock), rules=RULES, admin_ids={ADMIN}, deadlines=timers)
    timers.bind(dispatch)
    await timers.start()
    created = Desk(db, clock, RULES, timers, dispatch, {})
    yield created
    await created.timers.stop()


def wrong(code: str) -> str:
    """A well-formed code that is not this one."""
    return "1111" if code != "1111" else "2222"


async def held_offer(desk: Desk, *others: int) -> int:
    """Maria (and these other drivers) online; a new offer, which Maria takes at noon."""
    await desk.driver(MARIA)
    for tg in others:
        await desk.driver(tg)
    offer_id = await desk.offer()
    assert await desk.offers.accept(offer_id, MARIA) is Press.AWARDED
    return offer_id


async def picked_up_offer(desk: Desk, *others: int) -> int:
    """Maria holds the offer and picked it up with the right code at 1:05 PM PDT."""
    offer_id = await held_offer(desk, *others)
    desk.clock.set(PICKUP_START + timedelta(minutes=5))
    assert await desk.offers.start_pickup(offer_id, MARIA) is Press.TYPE_CODE
    assert await desk.offers.enter_code(MARIA, await desk.code(offer_id)) is Code.ACCEPTED
    return offer_id


# --- accept ---


async def test_the_first_accept_wins_at_once_and_every_other_copy_is_edited_taken(desk: Desk) -> None:
    maria, _ = await desk.driver(MARIA), await desk.driver(JOSE)
    offer_id = await desk.offer()
    assert await desk.outcomes(offer_id) == {MARIA: "sent", JOSE: "sent"}
    maria_copy, jose_copy = await desk.copy_row(offer_id, MARIA), await desk.copy_row(offer_id, JOSE)
    mark = await desk.mark()

    desk.clock.set(NOON + timedelta(seconds=20))
    assert RULES.award_window == timedelta(0)
    assert await desk.offers.accept(offer_id, MARIA) is Press.AWARDED

    offer = await desk.row(offer_id)
    assert (offer.status, offer.holder_id) == ("accepted", maria)
    assert offer.accepted_at == NOON + timedelta(seconds=20)
    assert offer.next_wave_at is None and offer.award_at is None
    assert await desk.outcomes(offer_id) == {MARIA: "accepted", JOSE: "taken"}
    assert (await desk.notice(offer_id, MARIA)).pressed_at == NOON + timedelta(seconds=20)
    assert (await desk.person(MARIA)).accepted == 1 and (await desk.person(JOSE)).accepted == 0
    accept = [event for event in await desk.trail(offer_id) if event.kind == "accept"]
    assert [event.actor for event in accept] == [Actor.driver(maria).encode()]
    assert "window" not in await desk.kinds(offer_id)  # no award window: nothing is collected

    queued = await desk.queued(mark)
    assert [(q.chat_id, q.kind, q.target_id, q.lane) for q in queued] == [
        (MARIA, Delivery.EDIT, maria_copy, Lane.INTERACTIVE),  # her copy becomes the job card
        (JOSE, Delivery.EDIT, jose_copy, Lane.BULK),
        (CLERK, Delivery.MESSAGE, None, Lane.INTERACTIVE),
    ]
    job, taken, store = queued
    assert job.text.startswith(f"✅ It's yours: #{offer_id} · Zara · $18.50")
    assert job.buttons == ("Confirm pickup", "Release")
    assert taken.text == f"Offer #{offer_id} · Zara · $18.50: taken by another driver." and not taken.buttons
    assert store.text.startswith("🚗 Order T1: Driver accepted it")
    assert f"Pickup code: {offer.pickup_code}" in store.text
    # No more waves and no expiry: the holder's deadlines instead.
    assert [deadline.kind for deadline in desk.deadlines(offer_id)] == [
        Kind.PICKUP_REMINDER,
        Kind.LATE,
        Kind.NO_SHOW,
    ]


async def test_a_second_accept_is_told_taken_and_the_winner_pressing_again_already_yours(desk: Desk) -> None:
    offer_id = await held_offer(desk, JOSE)
    mark = await desk.mark()
    desk.clock.set(NOON + timedelta(seconds=3))

    assert await desk.offers.accept(offer_id, JOSE) is Press.TAKEN
    assert await desk.offers.accept(offer_id, MARIA) is Press.ALREADY_YOURS

    offer = await desk.row(offer_id)
    assert (offer.status, offer.holder_id) == ("accepted", desk.driver_ids[MARIA])
    assert offer.accepted_at == NOON  # the first press stands
    assert await desk.outcomes(offer_id) == {MARIA: "accepted", JOSE: "taken"}
    assert (await desk.notice(offer_id, JOSE)).pressed_at == NOON + timedelta(seconds=3)
    assert (await desk.person(MARIA)).accepted == 1 and (await desk.person(JOSE)).accepted == 0
    assert (await desk.kinds(offer_id)).count("accept") == 1
    assert await desk.queued(mark) == []  # the answers are the press's own; nothing is queued


async def test_a_driver_who_declined_or_never_got_a_copy_cannot_take_the_offer(desk: Desk) -> None:
    for tg in (MARIA, JOSE, LENA):
        await desk.driver(tg)
    offer_id = await desk.offer()
    assert await desk.outcomes(offer_id) == {MARIA: "sent", JOSE: "sent"}  # a wave of two

    assert await desk.offers.decline(offer_id, MARIA) is Press.DECLINED
    mark = await desk.mark()
    assert await desk.offers.accept(offer_id, MARIA) is Press.DECLINED_BEFORE
    assert await desk.offers.accept(offer_id, LENA) is Press.NOT_YOURS  # not sent to her (yet)
    assert await desk.offers.accept(offer_id, 9999) is Press.NOT_YOURS  # nobody we know

    offer = await desk.row(offer_id)
    assert (offer.status, offer.holder_id) == ("open", None)
    assert await desk.outcomes(offer_id) == {MARIA: "declined", JOSE: "sent"}
    assert (await desk.person(MARIA)).accepted == 0 and (await desk.person(LENA)).accepted == 0
    assert "accept" not in await desk.kinds(offer_id)
    assert await desk.queued(mark) == []
    assert await desk.offers.accept(offer_id, JOSE) is Press.AWARDED  # the offer was still to take


async def test_a_suspended_driver_cannot_take_an_offer_sent_before(desk: Desk) -> None:
    jose = await desk.driver(JOSE)
    offer_id = await desk.offer()
    assert (await desk.notice(offer_id, JOSE)).outcome == "sent"
    jose_copy = await desk.copy_row(offer_id, JOSE)
    mark = await desk.mark()

    await desk.dispatch.admin.suspend(jose, ADMIN, suspend=True)
    # The copy is withdrawn (and its buttons go), and a press on it anyway is refused.
    withdrawn = [q for q in await desk.queued(mark) if q.target_id == jose_copy]
    assert [q.text for q in withdrawn] == [
        f"Offer #{offer_id} · Zara · $18.50: withdrawn while you're offline."
    ]
    assert await desk.offers.accept(offer_id, JOSE) is Press.NOT_APPROVED

    offer = await desk.row(offer_id)
    assert (offer.status, offer.holder_id) == ("open", None)
    assert (await desk.notice(offer_id, JOSE)).outcome == "withdrawn"
    assert (await desk.person(JOSE)).accepted == 0
    assert "accept" not in await desk.kinds(offer_id)


async def test_a_driver_holding_the_most_offers_is_told_full_and_the_offer_stays_open(desk: Desk) -> None:
    await desk.driver(MARIA)
    first, second, third = [await desk.offer(ref) for ref in ("T1", "T2", "T3")]
    for offer_id in (first, second, third):
        assert (await desk.notice(offer_id, MARIA)).outcome == "sent"
    assert await desk.offers.accept(first, MARIA) is Press.AWARDED
    assert await desk.offers.accept(second, MARIA) is Press.AWARDED
    mark = await desk.mark()

    assert await desk.offers.accept(third, MARIA) is Press.FULL

    offer = await desk.row(third)
    assert (offer.status, offer.holder_id) == ("open", None)
    copy = await desk.notice(third, MARIA)
    assert copy.outcome == "sent" and copy.pressed_at == NOON  # still hers to take once one is done
    assert (await desk.person(MARIA)).accepted == RULES.max_offers_held
    assert await desk.queued(mark) == []
    # Delivered one: there is room again, and the copy she kept wins.
    desk.clock.set(NOON + timedelta(minutes=5))
    assert await desk.offers.start_pickup(first, MARIA) is Press.TYPE_CODE
    assert await desk.offers.enter_code(MARIA, await desk.code(first)) is Code.ACCEPTED
    assert await desk.offers.deliver(first, MARIA) is Press.DELIVERED
    assert await desk.offers.accept(third, MARIA) is Press.AWARDED


# --- decline ---


async def test_a_declined_offer_is_counted_and_never_sent_to_that_driver_again(desk: Desk) -> None:
    for tg in (MARIA, JOSE, LENA):
        await desk.driver(tg)
    offer_id = await desk.offer()
    maria_copy = await desk.copy_row(offer_id, MARIA)
    mark = await desk.mark()
    desk.clock.set(NOON + timedelta(seconds=7))

    assert await desk.offers.decline(offer_id, MARIA) is Press.DECLINED

    copy = await desk.notice(offer_id, MARIA)
    assert copy.outcome == "declined" and copy.pressed_at == NOON + timedelta(seconds=7)
    maria = await desk.person(MARIA)
    assert (maria.declined, maria.timeouts_in_a_row, maria.accepted) == (1, 0, 0)
    decline = [event for event in await desk.trail(offer_id) if event.kind == "decline"]
    assert [event.actor for event in decline] == [Actor.driver(maria.id).encode()]
    queued = await desk.queued(mark)
    assert [(q.chat_id, q.kind, q.target_id, q.text) for q in queued] == [
        (MARIA, Delivery.EDIT, maria_copy, f"Offer #{offer_id} · Zara · $18.50: declined.")
    ]
    assert (await desk.row(offer_id)).status == "open"

    # Pressed again: the same answer, counted once.
    assert await desk.offers.decline(offer_id, MARIA) is Press.DECLINED
    assert (await desk.person(MARIA)).declined == 1
    assert (await desk.kinds(offer_id)).count("decline") == 1

    # The next wave goes to Lena only (Jose still has his copy), and then to nobody.
    mark = await desk.mark()
    desk.clock.set(NOON + RULES.wave_interval)
    assert await desk.offers.send_wave(offer_id) == 1
    assert (await desk.notice(offer_id, LENA)).wave == 2
    desk.clock.set(NOON + 2 * RULES.wave_interval)
    assert await desk.offers.send_wave(offer_id) == 0
    sent = [q for q in await desk.queued(mark) if q.kind == Delivery.MESSAGE]
    assert [q.chat_id for q in sent] == [LENA]
    assert await desk.outcomes(offer_id) == {MARIA: "declined", JOSE: "sent", LENA: "sent"}
    assert (await desk.person(MARIA)).offered == 1


# --- release ---


async def test_a_release_before_pickup_offers_it_again_with_a_fresh_expiry_but_not_to_the_releaser(
    desk: Desk,
) -> None:
    offer_id = await held_offer(desk, JOSE)
    maria_copy = await desk.copy_row(offer_id, MARIA)
    mark = await desk.mark()
    released_at = NOON + timedelta(minutes=5)
    desk.clock.set(released_at)

    assert await desk.offers.release(offer_id, MARIA) is Press.RELEASED

    offer = await desk.row(offer_id)
    assert (offer.status, offer.holder_id, offer.accepted_at) == ("open", None, None)
    assert offer.expires_at == released_at + RULES.acceptance_window  # not the first 12:10
    assert offer.wave == 2 and offer.next_wave_at == released_at + RULES.wave_interval
    assert await desk.outcomes(offer_id) == {MARIA: "released", JOSE: "sent"}
    jose_copy = await desk.notice(offer_id, JOSE)
    assert (jose_copy.wave, jose_copy.created_at) == (2, released_at)  # his copy sent afresh
    assert (await desk.person(MARIA)).released == 1
    kinds = await desk.kinds(offer_id)
    assert kinds[kinds.index("release") :] == ["release", "wave"]

    queued = await desk.queued(mark)
    assert [(q.chat_id, q.kind) for q in queued] == [
        (MARIA, Delivery.EDIT),
        (CLERK, Delivery.MESSAGE),
        (JOSE, Delivery.MESSAGE),
    ]
    job, store, copy = queued
    assert job.target_id == maria_copy and not job.buttons
    assert job.text == f"Offer #{offer_id} · Zara · $18.50: you released it. It's offered to other drivers."
    assert (
        store.text
        == f"↩️ Order T1: the driver released it. It's offered to other drivers again (#{offer_id})."
    )
    assert copy.notice_id == jose_copy.id and copy.buttons == ("Accept", "Decline")
    assert copy.text.startswith(f"📦 New offer #{offer_id}")
    assert [(d.kind, d.when) for d in desk.deadlines(offer_id)] == [
        (Kind.WAVE, released_at + RULES.wave_interval),
        (Kind.EXPIRE, released_at + RULES.acceptance_window),
    ]

    # Hers no more: her job card's buttons answer so, and no later wave reaches her.
    assert await desk.offers.release(offer_id, MARIA) is Press.NOT_YOURS
    assert await desk.offers.start_pickup(offer_id, MARIA) is Press.NOT_YOURS
    assert await desk.offers.accept(offer_id, MARIA) is Press.NOT_YOURS
    desk.clock.set(released_at + RULES.wave_interval)
    assert await desk.offers.send_wave(offer_id) == 0
    assert (await desk.notice(offer_id, MARIA)).outcome == "released"
    assert (await desk.person(MARIA)).offered == 1
    assert await desk.offers.accept(offer_id, JOSE) is Press.AWARDED


async def test_a_release_with_no_time_left_in_the_window_expires_and_asks_for_a_new_one(desk: Desk) -> None:
    offer_id = await held_offer(desk, JOSE)
    mark = await desk.mark()
    late = PICKUP_END - RULES.time_to_reach_store  # 1:15 PM: too late for anyone else to make it
    desk.clock.set(late)

    assert await desk.offers.release(offer_id, MARIA) is Press.RELEASED_TOO_LATE

    offer = await desk.row(offer_id)
    assert (offer.status, offer.holder_id) == ("expired", None)
    assert (offer.expires_at, offer.next_wave_at, offer.wave) == (late, None, 1)
    assert await desk.outcomes(offer_id) == {MARIA: "released", JOSE: "taken"}
    assert (await desk.person(MARIA)).released == 1
    trail = await desk.trail(offer_id)
    assert [(e.kind, e.detail) for e in trail[-2:]] == [("release", ""), ("expire", NO_TIME_LEFT)]

    queued = await desk.queued(mark)
    assert [(q.chat_id, q.kind) for q in queued] == [
        (MARIA, Delivery.EDIT),
        (ADMIN, Delivery.MESSAGE),
        (CLERK, Delivery.MESSAGE),
    ]
    job, *asks = queued
    assert job.text == f"Offer #{offer_id} · Zara · $18.50: you released it."
    for ask in asks:
        assert ask.text.startswith(f"↩️ Driver released order T1 (#{offer_id}, Zara).")
        assert "Give it a new pickup window, or cancel it." in ask.text
        assert ask.buttons and ask.buttons[-1] == "Cancel order"
    assert sorted(await desk.cards(WINDOW_ASK, offer_id)) == [ADMIN, CLERK]
    assert desk.deadlines(offer_id) == []  # it waits for a new window, not for a timer


# --- pickup ---


async def test_the_pickup_code_is_asked_for_and_the_right_one_picks_the_order_up(desk: Desk) -> None:
    offer_id = await held_offer(desk, JOSE)
    maria_copy = await desk.copy_row(offer_id, MARIA)
    at_counter = PICKUP_START + timedelta(minutes=3)
    desk.clock.set(at_counter)
    code = await desk.code(offer_id)
    assert await desk.offers.enter_code(MARIA, code) is Code.NOT_EXPECTED  # Confirm pickup first
    assert await desk.offers.start_pickup(offer_id, JOSE) is Press.NOT_YOURS
    mark = await desk.mark()

    assert await desk.offers.start_pickup(offer_id, MARIA) is Press.TYPE_CODE

    offer = await desk.row(offer_id)
    assert (offer.status, offer.code_asked_at) == ("accepted", at_counter)
    assert [(q.chat_id, q.text) for q in await desk.queued(mark)] == [
        (MARIA, "Type the 4-digit pickup code Zara gives you for order T1.")
    ]
    assert await desk.offers.enter_code(MARIA, "12a4") is Code.MALFORMED
    assert (await desk.row(offer_id)).wrong_codes == 0

    mark = await desk.mark()
    assert await desk.offers.enter_code(MARIA, f" {code} ") is Code.ACCEPTED

    offer = await desk.row(offer_id)
    assert (offer.status, offer.holder_id) == ("picked_up", desk.driver_ids[MARIA])
    assert offer.picked_up_at == at_counter and offer.wrong_codes == 0
    pickup = [event for event in await desk.trail(offer_id) if event.kind == "pickup"]
    assert [(e.actor, e.detail) for e in pickup] == [(Actor.driver(desk.driver_ids[MARIA]).encode(), "")]
    queued = await desk.queued(mark)
    assert [(q.chat_id, q.kind, q.target_id) for q in queued] == [
        (MARIA, Delivery.EDIT, maria_copy),
        (MARIA, Delivery.MESSAGE, None),
        (CLERK, Delivery.MESSAGE, None),
    ]
    job, delivery, store = queued
    assert job.text == f"📦 Picked up: #{offer_id} · Zara · $18.50 · order T1" and not job.buttons
    assert delivery.text.startswith("🚗 Deliver order T1 (2 packages)")
    assert delivery.buttons == ("Delivered", "Can't deliver")
    assert await desk.cards("delivery", offer_id) == [MARIA]
    assert store.text == f"📦 Order T1: Driver confirmed pickup (#{offer_id})."
    assert desk.deadlines(offer_id) == []  # no deliver_by: nothing to remind

    # Picked up: the code is not asked again, and it can no longer be given back or cancelled.
    assert await desk.offers.enter_code(MARIA, code) is Code.NOT_EXPECTED
    assert await desk.offers.release(offer_id, MARIA) is Press.DONE
    assert await desk.offers.cancel(offer_id, actor="admin:1000", by=By("Ada"), reason="x") is Press.NOT_OPEN
    assert (await desk.row(offer_id)).status == "picked_up"


async def test_wrong_codes_are_counted_and_the_last_try_locks_pickup_and_tells_the_admins(desk: Desk) -> None:
    offer_id = await held_offer(desk)
    desk.clock.set(PICKUP_START)
    assert await desk.offers.start_pickup(offer_id, MARIA) is Press.TYPE_CODE
    code = await desk.code(offer_id)

    mark = await desk.mark()
    assert await desk.offers.enter_code(MARIA, wrong(code)) is Code.WRONG
    offer = await desk.row(offer_id)
    assert (offer.wrong_codes, offer.pickup_locked, offer.status) == (1, False, "accepted")
    assert [(q.chat_id, q.text) for q in await desk.queued(mark)] == [
        (MARIA, "That code doesn't match order T1. 2 tries left. Type it again.")
    ]
    assert await desk.offers.enter_code(MARIA, wrong(code)) is Code.WRONG
    assert (await desk.queued(mark))[
        -1
    ].text == "That code doesn't match order T1. 1 try left. Type it again."

    mark = await desk.mark()
    assert await desk.offers.enter_code(MARIA, wrong(code)) is Code.JUST_LOCKED

    offer = await desk.row(offer_id)
    assert (offer.wrong_codes, offer.pickup_locked, offer.status) == (3, True, "accepted")
    trail = await desk.trail(offer_id)
    assert [e.detail for e in trail if e.kind == "pickup_code_wrong"] == [
        "attempt=1",
        "attempt=2",
        "attempt=3",
    ]
    assert [e.actor for e in trail if e.kind == "pickup_locked"] == [DISPATCH.encode()]
    assert [(q.chat_id, q.text) for q in await desk.queued(mark)] == [
        (MARIA, f"🔒 Pickup of #{offer_id} is locked after too many wrong codes. An admin will contact you."),
        (
            ADMIN,
            f"🔒 Offer #{offer_id} · Zara · $18.50 (ref T1): pickup locked after wrong codes by Driver 2001.",
        ),
    ]

    # Locked: even the right code no longer picks it up, and nothing more is counted or said.
    mark = await desk.mark()
    assert await desk.offers.enter_code(MARIA, code) is Code.LOCKED
    assert await desk.offers.enter_code(MARIA, wrong(code)) is Code.LOCKED
    assert await desk.offers.start_pickup(offer_id, MARIA) is Press.LOCKED
    offer = await desk.row(offer_id)
    assert (offer.wrong_codes, offer.status) == (3, "accepted")
    assert await desk.queued(mark) == []


async def test_an_offer_locked_by_one_driver_is_not_handed_to_another_who_cannot_pick_it_up(
    desk: Desk,
) -> None:
    offer_id = await held_offer(desk, JOSE)
    desk.clock.set(PICKUP_START - timedelta(minutes=30))  # early at the counter: time is left
    assert await desk.offers.start_pickup(offer_id, MARIA) is Press.TYPE_CODE
    code = await desk.code(offer_id)
    for _ in range(RULES.pickup_code_tries):
        await desk.offers.enter_code(MARIA, wrong(code))
    assert (await desk.row(offer_id)).pickup_locked
    assert await desk.offers.release(offer_id, MARIA) is Press.RELEASED

    # Either it is not offered again while locked, or whoever takes it can confirm pickup.
    if await desk.offers.accept(offer_id, JOSE) is Press.AWARDED:
        assert await desk.offers.start_pickup(offer_id, JOSE) is Press.TYPE_CODE


# --- delivery ---


async def test_a_delivery_finishes_the_offer_counts_it_and_tells_the_store(desk: Desk) -> None:
    offer_id = await picked_up_offer(desk, JOSE)
    async with desk.db.read() as tx:
        (card,) = await tx.cards.of("delivery", offer_id)
    delivered_at = PICKUP_START + timedelta(minutes=40)
    desk.clock.set(delivered_at)
    mark = await desk.mark()
    assert await desk.offers.deliver(offer_id, JOSE) is Press.NOT_YOURS
    assert await desk.offers.deliver(offer_id, 9999) is Press.NOT_YOURS
    assert await desk.queued(mark) == []

    assert await desk.offers.deliver(offer_id, MARIA) is Press.DELIVERED

    offer = await desk.row(offer_id)
    assert (offer.status, offer.finished_at, offer.failure_reason) == ("delivered", delivered_at, None)
    maria = await desk.person(MARIA)
    assert (maria.delivered, maria.prompt, maria.prompt_offer_id) == (1, "proof", offer_id)
    assert (await desk.person(JOSE)).delivered == 0
    assert (await desk.kinds(offer_id))[-1] == "deliver"
    queued = await desk.queued(mark)
    assert [(q.chat_id, q.kind, q.target_id) for q in queued] == [
        (MARIA, Delivery.EDIT, card.outbox_id),
        (MARIA, Delivery.MESSAGE, None),
        (CLERK, Delivery.MESSAGE, None),
    ]
    closed, thanks, store = queued
    assert closed.text == f"✅ Delivered: order T1 to zone 89109 · #{offer_id}" and not closed.buttons
    assert thanks.text.startswith("✅ Delivered order T1. Thank you!\nToday: 1 delivery · $18.50")
    assert store.text == f"✅ Order T1: delivered (#{offer_id})."

    # Pressed twice: done already, counted once; nor can it fail afterwards.
    mark = await desk.mark()
    assert await desk.offers.deliver(offer_id, MARIA) is Press.DONE
    assert await desk.offers.fail(offer_id, MARIA, FailReason.ABSENT) is Press.DONE
    assert await desk.offers.ask_reason(offer_id, MARIA) is Press.DONE
    assert (await desk.person(MARIA)).delivered == 1
    assert (await desk.row(offer_id)).status == "delivered"
    assert await desk.queued(mark) == []


async def test_an_order_that_cannot_be_delivered_goes_back_with_its_reason(desk: Desk) -> None:
    offer_id = await picked_up_offer(desk, JOSE)
    async with desk.db.read() as tx:
        (card,) = await tx.cards.of("delivery", offer_id)
    assert await desk.offers.ask_reason(offer_id, JOSE) is Press.NOT_YOURS
    mark = await desk.mark()

    assert await desk.offers.ask_reason(offer_id, MARIA) is Press.CHOOSE_REASON
    (choose,) = await desk.queued(mark)
    assert (choose.chat_id, choose.target_id) == (MARIA, card.outbox_id)
    assert choose.buttons == ("Customer not there", "Wrong address", "Damaged", "Other")
    assert (await desk.row(offer_id)).status == "picked_up"  # asking changes nothing yet

    returned_at = PICKUP_START + timedelta(minutes=50)
    desk.clock.set(returned_at)
    mark = await desk.mark()
    assert await desk.offers.fail(offer_id, JOSE, FailReason.ADDRESS) is Press.NOT_YOURS
    assert await desk.offers.fail(offer_id, MARIA, FailReason.ABSENT) is Press.RETURNING

    offer = await desk.row(offer_id)
    assert (offer.status, offer.failure_reason, offer.finished_at) == ("returned", "absent", returned_at)
    assert offer.holder_id == desk.driver_ids[MARIA]
    assert (await desk.person(MARIA)).delivered == 0
    fail = [event for event in await desk.trail(offer_id) if event.kind == "fail"]
    assert [(e.actor, e.detail) for e in fail] == [
        (Actor.driver(desk.driver_ids[MARIA]).encode(), "reason=absent")
    ]
    queued = await desk.queued(mark)
    assert [(q.chat_id, q.kind, q.target_id) for q in queued] == [
        (MARIA, Delivery.EDIT, card.outbox_id),
        (ADMIN, Delivery.MESSAGE, None),
        (CLERK, Delivery.MESSAGE, None),
    ]
    back, admin, store = queued
    assert back.text.startswith("↩️ Order T1 can't be delivered (customer not there).") and not back.buttons
    assert admin.text.endswith(
        "can't be delivered: customer not there. Driver 2001 is bringing it back to the store."
    )
    assert store.text == (
        f"↩️ Order T1 can't be delivered (customer not there); the driver is bringing it back (#{offer_id})."
    )
    assert await desk.offers.fail(offer_id, MARIA, FailReason.OTHER) is Press.DONE
    assert await desk.offers.deliver(offer_id, MARIA) is Press.DONE
    assert (await desk.row(offer_id)).failure_reason == "absent"


# --- expiry ---


async def test_an_offer_expires_on_time_every_unanswered_copy_is_edited_and_the_misses_counted(
    desk: Desk,
) -> None:
    for tg in (MARIA, JOSE):
        await desk.driver(tg)
    offer_id = await desk.offer()
    assert (await desk.row(offer_id)).expires_at == EXPIRES
    assert await desk.offers.decline(offer_id, MARIA) is Press.DECLINED
    jose_copy = await desk.copy_row(offer_id, JOSE)

    desk.clock.set(EXPIRES - timedelta(seconds=1))
    mark = await desk.mark()
    assert await desk.offers.expire(offer_id) is False
    assert (await desk.row(offer_id)).status == "open" and await desk.queued(mark) == []

    desk.clock.set(EXPIRES)
    assert await desk.offers.expire(offer_id) is True

    offer = await desk.row(offer_id)
    assert (offer.status, offer.holder_id, offer.next_wave_at) == ("expired", None, None)
    assert await desk.outcomes(offer_id) == {MARIA: "declined", JOSE: "expired"}
    maria, jose = await desk.person(MARIA), await desk.person(JOSE)
    assert (jose.timed_out, jose.timeouts_in_a_row, jose.online) == (1, 1, True)
    assert (maria.timed_out, maria.timeouts_in_a_row) == (0, 0)  # she answered
    expire = [event for event in await desk.trail(offer_id) if event.kind == "expire"]
    assert [(e.at, e.actor) for e in expire] == [(EXPIRES, DISPATCH.encode())]
    queued = await desk.queued(mark)
    assert [(q.chat_id, q.kind, q.target_id, q.lane) for q in queued] == [
        (JOSE, Delivery.EDIT, jose_copy, Lane.BULK),
        (ADMIN, Delivery.MESSAGE, None, Lane.INTERACTIVE),
        (CLERK, Delivery.MESSAGE, None, Lane.INTERACTIVE),
    ]
    copy, admin, store = queued
    assert copy.text == f"Offer #{offer_id} · Zara · $18.50: expired." and not copy.buttons
    assert admin.text == f"⌛ Offer #{offer_id} · Zara · $18.50 (ref T1) expired with no driver."
    assert admin.buttons == ("Re-offer",)
    assert await desk.cards(EXPIRY_CARD, offer_id) == [ADMIN]
    assert store.text.startswith(f"⌛ Order T1: no driver took it in time (#{offer_id}).")
    assert desk.deadlines(offer_id) == []

    # Expiring again does nothing; a late press is told it expired.
    mark = await desk.mark()
    assert await desk.offers.expire(offer_id) is False
    assert await desk.offers.accept(offer_id, JOSE) is Press.EXPIRED
    assert await desk.offers.decline(offer_id, JOSE) is Press.EXPIRED
    assert await desk.queued(mark) == []
    assert (await desk.kinds(offer_id)).count("expire") == 1
    assert (await desk.person(JOSE)).timed_out == 1


async def test_an_expiry_timer_that_fires_early_plans_again_and_changes_nothing(desk: Desk) -> None:
    await desk.driver(MARIA)
    offer_id = await desk.offer()
    assert Deadline(EXPIRES, Kind.EXPIRE, offer_id) in desk.deadlines(offer_id)
    desk.clock.set(EXPIRES - timedelta(minutes=4))
    mark = await desk.mark()
    desk.timers.scheduler.remove_job(f"{Kind.EXPIRE.value}:{offer_id}")  # as it fires, it is gone

    await desk.offers.on_deadline(Kind.EXPIRE, offer_id)

    offer = await desk.row(offer_id)
    assert (offer.status, offer.expires_at) == ("open", EXPIRES)
    assert "expire" not in await desk.kinds(offer_id)
    assert (await desk.notice(offer_id, MARIA)).outcome == "sent"
    assert (await desk.person(MARIA)).timed_out == 0
    assert await desk.queued(mark) == []
    assert Deadline(EXPIRES, Kind.EXPIRE, offer_id) in desk.deadlines(offer_id)  # set again

    # The timers, moved on: the offer expires at its moment, once.
    desk.clock.set(EXPIRES)
    assert await desk.timers.fire_due() >= 1
    assert (await desk.row(offer_id)).status == "expired"
    assert (await desk.kinds(offer_id)).count("expire") == 1
    assert desk.deadlines(offer_id) == []


async def test_a_wave_timer_that_fires_early_sends_nothing(desk: Desk) -> None:
    await desk.driver(MARIA)
    offer_id = await desk.offer()
    await desk.driver(JOSE)  # online after the first wave
    desk.clock.set(NOON + timedelta(seconds=30))
    mark = await desk.mark()
    assert await desk.offers.send_wave(offer_id) == 0
    assert (await desk.row(offer_id)).wave == 1 and await desk.queued(mark) == []
    desk.clock.set(NOON + RULES.wave_interval)
    assert await desk.offers.send_wave(offer_id) == 1
    assert [q.chat_id for q in await desk.queued(mark)] == [JOSE]
    assert (await desk.person(JOSE)).offered == 1 and (await desk.person(MARIA)).offered == 1


async def test_an_expired_offer_is_offered_again_by_an_admin_but_not_to_who_declined_it(desk: Desk) -> None:
    for tg in (MARIA, JOSE):
        await desk.driver(tg)
    offer_id = await desk.offer()
    assert await desk.offers.decline(offer_id, MARIA) is Press.DECLINED
    desk.clock.set(EXPIRES)
    assert await desk.offers.expire(offer_id)
    (admin_card,) = [q for q in await desk.queued() if q.chat_id == ADMIN and q.buttons == ("Re-offer",)]
    reopened_at = EXPIRES + timedelta(minutes=5)
    desk.clock.set(reopened_at)
    mark = await desk.mark()

    assert await desk.offers.reopen(offer_id, JOSE) is Press.NOT_ADMIN
    assert await desk.offers.reopen(offer_id, ADMIN) is Press.REOPENED

    offer = await desk.row(offer_id)
    assert (offer.status, offer.wave) == ("open", 2)
    assert offer.expires_at == reopened_at + RULES.acceptance_window
    assert await desk.outcomes(offer_id) == {MARIA: "declined", JOSE: "sent"}
    queued = await desk.queued(mark)
    assert [(q.chat_id, q.kind, q.target_id) for q in queued] == [
        (ADMIN, Delivery.EDIT, admin_card.id),
        (JOSE, Delivery.MESSAGE, None),
    ]
    assert queued[0].text.endswith("↻ Offered again, pickup 1:00–1:30 PM PDT.") and not queued[0].buttons
    assert await desk.cards(EXPIRY_CARD, offer_id) == []
    assert await desk.offers.reopen(offer_id, ADMIN) is Press.REOFFERED_BEFORE


# --- the no-show ---


async def test_a_no_show_is_released_counted_and_offered_again_never_to_that_driver(desk: Desk) -> None:
    offer_id = await held_offer(desk, JOSE)
    maria_copy = await desk.copy_row(offer_id, MARIA)
    no_show_at = PICKUP_END + TIMING.no_show_grace  # late at 1:30 PM, a no-show 10 minutes on
    assert Deadline(no_show_at, Kind.NO_SHOW, offer_id) in desk.deadlines(offer_id)
    desk.clock.set(no_show_at - timedelta(seconds=1))
    mark = await desk.mark()
    assert await desk.offers.no_show(offer_id) is False
    assert (await desk.row(offer_id)).status == "accepted" and await desk.queued(mark) == []

    desk.clock.set(no_show_at)
    assert await desk.offers.no_show(offer_id) is True

    # The window is over: it waits for a new one (nobody could make this one any more).
    offer = await desk.row(offer_id)
    assert (offer.status, offer.holder_id, offer.accepted_at) == ("expired", None, None)
    assert await desk.outcomes(offer_id) == {MARIA: "released", JOSE: "taken"}
    maria = await desk.person(MARIA)
    assert (maria.no_shows, maria.released) == (1, 0)
    trail = await desk.trail(offer_id)
    assert [(e.kind, e.actor) for e in trail[-2:]] == [("no_show", "dispatch"), ("expire", "dispatch")]
    assert trail[-2].detail == f"driver={maria.id}" and trail[-1].detail == NO_TIME_LEFT
    queued = await desk.queued(mark)
    assert [(q.chat_id, q.kind, q.target_id) for q in queued] == [
        (MARIA, Delivery.EDIT, maria_copy),
        (MARIA, Delivery.MESSAGE, None),
        (ADMIN, Delivery.MESSAGE, None),
        (CLERK, Delivery.MESSAGE, None),
    ]
    closed, news, *asks = queued
    assert closed.text == f"Offer #{offer_id} · Zara · $18.50: no longer yours." and not closed.buttons
    assert news.text.startswith(f"🚫 Offer #{offer_id} · Zara · $18.50: released because it wasn't picked up")
    for ask in asks:
        assert ask.text.startswith(f"🚫 No-show: Driver didn't pick up order T1 (#{offer_id}, Zara).")
    assert desk.deadlines(offer_id) == []
    assert await desk.offers.no_show(offer_id) is False  # once

    # A new window: offered again, to Jose and not to Maria.
    mark = await desk.mark()
    assert sorted(await desk.cards(WINDOW_ASK, offer_id)) == [ADMIN, CLERK]
    two_pm = PICKUP_START + timedelta(hours=1)
    chosen = await desk.offers.new_window(
        offer_id, two_pm.strftime("%Y%m%d%H%M"), user_id=ADMIN, chat_id=ADMIN, name="Ada"
    )
    assert chosen is Press.REOPENED
    offer = await desk.row(offer_id)
    assert (offer.status, offer.pickup_start, offer.wave) == ("open", two_pm, 2)
    assert await desk.outcomes(offer_id) == {MARIA: "released", JOSE: "sent"}
    assert [q.chat_id for q in await desk.queued(mark) if q.kind == Delivery.MESSAGE] == [JOSE]
    desk.clock.set(no_show_at + RULES.wave_interval)
    assert await desk.offers.send_wave(offer_id) == 0
    assert (await desk.person(MARIA)).offered == 1


async def test_a_no_show_with_time_still_left_goes_straight_to_the_next_drivers(desk: Desk) -> None:
    # With any real time to reach the store a no-show (after the window) always waits for a new
    # window; here drivers may come up to an hour late, so the offer is open to others at once.
    await desk.use(replace(RULES, time_to_reach_store=timedelta(minutes=-60)))
    offer_id = await held_offer(desk, JOSE)
    no_show_at = PICKUP_END + TIMING.no_show_grace
    desk.clock.set(no_show_at)
    mark = await desk.mark()

    assert await desk.offers.no_show(offer_id) is True

    offer = await desk.row(offer_id)
    assert (offer.status, offer.holder_id, offer.wave) == ("open", None, 2)
    assert offer.expires_at == no_show_at + RULES.acceptance_window
    assert await desk.outcomes(offer_id) == {MARIA: "released", JOSE: "sent"}
    assert (await desk.person(MARIA)).no_shows == 1
    kinds = await desk.kinds(offer_id)
    assert kinds[kinds.index("no_show") :] == ["no_show", "wave"]
    queued = await desk.queued(mark)
    assert [(q.chat_id, q.kind) for q in queued] == [
        (MARIA, Delivery.EDIT),
        (MARIA, Delivery.MESSAGE),
        (ADMIN, Delivery.MESSAGE),
        (CLERK, Delivery.MESSAGE),
        (JOSE, Delivery.MESSAGE),
    ]
    assert queued[2].text.endswith("It's offered again.") and queued[2].text.startswith(
        "🚫 No-show: Driver 2001"
    )
    assert queued[3].text.startswith(
        "↩️ Order T1: the driver didn't show up. It's offered to other drivers again"
    )
    assert queued[4].buttons == ("Accept", "Decline")
    assert await desk.offers.accept(offer_id, MARIA) is Press.NOT_YOURS
    assert await desk.offers.accept(offer_id, JOSE) is Press.AWARDED


# --- cancel ---


async def test_a_held_offer_cancelled_tells_the_holder_the_store_and_the_admins(desk: Desk) -> None:
    offer_id = await held_offer(desk, JOSE)
    maria_copy = await desk.copy_row(offer_id, MARIA)
    desk.clock.set(NOON + timedelta(minutes=20))
    mark = await desk.mark()

    assert await desk.offers.cancel(offer_id, actor="admin:1000", by=By("Ada"), reason="customer left") is (
        Press.CANCELLED
    )

    offer = await desk.row(offer_id)
    assert (offer.status, offer.cancel_reason) == ("cancelled", "customer left")
    assert offer.finished_at == NOON + timedelta(minutes=20)
    assert await desk.outcomes(offer_id) == {MARIA: "cancelled", JOSE: "taken"}
    queued = await desk.queued(mark)
    assert [(q.chat_id, q.kind, q.target_id) for q in queued] == [
        (MARIA, Delivery.EDIT, maria_copy),  # the job card loses its buttons
        (MARIA, Delivery.MESSAGE, None),
        (CLERK, Delivery.MESSAGE, None),
        (ADMIN, Delivery.MESSAGE, None),
    ]
    assert queued[1].text == f"Offer #{offer_id} · Zara · $18.50: cancelled."
    assert queued[2].text == f"🚫 Order T1 was cancelled (#{offer_id}): customer left"
    assert desk.deadlines(offer_id) == []
    assert await desk.offers.start_pickup(offer_id, MARIA) is Press.CANCELLED
    assert await desk.offers.release(offer_id, MARIA) is Press.CANCELLED
    assert await desk.offers.accept(offer_id, MARIA) is Press.CANCELLED
    assert await desk.offers.cancel(offer_id, actor="admin:1000", by=By("Ada"), reason="again") is Press.DONE


async def test_an_accept_after_the_offer_stood_is_told_expired_even_before_its_timer_runs(desk: Desk) -> None:
    await desk.driver(MARIA)
    offer_id = await desk.offer()
    desk.clock.set(EXPIRES + timedelta(seconds=1))  # the expiry timer has not run yet

    async with desk.db.read() as tx:
        on_arrival = await desk.offers.on_arrival(tx, {(offer_id, MARIA): desk.clock.now()})
    pressed = await desk.offers.accept(offer_id, MARIA, desk.clock.now())

    assert on_arrival[(offer_id, MARIA)].answer is Press.EXPIRED and on_arrival[(offer_id, MARIA)].final
    assert pressed is Press.EXPIRED
    offer = await desk.row(offer_id)
    assert (offer.status, offer.holder_id) == ("open", None)  # the timer expires it next
    assert await desk.timers.fire_due() >= 1
    assert (await desk.row(offer_id)).status == "expired"
