"""The running bot: `storerun run` as a process, and a clean stop that loses no stored update."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from bot import texts
from bot.app import StorerunBot
from dispatch.dispatcher import Dispatch, Person
from sandbox.emulator import BotApiEmulator
from storage import schema
from tests.e2e.conftest import TOKEN, BotFactory, free_port
from tests.e2e.words import EN

PEOPLE = range(6000, 6030)


async def test_a_stop_keeps_unapplied_updates_and_a_restart_applies_each_once(
    emulator: BotApiEmulator, start_bot: BotFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_who_is = Dispatch.who_is
    applying = asyncio.Event()

    async def who_is_on_a_slow_day(self: Dispatch, user_id: int, chat_id: int) -> Person:
        applying.set()
        await asyncio.sleep(0.1)
        return await slow_who_is(self, user_id, chat_id)

    monkeypatch.setattr(Dispatch, "who_is", who_is_on_a_slow_day)
    for person in PEOPLE:
        emulator.add_user(person, f"P{person}")
    first = await start_bot(inbox_concurrency=2)  # batches of 8: the stop comes before the last
    for person in PEOPLE:
        await emulator.send_text(person, "/start")
    # Every update fetched and stored, and the first batch being applied (a stop lets it finish):
    # on a busy machine a stop before any claim would leave nothing applied to check.
    while emulator.pending_updates or await _stored(first) < len(PEOPLE) or not applying.is_set():  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    await first.stop()

    assert emulator.confirmed_update_id == len(PEOPLE)  # Telegram forgets them: only the inbox has them
    async with first.db.read() as tx:
        status = dict(
            (await tx.connection.execute(select(schema.inbox.c.update_id, schema.inbox.c.status))).all()
        )
        replies = list((await tx.connection.execute(select(schema.outbox.c.chat_id))).scalars())
    done = [update_id for update_id, state in status.items() if state == "done"]
    assert len(status) == len(PEOPLE) and 0 < len(done) < len(PEOPLE)
    assert len(replies) == len(set(replies)) == len(done)  # one reply per applied update, in one commit

    await start_bot()
    for person in PEOPLE:
        await emulator.wait_for_message(person, EN(texts.WELCOME, name=f"P{person}"))
    second_look = [sum(1 for m in emulator.chat(p) if m.from_bot) for p in PEOPLE]
    assert second_look == [1] * len(PEOPLE)


async def _stored(bot: StorerunBot) -> int:
    async with bot.db.read() as tx:
        return int((await tx.connection.execute(select(func.count()).select_from(schema.inbox))).scalar_one())


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
        "HTTP_LISTEN": f"127.0.0.1:{free_port()}",
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
        await emulator.wait_for_message(6100, EN(texts.WELCOME, name="Rae"), timeout=30)
        async with httpx.AsyncClient() as client:
            health = await client.get(f"http://{environment['HTTP_LISTEN']}/healthz")
        assert health.status_code == 200 and health.json()["mode"] == "polling"
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    log = stderr.decode()
    assert process.returncode == 0, log
    assert "storerun stopped" in log
    assert TOKEN.split(":")[1] not in log
    assert "Traceback" not in log
