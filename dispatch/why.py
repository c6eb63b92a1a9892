"""Why an offer went to whom: every copy's press, window and fairness values, as the award saw them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from dispatch.actors import Actor
from dispatch.awards import AWARD_DETAIL, Key, Order, Out, Standing, deciding_key, milliseconds, order_of
from dispatch.lifecycle import Status
from dispatch.views import OfferView, offer_view
from storage.records import Area, Driver, EventKind, Notice, Outcome
from storage.repos import AreaChanges, Transaction

if TYPE_CHECKING:
    from dispatch.clock import Clock
    from dispatch.dispatcher import Outbound, Rules
    from storage.db import Database


@dataclass(frozen=True, slots=True)
class CopySeen:
    """One copy of the offer and what the award saw of its driver."""

    notice: Notice
    driver: Driver | None
    rank: int | None = None
    out: Out | None = None
    standing: Standing | None = None

    @property
    def pressed(self) -> bool:
        return self.notice.pressed_at is not None


@dataclass(frozen=True, slots=True)
class Explanation:
    """Every copy of an offer, the award (if any) and the key that decided it."""

    view: OfferView
    order: Order
    copies: list[CopySeen]
    window: timedelta  # the area's award window now (zero: first Accept wins)
    award_at: datetime | None  # when its last award window closed (None: none was opened)
    awarded: bool  # by an award window (else by the first Accept, or not at all)
    human_min_ms: int = 600  # a press sooner than this after delivery is a fast tap

    @property
    def winner(self) -> CopySeen | None:
        """The copy of the driver who holds (or held, to the end) the offer; None if nobody."""
        won = [copy for copy in self.copies if copy.notice.won_at is not None]
        holder = self.view.offer.holder_id
        if holder is not None:
            return next((copy for copy in won if copy.notice.driver_id == holder), None)
        return None

    @property
    def deciding(self) -> Key | None:
        """The key on which the winner came before the runner-up."""
        ranked_ones = sorted((copy for copy in self.copies if copy.rank), key=lambda copy: copy.rank or 0)
        if len(ranked_ones) < 2 or ranked_ones[0].standing is None or ranked_ones[1].standing is None:
            return None
        return deciding_key(self.order, ranked_ones[0].standing, ranked_ones[1].standing)

    def in_window(self, copy: CopySeen) -> bool | None:
        """Whether the copy's press fell in the award window (None: no press, or no window)."""
        if copy.notice.pressed_at is None or self.award_at is None:
            return None
        return copy.notice.pressed_at <= self.award_at


class NotYou(StrEnum):
    """Why an offer did not go to the driver asking."""

    NOT_SENT = "not_sent"
    YOURS = "yours"
    NOT_DECIDED = "not_decided"  # still open (or its window still collecting)
    NOBODY = "nobody"  # expired or cancelled without going to anyone
    NO_PRESS = "no_press"
    DECLINED = "declined"
    FIRST_PRESS = "first_press"  # no award window: the first Accept took it
    OUT = "out"  # pressed in the window, but could not take it then (see Out)
    KEY = "key"  # ranked behind the winner on a key of the fairness order


@dataclass(frozen=True, slots=True)
class WhyNot:
    """The answer to Why not me?, naming nobody: the reason, and the deciding key's two values."""

    reason: NotYou
    key: Key | None = None
    them: float | datetime | None = None
    you: float | datetime | None = None
    out: Out | None = None
    tz: str = "UTC"


def _standing(driver_id: int, seen: dict[str, Any]) -> Standing:
    last = seen.get(Key.LAST_AWARD)
    return Standing(
        driver_id,
        int(seen.get(Key.WON_TODAY) or 0),
        datetime.fromisoformat(last) if last else None,
        seen.get(Key.ON_TIME),
        float(seen.get(Key.DRAW) or 0.0),
    )


def copy_seen(notice: Notice, driver: Driver | None) -> CopySeen:
    """A copy with what its stored award detail says."""
    if not notice.award_detail:
        return CopySeen(notice, driver)
    seen = json.loads(notice.award_detail)
    if seen.get("out"):
        return CopySeen(notice, driver, out=Out(seen["out"]))
    return CopySeen(notice, driver, rank=int(seen["rank"]), standing=_standing(notice.driver_id, seen))


async def explain(tx: Transaction, offer_id: int, rules: Rules) -> Explanation | None:
    """Everything /why shows of an offer (its area's award window and the fastest a person taps
    by these rules); None if there is no such offer."""
    view = await offer_view(tx, offer_id)
    if view is None:
        return None
    copies = [
        copy_seen(notice, driver) for notice, driver in await tx.notices.for_offer_with_drivers(offer_id)
    ]
    ends = [
        AWARD_DETAIL.match(event.detail)
        for event in await tx.events.for_offer(offer_id)
        if event.kind == EventKind.ACCEPT  # an award; a window that found nobody is not one
    ]
    awards = [end for end in ends if end is not None]
    order = order_of(awards[-1]["order"] if awards else view.area.fairness_order)
    award_at = view.offer.award_at or (datetime.fromisoformat(awards[-1]["closed"]) if awards else None)
    window = rules.award_window_of(view.area.award_window_seconds)
    return Explanation(view, order, copies, window, award_at, bool(awards), milliseconds(rules.human_min))


def why_not(explanation: Explanation, driver_id: int) -> WhyNot:
    """Why the offer did not go to this driver, in terms that name nobody."""
    tz = explanation.view.tz
    mine = next((copy for copy in explanation.copies if copy.notice.driver_id == driver_id), None)
    if mine is None:
        return WhyNot(NotYou.NOT_SENT, tz=tz)
    winner = explanation.winner
    if winner is not None and winner.notice.driver_id == driver_id:
        return WhyNot(NotYou.YOURS, tz=tz)
    if winner is None:
        status = explanation.view.offer.status
        return WhyNot(NotYou.NOT_DECIDED if status == Status.OPEN else NotYou.NOBODY, tz=tz)
    if mine.notice.outcome == Outcome.DECLINED:
        return WhyNot(NotYou.DECLINED, tz=tz)
    if not mine.pressed:
        return WhyNot(NotYou.NO_PRESS, tz=tz)
    if mine.out is not None:
        return WhyNot(NotYou.OUT, out=mine.out, tz=tz)
    if winner.standing is None or mine.standing is None:
        return WhyNot(NotYou.FIRST_PRESS, tz=tz)
    key = deciding_key(explanation.order, winner.standing, mine.standing)
    return WhyNot(NotYou.KEY, key, shown(key, winner.standing), shown(key, mine.standing), tz=tz)


def shown(key: Key, standing: Standing) -> float | datetime | None:
    """A key's value as a person reads it (a count, a time, a share, a draw)."""
    match key:
        case Key.WON_TODAY:
            return standing.won_today
        case Key.LAST_AWARD:
            return standing.last_award_at
        case Key.ON_TIME:
            return 1.0 if standing.on_time is None else standing.on_time
        case Key.DRAW:
            return standing.draw


@dataclass(frozen=True, slots=True)
class AreaFairness:
    """How an area awards its offers: the window and the order."""

    area: Area
    window: timedelta
    order: Order

    @classmethod
    def of(cls, area: Area, rules: Rules) -> AreaFairness:
        """The area's own window (else the setting's) and its order (else the default)."""
        return cls(area, rules.award_window_of(area.award_window_seconds), order_of(area.fairness_order))


class FairnessDesk:
    """The fairness order in use: shown to anyone, explained per offer, chosen per area by admins."""

    def __init__(
        self, db: Database, clock: Clock, rules: Rules, outbound: Outbound, admin_ids: frozenset[int]
    ) -> None:
        self.db = db
        self.clock = clock
        self.rules = rules
        self.outbound = outbound
        self.admin_ids = admin_ids

    async def explain(self, offer_id: int) -> Explanation | None:
        """Every copy of the offer and what the award saw (for an admin's /why)."""
        async with self.db.read() as tx:
            return await explain(tx, offer_id, self.rules)

    async def why_not(self, offer_id: int, tg_user_id: int) -> WhyNot:
        """Why the offer did not go to the driver asking (Why not me?, a driver's /why)."""
        async with self.db.read() as tx:
            driver = await tx.drivers.by_telegram_id(tg_user_id)
            explanation = await explain(tx, offer_id, self.rules) if driver else None
            if driver is None or explanation is None:
                return WhyNot(NotYou.NOT_SENT)
            return why_not(explanation, driver.id)

    async def areas(self, tg_user_id: int) -> list[AreaFairness]:
        """The areas to show /fairness for: an admin's all, a driver's own (all if they have none)."""
        rules = self.rules
        async with self.db.read() as tx:
            driver = await tx.drivers.by_telegram_id(tg_user_id)
            areas = await tx.drivers.areas_of(driver.id) if driver else []
            if tg_user_id in self.admin_ids or not areas:
                areas = await tx.areas.all(active_only=tg_user_id not in self.admin_ids)
        return [AreaFairness.of(area, rules) for area in areas]

    async def set_area(
        self, slug: str, admin_id: int, *, window_seconds: int | None = None, order: Order | None = None
    ) -> AreaFairness | None:
        """An admin sets an area's award window and/or fairness order; recorded in the trail.
        None if there is no such area."""
        async with self.outbound.transaction() as tx:
            area = await tx.areas.by_slug(slug)
            if area is None:
                return None
            changes: AreaChanges = {}
            if window_seconds is not None:
                changes["award_window_seconds"] = window_seconds
            if order is not None:
                changes["fairness_order"] = order.value
            await tx.areas.update(area.id, **changes)
            said = " ".join(f"{name}={value}" for name, value in changes.items())
            await tx.events.add(
                self.clock.now(), Actor.admin(admin_id).encode(), EventKind.FAIRNESS, f"{slug} {said}"
            )
            area = await tx.areas.by_id(area.id)
            assert area is not None
        return AreaFairness.of(area, self.rules)
