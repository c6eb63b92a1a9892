"""Deadlines on timers: APScheduler holds one job per pending deadline; the database stays the truth."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from dispatch.clock import Clock
from dispatch.deadlines import Deadline, Kind, Timing, deadlines_of
from storage.records import Offer

if TYPE_CHECKING:
    from dispatch.dispatcher import Dispatch
    from dispatch.offers import OfferDesk
    from storage.db import Database

log = logging.getLogger(__name__)


class Timers:
    """One in-process timer per pending deadline, rebuilt from the database on every start.

    A timer only calls a transition that checks the offer's state and the clock first, so a timer
    that fires twice, early, or for a deadline that has since moved does no harm. With
    `follow_wall_clock=False` (tests on a clock they move) nothing fires by itself: `fire_due()`
    runs whatever the clock has reached.
    """

    def __init__(
        self,
        clock: Clock,
        timing: Timing,
        *,
        follow_wall_clock: bool = True,
        on_fired: Callable[[float], None] | None = None,
    ) -> None:
        self.clock = clock
        self.timing = timing
        self.follow_wall_clock = follow_wall_clock
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        # Told how many seconds each timer ran after its moment, by the clock.
        self.on_fired = on_fired
        self._offers: OfferDesk | None = None
        self._db: Database | None = None
        self._firing: set[asyncio.Task[Any]] = set()

    def bind(self, dispatch: Dispatch) -> None:
        """Wire in what the timers run: the Dispatch is built after them (it plans through them),
        so they take its offer desk and database here rather than in the constructor."""
        self._offers = dispatch.offers
        self._db = dispatch.db

    def plan(self, offer: Offer) -> None:
        """Set a timer for each deadline the offer has in its current state, and drop the rest."""
        current = deadlines_of(offer, self.timing)
        for deadline in current:
            self._schedule(deadline)
        for kind in set(Kind) - {deadline.kind for deadline in current}:
            if self.scheduler.get_job(f"{kind.value}:{offer.id}") is not None:
                self.scheduler.remove_job(f"{kind.value}:{offer.id}")

    def _schedule(self, deadline: Deadline) -> None:
        self.scheduler.add_job(
            self._fire,
            "date",
            run_date=deadline.when,
            args=[deadline],
            id=f"{deadline.kind.value}:{deadline.offer_id}",
            replace_existing=True,
            misfire_grace_time=None,
        )

    async def _fire(self, deadline: Deadline) -> None:
        """A timer went off (in a task of its own): run the deadline, known to stop() meanwhile."""
        task = asyncio.current_task()
        assert task is not None
        self._firing.add(task)
        try:
            await self._run(deadline)
        finally:
            self._firing.discard(task)

    async def _run(self, deadline: Deadline) -> None:
        assert self._offers is not None
        if self.on_fired is not None:
            self.on_fired((self.clock.now() - deadline.when).total_seconds())
        try:
            await self._offers.on_deadline(deadline.kind, deadline.offer_id)
        except Exception:
            log.exception("deadline %s of offer %s failed", deadline.kind.value, deadline.offer_id)

    @property
    def pending(self) -> list[Deadline]:
        """Every deadline with a timer, soonest first."""
        return sorted(job.args[0] for job in self.scheduler.get_jobs())

    async def fire_due(self) -> int:
        """Run every deadline the clock has reached, soonest first (and what those bring due)."""
        fired = 0
        while due := [deadline for deadline in self.pending if deadline.when <= self.clock.now()]:
            for deadline in due:
                job = self.scheduler.get_job(f"{deadline.kind.value}:{deadline.offer_id}")
                if job is None or job.args[0] != deadline:
                    continue  # an earlier timer in this round moved or dropped it
                job.remove()
                await self._run(deadline)
                fired += 1
        return fired

    async def start(self) -> int:
        """Schedule every pending deadline from the database again; overdue ones run at once, in order.

        Returns how many deadlines are pending after the overdue ones ran.
        """
        assert self._db is not None
        self.scheduler.start(paused=not self.follow_wall_clock)
        async with self._db.transaction() as tx:
            offers = await tx.offers.with_deadlines()
        deadlines = sorted(deadline for offer in offers for deadline in deadlines_of(offer, self.timing))
        now = self.clock.now()
        for deadline in deadlines:
            if deadline.when > now:
                self._schedule(deadline)
        for deadline in deadlines:
            if deadline.when <= now:
                await self._run(deadline)
        return len(self.scheduler.get_jobs())

    async def stop(self, grace: float = 5.0) -> None:
        """No timer goes off any more; a deadline running now finishes first (its transition
        must not meet a database that is closing)."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self._firing:
            await asyncio.wait(set(self._firing), timeout=grace)
