"""The offer lifecycle in use: create, waves, accept or decline, pickup code, delivery, release, expiry."""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from dispatch.actors import DISPATCH, Actor, By, CancelReason
from dispatch.awards import (
    NO_AWARD_EVENT,
    ON_TIME_PERIOD,
    Key,
    Order,
    Out,
    Standing,
    award_detail,
    deciding_key,
    draw,
    fast_share,
    milliseconds,
    order_of,
    ranked,
)
from dispatch.deadlines import Kind, deadlines_of, no_show_at
from dispatch.lifecycle import Action, Status, step
from dispatch.localtime import LocalTimeError, local_now_date, start_of_day, to_utc, window_to_utc
from dispatch.messages import Messages, Params, Render
from dispatch.orders import OrderLine, pickup_code
from dispatch.outbox import Delivery, Lane, Outgoing, as_row
from dispatch.problems import Issue, Problem, issue
from dispatch.views import FailReason, OfferView, day_tally, offer_view, orders_to_show
from dispatch.windows import NewWindow, Over, Slot, next_slots, no_time_left
from storage.records import (
    LIVE_OUTCOMES,
    Account,
    CardKind,
    Driver,
    EventKind,
    Notice,
    Offer,
    Outcome,
    Prompt,
)
from storage.repos import OfferChanges, PressContext, ReminderColumn, Transaction

if TYPE_CHECKING:
    from dispatch.clock import Clock
    from dispatch.dispatcher import Outbound, Planner, Rules
    from storage.db import Database


class Press(StrEnum):
    """How a driver's button press on an offer turned out; each has its own short answer."""

    AWARDED = "awarded"
    ALREADY_YOURS = "already_yours"
    TAKEN = "taken"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    NOT_YOURS = "not_yours"
    NOT_OPEN = "not_open"
    DECLINED = "declined"
    DECLINED_BEFORE = "declined_before"
    FULL = "full"
    NOT_APPROVED = "not_approved"
    TYPE_CODE = "type_code"
    LOCKED = "locked"
    DELIVERED = "delivered"
    CHOOSE_REASON = "choose_reason"
    RETURNING = "returning"
    RELEASED = "released"
    DONE = "done"
    NOT_ADMIN = "not_admin"
    REOPENED = "reopened"
    WITHDRAWN = "withdrawn"
    REOFFERED_BEFORE = "reoffered_before"  # an expired offer's button, after it was offered again
    NEW_WINDOW = "new_window"  # no time is left in its window: a new one was asked for instead
    SLOT_GONE = "slot_gone"  # the chosen new window no longer leaves a driver time
    RELEASED_TOO_LATE = "released_too_late"  # given back with no time left for another driver
    WINDOW_CLOSED = "window_closed"  # an Accept after the award window closed, before the award


class Code(StrEnum):
    """How a typed pickup code turned out."""

    ACCEPTED = "accepted"
    WRONG = "wrong"
    LOCKED = "locked"
    JUST_LOCKED = "just_locked"  # this try locked it; the driver was told with the lock itself
    MALFORMED = "malformed"
    NOT_EXPECTED = "not_expected"


@dataclass(frozen=True, slots=True)
class Entered:
    """An Accept collected in the offer's award window: the driver is told when it is awarded."""

    offer_id: int
    award_at: datetime
    tz: str


# How a press turned out: a short answer, or in the window with the moment of the award.
Pressed = Press | Entered


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer to an Accept known on its arrival; `final` when the press changes nothing (it
    is done once answered), else it is still applied in its turn (an Accept collected in a window)."""

    answer: Pressed
    final: bool


@dataclass(frozen=True, slots=True)
class Award:
    """How an award window ended."""

    winner_id: int | None
    entrants: int
    eligible: int
    deciding: Key | None = None


@dataclass(frozen=True, slots=True)
class Created:
    """A new offer, or the reasons it could not be made."""

    view: OfferView | None = None
    problems: tuple[Issue, ...] = ()


class OfferDesk:
    """Every step of an offer's life; each is one transaction and safe to run twice.

    With several instances on PostgreSQL every rule holds under real concurrency: a status change
    is one conditional write (lifecycle.step), and a rule that reads before it writes (what a
    driver holds, whether a wave or a window may still go out) reads under row locks, taken in
    one order everywhere: the offer's row, then drivers' rows in id order (storage Offers.lock).
    """

    def __init__(
        self,
        db: Database,
        clock: Clock,
        rules: Rules,
        outbound: Outbound,
        planner: Planner,
        admin_ids: frozenset[int],
    ) -> None:
        self.db = db
        self.clock = clock
        self.rules = rules
        self.outbound = outbound
        self.planner = planner
        self.admin_ids = admin_ids

    # --- create ---

    async def create(
        self, line: OrderLine, *, store_code: str, by: Actor, card_to: int | None = None
    ) -> Created:
        """Create an open offer from an order line, send its card (with the pickup code) to
        `card_to`, and send its first wave."""
        now = self.clock.now()
        async with self.outbound.transaction() as tx:
            store = await tx.stores.by_code(store_code.upper())
            if store is None or not store.active:
                return Created(problems=(issue(Problem.NO_SUCH_STORE, store=store_code.upper()),))
            area = await tx.areas.by_id(store.area_id)
            assert area is not None
            today = local_now_date(now, area.tz)
            day = line.day or today
            # Checked before any conversion: a date far ahead (9999-12-31) overflows one.
            if day < today:
                return Created(problems=(issue(Problem.DATE_PAST),))
            last_day = today + timedelta(days=self.rules.max_days_ahead)
            if day > last_day:
                too_far = issue(
                    Problem.DATE_TOO_FAR, days=self.rules.max_days_ahead, last=last_day.isoformat()
                )
                return Created(problems=(too_far,))
            try:
                start, end = window_to_utc(day, line.window_start, line.window_end, area.tz)
                deliver_by = to_utc(day, line.deliver_by, area.tz) if line.deliver_by else None
            except LocalTimeError as error:
                return Created(problems=(error.issue,))
            if end <= now:
                return Created(problems=(issue(Problem.WINDOW_ENDED),))
            if no_time_left(end, now, self.rules.time_to_reach_store):
                return Created(problems=(issue(Problem.WINDOW_TOO_CLOSE),))
            ref_taken = issue(Problem.REF_TAKEN, store=store.code, ref=line.ref)
            if await tx.offers.by_ref(store.id, line.ref) is not None:
                return Created(problems=(ref_taken,))
            if deliver_by is not None and deliver_by <= start:
                return Created(problems=(issue(Problem.DELIVER_BY_EARLY),))
            # The ref checked above may be taken since by an order made at the same moment.
            offer_id = await tx.offers.add_if_new_ref(
                store_id=store.id,
                ref=line.ref,
                packages=line.packages,
                zone=line.zone,
                address=line.address,
                pay_cents=line.pay_cents,
                pickup_start=start,
                pickup_end=end,
                deliver_by=deliver_by,
                pickup_code=pickup_code(),
                status=Status.OPEN,
                wave=0,
                next_wave_at=now,
                expires_at=self.rules.stands_until(now, end),
                created_by=by.user_id,
                created_at=now,
            )
            if offer_id is None:
                return Created(problems=(ref_taken,))
            await tx.events.add(now, by.encode(), EventKind.OPEN, f"ref={line.ref}", offer_id=offer_id)
            view = await offer_view(tx, offer_id)
            assert view is not None
            if card_to is not None:
                await self.outbound.say(tx, card_to, lambda m: m.admin_offer_card(view))
        await self.send_wave(offer_id)
        return Created(view=view)

    # --- waves and expiry (timers call these) ---

    async def send_wave(self, offer_id: int) -> int:
        """Send the offer to the next drivers in line; returns how many got it."""
        now = self.clock.now()
        async with self.outbound.transaction() as tx:
            # Locked while the wave goes out: an accept, a cancel or an expiry of the offer waits
            # and then finds every copy it sent, and a second wave due at once finds this one done.
            if await tx.offers.lock(offer_id) is None:
                return 0
            view = await offer_view(tx, offer_id)
            if view is None or view.offer.status != Status.OPEN:
                return 0
            expires_at = view.offer.expires_at
            due = view.offer.next_wave_at
            if (expires_at is not None and expires_at <= now) or due is None or due > now:
                self.planner.plan(tx, view.offer)  # expiring instead, or a timer that fired early or twice
                return 0
            drivers = []
            if view.area.active:
                drivers = await tx.drivers.eligible_for(
                    offer_id, view.area.id, max_held=self.rules.max_offers_held, limit=self.rules.wave_size
                )
            wave = view.offer.wave + 1
            # A few statements for the whole wave, however many it reaches: SQLite's one write
            # lock is held for as short as can be.
            notices = await tx.notices.record_many(
                offer_id, [(driver.id, driver.chat_id) for driver in drivers], wave, now
            )
            copies_made = await self.outbound.rendered(
                tx, [driver.chat_id for driver in drivers], lambda m: m.offer_copy(view)
            )
            copies = [
                Outgoing(
                    driver.chat_id,
                    Delivery.MESSAGE,
                    copies_made[driver.chat_id],
                    lane=Lane.BULK,
                    notice_id=notices[driver.id],
                )
                for driver in drivers
            ]
            await tx.outbox.add_many([as_row(message) for message in copies], now)
            await tx.drivers.offered([driver.id for driver in drivers], now)
            following = now + self.rules.wave_interval
            next_wave_at = following if expires_at is None or following < expires_at else None
            await tx.offers.update(offer_id, wave=wave, next_wave_at=next_wave_at)
            await tx.events.add(
                now,
                DISPATCH.encode(),
                EventKind.WAVE,
                f"wave={wave} drivers={len(drivers)}",
                offer_id=offer_id,
            )
            await self._plan(tx, offer_id)
        return len(drivers)

    async def expire(self, offer_id: int) -> bool:
        """The acceptance window ended with no taker: edit every copy, tell the admins."""
        now = self.clock.now()
        async with self.outbound.transaction() as tx:
            # Locked: a first Accept opening an award window waits, and is then told it expired.
            offer = await tx.offers.lock(offer_id)
            if offer is None or offer.status != Status.OPEN or offer.expires_at is None:
                return False
            if offer.award_at is not None:  # accepts were collected: the award decides
                self.planner.plan(tx, offer)
                return False
            if offer.expires_at > now:
                self.planner.plan(tx, offer)
                return False
            if not await step(tx, offer_id, Action.EXPIRE, only_from=Status.OPEN, next_wave_at=None):
                return False
            view = await offer_view(tx, offer_id)
            assert view is not None
            unanswered = await tx.notices.close_all(offer_id, LIVE, Outcome.EXPIRED)
            await self._edit_copies(tx, unanswered, lambda m: m.copy_expired(view))
            for driver in await tx.drivers.timed_out([notice.driver_id for notice in unanswered]):
                await self._set_offline_if_missed_too_many(tx, driver)
            await tx.events.add(now, DISPATCH.encode(), EventKind.EXPIRE, offer_id=offer_id)
            await self._tell_expired(tx, view)
            await self.outbound.tell_store(tx, view.store.id, lambda m: m.store_expired(view))
            self.planner.plan(tx, view.offer)
        return True

    async def withdraw_copies(self, tx: Transaction, driver: Driver) -> None:
        """The driver can no longer answer (offline, suspended): every copy still waiting for an
        answer is withdrawn and edited so its buttons are gone; a withdrawn copy never counts as
        missed, and the offer may reach the driver again once they are back online."""
        withdrawn = await tx.notices.withdraw_all(driver.id, LIVE)
        for notice in withdrawn:
            view = await offer_view(tx, notice.offer_id)
            assert view is not None
            await self._edit_copy(tx, notice, lambda m: m.copy_withdrawn(view), Lane.INTERACTIVE)  # noqa: B023 - made before say returns

    async def _set_offline_if_missed_too_many(self, tx: Transaction, driver: Driver) -> None:
        """A driver whose copy just expired unanswered: too many in a row and they are set offline."""
        if not driver.online or driver.timeouts_in_a_row < self.rules.auto_offline_after:
            return
        missed = driver.timeouts_in_a_row
        await tx.drivers.set_online(driver.id, False)
        await self.withdraw_copies(tx, driver)
        await tx.events.add(
            self.clock.now(), DISPATCH.encode(), EventKind.AUTO_OFFLINE, f"driver={driver.id} missed={missed}"
        )
        await self.outbound.say(tx, driver.chat_id, lambda m: m.set_offline(missed))

    # --- reminders and the no-show release (timers call these) ---

    async def remind(self, kind: Kind, offer_id: int) -> bool:
        """Send one reminder to the holder at its moment; never twice for the same moment."""
        now = self.clock.now()
        column, status = REMINDERS[kind]
        async with self.outbound.transaction() as tx:
            # Locked: a release and a new holder at this moment cannot slip between the holder
            # read here and the reminder's conditional write (it would reach the one who left).
            await tx.offers.lock(offer_id)
            view = await offer_view(tx, offer_id)
            if view is None or view.holder is None or view.offer.status != status:
                return False
            moment = next(
                (dl.when for dl in deadlines_of(view.offer, self.rules.timing) if dl.kind is kind), None
            )
            if moment is None:
                return False  # already reminded
            if moment > now:
                self.planner.plan(tx, view.offer)  # early: wait for the moment
                return False
            if not await tx.offers.mark_reminded(offer_id, column, status, now):
                return False
            sent = await self.outbound.say(tx, view.holder.chat_id, lambda m: _reminder(m, kind, view, now))
            if kind is Kind.LATE:  # its buttons (Confirm pickup, Release) go when the job card's do
                await tx.cards.add(CardKind.JOB_BUTTONS, offer_id, view.holder.chat_id, sent, now)
            await tx.events.add(
                now, DISPATCH.encode(), EventKind(kind), f"driver={view.holder.id}", offer_id=offer_id
            )
        return True

    async def no_show(self, offer_id: int) -> bool:
        """Past the pickup window and its grace, no pickup: the holder loses the offer, and the
        store and the admins are asked for a new window (none is left in this one)."""
        now = self.clock.now()
        async with self.outbound.transaction() as tx:
            view = await offer_view(tx, offer_id)
            if view is None or view.holder is None or view.offer.status != Status.ACCEPTED:
                return False
            if no_show_at(view.offer, self.rules.timing) > now:
                self.planner.plan(tx, view.offer)
                return False
            holder = view.holder
            given = await self._give_back(tx, offer_id, holder.id)
            if given is None:
                return False
            view = await offer_view(tx, offer_id)
            assert view is not None
            notice = await tx.notices.of(offer_id, holder.id)
            if notice is not None:
                # The card only closes (an edit rings no bell); the news is the one new message.
                await self._edit_job(tx, notice, lambda m: m.job_no_show(view))
            await tx.drivers.count(holder.id, no_shows=1)
            await tx.events.add(
                now, DISPATCH.encode(), EventKind.NO_SHOW, f"driver={holder.id}", offer_id=offer_id
            )
            await self.outbound.say(tx, holder.chat_id, lambda m: m.no_show_released(view))
            await self._tell_given_back(tx, view, Over.NO_SHOW, holder)
        if given is Status.OPEN:
            await self.send_wave(offer_id)
        return True

    async def cancel(self, offer_id: int, *, actor: str, by: By, reason: str | CancelReason | None) -> Press:
        """Cancel an offer not yet picked up (admin or the store): every copy and the store are told.
        `reason` is the person's own, as typed, the domain's code, or None (none given)."""
        now = self.clock.now()
        async with self.outbound.transaction() as tx:
            # Locked before it is read: an accept at the same moment waits and is told it was
            # cancelled, or came first and its holder is told here.
            await tx.offers.lock(offer_id)
            before = await offer_view(tx, offer_id)
            if before is None:
                return Press.NOT_YOURS
            cancelled = await step(
                tx,
                offer_id,
                Action.CANCEL,
                finished_at=now,
                cancel_reason=reason[:200] if reason else None,
                next_wave_at=None,
                award_at=None,
            )
            if not cancelled:
                return Press.DONE if before.offer.status == Status.CANCELLED else Press.NOT_OPEN
            await tx.events.add(now, actor, EventKind.CANCEL, _reason_detail(reason), offer_id=offer_id)
            view = await offer_view(tx, offer_id)
            assert view is not None
            live = await tx.notices.close_all(offer_id, LIVE, Outcome.CANCELLED)
            held = await tx.notices.close_all(offer_id, Outcome.ACCEPTED, Outcome.CANCELLED)
            await self._edit_copies(tx, [*live, *held], lambda m: m.copy_cancelled(view))
            await self._edit_cards(tx, CardKind.JOB, offer_id, lambda m: m.copy_cancelled(view))
            if before.holder is not None:
                await self.outbound.say(tx, before.holder.chat_id, lambda m: m.copy_cancelled(view))
            await self._refresh_lists(tx, offer_id)
            await self._close_asks(tx, view, lambda m: m.window_dropped(view, by))
            await self.outbound.tell_store(tx, view.store.id, lambda m: m.store_cancelled(view, reason))
            await self.outbound.tell_admins(tx, lambda m: m.admin_cancelled(view, by, reason))
            self.planner.plan(tx, view.offer)
        return Press.CANCELLED

    async def on_deadline(self, kind: Kind, offer_id: int) -> None:
        """A timer fired: call the one transition for its kind (each checks the state first)."""
        if kind is Kind.WAVE:
            await self.send_wave(offer_id)
        elif kind is Kind.EXPIRE:
            await self.expire(offer_id)
        elif kind is Kind.AWARD:
            await self.award(offer_id)
        elif kind is Kind.NO_SHOW:
            await self.no_show(offer_id)
        else:
            await self.remind(kind, offer_id)

    async def reopen(self, offer_id: int, admin_id: int) -> Press:
        """An admin offers an expired offer again; with no time left in its pickup window, the
        admin is asked for a new window instead."""
        if admin_id not in self.admin_ids:
            return Press.NOT_ADMIN
        now = self.clock.now()
        async with self.outbound.transaction() as tx:
            view = await offer_view(tx, offer_id)
            if view is None:
                return Press.NOT_OPEN
            if view.offer.status != Status.EXPIRED:
                return await self._not_waiting(tx, offer_id)
            if no_time_left(view.offer.pickup_end, now, self.rules.time_to_reach_store):
                await self._ask_new_window(tx, view, [admin_id], NewWindow(self._slots(view, now)))
                return Press.NEW_WINDOW
            reopened = await step(
                tx,
                offer_id,
                Action.REOPEN,
                next_wave_at=now,
                expires_at=self.rules.stands_until(now, view.offer.pickup_end),
            )
            if not reopened:
                return await self._not_waiting(tx, offer_id)
            await tx.events.add(now, Actor.admin(admin_id).encode(), REOPEN_EVENT, offer_id=offer_id)
            view = await offer_view(tx, offer_id)
            assert view is not None
            await self._close_expiry_cards(tx, view)
        await self.send_wave(offer_id)
        return Press.REOPENED

    # --- a window that is over ---

    async def new_window(
        self, offer_id: int, slot_key: str, *, user_id: int, chat_id: int, name: str
    ) -> Press:
        """The store's staff or an admin give an order waiting for a new pickup window one of the
        next free slots: the window (and deliver_by with it) moves there and it is offered again."""
        now = self.clock.now()
        slot = Slot.from_key(slot_key)
        async with self.outbound.transaction() as tx:
            view = await offer_view(tx, offer_id)
            decider = await self._decider(tx, view, user_id, chat_id, name)
            if view is None or decider is None or slot is None:
                return Press.NOT_YOURS
            if view.offer.status != Status.EXPIRED:
                return await self._not_waiting(tx, offer_id)
            actor, by = decider
            farthest = now + timedelta(days=self.rules.max_days_ahead)
            if no_time_left(slot.end, now, self.rules.time_to_reach_store) or slot.start > farthest:
                # The choices shown have aged: every copy of the question gets fresh ones.
                seen, fresh = view, NewWindow(self._slots(view, now))
                await self._edit_cards(tx, WINDOW_ASK, offer_id, lambda m: m.window_over(seen, fresh))
                return Press.SLOT_GONE
            offer = view.offer
            shift = slot.start - offer.pickup_start
            moved = await step(
                tx,
                offer_id,
                Action.REOPEN,
                pickup_start=slot.start,
                pickup_end=slot.end,
                deliver_by=offer.deliver_by + shift if offer.deliver_by is not None else None,
                next_wave_at=now,
                expires_at=self.rules.stands_until(now, slot.end),
            )
            if not moved:
                return await self._not_waiting(tx, offer_id)
            detail = (
                f"window={slot.start.isoformat(timespec='minutes')}/{slot.end.isoformat(timespec='minutes')}"
            )
            await tx.events.add(now, actor.encode(), REOPEN_EVENT, detail, offer_id=offer_id)
            view = await offer_view(tx, offer_id)
            assert view is not None
            await self._close_asks(tx, view, lambda m: m.window_given(view, by))
            await self._close_expiry_cards(tx, view)
        await self.send_wave(offer_id)
        return Press.REOPENED

    async def drop_waiting(self, offer_id: int, *, user_id: int, chat_id: int, name: str) -> Press:
        """Cancel order, under the question of a new window: the store's staff or an admin cancel
        an order that waits for one (cancelling closes every copy of the question)."""
        async with self.db.read() as tx:
            view = await offer_view(tx, offer_id)
            decider = await self._decider(tx, view, user_id, chat_id, name)
            if view is None or decider is None:
                return Press.NOT_YOURS
            if view.offer.status == Status.CANCELLED:
                return Press.DONE
            if view.offer.status != Status.EXPIRED:
                return await self._not_waiting(tx, offer_id)
        actor, by = decider
        return await self.cancel(offer_id, actor=actor.encode(), by=by, reason=CancelReason.NO_TIME_LEFT)

    async def _tell_given_back(self, tx: Transaction, view: OfferView, why: Over, driver: Driver) -> None:
        """Tell the store (and, for a no-show, the admins) that an order is offered again; or, with
        no time left in its window, ask them all for a new window."""
        if view.offer.status == Status.OPEN:
            no_show = why is Over.NO_SHOW
            if no_show:
                await self.outbound.tell_admins(tx, lambda m: m.admin_no_show(view, driver))
            await self.outbound.tell_store(
                tx, view.store.id, lambda m: m.store_released(view, no_show=no_show)
            )
            return
        now = self.clock.now()
        await tx.events.add(now, DISPATCH.encode(), EventKind.EXPIRE, NO_TIME_LEFT, offer_id=view.offer.id)
        chats = set(await tx.stores.staff_chats(view.store.id)) | self.admin_ids
        ask = NewWindow(self._slots(view, now), why, driver)
        await self._ask_new_window(tx, view, sorted(chats), ask)
        self.planner.plan(tx, view.offer)

    def _slots(self, view: OfferView, now: datetime) -> tuple[Slot, ...]:
        return tuple(next_slots(now, view.tz, self.rules.time_to_reach_store))

    async def _ask_new_window(
        self, tx: Transaction, view: OfferView, chats: list[int], ask: NewWindow
    ) -> None:
        """Ask for a new window with the next free slots; each copy is kept, to close them all."""
        for chat_id in chats:
            card = await self.outbound.say(tx, chat_id, lambda m: m.window_over(view, ask))
            await tx.cards.add(WINDOW_ASK, view.offer.id, chat_id, card, self.clock.now())

    async def _close_asks(self, tx: Transaction, view: OfferView, render: Render) -> None:
        """Answered (a new window, or the order cancelled, however): every copy of the question
        loses its buttons and says what was done."""
        for card in await tx.cards.take(WINDOW_ASK, view.offer.id):
            await self.outbound.say(tx, card.chat_id, render, edit_of=card.outbox_id)

    async def _tell_expired(self, tx: Transaction, view: OfferView) -> None:
        """Each admin's card of an expired offer, with Re-offer; kept, to close them all."""
        for chat_id in sorted(self.admin_ids):
            card = await self.outbound.say(tx, chat_id, lambda m: m.admin_expired(view))
            await tx.cards.add(EXPIRY_CARD, view.offer.id, chat_id, card, self.clock.now())

    async def _close_expiry_cards(self, tx: Transaction, view: OfferView) -> None:
        """Offered again: no admin's card of its expiry offers Re-offer any more."""
        for card in await tx.cards.take(EXPIRY_CARD, view.offer.id):
            await self.outbound.say(
                tx, card.chat_id, lambda m: m.admin_expired_reoffered(view), edit_of=card.outbox_id
            )

    async def _decider(
        self, tx: Transaction, view: OfferView | None, user_id: int, chat_id: int, name: str
    ) -> tuple[Actor, By] | None:
        """Who may decide about an order waiting for a new window, and how they are named to the
        others: an admin, or the staff of its store; None for anyone else."""
        if view is None:
            return None
        if user_id in self.admin_ids:
            return Actor.admin(user_id), By(name)
        if any(store.id == view.store.id for store in await tx.stores.staffed_by(chat_id)):
            return Actor.clerk(view.store.code, user_id), By(name, view.store.name)
        return None

    async def _not_waiting(self, tx: Transaction, offer_id: int) -> Press:
        """The answer for a button about an expired offer that is no longer expired."""
        offer = await tx.offers.by_id(offer_id)
        if offer is None:
            return Press.NOT_OPEN
        if offer.status == Status.CANCELLED:
            return Press.CANCELLED
        if any(event.kind == REOPEN_EVENT for event in await tx.events.for_offer(offer_id)):
            return Press.REOFFERED_BEFORE
        return Press.NOT_OPEN

    # --- a driver's presses ---

    async def on_arrival(
        self, tx: Transaction, presses: Mapping[tuple[int, int], datetime]
    ) -> dict[tuple[int, int], Verdict]:
        """For Accepts (offer id, pressing Telegram user → when it arrived), the answers that what
        is committed already gives: a refusal (final: it changes nothing), or, in an award window,
        the driver is in and when they will hear (not final: the press is still recorded in its
        turn). An Accept that might win at once (no window) is not in the result."""
        contexts = await tx.notices.press_contexts(list(presses))
        verdicts: dict[tuple[int, int], Verdict] = {}
        for press, context in contexts.items():
            refusal = _refusal(context)
            if refusal is not None:
                verdicts[press] = Verdict(refusal, final=True)
                continue
            if _stood_until(context.offer_status, context.award_at, context.expires_at, presses[press]):
                verdicts[press] = Verdict(Press.EXPIRED, final=True)  # its timer has not run yet
                continue
            window = self.rules.award_window_of(context.award_window_seconds)
            if not window:
                continue
            offer_id, _ = press
            award_at = context.award_at or presses[press] + window
            if context.notice_outcome != ENTERED and context.held >= self.rules.max_offers_held:
                verdicts[press] = Verdict(Press.FULL, final=True)
            elif context.notice_outcome == ENTERED:
                verdicts[press] = Verdict(Entered(offer_id, award_at, context.tz or "UTC"), final=True)
            elif context.award_at is not None and presses[press] > context.award_at:
                verdicts[press] = Verdict(Press.WINDOW_CLOSED, final=True)
            else:
                verdicts[press] = Verdict(Entered(offer_id, award_at, context.tz or "UTC"), final=False)
        return verdicts

    async def enter_all(self, tx: Transaction, presses: Collection[tuple[int, int]], at: datetime) -> int:
        """Collect in their award windows, in bulk, Accepts (offer id, pressing Telegram user) that
        reached the bot at `at` and were answered on arrival that they are in (see on_arrival): the
        same effects as `accept` for each, in a few statements. Returns how many were collected."""
        # The offers whose first Accepts these are are locked first, as `_enter` does one.
        await tx.offers.lock_unopened({offer_id for offer_id, _ in presses})
        entered = await tx.notices.enter_many(presses, at)
        offers = {copy.offer_id for copy in entered}
        for offer_id in sorted(offers):
            view = await offer_view(tx, offer_id)
            assert view is not None
            first = next(copy for copy in entered if copy.offer_id == offer_id)
            window = self.rules.award_window_of(view.area.award_window_seconds)
            opened = await tx.offers.open_award_window(offer_id, at + window)
            if opened is not None:
                await self._window_opened(tx, offer_id, first.driver_id, opened)
        human_min_ms = milliseconds(self.rules.human_min)
        for copy in entered:
            if copy.press_ms is not None and copy.press_ms < human_min_ms:
                driver = await tx.drivers.by_id(copy.driver_id)
                if driver is not None:
                    await self._watch_taps(tx, driver)
        return len(entered)

    async def _window_opened(self, tx: Transaction, offer_id: int, driver_id: int, closes: datetime) -> None:
        """The trail records the window once (each press is kept on its copy, see /why); the award
        is planned for its close."""
        detail = f"closes={closes.isoformat(timespec='seconds')}"
        actor = Actor.driver(driver_id).encode()
        await tx.events.add(self.clock.now(), actor, WINDOW_EVENT, detail, offer_id=offer_id)
        await self._plan(tx, offer_id)

    async def accept(self, offer_id: int, tg_user_id: int, pressed_at: datetime | None = None) -> Pressed:
        """The driver pressed Accept (at `pressed_at`, when it reached the bot; now if not given).
        With no award window the offer is theirs if it is still open and was sent to them; with
        one, their Accept is collected until the window closes (the first opens it)."""
        now = self.clock.now()
        at = pressed_at or now
        async with self.outbound.transaction() as tx:
            driver = await tx.drivers.by_telegram_id(tg_user_id)
            notice = await tx.notices.of(offer_id, driver.id) if driver else None
            if driver is None or notice is None:
                return Press.NOT_YOURS
            if notice.outcome == Outcome.DECLINED:
                return Press.DECLINED_BEFORE
            if driver.status != Account.APPROVED:
                return Press.NOT_APPROVED
            view = await offer_view(tx, offer_id)
            assert view is not None
            if _stood_until(view.offer.status, view.offer.award_at, view.offer.expires_at, at):
                await tx.notices.pressed(notice.id, at)
                return Press.EXPIRED  # pressed after the offer stood: its expiry timer comes next
            window = self.rules.award_window_of(view.area.award_window_seconds)
            if window and view.offer.status == Status.OPEN and notice.outcome in LIVE:
                return await self._enter(tx, view, driver, notice, at, window)
            won = notice.outcome == Outcome.SENT
            if won:
                # The offer's row, then hers (the lock order): her other accepts and awards wait,
                # so what she holds is counted as it stays until this one commits.
                await tx.offers.lock(offer_id)
                locked = await tx.drivers.lock(driver.id)
                if locked is None or locked.status != Account.APPROVED:
                    return Press.NOT_APPROVED  # suspended while this press waited
                driver = locked
                # Her copy as it is now: withdrawn if she went offline while this press waited.
                notice = await tx.notices.of(offer_id, driver.id) or notice
                won = (
                    notice.outcome == Outcome.SENT
                    and len(await tx.offers.held_by(driver.id)) < self.rules.max_offers_held
                )
            if won:
                won = await step(tx, offer_id, Action.ACCEPT, **_taken_by(driver.id, now)) is not None
            await tx.notices.pressed(notice.id, at)
            await self._watch_taps(tx, driver)
            if not won:
                return await self._why_not(tx, offer_id, driver, notice)
            await self._hand_over(tx, offer_id, driver, notice, Actor.driver(driver.id), "", awarded=False)
        return Press.AWARDED

    async def _enter(
        self,
        tx: Transaction,
        view: OfferView,
        driver: Driver,
        notice: Notice,
        at: datetime,
        window: timedelta,
    ) -> Pressed:
        """Collect an Accept in the offer's award window (the first opens it)."""
        offer = view.offer
        if notice.outcome != ENTERED and offer.award_at is None:
            # The first Accept opens the window: the offer's row first (the lock order), so that an
            # expiry, a cancel or a wave of it at the same moment goes wholly before or after.
            locked = await tx.offers.lock(offer.id)
            if locked is None or locked.status != Status.OPEN:
                await tx.notices.pressed(notice.id, at)
                return await self._why_not(tx, offer.id, driver, notice)
            offer = locked
        if notice.outcome == ENTERED:
            assert offer.award_at is not None
            return Entered(offer.id, offer.award_at, view.tz)
        if offer.award_at is not None and at > offer.award_at:
            await tx.notices.pressed(notice.id, at)
            await self._watch_taps(tx, driver)
            return Press.WINDOW_CLOSED
        if len(await tx.offers.held_by(driver.id)) >= self.rules.max_offers_held:
            await tx.notices.pressed(notice.id, at)
            return Press.FULL
        if not await tx.notices.pressed(notice.id, at, to=ENTERED, from_outcome=Outcome.SENT):
            return await self._why_not(tx, offer.id, driver, notice)
        opened = await tx.offers.open_award_window(offer.id, at + window)
        await self._watch_taps(tx, driver)
        if opened is not None:  # this press opened it: the award is due then
            await self._window_opened(tx, offer.id, driver.id, opened)
        award_at = opened or offer.award_at
        if award_at is None:  # opened since this transaction read the offer (PostgreSQL)
            refreshed = await tx.offers.by_id(offer.id)
            award_at = refreshed.award_at if refreshed and refreshed.award_at else at + window
        return Entered(offer.id, award_at, view.tz)

    async def _hand_over(
        self,
        tx: Transaction,
        offer_id: int,
        driver: Driver,
        notice: Notice,
        actor: Actor,
        detail: str,
        *,
        awarded: bool,
    ) -> OfferView:
        """The offer is now the driver's (the accept step of the lifecycle, by their press or by
        an award): their copy becomes the job card, every other live copy says it went to another
        driver (with Why not me? after an award), the store is told, and its deadlines are planned."""
        now = self.clock.now()
        await tx.notices.set_outcome(notice.id, LIVE, Outcome.ACCEPTED)
        await tx.notices.record_award({}, notice.id, now)
        await tx.drivers.count(driver.id, accepted=1)
        await tx.drivers.update(driver.id, timeouts_in_a_row=0)
        await tx.events.add(now, actor.encode(), EventKind.ACCEPT, detail, offer_id=offer_id)
        view = await offer_view(tx, offer_id)
        assert view is not None
        await self._edit_copy(tx, notice, lambda m: m.job_card(view), Lane.INTERACTIVE)
        others = await tx.notices.close_all(offer_id, LIVE, Outcome.TAKEN)
        await self._edit_copies(tx, others, lambda m: m.copy_taken(view, why_button=awarded))
        await self.outbound.tell_store(tx, view.store.id, lambda m: m.store_accepted(view, driver))
        self.planner.plan(tx, view.offer)
        return view

    async def award(self, offer_id: int) -> Award | None:
        """The award window closed: give the offer to the eligible driver who comes first in the
        area's fairness order, in one conditional write, and keep what the award saw of each. None
        if there was nothing to award (done before, cancelled, or not yet due)."""
        await self._wait_for_arrivals(offer_id)
        now = self.clock.now()
        async with self.outbound.transaction() as tx:
            # The offer's row, then its entrants' (the lock order): a second run of the award waits
            # and finds it done, and what each entrant holds stays as counted until this commits.
            if await tx.offers.lock(offer_id) is None:
                return None
            view = await offer_view(tx, offer_id)
            if view is None or view.offer.status != Status.OPEN or view.offer.award_at is None:
                return None
            award_at = view.offer.award_at
            if award_at > now:
                self.planner.plan(tx, view.offer)  # a timer that fired early
                return None
            order = order_of(view.area.fairness_order)
            # The entrants' rows locked, then their copies read as they are now: one who went
            # offline, was suspended, declined or took another offer meanwhile is out.
            locked = await tx.drivers.lock_with_copy(offer_id, ENTERED)
            copies = [
                (notice, driver)
                for notice, driver in await tx.notices.for_offer_with_drivers(offer_id)
                if driver is not None
            ]
            entrants = [
                (notice, driver)
                for notice, driver in copies
                if notice.outcome == ENTERED and driver.id in locked
            ]
            held = await tx.offers.held_counts([driver.id for _, driver in entrants])
            in_area = await tx.drivers.in_area([driver.id for _, driver in entrants], view.area.id)
            outs: dict[int, Out] = {}
            for notice, driver in entrants:
                out = _out_of_award(
                    notice, driver, award_at, held.get(driver.id, 0), self.rules.max_offers_held, in_area
                )
                if out is not None:
                    outs[driver.id] = out
            # Those who pressed in (or after) this window but were never collected, or left it, are
            # kept too, so that Why not me? can tell them why.
            opened = award_at - self.rules.award_window_of(view.area.award_window_seconds)
            passed_over = [
                (notice, driver, out)
                for notice, driver in copies
                if (out := _pressed_but_out(notice, driver, opened, award_at)) is not None
            ]
            standings = await self._standings(
                tx, view, [driver.id for _, driver in entrants if driver.id not in outs]
            )
            ranking = ranked(order, standings)
            places = {standing.driver_id: (rank, standing) for rank, standing in enumerate(ranking, 1)}
            details = {
                notice.id: _award_detail(order, outs.get(driver.id), places.get(driver.id))
                for notice, driver in entrants
            }
            details.update({notice.id: _award_detail(order, out) for notice, _, out in passed_over})
            await tx.notices.record_award(details, None, now)
            if not ranking:
                # Nobody can take it: it stays open (or expires, if its time is up) for the next press.
                await tx.offers.update(offer_id, award_at=None)
                await tx.notices.close_all(offer_id, ENTERED, Outcome.SENT)
                await tx.events.add(
                    now,
                    DISPATCH.encode(),
                    NO_AWARD_EVENT,
                    award_detail(order, award_at, entrants=len(entrants), ranked=0),
                    offer_id=offer_id,
                )
                await self._plan(tx, offer_id)
                return Award(None, len(entrants), 0)
            winner = ranking[0]
            notice, driver = next((n, dr) for n, dr in entrants if dr.id == winner.driver_id)
            taken = await step(tx, offer_id, Action.ACCEPT, **_taken_by(driver.id, now))
            if not taken:
                return None
            deciding = deciding_key(order, winner, ranking[1]) if len(ranking) > 1 else None
            detail = award_detail(order, award_at, entrants=len(entrants), ranked=len(ranking), key=deciding)
            await self._hand_over(tx, offer_id, driver, notice, DISPATCH, detail, awarded=True)
        return Award(driver.id, len(entrants), len(ranking), deciding)

    async def _wait_for_arrivals(self, offer_id: int) -> None:
        """Presses that reached the bot before the window closed count even if their turn to be
        applied has not come yet: wait (a little, at most AWARD_WAIT_TRIES) until none is pending."""
        for _ in range(AWARD_WAIT_TRIES):
            async with self.db.read() as tx:
                offer = await tx.offers.by_id(offer_id)
                if offer is None or offer.award_at is None:
                    return
                if not await tx.inbox.pending_from_before(offer.award_at):
                    return
            await asyncio.sleep(AWARD_WAIT_STEP)

    async def _standings(self, tx: Transaction, view: OfferView, driver_ids: list[int]) -> list[Standing]:
        now = self.clock.now()
        records = await tx.notices.award_records(
            driver_ids, view.area.id, start_of_day(now, view.tz), now - ON_TIME_PERIOD
        )
        standings = []
        for driver_id in driver_ids:
            record = records.get(driver_id)
            on_time = None
            if record is not None and record.pickups:
                on_time = record.pickups_in_time / record.pickups
            standings.append(
                Standing(
                    driver_id,
                    record.won_today if record else 0,
                    record.last_award_at if record else None,
                    on_time,
                    draw(view.offer.id, driver_id),
                )
            )
        return standings

    async def _watch_taps(self, tx: Transaction, driver: Driver) -> None:
        """Tell the admins once when most of a driver's last presses came faster than a person taps.
        Nothing is done to the driver: a person decides."""
        if driver.fast_taps_told_at is not None:
            return
        last = await tx.notices.last_presses(driver.id, FAST_TAP_SAMPLE)
        human_min_ms = milliseconds(self.rules.human_min)
        if not last or last[0] is None or last[0] >= human_min_ms:
            return  # only a fast press can tip the share over
        if len(last) < FAST_TAP_SAMPLE or fast_share(last, human_min_ms) < self.rules.fast_tap_alert_share:
            return
        fast = sum(1 for ms in last if ms is not None and ms < human_min_ms)
        if not await tx.drivers.note_fast_taps(driver.id, self.clock.now()):
            return  # told by another press at the same moment
        await tx.events.add(
            self.clock.now(),
            DISPATCH.encode(),
            EventKind.FAST_TAPS,
            f"driver={driver.id} fast={fast} presses={len(last)}",
        )
        await self.outbound.tell_admins(tx, lambda m: m.admin_fast_taps(driver, fast, len(last)))

    async def _why_not(self, tx: Transaction, offer_id: int, driver: Driver, notice: Notice) -> Press:
        offer = await tx.offers.by_id(offer_id)
        assert offer is not None
        if offer.holder_id == driver.id and offer.status in (Status.ACCEPTED, Status.PICKED_UP):
            return Press.ALREADY_YOURS
        if offer.status == Status.OPEN:
            if notice.outcome == Outcome.WITHDRAWN:
                return Press.WITHDRAWN
            return Press.FULL if notice.outcome in LIVE else Press.NOT_YOURS
        return {
            Status.EXPIRED: Press.EXPIRED,
            Status.CANCELLED: Press.CANCELLED,
        }.get(Status(offer.status), Press.TAKEN)

    async def decline(self, offer_id: int, tg_user_id: int) -> Press:
        """The driver passes on this offer; it is never sent to them again."""
        now = self.clock.now()
        async with self.outbound.transaction() as tx:
            driver = await tx.drivers.by_telegram_id(tg_user_id)
            notice = await tx.notices.of(offer_id, driver.id) if driver else None
            if driver is None or notice is None:
                return Press.NOT_YOURS
            if notice.outcome == Outcome.DECLINED:
                return Press.DECLINED
            offer = await tx.offers.by_id(offer_id)
            if offer is None or offer.status != Status.OPEN or notice.outcome not in LIVE:
                return await self._why_not(tx, offer_id, driver, notice)
            # Her row before her copy (the lock order): an award of this offer at the same moment
            # locks its entrants' rows before their copies, so the two never wait for each other.
            await tx.drivers.lock(driver.id)
            if not await tx.notices.pressed(notice.id, now, to=Outcome.DECLINED, from_outcome=notice.outcome):
                # Her copy moved meanwhile (the offer was taken, or expired): say what happened.
                now_is = await tx.notices.of(offer_id, driver.id) or notice
                if now_is.outcome == Outcome.DECLINED:
                    return Press.DECLINED
                return await self._why_not(tx, offer_id, driver, now_is)
            await self._watch_taps(tx, driver)
            await tx.drivers.count(driver.id, declined=1)
            await tx.drivers.update(driver.id, timeouts_in_a_row=0)
            await tx.events.add(now, Actor.driver(driver.id).encode(), EventKind.DECLINE, offer_id=offer_id)
            view = await offer_view(tx, offer_id)
            assert view is not None
            await self._edit_copy(tx, notice, lambda m: m.copy_declined(view), Lane.INTERACTIVE)
        return Press.DECLINED

    async def release(self, offer_id: int, tg_user_id: int) -> Press:
        """The holder gives the offer back before pickup; it is offered again, never to them."""
        now = self.clock.now()
        async with self.outbound.transaction() as tx:
            driver = await tx.drivers.by_telegram_id(tg_user_id)
            notice = await tx.notices.of(offer_id, driver.id) if driver else None
            if driver is None or notice is None:
                return Press.NOT_YOURS
            given = await self._give_back(tx, offer_id, driver.id)
            if given is None:
                return await self._after_the_fact(tx, offer_id, driver)
            await tx.drivers.count(driver.id, released=1)
            await tx.events.add(now, Actor.driver(driver.id).encode(), EventKind.RELEASE, offer_id=offer_id)
            view = await offer_view(tx, offer_id)
            assert view is not None
            await self._edit_job(tx, notice, lambda m: m.job_released(view))
            await self._tell_given_back(tx, view, Over.RELEASED, driver)
        if given is not Status.OPEN:
            return Press.RELEASED_TOO_LATE
        await self.send_wave(offer_id)
        return Press.RELEASED

    async def _give_back(self, tx: Transaction, offer_id: int, holder_id: int) -> Status | None:
        """The holder no longer holds the offer: it is open again with a fresh acceptance window,
        or, with no time left in its pickup window for another driver, expired until it gets a new
        one; their copy is marked released so it never comes back to them. Returns the new status,
        None if they held it no longer."""
        now = self.clock.now()
        offer = await tx.offers.by_id(offer_id)
        if offer is None:
            return None
        next_wave_at: datetime | None
        if no_time_left(offer.pickup_end, now, self.rules.time_to_reach_store):
            # Given back with no time left for another driver: it expires until a new window.
            action, next_wave_at, expires_at = Action.EXPIRE, None, now
        else:
            action, next_wave_at, expires_at = (
                Action.RELEASE,
                now,
                self.rules.stands_until(now, offer.pickup_end),
            )
        to = await step(
            tx,
            offer_id,
            action,
            only_from=Status.ACCEPTED,
            held_by=holder_id,
            holder_id=None,
            accepted_at=None,
            next_wave_at=next_wave_at,
            expires_at=expires_at,
        )
        if to is None:
            return None
        notice = await tx.notices.of(offer_id, holder_id)
        if notice is not None:
            await tx.notices.set_outcome(notice.id, [Outcome.ACCEPTED], Outcome.RELEASED)
        return to

    async def _after_the_fact(self, tx: Transaction, offer_id: int, driver: Driver) -> Press:
        """The answer for a job-card button whose moment has passed."""
        offer = await tx.offers.by_id(offer_id)
        if offer is not None and offer.status == Status.CANCELLED:
            return Press.CANCELLED
        return Press.NOT_YOURS if offer is None or offer.holder_id != driver.id else Press.DONE

    async def start_pickup(self, offer_id: int, tg_user_id: int) -> Press:
        """Confirm pickup: the offer waits for the store's 4-digit code, typed next."""
        now = self.clock.now()
        async with self.outbound.transaction() as tx:
            driver = await tx.drivers.by_telegram_id(tg_user_id)
            offer = await tx.offers.by_id(offer_id)
            if driver is None or offer is None or offer.holder_id != driver.id:
                return Press.NOT_YOURS
            if offer.status != Status.ACCEPTED:
                return await self._after_the_fact(tx, offer_id, driver)
            if offer.pickup_locked:
                return Press.LOCKED
            # Asked on the offer, not in one slot per driver: two counters may both wait for a code.
            if not await tx.offers.ask_code(offer_id, driver.id, now):  # released meanwhile (a no-show)
                return await self._after_the_fact(tx, offer_id, driver)
            view = await offer_view(tx, offer_id)
            assert view is not None
            await self.outbound.say(tx, driver.chat_id, lambda m: m.ask_pickup_code(view))
        return Press.TYPE_CODE

    async def enter_code(self, tg_user_id: int, typed: str) -> Code:
        """A driver typed a pickup code: it is matched against every offer they are picking up,
        and the right one moves that offer to picked up."""
        now = self.clock.now()
        async with self.outbound.transaction() as tx:
            driver = await tx.drivers.by_telegram_id(tg_user_id)
            held = await tx.offers.held_by(driver.id) if driver is not None else []
            unpicked = [offer for offer in held if offer.status == Status.ACCEPTED]
            waiting = [offer for offer in unpicked if offer.code_asked_at is not None]
            if driver is None or not waiting:
                return Code.NOT_EXPECTED
            open_counters = [offer for offer in waiting if not offer.pickup_locked]
            code = typed.strip()
            if not (len(code) == 4 and code.isdigit()):
                return Code.MALFORMED if open_counters else Code.LOCKED
            actor = Actor.driver(driver.id).encode()
            # The code of any offer not yet picked up counts, asked or not: the driver is at its counter.
            matching = next(
                (
                    offer
                    for offer in unpicked
                    if not offer.pickup_locked and hmac.compare_digest(code, offer.pickup_code)
                ),
                None,
            )
            if matching is None:
                return await self._wrong_code(tx, driver, open_counters) if open_counters else Code.LOCKED
            offer_id = matching.id
            if not await step(tx, offer_id, Action.PICKUP, held_by=driver.id, picked_up_at=now):
                return Code.NOT_EXPECTED
            await tx.events.add(now, actor, EventKind.PICKUP, offer_id=offer_id)
            view = await offer_view(tx, offer_id)
            assert view is not None
            notice = await tx.notices.of(offer_id, driver.id)
            if notice is not None:
                await self._edit_job(tx, notice, lambda m: m.job_picked_up(view))
            card = await self.outbound.say(tx, driver.chat_id, lambda m: m.delivery_card(view))
            await tx.cards.add(CardKind.DELIVERY, offer_id, driver.chat_id, card, now)
            await self._refresh_lists(tx, offer_id)
            await self.outbound.tell_store(tx, view.store.id, lambda m: m.store_picked_up(view))
            self.planner.plan(tx, view.offer)
        return Code.ACCEPTED

    async def _wrong_code(self, tx: Transaction, driver: Driver, waiting: list[Offer]) -> Code:
        """A code that matches none: one wrong try on every offer waiting for a code (so two
        counters give no extra guesses); an offer out of tries locks and the admins are told."""
        now = self.clock.now()
        tries = self.rules.pickup_code_tries
        still_waiting: list[tuple[OfferView, int]] = []
        for offer in waiting:
            wrong = await tx.offers.count_wrong_code(offer.id, tries)
            await tx.events.add(
                now,
                Actor.driver(driver.id).encode(),
                EventKind.PICKUP_CODE_WRONG,
                f"attempt={wrong}",
                offer_id=offer.id,
            )
            view = await offer_view(tx, offer.id)
            assert view is not None
            if wrong >= tries:
                await tx.events.add(now, DISPATCH.encode(), EventKind.PICKUP_LOCKED, offer_id=offer.id)
                await self.outbound.say(tx, driver.chat_id, lambda m: m.pickup_locked(view))  # noqa: B023 - made before say returns
                await self.outbound.tell_admins(tx, lambda m: m.admin_pickup_locked(view))  # noqa: B023 - made before say returns
            else:
                still_waiting.append((view, tries - wrong))
        if not still_waiting:
            return Code.JUST_LOCKED
        views = [view for view, _ in still_waiting]
        tries_left = min(left for _, left in still_waiting)
        await self.outbound.say(tx, driver.chat_id, lambda m: m.wrong_code(views, tries_left))
        return Code.WRONG

    async def deliver(self, offer_id: int, tg_user_id: int) -> Press:
        """The holder delivered the order."""
        now = self.clock.now()
        async with self.outbound.transaction() as tx:
            driver = await tx.drivers.by_telegram_id(tg_user_id)
            if driver is None:
                return Press.NOT_YOURS
            delivered = await step(tx, offer_id, Action.DELIVER, held_by=driver.id, finished_at=now)
            if not delivered:
                return await self._after_the_fact(tx, offer_id, driver)
            await tx.drivers.count(driver.id, delivered=1)
            await tx.drivers.update(driver.id, prompt=Prompt.PROOF, prompt_offer_id=offer_id)
            await tx.events.add(now, Actor.driver(driver.id).encode(), EventKind.DELIVER, offer_id=offer_id)
            view = await offer_view(tx, offer_id)
            assert view is not None
            await self._edit_cards(tx, CardKind.DELIVERY, offer_id, lambda m: m.delivery_closed(view))
            today = await day_tally(tx, driver.id, now, view.tz)
            await self.outbound.say(tx, driver.chat_id, lambda m: m.delivered(view, today))
            await self.outbound.tell_store(tx, view.store.id, lambda m: m.store_delivered(view))
            self.planner.plan(tx, view.offer)
        return Press.DELIVERED

    async def ask_reason(self, offer_id: int, tg_user_id: int) -> Press:
        """Can't deliver: show the reasons to choose from."""
        async with self.outbound.transaction() as tx:
            driver = await tx.drivers.by_telegram_id(tg_user_id)
            offer = await tx.offers.by_id(offer_id)
            if driver is None or offer is None or offer.holder_id != driver.id:
                return Press.NOT_YOURS
            if offer.status != Status.PICKED_UP:
                return Press.DONE
            view = await offer_view(tx, offer_id)
            assert view is not None
            await self._edit_cards(tx, CardKind.DELIVERY, offer_id, lambda m: m.fail_reasons(view))
        return Press.CHOOSE_REASON

    async def fail(self, offer_id: int, tg_user_id: int, reason: FailReason) -> Press:
        """The order cannot be delivered: it goes back to the store; admins are told."""
        now = self.clock.now()
        async with self.outbound.transaction() as tx:
            driver = await tx.drivers.by_telegram_id(tg_user_id)
            if driver is None:
                return Press.NOT_YOURS
            failed = await step(
                tx,
                offer_id,
                Action.FAIL,
                held_by=driver.id,
                finished_at=now,
                failure_reason=reason.value,
            )
            if not failed:
                return await self._after_the_fact(tx, offer_id, driver)
            await tx.events.add(
                now,
                Actor.driver(driver.id).encode(),
                EventKind.FAIL,
                f"reason={reason.value}",
                offer_id=offer_id,
            )
            view = await offer_view(tx, offer_id)
            assert view is not None
            await self._edit_cards(tx, CardKind.DELIVERY, offer_id, lambda m: m.returning(view, reason))
            await self.outbound.tell_admins(tx, lambda m: m.admin_returned(view, reason))
            await self.outbound.tell_store(tx, view.store.id, lambda m: m.store_returning(view, reason))
            self.planner.plan(tx, view.offer)
        return Press.RETURNING

    async def add_proof(self, tg_user_id: int, file_id: str) -> OfferView | None:
        """A photo after delivery is kept (by Telegram file id) as proof."""
        now = self.clock.now()
        async with self.outbound.transaction() as tx:
            driver = await tx.drivers.by_telegram_id(tg_user_id)
            if driver is None or driver.prompt != Prompt.PROOF or driver.prompt_offer_id is None:
                return None
            offer_id = driver.prompt_offer_id
            await tx.offers.update(offer_id, proof_file_id=file_id)
            await tx.drivers.update(driver.id, prompt=None, prompt_offer_id=None)
            await tx.events.add(
                now, Actor.driver(driver.id).encode(), EventKind.PROOF, file_id, offer_id=offer_id
            )
            view = await offer_view(tx, offer_id)
            assert view is not None
            await self.outbound.say(tx, driver.chat_id, lambda m: m.proof_saved(view))
            await self.outbound.tell_store(
                tx, view.store.id, lambda m: m.store_proof(view, file_id), delivery=Delivery.PHOTO
            )
        return view

    async def show_held(self, tg_user_id: int) -> int:
        """/myoffers: a card with the right buttons for each offer the driver holds; returns how many."""
        now = self.clock.now()
        async with self.outbound.transaction() as tx:
            driver = await tx.drivers.by_telegram_id(tg_user_id)
            held = await tx.offers.held_by(driver.id) if driver else []
            for offer in held:
                assert driver is not None
                view = await offer_view(tx, offer.id)
                assert view is not None
                if offer.status == Status.ACCEPTED:
                    card = await self.outbound.say(tx, driver.chat_id, lambda m: m.job_card(view))  # noqa: B023 - made before say returns
                    await tx.cards.add(CardKind.JOB, offer.id, driver.chat_id, card, now)
                else:
                    card = await self.outbound.say(tx, driver.chat_id, lambda m: m.delivery_card(view))  # noqa: B023 - made before say returns
                    await tx.cards.add(CardKind.DELIVERY, offer.id, driver.chat_id, card, now)
        return len(held)

    # --- helpers ---

    async def _edit_copy(self, tx: Transaction, notice: Notice, render: Render, lane: Lane) -> None:
        """Edit a driver's copy of an offer (the edit waits for the copy if it is not sent yet)."""
        target = await tx.notices.outbox_row(notice.id)
        if target is not None:
            await self.outbound.say(tx, notice.chat_id, render, lane=lane, edit_of=target)

    async def _plan(self, tx: Transaction, offer_id: int) -> None:
        offer = await tx.offers.by_id(offer_id)
        if offer is not None:
            self.planner.plan(tx, offer)

    async def _edit_copies(self, tx: Transaction, notices: list[Notice], render: Render) -> None:
        """Edit many drivers' copies at once, in the bulk lane (a fan-out's worth of edits), each
        in its reader's language."""
        targets = await tx.notices.outbox_rows([notice.id for notice in notices])
        sent = [notice for notice in notices if notice.id in targets]
        made = await self.outbound.rendered(tx, [notice.chat_id for notice in sent], render)
        rows = [
            Outgoing(
                notice.chat_id,
                Delivery.EDIT,
                made[notice.chat_id],
                lane=Lane.BULK,
                edit_of=targets[notice.id],
            )
            for notice in sent
        ]
        await tx.outbox.add_many([as_row(row) for row in rows], self.clock.now())

    async def _refresh_lists(self, tx: Transaction, offer_id: int) -> None:
        """The order can no longer be cancelled: every /orders list offering to is shown anew."""
        for card in await tx.cards.take(ORDERS_LIST, offer_id):
            shown, total = await orders_to_show(tx, card.chat_id, self.clock.now())
            await self.outbound.say(
                tx,
                card.chat_id,
                lambda m: m.orders_list(shown, total),  # noqa: B023 - made before say returns
                edit_of=card.outbox_id,
            )

    async def _edit_job(self, tx: Transaction, notice: Notice, render: Render) -> None:
        """Edit the holder's job card: their copy of the offer and any /myoffers card of it."""
        await self._edit_copy(tx, notice, render, Lane.INTERACTIVE)
        await self._edit_cards(tx, CardKind.JOB, notice.offer_id, render)

    async def _edit_cards(self, tx: Transaction, kind: CardKind, subject_id: int, render: Render) -> None:
        """Edit every card of this kind about the subject, and take the buttons off every other
        message that carried the same buttons (a late reminder's Confirm pickup / Release)."""
        for card in await tx.cards.of(kind, subject_id):
            await self.outbound.say(tx, card.chat_id, render, edit_of=card.outbox_id)
        if kind.buttons is None:
            return
        for card in await tx.cards.take(kind.buttons, subject_id):
            await self.outbound.say(
                tx, card.chat_id, lambda _: NO_BUTTONS, delivery=Delivery.BUTTONS, edit_of=card.outbox_id
            )


def _refusal(seen: PressContext) -> Press | None:
    """The answer to an Accept that cannot win, judged from a plain read; None if it might win."""
    if seen.driver_id is None or seen.notice_outcome is None:
        return Press.NOT_YOURS
    if seen.notice_outcome == Outcome.DECLINED:
        return Press.DECLINED_BEFORE
    if seen.driver_status != Account.APPROVED:
        return Press.NOT_APPROVED
    if seen.offer_status == Status.OPEN:
        return Press.WITHDRAWN if seen.notice_outcome == Outcome.WITHDRAWN else None
    if seen.holder_id == seen.driver_id and seen.offer_status in (Status.ACCEPTED, Status.PICKED_UP):
        return Press.ALREADY_YOURS
    return {Status.EXPIRED: Press.EXPIRED, Status.CANCELLED: Press.CANCELLED}.get(
        Status(seen.offer_status or Status.CANCELLED), Press.TAKEN
    )


def _stood_until(
    status: str | None, award_at: datetime | None, expires_at: datetime | None, at: datetime
) -> bool:
    """Whether an Accept at `at` came after the open offer stood (its expiry not yet carried out);
    once an award window is open, the award decides instead."""
    return status == Status.OPEN and award_at is None and expires_at is not None and at >= expires_at


def _taken_by(driver_id: int, now: datetime) -> OfferChanges:
    """The offer's fields as a new holder takes it: its award window (if any) is over, reminders
    and the code asked start afresh."""
    return {
        "holder_id": driver_id,
        "accepted_at": now,
        "award_at": None,
        "next_wave_at": None,
        "pickup_reminded_at": None,
        "late_reminded_at": None,
        "delivery_reminded_at": None,
        "code_asked_at": None,
        # The pickup code's tries are each holder's own: a lock by one who gave it back does not
        # keep the next from picking it up.
        "wrong_codes": 0,
        "pickup_locked": False,
    }


def _out_of_award(
    notice: Notice, driver: Driver, award_at: datetime, held: int, max_held: int, in_area: Collection[int]
) -> Out | None:
    """Why a driver who pressed Accept cannot be awarded the offer now; None if they can."""
    if notice.pressed_at is not None and notice.pressed_at > award_at:
        return Out.LATE
    if driver.status != Account.APPROVED:
        return Out.NOT_APPROVED
    if not driver.online:
        return Out.OFFLINE
    if held >= max_held:
        return Out.FULL
    if driver.id not in in_area:
        return Out.NOT_IN_AREA
    return None


def _pressed_but_out(notice: Notice, driver: Driver, opened: datetime, award_at: datetime) -> Out | None:
    """Why a copy pressed in (or after) this award window was not among its entrants: the press
    came after it closed, the driver was told they held too many, or they left (offline,
    suspended) before it closed; None for a copy not pressed in this window (or an entrant)."""
    if notice.pressed_at is None or notice.pressed_at < opened or notice.outcome == ENTERED:
        return None
    if notice.outcome == Outcome.WITHDRAWN and notice.pressed_at <= award_at:
        return Out.OFFLINE if not driver.online else Out.NOT_APPROVED
    if notice.outcome == Outcome.SENT:
        return Out.LATE if notice.pressed_at > award_at else Out.FULL
    return None


def _reason_detail(reason: str | CancelReason | None) -> str:
    """A cancel's reason in the trail: the domain's as its code, a person's as they typed it."""
    if isinstance(reason, CancelReason):
        return f"reason={reason.value}"
    return reason or ""


def _award_detail(order: Order, out: Out | None, place: tuple[int, Standing] | None = None) -> str:
    """What the award saw of one driver, as kept on their copy (JSON): their rank and their value
    for each key (`place`), or why they were out."""
    if place is None:
        return json.dumps({"order": order, "out": out})
    rank, standing = place
    return json.dumps(
        {
            "order": order,
            "rank": rank,
            Key.WON_TODAY: standing.won_today,
            Key.LAST_AWARD: standing.last_award_at.isoformat() if standing.last_award_at else None,
            Key.ON_TIME: standing.on_time,
            Key.DRAW: standing.draw,
        }
    )


# A copy that may still win its offer: sent and unanswered, or collected in its award window.
ENTERED = Outcome.ENTERED
LIVE = LIVE_OUTCOMES
WINDOW_EVENT = EventKind.WINDOW  # the first Accept opened the offer's award window
# The award waits for presses that arrived in time but were not applied yet: at most this long.
AWARD_WAIT_TRIES = 50
AWARD_WAIT_STEP = 0.1
# How many of a driver's last presses are looked at for fast taps.
FAST_TAP_SAMPLE = 20

# What this module keeps of the questions it asks (cards.kind), to close every copy once answered.
WINDOW_ASK = CardKind.WINDOW_ASK  # no time left in an order's window: give it a new one, or cancel it
EXPIRY_CARD = CardKind.EXPIRED  # an admin's card of an expired offer, with Re-offer
REOPEN_EVENT = EventKind.REOPEN  # an expired offer offered again, in its window or a new one
NO_TIME_LEFT = f"reason={CancelReason.NO_TIME_LEFT.value}"

REMINDERS: dict[Kind, tuple[ReminderColumn, Status]] = {
    Kind.PICKUP_REMINDER: ("pickup_reminded_at", Status.ACCEPTED),
    Kind.LATE: ("late_reminded_at", Status.ACCEPTED),
    Kind.DELIVERY_REMINDER: ("delivery_reminded_at", Status.PICKED_UP),
}


ORDERS_LIST = CardKind.ORDERS  # a store's /orders list, remembered by every order it offers to cancel


def _reminder(m: Messages, kind: Kind, view: OfferView, now: datetime) -> Params:
    """A reminder to the holder: of the pickup ahead, of being late for it, of the delivery due."""
    if kind is Kind.PICKUP_REMINDER:
        return m.pickup_reminder(view, _minutes_until(now, view.offer.pickup_start))
    if kind is Kind.LATE:
        return m.late_reminder(view)
    assert view.offer.deliver_by is not None
    return m.delivery_reminder(view, _minutes_until(now, view.offer.deliver_by))


NO_BUTTONS: dict[str, object] = {"reply_markup": {"inline_keyboard": []}}


def _minutes_until(now: datetime, moment: datetime) -> int:
    return max(0, round((moment - now).total_seconds() / 60))
