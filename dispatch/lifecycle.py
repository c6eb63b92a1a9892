"""The offer lifecycle as plain rules: which action moves an offer from which status to which."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Unpack

from storage.records import OfferStatus

if TYPE_CHECKING:
    from storage.repos import OfferChanges, Transaction

# An offer's status is stored, so storage names it; the domain calls it Status.
Status = OfferStatus


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


@dataclass(frozen=True, slots=True)
class Route:
    """Where one named action may go by the table: the statuses it may start from (in the order
    Status names them), and the one status it leads to from each of them."""

    action: Action
    sources: tuple[Status, ...]
    to: Status


def route(action: Action, *, into: Status | None = None, only_from: Status | None = None) -> Route | None:
    """The table's steps for `action`, narrowed to those that lead `into` a status and start
    `only_from` one when given; None if the table has no such step. A step is one write to one
    status: where the action leads to more than one from the sources left, the caller names the
    one it means with `into` (IllegalTransition until it does)."""
    steps = {
        source: to
        for (source, step), to in TRANSITIONS.items()
        if step is action and (into is None or to == into) and (only_from is None or source == only_from)
    }
    targets = set(steps.values())
    if not targets:
        return None
    if len(targets) > 1:
        named = ", ".join(sorted(targets))
        raise IllegalTransition(f"{action.value} leads to {named}: name the one meant with into=")
    return Route(action, tuple(status for status in Status if status in steps), targets.pop())


async def step(
    tx: Transaction,
    offer_id: int,
    action: Action,
    *,
    into: Status | None = None,
    only_from: Status | None = None,
    held_by: int | None = None,
    **fields: Unpack[OfferChanges],
) -> Status | None:
    """Take the offer one step of the lifecycle, as the table says `action` may (see `route`):
    the one conditional write of docs/design.md rule 1, from whichever of the route's sources the
    offer is still in (and held by `held_by` when given), setting `fields` with the new status.
    Every status change of an existing offer goes through here. Returns the status it moved to,
    None if it moved nowhere (a race lost, already done, or a step the table does not allow)."""
    way = route(action, into=into, only_from=only_from)
    if way is None:
        return None
    moved = await tx.offers.transition(offer_id, way.sources, way.to, held_by=held_by, **fields)
    return way.to if moved else None
