"""End-to-end fixtures: the Bot API emulator on loopback and the real bot polling it."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.app import StorerunBot
from bot.config import Settings, load_settings
from dispatch.pilot import PILOT_FILE, read_pilot, seed
from sandbox.emulator import BotApiEmulator

ADMIN_ID = 1000
TOKEN = "123456:TEST-TOKEN"

BotFactory = Callable[..., Coroutine[Any, Any, StorerunBot]]


@pytest_asyncio.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(token=TOKEN) as running:
        running.add_user(ADMIN_ID, "Ada", username="ada_admin")
        yield running


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def make_settings(emulator: BotApiEmulator, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "telegram_bot_token": TOKEN,
        "telegram_api_url": emulator.url,
        "database_url": database_url,
        "admin_ids": str(ADMIN_ID),
        "request_timeout_seconds": 2,
        # The emulator's limits are off unless a test turns them on; so is the sender's spacing.
        "outbox_chat_interval_seconds": 0,
        "http_listen": "",  # tests that need the HTTP server give it a free port
        "award_window_seconds": 0,  # first Accept wins, unless a test collects accepts in a window
        **overrides,
    }
    return load_settings(_env_file=None, **values)


@pytest_asyncio.fixture
async def start_bot(emulator: BotApiEmulator, sqlite_url: str) -> AsyncIterator[BotFactory]:
    """Starts storerun against the emulator (seeded with the pilot); stops every one started."""
    started: list[StorerunBot] = []

    async def start(**overrides: Any) -> StorerunBot:
        database_url = overrides.pop("database_url", sqlite_url)
        clock = overrides.pop("clock", None)
        bot = StorerunBot(make_settings(emulator, database_url, **overrides), clock=clock)
        await bot.db.upgrade()
        await seed(bot.db, read_pilot(PILOT_FILE))
        await bot.start()
        started.append(bot)
        return bot

    yield start
    for bot in started:
        await bot.stop()  # a no-op for one the test stopped itself


@pytest_asyncio.fixture
async def storerun(start_bot: BotFactory) -> StorerunBot:
    return await start_bot()


@pytest.fixture
def pilot_file() -> Path:
    return PILOT_FILE
