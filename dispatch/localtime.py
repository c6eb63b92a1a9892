"""Local times read from people, in the time zone of an area; stored times are UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dispatch.problems import Issue, Problem, issue

LONGEST_WINDOW = timedelta(hours=12)


class LocalTimeError(ValueError):
    """A local time a person gave cannot be used; the issue says why (the bot words it)."""

    def __init__(self, problem: Issue) -> None:
        super().__init__(problem.code.value)
        self.issue = problem


def _zone(tz: str) -> ZoneInfo:
    """The IANA zone by name (ZoneInfo caches them)."""
    return ZoneInfo(tz)


def _aware(instant: datetime) -> datetime:
    """The instant itself, refused if naive: a naive time would silently be read as server-local."""
    if instant.utcoffset() is None:
        raise ValueError("expected a timezone-aware datetime")
    return instant


def to_utc(day: date, at: time, tz: str) -> datetime:
    """The UTC instant of a local wall time on a local date, refusing times DST skips or repeats."""
    wall = datetime.combine(day, at.replace(tzinfo=None))
    zone = _zone(tz)
    earlier, later = wall.replace(tzinfo=zone, fold=0), wall.replace(tzinfo=zone, fold=1)
    if earlier.utcoffset() != later.utcoffset():
        wall_time = at.replace(tzinfo=None)
        # A skipped wall time does not survive the round trip through UTC; a repeated one does.
        if earlier.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
            raise LocalTimeError(issue(Problem.TIME_SKIPPED, at=wall_time, day=day, zone=tz))
        raise LocalTimeError(issue(Problem.TIME_REPEATED, at=wall_time, day=day, zone=tz))
    return earlier.astimezone(UTC)


def window_to_utc(day: date, start: time, end: time, tz: str) -> tuple[datetime, datetime]:
    """A pickup window as UTC instants; an end at or before the start falls on the next local day."""
    end_day = day if end > start else day + timedelta(days=1)
    start_utc, end_utc = to_utc(day, start, tz), to_utc(end_day, end, tz)
    if end_utc - start_utc > LONGEST_WINDOW:
        hours = int(LONGEST_WINDOW.total_seconds()) // 3600
        raise LocalTimeError(issue(Problem.WINDOW_OVER_HOURS, start=start, end=end, hours=hours))
    return start_utc, end_utc


def local_now_date(now_utc: datetime, tz: str) -> date:
    """Today's date in the zone at the given instant."""
    return _aware(now_utc).astimezone(_zone(tz)).date()


def start_of_day(now_utc: datetime, tz: str) -> datetime:
    """The UTC instant of local midnight that began today in the zone."""
    return to_utc(local_now_date(now_utc, tz), time(0, 0), tz)
