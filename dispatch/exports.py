"""The /export files: offers and drivers as UTF-8 CSV for a spreadsheet, times local with their offset."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from dispatch.stats import check_days
from storage.db import Database
from storage.reports import Reports

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

Cell = str | int | None

# A spreadsheet runs a cell starting with one of these as a formula; names come from strangers.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER_LIKE = re.compile(r"[+-]?[\d .()-]*\d[\d .()-]*")


def show_instant(instant: datetime | None, tz: str) -> str | None:
    """An instant as ISO 8601 local time in the zone, to the second, with its offset.

    "2026-11-25T14:00:00-08:00": a spreadsheet reads the local time, and the offset keeps it exact.
    """
    return None if instant is None else instant.astimezone(ZoneInfo(tz)).isoformat(timespec="seconds")


def show_dollars(cents: int) -> str:
    """Integer cents as plain dollars for a spreadsheet: 1850 -> "18.50"."""
    sign = "-" if cents < 0 else ""
    dollars, rest = divmod(abs(cents), 100)
    return f"{sign}{dollars}.{rest:02d}"


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


def _csv(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> bytes:
    """The header and rows as UTF-8 CSV bytes."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows([_text(value) for value in row] for row in rows)
    return buffer.getvalue().encode("utf-8")


async def export_offers_csv(db: Database, *, now: datetime, days: int = 30) -> bytes:
    """Every offer created in the last `days` days up to `now`, oldest first, as CSV."""
    check_days(days)
    async with db.read() as tx:
        offers = await Reports(tx.connection).offers_created(now - timedelta(days=days), now)
    return _csv(
        OFFER_COLUMNS,
        (
            (
                offer.id,
                offer.store_code,
                offer.area_slug,
                offer.ref,
                offer.status,
                offer.packages,
                offer.zone,
                show_dollars(offer.pay_cents),
                offer.pay_cents,
                show_instant(offer.pickup_start, offer.area_tz),
                show_instant(offer.pickup_end, offer.area_tz),
                show_instant(offer.deliver_by, offer.area_tz),
                show_instant(offer.created_at, offer.area_tz),
                show_instant(offer.accepted_at, offer.area_tz),
                show_instant(offer.picked_up_at, offer.area_tz),
                show_instant(offer.finished_at, offer.area_tz),
                offer.holder_id,
                offer.wrong_codes,
                offer.failure_reason,
                offer.proof_file_id,
            )
            for offer in offers
        ),
    )


async def export_drivers_csv(db: Database, *, now: datetime, days: int = 30) -> bytes:
    """Drivers who joined or were sent an offer in the last `days` days up to `now`, as CSV.

    The counters are lifetime totals; on_time_rate is the share of the driver's pickups made in
    the period that happened by the end of the pickup window (blank without pickups).
    """
    check_days(days)
    since = now - timedelta(days=days)
    async with db.read() as tx:
        reports = Reports(tx.connection)
        drivers = await reports.drivers(active_since=since)
        pickups = await reports.pickups_per_driver(since, now)
        zones = {area.slug: area.tz for area in await tx.areas.all()}
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
    return _csv(DRIVER_COLUMNS, rows)
