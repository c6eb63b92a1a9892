"""The database handle: engine, explicit transactions, and migrations applied with Alembic."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from storage.repos import Transaction


def alembic_config(url: str = "") -> Config:
    """Alembic's configuration, pointing at the migrations shipped inside this package."""
    config = Config()
    config.set_main_option("script_location", str(files("storage") / "migrations"))
    config.set_main_option("sqlalchemy.url", url)
    return config


# How long an SQLite connection waits for a lock another connection holds.
BUSY_TIMEOUT_MS = 10_000


# PostgreSQL advisory lock keys (per database): instances starting together migrate one at a
# time, and one instance at a time leads (bot.leader). Any two numbers no other program uses.
MIGRATION_LOCK = 0x5354_5255_4E00_0001
LEADER_LOCK = 0x5354_5255_4E00_0002
# The channel on which a commit tells the leader what it must look at (Transaction.wakes).
WAKE_CHANNEL = "storerun_wake"
# What a commit can ask the leader to look at: the outbox, an offer's deadlines, or (when more
# offers changed than a notification can name) every live offer's.
WAKE_OUTBOX = "outbox"
WAKE_OFFERS = "offers"
_WAKE_OFFER = "offer:"
_NOTIFY_MAX_BYTES = 7000  # PostgreSQL takes payloads below 8000 bytes


def wake_for_offer(offer_id: int) -> str:
    return f"{_WAKE_OFFER}{offer_id}"


@dataclass(frozen=True, slots=True)
class Wake:
    """What one or more notifications asked the leader to look at."""

    outbox: bool = False
    all_offers: bool = False
    offer_ids: frozenset[int] = frozenset()

    @classmethod
    def parse(cls, payload: str) -> Wake:
        words = payload.split()
        return cls(
            outbox=WAKE_OUTBOX in words,
            all_offers=WAKE_OFFERS in words,
            offer_ids=frozenset(
                int(word.removeprefix(_WAKE_OFFER))
                for word in words
                if word.startswith(_WAKE_OFFER) and word.removeprefix(_WAKE_OFFER).isdigit()
            ),
        )

    def __or__(self, other: Wake) -> Wake:
        return Wake(
            self.outbox or other.outbox,
            self.all_offers or other.all_offers,
            self.offer_ids | other.offer_ids,
        )


@dataclass(frozen=True, slots=True)
class PoolSize:
    """PostgreSQL connections per instance: the inbox's parallel batches, the sender, the
    timers and the HTTP side share them (the leader's lock holds one more of its own)."""

    size: int = 20
    overflow: int = 10


def _migrate(connection: Connection, step: Callable[[Config, str], None], revision: str) -> None:
    if connection.dialect.name == "postgresql":
        # Held until this transaction ends: a second instance starting now waits, then finds
        # the schema current and has nothing to do.
        connection.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK)))
    config = alembic_config()
    config.attributes["connection"] = connection
    step(config, revision)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling is turned off so that every transaction can be
    # BEGIN IMMEDIATE: SQLite then queues writers instead of failing a read-then-write race.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # A reading transaction takes no write lock: in WAL mode readers never wait for the writer.
    reading = connection.get_execution_options().get(READ_ONLY, False)
    connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")


READ_ONLY = "storerun_read_only"


@dataclass(slots=True)
class _Unit:
    """The transaction an update is applied in, while it is open."""

    db: Database
    transaction: Transaction
    open: bool = True


_current_unit: ContextVar[_Unit | None] = ContextVar("storerun_unit", default=None)


async def _notify_leader(tx: Transaction) -> None:
    """Tell the leader, in the transaction, what it must look at: PostgreSQL delivers a NOTIFY
    only if the transaction commits, and to every instance listening (bot.leader), so a change
    made by any instance reaches the one that sends and keeps time, even if this one dies
    right after its commit."""
    if tx.wakes:
        payload = " ".join(sorted(tx.wakes))
        if len(payload) > _NOTIFY_MAX_BYTES:
            payload = f"{WAKE_OUTBOX} {WAKE_OFFERS}" if WAKE_OUTBOX in tx.wakes else WAKE_OFFERS
        await tx.connection.execute(select(func.pg_notify(WAKE_CHANNEL, payload)))


class WriterQueue:
    """SQLite's one write lock, taken in turn (first come, first served), except that an urgent
    writer goes before the others waiting, but never more than URGENT_IN_A_ROW times in a row
    while another writer waits: a flood of urgent writes slows the others, it does not stop them."""

    URGENT_IN_A_ROW = 4

    def __init__(self) -> None:
        self._held = False
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._urgent_turns = 0  # urgent turns given in a row while others waited

    async def acquire(self, *, urgent: bool = False) -> None:
        if not self._held and not self._urgent and not self._waiting:
            self._held = True
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._urgent if urgent else self._waiting
        queue.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.release()  # the turn came just as the waiter was cancelled: pass it on
            else:
                queue.remove(turn)
            raise

    def release(self) -> None:
        """Hand the lock to the next waiter (urgent ones first, within limits), or free it."""
        others_first = self._waiting and self._urgent_turns >= self.URGENT_IN_A_ROW
        for queue in (self._waiting, self._urgent) if others_first else (self._urgent, self._waiting):
            while queue:
                turn = queue.popleft()
                if not turn.done():
                    self._urgent_turns = self._urgent_turns + 1 if queue is self._urgent else 0
                    turn.set_result(None)
                    return
        self._held = False
        self._urgent_turns = 0


class Database:
    """One database: SQLite (default) or PostgreSQL, reached through SQLAlchemy's async engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        # SQLite has one writer at a time; queueing here is fair and avoids its busy-wait sleeps.
        self._sqlite_lock = WriterQueue() if self.is_sqlite else None

    @classmethod
    def connect(cls, url: str, pool: PoolSize = PoolSize()) -> Database:
        """Open (lazily) the database at this SQLAlchemy URL."""
        if not url.startswith("sqlite"):
            return cls(
                create_async_engine(url, pool_pre_ping=True, pool_size=pool.size, max_overflow=pool.overflow)
            )
        engine = create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return cls(engine)

    async def upgrade(self, revision: str = "head") -> None:
        """Bring the schema to the newest migration (or to `revision`)."""
        async with self.engine.begin() as connection:
            await connection.run_sync(_migrate, command.upgrade, revision)

    async def downgrade(self, revision: str) -> None:
        """Take the schema back to `revision` (for tests and tools)."""
        async with self.engine.begin() as connection:
            await connection.run_sync(_migrate, command.downgrade, revision)

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[Transaction]:
        """One transaction that every transaction() and read() opened inside it joins.

        Everything done inside (an update's handler, and the mark that the update is done)
        commits together or not at all. Inner transactions are savepoints, so one that fails
        undoes only its own writes, as it would on its own.
        """
        async with self._outermost() as tx:
            unit = _Unit(self, tx)
            token = _current_unit.set(unit)
            try:
                yield tx
            finally:
                # Tasks started inside inherit the context; once closed, they open their own.
                unit.open = False
                _current_unit.reset(token)

    def _joined(self) -> Transaction | None:
        unit = _current_unit.get()
        return unit.transaction if unit is not None and unit.open and unit.db is self else None

    @asynccontextmanager
    async def transaction(self, *, urgent: bool = False) -> AsyncIterator[Transaction]:
        """One explicit transaction: committed when the block ends, rolled back if it raises.

        Its `after_commit` work runs once the outermost transaction has committed. An `urgent`
        one (a short record of what already happened outside, like a message Telegram took)
        goes before other writers waiting for SQLite's one write lock.
        """
        joined = self._joined()
        if joined is not None:
            async with joined.connection.begin_nested():
                yield joined
            return
        async with self._outermost(urgent=urgent) as tx:
            yield tx

    @asynccontextmanager
    async def _outermost(self, *, urgent: bool = False) -> AsyncIterator[Transaction]:
        if self._sqlite_lock is None:
            async with self.engine.begin() as connection:
                tx = Transaction(connection)
                yield tx
                await _notify_leader(tx)
        else:
            await self._sqlite_lock.acquire(urgent=urgent)
            try:
                async with self.engine.begin() as connection:
                    tx = Transaction(connection)
                    yield tx
            finally:
                self._sqlite_lock.release()
        for work in tx.after_commit:
            work()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Transaction]:
        """A transaction for reading only: on SQLite it neither waits for nor blocks the writer.

        What it reads may be stale a moment later; a decision that must hold is made again
        inside a writing transaction (docs/design.md, rule 1). Inside a unit it reads the unit's own
        writes.
        """
        joined = self._joined()
        if joined is not None:
            yield joined
            return
        async with self.engine.connect() as connection:
            await connection.execution_options(**{READ_ONLY: True})
            async with connection.begin():
                yield Transaction(connection)

    async def maintain(self) -> None:
        """Keep the query planner's statistics current and, on SQLite, the write-ahead log short
        (after a prune has deleted many rows; cheap when little changed)."""
        if self._sqlite_lock is None:
            async with self.engine.begin() as connection:
                await connection.exec_driver_sql("ANALYZE")
            return
        # Outside any transaction (a checkpoint cannot finish inside one), and in the writers'
        # queue: ANALYZE writes its statistics. A limited ANALYZE samples each index, so it takes
        # as long at a million rows as at a thousand (PRAGMA optimize alone, before SQLite 3.46,
        # analyzes only what this pooled connection happened to query); the checkpoint then
        # empties the write-ahead log, and pages freed by a prune are reused by new rows. The
        # checkpoint does not wait for a long reader (an export being built): with no busy wait it
        # gives up at once, and the writers queued behind it are not held up; tomorrow's may finish.
        await self._sqlite_lock.acquire()
        try:
            async with self.engine.connect() as connection:
                sqlite = (await connection.get_raw_connection()).driver_connection
                assert sqlite is not None
                for pragma in (
                    "PRAGMA analysis_limit=1000",
                    "ANALYZE",
                    "PRAGMA optimize",
                    "PRAGMA busy_timeout=0",
                    "PRAGMA wal_checkpoint(TRUNCATE)",
                    f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
                ):
                    async with sqlite.execute(pragma) as cursor:
                        await cursor.fetchall()
        finally:
            self._sqlite_lock.release()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """A raw connection, for tests and tools."""
        async with self.engine.connect() as connection:
            yield connection

    async def close(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
