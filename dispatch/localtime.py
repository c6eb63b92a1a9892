"""Times shown to people and read from them, in the time zone of an area; stored times are UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# Names spelled out here rather than with %a/%b, which follow the process locale.
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

LONGEST_WINDOW = timedelta(hours=12)


class LocalTimeError(ValueError):
    """A local time a person gave cannot be used; the message says what to do instead."""


def _zone(tz: str) -> ZoneInfo:
    """The IANA zone by name (ZoneInfo caches them)."""
    return ZoneInfo(tz)


def _city(tz: str) -> str:
    """A name people recognise for the zone: "America/Los_Angeles" -> "Los Angeles"."""
    return tz.rsplit("/", 1)[-1].replace("_", " ")


def _clock(at: time) -> str:
    """A wall time as "2:30 PM", without the zone."""
    hour = at.hour % 12 or 12
    return f"{hour}:{at.minute:02d} {'AM' if at.hour < 12 else 'PM'}"


def _month_day(day: date) -> str:
    """A date as "Mar 8"."""
    return f"{_MONTHS[day.month - 1]} {day.day}"


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
        where = f"on {_month_day(day)} in {_city(tz)} time"
        # A skipped wall time does not survive the round trip through UTC; a repeated one does.
        if earlier.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
            raise LocalTimeError(
                f"{_clock(at)} does not exist {where} (clocks spring forward); pick another time"
            )
        raise LocalTimeError(f"{_clock(at)} happens twice {where} (clocks fall back); pick another time")
    return earlier.astimezone(UTC)


def window_to_utc(day: date, start: time, end: time, tz: str) -> tuple[datetime, datetime]:
    """A pickup window as UTC instants; an end at or before the start falls on the next local day."""
    end_day = day if end > start else day + timedelta(days=1)
    start_utc, end_utc = to_utc(day, start, tz), to_utc(end_day, end, tz)
    if end_utc - start_utc > LONGEST_WINDOW:
        raise LocalTimeError(
            f"a pickup window of {_clock(start)} to {_clock(end)} is longer than 12 hours; "
            "pick a shorter window"
        )
    return start_utc, end_utc


def local_now_date(now_utc: datetime, tz: str) -> date:
    """Today's date in the zone at the given instant."""
    return _aware(now_utc).astimezone(_zone(tz)).date()


def start_of_day(now_utc: datetime, tz: str) -> datetime:
    """The UTC instant of local midnight that began today in the zone."""
    return to_utc(local_now_date(now_utc, tz), time(0, 0), tz)


def show_time(instant: datetime, tz: str) -> str:
    """An instant as local time with the zone's abbreviation: "2:15 PM PST"."""
    local = _aware(instant).astimezone(_zone(tz))
    return f"{_clock(local.time())} {local.tzname()}"


def show_day(instant: datetime, tz: str) -> str:
    """The local day of an instant: "Thu Nov 26"."""
    local = _aware(instant).astimezone(_zone(tz))
    return f"{_WEEKDAYS[local.weekday()]} {_month_day(local.date())}"


def show_window(start: datetime, end: datetime, tz: str, *, now: datetime) -> str:
    """A window as "2:00–2:30 PM PST", prefixed with its day ("Thu Nov 26, ") unless that is today
    in the zone at `now`: every caller says when "now" is, so tomorrow's window never reads as today's."""
    zone = _zone(tz)
    local_start, local_end = _aware(start).astimezone(zone), _aware(end).astimezone(zone)
    start_clock, end_clock = _clock(local_start.time()), _clock(local_end.time())
    if local_start.tzname() != local_end.tzname():
        # Only a window across a DST change gets here; each end keeps its own abbreviation.
        text = f"{start_clock} {local_start.tzname()}–{end_clock} {local_end.tzname()}"
    elif local_start.date() == local_end.date() and start_clock[-2:] == end_clock[-2:]:
        text = f"{start_clock[:-3]}–{end_clock} {local_end.tzname()}"
    else:
        text = f"{start_clock}–{end_clock} {local_end.tzname()}"
    if local_start.date() != local_now_date(now, tz):
        text = f"{show_day(start, tz)}, {text}"
    return text
