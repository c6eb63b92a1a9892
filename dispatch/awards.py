"""Awards: the published fairness orders, and the rule that gives an offer to one of the drivers
who pressed Accept within its award window."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from storage.records import EventKind


class Key(StrEnum):
    """One key of a fairness order, compared in the order's sequence until one differs."""

    ON_TIME = "on_time"  # the best on-time pickup record (last 30 days) first
    WON_TODAY = "won_today"  # the fewest offers won today in the area first
    LAST_AWARD = "last_award"  # the longest since their last award in the area first (never: first)
    DRAW = "draw"  # the lowest seeded draw first (see draw)


class Order(StrEnum):
    """A built-in fairness order an area may use (`/area SLUG order=…`)."""

    FEWEST_TODAY = "fewest-today"
    ON_TIME = "on-time"


ORDERS: dict[Order, tuple[Key, ...]] = {
    Order.FEWEST_TODAY: (Key.WON_TODAY, Key.LAST_AWARD, Key.DRAW),
    Order.ON_TIME: (Key.ON_TIME, Key.WON_TODAY, Key.LAST_AWARD, Key.DRAW),
}
DEFAULT_ORDER = Order.FEWEST_TODAY
# The trail: an award is the accept step, by dispatch, its detail "award ORDER · closed ISO-TIME · …";
# a window that found nobody eligible is a "no_award" event with the same start.
# An award window's end in the trail: `order=fewest-today closed=2026-11-26T22:40:10.123+00:00 …`
# (or, as written before the trail spoke in codes, `award fewest-today · closed 2026-… · …`).
AWARD_DETAIL = re.compile(r"^(?:order=|award )(?P<order>[a-z-]+)(?: · closed | closed=)(?P<closed>\S+)")
NO_AWARD_EVENT = EventKind.NO_AWARD


def award_detail(
    order: Order, closed: datetime, *, entrants: int, ranked: int, key: Key | None = None
) -> str:
    """The trail's detail of an award window's end (see AWARD_DETAIL): its order, when it closed,
    how many pressed in it, how many of them could take it, and the key that decided."""
    facts = [f"order={order}", f"closed={closed.isoformat(timespec='milliseconds')}"]
    facts += [f"entrants={entrants}", f"ranked={ranked}"] + ([f"key={key}"] if key else [])
    return " ".join(facts)


# How far back a driver's on-time pickup record reaches.
ON_TIME_PERIOD = timedelta(days=30)


class Out(StrEnum):
    """Why a driver who pressed Accept in the window could not be awarded the offer."""

    NOT_APPROVED = "not_approved"
    OFFLINE = "offline"
    FULL = "full"  # holding as many offers as a driver may
    NOT_IN_AREA = "not_in_area"
    LATE = "late"  # the press came after the window closed


@dataclass(frozen=True, slots=True)
class Standing:
    """What the award knows of one driver in the window, for each key of every order."""

    driver_id: int
    won_today: int
    last_award_at: datetime | None
    on_time: float | None  # the share of their pickups in time; None: no pickup in the period
    draw: float

    def value(self, key: Key) -> float:
        """The value sorted on for this key: lower ranks first."""
        match key:
            case Key.WON_TODAY:
                return float(self.won_today)
            case Key.LAST_AWARD:
                return -math.inf if self.last_award_at is None else self.last_award_at.timestamp()
            case Key.ON_TIME:
                # No record yet counts as a clean one: a newcomer is not ranked behind everyone.
                return -(1.0 if self.on_time is None else self.on_time)
            case Key.DRAW:
                return self.draw


def draw(offer_id: int, driver_id: int) -> float:
    """The seeded tie-break: SHA-256 of "OFFER:DRIVER" (e.g. "12:345"), its first 8 bytes read as a
    fraction of 2^64. Anyone can compute it again afterwards; nobody can aim for it."""
    digest = hashlib.sha256(f"{offer_id}:{driver_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def order_of(name: str | None) -> Order:
    """An area's order by its stored name; the default for none (or one no longer built in)."""
    try:
        return Order(name) if name else DEFAULT_ORDER
    except ValueError:
        return DEFAULT_ORDER


def ranked(order: Order, standings: Iterable[Standing]) -> list[Standing]:
    """The drivers in the order's sequence, the winner first."""
    keys = ORDERS[order]

    def place(standing: Standing) -> tuple[float, ...]:
        return (*(standing.value(key) for key in keys), standing.driver_id)

    return sorted(standings, key=place)


def deciding_key(order: Order, winner: Standing, other: Standing) -> Key:
    """The first key of the order on which the winner came before this other driver."""
    for key in ORDERS[order]:
        if winner.value(key) != other.value(key):
            return key
    return Key.DRAW


def milliseconds(span: timedelta) -> int:
    """A span in whole milliseconds (how press times are kept: notices.press_ms)."""
    return round(span.total_seconds() * 1000)


def fast_share(press_ms: Sequence[int | None], human_min_ms: int) -> float:
    """The share of presses that came sooner after their copy's delivery than a person taps."""
    timed = [ms for ms in press_ms if ms is not None]
    return sum(1 for ms in timed if ms < human_min_ms) / len(timed) if timed else 0.0


def gini(counts: Sequence[int]) -> float:
    """How unevenly something (awards) is shared: 0 when all have the same, towards 1 when one has all."""
    values = sorted(counts)
    total = sum(values)
    if not values or total == 0:
        return 0.0
    weighted = sum((index + 1) * value for index, value in enumerate(values))
    return (2 * weighted) / (len(values) * total) - (len(values) + 1) / len(values)
