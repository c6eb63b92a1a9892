"""Every text the bot shows, in one place, and the messages the domain asks for (dispatch.messages)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta

from bot import keyboards
from dispatch.actors import Role
from dispatch.admin import TrailEvent
from dispatch.awards import ORDERS, Key, Out
from dispatch.clock import Clock
from dispatch.dispatcher import Person
from dispatch.drivers import Availability, Decision, DriverStatus, Enrollment
from dispatch.lifecycle import Action, Status, sources
from dispatch.localtime import show_time, show_window
from dispatch.messages import Params
from dispatch.offers import Code, Entered, Press, Pressed
from dispatch.orders import format_pay
from dispatch.stats import AreaStats, Stats
from dispatch.views import DayTally, FailReason, OfferView
from dispatch.why import AreaFairness, CopySeen, Explanation, NotYou, WhyNot, shown
from dispatch.windows import NewWindow, Over
from storage.records import Area, Driver, Notice

COMMANDS: list[tuple[str, str]] = [
    ("start", "Start here"),
    ("help", "What you can do"),
    ("status", "Drivers: your day and your offers"),
    ("online", "Drivers: start getting offers"),
    ("offline", "Drivers: stop getting offers"),
    ("myoffers", "Drivers: the offers you hold"),
    ("neworder", "Stores: create an order"),
    ("orders", "Stores: today's orders"),
    ("unlink", "Stores: stop being staff here"),
    ("fairness", "How offers are awarded"),
]
ADMIN_MENU: list[tuple[str, str]] = [
    *COMMANDS[:2],
    ("newoffer", "Create an offer"),
    ("offers", "The offer board"),
    ("offer", "One offer and its trail"),
    ("cancel", "Cancel an offer"),
    ("reopen", "Offer an expired offer again"),
    ("drivers", "Drivers, by status or area"),
    ("driver", "One driver's profile"),
    ("approve", "Approve a driver"),
    ("reject", "Reject a driver"),
    ("suspend", "Suspend a driver"),
    ("reinstate", "Reinstate a driver"),
    ("areas", "Areas"),
    ("area", "Pause or resume an area; its award window and order"),
    ("why", "Why an offer went to whom"),
    ("fairness", "How offers are awarded"),
    ("stores", "Stores"),
    ("addstore", "Add or update a store"),
    ("invite", "Invite link for a store's staff"),
    ("stats", "Numbers and a chart"),
    ("export", "CSV of offers or drivers"),
    ("broadcast", "Message an area's drivers"),
]

WELCOME = (
    "Hi {name}! storerun connects independent drivers with stores at Fashion Show "
    "(Las Vegas), Chandler and Tysons Corner: pick up a packed order at the store, "
    "deliver it nearby, get paid per order."
)
PICK_AREA = "Want to drive with us? Pick your area:"
NO_AREAS = "Driver sign-up is closed right now: no area is taking drivers. Please check back later."
STORE_STAFF_HINT = "Store staff: open the invite link your program admin sent you."
ASK_PHONE = "Got it: {area}. Share your phone so stores can reach you at pickup, or skip."
APPLIED = "Thanks! Your application is with our admins. I'll message you here when it's decided."
ALREADY_APPLIED = "You've already applied. I'll message you here when an admin decides."
NO_SUCH_AREA = "That area isn't taking drivers right now. Pick another one."
DRIVER_BY_STATUS = {
    "pending": "Your driver application is waiting for an admin. I'll tell you here when it's decided.",
    "approved": "You're an approved driver. Offers arrive here with Accept and Decline buttons.",
    "suspended": "Your driver account is suspended, so you get no offers. Ask your program admin.",
    "rejected": "Your driver application was not accepted, so you get no offers. Ask your program admin if this is wrong.",
}
DRIVER_COMMANDS = "/online, /offline · /status: your day · /myoffers: the offers you hold"
STAFF = (
    "You're staff of {stores}. I'll tell you here when a driver accepts, picks up and delivers your orders."
)
ADMIN = "You're a storerun admin."
ADMIN_COMMANDS = (
    "Admin commands:\n/newoffer store=FS-ZARA packages=2 pay=18.50 window=14:00-14:30 zone=89109 "
    'ref=A123 address="…" [date=YYYY-MM-DD] [deliver_by=HH:MM]\n'
    "/offers [open|accepted|today|AREA] · /offer ID · /cancel ID [reason] · /reopen ID\n"
    "/drivers [pending|online|AREA] · /driver ID · /approve ID · /reject ID · /suspend ID · /reinstate ID\n"
    "/areas · /area SLUG on|off · /stores [AREA] · /addstore CODE area=… name=… where=… · /invite CODE\n"
    "/stats [AREA] [DAYS] · /export offers|drivers [DAYS] · /broadcast AREA text…"
)
STAFF_COMMANDS = (
    "/neworder: create an order (in one line, or step by step) · /orders: today's orders · /unlink: leave"
)
HELP_FOOTER = "/help shows this again."
NOT_UNDERSTOOD = "Sorry, I didn't get that. /help shows what you can do."
STALE_BUTTON = "This button is no longer active."
NOT_ALLOWED = "Sorry, that's only for admins."
NOT_A_DRIVER = "You're not a driver yet. Send /start to sign up."
SOMETHING_WENT_WRONG = "Sorry, something went wrong on our side. Please try again in a minute."
NO_OFFERS_HELD = "You hold no offers right now."
OFFER_PROBLEMS = "I couldn't create that offer:\n{problems}\n\nA correct line looks like:\n{example}"
SHARE_OWN_PHONE = "Please share your own phone number with the button below, or tap Skip."
PHONE_OR_SKIP = "Tap Share my phone below, or Skip."
AREA_CHOSEN = "Area saved."
PHOTO_NOT_EXPECTED = "Thanks, but I wasn't expecting a photo. /myoffers shows your offers."
# Offers, jobs and a customer's address never go to a group: whoever is there sees them too.
DRIVERS_IN_PRIVATE = "Driver sign-up and offers work in a private chat with me: open @{bot}."
ADMIN_IN_PRIVATE = "Admin commands work in a private chat with me: open @{bot}."

PRESS_ANSWERS = {
    Press.AWARDED: "It's yours!",
    Press.ALREADY_YOURS: "It's already yours.",
    Press.TAKEN: "Someone else took this one.",
    Press.EXPIRED: "This offer has expired.",
    Press.CANCELLED: "This offer was cancelled.",
    Press.NOT_YOURS: "This offer wasn't sent to you.",
    Press.WITHDRAWN: "You went offline, so this offer was withdrawn. Go online to get offers again.",
    Press.NOT_OPEN: "This offer is no longer open.",
    Press.DECLINED: "Declined. You won't get this one again.",
    Press.DECLINED_BEFORE: "You declined this one.",
    Press.FULL: "You already hold as many offers as you can. Finish one first.",
    Press.NOT_APPROVED: "Your account can't take offers right now.",
    Press.TYPE_CODE: "Type the pickup code.",
    Press.LOCKED: "Pickup is locked for this offer. An admin will contact you.",
    Press.DELIVERED: "Delivered. Thank you!",
    Press.CHOOSE_REASON: "Why can't it be delivered?",
    Press.RETURNING: "Noted. Please bring it back to the store.",
    Press.RELEASED: "Released. It's offered to other drivers.",
    Press.DONE: "That's already done.",
    Press.NOT_ADMIN: NOT_ALLOWED,
    Press.REOPENED: "Offered again.",
    Press.REOFFERED_BEFORE: "It was already offered again.",
    Press.NEW_WINDOW: "There's no time left in its pickup window: pick a new one.",
    Press.SLOT_GONE: "That window leaves no time to get there any more. Pick a later one.",
    Press.RELEASED_TOO_LATE: "Released. It's too late for another driver, so the store picks a new window.",
    Press.WINDOW_CLOSED: "Too late: accepts for this offer closed. It goes to someone who pressed in time.",
}


def press_answer(result: Pressed) -> str:
    """The short answer to a press on an offer: in an award window, when the driver will hear."""
    if isinstance(result, Entered):
        return ENTERED.format(id=result.offer_id, time=show_time(_minute_after(result.award_at), result.tz))
    return PRESS_ANSWERS[result]


ENTERED = "Got it: you're in for #{id}. I'll tell you by {time}."


def _minute_after(moment: datetime) -> datetime:
    """The next whole minute after a moment (a promise "by 2:41 PM" holds for an award at 2:40:30)."""
    return moment.replace(second=0, microsecond=0) + timedelta(minutes=1)


CODE_ANSWERS = {
    Code.MALFORMED: "The pickup code is 4 digits, like 0427. Type it again.",
    Code.LOCKED: "Pickup is locked for this offer after too many wrong codes. An admin will contact you.",
}
DECISION_ANSWERS = {
    Decision.APPROVED: "Approved.",
    Decision.REJECTED: "Rejected.",
    Decision.ALREADY_DECIDED: "Another admin already decided.",
    Decision.NO_SUCH_DRIVER: "There's no such driver.",
    Decision.NOT_ADMIN: NOT_ALLOWED,
}
AVAILABILITY = {
    Availability.ONLINE: "You're online. New offers for your area come here.",
    Availability.OFFLINE: "You're offline. No offers until you go online again.",
    Availability.NOT_A_DRIVER: NOT_A_DRIVER,
}
ENROLLMENT = {
    Enrollment.APPLIED: APPLIED,
    Enrollment.ALREADY_APPLIED: ALREADY_APPLIED,
    Enrollment.NO_SUCH_AREA: NO_SUCH_AREA,
}


def first_name(name: str | None) -> str:
    return (name or "").split()[0] if (name or "").strip() else "there"


def help_for(person: Person, name: str | None) -> str:
    """What this person can do, by each role they hold."""
    parts = []
    if person.is_unknown:
        parts += [WELCOME.format(name=first_name(name)), STORE_STAFF_HINT]
    if person.driver is not None:
        parts.append(DRIVER_BY_STATUS.get(person.driver.status, DRIVER_BY_STATUS["pending"]))
        if person.driver.status == "approved":
            parts.append(DRIVER_COMMANDS)
    if person.stores:
        names = ", ".join(f"{store.name} ({store.code})" for store in person.stores)
        parts += [STAFF.format(stores=names), STAFF_COMMANDS]
    if person.is_admin:
        parts += [ADMIN, ADMIN_COMMANDS]
    parts.append(HELP_FOOTER)
    return "\n\n".join(parts)


def driver_standing(driver: Driver) -> str:
    """Why a driver who is not approved gets no offers."""
    return DRIVER_BY_STATUS.get(driver.status, DRIVER_BY_STATUS["pending"])


def _title(view: OfferView) -> str:
    return f"#{view.offer.id} · {view.store.name} · {format_pay(view.offer.pay_cents)}"


def _where(view: OfferView) -> str:
    return f"{view.store.name}, {view.store.location}" if view.store.location else view.store.name


def pickup_window(view: OfferView, now: datetime) -> str:
    """Every pickup window anyone reads, with its day when that is not today in the store's area."""
    return show_window(view.offer.pickup_start, view.offer.pickup_end, view.tz, now=now)


def plural(count: int, one: str, many: str | None = None) -> str:
    """A count with its noun in the right number: "1 delivery", "2 deliveries", "0 packages"."""
    return f"{count} {one if count == 1 else many or one + 's'}"


def _packages(count: int) -> str:
    return plural(count, "package")


def status_text(status: DriverStatus, now: datetime) -> str:
    """/status: areas, online state, held offers, today's tally."""
    driver = status.driver
    lines = [
        f"{'🟢 Online' if driver.online else '⚪ Offline'} · {', '.join(area.name for area in status.areas) or 'no area'}"
    ]
    if driver.status != "approved":
        lines.append(driver_standing(driver))
    for view in status.held:
        state = "picked up" if view.offer.status == "picked_up" else "to pick up"
        lines.append(
            f"Holding #{view.offer.id} {view.store.name}, pickup {pickup_window(view, now)} ({state})"
        )
    if not status.held:
        lines.append("Holding no offers.")
    lines.append(f"Today: {_deliveries(status.today)}")
    return "\n".join(lines)


def _deliveries(today: DayTally) -> str:
    return f"{plural(today.deliveries, 'delivery', 'deliveries')} · {format_pay(today.pay_cents)}"


def application_text(driver: Driver, areas: Sequence[Area]) -> str:
    handle = f" (@{driver.username})" if driver.username else ""
    return (
        f"🧾 New driver #{driver.id}: {driver.name}{handle}\n"
        f"Area: {', '.join(area.name for area in areas) or '—'}\n"
        f"Phone: {driver.phone or 'not shared'}"
    )


class TelegramMessages:
    """The domain's messages (dispatch.messages.Messages) as Bot API parameters."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock  # what "today" is when a pickup window is shown

    def _window(self, view: OfferView) -> str:
        return pickup_window(view, self.clock.now())

    def application_card(self, driver: Driver, areas: Sequence[Area]) -> Params:
        return {"text": application_text(driver, areas), "reply_markup": keyboards.application(driver.id)}

    def application_decided(
        self, driver: Driver, areas: Sequence[Area], approved: bool, admin_name: str
    ) -> Params:
        verdict = f"✅ Approved by {admin_name}" if approved else f"❌ Rejected by {admin_name}"
        return {"text": f"{application_text(driver, areas)}\n{verdict}"}

    def you_are_approved(self) -> Params:
        return {
            "text": "🎉 You're approved! Go online to start getting offers.",
            "reply_markup": keyboards.availability(online=False),
        }

    def you_are_rejected(self) -> Params:
        return {
            "text": "Sorry, your driver application was not accepted. Ask your program admin if this is wrong."
        }

    def offer_copy(self, view: OfferView) -> Params:
        expires = show_time(view.offer.expires_at, view.tz) if view.offer.expires_at else "taken"
        text = (
            f"📦 New offer {_title(view)}\n"
            f"Pick up at {_where(view)}\n"
            f"{_packages(view.offer.packages)} → zone {view.offer.zone}\n"
            f"Pickup {self._window(view)}\n"
            f"Offer stands until {expires}"
        )
        return {"text": text, "reply_markup": keyboards.offer(view.offer.id)}

    def copy_taken(self, view: OfferView, *, why_button: bool = False) -> Params:
        if why_button:
            return {
                "text": f"Offer {_title(view)}: it went to another driver.",
                "reply_markup": keyboards.why_not(view.offer.id),
            }
        return {"text": f"Offer {_title(view)}: taken by another driver."}

    def copy_declined(self, view: OfferView) -> Params:
        return {"text": f"Offer {_title(view)}: declined."}

    def copy_expired(self, view: OfferView) -> Params:
        return {"text": f"Offer {_title(view)}: expired."}

    def copy_cancelled(self, view: OfferView) -> Params:
        return {"text": f"Offer {_title(view)}: cancelled."}

    def copy_withdrawn(self, view: OfferView) -> Params:
        return {"text": f"Offer {_title(view)}: withdrawn while you're offline."}

    def job_card(self, view: OfferView) -> Params:
        text = (
            f"✅ It's yours: {_title(view)}\n"
            f"Pick up at {_where(view)}\n"
            f"Pickup {self._window(view)} · {_packages(view.offer.packages)} → zone {view.offer.zone}\n"
            f'At the counter say: "storerun pickup for order {view.offer.ref}". '
            f"The store gives you a 4-digit code: press Confirm pickup and type it."
        )
        return {"text": text, "reply_markup": keyboards.job(view.offer.id)}

    def job_released(self, view: OfferView) -> Params:
        again = " It's offered to other drivers." if view.offer.status == Status.OPEN else ""
        return {"text": f"Offer {_title(view)}: you released it.{again}"}

    def ask_pickup_code(self, view: OfferView) -> Params:
        return {
            "text": f"Type the 4-digit pickup code {view.store.name} gives you for order {view.offer.ref}."
        }

    def wrong_code(self, views: Sequence[OfferView], tries_left: int) -> Params:
        tries = f"{plural(tries_left, 'try', 'tries')} left"
        orders = " or ".join(view.offer.ref for view in views)
        return {"text": f"That code doesn't match order {orders}. {tries}. Type it again."}

    def pickup_locked(self, view: OfferView) -> Params:
        return {
            "text": f"🔒 Pickup of #{view.offer.id} is locked after too many wrong codes. An admin will contact you."
        }

    def job_picked_up(self, view: OfferView) -> Params:
        return {"text": f"📦 Picked up: {_title(view)} · order {view.offer.ref}"}

    def delivery_card(self, view: OfferView) -> Params:
        deliver_by = (
            f"\nDeliver by {show_time(view.offer.deliver_by, view.tz)}" if view.offer.deliver_by else ""
        )
        text = (
            f"🚗 Deliver order {view.offer.ref} ({_packages(view.offer.packages)}) · #{view.offer.id}\n"
            f"To: {view.offer.address}\n"
            f"Zone {view.offer.zone}{deliver_by}"
        )
        return {"text": text, "reply_markup": keyboards.delivery(view.offer.id)}

    def fail_reasons(self, view: OfferView) -> Params:
        text = (
            f"Order {view.offer.ref} to {view.offer.address} · #{view.offer.id}\nWhy can't it be delivered?"
        )
        return {"text": text, "reply_markup": keyboards.reasons(view.offer.id)}

    def delivered(self, view: OfferView, today: DayTally) -> Params:
        text = (
            f"✅ Delivered order {view.offer.ref}. Thank you!\n"
            f"Today: {_deliveries(today)}\n"
            "If you took a photo at the door, send it now as proof (optional)."
        )
        return {"text": text}

    def delivery_closed(self, view: OfferView) -> Params:
        return {"text": f"✅ Delivered: order {view.offer.ref} to zone {view.offer.zone} · #{view.offer.id}"}

    def returning(self, view: OfferView, reason: FailReason) -> Params:
        text = (
            f"↩️ Order {view.offer.ref} can't be delivered ({keyboards.REASONS[reason].lower()}).\n"
            f"Please bring it back to {_where(view)}."
        )
        return {"text": text}

    def proof_saved(self, view: OfferView) -> Params:
        return {"text": f"📷 Photo saved as proof for order {view.offer.ref}."}

    def pickup_reminder(self, view: OfferView, minutes: int) -> Params:
        soon = f"in {minutes} min" if minutes > 0 else "now"
        return {
            "text": f"⏰ Pickup at {_where(view)}, {self._window(view)} — {soon}. Order {view.offer.ref}, #{view.offer.id}."
        }

    def late_reminder(self, view: OfferView) -> Params:
        text = (
            f"⚠️ You're late for pickup at {_where(view)} ({self._window(view)}), order {view.offer.ref}. "
            "Release it if you can't make it, so another driver can take it."
        )
        return {"text": text, "reply_markup": keyboards.job(view.offer.id)}

    def no_show_released(self, view: OfferView) -> Params:
        return {
            "text": f"🚫 Offer {_title(view)}: released because it wasn't picked up in its window, "
            f"{self._window(view)}. This counts as a no-show."
        }

    def job_no_show(self, view: OfferView) -> Params:
        return {"text": f"Offer {_title(view)}: no longer yours."}

    def delivery_reminder(self, view: OfferView, minutes: int) -> Params:
        assert view.offer.deliver_by is not None
        soon = f"in {minutes} min" if minutes > 0 else "now"
        by = show_time(view.offer.deliver_by, view.tz)
        return {"text": f"⏰ Deliver order {view.offer.ref} by {by} — {soon}. #{view.offer.id}"}

    def set_offline(self, missed: int) -> Params:
        return {
            "text": f"You missed {plural(missed, 'offer')} in a row, so I set you offline. Tap Go online (or send /online) when you're ready.",
            "reply_markup": keyboards.availability(online=False),
        }

    def admin_no_show(self, view: OfferView, driver: Driver) -> Params:
        return {
            "text": f"🚫 No-show: {driver.name} didn't pick up offer {_title(view)} (ref {view.offer.ref}). It's offered again."
        }

    def admin_cancelled(self, view: OfferView, by: str, reason: str) -> Params:
        return {"text": f"🚫 Offer {_title(view)} (ref {view.offer.ref}) was cancelled by {by}: {reason}"}

    def admin_fast_taps(self, driver: Driver, fast: int, presses: int) -> Params:
        return {
            "text": f"⚡ {driver_line(driver)}: {fast} of their last {presses} presses came faster than a "
            "person taps. Nothing was done; /driver " + str(driver.id) + " shows their record."
        }

    def broadcast(self, area: Area, text: str) -> Params:
        return {"text": f"📣 {area.name}: {text}"}

    def broadcast_done(self, area: Area, sent: int, failed: int) -> Params:
        return {"text": f"📣 Broadcast to {area.name} done: {sent} delivered, {failed} not delivered."}

    def you_are_suspended(self) -> Params:
        return {"text": "Your driver account is suspended, so you get no offers. Ask your program admin."}

    def you_are_reinstated(self) -> Params:
        return {
            "text": "Your driver account is active again. Go online to get offers.",
            "reply_markup": keyboards.availability(online=False),
        }

    def store_accepted(self, view: OfferView, driver: Driver) -> Params:
        text = (
            f"🚗 Order {view.offer.ref}: {first_name(driver.name)} accepted it (#{view.offer.id}).\n"
            f"Pickup {self._window(view)}. Pickup code: {view.offer.pickup_code}. Give it to the driver with the order."
        )
        return {"text": text}

    def store_picked_up(self, view: OfferView) -> Params:
        who = first_name(view.holder.name) if view.holder else "The driver"
        return {"text": f"📦 Order {view.offer.ref}: {who} confirmed pickup (#{view.offer.id})."}

    def store_delivered(self, view: OfferView) -> Params:
        return {"text": f"✅ Order {view.offer.ref}: delivered (#{view.offer.id})."}

    def store_proof(self, view: OfferView, file_id: str) -> Params:
        return {
            "photo": file_id,
            "caption": f"📷 Proof of delivery for order {view.offer.ref} (#{view.offer.id}).",
        }

    def store_released(self, view: OfferView, no_show: bool) -> Params:
        why = "the driver didn't show up" if no_show else "the driver released it"
        return {
            "text": f"↩️ Order {view.offer.ref}: {why}. It's offered to other drivers again (#{view.offer.id})."
        }

    def store_expired(self, view: OfferView) -> Params:
        return {
            "text": f"⌛ Order {view.offer.ref}: no driver took it in time (#{view.offer.id}). The admins can offer it again."
        }

    def store_returning(self, view: OfferView, reason: FailReason) -> Params:
        return {
            "text": f"↩️ Order {view.offer.ref} can't be delivered ({keyboards.REASONS[reason].lower()}); "
            f"the driver is bringing it back (#{view.offer.id})."
        }

    def store_cancelled(self, view: OfferView, reason: str) -> Params:
        return {"text": f"🚫 Order {view.offer.ref} was cancelled (#{view.offer.id}): {reason}"}

    def orders_list(self, views: Sequence[OfferView], total: int) -> Params:
        now = self.clock.now()
        text = "Today's orders:\n" + "\n".join(order_line(view, now) for view in views)
        if total > len(views):
            text += f"\n… and {total - len(views)} more today (those still under way are shown first)."
        cancellable = [view.offer.id for view in views if view.offer.status in sources(Action.CANCEL)]
        markup = keyboards.staff_cancel(cancellable)
        return {"text": text, "reply_markup": markup} if markup else {"text": text}

    def admin_offer_card(self, view: OfferView) -> Params:
        expires = show_time(view.offer.expires_at, view.tz) if view.offer.expires_at else "—"
        text = (
            f"🆕 Offer {_title(view)} ({view.store.code})\n"
            f"Ref {view.offer.ref} · {_packages(view.offer.packages)} · zone {view.offer.zone}\n"
            f"Pickup {self._window(view)}\n"
            f"Pickup code: {view.offer.pickup_code} (the store checks it at the counter)\n"
            f"Offered to drivers until {expires}"
        )
        return {"text": text}

    def admin_expired(self, view: OfferView) -> Params:
        text = f"⌛ Offer {_title(view)} (ref {view.offer.ref}) expired with no driver."
        return {"text": text, "reply_markup": keyboards.reoffer(view.offer.id)}

    def admin_expired_reoffered(self, view: OfferView) -> Params:
        text = (
            f"⌛ Offer {_title(view)} (ref {view.offer.ref}) expired with no driver.\n"
            f"↻ Offered again, pickup {self._window(view)}."
        )
        return {"text": text}

    def window_over(self, view: OfferView, ask: NewWindow) -> Params:
        order = f"order {view.offer.ref} (#{view.offer.id}, {view.store.name})"
        who = first_name(ask.driver.name) if ask.driver else "The driver"
        no_time = (
            f"no time is left for a driver to pick it up in its window, {self._window(view)}, "
            "so it isn't offered to drivers again. Give it a new pickup window, or cancel it."
        )
        if ask.why is Over.NO_SHOW:
            text = f"🚫 No-show: {who} didn't pick up {order}.\nNow {no_time}"
        elif ask.why is Over.RELEASED:
            text = f"↩️ {who} released {order}.\nNow {no_time}"
        else:
            text = f"⌛ O{order[1:]}: {no_time}"
        now = self.clock.now()
        slots = [(show_window(slot.start, slot.end, view.tz, now=now), slot.key) for slot in ask.slots]
        return {"text": text, "reply_markup": keyboards.new_window(view.offer.id, slots)}

    def window_given(self, view: OfferView, by: str) -> Params:
        return {
            "text": f"🕐 New pickup window {self._window(view)} for order {view.offer.ref} "
            f"(#{view.offer.id}, {view.store.name}), set by {by}. It's offered to drivers again."
        }

    def window_dropped(self, view: OfferView, by: str) -> Params:
        order = f"Order {view.offer.ref} (#{view.offer.id}, {view.store.name})"
        return {"text": f"🚫 {order} was cancelled by {by}."}

    def admin_pickup_locked(self, view: OfferView) -> Params:
        who = view.holder.name if view.holder else "the driver"
        return {
            "text": f"🔒 Offer {_title(view)} (ref {view.offer.ref}): pickup locked after wrong codes by {who}."
        }

    def admin_returned(self, view: OfferView, reason: FailReason) -> Params:
        who = view.holder.name if view.holder else "The driver"
        text = (
            f"↩️ Offer {_title(view)} (ref {view.offer.ref}) can't be delivered: "
            f"{keyboards.REASONS[reason].lower()}. {who} is bringing it back to the store."
        )
        return {"text": text}


# --- admin and store views ---

USAGE = {
    "drivers": "/drivers [pending|online|AREA]",
    "driver": "/driver ID",
    "approve": "/approve ID",
    "reject": "/reject ID",
    "suspend": "/suspend ID",
    "reinstate": "/reinstate ID",
    "area": "/area SLUG on|off · /area SLUG award=SECONDS · /area SLUG order=fewest-today|on-time",
    "why": "/why OFFER_ID",
    "stores": "/stores [AREA]",
    "addstore": '/addstore CODE area=SLUG name="Zara" where="Level 1, near Macy\'s"',
    "invite": "/invite STORE-CODE",
    "offers": "/offers [open|accepted|today|AREA]",
    "offer": "/offer ID",
    "cancel": "/cancel ID [reason]",
    "reopen": "/reopen ID",
    "stats": "/stats [AREA] [DAYS]",
    "export": "/export offers|drivers [DAYS]",
    "broadcast": "/broadcast AREA your message…",
    "neworder": '/neworder packages=2 pay=18.50 window=14:00-14:30 zone=89109 ref=A123 address="…" (or /neworder alone, step by step)',
}
WRONG_FORM = "Use it like this: {usage}"
NO_SUCH_AREA_SLUG = "There's no area {slug}. /areas lists them."
NO_SUCH_DRIVER_ID = "There's no driver #{id}."
NO_SUCH_OFFER_ID = "There's no offer #{id}."
NOTHING_FOUND = "Nothing to show."
STANDING_DONE = {
    "suspend": "Driver #{id} is suspended and offline.",
    "reinstate": "Driver #{id} is active again.",
}
STANDING_NOT_NOW = {
    "suspend": "Driver #{id} isn't approved, so there's nothing to suspend.",
    "reinstate": "Driver #{id} isn't suspended.",
}
AREA_SET = "{slug} is now {state}."
STORE_SAVED = "Store {code} saved: {name}, {where} ({area})."
INVITE_LINK = "Invite for {store} ({code}), valid once for {hours} h:\n{link}\nWhoever opens it becomes staff of the store."
LINKED = {
    "linked": "You're now staff of {store}. I'll tell you here about its orders. /help shows what you can do.",
    "already_staff": "You're already staff of {store}.",
    "unknown": "That invite link isn't valid. Ask your program admin for a new one.",
    "used": "That invite link was already used. Ask your program admin for a new one.",
    "expired": "That invite link has expired. Ask your program admin for a new one.",
}
UNLINKED = "You're no longer staff of {codes}."
NOT_STAFF = "You're not linked to any store. Open the invite link your program admin sent you."
NO_ORDERS_TODAY = "No orders today yet. /neworder creates one."
CANCEL_ANSWERS = {
    Press.CANCELLED: "Cancelled.",
    Press.NOT_YOURS: "That's not one of your orders.",
    Press.NOT_OPEN: "It's already picked up or finished, so it can't be cancelled.",
    Press.DONE: "It's already cancelled.",
}
WINDOW_ANSWERS = {  # a new-window button under an order with no time left in its window
    Press.REOPENED: "New window set. It's offered to drivers again.",
    Press.REOFFERED_BEFORE: PRESS_ANSWERS[Press.REOFFERED_BEFORE],
    Press.SLOT_GONE: PRESS_ANSWERS[Press.SLOT_GONE],
    Press.CANCELLED: "This order was cancelled.",
    Press.NOT_YOURS: "That's not one of your orders.",
    Press.NOT_OPEN: "It isn't waiting for a new window.",
}
REOPEN_ANSWERS = {
    Press.REOPENED: "Offered again.",
    Press.REOFFERED_BEFORE: PRESS_ANSWERS[Press.REOFFERED_BEFORE],
    Press.CANCELLED: "It was cancelled.",
    Press.NOT_OPEN: "Only an expired offer can be offered again.",
}
BROADCAST_CONFIRM = "Send this to {drivers} of {area}?\n\n📣 {text}"  # drivers: plural(n, "approved driver")
BROADCAST_QUEUED = "Sending to {drivers}. I'll tell you when it's done."  # drivers: plural(n, "driver")
BROADCAST_GONE = "This broadcast was already sent or dropped."
BROADCAST_DROPPED = "Not sent."
DRAFT_PROMPTS = {
    "store": "New order: which store?",
    "packages": "New order for {store}: how many packages?",
    "window": "Pickup window (local time)? Tap one or type it like 14:00-14:30.",
    "pay": "Pay for the driver, like 18.50?",
    "zone": "Drop-off zone (ZIP code)?",
    "ref": "Your order reference (letters, digits, - or _)?",
    "address": "The customer's address (shown to the driver only after pickup)?",
}
DRAFT_GONE = "There's no order being put together. Send /neworder to start one."
DRAFT_DROPPED = "Order discarded."


# States as people say them; the stored values (picked_up, pending, taken) are codes.
OFFER_STATES: dict[str, str] = {
    Status.DRAFT: "not offered yet",
    Status.OPEN: "waiting for a driver",
    Status.ACCEPTED: "accepted",
    Status.PICKED_UP: "picked up",
    Status.DELIVERED: "delivered",
    Status.RETURNED: "not delivered, returned",
    Status.EXPIRED: "expired",
    Status.CANCELLED: "cancelled",
}
DRIVER_STATES = {
    "pending": "waiting for approval",
    "approved": "approved",
    "suspended": "suspended",
    "rejected": "rejected",
}
COPY_OUTCOMES = {  # what became of one driver's copy of an offer
    "sent": "no answer yet",
    "accepted": "accepted",
    "declined": "declined",
    "released": "accepted, then released",
    "taken": "taken by another driver",
    "expired": "no answer in time",
    "withdrawn": "withdrawn, the driver went offline",
    "cancelled": "offer cancelled",
}


def in_words(states: Mapping[str, str], state: str) -> str:
    """A stored state in the words of `states`; a state added later reads as itself, not as a code."""
    return states.get(state, state.replace("_", " "))


def page_text(shown: Sequence[str], page: int, total: int, title: str) -> str:
    """One page of a list of `total` lines: its title with the count, the page's lines, and where
    it is among the pages."""
    from bot.keyboards import PAGE_SIZE

    last = max(0, (total - 1) // PAGE_SIZE)
    footer = f"\n\nPage {page + 1} of {last + 1}" if last else ""
    return f"{title} ({total})\n" + ("\n".join(shown) if shown else NOTHING_FOUND) + footer


def driver_line(driver: Driver) -> str:
    online = " · online" if driver.online and driver.status == "approved" else ""
    handle = f" @{driver.username}" if driver.username else ""
    return f"#{driver.id} {driver.name}{handle} · {in_words(DRIVER_STATES, driver.status)}{online}"


def driver_profile(
    driver: Driver,
    areas: Sequence[Area],
    on_time_rate: float | None,
    presses: int = 0,
    fast_taps: int = 0,
) -> str:
    """/driver ID: who they are, their counters, and how many of their presses were fast taps."""
    rate = "—" if on_time_rate is None else f"{on_time_rate:.0%}"
    fast = f"{fast_taps} ({fast_taps / presses:.0%})" if presses else "—"
    return (
        f"{driver_line(driver)}\n"
        f"Areas: {', '.join(area.name for area in areas) or '—'} · phone {driver.phone or 'not shared'}\n"
        f"Offered {driver.offered} · accepted {driver.accepted} · declined {driver.declined} · "
        f"timed out {driver.timed_out}\n"
        f"Released {driver.released} · no-shows {driver.no_shows} · delivered {driver.delivered} · "
        f"on-time pickups {rate}\n"
        f"Presses {presses} · fast taps {fast}"
    )


def offer_line(view: OfferView, now: datetime) -> str:
    holder = f" · {view.holder.name}" if view.holder else ""
    return f"#{view.offer.id} {view.store.code} {view.offer.ref} · {in_words(OFFER_STATES, view.offer.status)}{holder} · {pickup_window(view, now)} · {format_pay(view.offer.pay_cents)}"


def short_name(name: str) -> str:
    """A first name and the surname's initial: "Ana Kovač" becomes "Ana K."."""
    words = name.split()
    return f"{words[0]} {words[-1][0]}." if len(words) > 1 else name.strip()


def who_did(step: TrailEvent) -> str:
    """Who did a step of the trail, by role and name: "store FS-ZARA · Mia", "driver Ana K. (#42)"."""
    actor = step.actor
    someone = step.name or f"user {actor.id}"  # acted before storerun kept names
    if actor.role is Role.ADMIN:
        return f"admin {someone}"
    if actor.role is Role.STORE:
        return f"store {actor.store} · {someone}" if actor.store else f"store staff {someone}"
    if actor.role is Role.DRIVER:
        return f"driver {short_name(step.name)} (#{actor.id})" if step.name else f"driver #{actor.id}"
    if actor.role is Role.DISPATCH:
        return "dispatch"
    return actor.encode()


# An offer's copies listed one by one up to this many; beyond it they are counted per outcome and
# only the holders' and the last few are listed, so that the trail always fits in one message.
COPIES_LISTED = 10
LAST_COPIES_LISTED = 5
MESSAGE_LIMIT = 4096  # Telegram's limit for one message's text
HELD_OUTCOMES = ("accepted", "released")


def offer_trail(
    view: OfferView,
    notices: Sequence[tuple[Notice, Driver | None]],
    events: Sequence[TrailEvent],
    now: datetime,
) -> str:
    head = [
        f"Offer #{view.offer.id} · {view.store.name} ({view.store.code}) · ref {view.offer.ref} · {in_words(OFFER_STATES, view.offer.status)}",
        f"{_packages(view.offer.packages)} · zone {view.offer.zone} · {format_pay(view.offer.pay_cents)} · pickup {pickup_window(view, now)}",
        f"Pickup code {view.offer.pickup_code} · wrong codes {view.offer.wrong_codes}",
        "",
        "Copies sent:",
    ]
    trail = ["", "Trail:"]
    for step in events:
        event = step.event
        detail = f": {event.detail}" if event.detail else ""
        trail.append(f"  {show_time(event.at, view.tz)} {event.kind} by {who_did(step)}{detail}")
    text = "\n".join([*head, *_copies_sent(view, notices, listed=True), *trail])
    if len(text) > MESSAGE_LIMIT:  # long names or a long trail: the counts alone, not the trail, give way
        text = "\n".join([*head, *_copies_sent(view, notices, listed=False), *trail])
    return text


def _copies_sent(
    view: OfferView, notices: Sequence[tuple[Notice, Driver | None]], *, listed: bool
) -> list[str]:
    """The copies of an offer: each one, or, when there are many, how many ended each way and
    the ones that matter (whoever accepted it, the last few sent)."""

    def line(notice: Notice, driver: Driver | None) -> str:
        who = driver.name if driver else "?"
        return f"  {show_time(notice.created_at, view.tz)} wave {notice.wave} → {who}: {in_words(COPY_OUTCOMES, notice.outcome)}"

    if not notices or (len(notices) <= COPIES_LISTED and listed):
        return [line(notice, driver) for notice, driver in notices]
    outcomes = Counter(notice.outcome for notice, _ in notices)
    lines = [
        f"  {plural(len(notices), 'copy', 'copies')}: "
        + " · ".join(
            f"{in_words(COPY_OUTCOMES, outcome)} {count}" for outcome, count in outcomes.most_common()
        )
    ]
    if not listed:
        return lines
    held = [pair for pair in notices if pair[0].outcome in HELD_OUTCOMES][-LAST_COPIES_LISTED:]
    shown = {pair[0].id: pair for pair in [*held, *notices[-LAST_COPIES_LISTED:]]}
    lines.append("  whoever accepted it, and the last ones sent:" if held else "  the last ones sent:")
    return lines + [line(*shown[notice_id]) for notice_id in sorted(shown)]


def order_line(view: OfferView, now: datetime) -> str:
    holder = f" · {first_name(view.holder.name)}" if view.holder else ""
    return f"#{view.offer.id} {view.offer.ref} · {in_words(OFFER_STATES, view.offer.status)}{holder} · pickup {pickup_window(view, now)}"


# --- /stats and /export ---

# Spelled out rather than with %b, which follows the process locale.
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
NO_DATA = "—"


def show_days(first: date, last: date) -> str:
    """Local days as "Nov 25", "Nov 19 – Nov 25", or with years when they differ."""
    if first == last:
        return f"{_MONTHS[last.month - 1]} {last.day}"
    if first.year != last.year:
        return f"{_MONTHS[first.month - 1]} {first.day}, {first.year} – {_MONTHS[last.month - 1]} {last.day}, {last.year}"
    return f"{_MONTHS[first.month - 1]} {first.day} – {_MONTHS[last.month - 1]} {last.day}"


def show_duration(seconds: float) -> str:
    """A duration as "45s", "1m 40s" or "2h 5m"."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60}s"
    return f"{whole // 3600}h {whole % 3600 // 60}m"


def _last_days(days: int) -> str:
    return "today" if days == 1 else f"last {days} days"


def _rate(part: int, whole: int) -> str:
    """The share with what it divides, "71% (5 of 7)"; a dash when there is nothing to divide by."""
    return f"{round(part / whole * 100)}% ({part} of {whole})" if whole else NO_DATA


def _fairness_line(area: AreaStats, top_winners: int = 3) -> str | None:
    """How evenly the awards went (the `top_winners` who won the most, each with their share),
    and how many presses were fast taps: "awards 120 to 38 drivers · top #12 9%, #4 8%, #31 7%
    · Gini 0.21 · fast taps 3% of 410 presses"; None when nobody won or pressed."""
    if not area.awards_won and not area.timed_presses:
        return None
    gini = area.awards_gini
    if gini is None:
        awards = "awards none"
    else:
        top = ", ".join(f"#{driver} {round(share * 100)}%" for driver, share in area.top_shares(top_winners))
        awards = f"awards {area.awards} to {plural(area.winners, 'driver')} · top {top} · Gini {gini:.2f}"
    fast = area.fast_tap_share
    taps = (
        NO_DATA
        if fast is None
        else f"{round(fast * 100)}% of {plural(area.timed_presses, 'press', 'presses')}"
    )
    return f"{awards} · fast taps {taps}"


def _stats_block(area: AreaStats, heading: str) -> str:
    median = area.median_accept_seconds
    fairness = _fairness_line(area)
    return (
        f"{heading}\n"
        f"created {area.created} · reopened {area.reopened} · accepted {area.accepted}"
        f" · expired {area.expired} · cancelled {area.cancelled}\n"
        f"released {area.released} · no-shows {area.no_shows} · picked up {area.picked_up}"
        f" · delivered {area.delivered} · returned {area.returned}\n"
        f"accepted before expiry {_rate(area.accepted, area.accepted + area.expired)}"
        f" · median time to accept {NO_DATA if median is None else show_duration(median)}\n"
        f"on-time pickup {_rate(area.picked_up_on_time, area.picked_up)}"
        f" · delivered, not returned {_rate(area.delivered, area.delivered + area.returned)}"
    ) + (f"\n{fairness}" if fairness else "")


def stats_text(stats: Stats) -> str:
    """/stats: one block per area over its local days, then all areas together when there are several."""
    if not stats.areas:
        return f"No areas yet · {_last_days(stats.days)}"
    blocks = [
        _stats_block(area, f"{area.name} ({area.slug}) · {show_days(area.first_day, area.last_day)}")
        for area in stats.areas
    ]
    if len(stats.areas) > 1:
        blocks.append(_stats_block(stats.total, f"All areas · {_last_days(stats.days)}"))
    return "\n\n".join(blocks)


def stats_chart_caption(days: int) -> str:
    return f"Offers by local hour, accepted and expired; time to accept · {_last_days(days)}"


def export_caption(kind: str, days: int) -> str:
    period = "last 24 hours" if days == 1 else f"last {days} days"
    return f"{kind.title()}, {period} · local times with their UTC offset"


EXPORT_TOO_LARGE = (
    "That period is too large to send in one file ({megabytes} MB, over Telegram's {limit} MB); "
    "try fewer days."
)


EXPORT_FAILED = "The export failed; try again."
STATS_FAILED = "The statistics failed; try again."


# --- fairness: the published order, and why an offer went to whom ---

KEY_NAMES = {
    Key.ON_TIME: "best on-time pickup record (last 30 days; none yet counts as 100%)",
    Key.WON_TODAY: "fewest offers won today in the area",
    Key.LAST_AWARD: "longest since their last award in the area (never: first)",
    Key.DRAW: 'a seeded draw: SHA-256 of "OFFER:DRIVER", lowest first (anyone can check it)',
}
KEY_SHORT = {
    Key.ON_TIME: "on time",
    Key.WON_TODAY: "won today",
    Key.LAST_AWARD: "last award",
    Key.DRAW: "draw",
}
OUT_NAMES = {
    Out.NOT_APPROVED: "account not active",
    Out.OFFLINE: "offline",
    Out.FULL: "holding as many offers as a driver may",
    Out.NOT_IN_AREA: "no longer in the area",
    Out.LATE: "pressed after the window closed",
}
WHY_KEY = {
    Key.WON_TODAY: "It went to a driver with fewer offers today (them: {them}, you: {you}).",
    Key.LAST_AWARD: "It went to a driver who had waited longer since their last offer (them: {them}, you: {you}).",
    Key.ON_TIME: "It went to a driver with a better on-time pickup record (them: {them}, you: {you}).",
    Key.DRAW: "You tied on everything else; the seeded draw picked them (them: {them}, you: {you}).",
}
WHY_NOT = {
    NotYou.NOT_SENT: "This offer wasn't sent to you.",
    NotYou.YOURS: "It went to you!",
    NotYou.NOT_DECIDED: "It hasn't gone to anyone yet.",
    NotYou.NOBODY: "It didn't go to anyone.",
    NotYou.NO_PRESS: "You didn't press Accept before it was awarded.",
    NotYou.DECLINED: "You declined it.",
    NotYou.FIRST_PRESS: "It went to the first driver who pressed Accept.",
    NotYou.OUT: "You pressed in time, but when it was awarded you were out: {out}.",
}


def fairness(areas: Sequence[AreaFairness]) -> str:
    """/fairness: how each area awards its offers, the same for everyone."""
    parts = []
    for item in areas:
        if not item.window:
            parts.append(f"{item.area.name}: the first driver to press Accept gets the offer.")
            continue
        keys = "\n".join(f"{index}. {KEY_NAMES[key]}" for index, key in enumerate(ORDERS[item.order], 1))
        parts.append(
            f"{item.area.name}: every Accept in the {_seconds(item.window)} after the first is collected; "
            f"then the offer goes to one of them by this order ({item.order}):\n{keys}"
        )
    parts.append('Pressing fast buys nothing. Ask "Why not me?" on any offer you didn\'t get.')
    return "\n\n".join(parts)


def _seconds(window: timedelta) -> str:
    return f"{window.total_seconds():g} s"


def _key_value(key: Key, value: float | datetime | None, tz: str) -> str:
    if isinstance(value, datetime):
        return show_time(value, tz)
    if value is None:
        return "never" if key is Key.LAST_AWARD else "—"
    if key is Key.ON_TIME:
        return f"{value:.0%}"
    if key is Key.DRAW:
        return f"{value:.3f}"
    return str(int(value))


def why_not(answer: WhyNot) -> str:
    """Why not me?: the reason, naming nobody."""
    if answer.reason is NotYou.KEY and answer.key is not None:
        return WHY_KEY[answer.key].format(
            them=_key_value(answer.key, answer.them, answer.tz),
            you=_key_value(answer.key, answer.you, answer.tz),
        )
    out = OUT_NAMES[answer.out] if answer.out else ""
    return WHY_NOT[answer.reason].format(out=out)


WHY_SHOWN = 30  # copies with a press listed one by one in /why; the rest are counted


def explanation(why: Explanation) -> str:
    """/why for an admin: every copy's press and fairness values, the winner and the deciding key."""
    view, tz = why.view, why.view.tz
    winner = why.winner
    head = f"Why #{view.offer.id} {view.store.code} {view.offer.ref}"
    if winner is not None and winner.driver is not None:
        head += f" went to {short_name(winner.driver.name)} (#{winner.driver.id})"
    elif winner is None:
        head += f" · {in_words(OFFER_STATES, view.offer.status)}, not awarded"
    lines = [head]
    if why.awarded and why.award_at is not None:
        deciding = why.deciding
        lines.append(
            f"Order {why.order} · window closed {show_time(why.award_at, tz)}"
            + (f" · decided by {KEY_SHORT[deciding]}" if deciding else "")
        )
    elif winner is not None:
        lines.append("First Accept wins (no award window).")
    pressed = sorted(
        (copy for copy in why.copies if copy.notice.pressed_at is not None),
        key=lambda copy: (copy.rank or 10**9, copy.notice.pressed_at or copy.notice.created_at),
    )
    for copy in pressed[:WHY_SHOWN]:
        lines.append(_copy_line(why, copy, tz))
    if len(pressed) > WHY_SHOWN:
        lines.append(f"… and {len(pressed) - WHY_SHOWN} more who pressed")
    silent = len(why.copies) - len(pressed)
    if silent:
        lines.append(f"{plural(silent, 'copy', 'copies')} without a press")
    return "\n".join(lines)


def _copy_line(why: Explanation, copy: CopySeen, tz: str) -> str:
    notice, driver = copy.notice, copy.driver
    who = f"{short_name(driver.name)} #{driver.id}" if driver else f"driver #{notice.driver_id}"
    mark = "🏆 " if why.winner is not None and why.winner.notice.id == notice.id else ""
    rank = f"{copy.rank}. " if copy.rank else "– "
    delivered = show_time(notice.delivered_at, tz) if notice.delivered_at else "not delivered"
    press = "pressed"
    if notice.press_ms is not None:
        press += f" +{notice.press_ms / 1000:.2f} s" + (" ⚡" if notice.press_ms < why.human_min_ms else "")
    in_window = why.in_window(copy)
    window = "" if in_window is None else (" · in window" if in_window else " · after the window")
    values = ""
    if copy.standing is not None:
        standing = copy.standing
        values = " · " + " · ".join(
            f"{KEY_SHORT[key]} {_key_value(key, shown(key, standing), tz)}" for key in ORDERS[why.order]
        )
    elif copy.out is not None:
        values = f" · out: {OUT_NAMES[copy.out]}"
    if notice.outcome == "declined":
        press = "declined"
    return f"{rank}{mark}{who} · wave {notice.wave} · delivered {delivered} · {press}{window}{values}"
