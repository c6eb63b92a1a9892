"""An offer's trail names who did each step by role and name: the store and clerk, the driver, the admin."""

from __future__ import annotations

from bot import texts
from bot.app import StorerunBot
from bot.i18n import Words
from sandbox.emulator import BotApiEmulator
from storage.records import EventKind, Language
from tests.e2e.conftest import ADMIN_ID
from tests.e2e.people import new_offer, offer_line, online_driver
from tests.e2e.test_stores_and_admins import invite_link


def did(kind: EventKind) -> str:
    """What happened, as the English trail says it."""
    return Words(Language.EN)(texts.EVENT_WORDS[kind])


MIA, ANA = 4101, 3101


async def link_clerk(emulator: BotApiEmulator, user_id: int, name: str) -> None:
    emulator.add_user(user_id, name)
    token = await invite_link(emulator)
    await emulator.send_text(user_id, f"/start {token}")
    await emulator.wait_for_message(user_id, "You're now staff of")


async def driver_id_of(storerun: StorerunBot, user_id: int) -> int:
    async with storerun.db.read() as tx:
        driver = await tx.drivers.by_telegram_id(user_id)
    assert driver is not None
    return driver.id


async def trail_of(emulator: BotApiEmulator, offer_id: int) -> str:
    await emulator.send_text(ADMIN_ID, f"/offer {offer_id}")
    trail = await emulator.wait_for_message(
        ADMIN_ID, lambda m: f"Offer #{offer_id} ·" in (m.text or "") and "Trail:" in (m.text or "")
    )
    return trail.text or ""


async def test_a_clerks_order_shows_the_store_and_clerk_and_the_driver_by_name(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    await link_clerk(emulator, MIA, "Mia")
    await online_driver(emulator, ANA, "Ana Kovač")
    await emulator.send_text(MIA, offer_line(ref="T1").replace("/newoffer store=FS-ZARA", "/neworder"))
    card = await emulator.wait_for_message(MIA, "🆕 Offer")
    offer_id = int((card.text or "").split("Offer #")[1].split()[0])
    await emulator.wait_for_message(ANA, f"New offer #{offer_id}")
    await emulator.press(ANA, "Accept")
    await emulator.wait_for_message(ANA, "It's yours")
    trail = await trail_of(emulator, offer_id)
    assert f"{did(EventKind.OPEN)} by store FS-ZARA · Mia" in trail, trail
    assert f"{did(EventKind.ACCEPT)} by driver Ana K. (#{await driver_id_of(storerun, ANA)})" in trail, trail
    assert f"{did(EventKind.WAVE)} by dispatch" in trail, trail
    assert f"admin:{MIA}" not in trail and "driver:" not in trail, trail


async def test_a_clerks_step_by_step_order_is_opened_by_the_store(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    await link_clerk(emulator, MIA, "Mia")
    await emulator.send_text(MIA, "/neworder")
    await emulator.wait_for_message(MIA, "how many packages?")
    await emulator.press(MIA, "2")
    windows = await emulator.wait_for_message(MIA, "Pickup window")
    await emulator.press(MIA, windows.buttons[1])
    for asked, answer in (
        ("Pay for the driver", "21.75"),
        ("Drop-off zone", "89109"),
        ("Your order reference", "STEP-2"),
        ("The customer's address", "3200 Las Vegas Blvd S"),
    ):
        await emulator.wait_for_message(MIA, asked)
        await emulator.send_text(MIA, answer)
    await emulator.wait_for_message(MIA, "New order:\n")
    await emulator.press(MIA, "Create order")
    card = await emulator.wait_for_message(MIA, "🆕 Offer")
    offer_id = int((card.text or "").split("Offer #")[1].split()[0])
    assert f"{did(EventKind.OPEN)} by store FS-ZARA · Mia" in await trail_of(emulator, offer_id)


async def test_an_admins_offer_is_opened_by_the_admin_by_name(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    offer = await new_offer(emulator, ref="T3")
    trail = await trail_of(emulator, offer.offer_id)
    assert f"{did(EventKind.OPEN)} by admin Ada" in trail, trail
