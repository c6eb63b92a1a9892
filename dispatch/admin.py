"""The admins' desk: drivers' standing, areas and stores, the offer board and trail, broadcasts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Generic, TypeVar

from dispatch.actors import Actor, Role
from dispatch.awards import milliseconds
from dispatch.drivers import Decision
from dispatch.lifecycle import Status
from dispatch.outbox import Delivery, Lane, Outgoing, as_row
from dispatch.problems import Issue, Problem, issue
from dispatch.views import OfferView, listed_view, offer_view
from storage.records import (
    Account,
    Area,
    BroadcastStatus,
    Driver,
    Event,
    EventKind,
    Notice,
    OutboxStatus,
    Store,
)
from storage.repos import DriverFilters, OfferFilters, Transaction

if TYPE_CHECKING:
    from dispatch.clock import Clock
    from dispatch.dispatcher import Outbound, Rules
    from dispatch.drivers import DriverDesk
    from dispatch.offers import OfferDesk
    from storage.db import Database

BROADCAST_TAG = "broadcast:{id}"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list: its items, its number (from 0, within the list) and the list's length."""

    items: list[T]
    number: int
    total: int


def page_number(asked: int, total: int, size: int) -> int:
    """The page asked for, moved within the list (a stale button may ask past its end)."""
    last = max(0, (total - 1) // size)
    return min(max(asked, 0), last)


class Standing(StrEnum):
    """How a change to a driver's standing turned out."""

    DONE = "done"
    NO_SUCH_DRIVER = "no_such_driver"
    NOT_NOW = "not_now"  # the driver is not in a status this change applies to


@dataclass(frozen=True, slots=True)
class DriverProfile:
    driver: Driver
    areas: list[Area]
    on_time_rate: float | None
    presses: int = 0  # their first presses on copies, Accept or Decline, ever
    fast_taps: int = 0  # of those, sooner after delivery than Rules.human_min


@dataclass(frozen=True, slots=True)
class AreaLine:
    area: Area
    stores: int
    approved: int
    online: int


@dataclass(frozen=True, slots=True)
class TrailEvent:
    """One event of an offer's trail, who did it, and their name where storerun knows it (an
    admin's or clerk's first name, a driver's full name)."""

    event: Event
    actor: Actor
    name: str | None


@dataclass(frozen=True, slots=True)
class OfferTrail:
    """An offer with every notice sent for it and every event, oldest first."""

    view: OfferView
    notices: list[tuple[Notice, Driver | None]]
    events: list[TrailEvent]


@dataclass(frozen=True, slots=True)
class BroadcastDraft:
    broadcast_id: int | None
    area: Area | None
    recipients: int
    problem: Issue | None = None


class AdminDesk:
    """What admin commands do; only called for ADMIN_IDS (the handlers check)."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        rules: Rules,
        outbound: Outbound,
        *,
        offers: OfferDesk,
        driver_desk: DriverDesk,
    ) -> None:
        self.db = db
        self.clock = clock
        self.rules = rules
        self.outbound = outbound
        self.offers = offers  # a suspended driver's offer copies are withdrawn
        # Named apart from the drivers() listing below: an admin's decision is the driver desk's.
        self.driver_desk = driver_desk

    # --- drivers ---

    async def drivers(self, kind: str | None, page: int = 0, size: int = 10) -> Page[Driver] | None:
        """A page of drivers, newest first: all, `pending`, `online`, or those of an area slug;
        None for an unknown filter."""
        filters: DriverFilters = {}
        async with self.db.read() as tx:
            if kind in set(Account):
                filters = {"status": Account(kind)}
            elif kind == "online":
                filters = {"online": True}
            elif kind is not None:
                area = await tx.areas.by_slug(kind)
                if area is None:
                    return None
                filters = {"area_id": area.id}
            total = await tx.drivers.count_listed(**filters)
            number = page_number(page, total, size)
            drivers = await tx.drivers.listed(**filters, limit=size, offset=number * size)
        return Page(drivers, number, total)

    async def driver(self, driver_id: int) -> DriverProfile | None:
        human_min_ms = milliseconds(self.rules.human_min)
        async with self.db.read() as tx:
            driver = await tx.drivers.by_id(driver_id)
            if driver is None:
                return None
            fast, presses = await tx.notices.press_tally(driver_id, human_min_ms)
            return DriverProfile(
                driver,
                await tx.drivers.areas_of(driver_id),
                await tx.drivers.on_time_rate(driver_id),
                presses=presses,
                fast_taps=fast,
            )

    async def decide(self, driver_id: int, admin_id: int, admin_name: str, approve: bool) -> Decision:
        return await self.driver_desk.decide(driver_id, admin_id, admin_name, approve)

    async def suspend(self, driver_id: int, admin_id: int, *, suspend: bool) -> Standing:
        """Suspend an approved driver (offline, no offers) or reinstate a suspended one."""
        now = self.clock.now()
        before, after = (
            (Account.APPROVED, Account.SUSPENDED) if suspend else (Account.SUSPENDED, Account.APPROVED)
        )
        async with self.outbound.transaction() as tx:
            driver = await tx.drivers.by_id(driver_id)
            if driver is None:
                return Standing.NO_SUCH_DRIVER
            if not await tx.drivers.set_status(driver_id, [before], after):
                return Standing.NOT_NOW
            if suspend:
                await tx.drivers.update(driver_id, online=False)
                await self.offers.withdraw_copies(tx, driver)
            await tx.events.add(
                now,
                Actor.admin(admin_id).encode(),
                EventKind(after) if suspend else EventKind.REINSTATED,
                f"driver={driver_id}",
            )
            await self.outbound.say(
                tx, driver.chat_id, lambda m: m.you_are_suspended() if suspend else m.you_are_reinstated()
            )
        return Standing.DONE

    # --- areas and stores ---

    async def areas(self) -> list[AreaLine]:
        async with self.db.read() as tx:
            areas = await tx.areas.all()
            stores = await tx.stores.count_per_area()
            standing = await tx.drivers.standing_per_area()
        return [AreaLine(area, stores.get(area.id, 0), *standing.get(area.id, (0, 0))) for area in areas]

    async def set_area(self, slug: str, active: bool, admin_id: int) -> bool:
        """Pause an area (no offers go out there) or resume it."""
        async with self.outbound.transaction() as tx:
            changed = await tx.areas.set_active(slug, active)
            if changed:
                await tx.events.add(
                    self.clock.now(),
                    Actor.admin(admin_id).encode(),
                    EventKind.AREA,
                    f"area={slug} active={'yes' if active else 'no'}",
                )
            return changed

    async def stores(self, slug: str | None) -> list[Store] | None:
        async with self.db.read() as tx:
            if slug is None:
                return await tx.stores.all()
            area = await tx.areas.by_slug(slug)
            return None if area is None else await tx.stores.all(area.id)

    async def add_store(self, code: str, slug: str, name: str, where: str, admin_id: int) -> Store | None:
        """Create or update a store; None if the area does not exist."""
        async with self.outbound.transaction() as tx:
            area = await tx.areas.by_slug(slug)
            if area is None:
                return None
            store_id = await tx.stores.upsert(code.upper(), name, area.id, where)
            await tx.events.add(
                self.clock.now(), Actor.admin(admin_id).encode(), EventKind.STORE, f"store={code.upper()}"
            )
            return await tx.stores.by_id(store_id)

    # --- offers ---

    async def board(self, kind: str | None, page: int = 0, size: int = 10) -> Page[OfferView] | None:
        """A page of offers, newest first: `open`, `accepted` (held), `today`, an area slug, or
        everything live; None if unknown."""
        filters: OfferFilters
        async with self.db.read() as tx:
            if kind is None:
                filters = {"statuses": [Status.OPEN, Status.ACCEPTED, Status.PICKED_UP]}
            elif kind == "open":
                filters = {"statuses": [Status.OPEN]}
            elif kind == "accepted":
                filters = {"statuses": [Status.ACCEPTED, Status.PICKED_UP]}
            elif kind == "today":
                filters = {"created_since": self.clock.now() - timedelta(hours=24)}
            else:
                area = await tx.areas.by_slug(kind)
                if area is None:
                    return None
                filters = {"area_id": area.id}
            total = await tx.offers.count_listed(**filters)
            number = page_number(page, total, size)
            listed = await tx.offers.listed_with_places(**filters, limit=size, offset=number * size)
        return Page([listed_view(row) for row in listed], number, total)

    async def trail(self, offer_id: int) -> OfferTrail | None:
        async with self.db.read() as tx:
            view = await offer_view(tx, offer_id)
            if view is None:
                return None
            notices = await tx.notices.for_offer_with_drivers(offer_id)
            events = [(event, Actor.parse(event.actor)) for event in await tx.events.for_offer(offer_id)]
            names = await self._names(tx, {actor for _, actor in events})
        return OfferTrail(
            view, notices, [TrailEvent(event, actor, names.get(actor)) for event, actor in events]
        )

    async def _names(self, tx: Transaction, actors: set[Actor]) -> dict[Actor, str]:
        """Each actor's name where storerun knows it: a driver's from their profile, an admin's or
        a clerk's as last seen on their updates."""
        first_names = await tx.people.first_names(a.user_id for a in actors if a.user_id is not None)
        drivers = await tx.drivers.by_ids(
            actor.id for actor in actors if actor.role is Role.DRIVER and actor.id is not None
        )
        names: dict[Actor, str] = {}
        for actor in actors:
            if actor.user_id is not None and actor.user_id in first_names:
                names[actor] = first_names[actor.user_id]
            elif actor.role is Role.DRIVER and actor.id in drivers:
                names[actor] = drivers[actor.id].name
        return names

    # --- broadcasts ---

    async def draft_broadcast(self, admin_id: int, slug: str, text: str) -> BroadcastDraft:
        """A broadcast waiting for the admin's confirmation, with how many drivers it would reach."""
        async with self.outbound.transaction() as tx:
            area = await tx.areas.by_slug(slug)
            if area is None:
                return BroadcastDraft(None, None, 0, problem=issue(Problem.NO_SUCH_AREA, area=slug))
            recipients = await tx.drivers.count_listed(status=Account.APPROVED, area_id=area.id)
            broadcast_id = await tx.broadcasts.add(area.id, text, admin_id, recipients, self.clock.now())
        return BroadcastDraft(broadcast_id, area, recipients)

    async def send_broadcast(self, broadcast_id: int, admin_id: int) -> int | None:
        """Queue the broadcast to every approved driver of its area in the bulk lane; None if it
        was already sent or cancelled."""
        now = self.clock.now()
        async with self.outbound.transaction() as tx:
            broadcast = await tx.broadcasts.by_id(broadcast_id)
            if broadcast is None or not await tx.broadcasts.move(
                broadcast_id, BroadcastStatus.DRAFT, BroadcastStatus.SENDING, sent_at=now
            ):
                return None
            area = await tx.areas.by_id(broadcast.area_id)
            assert area is not None
            drivers = await tx.drivers.listed(status=Account.APPROVED, area_id=area.id)
            tag = BROADCAST_TAG.format(id=broadcast_id)
            made = await self.outbound.rendered(
                tx, [driver.chat_id for driver in drivers], lambda m: m.broadcast(area, broadcast.text)
            )
            messages = [
                Outgoing(chat_id, Delivery.MESSAGE, params, lane=Lane.BULK, tag=tag)
                for chat_id, params in made.items()
            ]
            await tx.outbox.add_many([as_row(message) for message in messages], now)
            await tx.broadcasts.move(
                broadcast_id, BroadcastStatus.SENDING, BroadcastStatus.SENDING, recipients=len(drivers)
            )
            await tx.events.add(
                now,
                Actor.admin(admin_id).encode(),
                EventKind.BROADCAST,
                f"area={area.slug} drivers={len(drivers)}",
            )
            if not drivers:
                await self._finish(tx, broadcast_id, admin_id, area, 0, 0)
        return len(drivers)

    async def cancel_broadcast(self, broadcast_id: int) -> bool:
        async with self.outbound.transaction() as tx:
            return await tx.broadcasts.move(broadcast_id, BroadcastStatus.DRAFT, BroadcastStatus.CANCELLED)

    async def outbox_settled(self, tag: str) -> None:
        """Every call with this tag is done: a broadcast's admin gets the count."""
        prefix, _, number = tag.partition(":")
        if prefix != "broadcast" or not number.isdigit():
            return
        async with self.outbound.transaction() as tx:
            broadcast = await tx.broadcasts.by_id(int(number))
            if broadcast is None or broadcast.status != BroadcastStatus.SENDING:
                return
            counts = await tx.outbox.counts(tag)
            if counts.get(OutboxStatus.PENDING):
                return
            area = await tx.areas.by_id(broadcast.area_id)
            assert area is not None
            failed = counts.get(OutboxStatus.FAILED, 0) + counts.get(OutboxStatus.DROPPED, 0)
            await self._finish(
                tx, broadcast.id, broadcast.created_by, area, counts.get(OutboxStatus.SENT, 0), failed
            )

    async def settle_unreported(self) -> None:
        """On start: report the broadcasts that finished sending while the bot was down."""
        async with self.db.read() as tx:
            sending = await tx.broadcasts.sending()
        for broadcast in sending:
            await self.outbox_settled(BROADCAST_TAG.format(id=broadcast.id))

    async def _finish(
        self, tx: Transaction, broadcast_id: int, admin_id: int, area: Area, sent: int, failed: int
    ) -> None:
        if await tx.broadcasts.move(
            broadcast_id, BroadcastStatus.SENDING, BroadcastStatus.DONE, done_at=self.clock.now()
        ):
            await self.outbound.say(tx, admin_id, lambda m: m.broadcast_done(area, sent, failed))
