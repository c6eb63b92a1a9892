"""Fairness in the admin's numbers, through the emulator: /driver counts a driver's fast taps of all
their presses, and /stats says how evenly the area's offers were won and how many presses were fast."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

from bot import keyboards
from bot.app import StorerunBot
from dispatch.clock import FakeClock
from sandbox.emulator import BotApiEmulator
from tests.e2e.conftest import ADMIN_ID, BotFactory
from tests.e2e.people import online_driver
from tests.e2e.words import (
    ADMIN_CANCELLED,
    ADMIN_OFFER_CARD,
    AWARDS_TO,
    DRIVER_RECORD,
    EN,
    FAIRNESS_LINE,
    JOB_CARD,
    PRESSES,
    line_of,
    matches,
    offer_copy_of,
    saying,
    titled,
)

MARIA, BEN = 3101, 3102
WINDOW = 10  # seconds an offer collects Accepts before it is awarded
NOON = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)  # 12:00 PST on Wed Nov 25 in Las Vegas


def line(ref: str) -> str:
    return (
        "/newoffer store=FS-ZARA packages=1 pay=12.00 window=13:00-13:30 date=2026-11-25 zone=89109 "
        f'ref={ref} address="3200 Las Vegas Blvd S"'
    )


async def offer_to_both(bot: StorerunBot, emulator: BotApiEmulator, ref: str) -> int:
    """The admin puts out an offer; both drivers' copies are delivered (and recorded so)."""
    await emulator.send_text(ADMIN_ID, line(ref))
    card = matches(ADMIN_OFFER_CARD, ref=ref, title=re.compile(r"#(?P<id>\d+) · .*"))
    found = card.search(
        (await emulator.wait_for_message(ADMIN_ID, saying(ADMIN_OFFER_CARD, ref=ref))).text or ""
    )
    assert found
    offer_id = int(found.group("id"))
    for driver in (MARIA, BEN):
        await emulator.wait_for_message(driver, offer_copy_of(offer_id))
    await bot.sender.drain()  # each copy's delivery time is recorded before anyone presses
    return offer_id


async def pressed(bot: StorerunBot, offer_id: int, driver_id: int) -> None:
    """Wait until the driver's press on their copy is recorded: answered on arrival, it is applied
    a moment later (by the bot's clock), stamped with when it arrived."""
    assert isinstance(bot.clock, FakeClock)
    bot.clock.advance(1)
    async with asyncio.timeout(10):
        while True:
            async with bot.db.read() as tx:
                notice = await tx.notices.of(offer_id, driver_id)
            if notice is not None and notice.pressed_at is not None:
                return
            await asyncio.sleep(0.02)


async def test_an_admin_sees_fast_taps_in_the_profile_and_fairness_in_stats(
    emulator: BotApiEmulator, start_bot: BotFactory, database_url: str
) -> None:
    clock = FakeClock(NOON)
    bot = await start_bot(
        database_url=database_url, clock=clock, wave_size=5, max_offers_held=3, award_window_seconds=WINDOW
    )
    await online_driver(emulator, MARIA, "Maria")
    await online_driver(emulator, BEN, "Ben")
    async with bot.db.read() as tx:
        maria, ben = await tx.drivers.by_telegram_id(MARIA), await tx.drivers.by_telegram_id(BEN)
    assert maria is not None and ben is not None

    # Twice Ben presses Accept the instant his copy arrives, alone in the window, and wins.
    for ref in ("F1", "F2"):
        offer_id = await offer_to_both(bot, emulator, ref)
        assert (await emulator.press(BEN, EN(keyboards.ACCEPT))).answered
        await pressed(bot, offer_id, ben.id)
        clock.advance(WINDOW)
        await bot.timers.fire_due()
        await emulator.wait_for_message(BEN, titled(JOB_CARD, offer_id))
    # Maria presses Accept 3 s after hers arrived; the offer is cancelled in its window.
    offer_id = await offer_to_both(bot, emulator, "F3")
    clock.advance(3)
    assert (await emulator.press(MARIA, EN(keyboards.ACCEPT))).answered
    await pressed(bot, offer_id, maria.id)
    await emulator.send_text(ADMIN_ID, f"/cancel {offer_id} store closed")
    await emulator.wait_for_message(ADMIN_ID, saying(ADMIN_CANCELLED, reason="store closed"))

    await emulator.send_text(ADMIN_ID, f"/driver {ben.id}")
    profile = await emulator.wait_for_message(ADMIN_ID, f"#{ben.id} Ben")
    assert line_of(DRIVER_RECORD, presses=2, fast=f"2 ({EN.percent(1)})").search(profile.text or "")
    await emulator.send_text(ADMIN_ID, f"/driver {maria.id}")
    profile = await emulator.wait_for_message(ADMIN_ID, f"#{maria.id} Maria")
    assert line_of(DRIVER_RECORD, presses=1, fast=f"0 ({EN.percent(0)})").search(profile.text or "")

    await emulator.send_text(ADMIN_ID, "/stats las-vegas 1")
    stats = await emulator.wait_for_message(ADMIN_ID, "(las-vegas)")
    # Maria pressed Accept and won nothing: she counts, so the Gini shows the lopsided split.
    awards = EN.n(AWARDS_TO, 1, awards=2, top=f"#{ben.id} {EN.percent(1)}", gini=EN.decimal(0.5, 2))
    taps = EN.n(PRESSES, 3, percent=EN.percent(2 / 3))
    assert (stats.text or "").splitlines()[-1] == EN(FAIRNESS_LINE, awards=awards, taps=taps)
