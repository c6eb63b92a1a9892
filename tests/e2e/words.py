"""The bot's words as the end-to-end tests look for them: English rendered from the catalog by its
msgid, never copied into a test, so the tests hold whatever the catalog says.

`EN(texts.STALE_BUTTON)` is a whole message; `part(msgid, **known)` its leading text up to the first
parameter a test cannot know; `matches(msgid, **known)` a pattern of all of it, each unknown
parameter a named group (`matches(ADMIN_OFFER_CARD, pickup_code=re.compile(r"\\d{4}"))` reads the
code back); `saying(msgid, **known)` waits for such a message. The messages of the domain's
notices and the admins' views are named below as bot.texts names them.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from bot import texts
from bot.i18n import Words, translations
from sandbox import reading
from sandbox.emulator import ChatMessage
from sandbox.reading import showing
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


# --- the messages of the domain's notices and the admins' views, by their names in bot.texts ---

YOU_ARE_APPROVED = texts.YOU_ARE_APPROVED
YOU_ARE_REJECTED = texts.YOU_ARE_REJECTED
APPROVED_BY, REJECTED_BY = texts.APPROVED_BY, texts.REJECTED_BY
OFFER_COPY = texts.OFFER_COPY
COPY_WENT_ELSEWHERE = texts.COPY_WENT_ELSEWHERE  # after an award window, with Why not me?
COPY_TAKEN = texts.COPY_TAKEN  # first Accept wins
COPY_DECLINED = texts.COPY_DECLINED
COPY_EXPIRED = texts.COPY_EXPIRED
COPY_CANCELLED = texts.COPY_CANCELLED
JOB_CARD = texts.JOB_CARD
RELEASED_REOFFERED = texts.RELEASED_REOFFERED  # released, offered to others
RELEASED = texts.RELEASED  # released (the start of the other one too)
ASK_PICKUP_CODE = texts.ASK_PICKUP_CODE
WRONG_CODE = texts.WRONG_CODE
PICKUP_LOCKED = texts.PICKUP_LOCKED
JOB_PICKED_UP = texts.JOB_PICKED_UP
DELIVERY_CARD = texts.DELIVERY_CARD
ASK_FAIL_REASON = texts.ASK_FAIL_REASON
DELIVERED_THANKS = texts.DELIVERED_THANKS
RETURNING = texts.RETURNING
PROOF_SAVED = texts.PROOF_SAVED
PICKUP_REMINDER = texts.PICKUP_REMINDER  # "in {minutes} min"
LATE_REMINDER = texts.LATE_REMINDER
NO_SHOW_RELEASED = texts.NO_SHOW_RELEASED
JOB_NO_SHOW = texts.JOB_NO_SHOW
YOU_ARE_REINSTATED = texts.YOU_ARE_REINSTATED
STORE_ACCEPTED = texts.STORE_ACCEPTED
STORE_PICKED_UP = texts.STORE_PICKED_UP
STORE_DELIVERED = texts.STORE_DELIVERED
STORE_PROOF = texts.STORE_PROOF
STORE_RELEASED = texts.STORE_RELEASED  # the driver released it (0: a no-show)
STORE_EXPIRED = texts.STORE_EXPIRED
STORE_RETURNING = texts.STORE_RETURNING
STORE_CANCELLED = texts.STORE_CANCELLED
TODAYS_ORDERS = texts.TODAYS_ORDERS
ADMIN_OFFER_CARD = texts.ADMIN_OFFER_CARD
ADMIN_EXPIRED = texts.ADMIN_EXPIRED
ADMIN_EXPIRED_REOFFERED = texts.ADMIN_EXPIRED_REOFFERED
ADMIN_CANCELLED = texts.ADMIN_CANCELLED
ADMIN_PICKUP_LOCKED = texts.ADMIN_PICKUP_LOCKED
ADMIN_RETURNED = texts.ADMIN_RETURNED
BROADCAST_DONE = texts.BROADCAST_DONE
WINDOW_OVER_NO_SHOW = texts.WINDOW_OVER_NO_SHOW
WINDOW_OVER_RELEASED = texts.WINDOW_OVER_RELEASED
WINDOW_GIVEN = texts.WINDOW_GIVEN
WINDOW_DROPPED = texts.WINDOW_DROPPED
WHY_AWARDED = texts.WHY_AWARDED  # /why's head: "Why #12 … went to …"
WHY_DECIDED_BY = texts.WHY_DECIDED_BY  # "Order … · window closed … · decided by …"
IN_WINDOW = texts.IN_WINDOW  # a copy pressed in the award window, in /why
FAIRNESS_ORDER = texts.FAIRNESS_ORDER  # an area with an award window, in /fairness
FAST_BUYS_NOTHING = texts.FAST_BUYS_NOTHING  # /fairness' last words
SECONDS = texts.SECONDS
ORDER_LINE = texts.ORDER_LINE  # a line of a store's /orders
TRAIL_HEAD = texts.TRAIL_HEAD  # /offer's first line
COPIES_SENT = texts.COPIES_SENT
TRAIL = texts.TRAIL
TRAIL_STEP = texts.TRAIL_STEP  # "{time} {kind} by {who}"
COPY_LINE = texts.COPY_LINE  # one copy of an offer, in /offer
COPIES_COUNTED = texts.COPIES_COUNTED  # the copies counted by outcome, when many
WHO_ADMIN = texts.WHO_ADMIN
WHO_STORE = texts.WHO_STORE
WHO_DRIVER = texts.WHO_DRIVER  # "driver {name} (#{id})"
WHO_DISPATCH = texts.WHO_DISPATCH
DRIVER_RECORD = texts.DRIVER_RECORD  # /driver's lines under the driver's own
AWARDS_TO = texts.AWARDS_TO  # /stats' last line: the awards …
PRESSES = texts.PRESSES  # … the presses …
FAIRNESS_LINE = texts.FAIRNESS_LINE  # … and the two together
STATS_BLOCK = texts.STATS_BLOCK  # an area's numbers in /stats
PAGE_OF = texts.PAGE_OF  # a paged list's footer
