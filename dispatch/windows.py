"""Whether a pickup window still leaves a driver time to get to the store, and the new windows on offer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from storage.records import Driver

SLOT_LENGTH = timedelta(minutes=30)
SLOT_CHOICES = 4
_KEY_FORMAT = "%Y%m%d%H%M"


def no_time_left(pickup_end: datetime, now: datetime, time_to_reach_store: timedelta) -> bool:
    """Whether a driver offered the order now could no longer reach the store before its window
    closes: the window is over, or closes sooner than the time a driver needs to get there."""
    return now >= pickup_end - time_to_reach_store


@dataclass(frozen=True, slots=True, order=True)
class Slot:
    """A half-hour pickup window (UTC instants) that an order may be given instead of its own."""

    start: datetime
    end: datetime

    @property
    def key(self) -> str:
        """The slot as it travels in a button: its UTC start, like 202607152030."""
        return self.start.astimezone(UTC).strftime(_KEY_FORMAT)

    @classmethod
    def from_key(cls, key: str) -> Slot | None:
        """The slot a button names; None for anything that is not one (mangled or forged)."""
        if len(key) != len("202607152030") or not key.isdigit():
            return None
        try:
            start = datetime.strptime(key, _KEY_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            return None
        return cls(start, start + SLOT_LENGTH)

    def clock(self, tz: str) -> str:
        """The slot on the store's wall clock, as an order line writes it: 14:00-14:30."""
        zone = ZoneInfo(tz)
        return f"{self.start.astimezone(zone):%H:%M}-{self.end.astimezone(zone):%H:%M}"


def next_slots(
    now: datetime, tz: str, time_to_reach_store: timedelta, count: int = SLOT_CHOICES
) -> list[Slot]:
    """The next half-hour windows on the store's clock, the first starting at the next :00 or :30,
    leaving out any that a driver offered the order now could not reach in time."""
    local = now.astimezone(ZoneInfo(tz))
    # Counted back on the local clock: in a zone 45 minutes off UTC, :00 and :30 fall elsewhere.
    into_slot = timedelta(minutes=local.minute % 30, seconds=local.second, microseconds=local.microsecond)
    start = now - into_slot + SLOT_LENGTH
    slots: list[Slot] = []
    while len(slots) < count:
        slot = Slot(start, start + SLOT_LENGTH)
        if not no_time_left(slot.end, now, time_to_reach_store):
            slots.append(slot)
        start += SLOT_LENGTH
    return slots


class Over(StrEnum):
    """What happened to a held order as its time ran out, so that it now waits for a new window."""

    NO_SHOW = "no_show"  # its driver never came and was released
    RELEASED = "released"  # its driver gave it back too late for anyone else


@dataclass(frozen=True, slots=True)
class NewWindow:
    """What the people asked for a new window are shown: the windows to choose from, and what
    just happened, if anything did (an admin asking to offer an expired order again: nothing)."""

    slots: tuple[Slot, ...]
    why: Over | None = None
    driver: Driver | None = None  # who released it or never came
