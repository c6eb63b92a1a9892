"""Which deadlines an offer has right now: pure rules over its stored times and the settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from dispatch.lifecycle import Status
from storage.records import Offer


class Kind(StrEnum):
    """What happens at a deadline."""

    WAVE = "wave"  # the next wave of an open offer goes out
    EXPIRE = "expire"  # the acceptance window ends with no taker
    AWARD = "award"  # the award window closes: the offer goes to one of those who pressed Accept
    PICKUP_REMINDER = "pickup_reminder"  # to the holder, a while before the pickup window opens
    LATE = "late"  # to the holder, when the pickup window closes without a pickup
    NO_SHOW = "no_show"  # a grace period later still no pickup: released and offered again
    DELIVERY_REMINDER = "delivery_reminder"  # to the holder, as the deliver-by time nears


@dataclass(frozen=True, slots=True)
class Timing:
    """The reminder and grace offsets (see Settings)."""

    pickup_reminder_lead: timedelta = timedelta(minutes=15)
    no_show_grace: timedelta = timedelta(minutes=10)
    delivery_reminder_lead: timedelta = timedelta(minutes=10)


@dataclass(frozen=True, slots=True, order=True)
class Deadline:
    """One moment at which something must happen to an offer; sorts by time."""

    when: datetime
    kind: Kind
    offer_id: int


def due_for_pickup(offer: Offer, timing: Timing) -> datetime:
    """When the holder is late: the window's close, or, for an offer taken after that, a grace
    period after they took it (a late taker is not a no-show the moment they accept)."""
    if offer.accepted_at is not None and offer.accepted_at + timing.no_show_grace > offer.pickup_end:
        return offer.accepted_at + timing.no_show_grace
    return offer.pickup_end


def no_show_at(offer: Offer, timing: Timing) -> datetime:
    """When an offer still not picked up is released as a no-show: a grace period after it was due."""
    return due_for_pickup(offer, timing) + timing.no_show_grace


def deadlines_of(offer: Offer, timing: Timing) -> list[Deadline]:
    """Every deadline still ahead of this offer in its current state (none once it is final)."""
    found: list[Deadline] = []

    def add(kind: Kind, when: datetime | None) -> None:
        if when is not None:
            found.append(Deadline(when, kind, offer.id))

    if offer.status == Status.OPEN:
        add(Kind.WAVE, offer.next_wave_at)
        if offer.award_at is not None:
            add(Kind.AWARD, offer.award_at)  # it expires only if the award finds nobody
        else:
            add(Kind.EXPIRE, offer.expires_at)
    elif offer.status == Status.ACCEPTED:
        reminder = offer.pickup_start - timing.pickup_reminder_lead
        if offer.pickup_reminded_at is None and (offer.accepted_at is None or reminder > offer.accepted_at):
            add(Kind.PICKUP_REMINDER, reminder)
        if offer.late_reminded_at is None:
            add(Kind.LATE, due_for_pickup(offer, timing))
        add(Kind.NO_SHOW, no_show_at(offer, timing))
    elif (
        offer.status == Status.PICKED_UP
        and offer.deliver_by is not None
        and offer.delivery_reminded_at is None
    ):
        add(Kind.DELIVERY_REMINDER, offer.deliver_by - timing.delivery_reminder_lead)
    return sorted(found)
