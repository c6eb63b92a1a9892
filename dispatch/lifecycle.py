"""The offer lifecycle as plain rules: which action moves an offer from which status to which."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    ACCEPTED = "accepted"
    PICKED_UP = "picked_up"
    DELIVERED = "delivered"
    RETURNED = "returned"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class Action(StrEnum):
    OPEN = "open"
    ACCEPT = "accept"
    RELEASE = "release"
    PICKUP = "pickup"
    DELIVER = "deliver"
    FAIL = "fail"
    EXPIRE = "expire"
    REOPEN = "reopen"
    CANCEL = "cancel"


# docs/design.md, "Offer lifecycle": every legal step, and nothing else.
TRANSITIONS: dict[tuple[Status, Action], Status] = {
    (Status.DRAFT, Action.OPEN): Status.OPEN,
    (Status.OPEN, Action.ACCEPT): Status.ACCEPTED,
    (Status.ACCEPTED, Action.RELEASE): Status.OPEN,
    (Status.ACCEPTED, Action.PICKUP): Status.PICKED_UP,
    (Status.PICKED_UP, Action.DELIVER): Status.DELIVERED,
    (Status.PICKED_UP, Action.FAIL): Status.RETURNED,
    (Status.OPEN, Action.EXPIRE): Status.EXPIRED,
    # Given back (a release, a no-show) with too little of its window left for another driver.
    (Status.ACCEPTED, Action.EXPIRE): Status.EXPIRED,
    # Offered again as it was, or with a new pickup window.
    (Status.EXPIRED, Action.REOPEN): Status.OPEN,
    (Status.DRAFT, Action.CANCEL): Status.CANCELLED,
    (Status.OPEN, Action.CANCEL): Status.CANCELLED,
    (Status.ACCEPTED, Action.CANCEL): Status.CANCELLED,
    (Status.EXPIRED, Action.CANCEL): Status.CANCELLED,
}

FINAL = frozenset({Status.DELIVERED, Status.RETURNED, Status.CANCELLED})
HELD = frozenset({Status.ACCEPTED, Status.PICKED_UP})


class IllegalTransition(ValueError):
    """An action that the offer's current status does not allow."""


def next_status(current: Status | str, action: Action) -> Status:
    """Where `action` takes an offer in `current`, or IllegalTransition."""
    try:
        return TRANSITIONS[(Status(current), action)]
    except (KeyError, ValueError):
        raise IllegalTransition(f"cannot {action.value} an offer that is {current}") from None


def sources(action: Action) -> list[Status]:
    """Every status from which `action` is legal."""
    return [status for (status, step) in TRANSITIONS if step is action]
