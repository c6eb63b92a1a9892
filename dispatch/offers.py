"""The offer lifecycle in use: create, waves, accept or decline, pickup code, delivery, release, expiry."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from dispatch.deadlines import Kind, deadlines_of, no_show_at
from dispatch.lifecycle import Status
from dispatch.localtime import LocalTimeError, local_now_date, to_utc, window_to_utc
from dispatch.orders import OrderLine, pickup_code
from dispatch.outbox import Lane, Outgoing, as_row
from dispatch.views import FailReason, OfferView, day_tally, offer_view
from storage.records import Driver, Notice
from storage.repos import PressContext, Transaction

if TYPE_CHECKING:
    from dispatch.dispatcher import Dispatch


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


class Code(StrEnum):
    """How a typed pickup code turned out."""

    ACCEPTED = "accepted"
    WRONG = "wrong"
    LOCKED = "locked"
    MALFORMED = "malformed"
    NOT_EXPECTED = "not_expected"


@dataclass(frozen=True, slots=True)
class Created:
    """A new offer, or the reasons it could not be made."""

    view: OfferView | None = None
    problems: tuple[str, ...] = ()


class OfferDesk:
    """Every step of an offer's life; each is one transaction and safe to run twice."""

    def __init__(self, dispatch: Dispatch) -> None:
        self.dispatch = dispatch

    # --- create ---

    async def create(
        self, line: OrderLine, *, store_code: str, created_by: int, card_to: int | None = None
    ) -> Created:
        """Create an open offer from an order line, send its card (with the pickup code) to
        `card_to`, and send its first wave."""
        d = self.dispatch
        now = d.clock.now()
        async with d.transaction() as tx:
            store = await tx.stores.by_code(store_code.upper())
            if store is None or not store.active:
                return Created(problems=(f"there is no store {store_code.upper()}",))
            area = await tx.areas.by_id(store.area_id)
            assert area is not None
            today = local_now_date(now, area.tz)
            day = line.day or today
            # Checked before any conversion: a date far ahead (9999-12-31) overflows one.
            if day < today:
                return Created(problems=("that date is in the past",))
            last_day = today + timedelta(days=d.rules.max_days_ahead)
            if day > last_day:
                return Created(
                    problems=(f"pick a date within {d.rules.max_days_ahead} days, by {last_day.isoformat()}",)
                )
            try:
                start, end = window_to_utc(day, line.window_start, line.window_end, area.tz)
                deliver_by = to_utc(day, line.deliver_by, area.tz) if line.deliver_by else None
            except LocalTimeError as error:
                return Created(problems=(str(error),))
            if end <= now:
                return Created(problems=("that pickup window has already ended",))
            if await tx.offers.by_ref(store.id, line.ref) is not None:
                return Created(problems=(f"{store.code} already has an order {line.ref}; use another ref",))
            if deliver_by is not None and deliver_by <= start:
                return Created(problems=("deliver_by must be after the pickup window starts",))
            offer_id = await tx.offers.add(
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
                expires_at=now + d.rules.acceptance_window,
                created_by=created_by,
                created_at=now,
            )
            await tx.events.add(now, f"admin:{created_by}", "open", f"ref {line.ref}", offer_id=offer_id)
            view = await offer_view(tx, offer_id)
            assert view is not None
            if card_to is not None:
                await d.say(tx, card_to, d.messages.admin_offer_card(view))
        await self.send_wave(offer_id)
        return Created(view=view)

    # --- waves and expiry (timers call these) ---

    async def send_wave(self, offer_id: int) -> int:
        """Send the offer to the next drivers in line; returns how many got it."""
        d = self.dispatch
        now = d.clock.now()
        async with d.transaction() as tx:
            view = await offer_view(tx, offer_id)
            if view is None or view.offer.status != Status.OPEN:
                return 0
            expires_at = view.offer.expires_at
            due = view.offer.next_wave_at
            if (expires_at is not None and expires_at <= now) or due is None or due > now:
                d.plan(tx, view.offer)  # expiring instead, or a timer that fired early or twice
                return 0
            drivers = []
            if view.area.active:
                drivers = await tx.drivers.eligible_for(
                    offer_id, view.area.id, max_held=d.rules.max_offers_held, limit=d.rules.wave_size
                )
            wave = view.offer.wave + 1
            for driver in drivers:
                notice = await tx.notices.record(offer_id, driver.id, driver.chat_id, wave, now)
                await d.say(tx, driver.chat_id, d.messages.offer_copy(view), lane=Lane.BULK, notice_id=notice)
                await tx.drivers.update(driver.id, last_offered_at=now)
                await tx.drivers.count(driver.id, offered=1)
            following = now + d.rules.wave_interval
            next_wave_at = following if expires_at is None or following < expires_at else None
            await tx.offers.update(offer_id, wave=wave, next_wave_at=next_wave_at)
            await tx.events.add(
                now, "dispatch", "wave", f"wave {wave} to {len(drivers)} drivers", offer_id=offer_id
            )
            await self._plan(tx, offer_id)
        return len(drivers)

    async def expire(self, offer_id: int) -> bool:
        """The acceptance window ended with no taker: edit every copy, tell the admins."""
        d = self.dispatch
        now = d.clock.now()
        async with d.transaction() as tx:
            offer = await tx.offers.by_id(offer_id)
            if offer is None or offer.status != Status.OPEN or offer.expires_at is None:
                return False
            if offer.expires_at > now:
                d.plan(tx, offer)
                return False
            if not await tx.offers.transition(offer_id, Status.OPEN, Status.EXPIRED, next_wave_at=None):
                return False
            view = await offer_view(tx, offer_id)
            assert view is not None
            unanswered = await tx.notices.close_all(offer_id, "sent", "expired")
            await self._edit_copies(tx, unanswered, d.messages.copy_expired(view))
            for notice in unanswered:
                await self._timed_out(tx, notice.driver_id)
            await tx.events.add(now, "dispatch", "expire", offer_id=offer_id)
            await d.tell_admins(tx, d.messages.admin_expired(view))
            await d.tell_store(tx, view.store.id, d.messages.store_expired(view))
            d.plan(tx, view.offer)
        return True

    async def _timed_out(self, tx: Transaction, driver_id: int) -> None:
        """A copy expired unanswered; too many in a row and the driver is set offline."""
        d = self.dispatch
        await tx.drivers.count(driver_id, timed_out=1, timeouts_in_a_row=1)
        driver = await tx.drivers.by_id(driver_id)
        if driver is None or not driver.online or driver.timeouts_in_a_row < d.rules.auto_offline_after:
            return
        missed = driver.timeouts_in_a_row
        await tx.drivers.set_online(driver_id, False)
        await tx.events.add(d.clock.now(), "dispatch", "auto_offline", f"driver {driver_id} missed {missed}")
        await d.say(tx, driver.chat_id, d.messages.set_offline(missed))

    # --- reminders and the no-show release (timers call these) ---

    async def remind(self, kind: Kind, offer_id: int) -> bool:
        """Send one reminder to the holder at its moment; never twice for the same moment."""
        d = self.dispatch
        now = d.clock.now()
        column, status = REMINDERS[kind]
        async with d.transaction() as tx:
            view = await offer_view(tx, offer_id)
            if view is None or view.holder is None or view.offer.status != status:
                return False
            moment = next(
                (dl.when for dl in deadlines_of(view.offer, d.rules.timing) if dl.kind is kind), None
            )
            if moment is None:
                return False  # already reminded
            if moment > now:
                d.plan(tx, view.offer)  # early: wait for the moment
                return False
            if not await tx.offers.mark_reminded(offer_id, column, status, now):
                return False
            if kind is Kind.PICKUP_REMINDER:
                params = d.messages.pickup_reminder(view, _minutes_until(now, view.offer.pickup_start))
            elif kind is Kind.LATE:
                params = d.messages.late_reminder(view)
            else:
                assert view.offer.deliver_by is not None
                params = d.messages.delivery_reminder(view, _minutes_until(now, view.offer.deliver_by))
            await d.say(tx, view.holder.chat_id, params)
            await tx.events.add(now, "dispatch", kind.value, f"to driver {view.holder.id}", offer_id=offer_id)
        return True

    async def no_show(self, offer_id: int) -> bool:
        """Past the pickup window and its grace, no pickup: release the offer and offer it again."""
        d = self.dispatch
        now = d.clock.now()
        async with d.transaction() as tx:
            view = await offer_view(tx, offer_id)
            if view is None or view.holder is None or view.offer.status != Status.ACCEPTED:
                return False
            if no_show_at(view.offer, d.rules.timing) > now:
                d.plan(tx, view.offer)
                return False
            holder = view.holder
            if not await self._give_back(tx, offer_id, holder.id):
                return False
            notice = await tx.notices.of(offer_id, holder.id)
            if notice is not None:
                await self._edit_job(tx, notice, d.messages.no_show_released(view))
            await tx.drivers.count(holder.id, no_shows=1)
            await tx.events.add(now, "dispatch", "no_show", f"driver {holder.id} released", offer_id=offer_id)
            await d.say(tx, holder.chat_id, d.messages.no_show_released(view))
            await d.tell_admins(tx, d.messages.admin_no_show(view, holder))
            await d.tell_store(tx, view.store.id, d.messages.store_released(view, no_show=True))
        await self.send_wave(offer_id)
        return True

    async def cancel(self, offer_id: int, *, actor: str, by: str, reason: str) -> Press:
        """Cancel an offer not yet picked up (admin or the store): every copy and the store are told."""
        d = self.dispatch
        now = d.clock.now()
        async with d.transaction() as tx:
            before = await offer_view(tx, offer_id)
            if before is None:
                return Press.NOT_YOURS
            cancelled = await tx.offers.transition(
                offer_id,
                [Status.DRAFT, Status.OPEN, Status.ACCEPTED],
                Status.CANCELLED,
                finished_at=now,
                cancel_reason=reason[:200],
                next_wave_at=None,
            )
            if not cancelled:
                return Press.DONE if before.offer.status == Status.CANCELLED else Press.NOT_OPEN
            await tx.events.add(now, actor, "cancel", reason, offer_id=offer_id)
            view = await offer_view(tx, offer_id)
            assert view is not None
            live = await tx.notices.close_all(offer_id, "sent", "cancelled")
            held = await tx.notices.close_all(offer_id, "accepted", "cancelled")
            await self._edit_copies(tx, [*live, *held], d.messages.copy_cancelled(view))
            await self._edit_cards(tx, "job", offer_id, d.messages.copy_cancelled(view))
            if before.holder is not None:
                await tx.drivers.update(before.holder.id, prompt=None, prompt_offer_id=None)
                await d.say(tx, before.holder.chat_id, d.messages.copy_cancelled(view))
            await d.tell_store(tx, view.store.id, d.messages.store_cancelled(view, reason))
            await d.tell_admins(tx, d.messages.admin_cancelled(view, by, reason))
            d.plan(tx, view.offer)
        return Press.CANCELLED

    async def on_deadline(self, kind: Kind, offer_id: int) -> None:
        """A timer fired: call the one transition for its kind (each checks the state first)."""
        if kind is Kind.WAVE:
            await self.send_wave(offer_id)
        elif kind is Kind.EXPIRE:
            await self.expire(offer_id)
        elif kind is Kind.NO_SHOW:
            await self.no_show(offer_id)
        else:
            await self.remind(kind, offer_id)

    async def reopen(self, offer_id: int, admin_id: int) -> Press:
        """An admin offers an expired offer again."""
        d = self.dispatch
        if admin_id not in d.admin_ids:
            return Press.NOT_ADMIN
        now = d.clock.now()
        async with d.transaction() as tx:
            reopened = await tx.offers.transition(
                offer_id,
                Status.EXPIRED,
                Status.OPEN,
                next_wave_at=now,
                expires_at=now + d.rules.acceptance_window,
            )
            if not reopened:
                return Press.NOT_OPEN
            await tx.events.add(now, f"admin:{admin_id}", "reopen", offer_id=offer_id)
        await self.send_wave(offer_id)
        return Press.REOPENED

    # --- a driver's presses ---

    async def accept(self, offer_id: int, tg_user_id: int) -> Press:
        """Award the offer to this driver if it is still open and was sent to them."""
        d = self.dispatch
        # Most presses in a rush lose: a read that waits for no lock answers them at once.
        async with d.db.read() as tx:
            seen = await tx.notices.press_context(offer_id, tg_user_id)
        refusal = _refusal(seen)
        if refusal is not None:
            return refusal
        now = d.clock.now()
        async with d.transaction() as tx:
            driver = await tx.drivers.by_telegram_id(tg_user_id)
            notice = await tx.notices.of(offer_id, driver.id) if driver else None
            if driver is None or notice is None:
                return Press.NOT_YOURS
            if notice.outcome == "declined":
                return Press.DECLINED_BEFORE
            if driver.status != "approved":
                return Press.NOT_APPROVED
            won = (
                notice.outcome == "sent" and len(await tx.offers.held_by(driver.id)) < d.rules.max_offers_held
            )
            if won:
                won = await tx.offers.transition(
                    offer_id,
                    Status.OPEN,
                    Status.ACCEPTED,
                    holder_id=driver.id,
                    accepted_at=now,
                    next_wave_at=None,
                    pickup_reminded_at=None,
                    late_reminded_at=None,
                    delivery_reminded_at=None,
                )
            if not won:
                return await self._why_not(tx, offer_id, driver, notice)
            await tx.notices.set_outcome(notice.id, ["sent"], "accepted")
            await tx.drivers.count(driver.id, accepted=1)
            await tx.drivers.update(driver.id, timeouts_in_a_row=0)
            await tx.events.add(now, f"driver:{driver.id}", "accept", offer_id=offer_id)
            view = await offer_view(tx, offer_id)
            assert view is not None
            await self._edit_copy(tx, notice, d.messages.job_card(view), Lane.INTERACTIVE)
            others = await tx.notices.close_all(offer_id, "sent", "taken")
            await self._edit_copies(tx, others, d.messages.copy_taken(view))
            await d.tell_store(tx, view.store.id, d.messages.store_accepted(view, driver))
            d.plan(tx, view.offer)
        return Press.AWARDED

    async def _why_not(self, tx: Transaction, offer_id: int, driver: Driver, notice: Notice) -> Press:
        offer = await tx.offers.by_id(offer_id)
        assert offer is not None
        if offer.holder_id == driver.id and offer.status in (Status.ACCEPTED, Status.PICKED_UP):
            return Press.ALREADY_YOURS
        if offer.status == Status.OPEN:
            return Press.FULL if notice.outcome == "sent" else Press.NOT_YOURS
        return {
            Status.EXPIRED: Press.EXPIRED,
            Status.CANCELLED: Press.CANCELLED,
        }.get(Status(offer.status), Press.TAKEN)

    async def decline(self, offer_id: int, tg_user_id: int) -> Press:
        """The driver passes on this offer; it is never sent to them again."""
        d = self.dispatch
        now = d.clock.now()
        async with d.transaction() as tx:
            driver = await tx.drivers.by_telegram_id(tg_user_id)
            notice = await tx.notices.of(offer_id, driver.id) if driver else None
            if driver is None or notice is None:
                return Press.NOT_YOURS
            if notice.outcome == "declined":
                return Press.DECLINED
            offer = await tx.offers.by_id(offer_id)
            if offer is None or offer.status != Status.OPEN or notice.outcome != "sent":
                return await self._why_not(tx, offer_id, driver, notice)
            if not await tx.notices.set_outcome(notice.id, ["sent"], "declined"):
                return Press.DECLINED
            await tx.drivers.count(driver.id, declined=1)
            await tx.drivers.update(driver.id, timeouts_in_a_row=0)
            await tx.events.add(now, f"driver:{driver.id}", "decline", offer_id=offer_id)
            view = await offer_view(tx, offer_id)
            assert view is not None
            await self._edit_copy(tx, notice, d.messages.copy_declined(view), Lane.INTERACTIVE)
        return Press.DECLINED

    async def release(self, offer_id: int, tg_user_id: int) -> Press:
        """The holder gives the offer back before pickup; it is offered again, never to them."""
        d = self.dispatch
        now = d.clock.now()
        async with d.transaction() as tx:
            driver = await tx.drivers.by_telegram_id(tg_user_id)
            notice = await tx.notices.of(offer_id, driver.id) if driver else None
            if driver is None or notice is None:
                return Press.NOT_YOURS
            if not await self._give_back(tx, offer_id, driver.id):
                return await self._after_the_fact(tx, offer_id, driver)
            await tx.drivers.count(driver.id, released=1)
            await tx.events.add(now, f"driver:{driver.id}", "release", offer_id=offer_id)
            view = await offer_view(tx, offer_id)
            assert view is not None
            await self._edit_job(tx, notice, d.messages.job_released(view))
            await d.tell_store(tx, view.store.id, d.messages.store_released(view, no_show=False))
        await self.send_wave(offer_id)
        return Press.RELEASED

    async def _give_back(self, tx: Transaction, offer_id: int, holder_id: int) -> bool:
        """The holder no longer holds the offer: it is open again with a fresh acceptance window,
        and their copy is marked released so it never comes back to them."""
        d = self.dispatch
        now = d.clock.now()
        released = await tx.offers.transition(
            offer_id,
            Status.ACCEPTED,
            Status.OPEN,
            held_by=holder_id,
            holder_id=None,
            accepted_at=None,
            next_wave_at=now,
            expires_at=now + d.rules.acceptance_window,
        )
        if released:
            notice = await tx.notices.of(offer_id, holder_id)
            if notice is not None:
                await tx.notices.set_outcome(notice.id, ["accepted"], "released")
            await tx.drivers.update(holder_id, prompt=None, prompt_offer_id=None)
        return released

    async def _after_the_fact(self, tx: Transaction, offer_id: int, driver: Driver) -> Press:
        """The answer for a job-card button whose moment has passed."""
        offer = await tx.offers.by_id(offer_id)
        if offer is None or offer.holder_id != driver.id:
            return Press.NOT_YOURS if offer is None or offer.status != Status.CANCELLED else Press.CANCELLED
        return Press.DONE

    async def start_pickup(self, offer_id: int, tg_user_id: int) -> Press:
        """Confirm pickup: the driver is asked for the store's 4-digit code."""
        d = self.dispatch
        async with d.transaction() as tx:
            driver = await tx.drivers.by_telegram_id(tg_user_id)
            offer = await tx.offers.by_id(offer_id)
            if driver is None or offer is None or offer.holder_id != driver.id:
                return Press.NOT_YOURS
            if offer.status != Status.ACCEPTED:
                return await self._after_the_fact(tx, offer_id, driver)
            if offer.pickup_locked:
                return Press.LOCKED
            await tx.drivers.update(driver.id, prompt="code", prompt_offer_id=offer_id)
            view = await offer_view(tx, offer_id)
            assert view is not None
            await d.say(tx, driver.chat_id, d.messages.ask_pickup_code(view))
        return Press.TYPE_CODE

    async def enter_code(self, tg_user_id: int, typed: str) -> Code:
        """A driver typed a pickup code: the right one moves the offer to picked up."""
        d = self.dispatch
        now = d.clock.now()
        async with d.transaction() as tx:
            driver = await tx.drivers.by_telegram_id(tg_user_id)
            if driver is None or driver.prompt != "code" or driver.prompt_offer_id is None:
                return Code.NOT_EXPECTED
            offer_id = driver.prompt_offer_id
            offer = await tx.offers.by_id(offer_id)
            if offer is None or offer.holder_id != driver.id or offer.status != Status.ACCEPTED:
                await tx.drivers.update(driver.id, prompt=None, prompt_offer_id=None)
                return Code.NOT_EXPECTED
            view = await offer_view(tx, offer_id)
            assert view is not None
            code = typed.strip()
            if offer.pickup_locked:
                return Code.LOCKED
            if not (len(code) == 4 and code.isdigit()):
                return Code.MALFORMED
            actor = f"driver:{driver.id}"
            # A driver holding two offers may type the code of the other one they are picking up.
            matching = [
                held
                for held in await tx.offers.held_by(driver.id)
                if held.status == Status.ACCEPTED
                and not held.pickup_locked
                and hmac.compare_digest(code, held.pickup_code)
            ]
            if matching and matching[0].id != offer_id:
                offer_id, offer = matching[0].id, matching[0]
                view = await offer_view(tx, offer_id)
                assert view is not None
            if not hmac.compare_digest(code, offer.pickup_code):
                wrong = await tx.offers.count_wrong_code(offer_id, d.rules.pickup_code_tries)
                await tx.events.add(now, actor, "pickup_code_wrong", f"attempt {wrong}", offer_id=offer_id)
                if wrong >= d.rules.pickup_code_tries:
                    await tx.drivers.update(driver.id, prompt=None, prompt_offer_id=None)
                    await tx.events.add(now, "dispatch", "pickup_locked", offer_id=offer_id)
                    await d.say(tx, driver.chat_id, d.messages.pickup_locked(view))
                    await d.tell_admins(tx, d.messages.admin_pickup_locked(view))
                    return Code.LOCKED
                await d.say(
                    tx, driver.chat_id, d.messages.wrong_code(view, d.rules.pickup_code_tries - wrong)
                )
                return Code.WRONG
            if not await tx.offers.transition(
                offer_id, Status.ACCEPTED, Status.PICKED_UP, held_by=driver.id, picked_up_at=now
            ):
                return Code.NOT_EXPECTED
            await tx.drivers.update(driver.id, prompt=None, prompt_offer_id=None)
            await tx.events.add(now, actor, "pickup", "code accepted", offer_id=offer_id)
            view = await offer_view(tx, offer_id)
            assert view is not None
            notice = await tx.notices.of(offer_id, driver.id)
            if notice is not None:
                await self._edit_job(tx, notice, d.messages.job_picked_up(view))
            card = await d.say(tx, driver.chat_id, d.messages.delivery_card(view))
            await tx.cards.add("delivery", offer_id, driver.chat_id, card, now)
            await d.tell_store(tx, view.store.id, d.messages.store_picked_up(view))
            d.plan(tx, view.offer)
        return Code.ACCEPTED

    async def deliver(self, offer_id: int, tg_user_id: int) -> Press:
        """The holder delivered the order."""
        d = self.dispatch
        now = d.clock.now()
        async with d.transaction() as tx:
            driver = await tx.drivers.by_telegram_id(tg_user_id)
            if driver is None:
                return Press.NOT_YOURS
            delivered = await tx.offers.transition(
                offer_id, Status.PICKED_UP, Status.DELIVERED, held_by=driver.id, finished_at=now
            )
            if not delivered:
                return await self._after_the_fact(tx, offer_id, driver)
            await tx.drivers.count(driver.id, delivered=1)
            await tx.drivers.update(driver.id, prompt="proof", prompt_offer_id=offer_id)
            await tx.events.add(now, f"driver:{driver.id}", "deliver", offer_id=offer_id)
            view = await offer_view(tx, offer_id)
            assert view is not None
            await self._edit_cards(tx, "delivery", offer_id, d.messages.delivery_closed(view))
            today = await day_tally(tx, driver.id, now, view.tz)
            await d.say(tx, driver.chat_id, d.messages.delivered(view, today))
            await d.tell_store(tx, view.store.id, d.messages.store_delivered(view))
            d.plan(tx, view.offer)
        return Press.DELIVERED

    async def ask_reason(self, offer_id: int, tg_user_id: int) -> Press:
        """Can't deliver: show the reasons to choose from."""
        d = self.dispatch
        async with d.transaction() as tx:
            driver = await tx.drivers.by_telegram_id(tg_user_id)
            offer = await tx.offers.by_id(offer_id)
            if driver is None or offer is None or offer.holder_id != driver.id:
                return Press.NOT_YOURS
            if offer.status != Status.PICKED_UP:
                return Press.DONE
            view = await offer_view(tx, offer_id)
            assert view is not None
            await self._edit_cards(tx, "delivery", offer_id, d.messages.fail_reasons(view))
        return Press.CHOOSE_REASON

    async def fail(self, offer_id: int, tg_user_id: int, reason: FailReason) -> Press:
        """The order cannot be delivered: it goes back to the store; admins are told."""
        d = self.dispatch
        now = d.clock.now()
        async with d.transaction() as tx:
            driver = await tx.drivers.by_telegram_id(tg_user_id)
            if driver is None:
                return Press.NOT_YOURS
            failed = await tx.offers.transition(
                offer_id,
                Status.PICKED_UP,
                Status.RETURNED,
                held_by=driver.id,
                finished_at=now,
                failure_reason=reason.value,
            )
            if not failed:
                return await self._after_the_fact(tx, offer_id, driver)
            await tx.events.add(now, f"driver:{driver.id}", "fail", reason.value, offer_id=offer_id)
            view = await offer_view(tx, offer_id)
            assert view is not None
            await self._edit_cards(tx, "delivery", offer_id, d.messages.returning(view, reason))
            await d.tell_admins(tx, d.messages.admin_returned(view, reason))
            await d.tell_store(tx, view.store.id, d.messages.store_returning(view, reason))
            d.plan(tx, view.offer)
        return Press.RETURNING

    async def add_proof(self, tg_user_id: int, file_id: str) -> OfferView | None:
        """A photo after delivery is kept (by Telegram file id) as proof."""
        d = self.dispatch
        now = d.clock.now()
        async with d.transaction() as tx:
            driver = await tx.drivers.by_telegram_id(tg_user_id)
            if driver is None or driver.prompt != "proof" or driver.prompt_offer_id is None:
                return None
            offer_id = driver.prompt_offer_id
            await tx.offers.update(offer_id, proof_file_id=file_id)
            await tx.drivers.update(driver.id, prompt=None, prompt_offer_id=None)
            await tx.events.add(now, f"driver:{driver.id}", "proof", file_id, offer_id=offer_id)
            view = await offer_view(tx, offer_id)
            assert view is not None
            await d.say(tx, driver.chat_id, d.messages.proof_saved(view))
            await d.tell_store(tx, view.store.id, d.messages.store_proof(view, file_id), method="sendPhoto")
        return view

    async def show_held(self, tg_user_id: int) -> int:
        """/myoffers: a card with the right buttons for each offer the driver holds; returns how many."""
        d = self.dispatch
        now = d.clock.now()
        async with d.transaction() as tx:
            driver = await tx.drivers.by_telegram_id(tg_user_id)
            held = await tx.offers.held_by(driver.id) if driver else []
            for offer in held:
                assert driver is not None
                view = await offer_view(tx, offer.id)
                assert view is not None
                if offer.status == Status.ACCEPTED:
                    card = await d.say(tx, driver.chat_id, d.messages.job_card(view))
                    await tx.cards.add("job", offer.id, driver.chat_id, card, now)
                else:
                    card = await d.say(tx, driver.chat_id, d.messages.delivery_card(view))
                    await tx.cards.add("delivery", offer.id, driver.chat_id, card, now)
        return len(held)

    # --- helpers ---

    async def _edit_copy(
        self, tx: Transaction, notice: Notice, params: dict[str, object], lane: Lane
    ) -> None:
        """Edit a driver's copy of an offer (the edit waits for the copy if it is not sent yet)."""
        target = await tx.notices.outbox_row(notice.id)
        if target is not None:
            await self.dispatch.say(tx, notice.chat_id, params, lane=lane, edit_of=target)

    async def _plan(self, tx: Transaction, offer_id: int) -> None:
        offer = await tx.offers.by_id(offer_id)
        if offer is not None:
            self.dispatch.plan(tx, offer)

    async def _edit_copies(self, tx: Transaction, notices: list[Notice], params: dict[str, object]) -> None:
        """Edit many drivers' copies at once, in the bulk lane (a fan-out's worth of edits)."""
        targets = await tx.notices.outbox_rows([notice.id for notice in notices])
        rows = [
            Outgoing(notice.chat_id, "editMessageText", params, lane=Lane.BULK, edit_of=targets[notice.id])
            for notice in notices
            if notice.id in targets
        ]
        await tx.outbox.add_many([as_row(row) for row in rows], self.dispatch.clock.now())

    async def _edit_job(self, tx: Transaction, notice: Notice, params: dict[str, object]) -> None:
        """Edit the holder's job card: their copy of the offer and any /myoffers card of it."""
        await self._edit_copy(tx, notice, params, Lane.INTERACTIVE)
        await self._edit_cards(tx, "job", notice.offer_id, params)

    async def _edit_cards(
        self, tx: Transaction, kind: str, subject_id: int, params: dict[str, object]
    ) -> None:
        for card in await tx.cards.of(kind, subject_id):
            await self.dispatch.say(tx, card.chat_id, params, edit_of=card.outbox_id)


def _refusal(seen: PressContext) -> Press | None:
    """The answer to an Accept that cannot win, judged from a plain read; None if it might win."""
    if seen.driver_id is None or seen.notice_outcome is None:
        return Press.NOT_YOURS
    if seen.notice_outcome == "declined":
        return Press.DECLINED_BEFORE
    if seen.driver_status != "approved":
        return Press.NOT_APPROVED
    if seen.offer_status == Status.OPEN:
        return None
    if seen.holder_id == seen.driver_id and seen.offer_status in (Status.ACCEPTED, Status.PICKED_UP):
        return Press.ALREADY_YOURS
    return {Status.EXPIRED: Press.EXPIRED, Status.CANCELLED: Press.CANCELLED}.get(
        Status(seen.offer_status or Status.CANCELLED), Press.TAKEN
    )


REMINDERS = {
    Kind.PICKUP_REMINDER: ("pickup_reminded_at", Status.ACCEPTED),
    Kind.LATE: ("late_reminded_at", Status.ACCEPTED),
    Kind.DELIVERY_REMINDER: ("delivery_reminded_at", Status.PICKED_UP),
}


def _minutes_until(now: datetime, moment: datetime) -> int:
    return max(0, round((moment - now).total_seconds() / 60))
