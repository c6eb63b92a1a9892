"""Where people talk to the bot (drivers only privately, staff also in a group), and what they read:
a pickup window's day when it is not today, counts in the right number, states in words."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from bot import commands, texts
from bot.app import StorerunBot
from bot.commands import Audience
from bot.i18n import Words
from dispatch.clock import FakeClock
from dispatch.lifecycle import Status
from sandbox.emulator import BotApiEmulator
from storage.records import Language
from tests.e2e.conftest import ADMIN_ID, BotFactory
from tests.e2e.people import copy_of, new_offer, online_driver

MARIA, CLERK, STRANGER = 3001, 4001, 5001
TEAM = -100_200  # the store's group chat
IN_PRIVATE = texts.DRIVERS_IN_PRIVATE.format(bot="storerun_bot")
ADMIN_IN_PRIVATE = texts.ADMIN_IN_PRIVATE.format(bot="storerun_bot")

# 9:00 PM PST on Wed Nov 25 in Las Vegas, when it is already Thu Nov 26 in UTC.
EVENING = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)


def order(ref: str, day: str, window: str) -> str:
    return (
        f"/newoffer store=FS-ZARA packages=1 pay=12.00 window={window} date={day} zone=89109 "
        f'ref={ref} address="3200 Las Vegas Blvd S"'
    )


async def invite_token(emulator: BotApiEmulator) -> str:
    await emulator.send_text(ADMIN_ID, "/invite FS-ZARA")
    invite = await emulator.wait_for_message(ADMIN_ID, "?start=")
    found = re.search(r"\?start=([\w-]+)", invite.text or "")
    assert found, invite.text
    return found.group(1)


async def driver_of(bot: StorerunBot, user_id: int) -> tuple[bool, int] | None:
    """Whether the driver is online and the chat their offers go to; None if not a driver."""
    async with bot.db.read() as tx:
        driver = await tx.drivers.by_telegram_id(user_id)
    return None if driver is None else (driver.online, driver.chat_id)


# --- drivers only in their private chat ---


async def test_a_stranger_cannot_sign_up_as_a_driver_from_a_group(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    emulator.add_user(STRANGER, "Sam")
    emulator.add_group(TEAM, "Zara team")
    await emulator.send_text(STRANGER, "/start", chat_id=TEAM)
    answer = await emulator.wait_for_message(TEAM, IN_PRIVATE)
    assert answer.buttons == []
    forged_area = await emulator.press_callback(STRANGER, answer.message_id, "1:area:1", chat_id=TEAM)
    assert forged_area.text == IN_PRIVATE
    assert await driver_of(storerun, STRANGER) is None

    await emulator.send_text(STRANGER, "/start")
    await emulator.wait_for_message(STRANGER, "Pick your area")
    await emulator.press(STRANGER, "Fashion Show, Las Vegas Strip")
    await emulator.wait_for_message(STRANGER, "Share your phone")
    assert await driver_of(storerun, STRANGER) == (False, STRANGER)


async def test_a_driver_gets_and_works_offers_only_in_their_private_chat(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    await online_driver(emulator, MARIA, "Maria")
    emulator.add_group(TEAM, "Drivers hangout")
    for command in ("/offline", "/online", "/status", "/myoffers", "/start", "/help"):
        await emulator.send_text(MARIA, command, chat_id=TEAM)
        answer = await emulator.wait_for_message(TEAM, lambda m: True, after=len(emulator.chat(TEAM)))
        assert answer.text == IN_PRIVATE, command
    assert await driver_of(storerun, MARIA) == (True, MARIA)

    offer = await new_offer(emulator, ref="G1")
    copy = await emulator.wait_for_message(MARIA, "📦 New offer")
    in_group = emulator.chat(TEAM)[-1].message_id
    forged = await emulator.press_callback(MARIA, in_group, f"1:acc:{offer.offer_id}", chat_id=TEAM)
    assert forged.text == IN_PRIVATE
    assert copy_of(emulator, MARIA, offer.offer_id).buttons == ["Accept", "Decline"]
    assert (await emulator.press(MARIA, "Accept", message_id=copy.message_id)).text == "It's yours!"
    await emulator.wait_for_message(MARIA, "It's yours")
    await emulator.press(MARIA, "Confirm pickup")
    await emulator.wait_for_message(MARIA, "Type the 4-digit")

    await emulator.send_text(MARIA, offer.pickup_code, chat_id=TEAM)
    await emulator.wait_for_message(TEAM, lambda m: m.message_id > in_group and m.text == IN_PRIVATE)
    assert "Picked up" not in (copy_of(emulator, MARIA, offer.offer_id).text or "")
    assert not any("3200 Las Vegas Blvd" in (m.text or "") for m in emulator.chat(TEAM))
    await emulator.send_text(MARIA, offer.pickup_code)
    await emulator.wait_for_message(MARIA, "🚗 Deliver order G1")


async def test_store_staff_link_their_group_and_hear_of_orders_there(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    emulator.add_user(CLERK, "Kim")
    emulator.add_group(TEAM, "Zara team")
    token = await invite_token(emulator)
    await emulator.send_text(CLERK, f"/start {token}", chat_id=TEAM)
    await emulator.wait_for_message(TEAM, "You're now staff of Zara (FS-ZARA)")
    await emulator.send_text(CLERK, "/help", chat_id=TEAM)
    await emulator.wait_for_message(TEAM, commands.help_lines(Words(Language.EN), Audience.STORES))

    await online_driver(emulator, MARIA, "Maria")
    offer = await new_offer(emulator, ref="T1")
    await emulator.wait_for_message(MARIA, "📦 New offer")
    await emulator.press(MARIA, "Accept")
    await emulator.wait_for_message(TEAM, "Order T1: Maria accepted it")
    await emulator.send_text(CLERK, "/orders", chat_id=TEAM)
    listing = await emulator.wait_for_message(TEAM, "Today's orders:")
    assert f"#{offer.offer_id} T1 · accepted · Maria" in (listing.text or "")


async def test_admin_commands_answer_only_in_a_private_chat(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    emulator.add_group(TEAM, "Ops")
    await emulator.send_text(ADMIN_ID, "/drivers", chat_id=TEAM)
    await emulator.wait_for_message(TEAM, ADMIN_IN_PRIVATE)
    await emulator.send_text(ADMIN_ID, "/newoffer store=FS-ZARA", chat_id=TEAM)
    answer = await emulator.wait_for_message(TEAM, lambda m: True, after=len(emulator.chat(TEAM)))
    assert answer.text == ADMIN_IN_PRIVATE
    assert not any("Drivers:" in (m.text or "") for m in emulator.chat(TEAM))


# --- the day of a pickup window ---


async def test_an_offer_for_tomorrow_names_its_day_everywhere_and_one_for_today_does_not(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    await start_bot(clock=FakeClock(EVENING), wave_size=5)
    await online_driver(emulator, MARIA, "Maria")
    await emulator.send_text(ADMIN_ID, order("TONIGHT", "2026-11-25", "22:00-22:30"))
    tonight = await emulator.wait_for_message(MARIA, "📦 New offer")
    assert "Pickup 10:00–10:30 PM PST\n" in (tonight.text or ""), tonight.text

    await emulator.send_text(ADMIN_ID, order("TOMORROW", "2026-11-26", "14:00-14:30"))
    tomorrow = await emulator.wait_for_message(
        MARIA, lambda m: m.message_id > tonight.message_id and "📦 New offer" in (m.text or "")
    )
    day = "Thu, Nov 26, 2:00–2:30 PM PST"
    assert f"Pickup {day}\n" in (tomorrow.text or ""), tomorrow.text
    card = await emulator.wait_for_message(ADMIN_ID, "Ref TOMORROW")
    assert f"Pickup {day}\n" in (card.text or "")

    await emulator.press(MARIA, "Accept", message_id=tomorrow.message_id)
    job = await emulator.wait_for_message(MARIA, "It's yours")
    assert f"Pickup {day} ·" in (job.text or "")
    await emulator.send_text(MARIA, "/status")
    status = await emulator.wait_for_message(MARIA, "Holding #")
    assert f"pickup {day} (to pick up)" in (status.text or "")
    await emulator.send_text(ADMIN_ID, "/offers")
    board = await emulator.wait_for_message(ADMIN_ID, "Offers: all")
    assert f"· {day} ·" in (board.text or "")
    assert "· 10:00–10:30 PM PST ·" in (board.text or "")


# --- words ---


async def test_counts_and_states_read_as_words(emulator: BotApiEmulator, storerun: StorerunBot) -> None:
    await online_driver(emulator, MARIA, "Maria")
    offer = await new_offer(emulator, ref="W1")
    await emulator.wait_for_message(MARIA, "📦 New offer")
    await emulator.press(MARIA, "Accept")
    await emulator.wait_for_message(MARIA, "It's yours")
    await emulator.press(MARIA, "Confirm pickup")
    await emulator.wait_for_message(MARIA, "Type the 4-digit")
    await emulator.send_text(MARIA, offer.pickup_code)
    await emulator.wait_for_message(MARIA, "🚗 Deliver order W1")

    await emulator.send_text(ADMIN_ID, "/offers accepted")
    board = await emulator.wait_for_message(ADMIN_ID, "Offers: accepted (1)")
    assert f"#{offer.offer_id} FS-ZARA W1 · picked up · Maria" in (board.text or ""), board.text
    await emulator.send_text(ADMIN_ID, "/areas")
    areas = await emulator.wait_for_message(ADMIN_ID, "las-vegas · Fashion Show")
    assert "3 stores · 1 driver (1 online)" in (areas.text or ""), areas.text

    await emulator.press(MARIA, "Delivered")
    await emulator.wait_for_message(MARIA, "✅ Delivered order W1")
    await emulator.send_text(MARIA, "/status")
    status = await emulator.wait_for_message(MARIA, "🟢 Online")
    assert "Today: 1 delivery · $18.50" in (status.text or ""), status.text
    await emulator.send_text(ADMIN_ID, f"/offer {offer.offer_id}")
    trail = await emulator.wait_for_message(ADMIN_ID, "Copies sent:")
    assert f"ref W1 · {texts.OFFER_STATES[Status.DELIVERED]}\n" in (trail.text or ""), trail.text
