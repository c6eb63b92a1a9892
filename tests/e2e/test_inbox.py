"""The durable inbox through the real bot: failing handlers retried then parked, presses that stand."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot import keyboards, texts
from bot.app import StorerunBot
from dispatch.dispatcher import Dispatch, Person
from dispatch.drivers import Availability
from dispatch.outbox import Delivery, Outgoing
from sandbox.emulator import BotApiEmulator
from storage import schema
from tests.e2e.conftest import TOKEN, BotFactory, make_settings
from tests.e2e.words import EN

HELP_AGAIN = EN(texts.HELP_FOOTER)  # the last words of every /help
ONLINE = EN(texts.AVAILABILITY[Availability.ONLINE])

PERSON = 8100
DRIVER = 8200


async def _inbox(bot: StorerunBot) -> dict[int, tuple[str, int, str | None]]:
    i = schema.inbox
    async with bot.db.read() as tx:
        rows = await tx.connection.execute(select(i.c.update_id, i.c.status, i.c.attempts, i.c.error))
        return {update_id: (status, attempts, error) for update_id, status, attempts, error in rows}


def _said(emulator: BotApiEmulator, user_id: int, text: str) -> int:
    return sum(1 for message in emulator.chat(user_id) if message.from_bot and text in (message.text or ""))


async def test_a_handler_that_keeps_failing_is_parked_the_person_told_once_and_their_next_update_goes_on(
    emulator: BotApiEmulator,
    start_bot: BotFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    real_who_is = Dispatch.who_is
    tries = 0

    async def who_is_failing_after_a_write(self: Dispatch, user_id: int, chat_id: int) -> Person:
        nonlocal tries
        if user_id == PERSON:
            tries += 1
            await self.send(Outgoing(chat_id, Delivery.MESSAGE, {"text": "half done"}))
            raise KeyError("a bug in the help text")
        return await real_who_is(self, user_id, chat_id)

    monkeypatch.setattr(Dispatch, "who_is", who_is_failing_after_a_write)
    emulator.add_user(PERSON, "Pat")
    bot = await start_bot(inbox_max_attempts=3)
    with caplog.at_level(logging.INFO):
        failing = await emulator.send_text(PERSON, "/help")
        await emulator.send_text(PERSON, "hello")  # answered without who_is
        await emulator.wait_for_message(PERSON, texts.SOMETHING_WENT_WRONG, timeout=15)
        await emulator.wait_for_message(PERSON, texts.NOT_UNDERSTOOD, timeout=15)
        await bot.sender.drain()

    assert tries == 3
    assert _said(emulator, PERSON, texts.SOMETHING_WENT_WRONG) == 1
    assert _said(emulator, PERSON, "half done") == 0  # each try's writes were rolled back
    status, attempts, error = (await _inbox(bot))[failing]
    assert (status, attempts) == ("parked", 3) and error is not None and "KeyError" in error
    with_traceback = [record for record in caplog.records if record.exc_info is not None]
    assert len(with_traceback) == 1 and "parked" in with_traceback[0].getMessage()
    retries = [record for record in caplog.records if "try 2 of 3" in record.getMessage()]
    assert len(retries) == 1


async def test_a_handler_that_fails_once_is_applied_once_on_the_next_try(
    emulator: BotApiEmulator, start_bot: BotFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_who_is = Dispatch.who_is
    tries = 0

    async def who_is_failing_once(self: Dispatch, user_id: int, chat_id: int) -> Person:
        nonlocal tries
        tries += 1
        person = await real_who_is(self, user_id, chat_id)
        await self.send(Outgoing(chat_id, Delivery.MESSAGE, {"text": f"try {tries}"}))
        if tries == 1:
            raise ConnectionResetError("the database went away for a moment")
        return person

    monkeypatch.setattr(Dispatch, "who_is", who_is_failing_once)
    emulator.add_user(PERSON, "Pat")
    bot = await start_bot()
    update_id = await emulator.send_text(PERSON, "/help")
    await emulator.wait_for_message(PERSON, HELP_AGAIN, timeout=15)
    await bot.sender.drain()
    assert next(m.text for m in emulator.chat(PERSON) if m.from_bot) == "try 2"
    assert _said(emulator, PERSON, "try 1") == 0
    assert _said(emulator, PERSON, texts.SOMETHING_WENT_WRONG) == 0
    assert (await _inbox(bot))[update_id][:2] == ("done", 2)


async def _approved_driver(bot: StorerunBot, user_id: int) -> None:
    async with bot.db.transaction() as tx:
        driver_id = await tx.drivers.add(user_id, user_id, "Dee", datetime.now(UTC))
        await tx.drivers.set_status(driver_id, ["pending"], "approved")


async def test_a_press_whose_answer_fails_with_a_5xx_stands_and_is_not_contradicted(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    emulator.add_user(DRIVER, "Dee")
    bot = await start_bot()
    await _approved_driver(bot, DRIVER)
    await emulator.send_text(DRIVER, "/status")
    await emulator.wait_for_message(DRIVER, lambda message: EN(keyboards.GO_ONLINE) in message.buttons)
    emulator.fail_next("answerCallbackQuery", status=502)
    press = await emulator.press(DRIVER, EN(keyboards.GO_ONLINE), timeout=2)
    assert not press.answered
    await emulator.wait_for_message(DRIVER, ONLINE)
    await bot.inbox.drain()
    await bot.sender.drain()
    async with bot.db.read() as tx:
        driver = await tx.drivers.by_telegram_id(DRIVER)
    assert driver is not None and driver.online
    assert _said(emulator, DRIVER, texts.SOMETHING_WENT_WRONG) == 0


async def test_a_press_applied_after_its_query_is_too_old_shows_its_effect_without_an_error(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with BotApiEmulator(token=TOKEN, callback_query_ttl=0.3) as emulator:
        emulator.add_user(DRIVER, "Dee")
        first = StorerunBot(make_settings(emulator, sqlite_url))
        await first.db.upgrade()
        await first.start()
        await _approved_driver(first, DRIVER)
        await emulator.send_text(DRIVER, "/status")
        await emulator.wait_for_message(DRIVER, lambda message: EN(keyboards.GO_ONLINE) in message.buttons)
        await first.sender.drain()
        await first.stop()  # the bot is down when the driver presses

        press = await emulator.press(DRIVER, EN(keyboards.GO_ONLINE), timeout=0.5)
        assert not press.answered
        second = StorerunBot(make_settings(emulator, sqlite_url))
        with caplog.at_level(logging.INFO, logger="bot.inbox"):
            await second.start()
            try:
                await emulator.wait_for_message(DRIVER, ONLINE)
                await second.inbox.drain()
                await second.sender.drain()
            finally:
                await second.stop()
    assert _said(emulator, DRIVER, texts.SOMETHING_WENT_WRONG) == 0
    assert any("applied but not answered" in record.getMessage() for record in caplog.records)
    assert all(record.levelno < logging.ERROR for record in caplog.records)


async def test_polling_through_an_outage_logs_one_line_per_retry_and_one_when_it_works_again(
    emulator: BotApiEmulator, start_bot: BotFactory, caplog: pytest.LogCaptureFixture
) -> None:
    await start_bot()
    emulator.add_user(PERSON, "Pat")
    with caplog.at_level(logging.INFO, logger="bot.inbox"):
        emulator.fail_next("getUpdates", status=502, times=3)
        await emulator.send_text(PERSON, "/help")
        await emulator.wait_for_message(PERSON, HELP_AGAIN, timeout=20)
    failed = [record for record in caplog.records if "getUpdates failed" in record.getMessage()]
    back = [record for record in caplog.records if "works again" in record.getMessage()]
    assert 1 <= len(failed) <= 3 and len(back) == 1
    assert all(record.exc_info is None for record in caplog.records)


async def test_each_chat_is_answered_in_order_once_while_chats_go_in_parallel(
    emulator: BotApiEmulator, start_bot: BotFactory, database_url: str
) -> None:
    bot = await start_bot(database_url=database_url)
    people = range(8400, 8430)
    for person in people:
        emulator.add_user(person, f"P{person}")
    for round_ in range(3):
        for person in people:
            await emulator.send_text(person, "/help" if round_ != 1 else f"note {round_}")
    for person in people:
        await emulator.wait_for_message(person, HELP_AGAIN, timeout=30)
    await bot.inbox.drain()
    await bot.sender.drain()
    for person in people:
        replies = [m.text or "" for m in emulator.chat(person) if m.from_bot]
        assert len(replies) == 3, emulator.transcript(person)
        assert HELP_AGAIN in replies[0]
        assert replies[1] == EN(texts.NOT_UNDERSTOOD)
        assert HELP_AGAIN in replies[2]
    assert set((await _inbox(bot)).values()) == {("done", 1, None)}


async def test_applied_updates_are_forgotten_after_the_retention_and_parked_ones_are_kept(
    emulator: BotApiEmulator, start_bot: BotFactory, sqlite_url: str
) -> None:
    from storage.db import Database
    from storage.repos import InboxEntry

    long_ago = datetime.now(UTC) - timedelta(days=8)
    db = Database.connect(sqlite_url)
    await db.upgrade()
    async with db.transaction() as tx:
        old = [InboxEntry(update_id, 1, "message", "{}") for update_id in (1, 2)]
        await tx.inbox.store(old, long_ago)
        await tx.inbox.mark_done([1], long_ago)
        await tx.inbox.park(2, attempts=5, error="KeyError: 'x'", at=long_ago)
    await db.close()

    bot = await start_bot(inbox_retention_seconds=7 * 86400)
    for _ in range(100):
        if 1 not in await _inbox(bot):
            break
        await asyncio.sleep(0.05)
    assert list(await _inbox(bot)) == [2]
