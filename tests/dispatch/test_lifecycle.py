"""Every lifecycle transition, and every illegal one."""

from __future__ import annotations

import pytest

from dispatch.lifecycle import FINAL, TRANSITIONS, Action, IllegalTransition, Status, next_status, sources

LEGAL = [
    (Status.DRAFT, Action.OPEN, Status.OPEN),
    (Status.OPEN, Action.ACCEPT, Status.ACCEPTED),
    (Status.ACCEPTED, Action.RELEASE, Status.OPEN),
    (Status.ACCEPTED, Action.PICKUP, Status.PICKED_UP),
    (Status.PICKED_UP, Action.DELIVER, Status.DELIVERED),
    (Status.PICKED_UP, Action.FAIL, Status.RETURNED),
    (Status.OPEN, Action.EXPIRE, Status.EXPIRED),
    (Status.ACCEPTED, Action.EXPIRE, Status.EXPIRED),
    (Status.EXPIRED, Action.REOPEN, Status.OPEN),
    (Status.DRAFT, Action.CANCEL, Status.CANCELLED),
    (Status.OPEN, Action.CANCEL, Status.CANCELLED),
    (Status.ACCEPTED, Action.CANCEL, Status.CANCELLED),
    (Status.EXPIRED, Action.CANCEL, Status.CANCELLED),
]


@pytest.mark.parametrize(("current", "action", "expected"), LEGAL)
def test_each_legal_transition(current: Status, action: Action, expected: Status) -> None:
    assert next_status(current, action) is expected


def test_the_table_holds_exactly_the_design() -> None:
    assert {(current, action): to for current, action, to in LEGAL} == TRANSITIONS


ILLEGAL = [
    (current, action)
    for current in Status
    for action in Action
    if (current, action) not in {(c, a) for c, a, _ in LEGAL}
]


@pytest.mark.parametrize(("current", "action"), ILLEGAL)
def test_each_illegal_transition_is_refused(current: Status, action: Action) -> None:
    with pytest.raises(IllegalTransition):
        next_status(current, action)


def test_final_statuses_allow_nothing() -> None:
    for status in FINAL:
        for action in Action:
            with pytest.raises(IllegalTransition):
                next_status(status, action)


def test_a_picked_up_offer_can_no_longer_be_cancelled_or_released() -> None:
    assert Status.PICKED_UP not in sources(Action.CANCEL)
    assert sources(Action.RELEASE) == [Status.ACCEPTED]


def test_an_unknown_status_is_refused() -> None:
    with pytest.raises(IllegalTransition):
        next_status("lost", Action.ACCEPT)


def test_an_order_given_back_with_no_time_left_expires_and_may_then_be_cancelled() -> None:
    assert sources(Action.EXPIRE) == [Status.OPEN, Status.ACCEPTED]
    assert Status.EXPIRED in sources(Action.CANCEL)
