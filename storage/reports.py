"""Read-only queries behind the admins' statistics and exports."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import schema


@dataclass(frozen=True, slots=True)
class ReportedOffer:
    """An offer as reports see it, with its store and area.

    The pickup code and the customer's address are deliberately not read: a report
    travels as a file and must carry neither a secret nor personal data.
    """

    id: int
    store_id: int
    store_code: str
    store_name: str
    area_id: int
    area_slug: str
    area_tz: str
    ref: str
    status: str
    packages: int
    zone: str
    pay_cents: int
    pickup_start: datetime
    pickup_end: datetime
    deliver_by: datetime | None
    created_at: datetime
    accepted_at: datetime | None
    picked_up_at: datetime | None
    finished_at: datetime | None
    holder_id: int | None
    wrong_codes: int
    failure_reason: str | None
    proof_file_id: str | None


@dataclass(frozen=True, slots=True)
class ReportedDriver:
    """A driver with the slugs of their areas and their lifetime counters."""

    id: int
    name: str
    username: str | None
    phone: str | None
    status: str
    online: bool
    area_slugs: tuple[str, ...]
    offered: int
    accepted: int
    declined: int
    timed_out: int
    released: int
    no_shows: int
    delivered: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ReportedEvent:
    """One event of an offer's trail, with what /stats needs to judge it."""

    offer_id: int
    kind: str
    at: datetime
    pickup_end: datetime
    # The offer's latest round start before this event (None when its trail has none).
    round_began_at: datetime | None


@dataclass(frozen=True, slots=True)
class PickupTally:
    """How many offers a driver picked up, and how many of those within the pickup window."""

    picked_up: int
    on_time: int


class Reports:
    """Queries for reports; they only read, so they run in `Database.read()`."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

    async def offers_created(
        self, since: datetime, until: datetime, area_id: int | None = None
    ) -> list[ReportedOffer]:
        """Offers created from `since` to `until` (both inclusive), optionally of one area, oldest first."""
        o, s, a = schema.offers, schema.stores, schema.areas
        query = (
            select(
                o.c.id,
                o.c.store_id,
                s.c.code.label("store_code"),
                s.c.name.label("store_name"),
                a.c.id.label("area_id"),
                a.c.slug.label("area_slug"),
                a.c.tz.label("area_tz"),
                o.c.ref,
                o.c.status,
                o.c.packages,
                o.c.zone,
                o.c.pay_cents,
                o.c.pickup_start,
                o.c.pickup_end,
                o.c.deliver_by,
                o.c.created_at,
                o.c.accepted_at,
                o.c.picked_up_at,
                o.c.finished_at,
                o.c.holder_id,
                o.c.wrong_codes,
                o.c.failure_reason,
                o.c.proof_file_id,
            )
            .join(s, s.c.id == o.c.store_id)
            .join(a, a.c.id == s.c.area_id)
            .where(o.c.created_at >= since, o.c.created_at <= until)
            .order_by(o.c.created_at, o.c.id)
        )
        if area_id is not None:
            query = query.where(a.c.id == area_id)
        rows = await self.connection.execute(query)
        return [ReportedOffer(**row._mapping) for row in rows]

    async def offer_events(
        self,
        area_id: int,
        since: datetime,
        until: datetime,
        kinds: Collection[str],
        round_starts: Collection[str],
    ) -> list[ReportedEvent]:
        """The area's offer events of these kinds from `since` to `until` (inclusive), oldest first.

        Each comes with the time of the offer's latest earlier event among `round_starts` (the
        moments it was put on the board), found however long before `since` that was.
        """
        e, o, s = schema.events, schema.offers, schema.stores
        earlier = schema.events.alias("earlier")
        round_began_at = (
            select(func.max(earlier.c.at))
            .where(
                earlier.c.offer_id == e.c.offer_id,
                earlier.c.kind.in_(list(round_starts)),
                # Ids follow the order of writing, even for events stamped with the same instant.
                earlier.c.id < e.c.id,
            )
            .scalar_subquery()
        )
        query = (
            select(
                e.c.offer_id,
                e.c.kind,
                e.c.at,
                o.c.pickup_end,
                round_began_at.label("round_began_at"),
            )
            .join(o, o.c.id == e.c.offer_id)
            .join(s, s.c.id == o.c.store_id)
            .where(s.c.area_id == area_id, e.c.kind.in_(list(kinds)), e.c.at >= since, e.c.at <= until)
            .order_by(e.c.at, e.c.id)
        )
        return [ReportedEvent(**row._mapping) for row in await self.connection.execute(query)]

    async def drivers(
        self, *, area_id: int | None = None, active_since: datetime | None = None
    ) -> list[ReportedDriver]:
        """Drivers (optionally of one area), oldest first.

        With `active_since`, only those who joined since then or were sent an offer since then.
        """
        d, n = schema.drivers, schema.notices
        query = select(d).order_by(d.c.id)
        if area_id is not None:
            links = schema.driver_areas
            query = query.where(
                select(links.c.driver_id)
                .where(links.c.driver_id == d.c.id, links.c.area_id == area_id)
                .exists()
            )
        if active_since is not None:
            noticed = select(n.c.id).where(n.c.driver_id == d.c.id, n.c.created_at >= active_since).exists()
            query = query.where(or_(d.c.created_at >= active_since, noticed))
        rows = (await self.connection.execute(query)).all()
        slugs = await self._area_slugs_by_driver()
        return [
            ReportedDriver(
                id=row.id,
                name=row.name,
                username=row.username,
                phone=row.phone,
                status=row.status,
                online=bool(row.online),
                area_slugs=tuple(slugs.get(row.id, ())),
                offered=row.offered,
                accepted=row.accepted,
                declined=row.declined,
                timed_out=row.timed_out,
                released=row.released,
                no_shows=row.no_shows,
                delivered=row.delivered,
                created_at=row.created_at,
            )
            for row in rows
        ]

    async def pickups_per_driver(self, since: datetime, until: datetime) -> dict[int, PickupTally]:
        """Per driver, the offers they picked up from `since` to `until` and how many were on time."""
        o = schema.offers
        on_time = func.sum(case((o.c.picked_up_at <= o.c.pickup_end, 1), else_=0))
        query = (
            select(o.c.holder_id, func.count(), on_time)
            .where(
                and_(
                    o.c.holder_id.is_not(None),
                    o.c.picked_up_at.is_not(None),
                    o.c.picked_up_at >= since,
                    o.c.picked_up_at <= until,
                )
            )
            .group_by(o.c.holder_id)
        )
        return {
            int(driver): PickupTally(picked_up=int(count), on_time=int(in_time or 0))
            for driver, count, in_time in (await self.connection.execute(query)).all()
        }

    async def _area_slugs_by_driver(self) -> dict[int, list[str]]:
        """Every driver's area slugs, in slug order."""
        links, a = schema.driver_areas, schema.areas
        query = (
            select(links.c.driver_id, a.c.slug)
            .join(a, a.c.id == links.c.area_id)
            .order_by(links.c.driver_id, a.c.slug)
        )
        slugs: dict[int, list[str]] = defaultdict(list)
        for driver_id, slug in (await self.connection.execute(query)).all():
            slugs[int(driver_id)].append(slug)
        return slugs
