"""Leadership: of all the instances on one database, one at a time sends and keeps the time.

Telegram's limits are per bot, and a deadline must fire once, so one instance, the leader, drains
the outbox and fires deadlines; every instance stores and applies updates. On PostgreSQL the
leader is whoever holds an advisory lock on a connection of its own: when that instance dies,
PostgreSQL ends its session and frees the lock, and another instance, trying every moment, takes
over. SQLite serves one process, which leads from start to stop; a second process on the same
file refuses to start.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO, Any, Protocol

import asyncpg
from sqlalchemy.engine import URL

from bot.metrics import Metrics
from storage.db import LEADER_LOCK, WAKE_CHANNEL, Wake

log = logging.getLogger(__name__)


class DatabaseInUse(Exception):
    """Another process is running on this SQLite database."""


@dataclass(frozen=True, slots=True)
class LeaderTiming:
    """How fast a dead leader is replaced (LEADER_TAKEOVER_SECONDS), and what follows from it.

    A killed process's session ends at once (its socket closes), so another instance takes over
    within one `poll`. A leader whose machine or network vanished is cut off by PostgreSQL's TCP
    keepalives within about half the takeover time; the leader itself steps down sooner, when its
    own connection stops answering, so two instances never both believe they lead for long.
    """

    takeover: timedelta = timedelta(seconds=10)

    @property
    def poll_seconds(self) -> float:
        """How often a follower tries the lock."""
        return min(1.0, self.takeover.total_seconds() / 10)

    @property
    def check_seconds(self) -> float:
        """How often the leader makes sure its connection (and so its lock) is alive."""
        return max(0.1, self.takeover.total_seconds() / 10)

    @property
    def check_timeout_seconds(self) -> float:
        """How long the leader waits for its connection to answer before it steps down."""
        return max(0.5, self.takeover.total_seconds() / 4)

    def keepalives(self) -> dict[str, str]:
        """The server side's TCP keepalives for the lock's session (whole seconds, at least 1)."""
        seconds = self.takeover.total_seconds()
        return {
            "tcp_keepalives_idle": str(max(1, int(seconds / 5))),
            "tcp_keepalives_interval": str(max(1, int(seconds / 10))),
            "tcp_keepalives_count": "2",
        }


@dataclass(frozen=True, slots=True)
class Duties:
    """What the leader does: `begin` when elected (`after_another`: another instance led until a
    moment ago), `end` when it stops leading, and `look` at what a commit anywhere asked for."""

    begin: Callable[[bool], Awaitable[None]]
    end: Callable[[], Awaitable[None]]
    look: Callable[[Wake], None]


class Leadership(Protocol):
    """Whether this instance leads, kept up to date from start to stop."""

    @property
    def is_leader(self) -> bool: ...

    def claim(self) -> None:
        """Make sure this process may use the database at all (before anything else touches it)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def _brief(error: BaseException) -> str:
    first_line = (str(error).splitlines() or [""])[0][:200]
    return f"{type(error).__name__}: {first_line}" if first_line else type(error).__name__


class LockLeadership:
    """PostgreSQL: lead while holding the advisory lock LEADER_LOCK on a connection of our own.

    The same connection listens for what commits ask the leader to look at (NOTIFY on
    WAKE_CHANNEL): a change made by any instance reaches the leader as it commits.
    """

    def __init__(self, url: URL, timing: LeaderTiming, duties: Duties, metrics: Metrics) -> None:
        # asyncpg's own form of the SQLAlchemy URL (password included: it is never logged).
        self._dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.timing = timing
        self.duties = duties
        self.metrics = metrics
        self._leading = False
        self._in_office = False  # elected, its duties beginning or running
        self._stopping = False
        self._first_try = asyncio.Event()
        self._rest = asyncio.Event()
        self._connection: asyncpg.Connection | None = None
        self._runner: asyncio.Task[None] | None = None

    @property
    def is_leader(self) -> bool:
        return self._leading

    def claim(self) -> None:
        """Any number of instances may share a PostgreSQL database."""

    async def start(self) -> None:
        """Start trying for the lock; returns once the first try is over, so an instance that
        starts alone leads before it takes its first update."""
        self._stopping = False
        self.metrics.following()
        self._runner = asyncio.create_task(self._run(), name="leadership")
        first_try = asyncio.create_task(self._first_try.wait())
        await asyncio.wait({first_try, self._runner}, return_when=asyncio.FIRST_COMPLETED)
        first_try.cancel()

    async def stop(self) -> None:
        """Stop leading (the duties end first), free the lock, stop trying."""
        self._stopping = True
        self._rest.set()
        if self._runner is None:
            return
        done, _ = await asyncio.wait({self._runner}, timeout=self.timing.check_timeout_seconds + 10)
        if not done:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        self._runner = None

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self._campaign()
            except Exception as error:  # the database went away: try again in a moment
                log.warning("leadership: the lock's connection failed (%s); trying again", _brief(error))
            finally:
                await self._step_down()
                await self._hang_up()
                self._first_try.set()
            await self._pause(self.timing.poll_seconds)

    async def _campaign(self) -> None:
        """Connect, take the lock as soon as it is free, lead while the connection lives."""
        timeout = self.timing.check_timeout_seconds
        self._connection = await asyncpg.connect(
            self._dsn, timeout=max(timeout, 5.0), server_settings=self.timing.keepalives()
        )
        another_led = False
        while not self._stopping:
            locked = await self._connection.fetchval(
                "SELECT pg_try_advisory_lock($1)", LEADER_LOCK, timeout=timeout
            )
            if locked:
                break
            another_led = True
            self._first_try.set()
            await self._pause(self.timing.poll_seconds)
        else:
            return
        # In office from here: what commits ask for from now on is heard (and what they asked
        # before is read from the database as the duties begin), so nothing falls between.
        self._in_office = True
        await self._connection.add_listener(WAKE_CHANNEL, self._notified)
        await self.duties.begin(another_led)
        self._leading = True  # said only once the duties run (/healthz, the metrics)
        self.metrics.leading(takeover=another_led)
        log.info("this instance leads: it sends the outbox and fires the deadlines")
        self._first_try.set()
        while not self._stopping:
            await self._pause(self.timing.check_seconds)
            await self._connection.fetchval("SELECT 1", timeout=timeout)

    def _notified(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        if self._in_office:
            self.duties.look(Wake.parse(payload))

    async def _step_down(self) -> None:
        if not self._in_office:
            return
        self._in_office = self._leading = False
        self.metrics.following()
        try:
            await self.duties.end()
        except Exception as error:
            log.warning("leadership: stopping the leader's work failed (%s)", _brief(error))
        if not self._stopping:
            log.warning("this instance no longer leads; another may take over")

    async def _hang_up(self) -> None:
        """Close the lock's connection (which frees the lock), at once if it does not answer."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            await connection.close(timeout=self.timing.check_timeout_seconds)
        except Exception:
            connection.terminate()

    async def _pause(self, seconds: float) -> None:
        """Wait `seconds`, or less if the instance is stopping."""
        self._rest.clear()
        if self._stopping:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._rest.wait(), seconds)


class SoleLeadership:
    """SQLite: this process leads from start to stop; a lock file beside the database keeps a
    second process off it (SQLite serves one process; several instances need PostgreSQL)."""

    def __init__(self, database: str | None, duties: Duties, metrics: Metrics) -> None:
        self.database = database
        self.duties = duties
        self.metrics = metrics
        self._leading = False
        self._lock_file: IO[bytes] | None = None

    @property
    def is_leader(self) -> bool:
        return self._leading

    def claim(self) -> None:
        """Take the database file for this process, or say in one line that another has it."""
        if self.database is None or self._lock_file is not None:
            return
        path = Path(self.database).expanduser().resolve()
        lock_file = (path.parent / f"{path.name}.lock").open("ab")
        try:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            raise DatabaseInUse(
                f"another storerun process is running on {path.name}; SQLite serves one process "
                "(run several instances on PostgreSQL)"
            ) from None
        self._lock_file = lock_file

    async def start(self) -> None:
        self.claim()
        self._leading = True
        self.metrics.leading(takeover=False)
        await self.duties.begin(False)

    async def stop(self) -> None:
        if self._leading:
            self._leading = False
            self.metrics.following()
            await self.duties.end()
        if self._lock_file is not None:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None


def leadership_for(
    url: URL, timing: LeaderTiming, duties: Duties, metrics: Metrics
) -> LockLeadership | SoleLeadership:
    """PostgreSQL: an election among instances; SQLite: this process alone."""
    if url.get_backend_name() == "postgresql":
        return LockLeadership(url, timing, duties, metrics)
    database = url.database
    in_memory = not database or database == ":memory:" or database.startswith("file::memory:")
    return SoleLeadership(None if in_memory else database, duties, metrics)
