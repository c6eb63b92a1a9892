"""Journeys of the running bot through the emulator: /start and /help for every kind of person."""

from __future__ import annotations

import asyncio

from bot import commands, texts
from bot.app import StorerunBot
from sandbox.emulator import BotApiEmulator
from storage.records import Account
from tests.e2e.conftest import ADMIN_ID
from tests.e2e.words import EN, part

STRANGER = 2001


async def test_a_stranger_is_welcomed_and_told_what_they_can_do(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    emulator.add_user(STRANGER, "Sam Rivera", username="samr")
    await emulator.send_text(STRANGER, "/start")
    answer = await emulator.wait_for_message(STRANGER, EN(texts.WELCOME, name="Sam"))
    assert EN(texts.PICK_AREA) in (answer.text or "")
    assert answer.buttons == ["Fashion Show, Las Vegas Strip", "Chandler, AZ", "Tysons Corner, VA"]


async def test_the_admin_is_told_they_are_an_admin(emulator: BotApiEmulator, storerun: StorerunBot) -> None:
    await emulator.send_text(ADMIN_ID, "/help")
    answer = await emulator.wait_for_message(ADMIN_ID, EN(texts.ADMIN))
    assert part(texts.WELCOME) not in (answer.text or "")


async def test_a_pending_driver_hears_their_application_waits(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    emulator.add_user(3001, "Dana")
    async with storerun.db.transaction() as tx:
        await tx.drivers.add(3001, 3001, "Dana", storerun.clock.now())
    await emulator.send_text(3001, "/start")
    await emulator.wait_for_message(3001, EN(texts.DRIVER_BY_STATUS[Account.PENDING]))


async def test_store_staff_are_told_which_store_they_serve(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    emulator.add_user(4001, "Kim")
    async with storerun.db.transaction() as tx:
        zara = await tx.stores.by_code("FS-ZARA")
        assert zara is not None
        await tx.stores.link_staff(zara.id, 4001, 4001, storerun.clock.now())
    await emulator.send_text(4001, "/help")
    await emulator.wait_for_message(4001, EN(texts.STAFF, stores="Zara (FS-ZARA)"))


async def test_commands_are_registered_with_telegram(emulator: BotApiEmulator, storerun: StorerunBot) -> None:
    registered = await storerun.application.bot.get_my_commands()
    names = [command.command for command in registered]
    assert names == [name for name, _ in commands.menu(EN, commands.EVERYONE_MENU)]


async def test_unexpected_text_gets_a_short_pointer_to_help(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    emulator.add_user(STRANGER, "Sam")
    await emulator.send_text(STRANGER, "where is my money??")
    await emulator.wait_for_message(STRANGER, EN(texts.NOT_UNDERSTOOD))


async def test_a_forged_button_is_refused_and_changes_nothing(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    emulator.add_user(STRANGER, "Sam")
    await emulator.send_text(STRANGER, "/start")
    welcome = await emulator.wait_for_message(STRANGER, EN(texts.WELCOME, name="Sam"))
    before = [m for m in emulator.chat(STRANGER) if m.from_bot]
    result = await emulator.press_callback(STRANGER, welcome.message_id, "v1:accept:99999")
    assert result.answered and result.text == EN(texts.STALE_BUTTON)
    assert [m for m in emulator.chat(STRANGER) if m.from_bot] == before  # no message sent or edited


async def test_a_repeated_update_changes_nothing(emulator: BotApiEmulator, storerun: StorerunBot) -> None:
    emulator.add_user(STRANGER, "Sam")
    first = await emulator.send_text(STRANGER, "/help")
    await emulator.wait_for_message(STRANGER, EN(texts.WELCOME, name="Sam"))
    emulator.redeliver(first)
    await emulator.send_text(STRANGER, "anything else")
    await emulator.wait_for_message(STRANGER, EN(texts.NOT_UNDERSTOOD))
    await storerun.sender.drain()
    welcome = EN(texts.WELCOME, name="Sam")
    welcomes = [m for m in emulator.chat(STRANGER) if m.from_bot and welcome in (m.text or "")]
    assert len(welcomes) == 1
    assert emulator.confirmed_update_id > first


async def test_many_people_at_once_each_get_their_answer(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    people = range(5000, 5040)
    for person in people:
        emulator.add_user(person, f"Person{person}")
    await asyncio.gather(*(emulator.send_text(person, "/start") for person in people))
    await asyncio.gather(
        *(emulator.wait_for_message(person, EN(texts.WELCOME, name=f"Person{person}")) for person in people)
    )
