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
from sandbox.reading import message_in, plural_in, showing
from storage.records import Language

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


# --- messages the bot marks inline, by the function that renders them (and which of its messages,
# counted from 0 in the order written, where it has several) ---

YOU_ARE_APPROVED = message_in(Texts.you_are_approved)
YOU_ARE_REJECTED = message_in(Texts.you_are_rejected)
APPROVED_BY, REJECTED_BY = message_in(Texts.application_decided, 0), message_in(Texts.application_decided, 1)
OFFER_COPY = message_in(Texts.offer_copy)
COPY_WENT_ELSEWHERE = message_in(Texts.copy_taken, 0)  # after an award window, with Why not me?
COPY_TAKEN = message_in(Texts.copy_taken, 1)  # first Accept wins
COPY_DECLINED = message_in(Texts.copy_declined)
COPY_EXPIRED = message_in(Texts.copy_expired)
COPY_CANCELLED = message_in(Texts.copy_cancelled)
JOB_CARD = message_in(Texts.job_card)
RELEASED_REOFFERED = message_in(Texts.job_released, 0)  # released, offered to others
RELEASED = message_in(Texts.job_released, 1)  # released (the start of the other one too)
ASK_PICKUP_CODE = message_in(Texts.ask_pickup_code)
WRONG_CODE = plural_in(Texts.wrong_code)
PICKUP_LOCKED = message_in(Texts.pickup_locked)
JOB_PICKED_UP = message_in(Texts.job_picked_up)
DELIVERY_CARD = message_in(Texts.delivery_card)
ASK_FAIL_REASON = message_in(Texts.fail_reasons)
DELIVERED_THANKS = message_in(Texts.delivered)
RETURNING = message_in(Texts.returning)
PROOF_SAVED = message_in(Texts.proof_saved)
PICKUP_REMINDER = message_in(Texts.pickup_reminder)  # "in {minutes} min"
LATE_REMINDER = message_in(Texts.late_reminder)
NO_SHOW_RELEASED = message_in(Texts.no_show_released)
JOB_NO_SHOW = message_in(Texts.job_no_show)
YOU_ARE_REINSTATED = message_in(Texts.you_are_reinstated)
STORE_ACCEPTED = message_in(Texts.store_accepted)
STORE_PICKED_UP = message_in(Texts.store_picked_up)
STORE_DELIVERED = message_in(Texts.store_delivered)
STORE_PROOF = message_in(Texts.store_proof)
STORE_RELEASED = message_in(Texts.store_released, 1)  # the driver released it (0: a no-show)
STORE_EXPIRED = message_in(Texts.store_expired)
STORE_RETURNING = message_in(Texts.store_returning)
STORE_CANCELLED = message_in(Texts.store_cancelled)
TODAYS_ORDERS = message_in(Texts.orders_list)
ADMIN_OFFER_CARD = message_in(Texts.admin_offer_card)
ADMIN_EXPIRED = message_in(Texts.admin_expired)
ADMIN_EXPIRED_REOFFERED = message_in(Texts.admin_expired_reoffered)
ADMIN_CANCELLED = message_in(Texts.admin_cancelled)
ADMIN_PICKUP_LOCKED = message_in(Texts.admin_pickup_locked)
ADMIN_RETURNED = message_in(Texts.admin_returned)
BROADCAST_DONE = message_in(Texts.broadcast_done)
WINDOW_OVER_NO_SHOW = message_in(Texts.window_over, 0)
WINDOW_OVER_RELEASED = message_in(Texts.window_over, 1)
WINDOW_GIVEN = message_in(Texts.window_given)
WINDOW_DROPPED = message_in(Texts.window_dropped)
WHY_AWARDED = message_in(texts.explanation, 0)  # /why's head: "Why #12 … went to …"
WHY_DECIDED_BY = message_in(texts.explanation, 3)  # "Order … · window closed … · decided by …"
IN_WINDOW = message_in(texts._copy_line, 4)  # a copy pressed in the award window, in /why
FAIRNESS_ORDER = message_in(texts.fairness, 1)  # an area with an award window, in /fairness
FAST_BUYS_NOTHING = message_in(texts.fairness, 2)  # /fairness' last words
SECONDS = message_in(texts._seconds)
ORDER_LINE = message_in(texts.order_line)  # a line of a store's /orders
TRAIL_HEAD = message_in(texts.offer_trail, 0)  # /offer's first line
COPIES_SENT = message_in(texts.offer_trail, 3)
TRAIL = message_in(texts.offer_trail, 4)
TRAIL_STEP = message_in(texts.offer_trail, 5)  # "{time} {kind} by {who}"
COPY_LINE = message_in(texts._copies_sent, 0)  # one copy of an offer, in /offer
COPIES_COUNTED = plural_in(texts._copies_sent, 1)  # the copies counted by outcome, when many
WHO_ADMIN = message_in(texts.who_did, 1)
WHO_STORE = message_in(texts.who_did, 2)
WHO_DRIVER = message_in(texts.who_did, 4)  # "driver {name} (#{id})"
WHO_DISPATCH = message_in(texts.who_did, 6)
DRIVER_RECORD = message_in(texts.driver_profile)  # /driver's lines under the driver's own
AWARDS_TO = plural_in(texts._fairness_line, 1)  # /stats' last line: the awards …
PRESSES = plural_in(texts._fairness_line, 2)  # … the presses …
FAIRNESS_LINE = message_in(texts._fairness_line, 3)  # … and the two together
STATS_BLOCK = message_in(texts._stats_block)  # an area's numbers in /stats
PAGE_OF = message_in(texts.page_text)  # a paged list's footer
