"""Hot queries find their rows through an index, never by reading a whole table of history."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Row, Table, event, insert, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import schema
from storage.db import Database
from storage.records import Delivery
from storage.reports import Reports
from storage.repos import Transaction
from tests.conftest import BACKENDS, _admin

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

# Tables that grow with history: a hot query must not read any of them whole.
HISTORY = ("offers", "notices", "events", "outbox", "inbox")

AREAS = 3
STORES_PER_AREA = 2
DRIVERS = 600
OFFERS = 3000
COPIES_PER_OFFER = 5
EVENTS_PER_OFFER = 5
# Most updates are long done and a few wait; every call has been made (the outbox is drained
# most of the time, so that is what statistics usually count).
DONE_UPDATES = 2000
PENDING_UPDATES = 10
LIVE = ["open", "accepted", "picked_up"]
# A handful of offers are live at any time, among all those of the past.
LIVE_OFFERS = 8


@dataclass(frozen=True, slots=True)
class Seeded:
    """Ids the hot queries are asked about."""

    offer_id: int
    driver_id: int
    tg_user_id: int
    notice_id: int
    outbox_id: int
    store_id: int
    area_id: int
    ref: str


async def _bulk_insert(connection: AsyncConnection, table: Table, rows: list[dict[str, Any]]) -> None:
    if connection.dialect.name == "sqlite":
        await connection.execute(insert(table), rows)
        return
    # asyncpg runs an executemany as one statement per row; COPY takes them all at once, but
    # without the schema's Python-side defaults, so those are filled in here.
    defaults = {
        column.name: column.default.arg  # type: ignore[attr-defined]
        for column in table.c
        if column.default is not None and column.default.is_scalar
    }
    columns = [column.name for column in table.c if column.name in rows[0] or column.name in defaults]
    records = [tuple(row.get(name, defaults.get(name)) for name in columns) for row in rows]
    raw = await connection.get_raw_connection()
    await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
        table.name, records=records, columns=columns
    )


async def _seed(connection: AsyncConnection) -> Seeded:
    """Sixty days of a busy pilot, written in bulk: offers with their copies, events and messages."""
    rng = random.Random(11)
    areas: list[dict[str, Any]] = [
        {"id": a, "slug": f"area-{a}", "name": f"Area {a}", "tz": "UTC", "active": True}
        for a in range(1, AREAS + 1)
    ]
    stores: list[dict[str, Any]] = [
        {
            "id": s,
            "code": f"ST-{s}",
            "name": f"Store {s}",
            "area_id": (s - 1) // STORES_PER_AREA + 1,
            "location": "",
            "active": True,
        }
        for s in range(1, AREAS * STORES_PER_AREA + 1)
    ]
    drivers: list[dict[str, Any]] = [
        {
            "id": d,
            "tg_user_id": 10_000 + d,
            "chat_id": 10_000 + d,
            "name": f"Driver {d}",
            "status": "approved" if d % 10 else "pending",
            "online": d % 3 == 0,
            "reachable": True,
            "last_offered_at": NOW - timedelta(minutes=d),
            "created_at": NOW - timedelta(days=90),
        }
        for d in range(1, DRIVERS + 1)
    ]
    driver_areas: list[dict[str, Any]] = [
        {"driver_id": d, "area_id": d % AREAS + 1} for d in range(1, DRIVERS + 1)
    ]
    offers: list[dict[str, Any]] = []
    notices: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    outbox: list[dict[str, Any]] = []
    for o in range(1, OFFERS + 1):
        created = NOW - timedelta(days=60) + timedelta(days=60) * o / OFFERS
        holder = rng.randint(1, DRIVERS)
        live = o > OFFERS - LIVE_OFFERS
        status = rng.choice(LIVE) if live else rng.choice(["delivered"] * 8 + ["expired", "cancelled"])
        offers.append(
            {
                "id": o,
                "store_id": o % len(stores) + 1,
                "ref": f"R{o}",
                "packages": 1,
                "zone": "Z",
                "address": "",
                "pay_cents": 1500,
                "pickup_start": created + timedelta(minutes=30),
                "pickup_end": created + timedelta(minutes=60),
                "pickup_code": "1234",
                "status": status,
                "holder_id": None if status in ("open", "expired") else holder,
                "wave": 1,
                "created_at": created,
                "picked_up_at": created + timedelta(minutes=45) if status == "delivered" else None,
                "finished_at": created + timedelta(minutes=90) if status == "delivered" else None,
            }
        )
        for c, driver in enumerate(rng.sample(range(1, DRIVERS + 1), COPIES_PER_OFFER)):
            notice_id = (o - 1) * COPIES_PER_OFFER + c + 1
            notices.append(
                {
                    "id": notice_id,
                    "offer_id": o,
                    "driver_id": driver,
                    "chat_id": 10_000 + driver,
                    "message_id": notice_id,
                    "wave": 1,
                    "outcome": "sent" if live else "taken",
                    "created_at": created,
                }
            )
            message = {
                "lane": 1,
                "chat_id": 10_000 + driver,
                "payload": "{}",
                "status": "sent",
                "attempts": 1,
                "not_before": created,
                "created_at": created,
                "sent_at": created,
            }
            outbox.append(
                {
                    **message,
                    "id": 2 * notice_id - 1,
                    "kind": Delivery.MESSAGE,
                    "notice_id": notice_id,
                    "target_id": None,
                }
            )
            outbox.append(
                {
                    **message,
                    "id": 2 * notice_id,
                    "kind": Delivery.EDIT,
                    "notice_id": None,
                    "target_id": 2 * notice_id - 1,
                }
            )
        for e, kind in enumerate(["open", "accept", "pickup", "deliver", "proof"][:EVENTS_PER_OFFER]):
            events.append(
                {
                    "at": created + timedelta(minutes=10 * e),
                    "offer_id": o,
                    "actor": "system",
                    "kind": kind,
                    "detail": "",
                }
            )
    inbox: list[dict[str, Any]] = [
        {
            "update_id": u,
            "chat_key": u % 50,
            "kind": "message",
            "payload": "{}",
            "status": "pending" if u > DONE_UPDATES else "done",
            "attempts": 0,
            "received_at": NOW,
            "next_attempt_at": NOW,
        }
        for u in range(1, DONE_UPDATES + PENDING_UPDATES + 1)
    ]
    cards: list[dict[str, Any]] = [
        {"kind": "application", "subject_id": d, "chat_id": 1, "outbox_id": d, "created_at": NOW}
        for d in range(1, DRIVERS + 1)
    ]
    for table, rows in [
        (schema.areas, areas),
        (schema.stores, stores),
        (schema.drivers, drivers),
        (schema.driver_areas, driver_areas),
        (schema.offers, offers),
        (schema.notices, notices),
        (schema.events, events),
        (schema.outbox, outbox),
        (schema.inbox, inbox),
        (schema.cards, cards),
    ]:
        await _bulk_insert(connection, table, rows)
    if connection.dialect.name == "postgresql":
        # Rows were written with their ids: move each sequence past them.
        for name in ("areas", "stores", "drivers", "offers", "notices", "outbox"):
            await connection.execute(
                text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))")
            )
    await connection.execute(text("ANALYZE"))
    busy = offers[-1]
    copy = notices[-1]
    return Seeded(
        offer_id=busy["id"],
        driver_id=copy["driver_id"],
        tg_user_id=10_000 + copy["driver_id"],
        notice_id=copy["id"],
        outbox_id=2 * copy["id"] - 1,
        store_id=busy["store_id"],
        area_id=stores[busy["store_id"] - 1]["area_id"],
        ref=busy["ref"],
    )


# A call of a repo method: a coroutine, or the chunks of a streamed report.
HotQuery = Callable[[Transaction, Seeded], Awaitable[object] | AsyncIterator[object]]

# The queries behind every press, wave, send and everyday view, by the repo method that runs them.
# Lists being rewritten to page in the database are named here too: add each new one.
HOT_QUERIES: dict[str, HotQuery] = {
    "Notices.of": lambda tx, s: tx.notices.of(s.offer_id, s.driver_id),
    "Notices.for_offer": lambda tx, s: tx.notices.for_offer(s.offer_id, "sent"),
    "Notices.outbox_row": lambda tx, s: tx.notices.outbox_row(s.notice_id),
    "Notices.outbox_rows": lambda tx, s: tx.notices.outbox_rows([s.notice_id, s.notice_id - 1]),
    "Notices.press_context": lambda tx, s: tx.notices.press_context(s.offer_id, s.tg_user_id),
    "Notices.withdraw_all": lambda tx, s: tx.notices.withdraw_all(s.driver_id, ("sent", "entered")),
    "Notices.last_presses (fast taps)": lambda tx, s: tx.notices.last_presses(s.driver_id, 20),
    "Notices.award_records (an award)": lambda tx, s: tx.notices.award_records(
        [s.driver_id, s.driver_id - 1], s.area_id, NOW - timedelta(hours=12), NOW - timedelta(days=30)
    ),
    "Notices.enter_many (an award window)": lambda tx, s: tx.notices.enter_many(
        [(s.offer_id, s.tg_user_id)], NOW
    ),
    "Inbox.pending_from_before (an award)": lambda tx, s: tx.inbox.pending_from_before(NOW),
    "Offers.by_ref": lambda tx, s: tx.offers.by_ref(s.store_id, s.ref),
    "Offers.held_by": lambda tx, s: tx.offers.held_by(s.driver_id),
    "Offers.held_counts (an award)": lambda tx, s: tx.offers.held_counts([s.driver_id, s.driver_id - 1]),
    "Offers.delivered_since (day tally)": lambda tx, s: tx.offers.delivered_since(
        s.driver_id, NOW - timedelta(hours=12)
    ),
    "Offers.with_deadlines": lambda tx, s: tx.offers.with_deadlines(),
    "Offers.listed_with_places store today (/orders)": lambda tx, s: tx.offers.listed_with_places(
        store_id=s.store_id, created_since=NOW - timedelta(hours=12)
    ),
    "Offers.listed_with_places live (/offers)": lambda tx, s: tx.offers.listed_with_places(
        statuses=LIVE, limit=10
    ),
    "Offers.count_listed live (/offers)": lambda tx, s: tx.offers.count_listed(statuses=LIVE),
    "Offers.listed_with_places open (/offers open)": lambda tx, s: tx.offers.listed_with_places(
        statuses=["open"], limit=10
    ),
    "Offers.listed_with_places held (/offers accepted)": lambda tx, s: tx.offers.listed_with_places(
        statuses=["accepted", "picked_up"], limit=10
    ),
    "Offers.listed_with_places today (/offers today)": lambda tx, s: tx.offers.listed_with_places(
        created_since=NOW - timedelta(hours=24), limit=10, offset=10
    ),
    "Offers.count_listed today (/offers today)": lambda tx, s: tx.offers.count_listed(
        created_since=NOW - timedelta(hours=24)
    ),
    "Offers.listed_with_places area (/offers AREA)": lambda tx, s: tx.offers.listed_with_places(
        area_id=s.area_id, limit=10, offset=10
    ),
    "Offers.count_listed area (/offers AREA)": lambda tx, s: tx.offers.count_listed(area_id=s.area_id),
    "Drivers.listed (/drivers pending)": lambda tx, s: tx.drivers.listed(status="pending", limit=10),
    "Drivers.count_listed (/drivers online)": lambda tx, s: tx.drivers.count_listed(online=True),
    "Drivers.eligible_for": lambda tx, s: tx.drivers.eligible_for(
        s.offer_id, s.area_id, max_held=2, limit=50
    ),
    "Drivers.on_time_rate": lambda tx, s: tx.drivers.on_time_rate(s.driver_id),
    "Events.for_offer": lambda tx, s: tx.events.for_offer(s.offer_id),
    "Outbox.pending": lambda tx, s: tx.outbox.pending(after_id=0, limit=100),
    "Outbox.last_edit_of": lambda tx, s: tx.outbox.last_edit_of(s.outbox_id),
    "Outbox.copies_of": lambda tx, s: tx.outbox.copies_of(s.outbox_id),
    "Inbox.claim": lambda tx, s: tx.inbox.claim(NOW, limit=10),
    "Inbox.has_due": lambda tx, s: tx.inbox.has_due(NOW),
    "Cards.of": lambda tx, s: tx.cards.of("application", s.driver_id),
    "Reports.offers_created (/export offers 7)": lambda tx, s: Reports(tx.connection).offers_created(
        NOW - timedelta(days=7), NOW, chunk_rows=500
    ),
    "Reports.event_counts (/stats AREA 7)": lambda tx, s: Reports(tx.connection).event_counts(
        s.area_id, NOW - timedelta(days=7), NOW, ["accept", "deliver"]
    ),
    "Reports.round_ends (/stats AREA 7)": lambda tx, s: Reports(tx.connection).round_ends(
        s.area_id,
        NOW - timedelta(days=7),
        NOW,
        ended_by=["accept", "expire"],
        accepted="accept",
        round_starts=["open"],
        utc_offsets=[(NOW - timedelta(days=7), 0)],
    ),
    "Reports.drivers (/export drivers)": lambda tx, s: Reports(tx.connection).drivers(
        active_since=NOW - timedelta(days=7), chunk_rows=500
    ),
    "Reports.pickups_per_driver (/export drivers)": lambda tx, s: Reports(tx.connection).pickups_per_driver(
        NOW - timedelta(days=7), NOW
    ),
    "Reports.presses_per_driver (/stats)": lambda tx, s: Reports(tx.connection).presses_per_driver(
        {s.area_id: NOW - timedelta(days=1), s.area_id + 1: NOW - timedelta(hours=20)}, NOW, 600
    ),
}


# Pages of offers newest first whose filter matches many of the newest offers (an area's, the last
# day's): walking the offers back from the newest stops once the page is full, so that walk is
# fine for them, as long as the query has a LIMIT.
DENSE_PAGES = {
    "Offers.listed_with_places today (/offers today)",
    "Offers.listed_with_places area (/offers AREA)",
}

# Queries about one offer, driver or message: whatever the history, they read a few rows of it.
# PostgreSQL counts the rows each plan reads (a search through an index that barely narrows, such
# as offers by status 'delivered', reads as much as a scan).
ABOUT_ONE_THING = {
    "Notices.of",
    "Notices.for_offer",
    "Notices.outbox_row",
    "Notices.outbox_rows",
    "Notices.press_context",
    "Notices.withdraw_all",
    "Notices.last_presses (fast taps)",
    "Notices.enter_many (an award window)",
    "Offers.by_ref",
    "Offers.held_by",
    "Offers.held_counts (an award)",
    "Offers.delivered_since (day tally)",
    "Drivers.eligible_for",
    "Drivers.on_time_rate",
    "Events.for_offer",
    "Outbox.last_edit_of",
    "Outbox.copies_of",
    "Cards.of",
}
FEW_ROWS = 100


@contextmanager
def _statements(connection: AsyncConnection) -> Iterator[list[tuple[str, Any]]]:
    """Every statement sent on this connection meanwhile, with its parameters as the driver got them."""
    sent: list[tuple[str, Any]] = []

    def record(_conn: Connection, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    event.listen(connection.sync_connection, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(connection.sync_connection, "before_cursor_execute", record)


def _sqlite_full_scans(plan: Sequence[Row[Any]], page: bool, partial: set[str]) -> list[str]:
    # "SCAN t" reads the whole table in id order, and so does "SEARCH t USING INTEGER PRIMARY KEY
    # (rowid>?)" from a low id; "SCAN t USING [COVERING] INDEX i" reads the whole of an index on
    # it (only a few rows if it is partial: the pending ones); "SEARCH t USING INDEX i (c=?)"
    # reads only what the index finds.
    found = []
    for row in plan:
        detail = str(row.detail)
        words = detail.split(" ")
        if words[1] not in HISTORY:
            continue
        walk_from_low_id = words[0] == "SEARCH" and detail.endswith("INTEGER PRIMARY KEY (rowid>?)")
        scan = words[0] == "SCAN" and words[-1] not in partial and not (page and detail == f"SCAN {words[1]}")
        if walk_from_low_id or scan:
            found.append(detail)
    return found


def _postgres_rows_read(node: dict[str, Any]) -> Counter[str]:
    """Rows of each history table the executed plan read, kept or filtered out."""
    read: Counter[str] = Counter()
    table = node.get("Relation Name")
    if table in HISTORY and "Scan" in node["Node Type"]:
        seen = node["Actual Rows"] + node.get("Rows Removed by Filter", 0)
        read[table] = (seen + node.get("Rows Removed by Index Recheck", 0)) * node["Actual Loops"]
    for child in node.get("Plans", []):
        read += _postgres_rows_read(child)
    return read


def _postgres_full_scans(
    node: dict[str, Any], page: bool, partial: set[str], limited: bool = False
) -> list[str]:
    found = []
    kind = node["Node Type"]
    table = node.get("Relation Name")
    if table in HISTORY:
        # An index scan with no Index Cond reads the whole index, in its order.
        whole_index = (
            kind in ("Index Scan", "Index Only Scan")
            and "Index Cond" not in node
            and node["Index Name"] not in partial
        )
        walk = page and limited and whole_index and node.get("Index Name") == f"pk_{table}"
        if kind == "Seq Scan" or (whole_index and not walk):
            found.append(f"{kind} on {table} " + node.get("Index Name", ""))
    for child in node.get("Plans", []):
        found += _postgres_full_scans(child, page, partial, limited or kind == "Limit")
    return found


SQLITE_PARTIAL_INDEXES = "SELECT name FROM sqlite_master WHERE type = 'index' AND sql LIKE '% WHERE %'"
POSTGRES_PARTIAL_INDEXES = "SELECT indexname FROM pg_indexes WHERE indexdef LIKE '% WHERE %'"


async def _full_scans(connection: AsyncConnection, statement: str, parameters: Any, name: str) -> list[str]:
    """What the statement's plan reads whole of the history tables (or, for a query about one
    thing, too much of them)."""
    page = name in DENSE_PAGES and "LIMIT" in statement
    if connection.dialect.name == "sqlite":
        partial = set((await connection.execute(text(SQLITE_PARTIAL_INDEXES))).scalars())
        plan = (await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)).all()
        return _sqlite_full_scans(plan, page, partial)
    partial = set((await connection.execute(text(POSTGRES_PARTIAL_INDEXES))).scalars())
    explain = f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}"
    (document,) = (await connection.exec_driver_sql(explain, parameters)).one()
    plan = (json.loads(document) if isinstance(document, str) else document)[0]["Plan"]
    found = _postgres_full_scans(plan, page, partial)
    read = _postgres_rows_read(plan)
    if name in ABOUT_ONE_THING and read.total() > FEW_ROWS:
        found.append(f"{read.total()} rows read")
    for table, rows in read.items():
        # Looked up row by row through an index, a whole table is still read whole.
        total = (await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
        if rows > total / 2:
            found.append(f"{rows} of {total} rows of {table} read")
    return found


async def _complete(call: Awaitable[object] | AsyncIterator[object]) -> None:
    if isinstance(call, AsyncIterator):
        async for _chunk in call:
            pass
    else:
        await call


@dataclass(frozen=True, slots=True)
class SeededDatabase:
    url: str
    ids: Seeded


async def _upgrade_and_seed(url: str) -> Seeded:
    db = Database.connect(url)
    try:
        await db.upgrade()
        async with db.connection() as connection, connection.begin():
            return await _seed(connection)
    finally:
        await db.close()


@pytest.fixture(scope="module", params=BACKENDS)
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> SeededDatabase:
    """One seeded database per backend, shared by this module's tests (they only read)."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('plans') / 'storerun.db'}"
    else:
        url = request.getfixturevalue("postgres_scratch_url")
        asyncio.run(_admin(url, "DROP SCHEMA public CASCADE", "CREATE SCHEMA public"))
    return SeededDatabase(url, asyncio.run(_upgrade_and_seed(url)))


@pytest.mark.parametrize("name", list(HOT_QUERIES))
async def test_hot_query_reads_no_whole_table_of_history(seeded: SeededDatabase, name: str) -> None:
    db = Database.connect(seeded.url)
    full_scans: list[str] = []
    try:
        async with db.connection() as connection, connection.begin() as transaction:
            if connection.dialect.name == "postgresql":
                # At this size reading a whole table (a sequential scan, or a hash or merge join
                # over one) is cheaper and PostgreSQL rightly picks it; with those priced out, a
                # plan that still reads a whole table shows that no index serves the query.
                for method in ("seqscan", "hashjoin", "mergejoin"):
                    await connection.execute(text(f"SET LOCAL enable_{method} = off"))
            with _statements(connection) as sent:
                await _complete(HOT_QUERIES[name](Transaction(connection), seeded.ids))
            assert sent, f"{name} sent no query"
            for statement, parameters in sent:
                full_scans += await _full_scans(connection, statement, parameters, name)
            # Whatever the call wrote (a withdrawal, a claim) is undone.
            await transaction.rollback()
    finally:
        await db.close()
    assert not full_scans, f"{name} reads whole tables of history: {full_scans}"
