"""Fifty drivers press Accept on one offer at the same moment: exactly one wins, on every backend."""

from __future__ import annotations

import asyncio

from bot import keyboards, texts
from dispatch.offers import Press
from sandbox.emulator import BotApiEmulator
from tests.e2e.conftest import BotFactory
from tests.e2e.people import copy_of, new_offer, seed_online_drivers
from tests.e2e.words import COPY_TAKEN, EN, matches, offer_copy_of

DRIVERS = range(8000, 8050)


async def test_fifty_drivers_press_accept_at_once_and_exactly_one_wins(
    emulator: BotApiEmulator, start_bot: BotFactory, database_url: str
) -> None:
    bot = await start_bot(database_url=database_url, wave_size=len(DRIVERS))
    await seed_online_drivers(bot, emulator, DRIVERS)
    offer = await new_offer(emulator)
    await asyncio.gather(*(emulator.wait_for_message(d, offer_copy_of(offer.offer_id)) for d in DRIVERS))

    presses = await asyncio.gather(*(emulator.press(driver, EN(keyboards.ACCEPT)) for driver in DRIVERS))

    assert all(press.answered for press in presses)
    answers = [press.text for press in presses]
    yours, taken_answer = EN(texts.PRESS_ANSWERS[Press.AWARDED]), EN(texts.PRESS_ANSWERS[Press.TAKEN])
    assert answers.count(yours) == 1
    assert answers.count(taken_answer) == len(DRIVERS) - 1
    winner = DRIVERS[answers.index(yours)]
    await bot.sender.drain()
    copies = {driver: copy_of(emulator, driver, offer.offer_id) for driver in DRIVERS}
    taken = [
        d for d, copy in copies.items() if matches(COPY_TAKEN).search(copy.text or "") and not copy.buttons
    ]
    assert len(taken) == len(DRIVERS) - 1 and winner not in taken
    assert copies[winner].buttons == [EN(keyboards.CONFIRM_PICKUP), EN(keyboards.RELEASE)]
    async with bot.db.transaction() as tx:
        awarded = await tx.offers.by_id(offer.offer_id)
        events = [event.kind for event in await tx.events.for_offer(offer.offer_id)]
        holder = await tx.drivers.by_telegram_id(winner)
    assert awarded is not None and holder is not None
    assert awarded.status == "accepted" and awarded.holder_id == holder.id
    assert events.count("accept") == 1
