"""Drivers: enrollment, an admin's decision, going online and offline, and their day at a glance."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from dispatch.actors import Actor
from dispatch.views import DayTally, OfferView, day_tally, offer_view
from storage.records import Account, Area, CardKind, Driver, EventKind, Prompt

if TYPE_CHECKING:
    from dispatch.clock import Clock
    from dispatch.dispatcher import Outbound
    from dispatch.offers import OfferDesk
    from storage.db import Database

APPLICATION = CardKind.APPLICATION


class Enrollment(StrEnum):
    """Where someone stands after a step of signing up."""

    ASK_PHONE = "ask_phone"
    APPLIED = "applied"
    ALREADY_APPLIED = "already_applied"
    NO_SUCH_AREA = "no_such_area"
    NOT_ENROLLING = "not_enrolling"


class Decision(StrEnum):
    """How an admin's Approve or Reject press turned out."""

    APPROVED = "approved"
    REJECTED = "rejected"
    ALREADY_DECIDED = "already_decided"
    NO_SUCH_DRIVER = "no_such_driver"
    NOT_ADMIN = "not_admin"


class Availability(StrEnum):
    """How going online or offline turned out."""

    ONLINE = "online"
    OFFLINE = "offline"
    NOT_A_DRIVER = "not_a_driver"
    NOT_APPROVED = "not_approved"


@dataclass(frozen=True, slots=True)
class DriverStatus:
    """What /status shows a driver."""

    driver: Driver
    areas: list[Area]
    held: list[OfferView]
    today: DayTally


class DriverDesk:
    """Every step of a driver's standing; each is one transaction."""

    def __init__(
        self, db: Database, clock: Clock, outbound: Outbound, admin_ids: frozenset[int], *, offers: OfferDesk
    ) -> None:
        self.db = db
        self.clock = clock
        self.outbound = outbound
        self.admin_ids = admin_ids
        self.offers = offers  # a driver who stops driving has their offer copies withdrawn

    async def areas(self) -> list[Area]:
        """The areas a new driver can choose from."""
        async with self.db.transaction() as tx:
            return await tx.areas.all(active_only=True)

    async def choose_area(
        self, tg_user_id: int, chat_id: int, name: str, username: str | None, area_id: int
    ) -> Enrollment:
        """A new driver picked their area: they are now applying, and asked for a phone."""
        now = self.clock.now()
        async with self.outbound.transaction() as tx:
            area = await tx.areas.by_id(area_id)
            if area is None or not area.active:
                return Enrollment.NO_SUCH_AREA
            driver = await tx.drivers.by_telegram_id(tg_user_id)
            if driver is not None and driver.enrolled_at is not None:
                return Enrollment.ALREADY_APPLIED
            if driver is None:
                driver_id = await tx.drivers.add(tg_user_id, chat_id, name, now, username=username)
            else:
                driver_id = driver.id
            await tx.drivers.add_area(driver_id, area.id)
            await tx.drivers.update(driver_id, prompt=Prompt.PHONE, prompt_offer_id=None)
            await tx.events.add(now, Actor.driver(driver_id).encode(), EventKind.ENROLL, f"area={area.slug}")
        return Enrollment.ASK_PHONE

    async def finish_application(self, tg_user_id: int, phone: str | None) -> Enrollment:
        """The phone was shared (or skipped): the driver is pending and every admin gets a card."""
        now = self.clock.now()
        async with self.outbound.transaction() as tx:
            driver = await tx.drivers.by_telegram_id(tg_user_id)
            if driver is None or driver.prompt != Prompt.PHONE:
                return Enrollment.NOT_ENROLLING
            await tx.drivers.update(driver.id, phone=phone, enrolled_at=now, prompt=None)
            driver = await tx.drivers.by_id(driver.id)
            assert driver is not None
            areas = await tx.drivers.areas_of(driver.id)
            for admin in sorted(self.admin_ids):
                outbox_id = await self.outbound.say(tx, admin, lambda m: m.application_card(driver, areas))
                await tx.cards.add(APPLICATION, driver.id, admin, outbox_id, now)
            await tx.events.add(
                now,
                Actor.driver(driver.id).encode(),
                EventKind.APPLIED,
                f"phone={'yes' if phone else 'no'}",
            )
        return Enrollment.APPLIED

    async def decide(self, driver_id: int, admin_id: int, admin_name: str, approve: bool) -> Decision:
        """The first admin to press Approve or Reject decides; every card then says who did."""
        if admin_id not in self.admin_ids:
            return Decision.NOT_ADMIN
        now = self.clock.now()
        to = Account.APPROVED if approve else Account.REJECTED
        async with self.outbound.transaction() as tx:
            if await tx.drivers.by_id(driver_id) is None:
                return Decision.NO_SUCH_DRIVER
            if not await tx.drivers.set_status(driver_id, [Account.PENDING], to):
                return Decision.ALREADY_DECIDED
            driver = await tx.drivers.by_id(driver_id)
            assert driver is not None
            await tx.events.add(now, Actor.admin(admin_id).encode(), EventKind(to), f"driver={driver_id}")
            areas = await tx.drivers.areas_of(driver_id)
            for card in await tx.cards.of(APPLICATION, driver_id):
                await self.outbound.say(
                    tx,
                    card.chat_id,
                    lambda m: m.application_decided(driver, areas, approve, admin_name),
                    edit_of=card.outbox_id,
                )
            await self.outbound.say(
                tx, driver.chat_id, lambda m: m.you_are_approved() if approve else m.you_are_rejected()
            )
        return Decision.APPROVED if approve else Decision.REJECTED

    async def set_online(self, tg_user_id: int, online: bool) -> tuple[Availability, Driver | None]:
        """Go online (offers come) or offline (they stop); only approved drivers."""
        async with self.outbound.transaction() as tx:
            driver = await tx.drivers.by_telegram_id(tg_user_id)
            if driver is None:
                return Availability.NOT_A_DRIVER, None
            if not await tx.drivers.set_online(driver.id, online):
                return Availability.NOT_APPROVED, driver
            if not online:
                await self.offers.withdraw_copies(tx, driver)
            await tx.events.add(
                self.clock.now(),
                Actor.driver(driver.id).encode(),
                EventKind.ONLINE if online else EventKind.OFFLINE,
            )
        return (Availability.ONLINE if online else Availability.OFFLINE), driver

    async def prompt_of(self, tg_user_id: int) -> str | None:
        """What the bot is waiting for this person to type or send, if anything."""
        async with self.db.transaction() as tx:
            driver = await tx.drivers.by_telegram_id(tg_user_id)
        return driver.prompt if driver else None

    async def status(self, tg_user_id: int) -> DriverStatus | None:
        """The driver's areas, online state, held offers and today's tally."""
        async with self.db.transaction() as tx:
            driver = await tx.drivers.by_telegram_id(tg_user_id)
            if driver is None:
                return None
            areas = await tx.drivers.areas_of(driver.id)
            held = [await offer_view(tx, offer.id) for offer in await tx.offers.held_by(driver.id)]
            today = await day_tally(tx, driver.id, self.clock.now(), areas[0].tz if areas else "UTC")
        return DriverStatus(
            driver=driver, areas=areas, held=[view for view in held if view is not None], today=today
        )
