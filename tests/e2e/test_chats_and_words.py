"""Where people talk to the bot (drivers only privately, staff also in a group), and what they read:
a pickup window's day when it is not today, counts in the right number, states in words."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from bot import commands, keyboards, texts
from bot.app import StorerunBot
from bot.routes.admins import LIST_TITLES
from dispatch.clock import FakeClock
from dispatch.lifecycle import Status
from dispatch.offers import Press
from sandbox.emulator import BotApiEmulator
from tests.e2e.conftest import ADMIN_ID, BotFactory
from tests.e2e.people import LAS_VEGAS, copy_of, new_offer, online_driver
from tests.e2e.test_stores_and_admins import areas_show_one_online_driver_in_las_vegas
from tests.e2e.words import (
    ADMIN_OFFER_CARD,
    ASK_PICKUP_CODE,
    COPIES_SENT,
    DELIVERED_THANKS,
    DELIVERY_CARD,
    EN,
    JOB_CARD,
    JOB_PICKED_UP,
    OFFER_COPY,
    ORDER_LINE,
    STORE_ACCEPTED,
    TODAYS_ORDERS,
    TRAIL_HEAD,
    line_of,
    matches,
    part,
    saying,
)

MARIA, CLERK, STRANGER = 3001, 4001, 5001
TEAM = -100_200  # the store's group chat
IN_PRIVATE = EN(texts.DRIVERS_IN_PRIVATE, bot="storerun_bot")
ADMIN_IN_PRIVATE = EN(texts.ADMIN_IN_PRIVATE, bot="storerun_bot")

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
    await emulator.wait_for_message(STRANGER, EN(texts.PICK_AREA))
    await emulator.press(STRANGER, LAS_VEGAS)
    await emulator.wait_for_message(STRANGER, EN(texts.ASK_PHONE, area=LAS_VEGAS))
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
    copy = await emulator.wait_for_message(MARIA, part(OFFER_COPY))
    in_group = emulator.chat(TEAM)[-1].message_id
    forged = await emulator.press_callback(MARIA, in_group, f"1:acc:{offer.offer_id}", chat_id=TEAM)
    assert forged.text == IN_PRIVATE
    assert copy_of(emulator, MARIA, offer.offer_id).buttons == [EN(keyboards.ACCEPT), EN(keyboards.DECLINE)]
    accepted = await emulator.press(MARIA, EN(keyboards.ACCEPT), message_id=copy.message_id)
    assert accepted.text == EN(texts.PRESS_ANSWERS[Press.AWARDED])
    await emulator.wait_for_message(MARIA, part(JOB_CARD))
    await emulator.press(MARIA, EN(keyboards.CONFIRM_PICKUP))
    await emulator.wait_for_message(MARIA, part(ASK_PICKUP_CODE))

    await emulator.send_text(MARIA, offer.pickup_code, chat_id=TEAM)
    await emulator.wait_for_message(TEAM, lambda m: m.message_id > in_group and m.text == IN_PRIVATE)
    assert part(JOB_PICKED_UP) not in (copy_of(emulator, MARIA, offer.offer_id).text or "")
    assert not any("3200 Las Vegas Blvd" in (m.text or "") for m in emulator.chat(TEAM))
    await emulator.send_text(MARIA, offer.pickup_code)
    await emulator.wait_for_message(MARIA, part(DELIVERY_CARD, ref="G1"))


async def test_store_staff_link_their_group_and_hear_of_orders_there(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    emulator.add_user(CLERK, "Kim")
    emulator.add_group(TEAM, "Zara team")
    token = await invite_token(emulator)
    await emulator.send_text(CLERK, f"/start {token}", chat_id=TEAM)
    await emulator.wait_for_message(TEAM, EN(texts.LINKED["linked"], store="Zara (FS-ZARA)"))
    await emulator.send_text(CLERK, "/help", chat_id=TEAM)
    await emulator.wait_for_message(TEAM, commands.help_lines(EN, commands.Audience.STORES))

    await online_driver(emulator, MARIA, "Maria")
    offer = await new_offer(emulator, ref="T1")
    await emulator.wait_for_message(MARIA, part(OFFER_COPY))
    await emulator.press(MARIA, EN(keyboards.ACCEPT))
    await emulator.wait_for_message(TEAM, part(STORE_ACCEPTED, ref="T1", driver="Maria"))
    await emulator.send_text(CLERK, "/orders", chat_id=TEAM)
    listing = await emulator.wait_for_message(TEAM, EN(TODAYS_ORDERS))
    accepted = EN(texts.OFFER_STATES[Status.ACCEPTED])
    line = matches(ORDER_LINE, id=offer.offer_id, ref="T1", state=accepted, holder=" · Maria")
    assert line.search(listing.text or ""), listing.text


async def test_admin_commands_answer_only_in_a_private_chat(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    emulator.add_group(TEAM, "Ops")
    await emulator.send_text(ADMIN_ID, "/drivers", chat_id=TEAM)
    await emulator.wait_for_message(TEAM, ADMIN_IN_PRIVATE)
    await emulator.send_text(ADMIN_ID, "/newoffer store=FS-ZARA", chat_id=TEAM)
    answer = await emulator.wait_for_message(TEAM, lambda m: True, after=len(emulator.chat(TEAM)))
    assert answer.text == ADMIN_IN_PRIVATE
    assert not any(part(LIST_TITLES["drivers"]) in (m.text or "") for m in emulator.chat(TEAM))


# --- the day of a pickup window ---


async def test_an_offer_for_tomorrow_names_its_day_everywhere_and_one_for_today_does_not(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    await start_bot(clock=FakeClock(EVENING), wave_size=5)
    await online_driver(emulator, MARIA, "Maria")
    await emulator.send_text(ADMIN_ID, order("TONIGHT", "2026-11-25", "22:00-22:30"))
    tonight = await emulator.wait_for_message(MARIA, part(OFFER_COPY))
    assert matches(OFFER_COPY, window="10:00–10:30 PM PST").search(tonight.text or ""), tonight.text

    await emulator.send_text(ADMIN_ID, order("TOMORROW", "2026-11-26", "14:00-14:30"))
    tomorrow = await emulator.wait_for_message(
        MARIA, lambda m: m.message_id > tonight.message_id and part(OFFER_COPY) in (m.text or "")
    )
    day = "Thu, Nov 26, 2:00–2:30 PM PST"
    assert matches(OFFER_COPY, window=day).search(tomorrow.text or ""), tomorrow.text
    card = await emulator.wait_for_message(ADMIN_ID, saying(ADMIN_OFFER_CARD, ref="TOMORROW"))
    assert matches(ADMIN_OFFER_CARD, ref="TOMORROW", window=day).search(card.text or "")

    await emulator.press(MARIA, EN(keyboards.ACCEPT), message_id=tomorrow.message_id)
    job = await emulator.wait_for_message(MARIA, part(JOB_CARD))
    assert matches(JOB_CARD, window=day).search(job.text or "")
    await emulator.send_text(MARIA, "/status")
    status = await emulator.wait_for_message(MARIA, part(texts.HOLDING))
    assert matches(texts.HOLDING, window=day, state=EN(texts.TO_PICK_UP)).search(status.text or "")
    await emulator.send_text(ADMIN_ID, "/offers")
    board = await emulator.wait_for_message(ADMIN_ID, EN(LIST_TITLES["offers"], which="all"))
    assert f"· {day} ·" in (board.text or "")
    assert "· 10:00–10:30 PM PST ·" in (board.text or "")


# --- words ---


async def test_counts_and_states_read_as_words(emulator: BotApiEmulator, storerun: StorerunBot) -> None:
    await online_driver(emulator, MARIA, "Maria")
    offer = await new_offer(emulator, ref="W1")
    await emulator.wait_for_message(MARIA, part(OFFER_COPY))
    await emulator.press(MARIA, EN(keyboards.ACCEPT))
    await emulator.wait_for_message(MARIA, part(JOB_CARD))
    await emulator.press(MARIA, EN(keyboards.CONFIRM_PICKUP))
    await emulator.wait_for_message(MARIA, part(ASK_PICKUP_CODE))
    await emulator.send_text(MARIA, offer.pickup_code)
    await emulator.wait_for_message(MARIA, part(DELIVERY_CARD, ref="W1"))

    await emulator.send_text(ADMIN_ID, "/offers accepted")
    board = await emulator.wait_for_message(ADMIN_ID, EN(LIST_TITLES["offers"], which="accepted") + " (1)")
    picked_up = EN(texts.OFFER_STATES[Status.PICKED_UP])
    assert f"#{offer.offer_id} FS-ZARA W1 · {picked_up} · Maria" in (board.text or ""), board.text
    await areas_show_one_online_driver_in_las_vegas(emulator)

    await emulator.press(MARIA, EN(keyboards.DELIVERED))
    await emulator.wait_for_message(MARIA, part(DELIVERED_THANKS, ref="W1"))
    await emulator.send_text(MARIA, "/status")
    status = await emulator.wait_for_message(MARIA, EN(texts.ONLINE_NOW))
    assert EN.n(texts.TODAY, 1, pay=EN.pay(1850)) in (status.text or ""), status.text
    await emulator.send_text(ADMIN_ID, f"/offer {offer.offer_id}")
    trail = await emulator.wait_for_message(ADMIN_ID, EN(COPIES_SENT))
    delivered = EN(texts.OFFER_STATES[Status.DELIVERED])
    assert line_of(TRAIL_HEAD, ref="W1", state=delivered).search(trail.text or ""), trail.text
