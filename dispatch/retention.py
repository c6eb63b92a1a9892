"""How long data is kept: personal data (addresses, proof photos, idle phones, their copies) and history."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import astuple, dataclass
from datetime import datetime, timedelta

from dispatch.lifecycle import HELD, Status
from storage.db import Database
from storage.repos import PersonalData

# An offer in one of these has nothing left to do, so nobody needs its address or photo any more
# (an expired one could be reopened, but not once its pickup window is weeks behind it).
ENDED = (Status.DELIVERED, Status.RETURNED, Status.CANCELLED, Status.EXPIRED)


@dataclass(frozen=True, slots=True)
class Purged:
    """How much one purge forgot: counts only, never the data itself (they go to the log)."""

    addresses: int = 0
    photos: int = 0
    phones: int = 0
    messages: int = 0
    updates: int = 0
    drafts: int = 0

    @property
    def total(self) -> int:
        return sum(astuple(self))

    def __str__(self) -> str:
        names = (
            ("address", "addresses"),
            ("proof photo", "proof photos"),
            ("phone", "phones"),
            ("sent message", "sent messages"),
            ("stored update", "stored updates"),
            ("order draft", "order drafts"),
        )
        return ", ".join(
            f"{count} {one if count == 1 else many}"
            for count, (one, many) in zip(astuple(self), names, strict=True)
        )


async def purge_personal_data(db: Database, *, now: datetime, keep: timedelta) -> Purged:
    """Forget the personal data that is older than `keep`; running it again forgets nothing more.

    Addresses and proof photos go with offers that ended before then; a phone goes once its
    driver has done nothing since then; the copies go from every message sent and every update
    handled before then, and step-by-step orders left untouched since then are dropped.
    """
    before = now - keep
    held = sorted(HELD)
    steps: list[Callable[[PersonalData], Awaitable[int]]] = [
        lambda forget: forget.forget_addresses(before, ENDED),
        lambda forget: forget.forget_proof_photos(before, ENDED),
        lambda forget: forget.forget_idle_phones(before, held),
        lambda forget: forget.blank_sent_messages(before),
        lambda forget: forget.blank_handled_updates(before),
        lambda forget: forget.drop_stale_drafts(before),
    ]
    counts = []
    for step in steps:
        # One transaction each: on SQLite the bot's other writers get their turns in between.
        async with db.transaction() as tx:
            counts.append(await step(tx.personal_data))
    return Purged(*counts)


# Calls deleted per transaction: on SQLite the bot's other writers get their turns in between.
PRUNE_BATCH = 1000


@dataclass(frozen=True, slots=True)
class Pruned:
    """How much one prune of the history deleted, and in how many transactions."""

    messages: int = 0
    batches: int = 0

    def __str__(self) -> str:
        messages = "message" if self.messages == 1 else "messages"
        batches = "batch" if self.batches == 1 else "batches"
        return f"{self.messages} sent {messages} in {self.batches} {batches}"


async def prune_history(
    db: Database,
    *,
    now: datetime,
    keep: timedelta,
    batch: int = PRUNE_BATCH,
    stopping: Callable[[], bool] = lambda: False,
) -> Pruned:
    """Delete the calls sent (or given up) longer than `keep` ago that nothing may look up again,
    `batch` at a time, newest first (an edit before the message it edits), until done or
    `stopping`; the database's statistics are brought up to date before (so the prune's own
    queries, and everyone's meanwhile, are planned on what the tables hold: a restored or imported
    database has none) and after it. Events and offers stay: /offer and /stats read them."""
    await db.maintain()
    before = now - keep
    async with db.read() as tx:
        start = await tx.outbox.newest_before(before)
    messages = batches = 0
    while start is not None and not stopping():
        async with db.transaction() as tx:
            deleted, start = await tx.outbox.prune(start, before, ENDED, batch)
        messages += deleted
        batches += 1
    await db.maintain()
    return Pruned(messages, batches)
