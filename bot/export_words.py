"""The words of the /export files' header rows and of the /stats chart, in the reader's language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton

from bot import texts
from bot.i18n import N_, Words
from dispatch.exports import COLUMNS, ExportKind
from dispatch.stats import HOURS, AreaStats, Stats

# The header row of each file: a name for every column code of dispatch.exports. In English the
# names are the codes themselves, as the files have always had them; the rows under them are the
# same in every language (codes, plain numbers, ISO times), so only this row is translated.
OFFER_HEADERS = {
    # Translators: the header row of the offers spreadsheet (CSV), one column name each (keep them short,
    # without commas). This column: the offer's number.
    "id": N_("id"),
    # Translators: offers CSV column: the store's code.
    "store": N_("store"),
    # Translators: offers CSV column: the area's short name.
    "area": N_("area"),
    # Translators: offers CSV column: the store's own reference for the order.
    "ref": N_("ref"),
    # Translators: offers CSV column: what became of the offer (a code such as "delivered").
    "status": N_("status"),
    # Translators: offers CSV column: how many packages.
    "packages": N_("packages"),
    # Translators: offers CSV column: the drop-off ZIP code.
    "zone": N_("zone"),
    # Translators: offers CSV column: the driver's pay in dollars.
    "pay": N_("pay"),
    # Translators: offers CSV column: the same pay in cents.
    "pay_cents": N_("pay_cents"),
    # Translators: offers CSV column: when the pickup window opens.
    "pickup_start": N_("pickup_start"),
    # Translators: offers CSV column: when the pickup window closes.
    "pickup_end": N_("pickup_end"),
    # Translators: offers CSV column: when the delivery is due.
    "deliver_by": N_("deliver_by"),
    # Translators: CSV column: when the offer was made (drivers CSV: when the driver joined).
    "created_at": N_("created_at"),
    # Translators: offers CSV column: when a driver took the offer.
    "accepted_at": N_("accepted_at"),
    # Translators: offers CSV column: when the driver picked the order up.
    "picked_up_at": N_("picked_up_at"),
    # Translators: offers CSV column: when the order was delivered or returned to the store.
    "finished_at": N_("finished_at"),
    # Translators: offers CSV column: the number of the driver who holds the offer.
    "holder_id": N_("holder_id"),
    # Translators: offers CSV column: how many wrong pickup codes were typed.
    "wrong_codes": N_("wrong_codes"),
    # Translators: offers CSV column: why the delivery failed.
    "failure_reason": N_("failure_reason"),
    # Translators: offers CSV column: Telegram's id of the proof-of-delivery photo.
    "proof_file_id": N_("proof_file_id"),
}

DRIVER_HEADERS = {
    # Translators: the header row of the drivers spreadsheet (CSV), one column name each. This column: the
    # driver's number.
    "id": N_("id"),
    # Translators: drivers CSV column: the driver's name.
    "name": N_("name"),
    # Translators: drivers CSV column: the driver's Telegram username.
    "username": N_("username"),
    # Translators: drivers CSV column: the driver's phone number.
    "phone": N_("phone"),
    # Translators: drivers CSV column: the driver's account standing (a code such as "approved").
    "status": N_("status"),
    # Translators: drivers CSV column: whether the driver is taking offers now ("yes" or "no").
    "online": N_("online"),
    # Translators: drivers CSV column: the areas the driver drives in.
    "areas": N_("areas"),
    # Translators: drivers CSV column: how many offers were sent to the driver.
    "offered": N_("offered"),
    # Translators: drivers CSV column: how many offers the driver accepted (also the chart's legend for
    # offers that ended accepted).
    "accepted": N_("accepted"),
    # Translators: drivers CSV column: how many offers the driver declined.
    "declined": N_("declined"),
    # Translators: drivers CSV column: how many offers the driver let run out.
    "timed_out": N_("timed_out"),
    # Translators: drivers CSV column: how many jobs the driver gave back.
    "released": N_("released"),
    # Translators: drivers CSV column: how many jobs the driver did not pick up in time.
    "no_shows": N_("no_shows"),
    # Translators: drivers CSV column: how many deliveries the driver made.
    "delivered": N_("delivered"),
    # Translators: drivers CSV column: the share of the driver's pickups made in time.
    "on_time_rate": N_("on_time_rate"),
    # Translators: drivers CSV column: when the driver joined.
    "created_at": N_("created_at"),
}

HEADERS = {ExportKind.OFFERS: OFFER_HEADERS, ExportKind.DRIVERS: DRIVER_HEADERS}

# The /stats chart.
# Translators: the title of the /stats chart: offers counted by the local hour they were offered.
CHART_TITLE = N_("Offers by local hour")
# Translators: the chart's legend: offers that ended accepted by a driver.
CHART_ACCEPTED = N_("accepted")
# Translators: the chart's legend: offers that ended with nobody accepting them in time.
CHART_EXPIRED = N_("expired")
# Translators: in an area's panel of the chart when it had no offers.
NO_OFFERS = N_("no offers")
# Translators: over the chart's last panel; {median} is a duration such as "1m 35s".
TIME_TO_ACCEPT = N_("Time to accept · median {median}")
# Translators: in the chart's last panel when no offer was accepted.
NO_ACCEPTS = N_("no accepted offers")


@dataclass(frozen=True, slots=True)
class ChartLabels:
    """Every word on a chart, already in the reader's language (chart_labels makes them): the
    drawing process is handed plain strings and never reads a catalog."""

    title: str  # over the whole chart
    accepted: str  # the legend's two series
    expired: str
    hours: tuple[str, ...]  # each local hour's name, 0 to 23 ("12 AM", "1 AM", …): the ticks pick some
    periods: tuple[str, ...]  # right of each area's panel, one per area: its days and zone
    no_offers: str  # in an hour panel without any
    time_to_accept: str  # over the last panel, with the median
    no_accepts: str  # in it, when nothing was accepted


# CLDR puts a narrow no-break space before AM/PM; a plain one reads the same (as in bot.i18n).
_NARROW_SPACE = "\u202f"


def csv_header(t: Words, kind: ExportKind) -> list[str]:
    """The header row of a kind of file in the reader's language, a name per column in order."""
    names = HEADERS[kind]
    return [t(names[column]) for column in COLUMNS[kind]]


def zone_label(area: AreaStats) -> str:
    """The zone's abbreviations over the area's days, in order: "PST", or "PST/PDT" across a change."""
    zone = ZoneInfo(area.tz)
    names: list[str] = []
    day = area.first_day
    while day <= area.last_day:
        name = datetime.combine(day, time(12), tzinfo=zone).tzname() or area.tz
        if name not in names:
            names.append(name)
        day += timedelta(days=1)
    return "/".join(names)


def panel_title(t: Words, area: AreaStats) -> str:
    """What an area's panel says on its right: its local days and zone, "Nov 19 – Nov 25 · PST"."""
    return f"{t.days(area.first_day, area.last_day)} · {zone_label(area)}"


def hour_label(t: Words, hour: int) -> str:
    """A local hour on the clock the reader's locale uses: "6 PM", "6 p.m."."""
    return format_skeleton("h", time(hour), locale=t.locale).replace(_NARROW_SPACE, " ")


def chart_labels(t: Words, stats: Stats) -> ChartLabels:
    """Every word on the chart of these statistics, in the reader's language."""
    median = stats.total.median_accept_seconds
    return ChartLabels(
        title=t(CHART_TITLE),
        accepted=t(CHART_ACCEPTED),
        expired=t(CHART_EXPIRED),
        hours=tuple(hour_label(t, hour) for hour in range(HOURS)),
        periods=tuple(panel_title(t, area) for area in stats.areas),
        no_offers=t(NO_OFFERS),
        time_to_accept=t(TIME_TO_ACCEPT, median=t(texts.NO_DATA) if median is None else t.duration(median)),
        no_accepts=t(NO_ACCEPTS),
    )
