"""The running bot: `storerun run` as a process, and a clean stop that loses no fetched update."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from dispatch.dispatcher import Dispatch, Person
from sandbox.emulator import BotApiEmulator
from storage import schema
from tests.e2e.conftest import TOKEN, BotFactory

PEOPLE = range(6000, 6030)


async def test_a_stop_finishes_every_fetched_update_and_a_restart_sends_the_rest(
    emulator: BotApiEmulator, start_bot: BotFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_who_is = Dispatch.who_is

    async def who_is_on_a_slow_day(self: Dispatch, user_id: int, chat_id: int) -> Person:
        await asyncio.sleep(0.3)
        return await slow_who_is(self, user_id, chat_id)

    monkeypatch.setattr(Dispatch, "who_is", who_is_on_a_slow_day)
    for person in PEOPLE:
        emulator.add_user(person, f"P{person}")
    first = await start_bot()
    for person in PEOPLE:
        await emulator.send_text(person, "/start")
    await asyncio.sleep(0.1)  # fetched and confirmed, still being handled
    assert emulator.confirmed_update_id > 0
    await first.stop()

    confirmed = emulator.confirmed_update_id
    async with first.db.transaction() as tx:
        handled = set((await tx.connection.execute(select(schema.processed_updates.c.update_id))).scalars())
        replies = set((await tx.connection.execute(select(schema.outbox.c.chat_id))).scalars())
    assert set(range(1, confirmed + 1)) <= handled  # Telegram forgets confirmed updates: none lost
    assert len(replies) == len(handled)
    assert first.sender.stats.sent < len(PEOPLE)  # the rest waits in the outbox for the restart

    await start_bot()
    for person in PEOPLE:
        await emulator.wait_for_message(person, f"Hi P{person}")
    second_look = [sum(1 for m in emulator.chat(p) if m.from_bot) for p in PEOPLE]
    assert second_look == [1] * len(PEOPLE)


async def test_storerun_run_polls_answers_and_stops_on_sigterm(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    environment = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": emulator.url,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'run.db'}",
        "ADMIN_IDS": "1000",
        "LOG_LEVEL": "DEBUG",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        env=environment,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        emulator.add_user(6100, "Rae")
        await emulator.send_text(6100, "/start")
        await emulator.wait_for_message(6100, "Hi Rae", timeout=30)
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    log = stderr.decode()
    assert process.returncode == 0, log
    assert "storerun stopped" in log
    assert TOKEN.split(":")[1] not in log
    assert "Traceback" not in log
