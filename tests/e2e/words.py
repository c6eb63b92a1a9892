"""The bot's words as the end-to-end tests look for them: English rendered from the catalog by its
msgid, never copied into a test, so the tests hold whatever the catalog says.

`EN(texts.STALE_BUTTON)` is a whole message; `part(msgid, **known)` its leading text up to the first
parameter a test cannot know; `matches(msgid, **known)` a pattern of all of it, each unknown
parameter a named group (`matches(ADMIN_OFFER_CARD, pickup_code=re.compile(r"\\d{4}"))` reads the
code back); `saying(msgid, **known)` waits for such a message. The messages the bot marks inline
where it renders them, rather than as constants, are named below by the method that renders them.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from bot import texts
from bot.i18n import Words, translations
from bot.texts import Texts
from sandbox import reading
from sandbox.emulator import ChatMessage
from sandbox.reading import exactly, marked, showing
from storage.records import Language

__all__ = [
    "EN",
    "exactly",
    "line_of",
    "marked",
    "matches",
    "offer_copy_of",
    "part",
    "saying",
    "showing",
    "title_of",
]

EN = Words(Language.EN)

Message = str | tuple[str, str]  # a msgid, or a plural pair (singular, plural)


def template(message: Message, n: object = None) -> str:
    """The message in English with its parameters still in it; a plural pair in the form for `n`."""
    catalog = translations(Language.EN)
    if isinstance(message, str):
        return catalog.gettext(message)
    if not isinstance(n, int):
        raise TypeError(f"the count n picks the form of {message[0]!r}")
    return catalog.ngettext(*message, n)


def part(message: Message, **known: object) -> str:
    """The message rendered up to its first parameter not in `known`."""
    return reading.part(template(message, known.get("n")), **known)


def matches(message: Message, **known: object) -> re.Pattern[str]:
    """A pattern of the whole message: known parameters as given, each unknown one a named group."""
    return reading.pattern(template(message, known.get("n")), **known)


def saying(message: Message, **known: object) -> Callable[[ChatMessage], bool]:
    """A predicate for `wait_for_message`: the message, with what is known of its parameters."""
    return showing(matches(message, **known))


def line_of(message: Message, **known: object) -> re.Pattern[str]:
    """A pattern of the message as a whole line of a longer text (one line of a list, a card's head)."""
    return re.compile(f"(?m)^{matches(message, **known).pattern}$")


def title_of(offer_id: int) -> str:
    """How every message about an offer names it: its title starts "#12 · " (then store and pay)."""
    return f"#{offer_id} · "


def titled(message: Message, offer_id: int) -> str:
    """The first words of a message that starts with an offer's title: "✅ It's yours: #12 · "."""
    return part(message) + title_of(offer_id)


def offer_copy_of(offer_id: int) -> str:
    """The first words of the copy of offer #id a driver is sent: "📦 New offer #12 · "."""
    return titled(OFFER_COPY, offer_id)


def only(function: Callable[..., object]) -> str:
    """The one message a method of the bot marks inline."""
    (message,) = marked(function)
    assert isinstance(message, str), message
    return message


# --- messages the bot marks inline, by the method that renders them ---

YOU_ARE_APPROVED = only(Texts.you_are_approved)
YOU_ARE_REJECTED = only(Texts.you_are_rejected)
OFFER_COPY, _ = marked(Texts.offer_copy)  # and "taken", its expiry once it is taken
COPY_WENT_ELSEWHERE, COPY_TAKEN = marked(Texts.copy_taken)  # with Why not me?, and without
COPY_DECLINED = only(Texts.copy_declined)
COPY_EXPIRED = only(Texts.copy_expired)
COPY_CANCELLED = only(Texts.copy_cancelled)
COPY_WITHDRAWN = only(Texts.copy_withdrawn)
JOB_CARD = only(Texts.job_card)
RELEASED_REOFFERED, RELEASED = marked(Texts.job_released)
ASK_PICKUP_CODE = only(Texts.ask_pickup_code)
WRONG_CODE = marked(Texts.wrong_code)[0]
PICKUP_LOCKED = only(Texts.pickup_locked)
JOB_PICKED_UP = only(Texts.job_picked_up)
DELIVERY_CARD, DELIVER_BY = marked(Texts.delivery_card)
ASK_FAIL_REASON = only(Texts.fail_reasons)
DELIVERED_THANKS = only(Texts.delivered)
DELIVERY_CLOSED = only(Texts.delivery_closed)
RETURNING = only(Texts.returning)
PROOF_SAVED = only(Texts.proof_saved)
PICKUP_REMINDER, PICKUP_NOW = marked(Texts.pickup_reminder)
LATE_REMINDER = only(Texts.late_reminder)
NO_SHOW_RELEASED = only(Texts.no_show_released)
JOB_NO_SHOW = only(Texts.job_no_show)
DELIVERY_REMINDER, DELIVER_NOW = marked(Texts.delivery_reminder)
SET_OFFLINE = marked(Texts.set_offline)[0]
ADMIN_NO_SHOW = only(Texts.admin_no_show)
ADMIN_CANCELLED = only(Texts.admin_cancelled)
ADMIN_FAST_TAPS = marked(Texts.admin_fast_taps)[0]
BROADCAST_DONE = only(Texts.broadcast_done)
YOU_ARE_REINSTATED = only(Texts.you_are_reinstated)
STORE_ACCEPTED = only(Texts.store_accepted)
STORE_PICKED_UP = only(Texts.store_picked_up)
STORE_DELIVERED = only(Texts.store_delivered)
STORE_PROOF = only(Texts.store_proof)
STORE_NO_SHOW, STORE_RELEASED = marked(Texts.store_released)
STORE_EXPIRED = only(Texts.store_expired)
STORE_RETURNING = only(Texts.store_returning)
STORE_CANCELLED = only(Texts.store_cancelled)
TODAYS_ORDERS, MORE_ORDERS = marked(Texts.orders_list)
ADMIN_OFFER_CARD = only(Texts.admin_offer_card)
ADMIN_EXPIRED = only(Texts.admin_expired)
ADMIN_EXPIRED_REOFFERED = only(Texts.admin_expired_reoffered)
WINDOW_OVER_NO_SHOW, WINDOW_OVER_RELEASED, WINDOW_OVER = marked(Texts.window_over)
WINDOW_GIVEN = only(Texts.window_given)
WINDOW_DROPPED = only(Texts.window_dropped)
ADMIN_PICKUP_LOCKED = only(Texts.admin_pickup_locked)
ADMIN_RETURNED = only(Texts.admin_returned)
APPROVED_BY, REJECTED_BY = marked(Texts.application_decided)
WHY_AWARDED, WHY_NOT_AWARDED, WHY, WHY_DECIDED_BY, WHY_WINDOW_CLOSED, FIRST_ACCEPT_WINS, *_ = marked(
    texts.explanation
)
IN_WINDOW = marked(texts._copy_line)[4]  # a copy pressed in the award window, in /why
FIRST_PRESS_WINS, FAIRNESS_ORDER, FAST_BUYS_NOTHING = marked(texts.fairness)
SECONDS = only(texts._seconds)
ORDER_LINE = only(texts.order_line)  # a line of a store's /orders
TRAIL_HEAD, TRAIL_OFFER, TRAIL_CODE, COPIES_SENT, TRAIL, TRAIL_STEP = marked(texts.offer_trail)
(DRIVER_RECORD,) = marked(texts.driver_profile)  # /driver's lines under the driver's own
NO_AWARDS, AWARDS_TO, PRESSES, FAIRNESS_LINE = marked(texts._fairness_line)  # /stats' last line
WHO_USER, WHO_ADMIN, WHO_STORE, WHO_STAFF, WHO_DRIVER, WHO_DRIVER_ID, WHO_DISPATCH = marked(texts.who_did)
COPY_LINE, COPIES_COUNTED, _, _ = marked(texts._copies_sent)  # /offer's copies: each, or counted
(STATS_BLOCK,) = marked(texts._stats_block)  # an area's numbers in /stats
(PAGE_OF,) = marked(texts.page_text)  # a paged list's footer
