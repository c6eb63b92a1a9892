"""`storerun run` when something is wrong at start: it waits out what heals, and says the rest in one line."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot import texts
from sandbox.emulator import BotApiEmulator
from tests.e2e.conftest import TOKEN
from tests.e2e.words import EN

PASSWORD = "s3cr3t-pw"
UNREACHABLE_DATABASE = f"postgresql+asyncpg://postgres:{PASSWORD}@127.0.0.1:1/storerun"
ADMIN_WARNING = "ADMIN_IDS is empty: nobody can approve drivers or run admin commands"


@dataclass
class Ended:
    """How a `storerun` process ended."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stderr.splitlines()


def environment_for(emulator: BotApiEmulator, tmp_path: Path, **overrides: str) -> dict[str, str]:
    return {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": emulator.url,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'run.db'}",
        "ADMIN_IDS": "1000",
        "HTTP_LISTEN": "",  # no fixed port to collide on; polling needs no HTTP server
        **overrides,
    }


async def start_storerun(
    environment: dict[str, str], cwd: Path, *arguments: str
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        *(arguments or ("run",)),
        env=environment,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def storerun_until_it_ends(environment: dict[str, str], cwd: Path, *arguments: str) -> Ended:
    process = await start_storerun(environment, cwd, *arguments)
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return Ended(process.returncode, stdout.decode(), stderr.decode())


async def stop(process: asyncio.subprocess.Process) -> Ended:
    process.send_signal(signal.SIGTERM)
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode is not None
    return Ended(process.returncode, stdout.decode(), stderr.decode())


def assert_said_in_one_line(ended: Ended, line: str) -> None:
    assert ended.returncode == 2, ended.stderr
    assert ended.stdout == ""
    assert ended.lines == [line], ended.stderr


async def test_a_rejected_token_is_one_line_without_the_token(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    someone_elses = "654321:SOMEONE-ELSES-SECRET"
    # At WARNING nothing but problems is logged, so the one line is all there is.
    environment = environment_for(emulator, tmp_path, TELEGRAM_BOT_TOKEN=someone_elses, LOG_LEVEL="WARNING")

    ended = await storerun_until_it_ends(environment, tmp_path)

    assert_said_in_one_line(ended, "storerun: the Bot API rejected TELEGRAM_BOT_TOKEN")
    assert emulator.stats.calls["getMe"] == 1


async def test_the_placeholder_token_is_one_line(emulator: BotApiEmulator, tmp_path: Path) -> None:
    environment = environment_for(emulator, tmp_path, TELEGRAM_BOT_TOKEN="123456:replace-with-your-token")

    ended = await storerun_until_it_ends(environment, tmp_path)

    assert_said_in_one_line(
        ended,
        "storerun: configuration error: TELEGRAM_BOT_TOKEN is the placeholder from .env.example: "
        "set your bot's token from @BotFather",
    )
    assert emulator.stats.calls["getMe"] == 0


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("not a url", "is not a database URL"),
        (f"postgresql://u:{PASSWORD}@db.example/storerun", "needs the async driver: postgresql+asyncpg://"),
        ("sqlite:///storerun.db", "needs the async driver: sqlite+aiosqlite:///"),
        (f"mysql://u:{PASSWORD}@db.example/storerun", "must be postgresql+asyncpg://"),
    ],
)
@pytest.mark.parametrize("command", [("run",), ("db", "upgrade"), ("seed",)])
async def test_a_database_url_mistake_is_one_line_naming_database_url(
    emulator: BotApiEmulator, tmp_path: Path, url: str, problem: str, command: tuple[str, ...]
) -> None:
    ended = await storerun_until_it_ends(
        environment_for(emulator, tmp_path, DATABASE_URL=url), tmp_path, *command
    )

    assert ended.returncode == 2, ended.stderr
    assert len(ended.lines) == 1, ended.stderr
    assert ended.lines[0].startswith(f"storerun: configuration error: DATABASE_URL {problem}")
    assert PASSWORD not in ended.stderr and "Traceback" not in ended.stderr


@pytest.mark.parametrize("command", [("run",), ("db", "upgrade"), ("seed",)])
async def test_an_unreachable_database_is_retried_then_one_line_naming_database_url(
    emulator: BotApiEmulator, tmp_path: Path, command: tuple[str, ...]
) -> None:
    environment = environment_for(
        emulator, tmp_path, DATABASE_URL=UNREACHABLE_DATABASE, DATABASE_CONNECT_TIMEOUT_SECONDS="1"
    )

    ended = await storerun_until_it_ends(environment, tmp_path, *command)

    assert ended.returncode == 2, ended.stderr
    assert PASSWORD not in ended.stderr and "Traceback" not in ended.stderr
    assert [line for line in ended.lines if "DATABASE_URL" in line] == [ended.lines[-1]]
    masked = UNREACHABLE_DATABASE.replace(PASSWORD, "***")
    assert ended.lines[-1].startswith(f"storerun: cannot reach the database at DATABASE_URL={masked}: ")
    retries = [line for line in ended.lines if " WARNING " in line]
    assert retries and all(" bot.startup: connecting to the database failed (" in line for line in retries)
    assert emulator.stats.calls["getMe"] == 0


async def test_without_admins_the_bot_starts_and_warns_that_nobody_can_approve_drivers(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    process = await start_storerun(environment_for(emulator, tmp_path, ADMIN_IDS=""), tmp_path)
    try:
        emulator.add_user(6200, "Noa")
        await emulator.send_text(6200, "/start")
        await emulator.wait_for_message(6200, EN(texts.WELCOME, name="Noa"), timeout=30)
    finally:
        ended = await stop(process)

    assert ended.returncode == 0, ended.stderr
    assert sum(ADMIN_WARNING in line for line in ended.lines) == 1, ended.stderr
    assert "Traceback" not in ended.stderr


async def test_a_bad_gateway_on_get_me_at_start_is_retried_and_the_bot_then_answers(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    emulator.fail_next("getMe", status=502)
    process = await start_storerun(environment_for(emulator, tmp_path), tmp_path)
    try:
        emulator.add_user(6300, "Ira")
        await emulator.send_text(6300, "/start")
        await emulator.wait_for_message(6300, EN(texts.WELCOME, name="Ira"), timeout=30)
    finally:
        ended = await stop(process)

    assert ended.returncode == 0, ended.stderr
    retries = [line for line in ended.lines if "WARNING" in line]
    assert len(retries) == 1, ended.stderr
    assert "getMe failed (Bad Gateway); retrying in " in retries[0]
    assert "Traceback" not in ended.stderr
    assert TOKEN.split(":")[1] not in ended.stderr
    assert emulator.stats.calls["getMe"] >= 2


async def test_a_port_in_use_is_one_line_naming_http_listen(emulator: BotApiEmulator, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        environment = environment_for(emulator, tmp_path, HTTP_LISTEN=address, LOG_LEVEL="WARNING")

        ended = await storerun_until_it_ends(environment, tmp_path)

    assert ended.returncode == 2, ended.stderr
    assert ended.lines[-1].startswith(f"storerun: HTTP_LISTEN: cannot listen on {address}"), ended.stderr
    assert "Traceback" not in ended.stderr
