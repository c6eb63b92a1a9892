"""A cluster of `storerun run` processes on one PostgreSQL database, the emulator's webhook spread over them.

Each instance is a child process with its own HTTP_LISTEN port and log file; all share one database,
one WEBHOOK_URL and one secret, as instances behind a load balancer do. The emulator runs in this
process and POSTs each update to one of the instances at random (a retry picks again, so a killed
instance only delays an update). Instances are SIGKILLed and restarted at will, and /healthz says
which one leads (sends the outbox and fires the deadlines).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from dispatch.pilot import PILOT_FILE, read_pilot, seed
from sandbox.emulator import BotApiEmulator
from storage.db import Database
from storage.records import Account

TOKEN = "123456:CLUSTER-RUN"
ADMIN_ID = 1000
WEBHOOK_PATH = "/telegram/webhook"
WEBHOOK_SECRET = "cluster-webhook-secret"
# One look at an instance's /healthz: an instance that does not answer this fast counts as not
# answering (a busy machine answers within it; a dead one refuses at once).
HEALTH_TIMEOUT_SECONDS = 3.0
POLL_SECONDS = 0.1
TAIL_CHARACTERS = 4000


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class BotProcess:
    """`storerun run` as a child process, started and killed at will; its log goes to a file."""

    def __init__(self, environment: dict[str, str], workdir: Path, name: str = "bot") -> None:
        self.environment = environment
        self.workdir = workdir
        self.log_path = workdir / f"{name}.log"
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    @property
    def running(self) -> bool:
        """Started and not exited (a killed process counts as exited once it was waited for)."""
        return self.process is not None and self.process.returncode is None

    async def start(self) -> None:
        self.starts += 1
        with self.log_path.open("a") as log:
            log.write(f"--- start {self.starts} ---\n")
        log_file = self.log_path.open("a")
        try:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot.cli",
                "run",
                env=self.environment,
                cwd=self.workdir,
                stdout=log_file,
                stderr=log_file,
            )
        finally:
            log_file.close()

    async def kill(self) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> int:
        """SIGTERM and wait: the exit code of a clean stop."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.process.wait(), 30)
        if self.process.returncode is None:
            await self.kill()
        return int(self.process.returncode or 0)

    def check_alive(self) -> None:
        if self.process is not None and self.process.returncode is not None:
            raise RuntimeError(f"the bot exited by itself ({self.process.returncode}):\n{self.tail()}")

    def tail(self, characters: int = TAIL_CHARACTERS) -> str:
        """The end of the process's log (stdout and stderr)."""
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-characters:]


async def prepare_database(url: str, drivers: Iterable[int], *, online: bool = False) -> None:
    """The pilot's areas and stores, and approved drivers in Las Vegas (user id = chat id), online
    if asked: people who can press at once, without the enrolment journey."""
    db = Database.connect(url)
    try:
        await db.upgrade()
        await seed(db, read_pilot(PILOT_FILE))
        now = datetime.now(UTC)
        async with db.transaction() as tx:
            area = await tx.areas.by_slug("las-vegas")
            assert area is not None
            for user_id in drivers:
                driver_id = await tx.drivers.add(user_id, user_id, f"Driver {user_id}", now)
                await tx.drivers.set_status(driver_id, [Account.PENDING], Account.APPROVED)
                await tx.drivers.add_area(driver_id, area.id)
                if online:
                    await tx.drivers.update(driver_id, online=True, enrolled_at=now)
    finally:
        await db.close()


def async_postgres_url(url: str) -> str:
    """A PostgreSQL URL with the async driver storerun needs (postgresql://… as given by libpq tools)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


async def _on_server(server_url: str, statement: str) -> None:
    engine = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def scratch_database(server_url: str, prefix: str = "storerun_cluster") -> AsyncIterator[str]:
    """A new, empty PostgreSQL database on the server of `server_url`, dropped on the way out
    (connections still open to it included)."""
    server = async_postgres_url(server_url)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    await _on_server(server, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        await _on_server(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Instance:
    """One `storerun run` of the cluster: its number, its HTTP port and its process."""

    number: int
    port: int
    process: BotProcess
    down: bool = False  # killed or stopped by the cluster, not yet started again

    @property
    def name(self) -> str:
        return f"instance {self.number}"

    @property
    def base_url(self) -> str:
        """scheme://host:port of its HTTP server: where the load balancer sends its share."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process.running


class Cluster:
    """N instances of storerun on one database, and the emulator in this process in front of them.

    Use as ``async with Cluster(url, workdir, size=2, settings={...}) as cluster:``; the database
    must be upgraded and seeded already (see `prepare_database`). `settings` are environment
    settings every instance gets (MAX_OFFERS_HELD, LEADER_TAKEOVER_SECONDS, …). The emulator
    keeps Telegram's flood limits on unless `limits` is False.
    """

    def __init__(
        self,
        database_url: str,
        workdir: Path,
        *,
        size: int = 2,
        settings: Mapping[str, str] | None = None,
        limits: bool = True,
        admin_id: int = ADMIN_ID,
    ) -> None:
        if size < 1:
            raise ValueError("a cluster has at least one instance")
        self.database_url = database_url
        self.workdir = workdir
        self.size = size
        self.settings = dict(settings or {})
        self.limits = limits
        self.admin_id = admin_id
        self.instances = [
            Instance(number, free_port(), BotProcess({}, workdir, name=f"instance-{number}"))
            for number in range(1, size + 1)
        ]
        self.emulator = BotApiEmulator(
            token=TOKEN, webhook_spread=[instance.base_url for instance in self.instances]
        )
        self._http: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Self:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def webhook_url(self) -> str:
        """The one URL every instance sets: the first instance's (the emulator swaps its
        scheme://host:port for a random instance's on each POST)."""
        return f"{self.instances[0].base_url}{WEBHOOK_PATH}"

    def environment(self, instance: Instance) -> dict[str, str]:
        """What one instance's process reads: the shared settings, its own HTTP_LISTEN."""
        return {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": self.emulator.url,
            "DATABASE_URL": self.database_url,
            "ADMIN_IDS": str(self.admin_id),
            "LOG_LEVEL": "INFO",
            "REQUEST_TIMEOUT_SECONDS": "5",
            "WEBHOOK_URL": self.webhook_url,
            "WEBHOOK_SECRET": WEBHOOK_SECRET,
            **self.settings,
            "HTTP_LISTEN": f"127.0.0.1:{instance.port}",
        }

    async def start(self) -> None:
        """The emulator, then every instance; returns once each answers /healthz."""
        self._http = httpx.AsyncClient(timeout=HEALTH_TIMEOUT_SECONDS)
        await self.emulator.start()
        self.emulator.set_limits(enabled=self.limits)
        self.emulator.add_user(self.admin_id, "Ada", username="ada_admin")
        self.workdir.mkdir(parents=True, exist_ok=True)
        for instance in self.instances:
            instance.process.environment = self.environment(instance)
            await instance.process.start()
        for instance in self.instances:
            await self.wait_until_serving(instance)

    async def stop(self) -> None:
        """Every instance stopped (SIGTERM, then SIGKILL if it lingers), then the emulator."""
        for instance in self.instances:
            instance.down = True
        await asyncio.gather(
            *(instance.process.stop() for instance in self.instances if instance.running),
            return_exceptions=True,
        )
        await self.emulator.stop()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def kill(self, instance: Instance) -> None:
        """SIGKILL: no goodbye, connections cut, the leader's lock released by the server."""
        instance.down = True
        await instance.process.kill()

    async def restart(self, instance: Instance, *, wait: bool = True) -> None:
        """Start a stopped or killed instance again on its port; by default returns once it serves."""
        if instance.running:
            raise RuntimeError(f"{instance.name} is running")
        instance.down = False
        await instance.process.start()
        if wait:
            await self.wait_until_serving(instance)

    def running(self) -> list[Instance]:
        return [instance for instance in self.instances if instance.running]

    def check_alive(self) -> None:
        """Raise if an instance that was not killed has exited by itself (with its log's tail)."""
        for instance in self.instances:
            if not instance.down:
                try:
                    instance.process.check_alive()
                except RuntimeError as error:
                    raise RuntimeError(f"{instance.name}: {error}") from None

    async def health(self, instance: Instance) -> dict[str, Any] | None:
        """The instance's /healthz body when it answers 200, else None."""
        assert self._http is not None
        if not instance.running:
            return None
        try:
            response = await self._http.get(f"{instance.base_url}/healthz")
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        body: dict[str, Any] = response.json()
        return body

    async def wait_until_serving(self, instance: Instance, timeout: float = 90.0) -> None:
        """Until the instance's /healthz answers 200 (its database is ready and it takes updates)."""
        deadline = time.monotonic() + timeout
        while await self.health(instance) is None:
            instance.process.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{instance.name} did not serve within {timeout} s:\n{instance.process.tail()}"
                )
            await asyncio.sleep(POLL_SECONDS)

    async def leaders(self) -> list[Instance]:
        """Every running instance whose /healthz says it leads right now (one, or none while a
        takeover is under way)."""
        bodies = await asyncio.gather(*(self.health(instance) for instance in self.instances))
        return [
            instance
            for instance, body in zip(self.instances, bodies, strict=True)
            if body is not None and body.get("leader") is True
        ]

    async def leader(self) -> Instance | None:
        """The instance that leads, if exactly one says so."""
        found = await self.leaders()
        if len(found) > 1:
            raise AssertionError(f"two instances lead at once: {[instance.name for instance in found]}")
        return found[0] if found else None

    async def wait_for_leader(self, timeout: float = 60.0, *, besides: Instance | None = None) -> Instance:
        """Until some instance (other than `besides`, if given) reports that it leads."""
        deadline = time.monotonic() + timeout
        while True:
            found = await self.leader()
            if found is not None and found is not besides:
                return found
            self.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"no instance took the lead within {timeout} s:\n{self.tails()}")
            await asyncio.sleep(POLL_SECONDS)

    def tails(self, characters: int = TAIL_CHARACTERS) -> str:
        """The end of every instance's log, for a failure's report."""
        return "\n".join(
            f"===== {instance.name} ({instance.process.log_path}) =====\n{instance.process.tail(characters)}"
            for instance in self.instances
        )
