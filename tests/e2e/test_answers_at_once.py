"""A press that changes nothing, and that what is committed already settles, is answered as it
arrives rather than when its turn to be applied comes. Here the inbox's workers are held, so only
the receiving side can answer: in a rush of Accepts, the losers do not queue behind writes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from bot import texts
from bot.app import StorerunBot
from dispatch.offers import Press
from sandbox.emulator import BotApiEmulator, PressResult
from tests.e2e.conftest import BotFactory
from tests.e2e.people import CreatedOffer, copy_of, new_offer, seed_online_drivers
from tests.e2e.words import EN, offer_copy_of, part

DRIVERS = range(8100, 8103)
WINNER, LATE, OTHER = DRIVERS
TAKEN = EN(texts.PRESS_ANSWERS[Press.TAKEN])


async def _two_offers_one_taken(
    bot: StorerunBot, emulator: BotApiEmulator
) -> tuple[CreatedOffer, CreatedOffer]:
    await seed_online_drivers(bot, emulator, DRIVERS)
    taken = await new_offer(emulator, ref="TAKEN")
    still_open = await new_offer(emulator, ref="OPEN")
    for offer in (taken, still_open):
        await asyncio.gather(*(emulator.wait_for_message(d, offer_copy_of(offer.offer_id)) for d in DRIVERS))
    assert (await _accept(emulator, WINNER, taken)).text == EN(texts.PRESS_ANSWERS[Press.AWARDED])
    return taken, still_open


async def _accept(
    emulator: BotApiEmulator,
    driver: int,
    offer: CreatedOffer,
    *,
    data: str | None = None,
    timeout: float = 10,
) -> PressResult:
    copy = copy_of(emulator, driver, offer.offer_id)
    return await emulator.press_callback(
        driver, copy.message_id, data or f"1:acc:{offer.offer_id}", timeout=timeout
    )


def _hold_workers(bot: StorerunBot, monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """From now on no stored update is applied until the returned function is called."""
    held = asyncio.Event()
    apply_next = bot.inbox._apply_next

    async def after_release() -> bool:
        await held.wait()
        return await apply_next()

    monkeypatch.setattr(bot.inbox, "_apply_next", after_release)
    return held.set


async def _inbox_status(bot: StorerunBot, *presses: PressResult) -> list[str | None]:
    async with bot.db.read() as tx:
        rows = [await tx.inbox.by_id(press.update_id) for press in presses if press.update_id is not None]
    return [row.status if row else None for row in rows]


async def test_a_press_that_cannot_win_is_answered_while_no_update_is_being_applied(
    emulator: BotApiEmulator, start_bot: BotFactory, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = await start_bot(database_url=database_url, wave_size=len(DRIVERS))
    taken, still_open = await _two_offers_one_taken(bot, emulator)
    release = _hold_workers(bot, monkeypatch)

    late = await _accept(emulator, LATE, taken, timeout=5)
    forged = await _accept(emulator, LATE, taken, data="1:acc:x", timeout=5)
    may_win = await _accept(emulator, OTHER, still_open, timeout=1)

    assert (late.answered, late.text) == (True, TAKEN)
    assert (forged.answered, forged.text) == (True, EN(texts.STALE_BUTTON))
    assert not may_win.answered  # only applying it can tell
    assert await _inbox_status(bot, late, forged, may_win) == ["done", "done", "pending"]

    release()
    await bot.inbox.drain()
    assert await _inbox_status(bot, may_win) == ["done"]
    async with bot.db.read() as tx:
        offer = await tx.offers.by_id(still_open.offer_id)
        holder = await tx.drivers.by_telegram_id(OTHER)
    assert offer is not None and holder is not None and offer.holder_id == holder.id


async def test_a_press_waits_behind_an_earlier_update_of_its_chat(
    emulator: BotApiEmulator, start_bot: BotFactory, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = await start_bot(database_url=database_url, wave_size=len(DRIVERS))
    taken, _ = await _two_offers_one_taken(bot, emulator)
    release = _hold_workers(bot, monkeypatch)
    await emulator.send_text(LATE, "/status")  # stored, not applied: it may change what the press finds

    late = await _accept(emulator, LATE, taken, timeout=1)

    assert not late.answered
    release()
    await bot.inbox.drain()
    assert await _inbox_status(bot, late) == ["done"]
    assert "/status" in emulator.transcript(LATE)


async def test_accepts_in_an_award_window_are_answered_and_collected_as_they_arrive(
    emulator: BotApiEmulator, start_bot: BotFactory, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = await start_bot(database_url=database_url, wave_size=len(DRIVERS), award_window_seconds=30)
    await seed_online_drivers(bot, emulator, DRIVERS)
    offer = await new_offer(emulator)
    await asyncio.gather(*(emulator.wait_for_message(d, offer_copy_of(offer.offer_id)) for d in DRIVERS))
    _hold_workers(bot, monkeypatch)

    presses = await asyncio.gather(*(_accept(emulator, driver, offer, timeout=5) for driver in DRIVERS))

    assert all(
        press.answered and (press.text or "").startswith(part(texts.ENTERED, id=offer.offer_id))
        for press in presses
    )
    # Answered first, collected in the same moment's write: no worker applied them.
    async with asyncio.timeout(5):
        while True:
            if await _inbox_status(bot, *presses) == ["done"] * len(DRIVERS):
                break
            await asyncio.sleep(0.02)
    async with bot.db.read() as tx:
        copies = await tx.notices.for_offer(offer.offer_id)
        opened = await tx.offers.by_id(offer.offer_id)
        windows = [event for event in await tx.events.for_offer(offer.offer_id) if event.kind == "window"]
    assert sorted(copy.outcome for copy in copies) == ["entered"] * len(DRIVERS)
    assert all(copy.pressed_at is not None and copy.press_ms is not None for copy in copies)
    assert opened is not None and opened.award_at is not None and len(windows) == 1
