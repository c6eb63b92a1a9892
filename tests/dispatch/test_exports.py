"""/export CSV: the database row for row, times local with their offset, no pickup code or address;
read and written a chunk at a time, zipped when large, refused when too large for Telegram; the
header row in the words it is given, the rows the same whoever reads them."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
import zipfile
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, insert, select

from dispatch import exports
from dispatch.clock import FakeClock
from dispatch.dispatcher import Dispatch
from dispatch.exports import (
    COLUMNS,
    DRIVER_COLUMNS,
    OFFER_COLUMNS,
    ExportKind,
    ExportTooLarge,
    GeneratedFile,
    export_file,
    queue_upload,
    show_dollars,
    write_drivers_csv,
    write_offers_csv,
)
from dispatch.outbox import Delivery, Outgoing
from storage import schema
from storage.db import Database

# 10:00 PST in Las Vegas and 11:00 MST in Chandler, before summer time begins on Mar 8.
NOW = datetime(2026, 3, 5, 18, 0, tzinfo=UTC)
OFFER_HEADER = [
    "id",
    "store",
    "area",
    "ref",
    "status",
    "packages",
    "zone",
    "pay",
    "pay_cents",
    "pickup_start",
    "pickup_end",
    "deliver_by",
    "created_at",
    "accepted_at",
    "picked_up_at",
    "finished_at",
    "holder_id",
    "wrong_codes",
    "failure_reason",
    "proof_file_id",
]
DRIVER_HEADER = [
    "id",
    "name",
    "username",
    "phone",
    "status",
    "online",
    "areas",
    "offered",
    "accepted",
    "declined",
    "timed_out",
    "released",
    "no_shows",
    "delivered",
    "on_time_rate",
    "created_at",
]
PICKUP_CODES = ("918273", "564738", "102938")
ADDRESSES = ("77 Secret Garden Lane, Las Vegas", "5 Hidden Court, Chandler", "9 Old Road")


async def export_offers_csv(db: Database, *, now: datetime, days: int = 30) -> bytes:
    sink = io.BytesIO()
    await write_offers_csv(db, sink, now=now, days=days)
    return sink.getvalue()


async def export_drivers_csv(db: Database, *, now: datetime, days: int = 30) -> bytes:
    sink = io.BytesIO()
    await write_drivers_csv(db, sink, now=now, days=days)
    return sink.getvalue()


def parse(data: bytes) -> tuple[list[str], list[dict[str, str]]]:
    """The header and rows of UTF-8 CSV bytes."""
    reader = csv.DictReader(io.StringIO(data.decode("utf-8"), newline=""))
    return list(reader.fieldnames or []), list(reader)


def iso(instant: datetime | None, tz: str) -> str:
    """The instant as ISO 8601 local time with its offset in the zone, as a spreadsheet reads it."""
    return "" if instant is None else instant.astimezone(ZoneInfo(tz)).isoformat(timespec="seconds")


async def seed(db: Database) -> dict[str, int]:
    """Two areas, two stores, three drivers and three offers (one too old for a 30-day export)."""
    async with db.transaction() as tx:
        vegas = await tx.areas.upsert("las-vegas", "Fashion Show", "America/Los_Angeles")
        chandler = await tx.areas.upsert("chandler", "Chandler", "America/Phoenix")
        zara = await tx.stores.upsert("FS-ZARA", "Zara", vegas, "Level 1")
        nike = await tx.stores.upsert("CH-NIKE", "Nike", chandler, "Level 2")

        ana = await tx.drivers.add(101, 101, "Ana Ruiz", NOW - timedelta(days=3), username="anaruiz")
        await tx.drivers.update(ana, phone="+1 702 555 0100", status="approved", online=True)
        await tx.drivers.count(ana, offered=5, accepted=3, declined=1, timed_out=1, delivered=2, released=1)
        await tx.drivers.add_area(ana, vegas)
        await tx.drivers.add_area(ana, chandler)
        # Joined long ago, but was sent an offer this month; the name is a spreadsheet formula.
        old_hand = await tx.drivers.add(102, 102, '=HYPERLINK("http://x")', NOW - timedelta(days=200))
        await tx.drivers.update(old_hand, status="approved")
        await tx.drivers.count(old_hand, no_shows=2)
        await tx.drivers.add_area(old_hand, chandler)
        # Joined long ago and idle since: not in the export.
        idle = await tx.drivers.add(103, 103, "Idle Ivan", NOW - timedelta(days=90))

        delivered = await tx.offers.add(
            store_id=zara,
            ref="A123",
            packages=2,
            zone="89109",
            address=ADDRESSES[0],
            pay_cents=1850,
            pickup_start=NOW - timedelta(days=2, hours=1),
            pickup_end=NOW - timedelta(days=2, minutes=30),
            deliver_by=NOW - timedelta(days=2) + timedelta(hours=1),
            pickup_code=PICKUP_CODES[0],
            status="delivered",
            holder_id=ana,
            created_at=NOW - timedelta(days=2, hours=2),
            accepted_at=NOW - timedelta(days=2, hours=1, minutes=58),
            picked_up_at=NOW - timedelta(days=2, minutes=40),  # on time
            finished_at=NOW - timedelta(days=2),
            proof_file_id="AgAD-proof",
        )
        returned = await tx.offers.add(
            store_id=nike,
            ref="N-7",
            packages=1,
            zone="85226",
            address=ADDRESSES[1],
            pay_cents=5,
            pickup_start=NOW - timedelta(days=1, hours=1),
            pickup_end=NOW - timedelta(days=1, minutes=30),
            pickup_code=PICKUP_CODES[1],
            status="returned",
            holder_id=ana,
            wrong_codes=2,
            failure_reason="=cmd|' /C calc'!A0",
            created_at=NOW - timedelta(days=1, hours=2),
            accepted_at=NOW - timedelta(days=1, hours=1, minutes=59),
            picked_up_at=NOW - timedelta(days=1, minutes=10),  # late
            finished_at=NOW - timedelta(days=1) + timedelta(minutes=20),
        )
        old = await tx.offers.add(
            store_id=zara,
            ref="OLD",
            packages=1,
            zone="89109",
            address=ADDRESSES[2],
            pay_cents=1000,
            pickup_start=NOW - timedelta(days=40),
            pickup_end=NOW - timedelta(days=40) + timedelta(minutes=30),
            pickup_code=PICKUP_CODES[2],
            status="expired",
            created_at=NOW - timedelta(days=40, hours=1),
        )
        await tx.notices.record(returned, old_hand, 102, 1, NOW - timedelta(days=1, hours=2))
        await tx.notices.record(old, idle, 103, 1, NOW - timedelta(days=40))
    return {"ana": ana, "old_hand": old_hand, "idle": idle, "delivered": delivered, "returned": returned}


async def test_offers_csv_matches_the_database_row_for_row(db: Database) -> None:
    ids = await seed(db)

    header, rows = parse(await export_offers_csv(db, now=NOW))

    assert header == OFFER_HEADER
    async with db.read() as tx:
        offers = sorted(await tx.offers.listed(created_since=NOW - timedelta(days=30)), key=lambda o: o.id)
        stores = {store.id: store for store in await tx.stores.all()}
        areas = {area.id: area for area in await tx.areas.all()}
    assert [offer.id for offer in offers] == [ids["delivered"], ids["returned"]]
    expected = []
    for offer in offers:
        area = areas[stores[offer.store_id].area_id]
        expected.append(
            {
                "id": str(offer.id),
                "store": stores[offer.store_id].code,
                "area": area.slug,
                "ref": offer.ref,
                "status": offer.status,
                "packages": str(offer.packages),
                "zone": offer.zone,
                "pay": show_dollars(offer.pay_cents),
                "pay_cents": str(offer.pay_cents),
                "pickup_start": iso(offer.pickup_start, area.tz),
                "pickup_end": iso(offer.pickup_end, area.tz),
                "deliver_by": iso(offer.deliver_by, area.tz),
                "created_at": iso(offer.created_at, area.tz),
                "accepted_at": iso(offer.accepted_at, area.tz),
                "picked_up_at": iso(offer.picked_up_at, area.tz),
                "finished_at": iso(offer.finished_at, area.tz),
                "holder_id": str(offer.holder_id or ""),
                "wrong_codes": str(offer.wrong_codes),
                # A cell that would run as a formula in a spreadsheet is quoted.
                "failure_reason": "'=cmd|' /C calc'!A0" if offer.failure_reason else "",
                "proof_file_id": offer.proof_file_id or "",
            }
        )
    assert rows == expected


async def test_offers_csv_shows_times_in_the_areas_zone_with_its_offset(db: Database) -> None:
    await seed(db)

    _, rows = parse(await export_offers_csv(db, now=NOW))

    vegas, chandler = rows
    assert vegas["area"] == "las-vegas"
    assert vegas["created_at"] == "2026-03-03T08:00:00-08:00"  # 16:00 UTC is 8 AM PST
    assert vegas["pickup_start"] == "2026-03-03T09:00:00-08:00"
    assert chandler["area"] == "chandler"
    assert chandler["created_at"] == "2026-03-04T09:00:00-07:00"  # the same 16:00 UTC is 9 AM MST
    for row in rows:
        for column in ("pickup_start", "pickup_end", "created_at", "accepted_at", "picked_up_at"):
            assert datetime.fromisoformat(row[column]).utcoffset() is not None, (column, row[column])


async def test_offers_csv_has_one_row_per_offer_however_many_drivers_saw_it(db: Database) -> None:
    ids = await seed(db)
    async with db.transaction() as tx:
        for tg_user_id in (201, 202, 203):
            driver = await tx.drivers.add(tg_user_id, tg_user_id, f"Driver {tg_user_id}", NOW)
            await tx.notices.record(ids["delivered"], driver, tg_user_id, 1, NOW - timedelta(days=2, hours=2))
            await tx.events.add(NOW - timedelta(days=2), "test", "decline", offer_id=ids["delivered"])

    _, rows = parse(await export_offers_csv(db, now=NOW))

    assert [int(row["id"]) for row in rows] == [ids["delivered"], ids["returned"]]


async def test_offers_csv_spells_out_values(db: Database) -> None:
    await seed(db)

    _, rows = parse(await export_offers_csv(db, now=NOW))

    first, second = rows
    assert (first["store"], first["area"]) == ("FS-ZARA", "las-vegas")
    assert (first["pay"], first["pay_cents"]) == ("18.50", "1850")
    assert (second["pay"], second["deliver_by"], second["wrong_codes"]) == ("0.05", "", "2")


async def test_offers_csv_has_no_pickup_code_or_address(db: Database) -> None:
    await seed(db)

    text = (await export_offers_csv(db, now=NOW, days=365)).decode("utf-8")

    assert text.count("\n") == 4  # the header and all three offers
    for secret in (*PICKUP_CODES, *ADDRESSES, "Secret Garden", "Hidden Court"):
        assert secret not in text
    assert "pickup_code" not in text
    assert "address" not in text


async def test_drivers_csv_lists_who_joined_or_was_offered_work_in_the_period(db: Database) -> None:
    ids = await seed(db)

    header, rows = parse(await export_drivers_csv(db, now=NOW))

    assert header == DRIVER_HEADER
    async with db.read() as tx:
        drivers = [await tx.drivers.by_id(ids["ana"]), await tx.drivers.by_id(ids["old_hand"])]
    ana, old_hand = drivers
    assert ana is not None and old_hand is not None
    assert rows == [
        {
            "id": str(ana.id),
            "name": "Ana Ruiz",
            "username": "anaruiz",
            "phone": "+1 702 555 0100",  # a phone number is left as it is
            "status": "approved",
            "online": "yes",
            "areas": "chandler;las-vegas",
            "offered": "5",
            "accepted": "3",
            "declined": "1",
            "timed_out": "1",
            "released": "1",
            "no_shows": "0",
            "delivered": "2",
            "on_time_rate": "0.50",  # one pickup on time, one late
            "created_at": iso(ana.created_at, "America/Phoenix"),  # her first area's zone: Chandler
        },
        {
            "id": str(old_hand.id),
            "name": '\'=HYPERLINK("http://x")',
            "username": "",
            "phone": "",
            "status": "approved",
            "online": "no",
            "areas": "chandler",
            "offered": "0",
            "accepted": "0",
            "declined": "0",
            "timed_out": "0",
            "released": "0",
            "no_shows": "2",
            "delivered": "0",
            "on_time_rate": "",  # no pickups
            "created_at": iso(old_hand.created_at, "America/Phoenix"),
        },
    ]


async def test_drivers_csv_over_a_year_includes_the_idle_driver(db: Database) -> None:
    ids = await seed(db)

    _, rows = parse(await export_drivers_csv(db, now=NOW, days=365))

    assert [int(row["id"]) for row in rows] == [ids["ana"], ids["old_hand"], ids["idle"]]
    assert rows[2]["areas"] == ""
    assert rows[2]["created_at"] == iso(NOW - timedelta(days=90), "UTC")  # no area, so UTC: "+00:00"
    assert rows[2]["created_at"].endswith("+00:00")


def test_the_columns_are_codes_that_head_a_file_given_no_names() -> None:
    assert (list(OFFER_COLUMNS), list(DRIVER_COLUMNS)) == (OFFER_HEADER, DRIVER_HEADER)
    assert COLUMNS == {ExportKind.OFFERS: OFFER_COLUMNS, ExportKind.DRIVERS: DRIVER_COLUMNS}


@pytest.mark.parametrize("kind", list(ExportKind))
async def test_a_header_given_names_the_columns_and_leaves_the_rows_alone(
    db: Database, kind: ExportKind
) -> None:
    await seed(db)
    names = [f"Col {number} «{column}»" for number, column in enumerate(COLUMNS[kind])]

    plain = await export_file(db, kind, now=NOW, days=30)
    named = await export_file(db, kind, now=NOW, days=30, header=names)

    plain_header, *plain_rows = csv.reader(io.StringIO(plain.content.decode("utf-8"), newline=""))
    named_header, *named_rows = csv.reader(io.StringIO(named.content.decode("utf-8"), newline=""))
    assert (plain_header, named_header) == (list(COLUMNS[kind]), names)
    assert named_rows == plain_rows and len(named_rows) == 2
    assert named.filename == plain.filename


async def test_a_header_must_name_every_column(db: Database) -> None:
    with pytest.raises(ValueError):
        await write_offers_csv(db, io.BytesIO(), now=NOW, header=OFFER_HEADER[:-1])
    with pytest.raises(ValueError):
        await write_drivers_csv(db, io.BytesIO(), now=NOW, header=[*DRIVER_HEADER, "extra"])


@pytest.mark.parametrize("days", [0, 366])
async def test_export_days_outside_one_to_365_are_refused(db: Database, days: int) -> None:
    with pytest.raises(ValueError):
        await export_offers_csv(db, now=NOW, days=days)
    with pytest.raises(ValueError):
        await export_drivers_csv(db, now=NOW, days=days)


def test_dollars_are_plain_numbers() -> None:
    cents = (0, 5, 1850, 123456, -250)
    assert [show_dollars(amount) for amount in cents] == ["0.00", "0.05", "18.50", "1234.56", "-2.50"]


class RecordingSink(io.BytesIO):
    """A file that remembers each write it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.writes.append(bytes(data))
        return super().write(data)


async def add_offers(db: Database, count: int, *, created_at: datetime) -> None:
    """`count` delivered-looking offers of one Las Vegas store, all created at that instant."""
    async with db.transaction() as tx:
        vegas = await tx.areas.upsert("las-vegas", "Fashion Show", "America/Los_Angeles")
        store = await tx.stores.upsert("FS-ZARA", "Zara", vegas, "Level 1")
        start = (await tx.connection.execute(select(func.count()).select_from(schema.offers))).scalar_one()
        rows = [
            {
                "store_id": store,
                "ref": f"BULK-{start + number}",
                "packages": 1,
                "zone": "89109",
                "address": "1 Main St",
                "pay_cents": 1500,
                "pickup_start": created_at + timedelta(hours=1),
                "pickup_end": created_at + timedelta(hours=2),
                "pickup_code": "1234",
                "status": "expired",
                "created_at": created_at,
            }
            for number in range(count)
        ]
        await tx.connection.execute(insert(schema.offers), rows)


async def test_offers_are_read_and_written_a_few_rows_at_a_time(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_offers(db, 5, created_at=NOW - timedelta(days=1))
    monkeypatch.setattr(exports, "CHUNK_ROWS", 2)
    sink = RecordingSink()

    await write_offers_csv(db, sink, now=NOW)

    header, *chunks = sink.writes
    assert header.decode().startswith("id,store,area,")
    assert [chunk.count(b"\n") for chunk in chunks] == [2, 2, 1]
    assert len(parse(sink.getvalue())[1]) == 5


async def test_drivers_are_read_and_written_a_few_rows_at_a_time(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with db.transaction() as tx:
        for tg_user_id in range(301, 306):
            await tx.drivers.add(tg_user_id, tg_user_id, f"Driver {tg_user_id}", NOW - timedelta(days=1))
    monkeypatch.setattr(exports, "CHUNK_ROWS", 2)
    sink = RecordingSink()

    await write_drivers_csv(db, sink, now=NOW)

    assert [chunk.count(b"\n") for chunk in sink.writes[1:]] == [2, 2, 1]
    assert [row["name"] for row in parse(sink.getvalue())[1]] == [f"Driver {n}" for n in range(301, 306)]


class Discard(io.RawIOBase):
    """A file that keeps nothing, so only the export itself takes memory."""

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        return len(data)


async def peak_memory_of_offers_export(db: Database, days: int) -> int:
    tracemalloc.start()
    try:
        await write_offers_csv(db, Discard(), now=NOW, days=days)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def test_memory_of_an_export_does_not_grow_with_the_period(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 200 offers in the last day, 2,000 more over the month before: a month reads eleven times as many.
    await add_offers(db, 200, created_at=NOW - timedelta(hours=12))
    for day in range(2, 12):
        await add_offers(db, 200, created_at=NOW - timedelta(days=day))
    monkeypatch.setattr(exports, "CHUNK_ROWS", 100)
    # Compiled queries and caches warm up, on both paths: a result of one chunk and of many.
    await write_offers_csv(db, Discard(), now=NOW, days=1)
    await write_offers_csv(db, Discard(), now=NOW, days=30)

    one_day = await peak_memory_of_offers_export(db, days=1)
    month = await peak_memory_of_offers_export(db, days=30)

    assert month < 2 * one_day, (one_day, month)


async def test_a_small_export_is_a_plain_csv(db: Database) -> None:
    await seed(db)

    export = await export_file(db, ExportKind.OFFERS, now=NOW, days=30)

    assert export.filename == "offers-30d.csv"
    assert [row["ref"] for row in parse(export.content)[1]] == ["A123", "N-7"]


async def test_an_export_over_the_threshold_is_zipped(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    await seed(db)
    await add_offers(db, 50, created_at=NOW - timedelta(days=3))
    csv_bytes = await export_offers_csv(db, now=NOW, days=30)
    monkeypatch.setattr(exports, "COMPRESS_ABOVE_BYTES", len(csv_bytes) - 1)

    export = await export_file(db, ExportKind.OFFERS, now=NOW, days=30)

    assert export.filename == "offers-30d.zip"
    assert len(export.content) < len(csv_bytes) / 3
    with zipfile.ZipFile(io.BytesIO(export.content)) as archive:
        assert archive.namelist() == ["offers-30d.csv"]
        assert archive.getinfo("offers-30d.csv").compress_type == zipfile.ZIP_DEFLATED
        assert archive.read("offers-30d.csv") == csv_bytes


async def test_an_export_too_large_even_zipped_is_refused(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(db)
    await add_offers(db, 50, created_at=NOW - timedelta(days=3))
    monkeypatch.setattr(exports, "COMPRESS_ABOVE_BYTES", 100)
    monkeypatch.setattr(exports, "DOCUMENT_LIMIT_BYTES", 100)

    with pytest.raises(ExportTooLarge) as refused:
        await export_file(db, ExportKind.OFFERS, now=NOW, days=30)

    assert (refused.value.megabytes, refused.value.limit_megabytes) == (1, 0)


async def test_an_upload_is_queued_with_a_reference_to_its_file_not_its_bytes(db: Database) -> None:
    from bot.texts import Catalog

    clock = FakeClock(NOW)
    dispatch = Dispatch(db, clock, Catalog(clock))
    content = b"id,ref\n1,A123\n"

    outbox_id = await queue_upload(
        dispatch,
        Outgoing(42, Delivery.DOCUMENT, {"caption": "Offers"}),
        "document",
        GeneratedFile("o.csv", content),
    )

    async with db.read() as tx:
        row = await tx.outbox.by_id(outbox_id)
        files = (await tx.connection.execute(select(schema.files))).all()
    assert row is not None
    (stored,) = files
    assert json.loads(row.payload) == {
        "caption": "Offers",
        "document": {"file_ref": stored.id, "filename": "o.csv"},
    }
    assert (stored.filename, bytes(stored.content)) == ("o.csv", content)
    async with db.transaction() as tx:
        assert await tx.files.content(stored.id) == content  # what the sender uploads
        assert await tx.files.remove([stored.id]) == 1  # once it is sent
        assert await tx.files.content(stored.id) is None
