"""The numbers behind /stats, counted from each area's offer events over its own local days."""

from __future__ import annotations

import statistics
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dispatch.awards import gini, milliseconds
from dispatch.deadlines import Kind
from dispatch.lifecycle import Action
from storage.db import Database
from storage.records import Area
from storage.reports import DriverPresses, EventCounts, Reports, RoundEnds

MAX_DAYS = 365
HOURS = 24
# The moments an offer goes (back) on the board; each begins a round that ends accepted or expired
# (or cancelled). An offer can have many rounds, so a final status alone undercounts.
ROUND_STARTS = (Action.OPEN.value, Action.REOPEN.value, Action.RELEASE.value, Kind.NO_SHOW.value)
COUNTED = (
    *ROUND_STARTS,
    Action.ACCEPT.value,
    Action.EXPIRE.value,
    Action.PICKUP.value,
    Action.DELIVER.value,
    Action.FAIL.value,
    Action.CANCEL.value,
)
# Upper edges, in seconds, of the time-to-accept buckets: under 30 s, to 1 min, 2, 5, 10, and more.
# Fixed edges keep a handful of times apart, where bins fitted to the data would make one block.
ACCEPT_TIME_EDGES = (30, 60, 120, 300, 600)
# How long before the period a round may have begun and still end in it: far more than any
# acceptance window, so the zone's offsets are known wherever such a round began.
LONGEST_ROUND = timedelta(days=7)
# A press sooner than this after its copy's delivery is a fast tap (Rules.human_min's default).
HUMAN_MIN = timedelta(seconds=0.6)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True, slots=True)
class AreaStats:
    """What happened to one area's offers on its local days `first_day` to `last_day` (so far).

    Every count is of events: an offer that expired, was re-offered and then delivered counts
    once as expired, once as reopened, once as accepted and once as delivered. The rates are None
    when nothing could be measured. Awards and presses count by when the copy won, or was first
    pressed.
    """

    slug: str
    name: str
    tz: str
    first_day: date
    last_day: date
    created: int = 0
    reopened: int = 0
    accepted: int = 0
    expired: int = 0
    released: int = 0
    no_shows: int = 0
    cancelled: int = 0
    picked_up: int = 0
    picked_up_on_time: int = 0
    delivered: int = 0
    returned: int = 0
    # Seconds from the start of each round to its accept, one per accept, shortest first.
    accept_seconds: tuple[float, ...] = ()
    # Rounds that ended accepted, and expired, by the area's local hour (0–23) each round began.
    accepted_per_hour: tuple[int, ...] = (0,) * HOURS
    expired_per_hour: tuple[int, ...] = (0,) * HOURS
    # (driver id, offers won) of every driver who won or pressed Accept here in the period (0 for
    # those who won nothing), the most won first, then by id.
    awards_won: tuple[tuple[int, int], ...] = ()
    # Presses (Accept or Decline) timed from their copy's delivery, and those under HUMAN_MIN.
    timed_presses: int = 0
    fast_taps: int = 0

    @property
    def median_accept_seconds(self) -> float | None:
        """The median time from going on the board to being accepted, in seconds."""
        return float(statistics.median(self.accept_seconds)) if self.accept_seconds else None

    @property
    def accept_rate(self) -> float | None:
        """Of the rounds that ended in an accept or an expiry, the share accepted."""
        return _share(self.accepted, self.accepted + self.expired)

    @property
    def on_time_pickup_rate(self) -> float | None:
        """Of the pickups, the share made by the end of the pickup window."""
        return _share(self.picked_up_on_time, self.picked_up)

    @property
    def delivery_rate(self) -> float | None:
        """Of the deliveries that ended, the share delivered rather than returned to the store."""
        return _share(self.delivered, self.delivered + self.returned)

    @property
    def awards(self) -> int:
        """Offers won (awarded, or taken by the first Accept) in the period."""
        return sum(won for _, won in self.awards_won)

    @property
    def winners(self) -> int:
        """Drivers who won at least one offer in the period."""
        return sum(1 for _, won in self.awards_won if won)

    def top_shares(self, count: int = 3) -> list[tuple[int, float]]:
        """(driver id, share of the awards) of the `count` drivers who won the most."""
        total = self.awards
        return [(driver, won / total) for driver, won in self.awards_won[:count] if won]

    @property
    def awards_gini(self) -> float | None:
        """How unevenly the awards went among the drivers who won or pressed Accept (0: evenly,
        towards 1: all to one); None without awards."""
        return gini([won for _, won in self.awards_won]) if self.awards else None

    @property
    def fast_tap_share(self) -> float | None:
        """Of the timed presses, the share of fast taps."""
        return _share(self.fast_taps, self.timed_presses)


@dataclass(frozen=True, slots=True)
class Stats:
    """Statistics for the `days` local days up to `until` (today being the last), one entry per area."""

    until: datetime
    days: int
    areas: tuple[AreaStats, ...]

    @property
    def total(self) -> AreaStats:
        """All areas together (slug "all", no name: the bot names it in the reader's words); each
        area's events count in its own local days and hours."""
        areas = self.areas
        zones = {area.tz for area in areas}
        today = self.until.astimezone(UTC).date()
        return AreaStats(
            slug="all",
            name="",
            tz=zones.pop() if len(zones) == 1 else "",
            first_day=min((area.first_day for area in areas), default=today - timedelta(days=self.days - 1)),
            last_day=max((area.last_day for area in areas), default=today),
            created=sum(area.created for area in areas),
            reopened=sum(area.reopened for area in areas),
            accepted=sum(area.accepted for area in areas),
            expired=sum(area.expired for area in areas),
            released=sum(area.released for area in areas),
            no_shows=sum(area.no_shows for area in areas),
            cancelled=sum(area.cancelled for area in areas),
            picked_up=sum(area.picked_up for area in areas),
            picked_up_on_time=sum(area.picked_up_on_time for area in areas),
            delivered=sum(area.delivered for area in areas),
            returned=sum(area.returned for area in areas),
            accept_seconds=tuple(seconds for area in areas for seconds in area.accept_seconds),
            accepted_per_hour=_sum_hours(area.accepted_per_hour for area in areas),
            expired_per_hour=_sum_hours(area.expired_per_hour for area in areas),
            awards_won=_most_first(_sum_per_driver(area.awards_won for area in areas)),
            timed_presses=sum(area.timed_presses for area in areas),
            fast_taps=sum(area.fast_taps for area in areas),
        )


def _sum_per_driver(per_area: Iterable[Iterable[tuple[int, int]]]) -> dict[int, int]:
    totals: dict[int, int] = {}
    for awards_won in per_area:
        for driver, won in awards_won:
            totals[driver] = totals.get(driver, 0) + won
    return totals


def _most_first(won_per_driver: dict[int, int]) -> tuple[tuple[int, int], ...]:
    return tuple(sorted(won_per_driver.items(), key=lambda pair: (-pair[1], pair[0])))


def _sum_hours(per_hour: Iterable[tuple[int, ...]]) -> tuple[int, ...]:
    totals = [0] * HOURS
    for counts in per_hour:
        for hour, count in enumerate(counts):
            totals[hour] += count
    return tuple(totals)


def accept_time_counts(seconds: Iterable[float]) -> tuple[int, ...]:
    """How many times to accept fall in each bucket of ACCEPT_TIME_EDGES (an edge opens the next one)."""
    counts = [0] * (len(ACCEPT_TIME_EDGES) + 1)
    for wait in seconds:
        counts[bisect_right(ACCEPT_TIME_EDGES, wait)] += 1
    return tuple(counts)


def area_stats(
    area: Area,
    first_day: date,
    last_day: date,
    counts: EventCounts,
    rounds: RoundEnds,
    presses: Iterable[DriverPresses] = (),
) -> AreaStats:
    """One area's numbers on its local days `first_day` to `last_day`, from its events counted
    per kind, its rounds counted per local hour and time to accept, and its drivers' presses
    and awards counted per driver."""
    kinds = counts.per_kind
    presses = list(presses)
    return AreaStats(
        slug=area.slug,
        name=area.name,
        tz=area.tz,
        first_day=first_day,
        last_day=last_day,
        created=kinds.get(Action.OPEN, 0),
        reopened=kinds.get(Action.REOPEN, 0),
        accepted=kinds.get(Action.ACCEPT, 0),
        expired=kinds.get(Action.EXPIRE, 0),
        released=kinds.get(Action.RELEASE, 0),
        no_shows=kinds.get(Kind.NO_SHOW, 0),
        cancelled=kinds.get(Action.CANCEL, 0),
        picked_up=kinds.get(Action.PICKUP, 0),
        picked_up_on_time=counts.by_pickup_end.get(Action.PICKUP, 0),
        delivered=kinds.get(Action.DELIVER, 0),
        returned=kinds.get(Action.FAIL, 0),
        # Each distinct wait is one float object, repeated as many times as it happened.
        accept_seconds=tuple(
            wait for seconds, times in rounds.accept_waits for wait in (float(seconds),) * times
        ),
        accepted_per_hour=tuple(rounds.per_hour.get((Action.ACCEPT, hour), 0) for hour in range(HOURS)),
        expired_per_hour=tuple(rounds.per_hour.get((Action.EXPIRE, hour), 0) for hour in range(HOURS)),
        awards_won=_most_first({p.driver_id: p.won for p in presses if p.won or p.accepts}),
        timed_presses=sum(p.timed for p in presses),
        fast_taps=sum(p.fast for p in presses),
    )


def utc_offsets(zone: ZoneInfo, since: datetime, until: datetime) -> list[tuple[datetime, int]]:
    """The zone's offset from UTC in seconds from `since` on, and from each instant it changes
    (a daylight-saving switch) up to `until`."""

    def offset(instant: datetime) -> int:
        shift = instant.astimezone(zone).utcoffset()
        return 0 if shift is None else int(shift.total_seconds())

    offsets = [(since, offset(since))]
    day, step = since, timedelta(days=1)
    while day < until:
        after = min(day + step, until)
        if offset(after) != offsets[-1][1]:
            # The switch is within this day: narrow it down to the second.
            before, changed = day, after
            while changed - before > timedelta(seconds=1):
                middle = before + (changed - before) / 2
                before, changed = (before, middle) if offset(middle) != offsets[-1][1] else (middle, changed)
            offsets.append((changed.replace(microsecond=0), offset(changed)))
        day = after
    return offsets


def check_days(days: int) -> None:
    """Refuse a period outside 1..365 days."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be from 1 to {MAX_DAYS}, not {days}")


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant the local day begins (where DST skips midnight, the first instant after it)."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


async def compute_stats(
    db: Database,
    *,
    now: datetime,
    days: int = 7,
    area_slug: str | None = None,
    human_min: timedelta = HUMAN_MIN,
) -> Stats:
    """Statistics for every area (or only the one with this slug) over its last `days` local days.

    Today, in the area's own zone, is the last of them, up to `now`: one day is today so far, and
    a week ends today. Events count on the day they happened. Areas without events are listed
    too, with zeros. A press sooner than `human_min` after its copy's delivery is a fast tap
    (pass the dispatch's Rules.human_min).
    """
    check_days(days)
    human_min_ms = milliseconds(human_min)
    async with db.read() as tx:
        if area_slug is None:
            areas = await tx.areas.all()
        else:
            area = await tx.areas.by_slug(area_slug)
            if area is None:
                raise LookupError(f"no area {area_slug}")
            areas = [area]
        reports = Reports(tx.connection)
        periods = {}
        for area in areas:
            zone = ZoneInfo(area.tz)
            last_day = now.astimezone(zone).date()
            periods[area.id] = (last_day - timedelta(days=days - 1), last_day)
        starts = {
            area_id: _midnight(first, ZoneInfo(next(a.tz for a in areas if a.id == area_id)))
            for area_id, (first, _) in periods.items()
        }
        # One pass over the period's copies for every area: who won and who pressed, per driver.
        presses = await reports.presses_per_driver(starts, now, human_min_ms)
        found = []
        for area in areas:
            # A few rows per area whatever the history: counts per kind, per hour, per wait; and
            # one per driver who won or pressed there in the period.
            zone = ZoneInfo(area.tz)
            first_day, last_day = periods[area.id]
            since = starts[area.id]
            counts = await reports.event_counts(area.id, since, now, COUNTED)
            rounds = await reports.round_ends(
                area.id,
                since,
                now,
                ended_by=(Action.ACCEPT, Action.EXPIRE),
                accepted=Action.ACCEPT,
                round_starts=ROUND_STARTS,
                utc_offsets=utc_offsets(zone, since - LONGEST_ROUND, now),
            )
            found.append(area_stats(area, first_day, last_day, counts, rounds, presses[area.id]))
    return Stats(until=now, days=days, areas=tuple(found))
