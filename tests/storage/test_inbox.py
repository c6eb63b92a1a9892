"""The inbox table on every backend, and units: one transaction that the ones opened inside join."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import DBAPIError

from storage import schema
from storage.db import Database
from storage.repos import InboxEntry

NOW = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)


def _entry(update_id: int, chat: int) -> InboxEntry:
    payload = f'{{"update_id":{update_id}}}'
    return InboxEntry(update_id=update_id, chat_key=chat, kind="message", payload=payload)


async def _store(db: Database, *entries: InboxEntry) -> list[int]:
    async with db.transaction() as tx:
        return await tx.inbox.store(list(entries), NOW)


async def _claim(db: Database, at: datetime = NOW) -> int | None:
    async with db.transaction() as tx:
        rows = await tx.inbox.claim(at)
        return rows[0].update_id if rows else None


async def _done(db: Database, update_id: int) -> None:
    async with db.transaction() as tx:
        assert await tx.inbox.mark_done([update_id], NOW) == 1


async def test_an_update_sent_twice_is_stored_once(db: Database) -> None:
    assert await _store(db, _entry(1, 10), _entry(2, 10)) == [1, 2]
    assert await _store(db, _entry(2, 10), _entry(3, 10)) == [3]
    async with db.read() as tx:
        assert (await tx.inbox.backlog()).pending == 3


async def test_a_chat_waits_for_its_earlier_update_while_other_chats_go_on(db: Database) -> None:
    await _store(db, _entry(1, 10), _entry(2, 10), _entry(3, 20))
    assert await _claim(db) == 1
    async with db.transaction() as tx:  # 1 is still pending: of chat 10 nothing else may go
        assert [row.update_id for row in await tx.inbox.claim(NOW)] == [1]
    await _done(db, 1)
    assert await _claim(db) == 2
    await _done(db, 2)
    assert await _claim(db) == 3


async def test_first_in_chat_names_the_updates_nothing_of_their_chat_waits_before(db: Database) -> None:
    await _store(db, _entry(1, 10), _entry(2, 10), _entry(3, 20), _entry(4, 30))
    await _done(db, 3)
    async with db.transaction() as tx:
        await tx.inbox.store([_entry(5, 20)], NOW)
        # 2 waits behind 1; 5 comes after 3, which is done; 3 itself is no longer pending.
        assert await tx.inbox.first_in_chat([1, 2, 3, 4, 5]) == {1, 4, 5}
        assert await tx.inbox.first_in_chat([]) == set()


async def test_a_batch_claims_the_first_update_of_each_chat(db: Database) -> None:
    await _store(db, _entry(1, 10), _entry(2, 10), _entry(3, 20), _entry(4, 30), _entry(5, 20))
    async with db.transaction() as tx:
        claimed = [row.update_id for row in await tx.inbox.claim(NOW, limit=10)]
        assert await tx.inbox.mark_done(claimed, NOW) == 3
    assert claimed == [1, 3, 4]
    async with db.transaction() as tx:
        assert [row.update_id for row in await tx.inbox.claim(NOW, limit=10)] == [2, 5]


async def test_an_update_waiting_for_a_retry_is_not_due_and_holds_its_chat(db: Database) -> None:
    await _store(db, _entry(1, 10), _entry(2, 10), _entry(3, 20))
    async with db.transaction() as tx:
        await tx.inbox.retry_later(1, attempts=1, next_attempt_at=NOW + timedelta(seconds=5), error="boom")
    assert await _claim(db) == 3
    await _done(db, 3)
    assert await _claim(db) is None
    assert await _claim(db, NOW + timedelta(seconds=5)) == 1


async def test_a_parked_update_no_longer_blocks_its_chat(db: Database) -> None:
    await _store(db, _entry(1, 10), _entry(2, 10))
    async with db.transaction() as tx:
        assert await tx.inbox.park(1, attempts=5, error="KeyError: 'x'", at=NOW)
        assert not await tx.inbox.park(1, attempts=5, error="again", at=NOW)
        assert await tx.inbox.mark_done([1], NOW) == 0
    assert await _claim(db) == 2
    async with db.read() as tx:
        backlog = await tx.inbox.backlog()
        parked = await tx.inbox.by_id(1)
    assert (backlog.pending, backlog.parked) == (1, 1)
    assert backlog.oldest_pending_at == NOW and backlog.last_received_at == NOW
    assert parked is not None and parked.status == "parked" and parked.error == "KeyError: 'x'"


async def test_done_updates_are_forgotten_after_the_retention_but_parked_ones_stay(db: Database) -> None:
    await _store(db, _entry(1, 10), _entry(2, 20), _entry(3, 30))
    await _done(db, 1)
    async with db.transaction() as tx:
        await tx.inbox.park(2, attempts=5, error="boom", at=NOW)
        assert await tx.inbox.prune(NOW) == 0
        assert await tx.inbox.prune(NOW + timedelta(seconds=1)) == 1
        assert await tx.inbox.by_id(1) is None
        assert await tx.inbox.by_id(2) is not None and await tx.inbox.by_id(3) is not None


@pytest.mark.postgres
async def test_two_claimers_never_get_the_same_update(postgres_scratch_url: str) -> None:
    from tests.conftest import _admin

    await _admin(postgres_scratch_url, "DROP SCHEMA public CASCADE", "CREATE SCHEMA public")
    db = Database.connect(postgres_scratch_url)
    try:
        await db.upgrade()
        await _store(db, *(_entry(number, number) for number in range(1, 21)))
        claimed: list[int] = []
        all_claimed, release = asyncio.Event(), asyncio.Event()

        async def claimer() -> None:
            async with db.transaction() as tx:
                [row] = await tx.inbox.claim(NOW)
                claimed.append(row.update_id)
                if len(claimed) == 5:
                    all_claimed.set()
                await release.wait()  # hold the row lock while the others claim

        tasks = [asyncio.create_task(claimer()) for _ in range(5)]
        await asyncio.wait_for(all_claimed.wait(), 10)
        release.set()
        await asyncio.gather(*tasks)
        assert sorted(claimed) == [1, 2, 3, 4, 5]
    finally:
        await db.close()


# --- units ---


async def _chats(db: Database) -> set[int]:
    async with db.read() as tx:
        return await tx.chats.unreachable()


async def test_a_unit_commits_what_was_done_inside_it_together(db: Database) -> None:
    ran: list[str] = []
    with pytest.raises(RuntimeError):
        async with db.unit():
            async with db.transaction() as tx:
                await tx.chats.set_reachable(501, False, NOW)
                tx.after_commit.append(lambda: ran.append("inner"))
            assert await _chats(db) == {501}  # the unit reads its own writes
            raise RuntimeError("the handler failed after an inner transaction ended")
    assert await _chats(db) == set()
    assert ran == []  # nothing committed, so nothing waiting for a commit ran

    async with db.unit():
        async with db.transaction() as tx:
            await tx.chats.set_reachable(502, False, NOW)
            tx.after_commit.append(lambda: ran.append("inner"))
        assert ran == []  # not before the unit commits
    assert ran == ["inner"]
    assert await _chats(db) == {502}


async def test_a_failed_transaction_inside_a_unit_undoes_only_its_own_writes(db: Database) -> None:
    async with db.unit():
        async with db.transaction() as tx:
            await tx.chats.set_reachable(601, False, NOW)
        with pytest.raises(RuntimeError):
            async with db.transaction() as tx:
                await tx.chats.set_reachable(602, False, NOW)
                raise RuntimeError("this one fails")
    assert await _chats(db) == {601}


async def test_a_task_started_inside_a_unit_opens_its_own_once_the_unit_is_over(db: Database) -> None:
    later = asyncio.Event()

    async def afterwards() -> None:
        await later.wait()
        async with db.transaction() as tx:
            await tx.chats.set_reachable(701, False, NOW)

    with pytest.raises(RuntimeError):
        async with db.unit():
            task = asyncio.create_task(afterwards())
            raise RuntimeError("rolled back")
    later.set()
    await task
    assert await _chats(db) == {701}


class _Writers:
    """SQLite's writer queue, and the order in which writers got the lock."""

    def __init__(self) -> None:
        from storage.db import WriterQueue

        self.queue = WriterQueue()
        self.order: list[str] = []

    async def write(self, name: str, urgent: bool = False) -> None:
        await self.queue.acquire(urgent=urgent)
        self.order.append(name)
        await asyncio.sleep(0)
        self.queue.release()


async def test_sqlite_writers_take_turns_in_order_and_an_urgent_one_goes_first() -> None:
    writers = _Writers()
    await writers.queue.acquire()  # someone is writing
    tasks = [asyncio.create_task(writers.write(name)) for name in ("first", "second")]
    tasks.append(asyncio.create_task(writers.write("urgent", urgent=True)))
    given_up = asyncio.create_task(writers.write("gave up"))
    await asyncio.sleep(0)
    given_up.cancel()
    writers.queue.release()
    await asyncio.gather(*tasks)
    assert writers.order == ["urgent", "first", "second"]
    await writers.queue.acquire()  # free again
    writers.queue.release()


async def test_a_flood_of_urgent_sqlite_writers_lets_the_others_through() -> None:
    from storage.db import WriterQueue

    writers = _Writers()
    await writers.queue.acquire()
    tasks = [asyncio.create_task(writers.write("other"))]
    await asyncio.sleep(0)
    tasks += [asyncio.create_task(writers.write(f"urgent {n}", urgent=True)) for n in range(10)]
    await asyncio.sleep(0)
    writers.queue.release()
    await asyncio.gather(*tasks)
    in_a_row = WriterQueue.URGENT_IN_A_ROW
    assert writers.order.index("other") == in_a_row
    assert writers.order[:in_a_row] == [f"urgent {n}" for n in range(in_a_row)]


async def test_a_held_update_is_not_claimed_until_released_or_its_hold_ends(db: Database) -> None:
    async with db.transaction() as tx:
        await tx.inbox.store([_entry(1, 10), _entry(2, 20)], NOW, hold={1}, until=NOW + timedelta(seconds=5))
    assert await _claim_all(db, NOW) == [2]
    assert await _claim_all(db, NOW + timedelta(seconds=5)) == [1, 2]  # a hold that never ended
    async with db.transaction() as tx:
        await tx.inbox.release([1], NOW)
    assert await _claim_all(db, NOW) == [1, 2]


async def _claim_all(db: Database, at: datetime) -> list[int]:
    async with db.transaction() as tx:
        return [row.update_id for row in await tx.inbox.claim(at, limit=10)]


@pytest.mark.postgres
async def test_an_update_claimed_by_an_instance_that_went_silent_is_claimed_again_after_the_lease(
    postgres_scratch_url: str,
) -> None:
    # Two instances: each its own pool on the same database.
    first, second = Database.connect(postgres_scratch_url), Database.connect(postgres_scratch_url)
    await first.upgrade()
    try:
        async with first.transaction() as tx:  # the scratch database may hold an earlier test's
            await tx.connection.execute(schema.inbox.delete())
        await _store(first, _entry(1, 10), _entry(2, 10), _entry(3, 20))
        silent_claim: list[int] = []
        with pytest.raises(DBAPIError):  # the server ended the silent instance's session
            async with first.transaction() as tx:
                silent_claim = [
                    row.update_id for row in await tx.inbox.claim(NOW, 2, lease=timedelta(seconds=1))
                ]
                async with second.transaction() as other:  # while it is held, others skip it
                    assert [row.update_id for row in await other.inbox.claim(NOW, 2)] == []
                await asyncio.sleep(2.5)  # then the instance goes silent past its lease
                await tx.inbox.mark_done(silent_claim, NOW)
        assert silent_claim == [1, 3]
        async with second.transaction() as tx:  # nothing of the silent claim was applied
            assert [row.update_id for row in await tx.inbox.claim(NOW, 2)] == [1, 3]
    finally:
        await first.close()
        await second.close()
