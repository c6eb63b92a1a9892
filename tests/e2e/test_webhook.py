"""Webhook mode through the real bot: Telegram's calls checked, stored before 200, applied once; health."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from bot import texts
from bot.app import StorerunBot
from bot.inbox import InboxWorker
from sandbox.emulator import BotApiEmulator
from storage import schema
from tests.e2e.conftest import BotFactory, free_port
from tests.e2e.words import EN

SECRET = "hook-Secret_42"
PERSON = 8300


async def _webhook_bot(start_bot: BotFactory, **overrides: Any) -> StorerunBot:
    port = free_port()
    return await start_bot(
        webhook_url=f"http://127.0.0.1:{port}/telegram/hook",
        webhook_secret=SECRET,
        http_listen=f"127.0.0.1:{port}",
        **overrides,
    )


def _base(bot: StorerunBot) -> str:
    host, _ = bot.settings.http_address
    assert bot.http is not None
    return f"http://{host}:{bot.http.port}"


async def _stored(bot: StorerunBot) -> int:
    async with bot.db.read() as tx:
        return int((await tx.connection.execute(select(func.count()).select_from(schema.inbox))).scalar_one())


def _replies(emulator: BotApiEmulator, user_id: int) -> int:
    return sum(1 for message in emulator.chat(user_id) if message.from_bot)


async def _settled(bot: StorerunBot, emulator: BotApiEmulator) -> None:
    for _ in range(200):
        if emulator.pending_updates == 0:
            break
        await asyncio.sleep(0.02)
    await bot.inbox.drain()
    await bot.sender.drain()


async def test_updates_come_by_webhook_and_get_updates_is_refused_meanwhile(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    bot = await _webhook_bot(start_bot)
    assert emulator.webhook_url.endswith("/telegram/hook")
    emulator.add_user(PERSON, "Wes")
    await emulator.send_text(PERSON, "/start")
    await emulator.wait_for_message(PERSON, EN(texts.WELCOME, name="Wes"))
    with pytest.raises(Exception, match="webhook is active"):
        await bot.application.bot.get_updates(timeout=0)


async def test_an_update_telegram_sends_again_is_applied_once(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    bot = await _webhook_bot(start_bot)
    emulator.add_user(PERSON, "Wes")
    update_id = await emulator.send_text(PERSON, "/help")
    await emulator.wait_for_message(PERSON, EN(texts.HELP_FOOTER))
    emulator.redeliver(update_id)
    await _settled(bot, emulator)
    assert _replies(emulator, PERSON) == 1
    assert await _stored(bot) == 1


async def test_an_update_the_bot_failed_to_store_is_sent_again_and_applied_once(
    emulator: BotApiEmulator, start_bot: BotFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_receive = InboxWorker.receive
    calls = 0

    async def receive_failing_once(self: InboxWorker, payloads: Any) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("the database is restarting")
        return await real_receive(self, payloads)

    monkeypatch.setattr(InboxWorker, "receive", receive_failing_once)
    bot = await _webhook_bot(start_bot)
    emulator.add_user(PERSON, "Wes")
    await emulator.send_text(PERSON, "/help")
    await emulator.wait_for_message(PERSON, EN(texts.HELP_FOOTER))
    await _settled(bot, emulator)
    assert calls == 2
    assert _replies(emulator, PERSON) == 1
    info = await bot.application.bot.get_webhook_info()
    assert info.last_error_message is not None and "500" in info.last_error_message


async def test_a_rush_of_posts_is_stored_in_a_few_transactions_each_answered_once_stored(
    emulator: BotApiEmulator, start_bot: BotFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_receive = InboxWorker.receive
    batches: list[int] = []

    async def counting_receive(self: InboxWorker, updates: Any) -> int:
        batches.append(len(updates))
        if len(batches) == 1:
            await asyncio.sleep(0.3)  # a slow first commit: the POSTs arriving meanwhile wait together
        return await real_receive(self, updates)

    monkeypatch.setattr(InboxWorker, "receive", counting_receive)
    bot = await _webhook_bot(start_bot)
    people = range(PERSON, PERSON + 40)
    for person in people:
        emulator.add_user(person, f"Person {person}")
    await asyncio.gather(*(emulator.send_text(person, "/help") for person in people))
    await _settled(bot, emulator)
    assert await _stored(bot) == 40 and sum(batches) == 40
    assert len(batches) < 40  # POSTs that arrived together shared a transaction
    assert all(_replies(emulator, person) == 1 for person in people)


async def test_calls_without_the_secret_or_with_a_body_that_is_no_update_store_nothing(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    bot = await _webhook_bot(start_bot)
    url = f"{_base(bot)}/telegram/hook"
    update = {"update_id": 99, "message": {"message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"}}}
    header = "X-Telegram-Bot-Api-Secret-Token"
    async with httpx.AsyncClient() as client:
        assert (await client.post(url, json=update)).status_code == 403
        assert (await client.post(url, json=update, headers={header: "wrong"})).status_code == 403
        good = {header: SECRET}
        too_big = json.dumps({**update, "padding": "x" * (1024 * 1024)})
        assert (await client.post(url, content=too_big, headers=good)).status_code == 400
        assert (await client.post(url, content=b"{not json", headers=good)).status_code == 400
        assert (await client.post(url, json=[update], headers=good)).status_code == 400
        assert (await client.post(url, json={"message": {}}, headers=good)).status_code == 400
    assert await _stored(bot) == 0


async def test_health_and_metrics_in_polling_mode(emulator: BotApiEmulator, start_bot: BotFactory) -> None:
    bot = await start_bot(http_listen=f"127.0.0.1:{free_port()}")
    emulator.add_user(PERSON, "Wes")
    await emulator.send_text(PERSON, "/help")
    await emulator.wait_for_message(PERSON, EN(texts.HELP_FOOTER))
    await bot.sender.drain()
    async with httpx.AsyncClient() as client:
        health = await client.get(f"{_base(bot)}/healthz")
        metrics = (await client.get(f"{_base(bot)}/metrics")).text
    assert health.status_code == 200
    body = health.json()
    assert body["database"] == "ok" and body["mode"] == "polling"
    assert body["inbox_pending"] == 0 and body["outbox_pending"] == 0
    assert 0 <= body["last_update_age_seconds"] < 60
    assert {"outbox_oldest_pending_seconds", "deadlines_pending"} <= set(body)
    assert 'storerun_updates_received_total{kind="command"} 1.0' in metrics
    assert 'storerun_updates_applied_total{kind="command"} 1.0' in metrics
    assert 'storerun_bot_api_calls_total{method="sendMessage",outcome="sent"}' in metrics
    assert "storerun_update_apply_seconds_bucket" in metrics


@pytest.mark.postgres
async def test_healthz_is_503_while_the_database_is_gone(
    emulator: BotApiEmulator, start_bot: BotFactory, postgres_scratch_url: str
) -> None:
    from sqlalchemy import make_url

    from tests.conftest import _admin

    await _admin(postgres_scratch_url, "DROP SCHEMA public CASCADE", "CREATE SCHEMA public")
    bot = await start_bot(database_url=postgres_scratch_url, http_listen=f"127.0.0.1:{free_port()}")
    name = make_url(postgres_scratch_url).database
    server = make_url(postgres_scratch_url).set(database="postgres").render_as_string(hide_password=False)
    engine = create_async_engine(server, isolation_level="AUTOCOMMIT")
    try:
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{_base(bot)}/healthz")).status_code == 200
            async with engine.connect() as admin:
                await admin.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
                await admin.execute(
                    text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
                )
            gone = await client.get(f"{_base(bot)}/healthz")
            assert gone.status_code == 503 and gone.json()["database"] == "unreachable"
            async with engine.connect() as admin:
                await admin.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
            assert (await client.get(f"{_base(bot)}/healthz")).status_code == 200
    finally:
        async with engine.connect() as admin:
            await admin.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        await engine.dispose()
