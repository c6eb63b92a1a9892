"""Timers through the emulator, on a clock the test moves: reminders, the no-show release, expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot import keyboards, texts
from dispatch.clock import FakeClock
from dispatch.offers import Press
from sandbox.emulator import BotApiEmulator
from tests.e2e.conftest import ADMIN_ID, BotFactory
from tests.e2e.people import online_driver
from tests.e2e.words import (
    ADMIN_EXPIRED,
    COPY_EXPIRED,
    EN,
    JOB_CARD,
    LATE_REMINDER,
    NO_SHOW_RELEASED,
    OFFER_COPY,
    PICKUP_REMINDER,
    WINDOW_OVER_NO_SHOW,
    matches,
    part,
    saying,
)

MARIA, JOE = 3001, 3002
NOON = datetime(2026, 7, 15, 19, 0, tzinfo=UTC)  # 12:00 PDT in Las Vegas
PICKUP_START = datetime(2026, 7, 15, 20, 0, tzinfo=UTC)  # 1:00 PM PDT
PICKUP_END = PICKUP_START + timedelta(minutes=30)
LINE = (
    "/newoffer store=FS-ZARA packages=2 pay=18.50 window=13:00-13:30 date=2026-07-15 zone=89109 "
    'ref=E1 address="3200 Las Vegas Blvd S"'
)


async def test_reminders_then_the_no_show_release_reach_the_driver_and_the_admins(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    clock = FakeClock(NOON)
    bot = await start_bot(clock=clock, wave_size=1, wave_interval_seconds=3600)
    await online_driver(emulator, MARIA, "Maria")
    await online_driver(emulator, JOE, "Joe")
    await emulator.send_text(ADMIN_ID, LINE)
    await emulator.wait_for_message(MARIA, part(OFFER_COPY))
    await emulator.press(MARIA, EN(keyboards.ACCEPT))
    await emulator.wait_for_message(MARIA, part(JOB_CARD))

    clock.set(PICKUP_START - timedelta(minutes=15, seconds=1))
    assert await bot.timers.fire_due() == 0
    clock.set(PICKUP_START - timedelta(minutes=15))
    assert await bot.timers.fire_due() == 1
    where = "Zara, Level 1, near the Neiman Marcus entrance"
    await emulator.wait_for_message(
        MARIA, part(PICKUP_REMINDER, where=where, window="1:00–1:30 PM PDT", minutes=15)
    )

    clock.set(PICKUP_END)
    await bot.timers.fire_due()
    late = await emulator.wait_for_message(MARIA, part(LATE_REMINDER))
    assert late.buttons == [EN(keyboards.CONFIRM_PICKUP), EN(keyboards.RELEASE)]

    clock.set(PICKUP_END + timedelta(minutes=10))
    await bot.timers.fire_due()
    await emulator.wait_for_message(MARIA, saying(NO_SHOW_RELEASED))
    no_show = await emulator.wait_for_message(ADMIN_ID, part(WINDOW_OVER_NO_SHOW, driver="Maria"))
    assert EN(keyboards.CANCEL_ORDER) in no_show.buttons  # its window is over: a new one, or cancel
    await bot.sender.drain()
    assert not any(part(OFFER_COPY) in (m.text or "") for m in emulator.chat(JOE))
    closed = await emulator.wait_for_message(MARIA, lambda m: m.message_id == late.message_id and m.edited)
    assert closed.buttons == []
    stale = await emulator.press_callback(MARIA, late.message_id, "1:rel:1")  # pressed as it closed
    assert stale.text in (EN(texts.PRESS_ANSWERS[Press.NOT_YOURS]), EN(texts.PRESS_ANSWERS[Press.DONE]))


async def test_an_offer_expires_on_the_clock_and_is_offered_again(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    clock = FakeClock(NOON)
    bot = await start_bot(clock=clock, acceptance_window_seconds=600, wave_interval_seconds=60, wave_size=5)
    await online_driver(emulator, MARIA, "Maria")
    await emulator.send_text(ADMIN_ID, LINE)
    copy = await emulator.wait_for_message(MARIA, part(OFFER_COPY))
    assert matches(OFFER_COPY, expires="12:10 PM PDT").search(copy.text or ""), copy.text
    clock.set(NOON + timedelta(seconds=599))
    await bot.timers.fire_due()
    clock.set(NOON + timedelta(seconds=600))
    await bot.timers.fire_due()
    expired = matches(COPY_EXPIRED)
    await emulator.wait_for_message(
        MARIA, lambda m: m.message_id == copy.message_id and bool(expired.search(m.text or ""))
    )
    await emulator.wait_for_message(ADMIN_ID, saying(ADMIN_EXPIRED))
    reoffered = await emulator.press(ADMIN_ID, EN(keyboards.REOFFER))
    assert reoffered.text == EN(texts.PRESS_ANSWERS[Press.REOPENED])
    await emulator.wait_for_message(
        MARIA, lambda m: m.message_id > copy.message_id and part(OFFER_COPY) in (m.text or "")
    )
