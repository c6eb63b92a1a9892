"""Order lines typed by admins and store staff: the good line is read exactly, every slip is named at once."""

from __future__ import annotations

from datetime import date, time

import pytest
from pydantic import ValidationError

from dispatch.orders import (
    OrderLine,
    OrderLineError,
    example_line,
    parse_order_line,
    pickup_code,
)
from dispatch.problems import Issue, Problem, issue

EXAMPLE = (
    "store=FS-ZARA packages=2 pay=18.50 window=14:00-14:30 zone=89109 ref=A123 "
    'address="3200 Las Vegas Blvd S, Las Vegas, NV 89109"'
)
WITHOUT_STORE = EXAMPLE.removeprefix("store=FS-ZARA ")


def problems_error(text: str, *, command: str = "/newoffer", store_required: bool = True) -> OrderLineError:
    """The whole error the parser raises for this line."""
    with pytest.raises(OrderLineError) as caught:
        parse_order_line(text, command=command, store_required=store_required)
    return caught.value


def problems_of(text: str) -> list[Issue]:
    """The problems the parser lists for this line."""
    return problems_error(text).problems


def with_field(field: str, value: str) -> str:
    """The example line with one field's value replaced."""
    parts = EXAMPLE.split(" address=")
    head = " ".join(f"{field}={value}" if part.startswith(f"{field}=") else part for part in parts[0].split())
    address = f'address="{value}"' if field == "address" else "address=" + parts[1]
    return f"{head} {address}"


def test_the_example_line_is_read_exactly() -> None:
    assert parse_order_line(EXAMPLE) == OrderLine(
        store="FS-ZARA",
        packages=2,
        pay_cents=1850,
        window_start=time(14, 0),
        window_end=time(14, 30),
        zone="89109",
        ref="A123",
        address="3200 Las Vegas Blvd S, Las Vegas, NV 89109",
        day=None,
        deliver_by=None,
    )


def test_the_example_in_an_error_is_itself_a_good_line() -> None:
    example = problems_error("").example
    assert example == f"/newoffer {EXAMPLE}"
    assert parse_order_line(example.removeprefix("/newoffer ")).ref == "A123"


def test_date_and_deliver_by_are_read_when_given() -> None:
    line = parse_order_line(f"{EXAMPLE} date=2026-11-26 deliver_by=15:30")
    assert line.day == date(2026, 11, 26)
    assert line.deliver_by == time(15, 30)


def test_keys_are_read_whatever_their_case_and_store_is_upper_cased() -> None:
    line = parse_order_line(EXAMPLE.replace("store=FS-ZARA", "Store=fs-zara").replace("pay=", "PAY="))
    assert line.store == "FS-ZARA"
    assert line.pay_cents == 1850


def test_single_digit_hours_and_a_window_past_midnight_are_accepted() -> None:
    line = parse_order_line(with_field("window", "9:05-9:35"))
    assert (line.window_start, line.window_end) == (time(9, 5), time(9, 35))
    late = parse_order_line(with_field("window", "23:30-00:15"))
    assert (late.window_start, late.window_end) == (time(23, 30), time(0, 15))


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("store", "FS_ZARA!", issue(Problem.STORE_CODE, "store")),
        ("packages", "0", issue(Problem.PACKAGES_RANGE, "packages", most=20)),
        ("packages", "21", issue(Problem.PACKAGES_RANGE, "packages", most=20)),
        ("packages", "2.5", issue(Problem.PACKAGES_RANGE, "packages", most=20)),
        ("packages", "two", issue(Problem.PACKAGES_RANGE, "packages", most=20)),
        ("pay", "abc", issue(Problem.PAY_FORM, "pay")),
        ("window", "2pm-2:30pm", issue(Problem.WINDOW_FORM, "window")),
        ("window", "24:00-24:30", issue(Problem.WINDOW_FORM, "window")),
        ("window", "14:60-15:00", issue(Problem.WINDOW_FORM, "window")),
        ("window", "14:00", issue(Problem.WINDOW_FORM, "window")),
        ("window", "14:00-14:00", issue(Problem.WINDOW_EMPTY, "window")),
        ("window", "08:00-20:30", issue(Problem.WINDOW_TOO_LONG, "window", hours=12)),
        ("zone", "9" * 65, issue(Problem.TOO_LONG, "zone", longest=64)),
        ("ref", "A/123", issue(Problem.REF_FORM, "ref")),
        ("ref", "A" * 65, issue(Problem.REF_FORM, "ref")),
        ("address", "x" * 301, issue(Problem.TOO_LONG, "address", longest=300)),
        ("address", "  ", issue(Problem.MISSING, "address")),
    ],
)
def test_each_malformed_field_is_named(field: str, value: str, problem: Issue) -> None:
    assert problems_of(with_field(field, value)) == [problem]


def test_a_bad_date_or_deliver_by_is_named() -> None:
    assert problems_of(f"{EXAMPLE} date=2026-02-30") == [issue(Problem.DATE_FORM, "date")]
    assert problems_of(f"{EXAMPLE} date=26/11/2026") == [issue(Problem.DATE_FORM, "date")]
    assert problems_of(f"{EXAMPLE} deliver_by=3pm") == [issue(Problem.DELIVER_BY_FORM, "deliver_by")]


def test_every_problem_is_reported_at_once_with_the_example() -> None:
    error = problems_error(
        'store=FS-ZARA packages=99 pay=abc window=2pm zone=89109 ref=A/1 address="" colour=red'
    )
    assert error.problems == [
        issue(Problem.UNKNOWN_FIELD, "colour"),
        issue(Problem.PACKAGES_RANGE, "packages", most=20),
        issue(Problem.PAY_FORM, "pay"),
        issue(Problem.WINDOW_FORM, "window"),
        issue(Problem.REF_FORM, "ref"),
        issue(Problem.MISSING, "address"),
    ]
    assert str(error) == "; ".join(problem.code for problem in error.problems)
    assert error.example == f"/newoffer {EXAMPLE}"


def test_an_empty_line_lists_every_missing_field() -> None:
    missing = ["store", "packages", "pay", "window", "zone", "ref", "address"]
    assert problems_of("") == [issue(Problem.MISSING, name) for name in missing]


def test_a_missing_field_is_named() -> None:
    assert problems_of(EXAMPLE.replace("zone=89109 ", "")) == [issue(Problem.MISSING, "zone")]


def test_quotes_keep_spaces_in_the_address_single_or_double() -> None:
    line = parse_order_line(WITHOUT_STORE.replace('"', "'"), store_required=False)
    assert line.address == "3200 Las Vegas Blvd S, Las Vegas, NV 89109"
    apostrophe = parse_order_line(with_field("address", "12 O'Brien St, Tysons, VA"))
    assert apostrophe.address == "12 O'Brien St, Tysons, VA"


def test_curly_quotes_from_a_phone_keyboard_work_like_straight_ones() -> None:
    line = parse_order_line(EXAMPLE.replace('address="', "address=“").replace('89109"', "89109”"))
    assert line.address == "3200 Las Vegas Blvd S, Las Vegas, NV 89109"


def test_an_unclosed_quote_is_named_and_the_rest_still_checked() -> None:
    text = EXAMPLE.removesuffix('"').replace("pay=18.50", "pay=abc")
    assert problems_of(text) == [issue(Problem.QUOTE_NOT_CLOSED), issue(Problem.PAY_FORM, "pay")]


def test_an_unquoted_address_is_named_with_how_to_quote_it() -> None:
    text = EXAMPLE.replace('"', "")
    assert problems_of(text) == [issue(Problem.NOT_NAME_VALUE, words="Las Vegas Blvd S, Las Vegas, NV 89109")]


def test_an_unknown_field_is_named() -> None:
    assert problems_of(f"{EXAMPLE} colour=red") == [issue(Problem.UNKNOWN_FIELD, "colour")]


def test_a_repeated_field_is_named_once() -> None:
    assert problems_of(f"{EXAMPLE} pay=20 PAY=21") == [issue(Problem.GIVEN_TWICE, "pay")]


def test_store_staff_leave_the_store_out() -> None:
    line = parse_order_line(WITHOUT_STORE, command="/order", store_required=False)
    assert line.store is None
    assert line.ref == "A123"
    error = problems_error("pay=abc", command="/order", store_required=False)
    assert issue(Problem.MISSING, "store") not in error.problems
    assert error.example == f"/order {WITHOUT_STORE}"
    assert error.example == example_line("/order", store_required=False)


def test_store_staff_may_still_name_a_store_for_the_caller_to_check() -> None:
    assert parse_order_line(EXAMPLE, store_required=False).store == "FS-ZARA"


@pytest.mark.parametrize(
    ("pay", "cents"),
    [("18.50", 1850), ("18.5", 1850), ("18", 1800), ("$18.50", 1850), ("0.01", 1), ("1000", 100_000)],
)
def test_pay_is_read_as_exact_cents(pay: str, cents: int) -> None:
    assert parse_order_line(with_field("pay", pay)).pay_cents == cents


@pytest.mark.parametrize(
    ("pay", "problem"),
    [
        ("18.505", issue(Problem.PAY_FORM, "pay")),
        ("-3", issue(Problem.PAY_FORM, "pay")),
        ("abc", issue(Problem.PAY_FORM, "pay")),
        ("1e3", issue(Problem.PAY_FORM, "pay")),
        ("NaN", issue(Problem.PAY_FORM, "pay")),
        ("", issue(Problem.PAY_FORM, "pay")),
        ("0", issue(Problem.PAY_NOT_POSITIVE, "pay")),
        ("0.00", issue(Problem.PAY_NOT_POSITIVE, "pay")),
        ("1000.01", issue(Problem.PAY_TOO_HIGH, "pay", amount=100_000)),  # cents
    ],
)
def test_pay_that_is_not_a_plain_amount_in_range_is_refused(pay: str, problem: Issue) -> None:
    assert problems_of(with_field("pay", pay)) == [problem]


def test_an_order_line_is_frozen() -> None:
    line = parse_order_line(EXAMPLE)
    with pytest.raises(ValidationError):
        line.pay_cents = 1  # type: ignore[misc]


def test_pickup_codes_are_always_four_digits() -> None:
    codes = [pickup_code() for _ in range(1000)]
    assert all(len(code) == 4 and code.isascii() and code.isdigit() for code in codes)
    assert len(set(codes)) > 500


def test_the_same_slip_made_twice_is_listed_once() -> None:
    assert problems_of(f"{EXAMPLE} colour=red colour=blue") == [issue(Problem.UNKNOWN_FIELD, "colour")]
