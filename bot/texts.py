"""Every text the bot shows, in one place, and the messages the domain asks for (dispatch.messages)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta

from bot import commands, keyboards
from bot.commands import Audience
from bot.i18n import N_, Np_, Words
from dispatch.actors import By, CancelReason, Role
from dispatch.admin import TrailEvent
from dispatch.awards import ORDERS, Key, Order, Out
from dispatch.clock import Clock
from dispatch.dispatcher import Person
from dispatch.drivers import Availability, Decision, DriverStatus, Enrollment
from dispatch.lifecycle import Action, Status, sources
from dispatch.messages import Params
from dispatch.offers import Code, Entered, Press, Pressed
from dispatch.stats import AreaStats, Stats
from dispatch.views import DayTally, FailReason, OfferView
from dispatch.why import AreaFairness, CopySeen, Explanation, NotYou, WhyNot, shown
from dispatch.windows import NewWindow, Over
from storage.records import Account, Area, Driver, EventKind, Language, Notice, Outcome

WELCOME = N_(
    "Hi {name}! storerun connects independent drivers with stores at Fashion Show "
    "(Las Vegas), Chandler and Tysons Corner: pick up a packed order at the store, "
    "deliver it nearby, get paid per order."
)
# Translators: how the bot greets someone whose Telegram profile has no first name ("Hi there!").
THERE = N_("there")
PICK_AREA = N_("Want to drive with us? Pick your area:")
NO_AREAS = N_("Driver sign-up is closed right now: no area is taking drivers. Please check back later.")
STORE_STAFF_HINT = N_("Store staff: open the invite link your program admin sent you.")
ASK_PHONE = N_("Got it: {area}. Share your phone so stores can reach you at pickup, or skip.")
APPLIED = N_("Thanks! Your application is with our admins. I'll message you here when it's decided.")
ALREADY_APPLIED = N_("You've already applied. I'll message you here when an admin decides.")
NO_SUCH_AREA = N_("That area isn't taking drivers right now. Pick another one.")
DRIVER_BY_STATUS: dict[str, str] = {
    Account.PENDING: N_(
        "Your driver application is waiting for an admin. I'll tell you here when it's decided."
    ),
    Account.APPROVED: N_("You're an approved driver. Offers arrive here with Accept and Decline buttons."),
    Account.SUSPENDED: N_("Your driver account is suspended, so you get no offers. Ask your program admin."),
    Account.REJECTED: N_(
        "Your driver application was not accepted, so you get no offers. Ask your program admin if this is wrong."
    ),
}
STAFF = N_(
    "You're staff of {stores}. I'll tell you here when a driver accepts, picks up and delivers your orders."
)
ADMIN = N_("You're a storerun admin.")
HELP_FOOTER = N_("/help shows this again.")
NOT_UNDERSTOOD = N_("Sorry, I didn't get that. /help shows what you can do.")
STALE_BUTTON = N_("This button is no longer active.")
NOT_ALLOWED = N_("Sorry, that's only for admins.")
NOT_A_DRIVER = N_("You're not a driver yet. Send /start to sign up.")
SOMETHING_WENT_WRONG = N_("Sorry, something went wrong on our side. Please try again in a minute.")
NO_OFFERS_HELD = N_("You hold no offers right now.")
OFFER_PROBLEMS = N_("I couldn't create that offer:\n{problems}\n\nA correct line looks like:\n{example}")
SHARE_OWN_PHONE = N_("Please share your own phone number with the button below, or tap Skip.")
PHONE_OR_SKIP = N_("Tap Share my phone below, or Skip.")
AREA_CHOSEN = N_("Area saved.")
PHOTO_NOT_EXPECTED = N_("Thanks, but I wasn't expecting a photo. /myoffers shows your offers.")
# Offers, jobs and a customer's address never go to a group: whoever is there sees them too.
DRIVERS_IN_PRIVATE = N_("Driver sign-up and offers work in a private chat with me: open @{bot}.")
ADMIN_IN_PRIVATE = N_("Admin commands work in a private chat with me: open @{bot}.")

PRESS_ANSWERS = {
    Press.AWARDED: N_("It's yours!"),
    Press.ALREADY_YOURS: N_("It's already yours."),
    Press.TAKEN: N_("Someone else took this one."),
    Press.EXPIRED: N_("This offer has expired."),
    Press.CANCELLED: N_("This offer was cancelled."),
    Press.NOT_YOURS: N_("This offer wasn't sent to you."),
    Press.WITHDRAWN: N_("You went offline, so this offer was withdrawn. Go online to get offers again."),
    Press.NOT_OPEN: N_("This offer is no longer open."),
    Press.DECLINED: N_("Declined. You won't get this one again."),
    Press.DECLINED_BEFORE: N_("You declined this one."),
    Press.FULL: N_("You already hold as many offers as you can. Finish one first."),
    Press.NOT_APPROVED: N_("Your account can't take offers right now."),
    Press.TYPE_CODE: N_("Type the pickup code."),
    Press.LOCKED: N_("Pickup is locked for this offer. An admin will contact you."),
    Press.DELIVERED: N_("Delivered. Thank you!"),
    Press.CHOOSE_REASON: N_("Why can't it be delivered?"),
    Press.RETURNING: N_("Noted. Please bring it back to the store."),
    Press.RELEASED: N_("Released. It's offered to other drivers."),
    Press.DONE: N_("That's already done."),
    Press.NOT_ADMIN: NOT_ALLOWED,
    Press.REOPENED: N_("Offered again."),
    Press.REOFFERED_BEFORE: N_("It was already offered again."),
    Press.NEW_WINDOW: N_("There's no time left in its pickup window: pick a new one."),
    Press.SLOT_GONE: N_("That window leaves no time to get there any more. Pick a later one."),
    Press.RELEASED_TOO_LATE: N_(
        "Released. It's too late for another driver, so the store picks a new window."
    ),
    Press.WINDOW_CLOSED: N_(
        "Too late: accepts for this offer closed. It goes to someone who pressed in time."
    ),
}


def press_answer(t: Texts, result: Pressed) -> str:
    """The short answer to a press on an offer: in an award window, when the driver will hear."""
    if isinstance(result, Entered):
        return t(ENTERED, id=result.offer_id, time=t.time(_minute_after(result.award_at), result.tz))
    return t(PRESS_ANSWERS[result])


ENTERED = N_("Got it: you're in for #{id}. I'll tell you by {time}.")


def _minute_after(moment: datetime) -> datetime:
    """The next whole minute after a moment (a promise "by 2:41 PM" holds for an award at 2:40:30)."""
    return moment.replace(second=0, microsecond=0) + timedelta(minutes=1)


CODE_ANSWERS = {
    Code.MALFORMED: N_("The pickup code is 4 digits, like 0427. Type it again."),
    Code.LOCKED: N_("Pickup is locked for this offer after too many wrong codes. An admin will contact you."),
}
DECISION_ANSWERS = {
    Decision.APPROVED: N_("Approved."),
    Decision.REJECTED: N_("Rejected."),
    Decision.ALREADY_DECIDED: N_("Another admin already decided."),
    Decision.NO_SUCH_DRIVER: N_("There's no such driver."),
    Decision.NOT_ADMIN: NOT_ALLOWED,
}
AVAILABILITY = {
    Availability.ONLINE: N_("You're online. New offers for your area come here."),
    Availability.OFFLINE: N_("You're offline. No offers until you go online again."),
    Availability.NOT_A_DRIVER: NOT_A_DRIVER,
}
ENROLLMENT = {
    Enrollment.APPLIED: APPLIED,
    Enrollment.ALREADY_APPLIED: ALREADY_APPLIED,
    Enrollment.NO_SUCH_AREA: NO_SUCH_AREA,
}


def first_name(t: Words, name: str | None, otherwise: str = THERE) -> str:
    """Someone's first name; `otherwise` (a msgid) for a blank one: "Hi there!" greets, but a
    driver without a name is "The driver" in a store's notice, never "there"."""
    return (name or "").split()[0] if (name or "").strip() else t(otherwise)


THE_STORE = N_("the store")
# Translators: who set a new pickup window or cancelled an order: a clerk's first name and their store.
NAME_AT_STORE = N_("{name} at {store}")
NO_REASON = N_("no reason given")
CANCEL_REASONS = {CancelReason.NO_TIME_LEFT: N_("no time was left in its pickup window")}


def by_words(t: Words, by: By) -> str:
    """Who did it, as the others read it: "Ada", "Mia at Zara", or the store itself."""
    if by.name is None:
        return t(THE_STORE)
    return t(NAME_AT_STORE, name=by.name, store=by.store) if by.store else by.name


def reason_words(t: Words, reason: str | CancelReason | None) -> str:
    """A cancel's reason: the person's own as typed, the domain's in the reader's words, or none."""
    if reason is None:
        return t(NO_REASON)
    return t(CANCEL_REASONS[reason]) if isinstance(reason, CancelReason) else reason


def help_for(t: Texts, person: Person, name: str | None) -> str:
    """What this person can do, by each role they hold."""
    parts = []
    if person.is_unknown:
        parts += [t(WELCOME, name=first_name(t, name)), t(STORE_STAFF_HINT)]
    if person.driver is not None:
        parts.append(driver_standing(t, person.driver))
        if person.driver.status == Account.APPROVED:
            parts.append(commands.help_lines(t, Audience.DRIVERS))
    if person.stores:
        names = ", ".join(f"{store.name} ({store.code})" for store in person.stores)
        parts += [t(STAFF, stores=names), commands.help_lines(t, Audience.STORES)]
    if person.is_admin:
        parts += [t(ADMIN), commands.help_lines(t, Audience.ADMINS)]
    parts += [commands.help_lines(t, Audience.EVERYONE), t(HELP_FOOTER)]
    return "\n\n".join(parts)


def driver_standing(t: Texts, driver: Driver) -> str:
    """Why a driver who is not approved gets no offers."""
    return t(DRIVER_BY_STATUS.get(driver.status, DRIVER_BY_STATUS[Account.PENDING]))


def _title(t: Texts, view: OfferView) -> str:
    return f"#{view.offer.id} · {view.store.name} · {t.pay(view.offer.pay_cents)}"


def _where(view: OfferView) -> str:
    return f"{view.store.name}, {view.store.location}" if view.store.location else view.store.name


def pickup_window(t: Texts, view: OfferView, now: datetime) -> str:
    """Every pickup window anyone reads, with its day when that is not today in the store's area."""
    return t.window(view.offer.pickup_start, view.offer.pickup_end, view.tz, now=now)


# Counts with their noun; `{n}` is the count (/areas counts stores and drivers with these too).
PACKAGES = Np_("{n} package", "{n} packages")
STORES = Np_("{n} store", "{n} stores")
DRIVERS = Np_("{n} driver", "{n} drivers")
TODAY = Np_("Today: {n} delivery · {pay}", "Today: {n} deliveries · {pay}")
ONLINE_NOW = N_("🟢 Online")
OFFLINE_NOW = N_("⚪ Offline")
NO_AREA = N_("no area")
HOLDING = N_("Holding #{id} {store}, pickup {window} ({state})")
HOLDING_NONE = N_("Holding no offers.")
TO_PICK_UP = N_("to pick up")
PICKED_UP = N_("picked up")


def _packages(t: Texts, count: int) -> str:
    return t.n(PACKAGES, count)


def status_text(t: Texts, status: DriverStatus, now: datetime) -> str:
    """/status: areas, online state, held offers, today's tally."""
    driver = status.driver
    areas = ", ".join(area.name for area in status.areas) or t(NO_AREA)
    lines = [f"{t(ONLINE_NOW if driver.online else OFFLINE_NOW)} · {areas}"]
    if driver.status != Account.APPROVED:
        lines.append(driver_standing(t, driver))
    for view in status.held:
        state = t(PICKED_UP if view.offer.status == Status.PICKED_UP else TO_PICK_UP)
        window = pickup_window(t, view, now)
        lines.append(t(HOLDING, id=view.offer.id, store=view.store.name, window=window, state=state))
    if not status.held:
        lines.append(t(HOLDING_NONE))
    lines.append(_today(t, status.today))
    return "\n".join(lines)


def _today(t: Texts, today: DayTally) -> str:
    return t.n(TODAY, today.deliveries, pay=t.pay(today.pay_cents))


NOT_SHARED = N_("not shared")
# An empty list or a number that cannot be worked out (nothing to divide by).
NO_DATA = "—"
APPLICATION = N_("🧾 New driver #{id}: {name}{handle}\nArea: {areas}\nPhone: {phone}")


def application_text(t: Texts, driver: Driver, areas: Sequence[Area]) -> str:
    return t(
        APPLICATION,
        id=driver.id,
        name=driver.name,
        handle=f" (@{driver.username})" if driver.username else "",
        areas=", ".join(area.name for area in areas) or NO_DATA,
        phone=driver.phone or t(NOT_SHARED),
    )


# The reasons a delivery failed, as they read inside a sentence (the buttons say them capitalised).
FAIL_REASONS = {
    FailReason.ABSENT: N_("customer not there"),
    FailReason.ADDRESS: N_("wrong address"),
    FailReason.DAMAGED: N_("damaged"),
    FailReason.OTHER: N_("other"),
}
# Who holds an offer, when their name is not known.
THE_DRIVER = N_("The driver")
THE_DRIVER_LOWER = N_("the driver")


# The messages of the domain's notices and of the admins' views, each named once, so that what
# looks for one (a test, the simulated pilot day) names it rather than copying its English.
ADMIN_CANCELLED = N_("🚫 Offer {title} (ref {ref}) was cancelled by {by}: {reason}")
ADMIN_EXPIRED = N_("⌛ Offer {title} (ref {ref}) expired with no driver.")
ADMIN_EXPIRED_REOFFERED = N_(
    "⌛ Offer {title} (ref {ref}) expired with no driver.\n↻ Offered again, pickup {window}."
)
ADMIN_OFFER_CARD = N_(
    "🆕 Offer {title} ({code})\n"
    "Ref {ref} · {packages} · zone {zone}\n"
    "Pickup {window}\n"
    "Pickup code: {pickup_code} (the store checks it at the counter)\n"
    "Offered to drivers until {expires}"
)
ADMIN_PICKUP_LOCKED = N_("🔒 Offer {title} (ref {ref}): pickup locked after wrong codes by {driver}.")
ADMIN_RETURNED = N_(
    "↩️ Offer {title} (ref {ref}) can't be delivered: {reason}. {driver} is bringing it back to the store."
)
APPROVED_BY = N_("✅ Approved by {admin}")
ASK_FAIL_REASON = N_("Order {ref} to {address} · #{id}\nWhy can't it be delivered?")
ASK_PICKUP_CODE = N_("Type the 4-digit pickup code {store} gives you for order {ref}.")
AWARDS_TO = Np_(
    "awards {awards} to {n} driver · top {top} · Gini {gini}",
    "awards {awards} to {n} drivers · top {top} · Gini {gini}",
)
BROADCAST_DONE = N_("📣 Broadcast to {area} done: {sent} delivered, {failed} not delivered.")
COPIES_COUNTED = Np_("{n} copy: {outcomes}", "{n} copies: {outcomes}")
COPIES_SENT = N_("Copies sent:")
COPY_CANCELLED = N_("Offer {title}: cancelled.")
COPY_DECLINED = N_("Offer {title}: declined.")
COPY_EXPIRED = N_("Offer {title}: expired.")
COPY_LINE = N_("{time} wave {wave} → {driver}: {outcome}")
COPY_TAKEN = N_("Offer {title}: taken by another driver.")
COPY_WENT_ELSEWHERE = N_("Offer {title}: it went to another driver.")
DELIVERED_THANKS = N_(
    "✅ Delivered order {ref}. Thank you!\n"
    "{today}\n"
    "If you took a photo at the door, send it now as proof (optional)."
)
DELIVERY_CARD = N_("🚗 Deliver order {ref} ({packages}) · #{id}\nTo: {address}\nZone {zone}")
DRIVER_RECORD = N_(
    "Areas: {areas} · phone {phone}\n"
    "Offered {offered} · accepted {accepted} · declined {declined} · timed out {timed_out}\n"
    "Released {released} · no-shows {no_shows} · delivered {delivered} · on-time pickups {rate}\n"
    "Presses {presses} · fast taps {fast}"
)
FAIRNESS_LINE = N_("{awards} · fast taps {taps}")
FAIRNESS_ORDER = N_(
    "{area}: every Accept in the {window} after the first is collected; "
    "then the offer goes to one of them by this order ({order}):\n{keys}"
)
FAST_BUYS_NOTHING = N_('Pressing fast buys nothing. Ask "Why not me?" on any offer you didn\'t get.')
IN_WINDOW = N_("in window")
JOB_CARD = N_(
    "✅ It's yours: {title}\n"
    "Pick up at {where}\n"
    "Pickup {window} · {packages} → zone {zone}\n"
    'At the counter say: "storerun pickup for order {ref}". '
    "The store gives you a 4-digit code: press Confirm pickup and type it."
)
JOB_NO_SHOW = N_("Offer {title}: no longer yours.")
JOB_PICKED_UP = N_("📦 Picked up: {title} · order {ref}")
LATE_REMINDER = N_(
    "⚠️ You're late for pickup at {where} ({window}), order {ref}. "
    "Release it if you can't make it, so another driver can take it."
)
NO_SHOW_RELEASED = N_(
    "🚫 Offer {title}: released because it wasn't picked up in its window, "
    "{window}. This counts as a no-show."
)
OFFER_COPY = N_(
    "📦 New offer {title}\n"
    "Pick up at {where}\n"
    "{packages} → zone {zone}\n"
    "Pickup {window}\n"
    "Offer stands until {expires}"
)
ORDER_LINE = N_("#{id} {ref} · {state}{holder} · pickup {window}")
PAGE_OF = N_("Page {page} of {pages}")
PICKUP_LOCKED = N_("🔒 Pickup of #{id} is locked after too many wrong codes. An admin will contact you.")
PICKUP_REMINDER = N_("⏰ Pickup at {where}, {window} — in {minutes} min. Order {ref}, #{id}.")
PRESSES = Np_("{percent} of {n} press", "{percent} of {n} presses")
PROOF_SAVED = N_("📷 Photo saved as proof for order {ref}.")
REJECTED_BY = N_("❌ Rejected by {admin}")
RELEASED = N_("Offer {title}: you released it.")
RELEASED_REOFFERED = N_("Offer {title}: you released it. It's offered to other drivers.")
RETURNING = N_("↩️ Order {ref} can't be delivered ({reason}).\nPlease bring it back to {where}.")
SECONDS = N_("{seconds} s")
SET_OFFLINE = Np_(
    "You missed {n} offer in a row, so I set you offline. Tap Go online (or send /online) when you're ready.",
    "You missed {n} offers in a row, so I set you offline. "
    "Tap Go online (or send /online) when you're ready.",
)
STATS_BLOCK = N_(
    "created {created} · reopened {reopened} · accepted {accepted}"
    " · expired {expired} · cancelled {cancelled}\n"
    "released {released} · no-shows {no_shows} · picked up {picked_up}"
    " · delivered {delivered} · returned {returned}\n"
    "accepted before expiry {accepted_rate} · median time to accept {median}\n"
    "on-time pickup {on_time_rate} · delivered, not returned {delivered_rate}"
)
STORE_ACCEPTED = N_(
    "🚗 Order {ref}: {driver} accepted it (#{id}).\n"
    "Pickup {window}. Pickup code: {code}. Give it to the driver with the order."
)
STORE_CANCELLED = N_("🚫 Order {ref} was cancelled (#{id}): {reason}")
STORE_DELIVERED = N_("✅ Order {ref}: delivered (#{id}).")
STORE_EXPIRED = N_("⌛ Order {ref}: no driver took it in time (#{id}). The admins can offer it again.")
STORE_PICKED_UP = N_("📦 Order {ref}: {driver} confirmed pickup (#{id}).")
STORE_PROOF = N_("📷 Proof of delivery for order {ref} (#{id}).")
STORE_RELEASED = N_("↩️ Order {ref}: the driver released it. It's offered to other drivers again (#{id}).")
STORE_RETURNING = N_("↩️ Order {ref} can't be delivered ({reason}); the driver is bringing it back (#{id}).")
TODAYS_ORDERS = N_("Today's orders:")
TRAIL = N_("Trail:")
TRAIL_HEAD = N_("Offer #{id} · {store} ({code}) · ref {ref} · {state}")
TRAIL_STEP = N_("{time} {kind} by {who}")
WHO_ADMIN = N_("admin {name}")
WHO_DISPATCH = N_("dispatch")
WHO_DRIVER = N_("driver {name} (#{id})")
WHO_STORE = N_("store {store} · {name}")
WHY_AWARDED = N_("Why #{id} {code} {ref} went to {name} (#{driver})")
WHY_DECIDED_BY = N_("Order {order} · window closed {time} · decided by {key}")
WINDOW_DROPPED = N_("🚫 Order {ref} (#{id}, {store}) was cancelled by {by}.")
WINDOW_GIVEN = N_(
    "🕐 New pickup window {window} for order {ref} (#{id}, {store}), set by {by}. "
    "It's offered to drivers again."
)
WINDOW_OVER_NO_SHOW = N_(
    "🚫 No-show: {driver} didn't pick up order {ref} (#{id}, {store}).\n"
    "Now no time is left for a driver to pick it up in its window, {window}, "
    "so it isn't offered to drivers again. Give it a new pickup window, or cancel it."
)
WINDOW_OVER_RELEASED = N_(
    "↩️ {driver} released order {ref} (#{id}, {store}).\n"
    "Now no time is left for a driver to pick it up in its window, {window}, "
    "so it isn't offered to drivers again. Give it a new pickup window, or cancel it."
)
WRONG_CODE = Np_(
    "That code doesn't match order {orders}. {n} try left. Type it again.",
    "That code doesn't match order {orders}. {n} tries left. Type it again.",
)
YOU_ARE_APPROVED = N_("🎉 You're approved! Go online to start getting offers.")
YOU_ARE_REINSTATED = N_("Your driver account is active again. Go online to get offers.")
YOU_ARE_REJECTED = N_(
    "Sorry, your driver application was not accepted. Ask your program admin if this is wrong."
)


class Texts(Words):
    """The domain's messages (dispatch.messages.Messages) as Bot API parameters, in one language."""

    def __init__(self, language: Language, clock: Clock) -> None:
        super().__init__(language)
        self._clock = clock  # what "today" is when a pickup window is shown

    def _window(self, view: OfferView) -> str:
        return pickup_window(self, view, self._clock.now())

    def application_card(self, driver: Driver, areas: Sequence[Area]) -> Params:
        return {
            "text": application_text(self, driver, areas),
            "reply_markup": keyboards.application(self, driver.id),
        }

    def application_decided(
        self, driver: Driver, areas: Sequence[Area], approved: bool, admin_name: str
    ) -> Params:
        verdict = APPROVED_BY if approved else REJECTED_BY
        return {"text": f"{application_text(self, driver, areas)}\n{self(verdict, admin=admin_name)}"}

    def you_are_approved(self) -> Params:
        return {
            "text": self(YOU_ARE_APPROVED),
            "reply_markup": keyboards.availability(self, online=False),
        }

    def you_are_rejected(self) -> Params:
        return {"text": self(YOU_ARE_REJECTED)}

    def offer_copy(self, view: OfferView) -> Params:
        offer = view.offer
        text = self(
            OFFER_COPY,
            title=_title(self, view),
            where=_where(view),
            packages=_packages(self, offer.packages),
            zone=offer.zone,
            window=self._window(view),
            expires=self.time(offer.expires_at, view.tz) if offer.expires_at else self(N_("taken")),
        )
        return {"text": text, "reply_markup": keyboards.offer(self, offer.id)}

    def copy_taken(self, view: OfferView, *, why_button: bool = False) -> Params:
        title = _title(self, view)
        if why_button:
            return {
                "text": self(COPY_WENT_ELSEWHERE, title=title),
                "reply_markup": keyboards.why_not(self, view.offer.id),
            }
        return {"text": self(COPY_TAKEN, title=title)}

    def copy_declined(self, view: OfferView) -> Params:
        return {"text": self(COPY_DECLINED, title=_title(self, view))}

    def copy_expired(self, view: OfferView) -> Params:
        return {"text": self(COPY_EXPIRED, title=_title(self, view))}

    def copy_cancelled(self, view: OfferView) -> Params:
        return {"text": self(COPY_CANCELLED, title=_title(self, view))}

    def copy_withdrawn(self, view: OfferView) -> Params:
        return {"text": self(N_("Offer {title}: withdrawn while you're offline."), title=_title(self, view))}

    def job_card(self, view: OfferView) -> Params:
        offer = view.offer
        text = self(
            JOB_CARD,
            title=_title(self, view),
            where=_where(view),
            window=self._window(view),
            packages=_packages(self, offer.packages),
            zone=offer.zone,
            ref=offer.ref,
        )
        return {"text": text, "reply_markup": keyboards.job(self, offer.id)}

    def job_released(self, view: OfferView) -> Params:
        text = RELEASED_REOFFERED if view.offer.status == Status.OPEN else RELEASED
        return {"text": self(text, title=_title(self, view))}

    def ask_pickup_code(self, view: OfferView) -> Params:
        return {
            "text": self(
                ASK_PICKUP_CODE,
                store=view.store.name,
                ref=view.offer.ref,
            )
        }

    def wrong_code(self, views: Sequence[OfferView], tries_left: int) -> Params:
        text = self.n(
            WRONG_CODE,
            tries_left,
            orders=self.either([view.offer.ref for view in views]),
        )
        return {"text": text}

    def pickup_locked(self, view: OfferView) -> Params:
        return {
            "text": self(
                PICKUP_LOCKED,
                id=view.offer.id,
            )
        }

    def job_picked_up(self, view: OfferView) -> Params:
        return {"text": self(JOB_PICKED_UP, title=_title(self, view), ref=view.offer.ref)}

    def delivery_card(self, view: OfferView) -> Params:
        offer = view.offer
        text = self(
            DELIVERY_CARD,
            ref=offer.ref,
            packages=_packages(self, offer.packages),
            id=offer.id,
            address=offer.address,
            zone=offer.zone,
        )
        if offer.deliver_by:
            text += "\n" + self(N_("Deliver by {time}"), time=self.time(offer.deliver_by, view.tz))
        return {"text": text, "reply_markup": keyboards.delivery(self, offer.id)}

    def fail_reasons(self, view: OfferView) -> Params:
        text = self(
            ASK_FAIL_REASON,
            ref=view.offer.ref,
            address=view.offer.address,
            id=view.offer.id,
        )
        return {"text": text, "reply_markup": keyboards.reasons(self, view.offer.id)}

    def delivered(self, view: OfferView, today: DayTally) -> Params:
        text = self(
            DELIVERED_THANKS,
            ref=view.offer.ref,
            today=_today(self, today),
        )
        return {"text": text}

    def delivery_closed(self, view: OfferView) -> Params:
        return {
            "text": self(
                N_("✅ Delivered: order {ref} to zone {zone} · #{id}"),
                ref=view.offer.ref,
                zone=view.offer.zone,
                id=view.offer.id,
            )
        }

    def returning(self, view: OfferView, reason: FailReason) -> Params:
        text = self(
            RETURNING,
            ref=view.offer.ref,
            reason=self(FAIL_REASONS[reason]),
            where=_where(view),
        )
        return {"text": text}

    def proof_saved(self, view: OfferView) -> Params:
        return {"text": self(PROOF_SAVED, ref=view.offer.ref)}

    def pickup_reminder(self, view: OfferView, minutes: int) -> Params:
        if minutes > 0:
            text = PICKUP_REMINDER
        else:
            text = N_("⏰ Pickup at {where}, {window} — now. Order {ref}, #{id}.")
        return {
            "text": self(
                text,
                where=_where(view),
                window=self._window(view),
                minutes=minutes,
                ref=view.offer.ref,
                id=view.offer.id,
            )
        }

    def late_reminder(self, view: OfferView) -> Params:
        text = self(
            LATE_REMINDER,
            where=_where(view),
            window=self._window(view),
            ref=view.offer.ref,
        )
        return {"text": text, "reply_markup": keyboards.job(self, view.offer.id)}

    def no_show_released(self, view: OfferView) -> Params:
        return {
            "text": self(
                NO_SHOW_RELEASED,
                title=_title(self, view),
                window=self._window(view),
            )
        }

    def job_no_show(self, view: OfferView) -> Params:
        return {"text": self(JOB_NO_SHOW, title=_title(self, view))}

    def delivery_reminder(self, view: OfferView, minutes: int) -> Params:
        assert view.offer.deliver_by is not None
        if minutes > 0:
            text = N_("⏰ Deliver order {ref} by {time} — in {minutes} min. #{id}")
        else:
            text = N_("⏰ Deliver order {ref} by {time} — now. #{id}")
        by = self.time(view.offer.deliver_by, view.tz)
        return {"text": self(text, ref=view.offer.ref, time=by, minutes=minutes, id=view.offer.id)}

    def set_offline(self, missed: int) -> Params:
        text = self.n(
            SET_OFFLINE,
            missed,
        )
        return {"text": text, "reply_markup": keyboards.availability(self, online=False)}

    def admin_no_show(self, view: OfferView, driver: Driver) -> Params:
        return {
            "text": self(
                N_("🚫 No-show: {driver} didn't pick up offer {title} (ref {ref}). It's offered again."),
                driver=driver.name,
                title=_title(self, view),
                ref=view.offer.ref,
            )
        }

    def admin_cancelled(self, view: OfferView, by: By, reason: str | CancelReason | None) -> Params:
        return {
            "text": self(
                ADMIN_CANCELLED,
                title=_title(self, view),
                ref=view.offer.ref,
                by=by_words(self, by),
                reason=reason_words(self, reason),
            )
        }

    def admin_fast_taps(self, driver: Driver, fast: int, presses: int) -> Params:
        text = self.n(
            Np_(
                "⚡ {driver}: {fast} of their last {n} press came faster than a person taps. "
                "Nothing was done; /driver {id} shows their record.",
                "⚡ {driver}: {fast} of their last {n} presses came faster than a person taps. "
                "Nothing was done; /driver {id} shows their record.",
            ),
            presses,
            driver=driver_line(self, driver),
            fast=fast,
            id=driver.id,
        )
        return {"text": text}

    def broadcast(self, area: Area, text: str) -> Params:
        return {"text": f"📣 {area.name}: {text}"}

    def broadcast_done(self, area: Area, sent: int, failed: int) -> Params:
        return {
            "text": self(
                BROADCAST_DONE,
                area=area.name,
                sent=sent,
                failed=failed,
            )
        }

    def you_are_suspended(self) -> Params:
        return {"text": self(DRIVER_BY_STATUS[Account.SUSPENDED])}

    def you_are_reinstated(self) -> Params:
        return {
            "text": self(YOU_ARE_REINSTATED),
            "reply_markup": keyboards.availability(self, online=False),
        }

    def store_accepted(self, view: OfferView, driver: Driver) -> Params:
        text = self(
            STORE_ACCEPTED,
            ref=view.offer.ref,
            driver=first_name(self, driver.name, THE_DRIVER),
            id=view.offer.id,
            window=self._window(view),
            code=view.offer.pickup_code,
        )
        return {"text": text}

    def store_picked_up(self, view: OfferView) -> Params:
        who = first_name(self, view.holder.name, THE_DRIVER) if view.holder else self(THE_DRIVER)
        return {
            "text": self(
                STORE_PICKED_UP,
                ref=view.offer.ref,
                driver=who,
                id=view.offer.id,
            )
        }

    def store_delivered(self, view: OfferView) -> Params:
        return {"text": self(STORE_DELIVERED, ref=view.offer.ref, id=view.offer.id)}

    def store_proof(self, view: OfferView, file_id: str) -> Params:
        return {
            "photo": file_id,
            "caption": self(STORE_PROOF, ref=view.offer.ref, id=view.offer.id),
        }

    def store_released(self, view: OfferView, no_show: bool) -> Params:
        if no_show:
            text = N_(
                "↩️ Order {ref}: the driver didn't show up. It's offered to other drivers again (#{id})."
            )
        else:
            text = STORE_RELEASED
        return {"text": self(text, ref=view.offer.ref, id=view.offer.id)}

    def store_expired(self, view: OfferView) -> Params:
        return {
            "text": self(
                STORE_EXPIRED,
                ref=view.offer.ref,
                id=view.offer.id,
            )
        }

    def store_returning(self, view: OfferView, reason: FailReason) -> Params:
        return {
            "text": self(
                STORE_RETURNING,
                ref=view.offer.ref,
                reason=self(FAIL_REASONS[reason]),
                id=view.offer.id,
            )
        }

    def store_cancelled(self, view: OfferView, reason: str | CancelReason | None) -> Params:
        return {
            "text": self(
                STORE_CANCELLED,
                ref=view.offer.ref,
                id=view.offer.id,
                reason=reason_words(self, reason),
            )
        }

    def orders_list(self, views: Sequence[OfferView], total: int) -> Params:
        now = self._clock.now()
        text = self(TODAYS_ORDERS) + "\n" + "\n".join(order_line(self, view, now) for view in views)
        if total > len(views):
            text += "\n" + self(
                N_("… and {count} more today (those still under way are shown first)."),
                count=total - len(views),
            )
        cancellable = [view.offer.id for view in views if view.offer.status in sources(Action.CANCEL)]
        markup = keyboards.staff_cancel(self, cancellable)
        return {"text": text, "reply_markup": markup} if markup else {"text": text}

    def admin_offer_card(self, view: OfferView) -> Params:
        offer = view.offer
        text = self(
            ADMIN_OFFER_CARD,
            title=_title(self, view),
            code=view.store.code,
            ref=offer.ref,
            packages=_packages(self, offer.packages),
            zone=offer.zone,
            window=self._window(view),
            pickup_code=offer.pickup_code,
            expires=self.time(offer.expires_at, view.tz) if offer.expires_at else NO_DATA,
        )
        return {"text": text}

    def admin_expired(self, view: OfferView) -> Params:
        text = self(
            ADMIN_EXPIRED,
            title=_title(self, view),
            ref=view.offer.ref,
        )
        return {"text": text, "reply_markup": keyboards.reoffer(self, view.offer.id)}

    def admin_expired_reoffered(self, view: OfferView) -> Params:
        text = self(
            ADMIN_EXPIRED_REOFFERED,
            title=_title(self, view),
            ref=view.offer.ref,
            window=self._window(view),
        )
        return {"text": text}

    def window_over(self, view: OfferView, ask: NewWindow) -> Params:
        if ask.why is Over.NO_SHOW:
            text = WINDOW_OVER_NO_SHOW
        elif ask.why is Over.RELEASED:
            text = WINDOW_OVER_RELEASED
        else:
            text = N_(
                "⌛ Order {ref} (#{id}, {store}): "
                "no time is left for a driver to pick it up in its window, {window}, "
                "so it isn't offered to drivers again. Give it a new pickup window, or cancel it."
            )
        said = self(
            text,
            driver=first_name(self, ask.driver.name, THE_DRIVER) if ask.driver else self(THE_DRIVER),
            ref=view.offer.ref,
            id=view.offer.id,
            store=view.store.name,
            window=self._window(view),
        )
        now = self._clock.now()
        slots = [(self.window(slot.start, slot.end, view.tz, now=now), slot.key) for slot in ask.slots]
        return {"text": said, "reply_markup": keyboards.new_window(self, view.offer.id, slots)}

    def window_given(self, view: OfferView, by: By) -> Params:
        return {
            "text": self(
                WINDOW_GIVEN,
                window=self._window(view),
                ref=view.offer.ref,
                id=view.offer.id,
                store=view.store.name,
                by=by_words(self, by),
            )
        }

    def window_dropped(self, view: OfferView, by: By) -> Params:
        return {
            "text": self(
                WINDOW_DROPPED,
                ref=view.offer.ref,
                id=view.offer.id,
                store=view.store.name,
                by=by_words(self, by),
            )
        }

    def admin_pickup_locked(self, view: OfferView) -> Params:
        return {
            "text": self(
                ADMIN_PICKUP_LOCKED,
                title=_title(self, view),
                ref=view.offer.ref,
                driver=view.holder.name if view.holder else self(THE_DRIVER_LOWER),
            )
        }

    def admin_returned(self, view: OfferView, reason: FailReason) -> Params:
        text = self(
            ADMIN_RETURNED,
            title=_title(self, view),
            ref=view.offer.ref,
            reason=self(FAIL_REASONS[reason]),
            driver=view.holder.name if view.holder else self(THE_DRIVER),
        )
        return {"text": text}


class Catalog:
    """Every language's messages, each made once: what `Dispatch(messages=...)` renders with."""

    def __init__(self, clock: Clock) -> None:
        self._texts = {language: Texts(language, clock) for language in Language}

    def __call__(self, language: Language) -> Texts:
        return self._texts[language]


# --- admin and store views ---

# The command's syntax: the words in capitals (AREA, ID, ...) are for a translator to name.
WRONG_FORM = N_("Use it like this: {usage}")
NO_SUCH_AREA_SLUG = N_("There's no area {slug}. /areas lists them.")
NO_SUCH_DRIVER_ID = N_("There's no driver #{id}.")
NO_SUCH_OFFER_ID = N_("There's no offer #{id}.")
NOTHING_FOUND = N_("Nothing to show.")
STANDING_DONE = {
    "suspend": N_("Driver #{id} is suspended and offline."),
    "reinstate": N_("Driver #{id} is active again."),
}
STANDING_NOT_NOW = {
    "suspend": N_("Driver #{id} isn't approved, so there's nothing to suspend."),
    "reinstate": N_("Driver #{id} isn't suspended."),
}
AREA_SET = N_("{slug} is now {state}.")
AREA_ACTIVE = N_("active")
AREA_PAUSED = N_("paused: no offers go out")
STORE_SAVED = N_("Store {code} saved: {name}, {where} ({area}).")
INVITE_LINK = N_(
    "Invite for {store} ({code}), valid once for {hours} h:\n{link}\nWhoever opens it becomes staff of the store."
)
LINKED = {
    "linked": N_(
        "You're now staff of {store}. I'll tell you here about its orders. /help shows what you can do."
    ),
    "already_staff": N_("You're already staff of {store}."),
    "unknown": N_("That invite link isn't valid. Ask your program admin for a new one."),
    "used": N_("That invite link was already used. Ask your program admin for a new one."),
    "expired": N_("That invite link has expired. Ask your program admin for a new one."),
}
UNLINKED = N_("You're no longer staff of {codes}.")
NOT_STAFF = N_("You're not linked to any store. Open the invite link your program admin sent you.")
NO_ORDERS_TODAY = N_("No orders today yet. /neworder creates one.")
CANCEL_ANSWERS = {
    Press.CANCELLED: N_("Cancelled."),
    Press.NOT_YOURS: N_("That's not one of your orders."),
    Press.NOT_OPEN: N_("It's already picked up or finished, so it can't be cancelled."),
    Press.DONE: N_("It's already cancelled."),
}
WINDOW_ANSWERS = {  # a new-window button under an order with no time left in its window
    Press.REOPENED: N_("New window set. It's offered to drivers again."),
    Press.REOFFERED_BEFORE: PRESS_ANSWERS[Press.REOFFERED_BEFORE],
    Press.SLOT_GONE: PRESS_ANSWERS[Press.SLOT_GONE],
    Press.CANCELLED: N_("This order was cancelled."),
    Press.NOT_YOURS: N_("That's not one of your orders."),
    Press.NOT_OPEN: N_("It isn't waiting for a new window."),
}
REOPEN_ANSWERS = {
    Press.REOPENED: N_("Offered again."),
    Press.REOFFERED_BEFORE: PRESS_ANSWERS[Press.REOFFERED_BEFORE],
    Press.CANCELLED: N_("It was cancelled."),
    Press.NOT_OPEN: N_("Only an expired offer can be offered again."),
}
# Both count their readers: `t.n(BROADCAST_CONFIRM, recipients, area=..., text=...)`.
BROADCAST_CONFIRM = Np_(
    "Send this to {n} approved driver of {area}?\n\n📣 {text}",
    "Send this to {n} approved drivers of {area}?\n\n📣 {text}",
)
BROADCAST_QUEUED = Np_(
    "Sending to {n} driver. I'll tell you when it's done.",
    "Sending to {n} drivers. I'll tell you when it's done.",
)
BROADCAST_GONE = N_("This broadcast was already sent or dropped.")
BROADCAST_DROPPED = N_("Not sent.")
DRAFT_PROMPTS = {
    "store": N_("New order: which store?"),
    "packages": N_("New order for {store}: how many packages?"),
    "window": N_("Pickup window (local time)? Tap one or type it like 14:00-14:30."),
    "pay": N_("Pay for the driver, like 18.50?"),
    "zone": N_("Drop-off zone (ZIP code)?"),
    "ref": N_("Your order reference (letters, digits, - or _)?"),
    "address": N_("The customer's address (shown to the driver only after pickup)?"),
}
DRAFT_GONE = N_("There's no order being put together. Send /neworder to start one.")
DRAFT_DROPPED = N_("Order discarded.")


# States as people say them; the stored values (picked_up, pending, taken) are codes.
OFFER_STATES: dict[str, str] = {
    Status.DRAFT: N_("not offered yet"),
    Status.OPEN: N_("waiting for a driver"),
    Status.ACCEPTED: N_("accepted"),
    Status.PICKED_UP: N_("picked up"),
    Status.DELIVERED: N_("delivered"),
    Status.RETURNED: N_("not delivered, returned"),
    Status.EXPIRED: N_("expired"),
    Status.CANCELLED: N_("cancelled"),
}
DRIVER_STATES: dict[str, str] = {
    Account.PENDING: N_("waiting for approval"),
    Account.APPROVED: N_("approved"),
    Account.SUSPENDED: N_("suspended"),
    Account.REJECTED: N_("rejected"),
}
COPY_OUTCOMES: dict[str, str] = {  # what became of one driver's copy of an offer
    Outcome.SENT: N_("no answer yet"),
    Outcome.ENTERED: N_("entered"),
    Outcome.ACCEPTED: N_("accepted"),
    Outcome.DECLINED: N_("declined"),
    Outcome.RELEASED: N_("accepted, then released"),
    Outcome.TAKEN: N_("taken by another driver"),
    Outcome.EXPIRED: N_("no answer in time"),
    Outcome.WITHDRAWN: N_("withdrawn, the driver went offline"),
    Outcome.CANCELLED: N_("offer cancelled"),
}


def in_words(t: Words, states: Mapping[str, str], state: str) -> str:
    """A stored state in the words of `states`; a state added later reads as itself, not as a code."""
    words = states.get(state)
    return t(words) if words is not None else state.replace("_", " ")


def page_text(t: Texts, shown: Sequence[str], page: int, total: int, title: str) -> str:
    """One page of a list of `total` lines: its title with the count, the page's lines, and where
    it is among the pages."""
    last = max(0, (total - 1) // keyboards.PAGE_SIZE)
    footer = "\n\n" + t(PAGE_OF, page=page + 1, pages=last + 1) if last else ""
    return f"{title} ({total})\n" + ("\n".join(shown) if shown else t(NOTHING_FOUND)) + footer


ONLINE = N_("online")


def driver_line(t: Texts, driver: Driver) -> str:
    online = f" · {t(ONLINE)}" if driver.online and driver.status == Account.APPROVED else ""
    handle = f" @{driver.username}" if driver.username else ""
    return f"#{driver.id} {driver.name}{handle} · {in_words(t, DRIVER_STATES, driver.status)}{online}"


def driver_profile(
    t: Texts,
    driver: Driver,
    areas: Sequence[Area],
    on_time_rate: float | None,
    presses: int = 0,
    fast_taps: int = 0,
) -> str:
    """/driver ID: who they are, their counters, and how many of their presses were fast taps."""
    rate = NO_DATA if on_time_rate is None else t.percent(on_time_rate)
    fast = f"{fast_taps} ({t.percent(fast_taps / presses)})" if presses else NO_DATA
    record = t(
        DRIVER_RECORD,
        areas=", ".join(area.name for area in areas) or NO_DATA,
        phone=driver.phone or t(NOT_SHARED),
        offered=driver.offered,
        accepted=driver.accepted,
        declined=driver.declined,
        timed_out=driver.timed_out,
        released=driver.released,
        no_shows=driver.no_shows,
        delivered=driver.delivered,
        rate=rate,
        presses=presses,
        fast=fast,
    )
    return f"{driver_line(t, driver)}\n{record}"


def offer_line(t: Texts, view: OfferView, now: datetime) -> str:
    holder = f" · {view.holder.name}" if view.holder else ""
    state = in_words(t, OFFER_STATES, view.offer.status)
    return (
        f"#{view.offer.id} {view.store.code} {view.offer.ref} · {state}{holder} · "
        f"{pickup_window(t, view, now)} · {t.pay(view.offer.pay_cents)}"
    )


def short_name(name: str) -> str:
    """A first name and the surname's initial: "Ana Kovač" becomes "Ana K."."""
    words = name.split()
    return f"{words[0]} {words[-1][0]}." if len(words) > 1 else name.strip()


def who_did(t: Texts, step: TrailEvent) -> str:
    """Who did a step of the trail, by role and name: "store FS-ZARA · Mia", "driver Ana K. (#42)"."""
    actor = step.actor
    someone = step.name or t(N_("user {id}"), id=actor.id)  # acted before storerun kept names
    if actor.role is Role.ADMIN:
        return t(WHO_ADMIN, name=someone)
    if actor.role is Role.STORE:
        if actor.store:
            return t(WHO_STORE, store=actor.store, name=someone)
        return t(N_("store staff {name}"), name=someone)
    if actor.role is Role.DRIVER:
        if step.name:
            return t(WHO_DRIVER, name=short_name(step.name), id=actor.id)
        return t(N_("driver #{id}"), id=actor.id)
    if actor.role is Role.DISPATCH:
        return t(WHO_DISPATCH)
    return actor.encode()


# An offer's copies listed one by one up to this many; beyond it they are counted per outcome and
# only the holders' and the last few are listed, so that the trail always fits in one message.
COPIES_LISTED = 10
LAST_COPIES_LISTED = 5
MESSAGE_LIMIT = 4096  # Telegram's limit for one message's text
HELD_OUTCOMES = (Outcome.ACCEPTED, Outcome.RELEASED)


def offer_trail(
    t: Texts,
    view: OfferView,
    notices: Sequence[tuple[Notice, Driver | None]],
    events: Sequence[TrailEvent],
    now: datetime,
) -> str:
    offer = view.offer
    head = [
        t(
            TRAIL_HEAD,
            id=offer.id,
            store=view.store.name,
            code=view.store.code,
            ref=offer.ref,
            state=in_words(t, OFFER_STATES, offer.status),
        ),
        t(
            N_("{packages} · zone {zone} · {pay} · pickup {window}"),
            packages=_packages(t, offer.packages),
            zone=offer.zone,
            pay=t.pay(offer.pay_cents),
            window=pickup_window(t, view, now),
        ),
        t(N_("Pickup code {code} · wrong codes {wrong}"), code=offer.pickup_code, wrong=offer.wrong_codes),
        "",
        t(COPIES_SENT),
    ]
    trail = ["", t(TRAIL)]
    for step in events:
        event = step.event
        said = detail_words(t, event.detail, view.tz, now)
        done = t(
            TRAIL_STEP,
            time=t.time(event.at, view.tz),
            kind=t(EVENT_WORDS[event.kind]) if event.kind in EVENT_WORDS else event.kind,
            who=who_did(t, step),
        )
        trail.append(f"  {done}: {said}" if said else f"  {done}")
    text = "\n".join([*head, *_copies_sent(t, view, notices, listed=True), *trail])
    if len(text) > MESSAGE_LIMIT:  # long names or a long trail: the counts alone, not the trail, give way
        text = "\n".join([*head, *_copies_sent(t, view, notices, listed=False), *trail])
    return text


def _copies_sent(
    t: Texts, view: OfferView, notices: Sequence[tuple[Notice, Driver | None]], *, listed: bool
) -> list[str]:
    """The copies of an offer: each one, or, when there are many, how many ended each way and
    the ones that matter (whoever accepted it, the last few sent)."""

    def line(notice: Notice, driver: Driver | None) -> str:
        copy = t(
            COPY_LINE,
            time=t.time(notice.created_at, view.tz),
            wave=notice.wave,
            driver=driver.name if driver else "?",
            outcome=in_words(t, COPY_OUTCOMES, notice.outcome),
        )
        return f"  {copy}"

    if not notices or (len(notices) <= COPIES_LISTED and listed):
        return [line(notice, driver) for notice, driver in notices]
    outcomes = Counter(notice.outcome for notice, _ in notices)
    counted = " · ".join(
        f"{in_words(t, COPY_OUTCOMES, outcome)} {count}" for outcome, count in outcomes.most_common()
    )
    lines = ["  " + t.n(COPIES_COUNTED, len(notices), outcomes=counted)]
    if not listed:
        return lines
    held = [pair for pair in notices if pair[0].outcome in HELD_OUTCOMES][-LAST_COPIES_LISTED:]
    shown = {pair[0].id: pair for pair in [*held, *notices[-LAST_COPIES_LISTED:]]}
    last = N_("whoever accepted it, and the last ones sent:") if held else N_("the last ones sent:")
    lines.append(f"  {t(last)}")
    return lines + [line(*shown[notice_id]) for notice_id in sorted(shown)]


def order_line(t: Texts, view: OfferView, now: datetime) -> str:
    return t(
        ORDER_LINE,
        id=view.offer.id,
        ref=view.offer.ref,
        state=in_words(t, OFFER_STATES, view.offer.status),
        holder=f" · {first_name(t, view.holder.name, THE_DRIVER)}" if view.holder else "",
        window=pickup_window(t, view, now),
    )


# --- /stats and /export ---


def show_days(t: Texts, first: date, last: date) -> str:
    """Local days as "Nov 25", "Nov 19 – Nov 25", or with years when they differ."""
    return t.days(first, last)


def show_duration(t: Texts, seconds: float) -> str:
    """A duration as "45s", "1m 40s" or "2h 5m"."""
    return t.duration(seconds)


def _last_days(t: Texts, days: int) -> str:
    return t(N_("today")) if days == 1 else t.n(Np_("last {n} day", "last {n} days"), days)


def _rate(t: Texts, part: int, whole: int) -> str:
    """The share with what it divides, "71% (5 of 7)"; a dash when there is nothing to divide by."""
    if not whole:
        return NO_DATA
    return t(N_("{percent} ({part} of {whole})"), percent=t.percent(part / whole), part=part, whole=whole)


def _fairness_line(t: Texts, area: AreaStats, top_winners: int = 3) -> str | None:
    """How evenly the awards went (the `top_winners` who won the most, each with their share),
    and how many presses were fast taps: "awards 120 to 38 drivers · top #12 9%, #4 8%, #31 7%
    · Gini 0.21 · fast taps 3% of 410 presses"; None when nobody won or pressed."""
    if not area.awards_won and not area.timed_presses:
        return None
    gini = area.awards_gini
    if gini is None:
        awards = t(N_("awards none"))
    else:
        top = ", ".join(f"#{driver} {t.percent(share)}" for driver, share in area.top_shares(top_winners))
        awards = t.n(
            AWARDS_TO,
            area.winners,
            awards=area.awards,
            top=top,
            gini=t.decimal(gini, 2),
        )
    fast = area.fast_tap_share
    taps = (
        NO_DATA
        if fast is None
        else t.n(
            PRESSES,
            area.timed_presses,
            percent=t.percent(fast),
        )
    )
    return t(FAIRNESS_LINE, awards=awards, taps=taps)


def _stats_block(t: Texts, area: AreaStats, heading: str) -> str:
    median = area.median_accept_seconds
    fairness = _fairness_line(t, area)
    block = t(
        STATS_BLOCK,
        created=area.created,
        reopened=area.reopened,
        accepted=area.accepted,
        expired=area.expired,
        cancelled=area.cancelled,
        released=area.released,
        no_shows=area.no_shows,
        picked_up=area.picked_up,
        delivered=area.delivered,
        returned=area.returned,
        accepted_rate=_rate(t, area.accepted, area.accepted + area.expired),
        median=NO_DATA if median is None else t.duration(median),
        on_time_rate=_rate(t, area.picked_up_on_time, area.picked_up),
        delivered_rate=_rate(t, area.delivered, area.delivered + area.returned),
    )
    return f"{heading}\n{block}" + (f"\n{fairness}" if fairness else "")


def stats_text(t: Texts, stats: Stats) -> str:
    """/stats: one block per area over its local days, then all areas together when there are several."""
    if not stats.areas:
        return t(N_("No areas yet · {period}"), period=_last_days(t, stats.days))
    blocks = [
        _stats_block(t, area, f"{area.name} ({area.slug}) · {t.days(area.first_day, area.last_day)}")
        for area in stats.areas
    ]
    if len(stats.areas) > 1:
        heading = t(N_("All areas · {period}"), period=_last_days(t, stats.days))
        blocks.append(_stats_block(t, stats.total, heading))
    return "\n\n".join(blocks)


def stats_chart_caption(t: Texts, days: int) -> str:
    return t(
        N_("Offers by local hour, accepted and expired; time to accept · {period}"),
        period=_last_days(t, days),
    )


EXPORT_KINDS = {"offers": N_("Offers"), "drivers": N_("Drivers")}


def export_caption(t: Texts, kind: str, days: int) -> str:
    period = t(N_("last 24 hours")) if days == 1 else t.n(Np_("last {n} day", "last {n} days"), days)
    name = t(EXPORT_KINDS[kind]) if kind in EXPORT_KINDS else kind.title()
    return t(N_("{kind}, {period} · local times with their UTC offset"), kind=name, period=period)


EXPORT_TOO_LARGE = N_(
    "That period is too large to send in one file ({megabytes} MB, over Telegram's {limit} MB); "
    "try fewer days."
)


EXPORT_FAILED = N_("The export failed; try again.")
STATS_FAILED = N_("The statistics failed; try again.")


# --- fairness: the published order, and why an offer went to whom ---

KEY_NAMES = {
    Key.ON_TIME: N_("best on-time pickup record (last 30 days; none yet counts as 100%)"),
    Key.WON_TODAY: N_("fewest offers won today in the area"),
    Key.LAST_AWARD: N_("longest since their last award in the area (never: first)"),
    Key.DRAW: N_('a seeded draw: SHA-256 of "OFFER:DRIVER", lowest first (anyone can check it)'),
}
KEY_SHORT = {
    Key.ON_TIME: N_("on time"),
    Key.WON_TODAY: N_("won today"),
    Key.LAST_AWARD: N_("last award"),
    Key.DRAW: N_("draw"),
}
OUT_NAMES = {
    Out.NOT_APPROVED: N_("account not active"),
    Out.OFFLINE: N_("offline"),
    Out.FULL: N_("holding as many offers as a driver may"),
    Out.NOT_IN_AREA: N_("no longer in the area"),
    Out.LATE: N_("pressed after the window closed"),
}
WHY_KEY = {
    Key.WON_TODAY: N_("It went to a driver with fewer offers today (them: {them}, you: {you})."),
    Key.LAST_AWARD: N_(
        "It went to a driver who had waited longer since their last offer (them: {them}, you: {you})."
    ),
    Key.ON_TIME: N_("It went to a driver with a better on-time pickup record (them: {them}, you: {you})."),
    Key.DRAW: N_("You tied on everything else; the seeded draw picked them (them: {them}, you: {you})."),
}
WHY_NOT = {
    NotYou.NOT_SENT: N_("This offer wasn't sent to you."),
    NotYou.YOURS: N_("It went to you!"),
    NotYou.NOT_DECIDED: N_("It hasn't gone to anyone yet."),
    NotYou.NOBODY: N_("It didn't go to anyone."),
    NotYou.NO_PRESS: N_("You didn't press Accept before it was awarded."),
    NotYou.DECLINED: N_("You declined it."),
    NotYou.FIRST_PRESS: N_("It went to the first driver who pressed Accept."),
    NotYou.OUT: N_("You pressed in time, but when it was awarded you were out: {out}."),
}


def fairness(t: Texts, areas: Sequence[AreaFairness]) -> str:
    """/fairness: how each area awards its offers, the same for everyone."""
    parts = []
    for item in areas:
        if not item.window:
            parts.append(
                t(N_("{area}: the first driver to press Accept gets the offer."), area=item.area.name)
            )
            continue
        keys = "\n".join(f"{index}. {t(KEY_NAMES[key])}" for index, key in enumerate(ORDERS[item.order], 1))
        parts.append(
            t(
                FAIRNESS_ORDER,
                area=item.area.name,
                window=_seconds(t, item.window),
                order=item.order,
                keys=keys,
            )
        )
    parts.append(t(FAST_BUYS_NOTHING))
    return "\n\n".join(parts)


def _seconds(t: Texts, window: timedelta) -> str:
    return t(SECONDS, seconds=t.number(window.total_seconds()))


def _key_value(t: Texts, key: Key, value: float | datetime | None, tz: str) -> str:
    if isinstance(value, datetime):
        return t.time(value, tz)
    if value is None:
        return t(N_("never")) if key is Key.LAST_AWARD else NO_DATA
    if key is Key.ON_TIME:
        return t.percent(value)
    if key is Key.DRAW:
        return t.decimal(value, 3)
    return str(int(value))


def why_not(t: Texts, answer: WhyNot) -> str:
    """Why not me?: the reason, naming nobody."""
    if answer.reason is NotYou.KEY and answer.key is not None:
        return t(
            WHY_KEY[answer.key],
            them=_key_value(t, answer.key, answer.them, answer.tz),
            you=_key_value(t, answer.key, answer.you, answer.tz),
        )
    out = t(OUT_NAMES[answer.out]) if answer.out else ""
    return t(WHY_NOT[answer.reason], out=out)


WHY_SHOWN = 30  # copies with a press listed one by one in /why; the rest are counted


def explanation(t: Texts, why: Explanation) -> str:
    """/why for an admin: every copy's press and fairness values, the winner and the deciding key."""
    view, tz = why.view, why.view.tz
    winner = why.winner
    offer = {"id": view.offer.id, "code": view.store.code, "ref": view.offer.ref}
    if winner is not None and winner.driver is not None:
        head = t(
            WHY_AWARDED,
            **offer,
            name=short_name(winner.driver.name),
            driver=winner.driver.id,
        )
    elif winner is None:
        state = in_words(t, OFFER_STATES, view.offer.status)
        head = t(N_("Why #{id} {code} {ref} · {state}, not awarded"), **offer, state=state)
    else:
        head = t(N_("Why #{id} {code} {ref}"), **offer)
    lines = [head]
    if why.awarded and why.award_at is not None:
        deciding = why.deciding
        closed = t.time(why.award_at, tz)
        if deciding:
            lines.append(
                t(
                    WHY_DECIDED_BY,
                    order=why.order,
                    time=closed,
                    key=t(KEY_SHORT[deciding]),
                )
            )
        else:
            lines.append(t(N_("Order {order} · window closed {time}"), order=why.order, time=closed))
    elif winner is not None:
        lines.append(t(N_("First Accept wins (no award window).")))
    pressed = sorted(
        (copy for copy in why.copies if copy.notice.pressed_at is not None),
        key=lambda copy: (copy.rank or 10**9, copy.notice.pressed_at or copy.notice.created_at),
    )
    for copy in pressed[:WHY_SHOWN]:
        lines.append(_copy_line(t, why, copy, tz))
    if len(pressed) > WHY_SHOWN:
        lines.append(t(N_("… and {count} more who pressed"), count=len(pressed) - WHY_SHOWN))
    silent = len(why.copies) - len(pressed)
    if silent:
        lines.append(t.n(Np_("{n} copy without a press", "{n} copies without a press"), silent))
    return "\n".join(lines)


def _copy_line(t: Texts, why: Explanation, copy: CopySeen, tz: str) -> str:
    notice, driver = copy.notice, copy.driver
    who = f"{short_name(driver.name)} #{driver.id}" if driver else t(N_("driver #{id}"), id=notice.driver_id)
    mark = "🏆 " if why.winner is not None and why.winner.notice.id == notice.id else ""
    rank = f"{copy.rank}. " if copy.rank else "– "
    delivered = t.time(notice.delivered_at, tz) if notice.delivered_at else t(N_("not delivered"))
    press = t(N_("pressed"))
    if notice.press_ms is not None:
        press = t(N_("pressed +{seconds} s"), seconds=t.decimal(notice.press_ms / 1000, 2))
        press += " ⚡" if notice.press_ms < why.human_min_ms else ""
    in_window = why.in_window(copy)
    window = ""
    if in_window is not None:
        window = " · " + t(IN_WINDOW if in_window else N_("after the window"))
    values = ""
    if copy.standing is not None:
        standing = copy.standing
        values = " · " + " · ".join(
            f"{t(KEY_SHORT[key])} {_key_value(t, key, shown(key, standing), tz)}" for key in ORDERS[why.order]
        )
    elif copy.out is not None:
        values = " · " + t(N_("out: {reason}"), reason=t(OUT_NAMES[copy.out]))
    if notice.outcome == Outcome.DECLINED:
        press = t(N_("declined"))
    return t(
        N_("{rank}{mark}{who} · wave {wave} · delivered {delivered} · {press}{window}{values}"),
        rank=rank,
        mark=mark,
        who=who,
        wave=notice.wave,
        delivered=delivered,
        press=press,
        window=window,
        values=values,
    )


# --- the trail: what happened, in words ---

EVENT_WORDS = {
    EventKind.OPEN: N_("created"),
    EventKind.WAVE: N_("sent out"),
    EventKind.WINDOW: N_("award window opened"),
    EventKind.ACCEPT: N_("taken"),
    EventKind.NO_AWARD: N_("award window closed, nobody to award"),
    EventKind.DECLINE: N_("declined"),
    EventKind.RELEASE: N_("released"),
    EventKind.EXPIRE: N_("expired"),
    EventKind.REOPEN: N_("offered again"),
    EventKind.CANCEL: N_("cancelled"),
    EventKind.PICKUP: N_("picked up"),
    EventKind.PICKUP_CODE_WRONG: N_("wrong pickup code"),
    EventKind.PICKUP_LOCKED: N_("pickup locked"),
    EventKind.DELIVER: N_("delivered"),
    EventKind.FAIL: N_("can't be delivered"),
    EventKind.PROOF: N_("proof photo"),
    EventKind.PICKUP_REMINDER: N_("pickup reminder"),
    EventKind.LATE: N_("late reminder"),
    EventKind.DELIVERY_REMINDER: N_("delivery reminder"),
    EventKind.NO_SHOW: N_("no-show"),
    EventKind.ENROLL: N_("signed up"),
    EventKind.APPLIED: N_("applied"),
    EventKind.ONLINE: N_("went online"),
    EventKind.OFFLINE: N_("went offline"),
    EventKind.AUTO_OFFLINE: N_("set offline"),
    EventKind.FAST_TAPS: N_("fast taps"),
    EventKind.APPROVED: N_("approved"),
    EventKind.REJECTED: N_("rejected"),
    EventKind.SUSPENDED: N_("suspended"),
    EventKind.REINSTATED: N_("reinstated"),
    EventKind.AREA: N_("area changed"),
    EventKind.STORE: N_("store saved"),
    EventKind.FAIRNESS: N_("fairness changed"),
    EventKind.BROADCAST: N_("broadcast"),
    EventKind.INVITE: N_("invite made"),
    EventKind.STAFF_LINKED: N_("staff linked"),
    EventKind.STAFF_UNLINKED: N_("staff left"),
    EventKind.ENTER: N_("entered the award window"),
    EventKind.AWARD: N_("awarded"),
}
# The facts an event's detail holds (dispatch writes `key=value` codes), each in words; a number
# is {n}, a name or code as it is {value}.
DETAIL_COUNTS = {
    "drivers": Np_("to {n} driver", "to {n} drivers"),
    "missed": Np_("missed {n} in a row", "missed {n} in a row"),
    "entrants": Np_("{n} pressed in the window", "{n} pressed in the window"),
    "ranked": Np_("{n} could take it", "{n} could take it"),
    "fast": Np_("{n} fast tap", "{n} fast taps"),
    "presses": Np_("of the last {n} press", "of the last {n} presses"),
}
DETAIL_VALUES = {
    "wave": N_("wave {value}"),
    "driver": N_("driver #{value}"),
    "ref": N_("ref {value}"),
    "area": N_("area {value}"),
    "store": N_("store {value}"),
    "attempt": N_("try {value}"),
    "order": N_("order {value}"),
    "key": N_("decided by {value}"),
    "closes": N_("closes {value}"),
    "closed": N_("closed {value}"),
    "window": N_("new pickup window {value}"),
}
YES_NO = {
    "phone": {"yes": N_("phone shared"), "no": N_("no phone")},
    "active": {"yes": N_("resumed"), "no": N_("paused")},
}
DETAIL_FIELD = re.compile(r"^(?P<key>[a-z_]+)=(?P<value>\S+)$")


def detail_words(t: Texts, detail: str, tz: str, now: datetime) -> str:
    """An event's detail in the reader's words: the domain writes facts as `key=value` codes
    (`wave=2 drivers=5`); anything else (a person's own reason, a photo's file id, the details
    written before the trail spoke in codes) is shown as it is."""
    fields = [DETAIL_FIELD.match(token) for token in detail.split()]
    if not detail or not all(fields):
        return detail
    said = []
    for field in fields:
        assert field is not None
        key, value = field["key"], field["value"]
        words = _detail_field(t, key, value, tz, now)
        if words is None:
            return detail  # a fact this version cannot put in words: shown as written
        said.append(words)
    return " · ".join(said)


def _detail_field(t: Texts, key: str, value: str, tz: str, now: datetime) -> str | None:
    if key in DETAIL_COUNTS and value.isdigit():
        return t.n(DETAIL_COUNTS[key], int(value))
    if key in YES_NO:
        return t(YES_NO[key][value]) if value in YES_NO[key] else None
    if key == "reason":
        if value in FailReason.__members__.values():
            return t(FAIL_REASONS[FailReason(value)])
        if value in CancelReason.__members__.values():
            return t(CANCEL_REASONS[CancelReason(value)])
        return None
    if key not in DETAIL_VALUES:
        return None
    try:
        if key in ("closes", "closed"):
            value = t.time(datetime.fromisoformat(value), tz)
        elif key == "window":
            start, _, end = value.partition("/")
            value = t.window(datetime.fromisoformat(start), datetime.fromisoformat(end), tz, now=now)
    except ValueError:
        return None
    if key == "key" and value in Key.__members__.values():
        value = t(KEY_SHORT[Key(value)])
    if key == "order" and value in Order.__members__.values():
        value = Order(value).value
    return t(DETAIL_VALUES[key], value=value)
