"""The /export files: offers and drivers as UTF-8 CSV for a spreadsheet, times local with their offset."""

from __future__ import annotations

import asyncio
import csv
import io
import math
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import IO, Any
from zoneinfo import ZoneInfo

from dispatch.dispatcher import Dispatch
from dispatch.outbox import Outgoing, enqueue
from dispatch.stats import check_days
from storage.db import Database
from storage.records import RequestKind
from storage.reports import ReportedOffer, Reports

# Rows read from the database and written to the file at a time: memory stays flat however long
# the period is.
CHUNK_ROWS = 1000
# A CSV larger than this is sent zipped (an offer's row compresses about tenfold).
COMPRESS_ABOVE_BYTES = 5 * 2**20
# The largest document a bot may send through the Bot API.
DOCUMENT_LIMIT_BYTES = 50 * 2**20
# How a queued call names a stored file instead of carrying its bytes (read by bot.sender).
FILE_REF = "file_ref"


class ExportKind(StrEnum):
    OFFERS = "offers"
    DRIVERS = "drivers"


@dataclass(frozen=True, slots=True)
class GeneratedFile:
    """A file made to be sent (an export, a chart), as it will be uploaded."""

    filename: str
    content: bytes


class ExportTooLarge(Exception):
    """Even compressed, the period's file is over Telegram's document limit."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"the export is {size} bytes, over the {limit} bytes a document may have")
        self.megabytes = math.ceil(size / 2**20)
        self.limit_megabytes = limit // 2**20


# A file's columns by code: the header row a person reads names them in their language (the bot
# renders it, bot.export_words), and the codes themselves head the file when no names are given.
# The customer's address is personal data and the pickup code is the store's secret: neither is
# a column here, and storage.reports does not even read them. Times are in the offer's area zone.
OFFER_COLUMNS = (
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
)

# The phone number is personal data, kept because admins call drivers; the file is for admins only.
# A driver's times are in the zone of their first area (UTC without one).
DRIVER_COLUMNS = (
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
)
COLUMNS = {ExportKind.OFFERS: OFFER_COLUMNS, ExportKind.DRIVERS: DRIVER_COLUMNS}

Cell = str | int | None

# A spreadsheet runs a cell starting with one of these as a formula; names come from strangers.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER_LIKE = re.compile(r"[+-]?[\d .()-]*\d[\d .()-]*")


def show_instant(instant: datetime | None, tz: str) -> str | None:
    """An instant as ISO 8601 local time in the zone, to the second, with its offset.

    "2026-11-25T14:00:00-08:00": a spreadsheet reads the local time, and the offset keeps it exact.
    """
    return _local(instant, ZoneInfo(tz))


def _local(instant: datetime | None, zone: ZoneInfo) -> str | None:
    return None if instant is None else instant.astimezone(zone).isoformat(timespec="seconds")


def show_dollars(cents: int) -> str:
    """Integer cents as plain dollars for a spreadsheet: 1850 -> "18.50"."""
    sign = "-" if cents < 0 else ""
    dollars, rest = divmod(abs(cents), 100)
    return f"{sign}{dollars}.{rest:02d}"


def _header(columns: Sequence[str], header: Sequence[str] | None) -> bytes:
    """The header row: the given names, one per column, or the column codes."""
    if header is not None and len(header) != len(columns):
        raise ValueError(f"a header of {len(header)} names for {len(columns)} columns")
    return _chunk_csv([columns if header is None else header])


def _text(value: Cell) -> str:
    """One cell: nothing as empty, text defused against formulas."""
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    # A phone number like "+1 702 555 0100" stays as it is; "=HYPERLINK(…)" is quoted.
    if value.startswith(_FORMULA_START) and not _NUMBER_LIKE.fullmatch(value):
        return "'" + value
    return value


def _chunk_csv(rows: Iterable[Sequence[Cell]]) -> bytes:
    """Rows as UTF-8 CSV bytes."""
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows([_text(value) for value in row] for row in rows)
    return buffer.getvalue().encode("utf-8")


async def write_offers_csv(
    db: Database, sink: IO[bytes], *, now: datetime, days: int = 30, header: Sequence[str] | None = None
) -> None:
    """Every offer created in the last `days` days up to `now`, oldest first, as CSV into `sink`,
    one chunk of rows at a time, under `header` (a name for each of OFFER_COLUMNS; the codes
    without it)."""
    check_days(days)
    sink.write(_header(OFFER_COLUMNS, header))
    async with db.read() as tx:
        chunks = Reports(tx.connection).offers_created(now - timedelta(days=days), now, chunk_rows=CHUNK_ROWS)
        async for offers in chunks:
            sink.write(_offers_csv(offers))


def _offers_csv(offers: Sequence[ReportedOffer]) -> bytes:
    """Offers as CSV rows. Only text that people typed (codes, references, zones, reasons) can
    hold a formula; numbers and times are written as they are."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    for offer in offers:
        zone = ZoneInfo(offer.area_tz)
        writer.writerow(
            (
                offer.id,
                _text(offer.store_code),
                offer.area_slug,
                _text(offer.ref),
                offer.status,
                offer.packages,
                _text(offer.zone),
                show_dollars(offer.pay_cents),
                offer.pay_cents,
                _local(offer.pickup_start, zone),
                _local(offer.pickup_end, zone),
                _local(offer.deliver_by, zone),
                _local(offer.created_at, zone),
                _local(offer.accepted_at, zone),
                _local(offer.picked_up_at, zone),
                _local(offer.finished_at, zone),
                offer.holder_id,
                offer.wrong_codes,
                _text(offer.failure_reason),
                _text(offer.proof_file_id),
            )
        )
    return buffer.getvalue().encode("utf-8")


async def write_drivers_csv(
    db: Database, sink: IO[bytes], *, now: datetime, days: int = 30, header: Sequence[str] | None = None
) -> None:
    """Drivers who joined or were sent an offer in the last `days` days up to `now`, as CSV into
    `sink`, one chunk of rows at a time, under `header` (a name for each of DRIVER_COLUMNS; the
    codes without it).

    The counters are lifetime totals; on_time_rate is the share of the driver's pickups made in
    the period that happened by the end of the pickup window (blank without pickups).
    """
    check_days(days)
    since = now - timedelta(days=days)
    sink.write(_header(DRIVER_COLUMNS, header))
    async with db.read() as tx:
        reports = Reports(tx.connection)
        pickups = await reports.pickups_per_driver(since, now)
        zones = {area.slug: area.tz for area in await tx.areas.all()}
        async for drivers in reports.drivers(active_since=since, chunk_rows=CHUNK_ROWS):
            rows = []
            for driver in drivers:
                tz = zones[driver.area_slugs[0]] if driver.area_slugs else "UTC"
                tally = pickups.get(driver.id)
                rate = f"{tally.on_time / tally.picked_up:.2f}" if tally and tally.picked_up else None
                rows.append(
                    (
                        driver.id,
                        driver.name,
                        driver.username,
                        driver.phone,
                        driver.status,
                        # Codes like the status's, the same whoever reads the file.
                        "yes" if driver.online else "no",
                        ";".join(driver.area_slugs),
                        driver.offered,
                        driver.accepted,
                        driver.declined,
                        driver.timed_out,
                        driver.released,
                        driver.no_shows,
                        driver.delivered,
                        rate,
                        show_instant(driver.created_at, tz),
                    )
                )
            sink.write(_chunk_csv(rows))


def _zip(raw: IO[bytes], zipped: IO[bytes], name: str) -> None:
    """Compress the file into `zipped` as a zip archive holding it under `name`, as a stream."""
    raw.seek(0)
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as archive, archive.open(name, "w") as entry:
        shutil.copyfileobj(raw, entry, 2**20)


async def export_file(
    db: Database, kind: ExportKind, *, now: datetime, days: int = 30, header: Sequence[str] | None = None
) -> GeneratedFile:
    """The export as a document to send: `offers-30d.csv`, or `offers-30d.zip` once it is large.

    `header` names the kind's COLUMNS in the reader's words (the codes without it); the rows are
    the same whoever reads them. The CSV goes to a temporary file on disk as it is read, never
    whole in memory; raises ExportTooLarge when even zipped it is over Telegram's document limit.
    """
    write = write_offers_csv if kind is ExportKind.OFFERS else write_drivers_csv
    name = f"{kind}-{days}d.csv"
    with tempfile.TemporaryFile() as raw, tempfile.TemporaryFile() as zipped:
        await write(db, raw, now=now, days=days, header=header)
        document, filename = raw, name
        if raw.tell() > COMPRESS_ABOVE_BYTES:
            # Compressing megabytes takes a while: off the event loop, so updates keep flowing.
            await asyncio.to_thread(_zip, raw, zipped, name)
            document, filename = zipped, name.removesuffix(".csv") + ".zip"
        size = document.tell()
        if size > DOCUMENT_LIMIT_BYTES:
            raise ExportTooLarge(size, DOCUMENT_LIMIT_BYTES)
        document.seek(0)
        return GeneratedFile(filename, document.read())


async def queue_upload(d: Dispatch, message: Outgoing, field: str, file: GeneratedFile) -> int:
    """Queue a call that uploads this file as its `field`, storing the file once beside it.

    The outbox row names the stored file ({"file_ref": id}) rather than carrying its bytes; the
    sender reads them when it sends and removes the file once the call is done.
    """
    now = d.clock.now()
    async with d.transaction() as tx:
        file_id = await tx.files.add(file.filename, file.content, now)
        reference: dict[str, Any] = {FILE_REF: file_id, "filename": file.filename}
        return await enqueue(tx, replace(message, params={**message.params, field: reference}), now)


# export_requests.kind of a /stats: its numbers, then its chart, are sent by the same builder.
STATS = RequestKind.STATS


async def request_stats(
    d: Dispatch, chat_id: int, days: int, area_slug: str | None, *, wake: Callable[[], None]
) -> int:
    """Record that this chat asked for statistics (of one area, or of all); `wake` (the builder)
    is called once it commits. Counting reads thousands of events: not inside the asking update."""
    check_days(days)
    async with d.transaction() as tx:
        request_id = await tx.export_requests.add(chat_id, STATS, days, d.clock.now(), area_slug=area_slug)
        tx.after_commit.append(wake)
    return request_id


async def request_export(
    d: Dispatch, chat_id: int, kind: ExportKind, days: int, *, wake: Callable[[], None]
) -> int:
    """Record that this chat asked for this export; `wake` (the builder) is called once it commits.

    Building takes seconds at scale: it happens after the asking update, outside its transaction,
    so SQLite's one write lock is not held meanwhile (bot.exports_worker).
    """
    check_days(days)
    async with d.transaction() as tx:
        request_id = await tx.export_requests.add(chat_id, RequestKind(kind), days, d.clock.now())
        tx.after_commit.append(wake)
    return request_id
