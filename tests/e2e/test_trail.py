"""An offer's trail names who did each step by role and name: the store and clerk, the driver, the admin."""

from __future__ import annotations

import re

from bot import keyboards, texts
from bot.app import StorerunBot
from bot.routes import stores
from sandbox.emulator import BotApiEmulator
from storage.records import EventKind
from tests.e2e.conftest import ADMIN_ID
from tests.e2e.people import new_offer, offer_line, online_driver
from tests.e2e.test_stores_and_admins import invite_link
from tests.e2e.words import (
    ADMIN_OFFER_CARD,
    EN,
    JOB_CARD,
    TRAIL,
    TRAIL_HEAD,
    TRAIL_STEP,
    WHO_ADMIN,
    WHO_DISPATCH,
    WHO_DRIVER,
    WHO_STORE,
    matches,
    offer_copy_of,
    part,
)


def step(kind: EventKind, who: str) -> re.Pattern[str]:
    """A step of the trail as the English trail says it: what happened, by whom."""
    return matches(TRAIL_STEP, kind=EN(texts.EVENT_WORDS[kind]), who=who)


def offer_id_on(card: str | None) -> int:
    """The id of the offer on its card (🆕 Offer #12 · …)."""
    found = matches(ADMIN_OFFER_CARD, title=re.compile(r"#(?P<id>\d+) · .*")).search(card or "")
    assert found, card
    return int(found.group("id"))


MIA, ANA = 4101, 3101


async def link_clerk(emulator: BotApiEmulator, user_id: int, name: str) -> None:
    emulator.add_user(user_id, name)
    token = await invite_link(emulator)
    await emulator.send_text(user_id, f"/start {token}")
    await emulator.wait_for_message(user_id, part(texts.LINKED["linked"]))


async def driver_id_of(storerun: StorerunBot, user_id: int) -> int:
    async with storerun.db.read() as tx:
        driver = await tx.drivers.by_telegram_id(user_id)
    assert driver is not None
    return driver.id


async def trail_of(emulator: BotApiEmulator, offer_id: int) -> str:
    await emulator.send_text(ADMIN_ID, f"/offer {offer_id}")
    trail = await emulator.wait_for_message(
        ADMIN_ID,
        lambda m: (m.text or "").startswith(part(TRAIL_HEAD, id=offer_id)) and EN(TRAIL) in (m.text or ""),
    )
    return trail.text or ""


async def test_a_clerks_order_shows_the_store_and_clerk_and_the_driver_by_name(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    await link_clerk(emulator, MIA, "Mia")
    await online_driver(emulator, ANA, "Ana Kovač")
    await emulator.send_text(MIA, offer_line(ref="T1").replace("/newoffer store=FS-ZARA", "/neworder"))
    card = await emulator.wait_for_message(MIA, part(ADMIN_OFFER_CARD))
    offer_id = offer_id_on(card.text)
    await emulator.wait_for_message(ANA, offer_copy_of(offer_id))
    await emulator.press(ANA, EN(keyboards.ACCEPT))
    await emulator.wait_for_message(ANA, part(JOB_CARD))
    trail = await trail_of(emulator, offer_id)
    assert step(EventKind.OPEN, EN(WHO_STORE, store="FS-ZARA", name="Mia")).search(trail), trail
    ana = EN(WHO_DRIVER, name="Ana K.", id=await driver_id_of(storerun, ANA))
    assert step(EventKind.ACCEPT, ana).search(trail), trail
    assert step(EventKind.WAVE, EN(WHO_DISPATCH)).search(trail), trail
    assert f"admin:{MIA}" not in trail and "driver:" not in trail, trail


async def test_a_clerks_step_by_step_order_is_opened_by_the_store(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    await link_clerk(emulator, MIA, "Mia")
    await emulator.send_text(MIA, "/neworder")
    await emulator.wait_for_message(MIA, EN(texts.DRAFT_PROMPTS["packages"], store="Zara"))
    await emulator.press(MIA, "2")
    windows = await emulator.wait_for_message(MIA, EN(texts.DRAFT_PROMPTS["window"]))
    await emulator.press(MIA, windows.buttons[1])
    for asked, answer in (
        ("pay", "21.75"),
        ("zone", "89109"),
        ("ref", "STEP-2"),
        ("address", "3200 Las Vegas Blvd S"),
    ):
        await emulator.wait_for_message(MIA, EN(texts.DRAFT_PROMPTS[asked]))
        await emulator.send_text(MIA, answer)
    await emulator.wait_for_message(MIA, part(stores.NEW_ORDER))
    await emulator.press(MIA, EN(keyboards.CREATE_ORDER))
    card = await emulator.wait_for_message(MIA, part(ADMIN_OFFER_CARD))
    offer_id = offer_id_on(card.text)
    opened = step(EventKind.OPEN, EN(WHO_STORE, store="FS-ZARA", name="Mia"))
    assert opened.search(await trail_of(emulator, offer_id))


async def test_an_admins_offer_is_opened_by_the_admin_by_name(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    offer = await new_offer(emulator, ref="T3")
    trail = await trail_of(emulator, offer.offer_id)
    assert step(EventKind.OPEN, EN(WHO_ADMIN, name="Ada")).search(trail), trail
