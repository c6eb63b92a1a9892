"""What is wrong with what a person asked for, as codes with their values: the bot puts them in words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from enum import StrEnum

# A value a problem names: a wall time and a date are shown in the reader's locale, an amount
# (under the name "amount") is integer cents, anything else is shown as it is.
Value = str | int | date | time


class Problem(StrEnum):
    """Why an order line, a local time or a request cannot be used."""

    # An order line's fields (the issue's field says which)
    STORE_CODE = "store_code"  # not a store code like FS-ZARA
    PACKAGES_RANGE = "packages_range"  # most
    PAY_FORM = "pay_form"
    PAY_NOT_POSITIVE = "pay_not_positive"
    PAY_TOO_HIGH = "pay_too_high"  # amount
    WINDOW_FORM = "window_form"
    WINDOW_EMPTY = "window_empty"  # it ends where it starts
    WINDOW_TOO_LONG = "window_too_long"  # hours
    MISSING = "missing"
    TOO_LONG = "too_long"  # longest (characters)
    REF_FORM = "ref_form"
    DATE_FORM = "date_form"
    DELIVER_BY_FORM = "deliver_by_form"
    UNKNOWN_FIELD = "unknown_field"
    GIVEN_TWICE = "given_twice"
    NOT_NAME_VALUE = "not_name_value"  # words: the loose words
    QUOTE_NOT_CLOSED = "quote_not_closed"
    # A local wall time around a DST change, and a window's length in real time
    TIME_SKIPPED = "time_skipped"  # at, day, zone (IANA name)
    TIME_REPEATED = "time_repeated"  # at, day, zone
    WINDOW_OVER_HOURS = "window_over_hours"  # start, end, hours
    # Creating an order
    NO_SUCH_STORE = "no_such_store"  # store
    DATE_PAST = "date_past"
    DATE_TOO_FAR = "date_too_far"  # days, last (YYYY-MM-DD: the form the date= field takes)
    WINDOW_ENDED = "window_ended"
    WINDOW_TOO_CLOSE = "window_too_close"
    REF_TAKEN = "ref_taken"  # store, ref
    DELIVER_BY_EARLY = "deliver_by_early"
    # Store staff
    NOT_STAFF_HERE = "not_staff_here"
    NOT_STAFF_OF = "not_staff_of"  # store
    SEVERAL_STORES = "several_stores"  # stores: their codes, comma-separated
    NOTHING_TO_CONFIRM = "nothing_to_confirm"
    PICK_YOUR_STORE = "pick_your_store"
    # Admins
    NO_SUCH_AREA = "no_such_area"  # area: its slug


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem: its code, the order field it is about (if one), and the values its words name.
    Hashable, so the same slip made twice is listed once."""

    code: Problem
    field: str | None = None
    values: tuple[tuple[str, Value], ...] = ()

    @property
    def params(self) -> dict[str, Value]:
        return dict(self.values)


def N_(message: str) -> str:
    """Marks words the domain hands the bot to show as they are (a default reason, who did it):
    they are catalog messages, which the bot translates where it shows them."""
    return message


def issue(code: Problem, field: str | None = None, **values: Value) -> Issue:
    """An Issue with its values by name: issue(Problem.TOO_LONG, "zone", longest=64)."""
    return Issue(code, field, tuple(sorted(values.items())))
