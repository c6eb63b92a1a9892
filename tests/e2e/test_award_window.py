"""Fair offers through the emulator: Accepts are collected in an award window and the offer goes to
one of them by the area's published fairness order; every press is answered at once, the others'
copies say it went to another driver with Why not me?, and /why explains the award."""

from __future__ import annotations

import asyncio
import re

from bot import commands, keyboards, texts
from bot.app import StorerunBot
from sandbox.emulator import BotApiEmulator
from tests.e2e.conftest import ADMIN_ID, BotFactory
from tests.e2e.people import CreatedOffer, copy_of, new_offer, seed_online_drivers
from tests.e2e.test_stores_and_admins import link
from tests.e2e.words import (
    ADMIN_CANCELLED,
    COPY_WENT_ELSEWHERE,
    EN,
    FAIRNESS_ORDER,
    FAST_BUYS_NOTHING,
    IN_WINDOW,
    SECONDS,
    STORE_ACCEPTED,
    WHY_AWARDED,
    WHY_DECIDED_BY,
    matches,
    offer_copy_of,
    part,
    saying,
)

DRIVERS = range(8300, 8320)
CLERK = 4301
WINDOW = 2
ENTERED = matches(texts.ENTERED, id=re.compile(r"\d+"), time=re.compile(r"\d{1,2}:\d\d [AP]M [A-Z]{3,4}"))


async def _offer_to_all(bot: StorerunBot, emulator: BotApiEmulator) -> CreatedOffer:
    await seed_online_drivers(bot, emulator, DRIVERS)
    offer = await new_offer(emulator)
    await asyncio.gather(*(emulator.wait_for_message(d, offer_copy_of(offer.offer_id)) for d in DRIVERS))
    return offer


async def _awarded(bot: StorerunBot, offer_id: int, timeout: float = 15.0) -> int:
    """Wait for the award; the winner's Telegram id."""
    async with asyncio.timeout(timeout):
        while True:
            async with bot.db.read() as tx:
                offer = await tx.offers.by_id(offer_id)
                assert offer is not None
                if offer.status == "accepted" and offer.holder_id is not None:
                    holder = await tx.drivers.by_id(offer.holder_id)
                    assert holder is not None
                    return holder.tg_user_id
            await asyncio.sleep(0.05)


async def test_twenty_drivers_press_in_the_window_and_exactly_one_gets_the_job(
    emulator: BotApiEmulator, start_bot: BotFactory, database_url: str
) -> None:
    bot = await start_bot(database_url=database_url, wave_size=len(DRIVERS), award_window_seconds=WINDOW)
    await link(emulator, CLERK)
    offer = await _offer_to_all(bot, emulator)

    presses = await asyncio.gather(*(emulator.press(driver, EN(keyboards.ACCEPT)) for driver in DRIVERS))

    assert all(press.answered for press in presses)
    assert all(ENTERED.fullmatch(press.text or "") for press in presses), [press.text for press in presses]
    assert {int(ENTERED.fullmatch(press.text or "").group("id")) for press in presses} == {offer.offer_id}  # type: ignore[union-attr]
    winner = await _awarded(bot, offer.offer_id)
    await bot.sender.drain()
    copies = {driver: copy_of(emulator, driver, offer.offer_id) for driver in DRIVERS}
    assert copies[winner].buttons == [EN(keyboards.CONFIRM_PICKUP), EN(keyboards.RELEASE)]
    others = [driver for driver in DRIVERS if driver != winner]
    for driver in others:
        assert matches(COPY_WENT_ELSEWHERE).search(copies[driver].text or "")
        assert copies[driver].buttons == [EN(keyboards.WHY_NOT_ME)]
    accepted = matches(STORE_ACCEPTED, id=offer.offer_id)
    store_told = [m for m in emulator.chat(CLERK) if accepted.search(m.text or "")]
    assert len(store_told) == 1  # the store hears once, at the award
    async with bot.db.read() as tx:
        events = [event.kind for event in await tx.events.for_offer(offer.offer_id)]
    assert events.count("accept") == 1 and events.count("window") == 1

    # Why not me? names nobody, and gives the deciding key's two values.
    loser = others[0]
    why = await emulator.press(loser, EN(keyboards.WHY_NOT_ME))
    assert why.answered and why.text is not None
    assert any(matches(reason).fullmatch(why.text) for reason in texts.WHY_KEY.values()), why.text
    assert str(winner) not in why.text

    # /why for the admin: a line per copy, the winner marked, the order and the deciding key.
    await emulator.send_text(ADMIN_ID, f"/why {offer.offer_id}")
    report = await emulator.wait_for_message(ADMIN_ID, part(WHY_AWARDED, id=offer.offer_id))
    assert matches(WHY_DECIDED_BY, order="fewest-today").search(report.text or ""), report.text
    assert (report.text or "").count(EN(IN_WINDOW)) == len(DRIVERS)
    assert (report.text or "").count("🏆") == 1

    # A driver's /why is about their own copy only.
    await emulator.send_text(loser, f"/why {offer.offer_id}")
    mine = await emulator.wait_for_message(loser, lambda m: m.text == why.text, timeout=5)
    assert not mine.buttons


async def test_a_second_press_is_told_the_same_and_a_decline_in_the_window_is_out(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    bot = await start_bot(wave_size=len(DRIVERS), award_window_seconds=WINDOW)
    offer = await _offer_to_all(bot, emulator)
    first, decliner = DRIVERS[0], DRIVERS[1]
    entered = await emulator.press(first, EN(keyboards.ACCEPT))
    again = await emulator.press(first, EN(keyboards.ACCEPT))
    assert ENTERED.fullmatch(entered.text or "") and again.text == entered.text
    await emulator.press(decliner, EN(keyboards.DECLINE))
    assert await _awarded(bot, offer.offer_id) == first  # the only one left in the window


async def test_an_offer_cancelled_in_its_window_goes_to_nobody(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    bot = await start_bot(wave_size=len(DRIVERS), award_window_seconds=WINDOW)
    offer = await _offer_to_all(bot, emulator)
    await asyncio.gather(*(emulator.press(driver, EN(keyboards.ACCEPT)) for driver in DRIVERS[:5]))
    await emulator.send_text(ADMIN_ID, f"/cancel {offer.offer_id} store closed")
    await emulator.wait_for_message(ADMIN_ID, saying(ADMIN_CANCELLED, reason="store closed"))
    await asyncio.sleep(WINDOW + 1)
    await bot.timers.fire_due()
    async with bot.db.read() as tx:
        cancelled = await tx.offers.by_id(offer.offer_id)
        events = [event.kind for event in await tx.events.for_offer(offer.offer_id)]
    assert cancelled is not None and cancelled.status == "cancelled" and cancelled.holder_id is None
    assert "accept" not in events


async def test_fairness_is_shown_to_everyone_and_an_admin_sets_an_area_order(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    await start_bot(award_window_seconds=WINDOW)
    await emulator.send_text(ADMIN_ID, "/area las-vegas order=on-time award=15")
    changed = await emulator.wait_for_message(ADMIN_ID, saying(FAIRNESS_ORDER, order="on-time"))
    fifteen = EN(SECONDS, seconds=EN.number(15))
    assert matches(FAIRNESS_ORDER, window=fifteen, order="on-time").search(changed.text or "")
    assert EN(texts.KEY_NAMES[texts.Key.ON_TIME]) in (changed.text or "")
    await emulator.send_text(ADMIN_ID, "/area las-vegas order=fastest")
    wrong = await emulator.wait_for_message(ADMIN_ID, EN(texts.WRONG_FORM, usage=commands.usage(EN, "area")))
    assert wrong.text is not None
    emulator.add_user(4242, "Passerby")
    await emulator.send_text(4242, "/fairness")
    shown = await emulator.wait_for_message(4242, EN(FAST_BUYS_NOTHING))
    assert EN(texts.KEY_NAMES[texts.Key.WON_TODAY]) in (shown.text or "")
