"""Deadlines on timers: APScheduler holds one job per pending deadline; the database stays the truth."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta
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

REFRESH_RETRY_SECONDS = 1.0
# A deadline whose transition failed is tried again this much later (times its try), this often.
RETRY_AFTER = timedelta(seconds=1)
DEADLINE_ATTEMPTS = 4


class Timers:
    """One in-process timer per pending deadline, kept by the leading instance only: rebuilt from
    the database whenever it starts leading, and told by every commit, on any instance, which
    offers' deadlines moved (`heard`), which it then reads from the database.

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
        self._running: set[Deadline] = set()  # deadlines whose timer went off and that run now
        self._planned_while_running: set[Deadline] = set()
        # Offers another instance changed, to be planned from the database (see heard).
        self._to_refresh: set[int] = set()
        self._refresh_all = False
        self._refreshing: asyncio.Task[None] | None = None

    def bind(self, dispatch: Dispatch) -> None:
        """Wire in what the timers run: the Dispatch is built after them (it plans through them),
        so they take its offer desk and database here rather than in the constructor."""
        self._offers = dispatch.offers
        self._db = dispatch.db

    @property
    def keeping(self) -> bool:
        """Whether this instance keeps the time (it leads): another instance's timers are not set."""
        return bool(self.scheduler.running)

    def plan(self, offer: Offer) -> None:
        """Set a timer for each deadline the offer has in its current state, and drop the rest.

        Only while keeping the time: on another instance the leader is told by the commit
        (Transaction.wakes) and plans the offer from the database (`refresh`)."""
        if not self.keeping:
            return
        current = deadlines_of(offer, self.timing)
        for deadline in current:
            self._schedule(deadline)
        self._planned_while_running -= {
            deadline
            for deadline in self._planned_while_running
            if deadline.offer_id == offer.id and deadline not in current
        }
        for kind in set(Kind) - {deadline.kind for deadline in current}:
            if self.scheduler.get_job(f"{kind.value}:{offer.id}") is not None:
                self.scheduler.remove_job(f"{kind.value}:{offer.id}")

    def _schedule(self, deadline: Deadline, *, at: datetime | None = None, attempt: int = 1) -> None:
        if deadline in self._running and at is None:
            # Planned again while its timer's run is under way (by what a commit read before the
            # run's own): set once the run ends, so a run that left it due is not lost.
            self._planned_while_running.add(deadline)
            return
        self.scheduler.add_job(
            self._fire,
            "date",
            run_date=at or deadline.when,
            args=[deadline],
            kwargs={"attempt": attempt},
            id=f"{deadline.kind.value}:{deadline.offer_id}",
            replace_existing=True,
            misfire_grace_time=None,
        )

    async def _fire(self, deadline: Deadline, attempt: int = 1) -> None:
        """A timer went off (in a task of its own): run the deadline, known to stop() meanwhile.

        A run that failed (the database away for a moment, or, on PostgreSQL, a deadlock with
        an update of the same offer) is tried again a little later, unless the offer was planned
        anew meanwhile: a deadline is not lost until the next start."""
        task = asyncio.current_task()
        assert task is not None
        self._firing.add(task)
        self._running.add(deadline)
        job_id = f"{deadline.kind.value}:{deadline.offer_id}"
        try:
            ran = await self._run(deadline, last_try=attempt >= DEADLINE_ATTEMPTS)
            self._running.discard(deadline)
            if (
                not ran
                and attempt < DEADLINE_ATTEMPTS
                and self.keeping
                and self.scheduler.get_job(job_id) is None
            ):
                later = self.clock.now() + RETRY_AFTER * attempt
                self._schedule(deadline, at=later, attempt=attempt + 1)
        finally:
            self._firing.discard(task)
            self._running.discard(deadline)
            if deadline in self._planned_while_running:
                self._planned_while_running.discard(deadline)
                if self.keeping and self.scheduler.get_job(job_id) is None:
                    self._schedule(deadline)

    async def _run(self, deadline: Deadline, *, last_try: bool = True) -> bool:
        """Run the deadline's transition; False if it failed."""
        assert self._offers is not None
        if self.on_fired is not None:
            self.on_fired((self.clock.now() - deadline.when).total_seconds())
        try:
            await self._offers.on_deadline(deadline.kind, deadline.offer_id)
        except Exception as error:
            if last_try:
                log.exception("deadline %s of offer %s failed", deadline.kind.value, deadline.offer_id)
            else:
                reason = type(error).__name__
                log.warning(
                    "deadline %s of offer %s failed (%s); trying again",
                    deadline.kind.value,
                    deadline.offer_id,
                    reason,
                )
            return False
        return True

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

    def heard(self, offer_ids: Collection[int] | None) -> None:
        """Another instance committed changes to these offers (None: to more than it could name):
        plan them from the database soon, in one read for all that were heard meanwhile."""
        if not self.keeping:
            return
        if offer_ids is None:
            self._refresh_all = True
        else:
            self._to_refresh.update(offer_ids)
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.create_task(self._refresh_heard(), name="timers-refresh")

    async def _refresh_heard(self) -> None:
        while self.keeping and (self._refresh_all or self._to_refresh):
            offer_ids = None if self._refresh_all else self._to_refresh
            self._refresh_all, self._to_refresh = False, set()
            try:
                await self.refresh(offer_ids)
            except Exception as error:  # the database away for a moment: look at everything soon
                reason = type(error).__name__
                log.warning("timers: could not read changed offers (%s); reading all again", reason)
                self._refresh_all = True
                await asyncio.sleep(REFRESH_RETRY_SECONDS)

    async def refresh(self, offer_ids: Collection[int] | None) -> None:
        """Plan these offers (None: every live offer) as the database has them now: another
        instance changed them. An offer no longer live has its timers dropped."""
        assert self._db is not None
        if not self.keeping:
            return
        async with self._db.read() as tx:
            if offer_ids is None:
                live = await tx.offers.with_deadlines()
            else:
                found = [await tx.offers.by_id(offer_id) for offer_id in sorted(offer_ids)]
                live = [offer for offer in found if offer is not None]
        if offer_ids is None:
            stale = {job.args[0].offer_id for job in self.scheduler.get_jobs()} - {offer.id for offer in live}
        else:
            stale = set(offer_ids) - {offer.id for offer in live}
        for offer in live:
            self.plan(offer)
        for offer_id in stale:
            for kind in Kind:
                if self.scheduler.get_job(f"{kind.value}:{offer_id}") is not None:
                    self.scheduler.remove_job(f"{kind.value}:{offer_id}")

    async def start(self) -> int:
        """Schedule every pending deadline from the database again; overdue ones run at once, in order.

        Returns how many deadlines are pending after the overdue ones ran. Stopped, the timers
        can start again (an instance that leads again).
        """
        assert self._db is not None
        if self.scheduler.running:
            return len(self.scheduler.get_jobs())
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.scheduler.start(paused=not self.follow_wall_clock)
        async with self._db.transaction() as tx:
            offers = await tx.offers.with_deadlines()
        deadlines = sorted(deadline for offer in offers for deadline in deadlines_of(offer, self.timing))
        now = self.clock.now()
        for deadline in deadlines:
            if deadline.when > now:
                self._schedule(deadline)
        for deadline in deadlines:
            if deadline.when <= now and not await self._run(deadline, last_try=False):
                self._schedule(deadline, at=now + RETRY_AFTER, attempt=2)
        return len(self.scheduler.get_jobs())

    async def stop(self, grace: float = 5.0) -> None:
        """No timer goes off any more; a deadline running now finishes first (its transition
        must not meet a database that is closing)."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self._refreshing is not None:
            self._refreshing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refreshing
            self._refreshing = None
        if self._firing:
            await asyncio.wait(set(self._firing), timeout=grace)
