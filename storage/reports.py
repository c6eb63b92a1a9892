"""Read-only queries behind the admins' statistics and exports."""

from __future__ import annotations

import typing
from collections import defaultdict
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Row,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import schema
from storage.records import Account, OfferStatus, Outcome


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
    status: OfferStatus
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
    status: Account
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
class EventCounts:
    """How many offer events of each kind an area had in a period, and how many of them happened
    by their offer's end of pickup window (what matters of a pickup)."""

    per_kind: dict[str, int]
    by_pickup_end: dict[str, int]


@dataclass(frozen=True, slots=True)
class RoundEnds:
    """How an area's rounds (an offer's time on the board, from a round start to the event that
    ended it) ended in a period, counted in the database."""

    # (kind of the event that ended it, local hour 0–23 the round began) → how many rounds.
    per_hour: dict[tuple[str, int], int]
    # (whole seconds from the round's start to the accept that ended it, how many), shortest first.
    accept_waits: list[tuple[int, int]]


@dataclass(frozen=True, slots=True)
class DriverPresses:
    """One driver's part in an area's offers over a period: the offers they won, their presses of
    Accept, and their presses timed from their copy's delivery (Accept or Decline), and how many of
    those were fast taps."""

    driver_id: int
    won: int = 0
    accepts: int = 0
    timed: int = 0
    fast: int = 0


_REPORTED_OFFER_FIELDS = [field.name for field in fields(ReportedOffer)]


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
        self, since: datetime, until: datetime, *, chunk_rows: int
    ) -> AsyncIterator[list[ReportedOffer]]:
        """Offers created from `since` to `until` (both inclusive), oldest first, `chunk_rows` at a time.

        A server-side cursor feeds the chunks, so a year of offers takes no more memory than a day.
        """
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
            .execution_options(yield_per=chunk_rows)
        )
        async with self.connection.stream(query) as result:
            # Built from each row's values in order (a mapping per row costs more than the rest).
            assert list(result.keys()) == _REPORTED_OFFER_FIELDS
            async for rows in result.partitions():
                yield [ReportedOffer(*typing.cast("tuple[Any, ...]", row)) for row in rows]

    def _epoch_seconds(self, instant: ColumnElement[datetime]) -> ColumnElement[int]:
        """Whole seconds since 1970-01-01 UTC of a stored instant (SQLite keeps it as text)."""
        if self.connection.dialect.name == "postgresql":
            return cast(func.floor(func.extract("epoch", instant)), BigInteger)
        return cast(func.strftime("%s", instant), Integer)

    def _seconds_between(
        self, start: ColumnElement[datetime], end: ColumnElement[datetime]
    ) -> ColumnElement[int]:
        """Whole seconds (rounded) from one stored instant to another."""
        if self.connection.dialect.name == "postgresql":
            return cast(func.round(func.extract("epoch", end - start)), BigInteger)
        return cast(func.round((func.julianday(end) - func.julianday(start)) * 86400), Integer)

    async def event_counts(
        self, area_id: int, since: datetime, until: datetime, kinds: Collection[str]
    ) -> EventCounts:
        """The area's offer events of these kinds from `since` to `until` (inclusive), per kind:
        one row per kind, however long the history."""
        e, o, s = schema.events, schema.offers, schema.stores
        by_pickup_end = func.coalesce(func.sum(case((e.c.at <= o.c.pickup_end, 1), else_=0)), 0)
        query = (
            select(e.c.kind, func.count(), by_pickup_end)
            .select_from(e)
            .join(o, o.c.id == e.c.offer_id)
            .join(s, s.c.id == o.c.store_id)
            .where(s.c.area_id == area_id, e.c.kind.in_(list(kinds)), e.c.at >= since, e.c.at <= until)
            .group_by(e.c.kind)
        )
        rows = (await self.connection.execute(query)).all()
        return EventCounts(
            per_kind={str(kind): int(count) for kind, count, _ in rows},
            by_pickup_end={str(kind): int(in_time) for kind, _, in_time in rows},
        )

    async def round_ends(
        self,
        area_id: int,
        since: datetime,
        until: datetime,
        *,
        ended_by: Collection[str],
        accepted: str,
        round_starts: Collection[str],
        utc_offsets: Sequence[tuple[datetime, int]],
    ) -> RoundEnds:
        """The area's rounds that ended (by an event among `ended_by`) from `since` to `until`
        (inclusive), grouped in the database by the local hour each began and, for those ended
        by an `accepted` event, by how long that took.

        A round begins at the offer's latest earlier event among `round_starts`, however long
        before `since` that was. The local hour uses `utc_offsets`: (from when, the zone's offset
        in seconds) in time order, the first one also applying to anything earlier.
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
        ends = (
            select(e.c.kind, e.c.at, round_began_at.label("began"))
            .select_from(e)
            .join(o, o.c.id == e.c.offer_id)
            .join(s, s.c.id == o.c.store_id)
            .where(s.c.area_id == area_id, e.c.kind.in_(list(ended_by)), e.c.at >= since, e.c.at <= until)
            # Materialized: PostgreSQL would otherwise inline the round's start, once per use.
            .cte("ends")
            .prefix_with("MATERIALIZED", dialect="postgresql")
        )
        began = ends.c.began
        first_offset, *changes = utc_offsets
        offset: ColumnElement[int] = (
            case(*((began >= start, seconds) for start, seconds in reversed(changes)), else_=first_offset[1])
            if changes
            else literal(first_offset[1], Integer)
        )
        local_hour = (self._epoch_seconds(began) + offset) // 3600 % 24
        wait = case((ends.c.kind == accepted, self._seconds_between(began, ends.c.at)), else_=None)
        timed = (
            select(ends.c.kind, local_hour.label("hour"), wait.label("wait"))
            .where(began.is_not(None))
            .subquery("timed")
        )
        # One pass over the rounds: a row per kind, hour and wait (at most 24 per distinct wait,
        # and the acceptance window bounds the waits), summed both ways here.
        grouped = select(timed.c.kind, timed.c.hour, timed.c.wait, func.count()).group_by(
            timed.c.kind, timed.c.hour, timed.c.wait
        )
        per_hour: dict[tuple[str, int], int] = defaultdict(int)
        waits: dict[int, int] = defaultdict(int)
        for kind, hour, seconds, count in await self.connection.execute(grouped):
            per_hour[str(kind), int(hour)] += int(count)
            if seconds is not None:
                waits[int(seconds)] += int(count)
        return RoundEnds(per_hour=dict(per_hour), accept_waits=sorted(waits.items()))

    async def presses_per_driver(
        self, periods: Mapping[int, datetime], until: datetime, human_min_ms: int
    ) -> dict[int, list[DriverPresses]]:
        """Per area (area id → the start of its period, each area's own midnight) and driver, in the
        area's offers from its start to `until` (inclusive): the copies that won their offer then,
        and the first presses then on their copies: of Accept (the copy was not declined), timed
        from delivery, and sooner than `human_min_ms` (fast taps). One row per area and driver who
        won or pressed, counted in the database in one pass over the period's copies (by
        ix_notices_won_at and ix_notices_pressed_at, from the earliest start), drivers by id."""
        if not periods:
            return {}
        n, o, s = schema.notices, schema.offers, schema.stores
        earliest = min(periods.values())

        def in_period(column: Any) -> ColumnElement[bool]:
            return or_(*(and_(s.c.area_id == area_id, column >= since) for area_id, since in periods.items()))

        won = and_(n.c.won_at <= until, in_period(n.c.won_at))
        pressed = and_(n.c.pressed_at <= until, in_period(n.c.pressed_at))
        query = (
            select(
                s.c.area_id,
                n.c.driver_id,
                func.count().filter(won),
                func.count().filter(pressed, n.c.outcome != Outcome.DECLINED),
                func.count().filter(pressed, n.c.press_ms.is_not(None)),
                func.count().filter(pressed, n.c.press_ms < human_min_ms),
                func.count().filter(or_(won, pressed)),
            )
            .select_from(n)
            .join(o, o.c.id == n.c.offer_id)
            .join(s, s.c.id == o.c.store_id)
            .where(
                s.c.area_id.in_(list(periods)),
                or_(
                    and_(n.c.won_at >= earliest, n.c.won_at <= until),
                    and_(n.c.pressed_at >= earliest, n.c.pressed_at <= until),
                ),
            )
            .group_by(s.c.area_id, n.c.driver_id)
            .order_by(s.c.area_id, n.c.driver_id)
        )
        found: dict[int, list[DriverPresses]] = {area_id: [] for area_id in periods}
        for area_id, driver, wins, accepts, timed, fast, counted in await self.connection.execute(query):
            if counted:  # not only before this area's own midnight
                found[int(area_id)].append(
                    DriverPresses(int(driver), int(wins), int(accepts), int(timed), int(fast))
                )
        return found

    async def drivers(
        self, *, active_since: datetime, chunk_rows: int
    ) -> AsyncIterator[list[ReportedDriver]]:
        """Drivers who joined or were sent an offer since `active_since`, oldest first, `chunk_rows`
        at a time from a server-side cursor."""
        d, n = schema.drivers, schema.notices
        noticed = select(n.c.id).where(n.c.driver_id == d.c.id, n.c.created_at >= active_since).exists()
        query = (
            select(d)
            .where(or_(d.c.created_at >= active_since, noticed))
            .order_by(d.c.id)
            .execution_options(yield_per=chunk_rows)
        )
        # Read before the cursor opens: a second query must not run while it is being read.
        slugs = await self._area_slugs_by_driver()
        async with self.connection.stream(query) as result:
            async for rows in result.partitions():
                yield self._reported_drivers(rows, slugs)

    @staticmethod
    def _reported_drivers(rows: Sequence[Row[Any]], slugs: Mapping[int, list[str]]) -> list[ReportedDriver]:
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
