"""Deadlines on timers: APScheduler runs one job per pending deadline; the database stays the truth."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler

if TYPE_CHECKING:
    from dispatch.dispatcher import Dispatch

log = logging.getLogger(__name__)


class Timers:
    """One in-process timer per pending deadline, rebuilt from the database on every start.

    A timer only calls a transition that checks the offer's state first, so a timer that fires
    twice, late, or for a deadline that has moved does no harm.
    """

    def __init__(self) -> None:
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        self._dispatch: Dispatch | None = None

    def bind(self, dispatch: Dispatch) -> None:
        self._dispatch = dispatch

    def _job(self, kind: str) -> Callable[[int], Awaitable[object]]:
        assert self._dispatch is not None
        offers = self._dispatch.offers
        return {"wave": offers.send_wave, "expire": offers.expire}[kind]

    def at(self, kind: str, offer_id: int, when: datetime) -> None:
        """Run deadline `kind` of this offer at `when` (at once if it has passed)."""
        self.scheduler.add_job(
            self._run,
            "date",
            run_date=when,
            args=[kind, offer_id],
            id=f"{kind}:{offer_id}",
            replace_existing=True,
            misfire_grace_time=None,
        )

    async def _run(self, kind: str, offer_id: int) -> None:
        try:
            await self._job(kind)(offer_id)
        except Exception:
            log.exception("deadline %s of offer %s failed", kind, offer_id)

    async def start(self) -> int:
        """Start the scheduler and schedule every pending deadline again; returns how many."""
        assert self._dispatch is not None
        self.scheduler.start()
        async with self._dispatch.db.transaction() as tx:
            offers = await tx.offers.with_deadlines()
        for offer in offers:
            if offer.next_wave_at is not None:
                self.at("wave", offer.id, offer.next_wave_at)
            if offer.expires_at is not None:
                self.at("expire", offer.id, offer.expires_at)
        return len(offers)

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
