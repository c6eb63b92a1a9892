"""Old sent messages go in small batches, except those a card, an edit or a live offer still needs."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, text, update

from dispatch.pilot import PILOT_FILE, read_pilot, seed
from dispatch.retention import Pruned, prune_history
from storage import schema
from storage.db import Database
from storage.records import Delivery
from storage.repos import Transaction

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
KEEP = timedelta(days=30)
OLD = NOW - timedelta(days=31)
RECENT = NOW - timedelta(days=29)


async def _call(
    tx: Transaction,
    *,
    status: str = "sent",
    at: datetime = OLD,
    kind: Delivery = Delivery.MESSAGE,
    **values: Any,
) -> int:
    outbox_id = await tx.outbox.add(lane=0, chat_id=3001, kind=kind, payload="{}", at=at, **values)
    await tx.connection.execute(
        update(schema.outbox).where(schema.outbox.c.id == outbox_id).values(status=status)
    )
    return outbox_id


async def _offer(tx: Transaction, ref: str, status: str) -> int:
    store = await tx.stores.by_code("FS-ZARA")
    assert store is not None
    return await tx.offers.add(
        store_id=store.id,
        ref=ref,
        packages=1,
        zone="89109",
        address="",
        pay_cents=1850,
        pickup_start=OLD,
        pickup_end=OLD + timedelta(minutes=30),
        pickup_code="1234",
        status=status,
        wave=1,
        created_at=OLD,
    )


async def _old_history(db: Database) -> tuple[set[int], set[int]]:
    """Sent messages of every kind; returns those that must go and those that must stay."""
    await seed(db, read_pilot(PILOT_FILE))
    async with db.transaction() as tx:
        driver = await tx.drivers.add(3001, 3001, "Maria", OLD)
        delivered = await tx.notices.record(await _offer(tx, "DONE", "delivered"), driver, 3001, 1, OLD)
        held = await tx.notices.record(await _offer(tx, "LIVE", "accepted"), driver, 3001, 1, OLD)
        reply = await _call(tx)
        failed = await _call(tx, status="failed")
        dropped = await _call(tx, status="dropped")
        copied = await _call(tx)  # a send that reached Telegram twice
        await tx.outbox.add_copy(copied, 777, OLD)
        edited = await _call(tx)
        its_edit = await _call(tx, kind=Delivery.EDIT, target_id=edited)
        finished_copy = await _call(tx, notice_id=delivered)
        gone = {reply, failed, dropped, copied, edited, its_edit, finished_copy}

        pending = await _call(tx, status="pending")
        recent = await _call(tx, at=RECENT)
        carded = await _call(tx)
        await tx.cards.add("job", 1, 3001, carded, OLD)
        awaiting_edit = await _call(tx)
        edit_to_send = await _call(tx, status="pending", kind=Delivery.EDIT, target_id=awaiting_edit)
        live_copy = await _call(tx, notice_id=held)  # the holder's job card: edited at pickup
        kept = {pending, recent, carded, awaiting_edit, edit_to_send, live_copy}
    return gone, kept


async def _outbox_ids(db: Database) -> set[int]:
    async with db.read() as tx:
        return set((await tx.connection.execute(select(schema.outbox.c.id))).scalars())


async def test_old_sent_messages_go_in_batches_and_those_still_needed_stay(db: Database) -> None:
    gone, kept = await _old_history(db)

    pruned = await prune_history(db, now=NOW, keep=KEEP, batch=3)

    assert await _outbox_ids(db) == kept
    assert pruned.messages == len(gone)
    assert pruned.batches >= 4  # three calls at a time, each batch its own transaction
    async with db.read() as tx:
        assert (await tx.connection.execute(select(schema.message_copies))).all() == []


async def test_pruning_again_deletes_nothing_more(db: Database) -> None:
    _, kept = await _old_history(db)
    await prune_history(db, now=NOW, keep=KEEP)
    again = await prune_history(db, now=NOW, keep=KEEP)
    assert again.messages == 0
    assert await _outbox_ids(db) == kept


async def test_nothing_sent_is_old_enough_to_prune(db: Database) -> None:
    await seed(db, read_pilot(PILOT_FILE))
    async with db.transaction() as tx:
        await _call(tx, at=RECENT)
    assert await prune_history(db, now=NOW, keep=KEEP) == Pruned()
    assert len(await _outbox_ids(db)) == 1


async def test_maintenance_brings_the_planners_statistics_up_to_date_and_empties_the_log(
    db: Database,
) -> None:
    async with db.transaction() as tx:
        for _ in range(3):
            await _call(tx)
    await db.maintain()
    if db.is_sqlite:
        statistics = "SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'outbox'"
    else:
        statistics = "SELECT count(*) FROM pg_stats WHERE tablename = 'outbox'"
    async with db.read() as tx:
        assert (await tx.connection.execute(text(statistics))).scalar_one() > 0
    if db.is_sqlite:
        path = db.engine.url.database
        assert path is not None
        wal = await asyncio.to_thread(os.path.getsize, f"{path}-wal")
        assert wal == 0  # checkpointed and truncated


async def test_maintenance_does_not_hold_writers_up_behind_a_long_reader(db: Database) -> None:
    if not db.is_sqlite:
        return  # PostgreSQL's ANALYZE takes no lock that a reader holds
    async with db.transaction() as tx:
        await _call(tx)
    path = db.engine.url.database
    assert path is not None
    reader = sqlite3.connect(path, isolation_level=None)  # an export being built: a long read
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM outbox").fetchall()
        async with db.transaction() as tx:  # a write after the reader's snapshot began
            await _call(tx)
        started = asyncio.get_running_loop().time()
        await asyncio.wait_for(db.maintain(), timeout=30)
        waited = asyncio.get_running_loop().time() - started
    finally:
        reader.execute("COMMIT")
        reader.close()
    assert waited < 5  # the checkpoint gave up at once instead of waiting out the busy timeout


async def test_the_planners_statistics_are_brought_up_to_date_before_the_prune_reads(
    db: Database, monkeypatch: Any
) -> None:
    # A restored or imported database has no statistics: planned blind, PostgreSQL read all of
    # a year's events for /stats while the first prune ran.
    await _old_history(db)
    steps: list[str] = []
    maintain = db.maintain

    async def logged() -> None:
        steps.append("maintain")
        await maintain()

    monkeypatch.setattr(db, "maintain", logged)

    def first_batch() -> bool:
        steps.append("batch")
        return True  # stop there

    await prune_history(db, now=NOW, keep=KEEP, stopping=first_batch)

    assert steps == ["maintain", "batch", "maintain"]
