"""The numbers behind /stats: offers created, accepted, expired and delivered per area, and how fast."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from storage.db import Database
from storage.records import Area
from storage.reports import ReportedOffer, Reports

MAX_DAYS = 365
HOURS = 24
# Statuses an offer reaches only after an accept; they prove it even if accepted_at were cleared.
_PAST_ACCEPT = frozenset({"picked_up", "delivered", "returned"})
_NO_DATA = "—"


@dataclass(frozen=True, slots=True)
class AreaStats:
    """One area's offers over the period; the rates are None when nothing could be measured."""

    slug: str
    name: str
    tz: str
    created: int = 0
    accepted: int = 0
    expired: int = 0
    delivered: int = 0
    no_shows: int = 0
    picked_up: int = 0
    picked_up_on_time: int = 0
    # Seconds from creation to acceptance, one per accepted offer, oldest offer first.
    accept_seconds: tuple[float, ...] = ()
    # Offers created in each hour of the day, in the area's own local time.
    offers_per_hour: tuple[int, ...] = (0,) * HOURS

    @property
    def median_accept_seconds(self) -> float | None:
        """The median time from creation to acceptance, in seconds."""
        return float(statistics.median(self.accept_seconds)) if self.accept_seconds else None

    @property
    def on_time_pickup_rate(self) -> float | None:
        """The share of picked-up offers that were picked up by the end of their pickup window."""
        return self.picked_up_on_time / self.picked_up if self.picked_up else None


@dataclass(frozen=True, slots=True)
class Stats:
    """Statistics for the `days` up to `until`, one entry per area."""

    since: datetime
    until: datetime
    days: int
    areas: tuple[AreaStats, ...]

    @property
    def total(self) -> AreaStats:
        """All areas together (slug "all"); each area's offers count in its own local hour."""
        zones = {area.tz for area in self.areas}
        return AreaStats(
            slug="all",
            name="All areas",
            tz=zones.pop() if len(zones) == 1 else "",
            created=sum(area.created for area in self.areas),
            accepted=sum(area.accepted for area in self.areas),
            expired=sum(area.expired for area in self.areas),
            delivered=sum(area.delivered for area in self.areas),
            no_shows=sum(area.no_shows for area in self.areas),
            picked_up=sum(area.picked_up for area in self.areas),
            picked_up_on_time=sum(area.picked_up_on_time for area in self.areas),
            accept_seconds=tuple(seconds for area in self.areas for seconds in area.accept_seconds),
            offers_per_hour=tuple(
                sum(area.offers_per_hour[hour] for area in self.areas) for hour in range(HOURS)
            ),
        )


def was_accepted(offer: ReportedOffer) -> bool:
    """Whether a driver ever accepted the offer (a release clears accepted_at, not the past)."""
    return offer.accepted_at is not None or offer.status in _PAST_ACCEPT


def area_stats(area: Area, offers: list[ReportedOffer], no_shows: int) -> AreaStats:
    """One area's numbers from its offers created in the period and its no-shows in it."""
    zone = ZoneInfo(area.tz)
    per_hour = [0] * HOURS
    for offer in offers:
        per_hour[offer.created_at.astimezone(zone).hour] += 1
    picked = [offer for offer in offers if offer.picked_up_at is not None]
    return AreaStats(
        slug=area.slug,
        name=area.name,
        tz=area.tz,
        created=len(offers),
        accepted=sum(1 for offer in offers if was_accepted(offer)),
        expired=sum(1 for offer in offers if offer.status == "expired"),
        delivered=sum(1 for offer in offers if offer.status == "delivered"),
        no_shows=no_shows,
        picked_up=len(picked),
        picked_up_on_time=sum(
            1 for offer in picked if offer.picked_up_at is not None and offer.picked_up_at <= offer.pickup_end
        ),
        accept_seconds=tuple(
            (offer.accepted_at - offer.created_at).total_seconds()
            for offer in offers
            if offer.accepted_at is not None
        ),
        offers_per_hour=tuple(per_hour),
    )


def check_days(days: int) -> None:
    """Refuse a period outside 1..365 days."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be from 1 to {MAX_DAYS}, not {days}")


async def compute_stats(db: Database, *, now: datetime, days: int = 7, area_slug: str | None = None) -> Stats:
    """Statistics for the last `days` days up to `now`: every area, or only the one with this slug.

    An offer counts in the period it was created in; "expired" and "delivered" are its status now.
    No-shows count when they happened. Areas without offers are listed too, with zeros.
    """
    check_days(days)
    since = now - timedelta(days=days)
    async with db.read() as tx:
        if area_slug is None:
            areas = await tx.areas.all()
        else:
            area = await tx.areas.by_slug(area_slug)
            if area is None:
                raise LookupError(f"no area {area_slug}")
            areas = [area]
        area_id = None if area_slug is None else areas[0].id
        reports = Reports(tx.connection)
        offers = await reports.offers_created(since, now, area_id)
        no_shows = await reports.no_shows_per_area(since, now, area_id)
    by_area: dict[int, list[ReportedOffer]] = {area.id: [] for area in areas}
    for offer in offers:
        by_area.setdefault(offer.area_id, []).append(offer)
    return Stats(
        since=since,
        until=now,
        days=days,
        areas=tuple(area_stats(area, by_area[area.id], no_shows.get(area.id, 0)) for area in areas),
    )


def show_duration(seconds: float) -> str:
    """A duration as "45s", "1m 40s" or "2h 5m"."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60}s"
    return f"{whole // 3600}h {whole % 3600 // 60}m"


def _period(days: int) -> str:
    return "last day" if days == 1 else f"last {days} days"


def _block(area: AreaStats, heading: str, days: int) -> str:
    median = area.median_accept_seconds
    rate = area.on_time_pickup_rate
    return (
        f"{heading} · {_period(days)}\n"
        f"created {area.created} · accepted {area.accepted} · expired {area.expired}"
        f" · delivered {area.delivered}\n"
        f"median time to accept {_NO_DATA if median is None else show_duration(median)}"
        f" · on-time pickup {_NO_DATA if rate is None else f'{round(rate * 100)}%'}"
        f" · no-shows {area.no_shows}"
    )


def stats_text(stats: Stats) -> str:
    """The /stats message: one block per area, then all areas together when there are several."""
    if not stats.areas:
        return f"No areas yet · {_period(stats.days)}"
    blocks = [_block(area, f"{area.name} ({area.slug})", stats.days) for area in stats.areas]
    if len(stats.areas) > 1:
        blocks.append(_block(stats.total, "All areas", stats.days))
    return "\n\n".join(blocks)
