"""Leadership among instances: one leads at a time, another takes over, commits reach the leader."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from bot.leader import DatabaseInUse, Duties, LeaderTiming, LockLeadership, SoleLeadership, leadership_for
from bot.metrics import Metrics
from storage.db import LEADER_LOCK, WAKE_OUTBOX, Database, Wake, wake_for_offer

QUICK = LeaderTiming(takeover=timedelta(seconds=2))


class Instance:
    """What one instance's duties saw: when it began and ended leading, and what it was told."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.began: list[bool] = []
        self.ended = 0
        self.woken: list[Wake] = []
        self.metrics = Metrics()
        self.leading = asyncio.Event()

    async def begin(self, after_another: bool) -> None:
        self.began.append(after_another)
        self.leading.set()

    async def end(self) -> None:
        self.ended += 1
        self.leading.clear()

    def duties(self) -> Duties:
        return Duties(begin=self.begin, end=self.end, look=self.woken.append)

    def metric(self, name: str) -> float:
        value = self.metrics._registry.get_sample_value(name)
        return 0.0 if value is None else value


@pytest_asyncio.fixture
async def pg(postgres_scratch_url: str) -> AsyncIterator[Database]:
    database = Database.connect(postgres_scratch_url)
    await database.upgrade()
    yield database
    await database.close()


def lock_leadership(db: Database, instance: Instance) -> LockLeadership:
    return LockLeadership(db.engine.url, QUICK, instance.duties(), instance.metrics)


async def eventually(condition: asyncio.Event, seconds: float = 15.0) -> None:
    await asyncio.wait_for(condition.wait(), seconds)


@pytest.mark.postgres
async def test_the_first_instance_leads_and_the_second_follows_until_the_first_stops(pg: Database) -> None:
    a, b = Instance("a"), Instance("b")
    first, second = lock_leadership(pg, a), lock_leadership(pg, b)
    await first.start()
    assert first.is_leader and a.began == [False]
    await second.start()
    assert not second.is_leader and b.began == []
    assert (a.metric("storerun_leader"), b.metric("storerun_leader")) == (1.0, 0.0)

    await first.stop()
    assert not first.is_leader and a.ended == 1
    await eventually(b.leading)
    assert second.is_leader
    assert b.began == [True]  # another instance led a moment ago: it pauses before sending
    assert b.metric("storerun_leader_takeovers_total") == 1.0
    assert a.metric("storerun_leader") == 0.0
    await second.stop()


@pytest.mark.postgres
async def test_a_leader_whose_connection_dies_steps_down_and_another_takes_over(pg: Database) -> None:
    a, b = Instance("a"), Instance("b")
    first, second = lock_leadership(pg, a), lock_leadership(pg, b)
    await first.start()
    await second.start()
    assert first.is_leader

    # The leader's session ends as if its process or machine had gone: the lock is free at once.
    async with pg.transaction() as tx:
        holder = (
            await tx.connection.execute(
                text(
                    "SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
                    " WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()"
                    " AND l.classid = :high AND l.objid = :low"
                ),
                {"high": LEADER_LOCK >> 32, "low": LEADER_LOCK & 0xFFFFFFFF},
            )
        ).scalar_one()
        await tx.connection.execute(select(func.pg_terminate_backend(holder)))

    await eventually(b.leading)
    assert second.is_leader
    for _ in range(150):  # the old leader notices within a check, and steps down
        if a.ended:
            break
        await asyncio.sleep(0.1)
    assert a.ended == 1 and not first.is_leader
    await first.stop()
    await second.stop()
    assert b.ended == 1


@pytest.mark.postgres
async def test_what_a_commit_asks_for_reaches_the_leader_and_a_rollback_asks_nothing(pg: Database) -> None:
    a = Instance("a")
    leadership = lock_leadership(pg, a)
    await leadership.start()
    assert leadership.is_leader

    with contextlib.suppress(RuntimeError):
        async with pg.transaction() as tx:
            tx.wakes.add(wake_for_offer(99))
            raise RuntimeError("rolled back")
    async with pg.transaction() as tx:
        tx.wakes.update({WAKE_OUTBOX, wake_for_offer(7), wake_for_offer(8)})
    for _ in range(100):
        if a.woken:
            break
        await asyncio.sleep(0.05)
    await leadership.stop()
    heard = Wake()
    for wake in a.woken:
        heard = heard | wake
    assert heard == Wake(outbox=True, offer_ids=frozenset({7, 8}))


def test_a_notification_too_long_to_name_every_offer_asks_for_all_of_them() -> None:
    assert Wake.parse("offers outbox") == Wake(outbox=True, all_offers=True)
    assert Wake.parse("offer:3 offer:x outbox") == Wake(outbox=True, offer_ids=frozenset({3}))


@pytest.mark.postgres
async def test_a_commit_naming_thousands_of_offers_still_reaches_the_leader(pg: Database) -> None:
    a = Instance("a")
    leadership = lock_leadership(pg, a)
    await leadership.start()
    async with pg.transaction() as tx:
        tx.wakes.update(wake_for_offer(offer_id) for offer_id in range(5000))
    for _ in range(100):
        if a.woken:
            break
        await asyncio.sleep(0.05)
    await leadership.stop()
    assert a.woken == [Wake(all_offers=True)]


async def test_a_second_process_on_one_sqlite_file_is_refused_until_the_first_stops(tmp_path: Path) -> None:
    url = make_url(f"sqlite+aiosqlite:///{tmp_path / 'storerun.db'}")
    a, b = Instance("a"), Instance("b")
    first = leadership_for(url, QUICK, a.duties(), a.metrics)
    second = leadership_for(url, QUICK, b.duties(), b.metrics)
    assert isinstance(first, SoleLeadership)
    await first.start()
    assert first.is_leader and a.began == [False]
    with pytest.raises(DatabaseInUse, match=r"another storerun process is running on storerun\.db"):
        second.claim()
    await first.stop()
    await second.start()
    assert second.is_leader
    await second.stop()


async def test_a_lock_held_by_another_process_refuses_too(tmp_path: Path) -> None:
    # flock locks belong to an open file: another open of the lock file stands for another process.
    with (tmp_path / "storerun.db.lock").open("ab") as other:
        fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        instance = Instance("a")
        leadership = SoleLeadership(str(tmp_path / "storerun.db"), instance.duties(), instance.metrics)
        with pytest.raises(DatabaseInUse):
            await leadership.start()
        assert instance.began == []


async def test_an_in_memory_database_needs_no_lock() -> None:
    instance = Instance("a")
    leadership = leadership_for(make_url("sqlite+aiosqlite://"), QUICK, instance.duties(), instance.metrics)
    await leadership.start()
    assert leadership.is_leader
    await leadership.stop()


def test_the_takeover_time_sets_how_often_followers_try_and_the_keepalives() -> None:
    timing = LeaderTiming(takeover=timedelta(seconds=10))
    assert timing.poll_seconds == 1.0
    keepalives = {name: int(value) for name, value in timing.keepalives().items()}
    # The server drops a silent leader's session (idle, then count probes) well within the takeover.
    cut_off = (
        keepalives["tcp_keepalives_idle"]
        + keepalives["tcp_keepalives_interval"] * keepalives["tcp_keepalives_count"]
    )
    assert cut_off < 10
    # The leader gives up on its connection before the server gives up on it.
    assert timing.check_seconds + timing.check_timeout_seconds < cut_off
