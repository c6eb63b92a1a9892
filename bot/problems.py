"""The domain's problems (dispatch.problems) in the reader's words, and times, dates and amounts."""

from __future__ import annotations

from datetime import date, time

from babel.dates import get_timezone, get_timezone_location

from bot.i18n import N_, Words
from dispatch.problems import Issue, Problem, Value

# Each problem's words; {field} is the order field it is about, as typed (store, pay, zone …),
# and the rest are its values (see dispatch.problems.Problem).
PROBLEMS: dict[Problem, str] = {
    Problem.STORE_CODE: N_("store must be a store code like FS-ZARA"),
    Problem.PACKAGES_RANGE: N_("packages must be a whole number from 1 to {most}"),
    Problem.PAY_FORM: N_("pay must be an amount like 18.50"),
    Problem.PAY_NOT_POSITIVE: N_("pay must be more than {zero}"),
    Problem.PAY_TOO_HIGH: N_("pay must be at most {amount}"),
    Problem.WINDOW_FORM: N_("window must look like 14:00-14:30"),
    Problem.WINDOW_EMPTY: N_("window must end after it starts"),
    Problem.WINDOW_TOO_LONG: N_("window must be at most {hours} hours long"),
    # Translators: {field} is the name of a field of an order line as typed (store, pay, zone …): keep it.
    Problem.MISSING: N_("{field} is missing"),
    Problem.TOO_LONG: N_("{field} must be at most {longest} characters"),
    Problem.REF_FORM: N_("ref must be 1 to 64 letters, digits, - or _"),
    Problem.DATE_FORM: N_("date must be a real date like 2026-11-26"),
    Problem.DELIVER_BY_FORM: N_("deliver_by must be a time like 15:30"),
    Problem.UNKNOWN_FIELD: N_("unknown field {field}"),
    Problem.GIVEN_TWICE: N_("{field} is given twice; keep one"),
    # Translators: {words} are the words of the line that are not name=value, as typed.
    Problem.NOT_NAME_VALUE: N_(
        '"{words}" is not name=value; put a value with spaces in quotes, like address="3200 Las Vegas Blvd S"'
    ),
    Problem.QUOTE_NOT_CLOSED: N_("a quote is not closed"),
    # Translators: {at} is a wall time ("2:30 AM"), {day} a date ("Mar 8"), {zone} a city ("Los Angeles").
    Problem.TIME_SKIPPED: N_(
        "{at} does not exist on {day} in {zone} time (clocks spring forward); pick another time"
    ),
    Problem.TIME_REPEATED: N_(
        "{at} happens twice on {day} in {zone} time (clocks fall back); pick another time"
    ),
    Problem.WINDOW_OVER_HOURS: N_(
        "a pickup window of {start} to {end} is longer than {hours} hours; pick a shorter window"
    ),
    Problem.NO_SUCH_STORE: N_("there is no store {store}"),
    Problem.DATE_PAST: N_("that date is in the past"),
    # Translators: {last} is a date written as it is typed in date=, YYYY-MM-DD.
    Problem.DATE_TOO_FAR: N_("pick a date within {days} days, by {last}"),
    Problem.WINDOW_ENDED: N_("that pickup window has already ended"),
    Problem.WINDOW_TOO_CLOSE: N_("that pickup window is too close for a driver to make it"),
    Problem.REF_TAKEN: N_("{store} already has an order {ref}; use another ref"),
    Problem.DELIVER_BY_EARLY: N_("deliver_by must be after the pickup window starts"),
    Problem.NOT_STAFF_HERE: N_("only store staff can create orders here"),
    Problem.NOT_STAFF_OF: N_("you are not staff of {store}"),
    Problem.SEVERAL_STORES: N_("you are staff of several stores ({stores}); add store=CODE"),
    Problem.NOTHING_TO_CONFIRM: N_("there is no order waiting to be confirmed"),
    Problem.PICK_YOUR_STORE: N_("pick one of your stores"),
    Problem.NO_SUCH_AREA: N_("there is no area {area}"),
}


def _shown(t: Words, name: str, value: Value) -> str:
    """One value as the reader reads it: a wall time, a date, a zone's city, an amount of cents."""
    if isinstance(value, time):
        return t.clock(value)
    if isinstance(value, date):
        return t.month_day(value)
    if name == "zone" and isinstance(value, str):
        return str(get_timezone_location(get_timezone(value), locale=t.locale, return_city=True))
    if name == "amount" and isinstance(value, int):
        return t.pay(value)
    return str(value)


def problem_text(t: Words, issue: Issue) -> str:
    """One problem as a sentence (without its full stop: problems are listed, or end a line)."""
    values = {name: _shown(t, name, value) for name, value in issue.values}
    return t(PROBLEMS[issue.code], field=issue.field or "", zero=t.pay(0), **values)


def problem_list(t: Words, issues: tuple[Issue, ...] | list[Issue]) -> str:
    """Problems as a bulleted list, one a line."""
    return "\n".join(f"• {problem_text(t, issue)}" for issue in issues)
