"""Store rules that need no database: which day a step-by-step order's window is for."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from dispatch.problems import Problem, issue
from dispatch.stores import field_problem, pickup_day


def test_a_window_picked_step_by_step_near_midnight_is_for_tomorrow() -> None:
    vegas = "America/Los_Angeles"
    before_midnight = datetime(2026, 11, 26, 7, 50, tzinfo=UTC)  # 11:50 PM PST on Nov 25
    assert pickup_day(before_midnight, vegas, time(0, 0)) == date(2026, 11, 26)
    assert pickup_day(before_midnight, vegas, time(23, 55)) == date(2026, 11, 25)
    assert pickup_day(before_midnight, vegas, time(23, 0)) == date(2026, 11, 25)  # just missed: still today
    afternoon = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)  # 2:00 PM PST
    assert pickup_day(afternoon, vegas, time(14, 30)) == date(2026, 11, 25)


def test_a_step_by_step_answer_is_judged_by_the_order_line_rules() -> None:
    assert field_problem("pay", "18.50") is None
    assert field_problem("pay", "lots") == issue(Problem.PAY_FORM, "pay")
    assert field_problem("zone", "9" * 65) == issue(Problem.TOO_LONG, "zone", longest=64)
    assert field_problem("window", "14:00-14:30") is None
    assert field_problem("window", "2pm") is not None
