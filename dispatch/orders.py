"""Reading an order line typed by an admin or store staff (`/newoffer store=… pay=…`), and pickup codes."""

from __future__ import annotations

import re
import secrets
import shlex
from collections.abc import Callable
from datetime import date, time, timedelta
from decimal import Decimal
from typing import cast

from pydantic import BaseModel, ConfigDict, Field

from dispatch.problems import Issue, Problem, issue

MAX_PACKAGES = 20
MAX_PAY_CENTS = 100_000
LONGEST_WINDOW = timedelta(hours=12)

_STORE = re.compile(r"[A-Z0-9]+(-[A-Z0-9]+)*")
_PACKAGES = re.compile(r"[0-9]{1,3}")
# Digits spelled [0-9] because \d also matches other scripts' digits, which int() would accept.
_PAY = re.compile(r"\$?([0-9]+(\.[0-9]{1,2})?)")
_CLOCK = re.compile(r"([0-9]{1,2}):([0-9]{2})")
_WINDOW = re.compile(r"([0-9:]+)\s*[-–—]\s*([0-9:]+)")
_REF = re.compile(r"[A-Za-z0-9_-]{1,64}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Phones turn typed quotes into curly ones, which shlex would keep as ordinary letters.
_CURLY_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"'})


class OrderLineError(ValueError):
    """An order line cannot be used: every problem found, and a correct line to copy."""

    def __init__(self, problems: list[Issue], example: str) -> None:
        super().__init__("; ".join(problem.code for problem in problems))
        self.problems = problems
        self.example = example


class OrderLine(BaseModel):
    """One order as typed: what to pick up where and when, and what it pays; times are local."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    store: str | None = Field(default=None, pattern=_STORE.pattern, max_length=40)
    packages: int = Field(ge=1, le=MAX_PACKAGES)
    pay_cents: int = Field(gt=0, le=MAX_PAY_CENTS)
    window_start: time
    window_end: time
    zone: str = Field(min_length=1, max_length=64)
    ref: str = Field(pattern=_REF.pattern)
    address: str = Field(min_length=1, max_length=300)
    day: date | None = None
    deliver_by: time | None = None


class _Problem(Exception):
    """A field's value is unusable: why, and the values the words for it name."""

    def __init__(self, code: Problem, **values: int) -> None:
        super().__init__(code.value)
        self.code = code
        self.values = values


def example_line(command: str = "/newoffer", *, store_required: bool = True) -> str:
    """A correct, complete order line for the command."""
    store = "store=FS-ZARA " if store_required else ""
    return (
        f"{command} {store}packages=2 pay=18.50 window=14:00-14:30 zone=89109 ref=A123 "
        'address="3200 Las Vegas Blvd S, Las Vegas, NV 89109"'
    )


def _store(value: str) -> str:
    """A store code, upper-cased."""
    code = value.upper()
    if not _STORE.fullmatch(code) or len(code) > 40:
        raise _Problem(Problem.STORE_CODE)
    return code


def _packages(value: str) -> int:
    """How many packages: a whole number in range."""
    if not _PACKAGES.fullmatch(value) or not 1 <= int(value) <= MAX_PACKAGES:
        raise _Problem(Problem.PACKAGES_RANGE, most=MAX_PACKAGES)
    return int(value)


def _pay(value: str) -> int:
    """An amount in dollars as integer cents; Decimal so that 18.50 is exactly 1850."""
    match = _PAY.fullmatch(value)
    if not match:
        raise _Problem(Problem.PAY_FORM)
    cents = int(Decimal(match.group(1)) * 100)
    if cents <= 0:
        raise _Problem(Problem.PAY_NOT_POSITIVE)
    if cents > MAX_PAY_CENTS:
        raise _Problem(Problem.PAY_TOO_HIGH, amount=MAX_PAY_CENTS)
    return cents


def _clock(value: str) -> time | None:
    """A 24-hour wall time like 14:30 or 9:05, or None if it is not one."""
    match = _CLOCK.fullmatch(value)
    if not match:
        return None
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def _window(value: str) -> tuple[time, time]:
    """A pickup window of two wall times; the end may fall after midnight."""
    match = _WINDOW.fullmatch(value)
    start, end = (_clock(match.group(1)), _clock(match.group(2))) if match else (None, None)
    if start is None or end is None:
        raise _Problem(Problem.WINDOW_FORM)
    minutes = (end.hour * 60 + end.minute - start.hour * 60 - start.minute) % (24 * 60)
    if minutes == 0:
        raise _Problem(Problem.WINDOW_EMPTY)
    if timedelta(minutes=minutes) > LONGEST_WINDOW:
        raise _Problem(Problem.WINDOW_TOO_LONG, hours=int(LONGEST_WINDOW.total_seconds()) // 3600)
    return start, end


def _text(longest: int) -> Callable[[str], str]:
    """A check for free text of 1 to `longest` characters, with runs of spaces and newlines made one."""

    def check(value: str) -> str:
        text = " ".join(value.split())
        if not text:
            raise _Problem(Problem.MISSING)
        if len(text) > longest:
            raise _Problem(Problem.TOO_LONG, longest=longest)
        return text

    return check


def _ref(value: str) -> str:
    """The store's own order reference."""
    if not _REF.fullmatch(value):
        raise _Problem(Problem.REF_FORM)
    return value


def _day(value: str) -> date:
    """A calendar date written YYYY-MM-DD."""
    try:
        if not _DATE.fullmatch(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise _Problem(Problem.DATE_FORM) from None


def _deliver_by(value: str) -> time:
    """The local time the delivery is due."""
    at = _clock(value)
    if at is None:
        raise _Problem(Problem.DELIVER_BY_FORM)
    return at


# Field name as typed -> its check; the order here is the order problems are listed in.
_FIELDS: dict[str, Callable[[str], object]] = {
    "store": _store,
    "packages": _packages,
    "pay": _pay,
    "window": _window,
    "zone": _text(64),
    "ref": _ref,
    "address": _text(300),
    "date": _day,
    "deliver_by": _deliver_by,
}
_REQUIRED = ("store", "packages", "pay", "window", "zone", "ref", "address")


def _tokens(text: str) -> tuple[list[str], list[Issue]]:
    """Split the line as a shell would; an unclosed quote is closed at the end so the rest is checked."""
    text = text.translate(_CURLY_QUOTES)
    try:
        return shlex.split(text), []
    except ValueError:
        pass
    for closing in ('"', "'"):
        try:
            return shlex.split(text + closing), [issue(Problem.QUOTE_NOT_CLOSED)]
        except ValueError:
            continue
    return [], [issue(Problem.QUOTE_NOT_CLOSED)]


def parse_order_line(text: str, *, command: str = "/newoffer", store_required: bool = True) -> OrderLine:
    """Read the key=value fields after the command, or raise OrderLineError listing every problem."""
    tokens, problems = _tokens(text)
    given: dict[str, str] = {}
    repeated: list[str] = []
    strays: list[str] = []
    for token in tokens:
        key, equals, value = token.partition("=")
        # Phones capitalise the first word, and deliver-by is an easy slip for deliver_by.
        key = key.strip().lower().replace("-", "_")
        if not equals or not key:
            strays.append(token)
        elif key not in _FIELDS:
            problems.append(issue(Problem.UNKNOWN_FIELD, key))
        elif key in given:
            if key not in repeated:
                problems.append(issue(Problem.GIVEN_TWICE, key))
                repeated.append(key)
        else:
            given[key] = value.strip()
    if strays:
        # Loose words almost always come from a value with spaces that was not quoted.
        problems.append(issue(Problem.NOT_NAME_VALUE, words=" ".join(strays)))

    values: dict[str, object] = {}
    for name, check in _FIELDS.items():
        if name in repeated:
            continue
        if name not in given:
            if name in _REQUIRED and (name != "store" or store_required):
                problems.append(issue(Problem.MISSING, name))
            continue
        try:
            values[name] = check(given[name])
        except _Problem as problem:
            problems.append(issue(problem.code, name, **problem.values))

    if problems:
        # The same slip made twice (say, two unknown fields of one name) is listed once.
        unique = list(dict.fromkeys(problems))
        raise OrderLineError(unique, example_line(command, store_required=store_required))
    window_start, window_end = cast(tuple[time, time], values["window"])
    return OrderLine.model_validate(
        {
            "store": values.get("store"),
            "packages": values["packages"],
            "pay_cents": values["pay"],
            "window_start": window_start,
            "window_end": window_end,
            "zone": values["zone"],
            "ref": values["ref"],
            "address": values["address"],
            "day": values.get("date"),
            "deliver_by": values.get("deliver_by"),
        }
    )


def pickup_code() -> str:
    """Four random digits the store gives the driver at pickup; from `secrets`, so not guessable."""
    return f"{secrets.randbelow(10_000):04d}"
