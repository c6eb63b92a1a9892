"""What a message about an offer or a driver needs to show, gathered in one read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from dispatch.lifecycle import FINAL
from dispatch.localtime import start_of_day
from storage.records import Area, Driver, Offer, Store
from storage.repos import ListedOffer, Transaction


@dataclass(frozen=True, slots=True)
class OfferView:
    """An offer with its store, the store's area (for the time zone), and its holder if any."""

    offer: Offer
    store: Store
    area: Area
    holder: Driver | None = None

    @property
    def tz(self) -> str:
        return self.area.tz


def listed_view(listed: ListedOffer) -> OfferView:
    """The view of an offer read with its store, area and holder in one joined row."""
    return OfferView(offer=listed.offer, store=listed.store, area=listed.area, holder=listed.holder)


async def orders_today(tx: Transaction, chat_id: int, now: datetime) -> list[OfferView]:
    """Today's orders (in each store's local day) of the stores this staff chat serves."""
    views: list[OfferView] = []
    areas = {area.id: area for area in await tx.areas.all()}
    for store in await tx.stores.staffed_by(chat_id):
        since = start_of_day(now, areas[store.area_id].tz)
        views += map(listed_view, await tx.offers.listed_with_places(store_id=store.id, created_since=since))
    return views


ORDERS_SHOWN = 20  # a store's /orders list: enough for a busy hour, and always one message


async def orders_to_show(tx: Transaction, chat_id: int, now: datetime) -> tuple[list[OfferView], int]:
    """What a staff chat's /orders list shows, and how many orders it has today: those still under
    way first (newest first), then the finished ones, at most ORDERS_SHOWN; the rest are counted."""
    views = await orders_today(tx, chat_id, now)
    under_way = [view for view in views if view.offer.status not in FINAL]
    finished = [view for view in views if view.offer.status in FINAL]
    return (under_way + finished)[:ORDERS_SHOWN], len(views)


async def offer_view(tx: Transaction, offer_id: int) -> OfferView | None:
    """Read an offer and everything shown with it; None if there is no such offer."""
    offer = await tx.offers.by_id(offer_id)
    if offer is None:
        return None
    store = await tx.stores.by_id(offer.store_id)
    assert store is not None
    area = await tx.areas.by_id(store.area_id)
    assert area is not None
    holder = await tx.drivers.by_id(offer.holder_id) if offer.holder_id is not None else None
    return OfferView(offer=offer, store=store, area=area, holder=holder)


class FailReason(StrEnum):
    """Why a picked-up order cannot be delivered."""

    ABSENT = "absent"
    ADDRESS = "address"
    DAMAGED = "damaged"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class DayTally:
    """A driver's deliveries and pay today (in their area's time zone)."""

    deliveries: int
    pay_cents: int


async def day_tally(tx: Transaction, driver_id: int, now: datetime, tz: str) -> DayTally:
    """What the driver has delivered since local midnight, and earned for it."""
    count, cents = await tx.offers.delivered_since(driver_id, start_of_day(now, tz))
    return DayTally(deliveries=count, pay_cents=cents)
