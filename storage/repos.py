"""Queries, grouped per concept, all run inside one explicit Transaction."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal, NotRequired, TypedDict, TypeVar, Unpack

from sqlalchemy import (
    ColumnElement,
    Insert,
    Row,
    Select,
    String,
    Table,
    and_,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import schema
from storage.records import (
    EDITS,
    HELD_STATUSES,
    LIVE_STATUSES,
    SETTLED,
    Account,
    Area,
    Broadcast,
    BroadcastStatus,
    Card,
    CardKind,
    Delivery,
    Driver,
    Event,
    EventKind,
    ExportRequest,
    GivenUp,
    InboxBacklog,
    InboxStatus,
    InboxUpdate,
    Invite,
    Language,
    Notice,
    Offer,
    OfferStatus,
    OrderDraft,
    OutboxMessage,
    OutboxStatus,
    Outcome,
    Prompt,
    RequestKind,
    Store,
)

T = TypeVar("T")

# Ids per IN (...) list: well under what SQLite and asyncpg take as parameters of one statement.
_IN_CHUNK = 5000


@dataclass(frozen=True, slots=True)
class InboxEntry:
    """An update to store: its id, the chat that orders it, its kind and its JSON."""

    update_id: int
    chat_key: int
    kind: str
    payload: str


# The columns a caller may set on an existing row, one TypedDict per table: a misspelled name
# fails the type check instead of reaching the database.


class AreaChanges(TypedDict, total=False):
    """An area's dispatch settings (Areas.update)."""

    award_window_seconds: int | None
    fairness_order: str | None


class DriverChanges(TypedDict, total=False):
    """A driver's plain fields (Drivers.update): not the status, which moves by a conditional
    write (Drivers.set_status), nor the counters (Drivers.count)."""

    name: str
    username: str | None
    phone: str | None
    online: bool
    enrolled_at: datetime | None
    prompt: Prompt | None
    prompt_offer_id: int | None
    timeouts_in_a_row: int
    fast_taps_told_at: datetime | None


class DriverCounts(TypedDict, total=False):
    """How much to add to each of a driver's counters (Drivers.count)."""

    offered: int
    accepted: int
    declined: int
    timed_out: int
    released: int
    no_shows: int
    delivered: int


class OfferChanges(TypedDict, total=False):
    """An offer's fields other than its status (Offers.update), or set with a status change
    (Offers.transition, dispatch.lifecycle.step)."""

    pickup_start: datetime
    pickup_end: datetime
    deliver_by: datetime | None
    holder_id: int | None
    wave: int
    next_wave_at: datetime | None
    expires_at: datetime | None
    wrong_codes: int
    pickup_locked: bool
    proof_file_id: str | None
    failure_reason: str | None
    accepted_at: datetime | None
    picked_up_at: datetime | None
    finished_at: datetime | None
    pickup_reminded_at: datetime | None
    late_reminded_at: datetime | None
    delivery_reminded_at: datetime | None
    cancel_reason: str | None
    code_asked_at: datetime | None
    award_at: datetime | None


class NewOffer(TypedDict):
    """A new offer's columns (Offers.add)."""

    store_id: int
    ref: str
    packages: int
    zone: str
    address: str
    pay_cents: int
    pickup_start: datetime
    pickup_end: datetime
    deliver_by: datetime | None
    pickup_code: str
    status: OfferStatus
    created_at: datetime
    created_by: NotRequired[int | None]
    wave: NotRequired[int]
    next_wave_at: NotRequired[datetime | None]
    expires_at: NotRequired[datetime | None]


class BroadcastChanges(TypedDict, total=False):
    """A broadcast's fields set with a status change (Broadcasts.move)."""

    recipients: int
    sent_at: datetime
    done_at: datetime


class NewOutbox(TypedDict):
    """One delivery's outbox columns, for a bulk insert (Outbox.add_many)."""

    lane: int
    chat_id: int
    kind: Delivery
    payload: str
    target_id: int | None
    notice_id: NotRequired[int | None]
    tag: NotRequired[str | None]


class DriverFilters(TypedDict, total=False):
    """What a list of drivers is narrowed to (Drivers.listed, Drivers.count_listed)."""

    status: Account | None
    online: bool | None
    area_id: int | None


class OfferFilters(TypedDict, total=False):
    """What a list of offers is narrowed to (Offers.listed, count_listed, listed_with_places)."""

    statuses: Sequence[OfferStatus]
    area_id: int | None
    store_id: int | None
    created_since: datetime | None


# The columns of an offer's reminders, each set once when its reminder goes out.
ReminderColumn = Literal["pickup_reminded_at", "late_reminded_at", "delivery_reminded_at"]


def _record(kind: type[T], row: Row[Any] | None) -> T | None:
    return None if row is None else kind(**{name: row._mapping[name] for name in kind.__slots__})  # type: ignore[attr-defined]


def _records(kind: type[T], rows: Iterable[Row[Any]]) -> list[T]:
    return [kind(**{name: row._mapping[name] for name in kind.__slots__}) for row in rows]  # type: ignore[attr-defined]


def _labelled(table: Table, prefix: str) -> list[ColumnElement[Any]]:
    """Every column of the table, named with a prefix, so that joined tables' names do not clash."""
    return [column.label(f"{prefix}{column.name}") for column in table.c]


def _prefixed(kind: type[T], row: Row[Any], prefix: str) -> T | None:
    """The record read from columns selected with `_labelled`; None where an outer join found none."""
    names: tuple[str, ...] = kind.__slots__  # type: ignore[attr-defined]
    if row._mapping[f"{prefix}id"] is None:
        return None
    return kind(**{name: row._mapping[f"{prefix}{name}"] for name in names})


def _ms_after(delivered_at: datetime, pressed_at: datetime) -> int:
    """How many ms after its copy's delivery a press came (notices.press_ms; never below 0)."""
    return max(0, round((pressed_at - delivered_at).total_seconds() * 1000))


class _Repo:
    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

    def _insert_ignoring_conflict(self, table: Table, *conflict: str) -> Insert:
        """INSERT … ON CONFLICT DO NOTHING in this connection's dialect."""
        if self.connection.dialect.name == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing(index_elements=list(conflict))
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=list(conflict))

    def _upsert(self, table: Table, values: Mapping[str, Any], *conflict: str) -> Insert:
        """INSERT … ON CONFLICT (…) DO UPDATE in this connection's dialect."""
        changed = {name: value for name, value in values.items() if name not in conflict}
        if self.connection.dialect.name == "postgresql":
            pg = postgresql.insert(table).values(**values)
            return pg.on_conflict_do_update(index_elements=list(conflict), set_=changed)
        lite = sqlite.insert(table).values(**values)
        return lite.on_conflict_do_update(index_elements=list(conflict), set_=changed)


class Areas(_Repo):
    async def upsert(self, slug: str, name: str, tz: str, active: bool = True) -> int:
        """Create or update the area with this slug; returns its id."""
        values = {"slug": slug, "name": name, "tz": tz, "active": active}
        await self.connection.execute(self._upsert(schema.areas, values, "slug"))
        area = await self.by_slug(slug)
        assert area is not None
        return area.id

    async def by_slug(self, slug: str) -> Area | None:
        row = (await self.connection.execute(select(schema.areas).where(schema.areas.c.slug == slug))).first()
        return _record(Area, row)

    async def by_id(self, area_id: int) -> Area | None:
        query = select(schema.areas).where(schema.areas.c.id == area_id)
        return _record(Area, (await self.connection.execute(query)).first())

    async def all(self, *, active_only: bool = False) -> list[Area]:
        query = select(schema.areas).order_by(schema.areas.c.id)
        if active_only:
            query = query.where(schema.areas.c.active.is_(True))
        return _records(Area, await self.connection.execute(query))

    async def update(self, area_id: int, **values: Unpack[AreaChanges]) -> None:
        """Set an area's dispatch settings (award window, fairness order)."""
        await self.connection.execute(
            update(schema.areas).where(schema.areas.c.id == area_id).values(**values)
        )

    async def set_active(self, slug: str, active: bool) -> bool:
        statement = update(schema.areas).where(schema.areas.c.slug == slug).values(active=active)
        return (await self.connection.execute(statement)).rowcount == 1


class Stores(_Repo):
    async def upsert(self, code: str, name: str, area_id: int, location: str) -> int:
        """Create or update the store with this code; returns its id."""
        values = {
            "code": code,
            "name": name,
            "area_id": area_id,
            "location": location,
            "active": True,
        }
        await self.connection.execute(self._upsert(schema.stores, values, "code"))
        store = await self.by_code(code)
        assert store is not None
        return store.id

    async def by_code(self, code: str) -> Store | None:
        query = select(schema.stores).where(schema.stores.c.code == code)
        return _record(Store, (await self.connection.execute(query)).first())

    async def by_id(self, store_id: int) -> Store | None:
        query = select(schema.stores).where(schema.stores.c.id == store_id)
        return _record(Store, (await self.connection.execute(query)).first())

    async def in_area(self, area_id: int) -> list[Store]:
        query = select(schema.stores).where(schema.stores.c.area_id == area_id).order_by(schema.stores.c.code)
        return _records(Store, await self.connection.execute(query))

    async def staffed_by(self, chat_id: int) -> list[Store]:
        """The stores whose staff includes this chat."""
        query = (
            select(schema.stores)
            .join(schema.store_staff, schema.store_staff.c.store_id == schema.stores.c.id)
            .where(schema.store_staff.c.chat_id == chat_id)
            .order_by(schema.stores.c.code)
        )
        return _records(Store, await self.connection.execute(query))

    async def all(self, area_id: int | None = None) -> list[Store]:
        query = select(schema.stores).order_by(schema.stores.c.code)
        if area_id is not None:
            query = query.where(schema.stores.c.area_id == area_id)
        return _records(Store, await self.connection.execute(query))

    async def count_per_area(self) -> dict[int, int]:
        """How many stores each area has, by area id."""
        s = schema.stores
        query = select(s.c.area_id, func.count()).group_by(s.c.area_id)
        return {int(area_id): int(count) for area_id, count in await self.connection.execute(query)}

    async def staff_chats(self, store_id: int) -> list[int]:
        """Every chat linked to the store as its staff."""
        s = schema.store_staff
        query = select(s.c.chat_id).where(s.c.store_id == store_id).order_by(s.c.linked_at)
        return [int(chat_id) for chat_id in (await self.connection.execute(query)).scalars()]

    async def unlink_staff(self, chat_id: int) -> list[str]:
        """Remove this chat from every store's staff; returns the store codes it left."""
        stores = await self.staffed_by(chat_id)
        await self.connection.execute(
            delete(schema.store_staff).where(schema.store_staff.c.chat_id == chat_id)
        )
        return [store.code for store in stores]

    async def link_staff(self, store_id: int, chat_id: int, user_id: int, at: datetime) -> bool:
        """Add a staff chat to a store; False if it was already linked."""
        statement = self._insert_ignoring_conflict(schema.store_staff, "store_id", "chat_id").values(
            store_id=store_id, chat_id=chat_id, user_id=user_id, linked_at=at
        )
        return (await self.connection.execute(statement)).rowcount == 1


class Drivers(_Repo):
    async def add(
        self, tg_user_id: int, chat_id: int, name: str, at: datetime, username: str | None = None
    ) -> int:
        statement = insert(schema.drivers).values(
            tg_user_id=tg_user_id,
            chat_id=chat_id,
            name=name,
            username=username,
            status=Account.PENDING,
            created_at=at,
        )
        return int((await self.connection.execute(statement.returning(schema.drivers.c.id))).scalar_one())

    async def by_telegram_id(self, tg_user_id: int) -> Driver | None:
        query = select(schema.drivers).where(schema.drivers.c.tg_user_id == tg_user_id)
        return _record(Driver, (await self.connection.execute(query)).first())

    async def by_id(self, driver_id: int) -> Driver | None:
        query = select(schema.drivers).where(schema.drivers.c.id == driver_id)
        return _record(Driver, (await self.connection.execute(query)).first())

    async def lock(self, driver_id: int) -> Driver | None:
        """The driver as they are now, their row locked until the transaction ends (see
        lock_many): what they hold and their standing stay as read until then."""
        return (await self.lock_many([driver_id])).get(driver_id)

    async def lock_many(self, driver_ids: Collection[int]) -> dict[int, Driver]:
        """These drivers as they are now, by id, their rows locked in id order until the
        transaction ends (SELECT … FOR UPDATE; nothing to lock on SQLite, which has one writer).

        The row that serializes a driver's rules: an accept or an award counts what the driver
        holds only under it, so two at once cannot both find them one short of the limit. Taken
        after the offer's row (Offers.lock), never before it."""
        if not driver_ids:
            return {}
        d = schema.drivers
        query = select(d).where(d.c.id.in_(sorted(driver_ids))).order_by(d.c.id).with_for_update()
        return {driver.id: driver for driver in _records(Driver, await self.connection.execute(query))}

    async def lock_with_copy(self, offer_id: int, outcome: Outcome) -> dict[int, Driver]:
        """The drivers whose copy of this offer is in this outcome (collected in its award window),
        as they are now, by id, their rows locked in id order as lock_many locks them."""
        d, n = schema.drivers, schema.notices
        with_copy = select(n.c.driver_id).where(n.c.offer_id == offer_id, n.c.outcome == outcome)
        query = select(d).where(d.c.id.in_(with_copy)).order_by(d.c.id).with_for_update(of=d)
        return {driver.id: driver for driver in _records(Driver, await self.connection.execute(query))}

    async def _lock_in_order(self, driver_ids: Collection[int]) -> None:
        """Before an UPDATE of many drivers' rows on PostgreSQL: lock them in id order first (the
        UPDATE itself takes them in whatever order its plan reads them), so it cannot deadlock
        with another transaction locking some of them in order (lock_many)."""
        if len(driver_ids) > 1 and self.connection.dialect.name == "postgresql":
            d = schema.drivers
            query = select(d.c.id).where(d.c.id.in_(sorted(driver_ids))).order_by(d.c.id).with_for_update()
            await self.connection.execute(query)

    async def set_status(self, driver_id: int, from_statuses: Sequence[Account], to: Account) -> bool:
        """Conditional write: move the driver to `to` only from one of `from_statuses`."""
        statement = (
            update(schema.drivers)
            .where(schema.drivers.c.id == driver_id, schema.drivers.c.status.in_(from_statuses))
            .values(status=to)
        )
        return (await self.connection.execute(statement)).rowcount == 1

    async def update(self, driver_id: int, **values: Unpack[DriverChanges]) -> None:
        """Set plain fields (phone, prompt, enrolled_at, …)."""
        await self.connection.execute(
            update(schema.drivers).where(schema.drivers.c.id == driver_id).values(**values)
        )

    async def count(self, driver_id: int, **increments: Unpack[DriverCounts]) -> None:
        """Add to the driver's counters, e.g. count(7, accepted=1)."""
        values = {name: schema.drivers.c[name] + amount for name, amount in increments.items()}
        await self.connection.execute(
            update(schema.drivers).where(schema.drivers.c.id == driver_id).values(**values)
        )

    async def offered(self, driver_ids: Sequence[int], at: datetime) -> None:
        """A wave reached these drivers: one more offer each, and `at` as their last (one UPDATE)."""
        if driver_ids:
            d = schema.drivers
            await self._lock_in_order(driver_ids)
            await self.connection.execute(
                update(d).where(d.c.id.in_(driver_ids)).values(offered=d.c.offered + 1, last_offered_at=at)
            )

    async def timed_out(self, driver_ids: Sequence[int]) -> list[Driver]:
        """These drivers' copies expired unanswered: one more timeout each, and one more in a row;
        returns them as they now are (one UPDATE … RETURNING)."""
        if not driver_ids:
            return []
        d = schema.drivers
        await self._lock_in_order(driver_ids)
        statement = (
            update(d)
            .where(d.c.id.in_(driver_ids))
            .values(timed_out=d.c.timed_out + 1, timeouts_in_a_row=d.c.timeouts_in_a_row + 1)
            .returning(*d.c)
        )
        return sorted(_records(Driver, await self.connection.execute(statement)), key=lambda x: x.id)

    async def note_fast_taps(self, driver_id: int, at: datetime) -> bool:
        """Conditional write: the admins are told of this driver's fast taps once; True for the one
        transaction that notes it."""
        d = schema.drivers
        statement = (
            update(d).where(d.c.id == driver_id, d.c.fast_taps_told_at.is_(None)).values(fast_taps_told_at=at)
        )
        return (await self.connection.execute(statement)).rowcount == 1

    async def set_online(self, driver_id: int, online: bool) -> bool:
        """Only an approved driver can be online; False if the driver is not approved."""
        statement = (
            update(schema.drivers)
            .where(schema.drivers.c.id == driver_id, schema.drivers.c.status == Account.APPROVED)
            .values(online=online, timeouts_in_a_row=0)
        )
        return (await self.connection.execute(statement)).rowcount == 1

    async def add_area(self, driver_id: int, area_id: int) -> None:
        statement = self._insert_ignoring_conflict(schema.driver_areas, "driver_id", "area_id").values(
            driver_id=driver_id, area_id=area_id
        )
        await self.connection.execute(statement)

    async def in_area(self, driver_ids: Collection[int], area_id: int) -> set[int]:
        """Which of these drivers work in the area."""
        if not driver_ids:
            return set()
        da = schema.driver_areas
        query = select(da.c.driver_id).where(da.c.driver_id.in_(list(driver_ids)), da.c.area_id == area_id)
        return {int(driver_id) for driver_id in (await self.connection.execute(query)).scalars()}

    async def areas_of(self, driver_id: int) -> list[Area]:
        query = (
            select(schema.areas)
            .join(schema.driver_areas, schema.driver_areas.c.area_id == schema.areas.c.id)
            .where(schema.driver_areas.c.driver_id == driver_id)
            .order_by(schema.areas.c.id)
        )
        return _records(Area, await self.connection.execute(query))

    async def eligible_for(self, offer_id: int, area_id: int, *, max_held: int, limit: int) -> list[Driver]:
        """The next drivers to offer this to: approved, online, reachable, in the area, not full,
        without a live copy of it, never having declined or released it; longest-waiting first."""
        d, n, o = schema.drivers, schema.notices, schema.offers
        held = (
            select(func.count())
            .select_from(o)
            .where(o.c.holder_id == d.c.id, o.c.status.in_(HELD_STATUSES))
            .scalar_subquery()
        )
        already = select(n.c.id).where(
            n.c.offer_id == offer_id,
            n.c.driver_id == d.c.id,
            n.c.outcome.notin_([Outcome.TAKEN, Outcome.EXPIRED, Outcome.WITHDRAWN]),
        )
        query = (
            select(d)
            .join(schema.driver_areas, schema.driver_areas.c.driver_id == d.c.id)
            .where(
                schema.driver_areas.c.area_id == area_id,
                d.c.status == Account.APPROVED,
                d.c.online.is_(True),
                d.c.reachable.is_(True),
                held < max_held,
                ~already.exists(),
            )
            .order_by(case((d.c.last_offered_at.is_(None), 0), else_=1), d.c.last_offered_at, d.c.id)
            .limit(limit)
        )
        return _records(Driver, await self.connection.execute(query))

    @staticmethod
    def _filter(
        status: Account | None, online: bool | None, area_id: int | None
    ) -> list[ColumnElement[bool]]:
        d = schema.drivers
        conditions: list[ColumnElement[bool]] = []
        if status is not None:
            conditions.append(d.c.status == status)
        if online is not None:
            conditions += [d.c.online.is_(online), d.c.status == Account.APPROVED]
        if area_id is not None:
            areas = schema.driver_areas
            conditions.append(
                select(areas.c.driver_id)
                .where(areas.c.driver_id == d.c.id, areas.c.area_id == area_id)
                .exists()
            )
        return conditions

    async def listed(
        self,
        *,
        status: Account | None = None,
        online: bool | None = None,
        area_id: int | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Driver]:
        """Drivers for the admin's list, newest first, filtered as asked; with `limit`, only the
        page that starts `offset` rows in."""
        d = schema.drivers
        query = select(d).where(*self._filter(status, online, area_id)).order_by(d.c.id.desc())
        if limit is not None:
            query = query.limit(limit).offset(offset)
        return _records(Driver, await self.connection.execute(query))

    async def count_listed(
        self, *, status: Account | None = None, online: bool | None = None, area_id: int | None = None
    ) -> int:
        """How many drivers `listed` finds with these filters, counted in the database."""
        d = schema.drivers
        query = select(func.count()).select_from(d).where(*self._filter(status, online, area_id))
        return int((await self.connection.execute(query)).scalar_one())

    async def by_ids(self, driver_ids: Iterable[int]) -> dict[int, Driver]:
        """These drivers by id, in one query (those that exist)."""
        wanted = set(driver_ids)
        if not wanted:
            return {}
        query = select(schema.drivers).where(schema.drivers.c.id.in_(wanted))
        return {driver.id: driver for driver in _records(Driver, await self.connection.execute(query))}

    async def standing_per_area(self) -> dict[int, tuple[int, int]]:
        """Per area id: how many of its drivers are approved, and how many of those are online."""
        d, links = schema.drivers, schema.driver_areas
        approved = d.c.status == Account.APPROVED
        query = (
            select(
                links.c.area_id,
                func.count(),
                func.coalesce(func.sum(case((d.c.online.is_(True), 1), else_=0)), 0),
            )
            .join(d, d.c.id == links.c.driver_id)
            .where(approved)
            .group_by(links.c.area_id)
        )
        return {
            int(area_id): (int(count), int(online))
            for area_id, count, online in await self.connection.execute(query)
        }

    async def on_time_rate(self, driver_id: int) -> float | None:
        """Share of this driver's pickups made within the pickup window."""
        o = schema.offers
        picked = and_(o.c.holder_id == driver_id, o.c.picked_up_at.is_not(None))
        query = select(func.count(), func.sum(case((o.c.picked_up_at <= o.c.pickup_end, 1), else_=0))).where(
            picked
        )
        total, on_time = (await self.connection.execute(query)).one()
        return None if not total else int(on_time or 0) / int(total)

    async def with_status(self, *statuses: Account) -> list[Driver]:
        query = (
            select(schema.drivers).where(schema.drivers.c.status.in_(statuses)).order_by(schema.drivers.c.id)
        )
        return _records(Driver, await self.connection.execute(query))


class Chats(_Repo):
    async def seen(self, languages: Mapping[int, Language], at: datetime) -> None:
        """Remember chats that wrote to the bot, each first seen reading the language given for it;
        writing again makes a blocked chat reachable (and never changes its language)."""
        if not languages:
            return
        c = schema.chats
        rows = [
            {"chat_id": chat_id, "reachable": True, "first_seen": at, "language": languages[chat_id]}
            for chat_id in sorted(languages)
        ]
        if self.connection.dialect.name == "postgresql":
            pg = postgresql.insert(c)
            statement: Insert = pg.on_conflict_do_update(
                index_elements=["chat_id"],
                set_={"reachable": True, "blocked_at": None},
                where=c.c.reachable.is_(False),
            )
        else:
            lite = sqlite.insert(c)
            statement = lite.on_conflict_do_update(
                index_elements=["chat_id"],
                set_={"reachable": True, "blocked_at": None},
                where=c.c.reachable.is_(False),
            )
        # Returns a row for a new chat or one that was blocked: only then may a driver's flag be stale.
        changed = [
            row.chat_id for row in await self.connection.execute(statement.returning(c.c.chat_id), rows)
        ]
        if changed:
            await self.connection.execute(
                update(schema.drivers)
                .where(schema.drivers.c.chat_id.in_(changed), schema.drivers.c.reachable.is_(False))
                .values(reachable=True)
            )

    async def language(self, chat_id: int) -> Language | None:
        """What this chat reads; None for a chat that never wrote (an admin's, before their first word)."""
        query = select(schema.chats.c.language).where(schema.chats.c.chat_id == chat_id)
        found = (await self.connection.execute(query)).scalar_one_or_none()
        return None if found is None else Language(found)

    async def languages(self, chat_ids: Iterable[int]) -> dict[int, Language]:
        """What each of these chats reads, for those that ever wrote."""
        wanted = set(chat_ids)
        if not wanted:
            return {}
        found: dict[int, Language] = {}
        ordered = sorted(wanted)
        for start in range(0, len(ordered), _IN_CHUNK):
            chunk = ordered[start : start + _IN_CHUNK]
            query = select(schema.chats.c.chat_id, schema.chats.c.language).where(
                schema.chats.c.chat_id.in_(chunk)
            )
            found.update(
                {row.chat_id: Language(row.language) for row in await self.connection.execute(query)}
            )
        return found

    async def set_language(self, chat_id: int, language: Language, at: datetime) -> None:
        """The chat chose what it reads (/language)."""
        c = schema.chats
        dialect = postgresql if self.connection.dialect.name == "postgresql" else sqlite
        upsert = dialect.insert(c).values(chat_id=chat_id, reachable=True, first_seen=at, language=language)
        await self.connection.execute(
            upsert.on_conflict_do_update(index_elements=["chat_id"], set_={"language": language})
        )

    async def set_reachable(self, chat_id: int, reachable: bool, at: datetime) -> None:
        """Record whether Telegram lets the bot write to this chat (drivers' flag included)."""
        values = {"reachable": reachable, "blocked_at": None if reachable else at}
        changed = await self.connection.execute(
            update(schema.chats).where(schema.chats.c.chat_id == chat_id).values(**values)
        )
        if changed.rowcount == 0:
            await self.connection.execute(
                insert(schema.chats).values(chat_id=chat_id, first_seen=at, **values)
            )
        await self.connection.execute(
            update(schema.drivers).where(schema.drivers.c.chat_id == chat_id).values(reachable=reachable)
        )

    async def unreachable(self) -> set[int]:
        query = select(schema.chats.c.chat_id).where(schema.chats.c.reachable.is_(False))
        return set((await self.connection.execute(query)).scalars())


class People(_Repo):
    """Telegram users' first names, as last seen on their updates."""

    async def seen(self, first_names: Mapping[int, str], at: datetime) -> None:
        """Remember each user's first name; a name seen unchanged writes nothing."""
        if not first_names:
            return
        p = schema.people
        rows = [
            {"user_id": user_id, "first_name": name[:64], "named_at": at}
            for user_id, name in sorted(first_names.items())
        ]
        dialect = postgresql if self.connection.dialect.name == "postgresql" else sqlite
        upsert = dialect.insert(p)
        statement = upsert.on_conflict_do_update(
            index_elements=["user_id"],
            set_={"first_name": upsert.excluded.first_name, "named_at": upsert.excluded.named_at},
            where=p.c.first_name != upsert.excluded.first_name,
        )
        await self.connection.execute(statement, rows)

    async def first_names(self, user_ids: Iterable[int]) -> dict[int, str]:
        query = select(schema.people.c.user_id, schema.people.c.first_name).where(
            schema.people.c.user_id.in_(set(user_ids))
        )
        return {row.user_id: row.first_name for row in await self.connection.execute(query)}


class Inbox(_Repo):
    """Updates stored on arrival and claimed one at a time by whoever applies them."""

    async def store(
        self,
        updates: Sequence[InboxEntry],
        at: datetime,
        *,
        hold: Collection[int] = (),
        until: datetime | None = None,
    ) -> list[int]:
        """Store updates not seen before (a repeat of a known update_id is ignored); returns the
        update_ids that were new. Those in `hold` are not due before `until` (see `release`)."""
        if not updates:
            return []
        rows = [
            {
                "update_id": entry.update_id,
                "chat_key": entry.chat_key,
                "kind": entry.kind,
                "payload": entry.payload,
                "status": InboxStatus.PENDING,
                "attempts": 0,
                "received_at": at,
                "next_attempt_at": until if until is not None and entry.update_id in hold else at,
            }
            for entry in updates
        ]
        # One statement for the whole batch (SQLAlchemy's insertmanyvalues), so the write is short.
        statement = self._insert_ignoring_conflict(schema.inbox, "update_id").returning(
            schema.inbox.c.update_id
        )
        return [int(update_id) for update_id in (await self.connection.execute(statement, rows)).scalars()]

    @staticmethod
    def _first_in_chat() -> ColumnElement[bool]:
        """No earlier update of the same chat is still pending (done and parked ones are behind)."""
        i = schema.inbox
        earlier = schema.inbox.alias("earlier")
        return ~(
            select(earlier.c.update_id)
            .where(
                earlier.c.status == InboxStatus.PENDING,
                earlier.c.chat_key == i.c.chat_key,
                earlier.c.update_id < i.c.update_id,
            )
            .exists()
        )

    def _claimable(self, now: datetime) -> Select[Any]:
        """Pending updates that are due and come first in their chat (earlier ones are done or parked)."""
        i = schema.inbox
        return select(i).where(
            i.c.status == InboxStatus.PENDING, i.c.next_attempt_at <= now, self._first_in_chat()
        )

    async def first_in_chat(self, update_ids: Sequence[int]) -> set[int]:
        """Which of these pending updates come first in their chat: nothing of the chat waits before them."""
        if not update_ids:
            return set()
        i = schema.inbox
        query = select(i.c.update_id).where(
            i.c.update_id.in_(update_ids), i.c.status == InboxStatus.PENDING, self._first_in_chat()
        )
        return {int(update_id) for update_id in (await self.connection.execute(query)).scalars()}

    async def claim(
        self, now: datetime, limit: int = 1, *, lease: timedelta | None = None
    ) -> list[InboxUpdate]:
        """Lock up to `limit` claimable updates (at most one per chat, oldest first) for this
        transaction; others skip them (PostgreSQL) or wait for this transaction to end (SQLite
        has one writer anyway).

        The claim lasts as long as the transaction, and on PostgreSQL at most `lease` of silence:
        the server ends a session left idle inside it that long (an instance that died, hung or
        lost its network), which rolls the claim back and lets another instance take the rows.
        Applying and the done mark share the transaction, so a claim cut short applies nothing."""
        if lease is not None and self.connection.dialect.name == "postgresql":
            milliseconds = max(1, int(lease.total_seconds() * 1000))
            await self.connection.exec_driver_sql(
                f"SET LOCAL idle_in_transaction_session_timeout = {milliseconds}"
            )
        query = (
            self._claimable(now)
            .order_by(schema.inbox.c.update_id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=schema.inbox)
        )
        return _records(InboxUpdate, await self.connection.execute(query))

    async def pending_from_before(self, moment: datetime) -> bool:
        """Whether an update that arrived before `moment` is still waiting to be applied."""
        i = schema.inbox
        query = (
            select(i.c.update_id).where(i.c.status == InboxStatus.PENDING, i.c.received_at <= moment).limit(1)
        )
        return (await self.connection.execute(query)).first() is not None

    async def has_due(self, now: datetime) -> bool:
        """Whether any pending update is due (a cheap look before taking a write lock)."""
        i = schema.inbox
        query = (
            select(i.c.update_id)
            .where(i.c.status == InboxStatus.PENDING, i.c.next_attempt_at <= now)
            .limit(1)
        )
        return (await self.connection.execute(query)).first() is not None

    async def release(
        self,
        update_ids: Sequence[int],
        at: datetime,
        *,
        answered: Collection[int] = (),
    ) -> None:
        """Make these held updates, if still pending, due now; those in `answered` were answered
        as they arrived (their turn answers nothing more)."""
        i = schema.inbox
        statement = (
            update(i)
            .where(i.c.update_id.in_(update_ids), i.c.status == InboxStatus.PENDING, i.c.next_attempt_at > at)
            .values(next_attempt_at=at)
        )
        await self.connection.execute(statement)
        marked = [update_id for update_id in update_ids if update_id in answered]
        if marked:
            await self.connection.execute(
                update(i)
                .where(i.c.update_id.in_(marked), i.c.status == InboxStatus.PENDING)
                .values(answered_at=at)
            )

    async def settle(self, update_ids: Sequence[int], at: datetime) -> list[int]:
        """Conditional write: pending → done for those of these updates still pending and first in
        their chat, applied as they arrived (nobody has claimed them); returns which."""
        i = schema.inbox
        statement = (
            update(i)
            .where(i.c.update_id.in_(update_ids), i.c.status == InboxStatus.PENDING, self._first_in_chat())
            .values(status=InboxStatus.DONE, done_at=at, attempts=i.c.attempts + 1)
            .returning(i.c.update_id)
        )
        return [int(update_id) for update_id in (await self.connection.execute(statement)).scalars()]

    async def mark_done(self, update_ids: Sequence[int], at: datetime) -> int:
        """Conditional write: pending → done, in the same transaction as the updates' effects."""
        i = schema.inbox
        statement = (
            update(i)
            .where(i.c.update_id.in_(update_ids), i.c.status == InboxStatus.PENDING)
            .values(status=InboxStatus.DONE, done_at=at, attempts=i.c.attempts + 1)
        )
        return int((await self.connection.execute(statement)).rowcount)

    async def retry_later(
        self, update_id: int, *, attempts: int, next_attempt_at: datetime, error: str
    ) -> None:
        i = schema.inbox
        statement = (
            update(i)
            .where(i.c.update_id == update_id, i.c.status == InboxStatus.PENDING)
            .values(attempts=attempts, next_attempt_at=next_attempt_at, error=error[:300])
        )
        await self.connection.execute(statement)

    async def park(self, update_id: int, *, attempts: int, error: str, at: datetime) -> bool:
        """Conditional write: pending → parked, after its handler failed too often."""
        i = schema.inbox
        statement = (
            update(i)
            .where(i.c.update_id == update_id, i.c.status == InboxStatus.PENDING)
            .values(status=InboxStatus.PARKED, attempts=attempts, error=error[:300], done_at=at)
        )
        return (await self.connection.execute(statement)).rowcount == 1

    async def by_id(self, update_id: int) -> InboxUpdate | None:
        query = select(schema.inbox).where(schema.inbox.c.update_id == update_id)
        return _record(InboxUpdate, (await self.connection.execute(query)).first())

    async def prune(self, before: datetime) -> int:
        """Forget done updates applied before `before` (parked ones stay for a person to look at)."""
        i = schema.inbox
        statement = delete(i).where(i.c.status == InboxStatus.DONE, i.c.done_at < before)
        return (await self.connection.execute(statement)).rowcount

    async def backlog(self) -> InboxBacklog:
        i = schema.inbox
        query = select(
            func.count().filter(i.c.status == InboxStatus.PENDING),
            func.count().filter(i.c.status == InboxStatus.PARKED),
            func.min(i.c.received_at).filter(i.c.status == InboxStatus.PENDING),
            func.max(i.c.received_at),
        )
        pending, parked, oldest, last = (await self.connection.execute(query)).one()
        return InboxBacklog(
            pending=int(pending), parked=int(parked), oldest_pending_at=oldest, last_received_at=last
        )


class Events(_Repo):
    async def add(
        self, at: datetime, actor: str, kind: EventKind, detail: str = "", offer_id: int | None = None
    ) -> None:
        statement = insert(schema.events).values(
            at=at, actor=actor, kind=kind, detail=detail, offer_id=offer_id
        )
        await self.connection.execute(statement)

    async def for_offer(self, offer_id: int) -> list[Event]:
        query = select(schema.events).where(schema.events.c.offer_id == offer_id).order_by(schema.events.c.id)
        return _records(Event, await self.connection.execute(query))


@dataclass(frozen=True, slots=True)
class ListedOffer:
    """An offer with its store, the store's area and its holder, as one joined row gives them."""

    offer: Offer
    store: Store
    area: Area
    holder: Driver | None


def _newest_first(statuses: Sequence[OfferStatus]) -> ColumnElement[Any]:
    """Newest offers first. For live offers only, ordered by `id + 0`: SQLite keeps no histograms
    and would otherwise walk the whole primary key in order rather than find the few live offers
    through ix_offers_status and sort them; PostgreSQL plans the same either way."""
    if statuses and set(statuses) <= set(LIVE_STATUSES):
        return (schema.offers.c.id + 0).desc()
    return schema.offers.c.id.desc()


class Offers(_Repo):
    async def add(self, **values: Unpack[NewOffer]) -> int:
        statement = insert(schema.offers).values(**values).returning(schema.offers.c.id)
        return int((await self.connection.execute(statement)).scalar_one())

    async def add_if_new_ref(self, **values: Unpack[NewOffer]) -> int | None:
        """Add the offer unless its store already has an order with its ref: a conditional insert
        (uq_offers_store_ref), so two made at once are one offer; None for the one refused."""
        statement = self._insert_ignoring_conflict(schema.offers, "store_id", "ref").values(**values)
        offer_id = (
            await self.connection.execute(statement.returning(schema.offers.c.id))
        ).scalar_one_or_none()
        return None if offer_id is None else int(offer_id)

    async def by_id(self, offer_id: int) -> Offer | None:
        query = select(schema.offers).where(schema.offers.c.id == offer_id)
        return _record(Offer, (await self.connection.execute(query)).first())

    async def lock(self, offer_id: int) -> Offer | None:
        """The offer as it is now, its row locked until the transaction ends (SELECT … FOR UPDATE;
        SQLite has one writer, so nothing to lock there): whoever else decides about this offer
        (an accept, an award, a wave, an expiry, a cancel) waits, then reads what this one did.

        The lock order, everywhere: an offer's row first, then drivers' rows in id order (see
        Drivers.lock_many), then their copies, cards and outbox rows. A transaction that needs
        both takes them in this order, so two never wait for each other."""
        query = select(schema.offers).where(schema.offers.c.id == offer_id).with_for_update()
        return _record(Offer, (await self.connection.execute(query)).first())

    async def lock_unopened(self, offer_ids: Collection[int]) -> list[int]:
        """Lock (in id order, see `lock`) those of these offers still open with no award window,
        whose first Accept opens one now; returns their ids. An offer whose window is open
        already is not locked: the Accepts collected in it do not wait for each other."""
        if not offer_ids:
            return []
        o = schema.offers
        query = (
            select(o.c.id)
            .where(o.c.id.in_(sorted(offer_ids)), o.c.status == OfferStatus.OPEN, o.c.award_at.is_(None))
            .order_by(o.c.id)
            .with_for_update()
        )
        return [int(offer_id) for offer_id in (await self.connection.execute(query)).scalars()]

    @staticmethod
    def _filter(
        statuses: Sequence[OfferStatus],
        area_id: int | None,
        store_id: int | None,
        created_since: datetime | None,
    ) -> list[ColumnElement[bool]]:
        o = schema.offers
        conditions: list[ColumnElement[bool]] = []
        if statuses:
            conditions.append(o.c.status.in_(statuses))
        if store_id is not None:
            conditions.append(o.c.store_id == store_id)
        if area_id is not None:
            conditions.append(
                o.c.store_id.in_(select(schema.stores.c.id).where(schema.stores.c.area_id == area_id))
            )
        if created_since is not None:
            conditions.append(o.c.created_at >= created_since)
        return conditions

    async def listed(
        self,
        *,
        statuses: Sequence[OfferStatus] = (),
        area_id: int | None = None,
        store_id: int | None = None,
        created_since: datetime | None = None,
    ) -> list[Offer]:
        """Offers for a board, newest first, filtered as asked."""
        o = schema.offers
        query = select(o).where(*self._filter(statuses, area_id, store_id, created_since))
        return _records(Offer, await self.connection.execute(query.order_by(o.c.id.desc())))

    async def count_listed(
        self,
        *,
        statuses: Sequence[OfferStatus] = (),
        area_id: int | None = None,
        store_id: int | None = None,
        created_since: datetime | None = None,
    ) -> int:
        """How many offers `listed` finds with these filters, counted in the database."""
        conditions = self._filter(statuses, area_id, store_id, created_since)
        query = select(func.count()).select_from(schema.offers).where(*conditions)
        return int((await self.connection.execute(query)).scalar_one())

    async def listed_with_places(
        self,
        *,
        statuses: Sequence[OfferStatus] = (),
        area_id: int | None = None,
        store_id: int | None = None,
        created_since: datetime | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[ListedOffer]:
        """Offers as `listed` finds them (with `limit`, only the page `offset` rows in), each with
        its store, area and holder, all read in one joined query."""
        o, s, a, d = schema.offers, schema.stores, schema.areas, schema.drivers
        query = (
            select(*_labelled(o, "offer_"), *_labelled(s, "store_"), *_labelled(a, "area_"))
            .add_columns(*_labelled(d, "holder_"))
            .select_from(o)
            .join(s, s.c.id == o.c.store_id)
            .join(a, a.c.id == s.c.area_id)
            .outerjoin(d, d.c.id == o.c.holder_id)
            .where(*self._filter(statuses, area_id, store_id, created_since))
            .order_by(_newest_first(statuses))
        )
        if limit is not None:
            query = query.limit(limit).offset(offset)
        listed = []
        for row in await self.connection.execute(query):
            offer, store, area = (
                _prefixed(Offer, row, "offer_"),
                _prefixed(Store, row, "store_"),
                _prefixed(Area, row, "area_"),
            )
            assert offer is not None and store is not None and area is not None
            listed.append(ListedOffer(offer, store, area, _prefixed(Driver, row, "holder_")))
        return listed

    async def by_ref(self, store_id: int, ref: str) -> Offer | None:
        """The store's order with this reference (unique per store)."""
        o = schema.offers
        query = select(o).where(o.c.store_id == store_id, o.c.ref == ref)
        return _record(Offer, (await self.connection.execute(query)).first())

    async def transition(
        self,
        offer_id: int,
        from_status: OfferStatus | Sequence[OfferStatus],
        to_status: OfferStatus,
        *,
        held_by: int | None = None,
        **values: Unpack[OfferChanges],
    ) -> bool:
        """The one conditional write behind every lifecycle step (docs/design.md, rule 1).

        Moves the offer from `from_status` to `to_status` only if it is still in `from_status`
        (and held by `held_by` when given); False means a race was lost or it was already done.
        """
        froms = [from_status] if isinstance(from_status, str) else list(from_status)
        conditions = [schema.offers.c.id == offer_id, schema.offers.c.status.in_(froms)]
        if held_by is not None:
            conditions.append(schema.offers.c.holder_id == held_by)
        statement = update(schema.offers).where(and_(*conditions)).values(status=to_status, **values)
        return (await self.connection.execute(statement)).rowcount == 1

    async def open_award_window(self, offer_id: int, award_at: datetime) -> datetime | None:
        """Open the offer's award window to close at `award_at`, unless a press opened it already
        (a conditional write); returns `award_at` if this opened it, else None."""
        o = schema.offers
        opened = await self.connection.execute(
            update(o).where(o.c.id == offer_id, o.c.award_at.is_(None)).values(award_at=award_at)
        )
        return award_at if opened.rowcount == 1 else None

    async def update(self, offer_id: int, **values: Unpack[OfferChanges]) -> None:
        """Set fields that are not the status (wave times, wrong codes, proof)."""
        await self.connection.execute(
            update(schema.offers).where(schema.offers.c.id == offer_id).values(**values)
        )

    async def ask_code(self, offer_id: int, holder_id: int, at: datetime) -> bool:
        """Conditional write: the offer waits for its pickup code from `at`, only while this driver
        still holds it unpicked and its pickup is not locked (a no-show may have just released it)."""
        o = schema.offers
        statement = (
            update(o)
            .where(
                o.c.id == offer_id,
                o.c.status == OfferStatus.ACCEPTED,
                o.c.holder_id == holder_id,
                o.c.pickup_locked.is_(False),
            )
            .values(code_asked_at=at)
        )
        return (await self.connection.execute(statement)).rowcount == 1

    async def count_wrong_code(self, offer_id: int, lock_at: int) -> int:
        """Count one wrong pickup code; the offer locks for pickup at `lock_at`. Returns the count."""
        o = schema.offers
        statement = (
            update(o)
            .where(o.c.id == offer_id)
            .values(wrong_codes=o.c.wrong_codes + 1, pickup_locked=o.c.wrong_codes + 1 >= lock_at)
            .returning(o.c.wrong_codes)
        )
        return int((await self.connection.execute(statement)).scalar_one())

    async def held_counts(self, driver_ids: Collection[int]) -> dict[int, int]:
        """How many offers each of these drivers holds now (those holding none are left out)."""
        if not driver_ids:
            return {}
        o = schema.offers
        query = (
            select(o.c.holder_id, func.count())
            .where(o.c.holder_id.in_(list(driver_ids)), o.c.status.in_(HELD_STATUSES))
            .group_by(o.c.holder_id)
        )
        return {int(holder_id): int(count) for holder_id, count in await self.connection.execute(query)}

    async def held_by(self, driver_id: int) -> list[Offer]:
        o = schema.offers
        query = select(o).where(o.c.holder_id == driver_id, o.c.status.in_(HELD_STATUSES))
        return _records(Offer, await self.connection.execute(query.order_by(o.c.pickup_start, o.c.id)))

    async def delivered_since(self, driver_id: int, since: datetime) -> tuple[int, int]:
        """How many offers the driver delivered since then, and their pay in cents."""
        o = schema.offers
        query = select(func.count(), func.coalesce(func.sum(o.c.pay_cents), 0)).where(
            o.c.holder_id == driver_id, o.c.status == OfferStatus.DELIVERED, o.c.finished_at >= since
        )
        count, cents = (await self.connection.execute(query)).one()
        return int(count), int(cents)

    async def count_by_status(self) -> dict[OfferStatus, int]:
        o = schema.offers
        query = select(o.c.status, func.count()).group_by(o.c.status)
        return {OfferStatus(status): int(count) for status, count in await self.connection.execute(query)}

    async def with_deadlines(self) -> list[Offer]:
        """Offers that may still have deadlines ahead: open, accepted or picked up."""
        o = schema.offers
        query = select(o).where(o.c.status.in_(LIVE_STATUSES)).order_by(o.c.id + 0)  # see _newest_first
        return _records(Offer, await self.connection.execute(query))

    async def mark_reminded(
        self, offer_id: int, column: ReminderColumn, status: OfferStatus, at: datetime
    ) -> bool:
        """Conditional write: a reminder went out, unless it already did or the offer moved on."""
        o = schema.offers
        unsent = o.c[column].is_(None)
        statement = update(o).where(o.c.id == offer_id, o.c.status == status, unsent).values({column: at})
        return (await self.connection.execute(statement)).rowcount == 1


@dataclass(frozen=True, slots=True)
class PressContext:
    """What a driver's press on an offer is checked against, read in one query."""

    driver_id: int | None
    driver_status: Account | None
    notice_outcome: Outcome | None
    offer_status: OfferStatus | None
    holder_id: int | None
    award_at: datetime | None = None  # the offer's award window closes then (None: not open)
    award_window_seconds: int | None = None  # the offer's area's own window (None: the setting)
    tz: str | None = None  # the offer's area's time zone
    held: int = 0  # how many offers the driver holds now
    expires_at: datetime | None = None  # the offer stands until then


@dataclass(frozen=True, slots=True)
class AwardRecord:
    """What counts for a driver's standing in an area (see dispatch.awards.Standing)."""

    won_today: int = 0
    last_award_at: datetime | None = None
    pickups: int = 0
    pickups_in_time: int = 0


class Notices(_Repo):
    async def record(self, offer_id: int, driver_id: int, chat_id: int, wave: int, at: datetime) -> int:
        """A copy of the offer going to this driver (see record_many); returns its notice id."""
        return (await self.record_many(offer_id, [(driver_id, chat_id)], wave, at))[driver_id]

    async def record_many(
        self, offer_id: int, copies: Sequence[tuple[int, int]], wave: int, at: datetime
    ) -> dict[int, int]:
        """Copies of the offer going to these (driver id, chat id)s: a new notice each, or a fresh
        start of one whose copy was taken or expired earlier (the offer was released or reopened
        since). The same few statements however many they are; returns each driver's notice id."""
        if not copies:
            return {}
        n, d = schema.notices, schema.drivers
        drivers = [driver_id for driver_id, _ in copies]
        known = select(n.c.id, n.c.driver_id).where(n.c.offer_id == offer_id, n.c.driver_id.in_(drivers))
        notice_ids = {
            int(driver_id): int(notice_id) for notice_id, driver_id in await self.connection.execute(known)
        }
        if notice_ids:
            # Each sent again to the chat its driver has now (the chat given for it).
            chat_now = select(d.c.chat_id).where(d.c.id == n.c.driver_id).scalar_subquery()
            await self.connection.execute(
                update(n)
                .where(n.c.id.in_(list(notice_ids.values())))
                .values(
                    wave=wave,
                    outcome=Outcome.SENT,
                    message_id=None,
                    created_at=at,
                    chat_id=chat_now,
                    # A new copy: its delivery, press and award are its own (wins are kept).
                    delivered_at=None,
                    pressed_at=None,
                    press_ms=None,
                    award_detail=None,
                )
            )
        rows = [
            {"offer_id": offer_id, "driver_id": driver_id, "chat_id": chat_id, "wave": wave, "created_at": at}
            for driver_id, chat_id in copies
            if driver_id not in notice_ids
        ]
        if rows:
            # One cached statement, sent as multi-row VALUES (SQLAlchemy's insertmanyvalues).
            statement = insert(n).values(outcome=Outcome.SENT).returning(n.c.driver_id, n.c.id)
            for driver_id, notice_id in await self.connection.execute(statement, rows):
                notice_ids[int(driver_id)] = int(notice_id)
        return notice_ids

    async def press_contexts(
        self, presses: Collection[tuple[int, int]]
    ) -> dict[tuple[int, int], PressContext]:
        """For each press (offer id, pressing Telegram user): the driver, their copy of the offer
        and the offer's state, all read in one round trip."""
        if not presses:
            return {}
        d, n, o, s, a = schema.drivers, schema.notices, schema.offers, schema.stores, schema.areas
        offer_ids = {offer_id for offer_id, _ in presses}
        mine = o.alias("mine")
        held = (
            select(func.count())
            .where(mine.c.holder_id == d.c.id, mine.c.status.in_(HELD_STATUSES))
            .scalar_subquery()
        )
        query = (
            select(
                d.c.tg_user_id,
                n.c.offer_id,
                d.c.id,
                d.c.status,
                n.c.outcome,
                o.c.status,
                o.c.holder_id,
                o.c.award_at,
                a.c.award_window_seconds,
                a.c.tz,
                held,
                o.c.expires_at,
            )
            .select_from(d)
            .outerjoin(n, and_(n.c.driver_id == d.c.id, n.c.offer_id.in_(offer_ids)))
            .outerjoin(o, o.c.id == n.c.offer_id)
            .outerjoin(s, s.c.id == o.c.store_id)
            .outerjoin(a, a.c.id == s.c.area_id)
            .where(d.c.tg_user_id.in_({tg_user_id for _, tg_user_id in presses}))
        )
        drivers: dict[int, PressContext] = {}
        found: dict[tuple[int, int], PressContext] = {}
        for tg_user_id, offer_id, *context in await self.connection.execute(query):
            drivers[tg_user_id] = PressContext(context[0], context[1], None, None, None)
            if offer_id is not None:
                found[(offer_id, tg_user_id)] = PressContext(*context)
        nobody = PressContext(None, None, None, None, None)
        return {
            (offer_id, tg_user_id): found.get((offer_id, tg_user_id)) or drivers.get(tg_user_id, nobody)
            for offer_id, tg_user_id in presses
        }

    async def press_context(self, offer_id: int, tg_user_id: int) -> PressContext:
        """The pressing driver, their copy of the offer, and the offer's state, in one round trip."""
        return (await self.press_contexts([(offer_id, tg_user_id)]))[(offer_id, tg_user_id)]

    async def outbox_rows(self, notice_ids: Sequence[int]) -> dict[int, int]:
        """For each notice, the outbox row that sends its copy (for edits)."""
        if not notice_ids:
            return {}
        ob = schema.outbox
        query = select(ob.c.notice_id, func.max(ob.c.id)).where(
            ob.c.notice_id.in_(notice_ids), ob.c.kind == Delivery.MESSAGE
        )
        rows = await self.connection.execute(query.group_by(ob.c.notice_id))
        return {int(notice_id): int(outbox_id) for notice_id, outbox_id in rows.all()}

    async def of(self, offer_id: int, driver_id: int) -> Notice | None:
        n = schema.notices
        query = select(n).where(n.c.offer_id == offer_id, n.c.driver_id == driver_id)
        return _record(Notice, (await self.connection.execute(query)).first())

    async def for_offer_with_drivers(self, offer_id: int) -> list[tuple[Notice, Driver | None]]:
        """Every copy of the offer, oldest first, with the driver it went to, in one joined query."""
        n, d = schema.notices, schema.drivers
        query = (
            select(*_labelled(n, "notice_"), *_labelled(d, "driver_"))
            .select_from(n)
            .outerjoin(d, d.c.id == n.c.driver_id)
            .where(n.c.offer_id == offer_id)
            .order_by(n.c.id)
        )
        copies = []
        for row in await self.connection.execute(query):
            notice = _prefixed(Notice, row, "notice_")
            assert notice is not None
            copies.append((notice, _prefixed(Driver, row, "driver_")))
        return copies

    async def for_offer(self, offer_id: int, *outcomes: Outcome) -> list[Notice]:
        n = schema.notices
        query = select(n).where(n.c.offer_id == offer_id)
        if outcomes:
            query = query.where(n.c.outcome.in_(outcomes))
        return _records(Notice, await self.connection.execute(query.order_by(n.c.id)))

    async def set_outcome(self, notice_id: int, from_outcomes: Sequence[Outcome], to: Outcome) -> bool:
        """Conditional write of a copy's outcome."""
        n = schema.notices
        statement = update(n).where(n.c.id == notice_id, n.c.outcome.in_(from_outcomes)).values(outcome=to)
        return (await self.connection.execute(statement)).rowcount == 1

    async def close_all(
        self, offer_id: int, from_outcome: Outcome | Sequence[Outcome], to: Outcome
    ) -> list[Notice]:
        """Move every copy in one outcome (or any of several) to another; returns those copies,
        as the one UPDATE changed them (a copy another transaction moved meanwhile is not one)."""
        froms = [from_outcome] if isinstance(from_outcome, str) else list(from_outcome)
        n = schema.notices
        statement = (
            update(n)
            .where(n.c.offer_id == offer_id, n.c.outcome.in_(froms))
            .values(outcome=to)
            .returning(*n.c)
        )
        return sorted(_records(Notice, await self.connection.execute(statement)), key=lambda copy: copy.id)

    async def withdraw_all(self, driver_id: int, live: Sequence[Outcome]) -> list[Notice]:
        """Withdraw every copy of this driver in one of the `live` outcomes (not answered yet, or
        in an award window); returns those copies, as the one UPDATE changed them."""
        n = schema.notices
        statement = (
            update(n)
            .where(n.c.driver_id == driver_id, n.c.outcome.in_(live))
            .values(outcome=Outcome.WITHDRAWN)
            .returning(*n.c)
        )
        return sorted(_records(Notice, await self.connection.execute(statement)), key=lambda copy: copy.id)

    async def pressed(
        self, notice_id: int, at: datetime, *, to: Outcome | None = None, from_outcome: Outcome = Outcome.SENT
    ) -> bool:
        """Record the driver's first press on this copy (when, and how many ms after the copy was
        delivered); with `to`, also move its outcome, only from `from_outcome` (a conditional
        write: False if the copy was no longer in it; unanswered, unless told otherwise)."""
        n = schema.notices
        query = select(n.c.delivered_at, n.c.pressed_at).where(n.c.id == notice_id)
        copy = (await self.connection.execute(query)).first()
        values: dict[str, Any] = {}
        if copy is not None and copy.pressed_at is None:
            values["pressed_at"] = at
            if copy.delivered_at is not None:
                values["press_ms"] = _ms_after(copy.delivered_at, at)
        conditions = [n.c.id == notice_id]
        if to is not None:
            values["outcome"] = to
            conditions.append(n.c.outcome == from_outcome)
        if not values:
            return copy is not None
        statement = update(n).where(*conditions).values(**values)
        return (await self.connection.execute(statement)).rowcount == 1

    async def enter_many(self, presses: Collection[tuple[int, int]], at: datetime) -> list[Notice]:
        """Collect these Accepts (offer id, pressing Telegram user), all pressed at `at`, in their
        offers' award windows: each copy still unanswered (outcome sent) on an offer still open,
        whose window is not closed by then, becomes entered, with when it was pressed and how many
        ms after its delivery. A few statements however many they are; returns the copies entered."""
        if not presses:
            return []
        n, d, o = schema.notices, schema.drivers, schema.offers
        pairs = {(offer_id, tg_user_id) for offer_id, tg_user_id in presses}
        found = (
            select(n.c.id, n.c.offer_id, d.c.tg_user_id)
            .join(d, d.c.id == n.c.driver_id)
            .where(
                n.c.offer_id.in_({offer_id for offer_id, _ in pairs}),
                d.c.tg_user_id.in_({tg_user_id for _, tg_user_id in pairs}),
            )
        )
        ids = [
            int(notice_id)
            for notice_id, offer_id, tg_user_id in await self.connection.execute(found)
            if (offer_id, tg_user_id) in pairs
        ]
        if not ids:
            return []
        in_time = select(o.c.id).where(
            o.c.status == OfferStatus.OPEN, or_(o.c.award_at.is_(None), o.c.award_at >= at)
        )
        entered = await self.connection.execute(
            update(n)
            .where(n.c.id.in_(ids), n.c.outcome == Outcome.SENT, n.c.offer_id.in_(in_time))
            .values(outcome=Outcome.ENTERED, pressed_at=func.coalesce(n.c.pressed_at, at))
            .returning(*n.c)
        )
        copies = _records(Notice, entered)
        timed = [
            {"notice": copy.id, "ms": _ms_after(copy.delivered_at, at)}
            for copy in copies
            if copy.delivered_at is not None and copy.press_ms is None
        ]
        if timed:
            await self.connection.execute(
                update(n).where(n.c.id == bindparam("notice")).values(press_ms=bindparam("ms")), timed
            )
        ms = {row["notice"]: row["ms"] for row in timed}
        return [replace(copy, press_ms=ms.get(copy.id, copy.press_ms)) for copy in copies]

    async def last_presses(self, driver_id: int, count: int) -> list[int | None]:
        """How many ms after delivery each of the driver's last `count` presses came (newest first)."""
        n = schema.notices
        query = (
            select(n.c.press_ms)
            .where(n.c.driver_id == driver_id, n.c.pressed_at.is_not(None))
            .order_by(n.c.pressed_at.desc())
            .limit(count)
        )
        return [None if ms is None else int(ms) for ms in (await self.connection.execute(query)).scalars()]

    async def press_tally(self, driver_id: int, human_min_ms: int) -> tuple[int, int]:
        """(fast presses, all presses) of this driver, ever."""
        n = schema.notices
        query = select(func.count().filter(n.c.press_ms < human_min_ms), func.count()).where(
            n.c.driver_id == driver_id, n.c.pressed_at.is_not(None)
        )
        fast, presses = (await self.connection.execute(query)).one()
        return int(fast), int(presses)

    async def award_records(
        self, driver_ids: Collection[int], area_id: int, day_start: datetime, on_time_since: datetime
    ) -> dict[int, AwardRecord]:
        """For each driver: offers won in the area since `day_start`, their last award there, and
        their pickups (and those in time) since `on_time_since`; two grouped reads."""
        if not driver_ids:
            return {}
        n, o, s = schema.notices, schema.offers, schema.stores
        wins = (
            select(
                n.c.driver_id,
                func.count().filter(n.c.won_at >= day_start),
                func.max(n.c.won_at),
            )
            .select_from(n)
            .join(o, o.c.id == n.c.offer_id)
            .join(s, s.c.id == o.c.store_id)
            .where(n.c.driver_id.in_(list(driver_ids)), n.c.won_at.is_not(None), s.c.area_id == area_id)
            .group_by(n.c.driver_id)
        )
        found = {
            int(driver_id): AwardRecord(int(today), last)
            for driver_id, today, last in await self.connection.execute(wins)
        }
        pickups = (
            select(o.c.holder_id, func.count(), func.count().filter(o.c.picked_up_at <= o.c.pickup_end))
            .where(o.c.holder_id.in_(list(driver_ids)), o.c.picked_up_at >= on_time_since)
            .group_by(o.c.holder_id)
        )
        for driver_id, total, in_time in await self.connection.execute(pickups):
            known = found.get(int(driver_id), AwardRecord())
            found[int(driver_id)] = replace(known, pickups=int(total), pickups_in_time=int(in_time))
        return found

    async def record_award(
        self, details: Mapping[int, str], winner_notice_id: int | None, at: datetime
    ) -> None:
        """Keep what the award saw of each copy in its window (JSON by notice id), and when the
        winner's copy won."""
        n = schema.notices
        if details:
            await self.connection.execute(
                update(n).where(n.c.id == bindparam("notice")).values(award_detail=bindparam("detail")),
                [{"notice": notice_id, "detail": detail} for notice_id, detail in details.items()],
            )
        if winner_notice_id is not None:
            await self.connection.execute(update(n).where(n.c.id == winner_notice_id).values(won_at=at))

    async def outbox_row(self, notice_id: int) -> int | None:
        """The outbox row that sent (or will send) this copy, for edits."""
        query = (
            select(schema.outbox.c.id)
            .where(schema.outbox.c.notice_id == notice_id, schema.outbox.c.kind == Delivery.MESSAGE)
            .order_by(schema.outbox.c.id.desc())
            .limit(1)
        )
        return (await self.connection.execute(query)).scalar_one_or_none()


class Cards(_Repo):
    async def add(self, kind: CardKind, subject_id: int, chat_id: int, outbox_id: int, at: datetime) -> None:
        statement = insert(schema.cards).values(
            kind=kind, subject_id=subject_id, chat_id=chat_id, outbox_id=outbox_id, created_at=at
        )
        await self.connection.execute(statement)

    async def of(self, kind: CardKind, subject_id: int) -> list[Card]:
        c = schema.cards
        query = select(c).where(c.c.kind == kind, c.c.subject_id == subject_id).order_by(c.c.id)
        return _records(Card, await self.connection.execute(query))

    async def take(self, kind: CardKind, subject_id: int) -> list[Card]:
        """The cards of a question now decided, forgotten as they are returned: each is edited once
        (one DELETE … RETURNING: of two transactions taking them at once, one gets each card)."""
        c = schema.cards
        statement = delete(c).where(c.c.kind == kind, c.c.subject_id == subject_id).returning(*c.c)
        return sorted(_records(Card, await self.connection.execute(statement)), key=lambda card: card.id)


class Outbox(_Repo):
    async def add(
        self,
        *,
        lane: int,
        chat_id: int,
        kind: Delivery,
        payload: str,
        at: datetime,
        target_id: int | None = None,
        notice_id: int | None = None,
        tag: str | None = None,
    ) -> int:
        """Queue one delivery; it is made once this transaction commits."""
        statement = insert(schema.outbox).values(
            lane=lane,
            chat_id=chat_id,
            kind=kind,
            payload=payload,
            target_id=target_id,
            notice_id=notice_id,
            tag=tag,
            status=OutboxStatus.PENDING,
            attempts=0,
            not_before=at,
            created_at=at,
        )
        return int((await self.connection.execute(statement.returning(schema.outbox.c.id))).scalar_one())

    async def add_many(self, rows: Sequence[NewOutbox], at: datetime) -> None:
        """Queue many calls in one statement (the edits of a fan-out)."""
        if rows:
            defaults = {
                "status": OutboxStatus.PENDING,
                "attempts": 0,
                "not_before": at,
                "created_at": at,
                "notice_id": None,
                "tag": None,
            }
            await self.connection.execute(insert(schema.outbox), [{**defaults, **row} for row in rows])

    async def last_sent_at(self, *, among: int = 100) -> datetime | None:
        """When the newest of the last `among` sent calls went out (through the status index:
        cheap however long the history)."""
        o = schema.outbox
        latest = (
            select(o.c.sent_at).where(o.c.status == OutboxStatus.SENT).order_by(o.c.id.desc()).limit(among)
        ).subquery()
        last: datetime | None = (
            await self.connection.execute(select(func.max(latest.c.sent_at)))
        ).scalar_one_or_none()
        return last

    async def pending(self, *, after_id: int = 0, limit: int = 1000) -> list[OutboxMessage]:
        """Pending calls with an id above `after_id`, oldest first."""
        query = (
            select(schema.outbox)
            .where(schema.outbox.c.status == OutboxStatus.PENDING, schema.outbox.c.id > after_id)
            .order_by(schema.outbox.c.id)
            .limit(limit)
        )
        return _records(OutboxMessage, await self.connection.execute(query))

    async def by_id(self, outbox_id: int) -> OutboxMessage | None:
        query = select(schema.outbox).where(schema.outbox.c.id == outbox_id)
        return _record(OutboxMessage, (await self.connection.execute(query)).first())

    async def mark_sent(self, outbox_id: int, *, at: datetime, message_id: int | None, attempts: int) -> bool:
        """Record a delivered call and, for a new message, its id (on its notice too); False if
        the call was already recorded as delivered (this delivery is a second copy)."""
        statement = (
            update(schema.outbox)
            .where(schema.outbox.c.id == outbox_id, schema.outbox.c.status == OutboxStatus.PENDING)
            .values(
                status=OutboxStatus.SENT, sent_at=at, message_id=message_id, attempts=attempts, error=None
            )
            .returning(schema.outbox.c.notice_id)
        )
        marked = (await self.connection.execute(statement)).first()
        if marked is None:
            return False
        if marked.notice_id is not None and message_id is not None:
            await self.connection.execute(
                update(schema.notices)
                .where(schema.notices.c.id == marked.notice_id)
                .values(message_id=message_id, delivered_at=at)
            )
        return True

    async def add_copy(self, outbox_id: int, message_id: int, at: datetime) -> None:
        """One more message id this sent call was delivered as."""
        statement = self._insert_ignoring_conflict(schema.message_copies, "outbox_id", "message_id").values(
            outbox_id=outbox_id, message_id=message_id, created_at=at
        )
        await self.connection.execute(statement)

    async def copies_of(self, outbox_id: int) -> list[int]:
        """The further message ids a sent call was delivered as, besides its own."""
        c = schema.message_copies
        query = select(c.c.message_id).where(c.c.outbox_id == outbox_id).order_by(c.c.id)
        return [int(message_id) for (message_id,) in await self.connection.execute(query)]

    async def last_edit_of(self, outbox_id: int) -> OutboxMessage | None:
        """The newest delivered edit of the message this call sent: how it looks now."""
        o = schema.outbox
        query = (
            select(o)
            .where(o.c.target_id == outbox_id, o.c.status == OutboxStatus.SENT, o.c.kind.in_(sorted(EDITS)))
            .order_by(o.c.id.desc())
            .limit(1)
        )
        return _record(OutboxMessage, (await self.connection.execute(query)).first())

    async def retry_later(self, outbox_id: int, *, attempts: int, not_before: datetime, error: str) -> None:
        statement = (
            update(schema.outbox)
            .where(schema.outbox.c.id == outbox_id, schema.outbox.c.status == OutboxStatus.PENDING)
            .values(attempts=attempts, not_before=not_before, error=error[:300])
        )
        await self.connection.execute(statement)

    async def give_up(self, outbox_id: int, *, status: GivenUp, attempts: int, error: str) -> None:
        """End a call never to be made: `failed` (Telegram refused) or `dropped` (pointless)."""
        statement = (
            update(schema.outbox)
            .where(schema.outbox.c.id == outbox_id, schema.outbox.c.status == OutboxStatus.PENDING)
            .values(status=status, attempts=attempts, error=error[:300])
        )
        await self.connection.execute(statement)

    async def backlog(self) -> dict[int, tuple[int, datetime | None]]:
        """Pending calls per lane: how many, and when the oldest was queued."""
        o = schema.outbox
        query = (
            select(o.c.lane, func.count(), func.min(o.c.created_at))
            .where(o.c.status == OutboxStatus.PENDING)
            .group_by(o.c.lane)
        )
        return {
            int(lane): (int(count), oldest) for lane, count, oldest in await self.connection.execute(query)
        }

    async def newest_before(self, before: datetime) -> int | None:
        """The highest id of a call queued before then: where a prune starts (and goes down).

        Never the newest call of all: SQLite numbers a new row after the highest id left, and the
        sender takes new calls by id, so a deleted newest id would be handed out again."""
        o = schema.outbox
        query = select(func.max(o.c.id).filter(o.c.created_at < before), func.max(o.c.id))
        old, newest = (await self.connection.execute(query)).one()
        return None if old is None else min(int(old), int(newest) - 1)

    async def prune(
        self, start_id: int, before: datetime, ended: Sequence[OfferStatus], limit: int
    ) -> tuple[int, int | None]:
        """Delete, of the `limit` calls with the highest ids up to `start_id`, those settled (sent,
        failed or dropped) and queued before then that nothing may look up again: no card names
        them, no other call edits them, and a driver's copy only once its offer has ended (one of
        `ended`). Returns how many went and the id the next batch starts at (None: none left)."""
        o, c, n, of = schema.outbox, schema.cards, schema.notices, schema.offers
        mc = schema.message_copies
        page_query = select(o.c.id).where(o.c.id <= start_id).order_by(o.c.id.desc()).limit(limit)
        page = list((await self.connection.execute(page_query)).scalars())
        if not page:
            return 0, None
        edit = schema.outbox.alias("edit")
        deletable = select(o.c.id).where(
            o.c.id.in_(page),
            o.c.status.in_(SETTLED),
            o.c.created_at < before,
            ~select(c.c.id).where(c.c.outbox_id == o.c.id).exists(),
            ~select(edit.c.id).where(edit.c.target_id == o.c.id).exists(),
            or_(
                o.c.notice_id.is_(None),
                select(n.c.id)
                .join(of, of.c.id == n.c.offer_id)
                .where(n.c.id == o.c.notice_id, of.c.status.in_(ended))
                .exists(),
            ),
        )
        deleted = 0
        # An edit and the message it edits may share a batch: the edit goes, then the message.
        while ids := list((await self.connection.execute(deletable)).scalars()):
            await self.connection.execute(delete(mc).where(mc.c.outbox_id.in_(ids)))
            deleted += (await self.connection.execute(delete(o).where(o.c.id.in_(ids)))).rowcount
        return deleted, (page[-1] - 1 if len(page) == limit else None)

    async def counts(self, tag: str | None = None) -> dict[OutboxStatus, int]:
        """How many calls are in each status (only those with this tag, if given)."""
        query = select(schema.outbox.c.status, func.count()).group_by(schema.outbox.c.status)
        if tag is not None:
            query = query.where(schema.outbox.c.tag == tag)
        rows = (await self.connection.execute(query)).all()
        return {OutboxStatus(status): int(count) for status, count in rows}


class Invites(_Repo):
    async def add(
        self, token: str, store_id: int, created_by: int, at: datetime, expires_at: datetime
    ) -> None:
        statement = insert(schema.invites).values(
            token=token, store_id=store_id, created_by=created_by, created_at=at, expires_at=expires_at
        )
        await self.connection.execute(statement)

    async def by_token(self, token: str) -> Invite | None:
        query = select(schema.invites).where(schema.invites.c.token == token)
        return _record(Invite, (await self.connection.execute(query)).first())

    async def redeem(self, token: str, user_id: int, at: datetime) -> bool:
        """Conditional write: the invite works once, and only before it expires."""
        i = schema.invites
        statement = (
            update(i)
            .where(i.c.token == token, i.c.used_at.is_(None), i.c.expires_at > at)
            .values(used_by=user_id, used_at=at)
        )
        return (await self.connection.execute(statement)).rowcount == 1


class Drafts(_Repo):
    async def of(self, chat_id: int) -> OrderDraft | None:
        query = select(schema.order_drafts).where(schema.order_drafts.c.chat_id == chat_id)
        return _record(OrderDraft, (await self.connection.execute(query)).first())

    async def put(self, chat_id: int, store_id: int, step: str, fields: str, at: datetime) -> None:
        values = {"chat_id": chat_id, "store_id": store_id, "step": step, "fields": fields, "updated_at": at}
        await self.connection.execute(self._upsert(schema.order_drafts, values, "chat_id"))

    async def drop(self, chat_id: int) -> bool:
        statement = delete(schema.order_drafts).where(schema.order_drafts.c.chat_id == chat_id)
        return (await self.connection.execute(statement)).rowcount == 1


class Broadcasts(_Repo):
    async def add(self, area_id: int, text: str, created_by: int, recipients: int, at: datetime) -> int:
        statement = insert(schema.broadcasts).values(
            area_id=area_id,
            text=text,
            created_by=created_by,
            status=BroadcastStatus.DRAFT,
            recipients=recipients,
            created_at=at,
        )
        return int((await self.connection.execute(statement.returning(schema.broadcasts.c.id))).scalar_one())

    async def by_id(self, broadcast_id: int) -> Broadcast | None:
        query = select(schema.broadcasts).where(schema.broadcasts.c.id == broadcast_id)
        return _record(Broadcast, (await self.connection.execute(query)).first())

    async def sending(self) -> list[Broadcast]:
        """Broadcasts sent but not yet reported done."""
        query = select(schema.broadcasts).where(schema.broadcasts.c.status == BroadcastStatus.SENDING)
        return _records(Broadcast, await self.connection.execute(query.order_by(schema.broadcasts.c.id)))

    async def move(
        self,
        broadcast_id: int,
        from_status: BroadcastStatus,
        to_status: BroadcastStatus,
        **values: Unpack[BroadcastChanges],
    ) -> bool:
        """Conditional write of a broadcast's status (draft → sending → done, or cancelled)."""
        b = schema.broadcasts
        statement = (
            update(b)
            .where(b.c.id == broadcast_id, b.c.status == from_status)
            .values(status=to_status, **values)
        )
        return (await self.connection.execute(statement)).rowcount == 1


class Files(_Repo):
    """Generated files waiting to be uploaded (see schema.files)."""

    async def add(self, filename: str, content: bytes, at: datetime) -> int:
        statement = insert(schema.files).values(filename=filename, content=content, created_at=at)
        return int((await self.connection.execute(statement.returning(schema.files.c.id))).scalar_one())

    async def content(self, file_id: int) -> bytes | None:
        query = select(schema.files.c.content).where(schema.files.c.id == file_id)
        content = (await self.connection.execute(query)).scalar_one_or_none()
        return None if content is None else bytes(content)

    async def remove(self, file_ids: Sequence[int]) -> int:
        if not file_ids:
            return 0
        statement = delete(schema.files).where(schema.files.c.id.in_(list(file_ids)))
        return (await self.connection.execute(statement)).rowcount


class ExportRequests(_Repo):
    """Exports and statistics asked for and not yet sent (see schema.export_requests)."""

    async def add(
        self, chat_id: int, kind: RequestKind, days: int, at: datetime, *, area_slug: str | None = None
    ) -> int:
        r = schema.export_requests
        values = {"chat_id": chat_id, "kind": kind, "days": days, "requested_at": at, "area_slug": area_slug}
        statement = insert(r).values(**values)
        return int((await self.connection.execute(statement.returning(r.c.id))).scalar_one())

    async def mark_told(self, request_id: int, at: datetime) -> bool:
        """Conditional write: True for the one transaction that sends the request's first part."""
        r = schema.export_requests
        statement = update(r).where(r.c.id == request_id, r.c.told_at.is_(None)).values(told_at=at)
        return (await self.connection.execute(statement)).rowcount == 1

    async def oldest(self) -> ExportRequest | None:
        query = select(schema.export_requests).order_by(schema.export_requests.c.id).limit(1)
        return _record(ExportRequest, (await self.connection.execute(query)).first())

    async def remove(self, request_id: int) -> bool:
        """Conditional write: True for the one transaction that takes the request off the list."""
        statement = delete(schema.export_requests).where(schema.export_requests.c.id == request_id)
        return (await self.connection.execute(statement)).rowcount == 1


class PersonalData(_Repo):
    """Forgetting personal data that has grown old; each write touches only what is still there,
    so running one again changes nothing."""

    def _ended_before(self, before: datetime, finished: Sequence[OfferStatus]) -> ColumnElement[bool]:
        o = schema.offers
        # An expired offer has no finished_at: it ended when its acceptance window did.
        ended = func.coalesce(o.c.finished_at, o.c.expires_at, o.c.created_at)
        return and_(o.c.status.in_(finished), ended < before)

    async def forget_addresses(self, before: datetime, finished: Sequence[OfferStatus]) -> int:
        """Blank the delivery address of offers that ended (in one of `finished`) before then."""
        o = schema.offers
        ended = self._ended_before(before, finished)
        statement = update(o).where(ended, o.c.address != "").values(address="")
        return (await self.connection.execute(statement)).rowcount

    async def forget_proof_photos(self, before: datetime, finished: Sequence[OfferStatus]) -> int:
        """Forget the proof photo (its Telegram file id) of offers that ended before then, and the
        file id in their `proof` events."""
        o, e = schema.offers, schema.events
        ended = self._ended_before(before, finished)
        statement = update(o).where(ended, o.c.proof_file_id.is_not(None)).values(proof_file_id=None)
        photos = (await self.connection.execute(statement)).rowcount
        await self.connection.execute(
            update(e)
            .where(
                e.c.kind == EventKind.PROOF, e.c.detail != "", e.c.offer_id.in_(select(o.c.id).where(ended))
            )
            .values(detail="")
        )
        return photos

    async def forget_idle_phones(self, before: datetime, held: Sequence[OfferStatus]) -> int:
        """Forget the phone of every driver who has done nothing since then: offline, holding no
        offer (in one of `held`), joined, applied and last sent an offer before then, and no event
        of their own (`driver:<id>`: online, offline, accept, decline, deliver, …) since."""
        d, o, e = schema.drivers, schema.offers, schema.events
        # Subqueries read once, not per driver: events has no index on its actor.
        holders = select(o.c.holder_id).where(o.c.status.in_(held), o.c.holder_id.is_not(None))
        recent_actors = select(e.c.actor).where(e.c.at >= before)
        statement = (
            update(d)
            .where(
                d.c.phone.is_not(None),
                d.c.online.is_(False),
                d.c.created_at < before,
                or_(d.c.enrolled_at.is_(None), d.c.enrolled_at < before),
                or_(d.c.last_offered_at.is_(None), d.c.last_offered_at < before),
                d.c.id.not_in(holders),
                (literal("driver:", String) + cast(d.c.id, String)).not_in(recent_actors),
            )
            .values(phone=None)
        )
        return (await self.connection.execute(statement)).rowcount

    async def blank_sent_messages(self, before: datetime) -> int:
        """Blank what outbox rows queued before then said (an address, a phone, a photo's file id);
        their message id stays for later edits. Pending rows keep their text to be sent."""
        m = schema.outbox
        statement = (
            update(m)
            .where(m.c.status != OutboxStatus.PENDING, m.c.created_at < before, m.c.payload != EMPTY_PAYLOAD)
            .values(payload=EMPTY_PAYLOAD)
        )
        return (await self.connection.execute(statement)).rowcount

    async def blank_handled_updates(self, before: datetime) -> int:
        """Blank the content of stored updates received before then and no longer pending (done
        ones not pruned yet, parked ones); the update id and a parked one's error stay."""
        i = schema.inbox
        statement = (
            update(i)
            .where(i.c.status != InboxStatus.PENDING, i.c.received_at < before, i.c.payload != EMPTY_PAYLOAD)
            .values(payload=EMPTY_PAYLOAD)
        )
        return (await self.connection.execute(statement)).rowcount

    async def drop_stale_drafts(self, before: datetime) -> int:
        """Drop step-by-step orders nobody touched since then (they may hold an address)."""
        statement = delete(schema.order_drafts).where(schema.order_drafts.c.updated_at < before)
        return (await self.connection.execute(statement)).rowcount


EMPTY_PAYLOAD = "{}"


class Transaction:
    """One open transaction and the per-concept queries that run in it."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection
        # Work that must wait for the commit (timers for new deadlines): run by Dispatch.transaction.
        self.after_commit: list[Callable[[], None]] = []
        # What the leading instance must look at once this commits ("outbox", "offer:12"): sent
        # as a PostgreSQL NOTIFY in the transaction (storage.db), nothing on SQLite (one process).
        self.wakes: set[str] = set()
        self.areas = Areas(connection)
        self.stores = Stores(connection)
        self.drivers = Drivers(connection)
        self.chats = Chats(connection)
        self.people = People(connection)
        self.inbox = Inbox(connection)
        self.events = Events(connection)
        self.offers = Offers(connection)
        self.outbox = Outbox(connection)
        self.notices = Notices(connection)
        self.cards = Cards(connection)
        self.invites = Invites(connection)
        self.drafts = Drafts(connection)
        self.broadcasts = Broadcasts(connection)
        self.personal_data = PersonalData(connection)
        self.files = Files(connection)
        self.export_requests = ExportRequests(connection)
