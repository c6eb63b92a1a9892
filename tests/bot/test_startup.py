"""Start-up against a flaky Bot API and an absent database: it waits, says so in one line, never leaks."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import inspect, make_url, text
from telegram.error import BadRequest

from bot.app import build_application
from bot.config import ConfigError, Settings, load_settings
from bot.startup import RejectedToken, call_bot_api, introduce, open_database
from sandbox.emulator import BotApiEmulator

TOKEN = "123456:STARTUP-SECRET-TOKEN"
ADMIN_ID = 1000
ALLOWED_UPDATES = ["message", "callback_query"]
REQUEST_TIMEOUT = 0.5
STALL = REQUEST_TIMEOUT + 1.0
WEBHOOK_URL = "http://127.0.0.1:9/telegram"


@pytest_asyncio.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(token=TOKEN) as running:
        running.add_user(ADMIN_ID, "Ada")
        yield running


@pytest.fixture(autouse=True)
def log_like_storerun(caplog: pytest.LogCaptureFixture) -> None:
    for noisy in ("httpx", "httpcore"):  # as `storerun run` does: their lines carry the token
        caplog.set_level(logging.WARNING, logger=noisy)
    caplog.set_level(logging.INFO)  # last: it sets the capturing handler's level too


def settings_for(api_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "telegram_bot_token": TOKEN,
        "telegram_api_url": api_url,
        "admin_ids": str(ADMIN_ID),
        "request_timeout_seconds": REQUEST_TIMEOUT,
        **overrides,
    }
    return load_settings(_env_file=None, **values)


async def introduce_to(settings: Settings) -> None:
    application = build_application(settings)
    try:
        await introduce(application, settings, allowed_updates=ALLOWED_UPDATES)
    finally:
        await application.shutdown()


def warnings_in(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING]


async def eventually(condition: Callable[[], bool], timeout: float = 10) -> None:
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("it did not happen in time")


def assert_no_traceback_and_no_token(caplog: pytest.LogCaptureFixture) -> None:
    for record in caplog.records:
        assert record.exc_info is None, record.getMessage()
        assert TOKEN not in record.getMessage() and TOKEN.split(":")[1] not in record.getMessage()


@pytest.mark.parametrize(
    ("method", "mode"),
    [
        ("getMe", {}),
        ("setMyCommands", {}),
        ("deleteWebhook", {}),
        ("setWebhook", {"webhook_url": WEBHOOK_URL, "webhook_secret": "hook-secret"}),
    ],
)
async def test_a_bad_gateway_a_timeout_and_flood_control_at_start_are_waited_out(
    emulator: BotApiEmulator,
    caplog: pytest.LogCaptureFixture,
    method: str,
    mode: dict[str, str],
) -> None:
    emulator.fail_next(method, status=502)
    emulator.stall_next(method, seconds=STALL)  # longer than the request timeout
    emulator.fail_next(method, status=429, retry_after=1)

    await introduce_to(settings_for(emulator.url, **mode))

    retries = warnings_in(caplog)
    assert len(retries) == 3, retries
    for retry, reason in zip(retries, ["Bad Gateway", "Timed out", "Too Many Requests"], strict=True):
        assert retry.startswith(f"{method} failed ({reason}); retrying in "), retry
    assert retries[2].endswith("retrying in 1.0 s")  # Telegram's retry_after, not our backoff
    assert f"{method} succeeded after 4 attempts" in caplog.messages
    assert_no_traceback_and_no_token(caplog)
    assert emulator.stats.calls[method] >= 4


async def test_a_polling_bot_drops_its_webhook_and_sets_both_menus(
    emulator: BotApiEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    await introduce_to(settings_for(emulator.url))

    assert emulator.stats.calls["getMe"] == 1
    assert emulator.stats.calls["setMyCommands"] == 4  # everyone's menu and the admin's, in both languages
    assert emulator.stats.calls["deleteWebhook"] == 1 and emulator.stats.calls["setWebhook"] == 0
    assert warnings_in(caplog) == []


async def test_a_webhook_bot_sets_its_webhook_and_keeps_pending_updates(emulator: BotApiEmulator) -> None:
    await introduce_to(settings_for(emulator.url, webhook_url=WEBHOOK_URL, webhook_secret="hook-secret"))

    assert emulator.stats.calls["setWebhook"] == 1 and emulator.stats.calls["deleteWebhook"] == 0


async def test_without_admins_the_bot_starts_and_warns_once_that_nobody_can_approve_drivers(
    emulator: BotApiEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    await introduce_to(settings_for(emulator.url, admin_ids=""))

    assert warnings_in(caplog) == ["ADMIN_IDS is empty: nobody can approve drivers or run admin commands"]
    assert emulator.stats.calls["setMyCommands"] == 2  # everyone's menu, in both languages


async def test_a_rejected_token_is_reported_at_once_without_the_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with BotApiEmulator(token="654321:SOMEONE-ELSES-TOKEN") as other_bots_api:
        with pytest.raises(RejectedToken) as caught:
            await introduce_to(settings_for(other_bots_api.url))
        assert other_bots_api.stats.calls["getMe"] == 1

    assert str(caught.value) == "the Bot API rejected TELEGRAM_BOT_TOKEN"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert warnings_in(caplog) == []
    assert_no_traceback_and_no_token(caplog)


async def test_a_bad_request_is_not_asked_again() -> None:
    calls = 0

    async def refused() -> None:
        nonlocal calls
        calls += 1
        raise BadRequest("Bad Request: chat not found")

    with pytest.raises(BadRequest):
        await asyncio.wait_for(call_bot_api("setMyCommands", refused), timeout=5)
    assert calls == 1


async def test_a_stop_while_waiting_between_attempts_ends_the_start_at_once(
    emulator: BotApiEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.fail_next("getMe", status=502, times=1000)
    starting = asyncio.create_task(introduce_to(settings_for(emulator.url)))
    await eventually(lambda: bool(warnings_in(caplog)))

    starting.cancel()
    began = time.monotonic()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(starting, timeout=1)
    assert time.monotonic() - began < 0.5


async def test_a_stop_during_a_call_that_hangs_ends_the_start_at_once(emulator: BotApiEmulator) -> None:
    emulator.stall_next("getMe", seconds=30)
    starting = asyncio.create_task(introduce_to(settings_for(emulator.url, request_timeout_seconds=20)))
    await eventually(lambda: emulator.stats.calls["getMe"] > 0)

    starting.cancel()
    began = time.monotonic()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(starting, timeout=1)
    assert time.monotonic() - began < 0.5


async def test_an_unreachable_database_is_retried_then_named_without_its_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    began = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        await open_database("postgresql+asyncpg://postgres:pw@127.0.0.1:1/x", timeout_seconds=1)

    assert 1 <= time.monotonic() - began < 5
    message = str(caught.value)
    assert message.startswith("cannot reach the database at DATABASE_URL=postgresql+asyncpg://postgres:***@")
    assert "pw" not in message and "\n" not in message
    retries = warnings_in(caplog)
    assert retries and all(retry.startswith("connecting to the database failed (") for retry in retries)
    assert not any("pw" in retry for retry in retries)
    assert_no_traceback_and_no_token(caplog)


async def test_an_sqlite_file_that_cannot_be_opened_is_named_at_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'no-such-directory' / 'storerun.db'}"
    with pytest.raises(
        ConfigError,
        match=r"^cannot reach the database at DATABASE_URL=sqlite\+aiosqlite:///.*: "
        r"unable to open database file$",
    ):
        await open_database(url, timeout_seconds=30)
    assert warnings_in(caplog) == []


async def test_a_reachable_database_is_opened_upgraded(tmp_path: Path) -> None:
    db = await open_database(f"sqlite+aiosqlite:///{tmp_path / 'storerun.db'}", timeout_seconds=1)
    try:
        async with db.engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await db.close()
    assert "alembic_version" in tables and "offers" in tables


@pytest.mark.postgres
async def test_a_database_that_does_not_exist_is_named_at_once(
    postgres_scratch_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = make_url(postgres_scratch_url).set(database="storerun_no_such_database", password="pw")
    began = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        await open_database(url.render_as_string(hide_password=False), timeout_seconds=30)

    assert time.monotonic() - began < 5
    assert 'database "storerun_no_such_database" does not exist' in str(caught.value)
    assert "DATABASE_URL=" in str(caught.value) and "pw" not in str(caught.value)
    assert warnings_in(caplog) == []


async def test_a_database_made_by_a_newer_storerun_is_named_not_a_traceback(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'newer.db'}"
    db = await open_database(url, timeout_seconds=1)
    async with db.transaction() as tx:
        await tx.connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    await db.close()
    with pytest.raises(ConfigError) as caught:
        await open_database(url, timeout_seconds=1)
    message = str(caught.value)
    assert message.startswith("the database at DATABASE_URL=") and "9999" in message
    assert "newer storerun" in message
