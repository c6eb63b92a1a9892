"""Store staff and admins through the emulator: invites, store notices, store orders, every admin command."""

from __future__ import annotations

import asyncio
import csv
import io
import re

import pytest

from bot import commands, texts
from bot.app import StorerunBot
from bot.commands import Audience
from bot.i18n import Words
from dispatch.lifecycle import Status
from dispatch.offers import Press
from sandbox.emulator import BotApiEmulator
from storage.records import EventKind, Language
from tests.e2e.conftest import ADMIN_ID, BotFactory
from tests.e2e.people import new_offer, offer_line, online_driver, seed_online_drivers

CLERK, OTHER_CLERK, MARIA, JOE, STRANGER = 4001, 4002, 3001, 3002, 5001


async def invite_link(emulator: BotApiEmulator, code: str = "FS-ZARA") -> str:
    before = len(emulator.chat(ADMIN_ID))
    await emulator.send_text(ADMIN_ID, f"/invite {code}")
    message = await emulator.wait_for_message(
        ADMIN_ID, lambda m: m.message_id > before and "?start=" in (m.text or "") and code in (m.text or "")
    )
    found = re.search(r"https://t\.me/(\w+)\?start=([\w-]+)", message.text or "")
    assert found, message.text
    assert found.group(1) == "storerun_bot"
    return found.group(2)


async def link(emulator: BotApiEmulator, clerk: int, code: str = "FS-ZARA") -> None:
    emulator.add_user(clerk, f"Clerk{clerk}")
    token = await invite_link(emulator, code)
    await emulator.send_text(clerk, f"/start {token}")
    await emulator.wait_for_message(clerk, "You're now staff of")


async def test_an_invite_links_staff_once(emulator: BotApiEmulator, storerun: StorerunBot) -> None:
    emulator.add_user(CLERK, "Kim")
    emulator.add_user(OTHER_CLERK, "Lou")
    token = await invite_link(emulator)
    await emulator.send_text(CLERK, f"/start {token}")
    await emulator.wait_for_message(CLERK, "You're now staff of Zara (FS-ZARA)")
    await emulator.send_text(OTHER_CLERK, f"/start {token}")
    await emulator.wait_for_message(OTHER_CLERK, "That invite link was already used")
    await emulator.send_text(OTHER_CLERK, "/start not-a-real-token")
    await emulator.wait_for_message(OTHER_CLERK, "That invite link isn't valid")
    await emulator.send_text(CLERK, "/help")
    await emulator.wait_for_message(CLERK, commands.help_lines(Words(Language.EN), Audience.STORES))
    await emulator.send_text(CLERK, "/unlink")
    await emulator.wait_for_message(CLERK, "You're no longer staff of FS-ZARA")
    await emulator.send_text(CLERK, "/orders")
    await emulator.wait_for_message(CLERK, "You're not linked to any store")


async def test_an_expired_invite_is_refused(emulator: BotApiEmulator, start_bot: BotFactory) -> None:
    await start_bot(invite_ttl_seconds=0.5)
    emulator.add_user(CLERK, "Kim")
    token = await invite_link(emulator)
    await asyncio.sleep(0.8)
    await emulator.send_text(CLERK, f"/start {token}")
    await emulator.wait_for_message(CLERK, "That invite link has expired")


async def test_the_store_hears_of_every_step_with_the_pickup_code(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    await link(emulator, CLERK)
    await link(emulator, OTHER_CLERK)  # a store may have several staff chats
    await online_driver(emulator, MARIA, "Maria Lopez")
    offer = await new_offer(emulator, ref="Z77")
    await emulator.wait_for_message(MARIA, "📦 New offer")
    await emulator.press(MARIA, "Accept")
    for clerk in (CLERK, OTHER_CLERK):
        accepted = await emulator.wait_for_message(clerk, "Order Z77: Maria accepted it")
        assert f"Pickup code: {offer.pickup_code}" in (accepted.text or "")
        # The window starts an hour from the real now: late in the evening, that is tomorrow.
        assert re.search(r"Pickup (\w{3}, \w{3} \d{1,2}, )?\d{1,2}:\d\d.* (PST|PDT)\.", accepted.text or "")
    await emulator.press(MARIA, "Confirm pickup")
    await emulator.wait_for_message(MARIA, "Type the 4-digit")
    await emulator.send_text(MARIA, offer.pickup_code)
    await emulator.wait_for_message(CLERK, "Order Z77: Maria confirmed pickup")
    await emulator.wait_for_message(MARIA, "🚗 Deliver")
    await emulator.press(MARIA, "Delivered")
    await emulator.wait_for_message(CLERK, "Order Z77: delivered")
    await emulator.send_photo(MARIA)
    proof = await emulator.wait_for_message(CLERK, "Proof of delivery for order Z77")
    assert proof.photo is not None


async def test_the_store_hears_of_release_expiry_and_failed_delivery(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    await start_bot(acceptance_window_seconds=2, wave_interval_seconds=30)
    await link(emulator, CLERK)
    await online_driver(emulator, MARIA, "Maria")
    released = await new_offer(emulator, ref="R1")
    await emulator.wait_for_message(MARIA, f"New offer #{released.offer_id}")
    await emulator.press(MARIA, "Accept")
    await emulator.wait_for_message(MARIA, "It's yours")
    await emulator.press(MARIA, "Release")
    await emulator.wait_for_message(
        CLERK, "Order R1: the driver released it. It's offered to other drivers again"
    )
    await emulator.wait_for_message(CLERK, "Order R1: no driver took it in time", timeout=15)

    failed = await new_offer(emulator, ref="F1")
    await emulator.wait_for_message(MARIA, f"New offer #{failed.offer_id}")
    await emulator.press(MARIA, "Accept")
    await emulator.wait_for_message(MARIA, f"It's yours: #{failed.offer_id}")
    await emulator.press(MARIA, "Confirm pickup")
    await emulator.wait_for_message(MARIA, "Type the 4-digit")
    await emulator.send_text(MARIA, failed.pickup_code)
    await emulator.wait_for_message(MARIA, "🚗 Deliver order F1")
    await emulator.press(MARIA, "Can't deliver")
    await emulator.wait_for_message(MARIA, "Why can't it be delivered?")
    await emulator.press(MARIA, "Damaged")
    await emulator.wait_for_message(
        CLERK, "Order F1 can't be delivered (damaged); the driver is bringing it back"
    )


async def test_staff_create_an_order_in_one_line_for_their_own_store(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    await link(emulator, CLERK)
    await online_driver(emulator, MARIA, "Maria")
    line = offer_line(ref="S1").replace("/newoffer store=FS-ZARA", "/neworder")
    await emulator.send_text(CLERK, line)
    card = await emulator.wait_for_message(CLERK, "🆕 Offer")
    assert "Pickup code:" in (card.text or "") and "(FS-ZARA)" in (card.text or "")
    await emulator.wait_for_message(MARIA, "📦 New offer")
    await emulator.send_text(CLERK, offer_line(store="TC-UNIQLO", ref="S2").replace("/newoffer", "/neworder"))
    await emulator.wait_for_message(CLERK, "you are not staff of TC-UNIQLO")
    await emulator.send_text(CLERK, "/neworder packages=2 pay=lots")
    refused = await emulator.wait_for_message(CLERK, "I couldn't create that offer")
    assert "/neworder packages=2" in (refused.text or "") and "store=" not in (refused.text or "")


async def test_staff_create_an_order_step_by_step(emulator: BotApiEmulator, storerun: StorerunBot) -> None:
    await link(emulator, CLERK)
    await emulator.send_text(CLERK, "/neworder")
    await emulator.wait_for_message(CLERK, "New order for Zara: how many packages?")
    await emulator.press(CLERK, "2")
    windows = await emulator.wait_for_message(CLERK, "Pickup window")
    assert len(windows.buttons) == 4
    await emulator.press(CLERK, windows.buttons[1])
    await emulator.wait_for_message(CLERK, "Pay for the driver")
    await emulator.send_text(CLERK, "lots")
    await emulator.wait_for_message(CLERK, "⚠️ Pay must be an amount")
    await emulator.send_text(CLERK, "21.75")
    await emulator.wait_for_message(CLERK, "Drop-off zone")
    await emulator.send_text(CLERK, "89109")
    await emulator.wait_for_message(CLERK, "Your order reference")
    await emulator.send_text(CLERK, "STEP-1")
    await emulator.wait_for_message(CLERK, "The customer's address")
    await emulator.send_text(CLERK, "3200 Las Vegas Blvd S")
    summary = await emulator.wait_for_message(CLERK, "New order:\n")
    assert "pay: 21.75" in (summary.text or "") and summary.buttons == ["Create order", "Cancel"]
    created = await emulator.press(CLERK, "Create order")
    assert created.text == "Order created."
    card = await emulator.wait_for_message(CLERK, "🆕 Offer")
    assert "$21.75" in (card.text or "") and "Ref STEP-1" in (card.text or "")


async def test_orders_lists_today_and_staff_cancel_only_their_own(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    await link(emulator, CLERK)
    await link(emulator, OTHER_CLERK, "TC-UNIQLO")
    await online_driver(emulator, MARIA, "Maria")
    offer = await new_offer(emulator, ref="O1")
    await emulator.wait_for_message(MARIA, "📦 New offer")
    await emulator.send_text(CLERK, "/orders")
    listing = await emulator.wait_for_message(CLERK, "Today's orders:")
    assert f"#{offer.offer_id} O1 · {texts.OFFER_STATES[Status.OPEN]} · pickup" in (listing.text or "")
    assert listing.buttons == [f"Cancel #{offer.offer_id}"]
    own = emulator.last_bot_message(OTHER_CLERK)
    assert own is not None
    forged = await emulator.press_callback(OTHER_CLERK, own.message_id, f"1:sc:{offer.offer_id}")
    assert forged.text == "That's not one of your orders."
    done = await emulator.press(CLERK, f"Cancel #{offer.offer_id}")
    assert done.text == "Cancelled."
    await emulator.wait_for_message(MARIA, lambda m: "cancelled" in (m.text or ""))
    await emulator.wait_for_message(CLERK, "Order O1 was cancelled")
    await emulator.wait_for_message(CLERK, lambda m: m.message_id == listing.message_id and not m.buttons)
    again = await emulator.press_callback(CLERK, listing.message_id, f"1:sc:{offer.offer_id}")
    assert again.text == texts.CANCEL_ANSWERS[Press.DONE]


ADMIN_COMMANDS = [
    "/drivers",
    "/driver 1",
    "/approve 1",
    "/reject 1",
    "/suspend 1",
    "/reinstate 1",
    "/areas",
    "/area tysons off",
    "/stores",
    '/addstore X-Y area=tysons name="X" where="Y"',
    "/invite FS-ZARA",
    "/offers",
    "/offer 1",
    "/cancel 1",
    "/reopen 1",
    "/stats",
    "/export offers",
    "/broadcast tysons hi",
    "/newoffer store=FS-ZARA",
]


async def test_every_admin_command_is_refused_to_others(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    emulator.add_user(STRANGER, "Eve")
    for command in ADMIN_COMMANDS:
        await emulator.send_text(STRANGER, command)

    def answered_all(_: object) -> bool:
        return sum(1 for m in emulator.chat(STRANGER) if m.from_bot) >= len(ADMIN_COMMANDS)

    await emulator.wait_for_message(STRANGER, answered_all)
    answers = [m.text for m in emulator.chat(STRANGER) if m.from_bot]
    assert answers == ["Sorry, that's only for admins."] * len(ADMIN_COMMANDS)
    async with storerun.db.transaction() as tx:
        area = await tx.areas.by_slug("tysons")
        assert area is not None and area.active


@pytest.mark.parametrize(
    ("command", "form"),
    [
        ("/driver abc", "/driver ID"),
        ("/approve", "/approve ID"),
        ("/suspend 1 2", "/suspend ID"),
        ("/area tysons maybe", "/area SLUG on|off"),
        ("/addstore X-1 area=tysons", "/addstore CODE"),
        ("/invite", "/invite STORE-CODE"),
        ("/offers everything now", "/offers [open|accepted|today|AREA]"),
        ("/offer", "/offer ID"),
        ("/cancel", "/cancel ID [reason]"),
        ("/stats tysons chandler", "/stats [AREA] [DAYS]"),
        ("/export pies", "/export offers|drivers [DAYS]"),
        ("/broadcast tysons", "/broadcast AREA"),
        ("/drivers nowhere", "/drivers [pending|online|AREA]"),
    ],
)
async def test_a_malformed_admin_command_gets_its_correct_form(
    emulator: BotApiEmulator, storerun: StorerunBot, command: str, form: str
) -> None:
    await emulator.send_text(ADMIN_ID, command)
    answer = await emulator.wait_for_message(ADMIN_ID, "Use it like this:")
    assert form in (answer.text or "")


async def test_driver_standing_commands(emulator: BotApiEmulator, storerun: StorerunBot) -> None:
    await online_driver(emulator, MARIA, "Maria")
    async with storerun.db.transaction() as tx:
        maria = await tx.drivers.by_telegram_id(MARIA)
    assert maria is not None
    await emulator.send_text(ADMIN_ID, f"/driver {maria.id}")
    profile = await emulator.wait_for_message(ADMIN_ID, f"#{maria.id} Maria")
    assert "Offered 0 · accepted 0" in (profile.text or "") and "on-time pickups —" in (profile.text or "")
    await emulator.send_text(ADMIN_ID, f"/suspend {maria.id}")
    await emulator.wait_for_message(ADMIN_ID, f"Driver #{maria.id} is suspended and offline.")
    await emulator.wait_for_message(MARIA, "Your driver account is suspended")
    await emulator.send_text(MARIA, "/online")
    await emulator.wait_for_message(MARIA, "is suspended, so you get no offers")
    await emulator.send_text(ADMIN_ID, f"/reinstate {maria.id}")
    await emulator.wait_for_message(MARIA, "Your driver account is active again")
    await emulator.send_text(ADMIN_ID, f"/approve {maria.id}")
    await emulator.wait_for_message(ADMIN_ID, "Another admin already decided.")
    emulator.add_user(JOE, "Joe")
    from tests.e2e.people import enroll

    await enroll(emulator, JOE, "Joe")
    async with storerun.db.transaction() as tx:
        joe = await tx.drivers.by_telegram_id(JOE)
    assert joe is not None
    await emulator.send_text(ADMIN_ID, f"/reject {joe.id}")
    await emulator.wait_for_message(JOE, "not accepted")
    await emulator.wait_for_message(ADMIN_ID, lambda m: "Rejected by Ada" in (m.text or ""))


async def test_driver_lists_are_paged(emulator: BotApiEmulator, storerun: StorerunBot) -> None:
    await seed_online_drivers(storerun, emulator, range(9000, 9023))
    await emulator.send_text(ADMIN_ID, "/drivers online")
    first = await emulator.wait_for_message(ADMIN_ID, "Drivers: online (23)")
    assert "Page 1 of 3" in (first.text or "") and first.buttons == ["Next ▶"]
    await emulator.press(ADMIN_ID, "Next ▶")
    second = await emulator.wait_for_message(
        ADMIN_ID, lambda m: m.message_id == first.message_id and "Page 2 of 3" in (m.text or "")
    )
    assert second.buttons == ["◀ Previous", "Next ▶"]
    await emulator.send_text(ADMIN_ID, "/drivers las-vegas")
    await emulator.wait_for_message(ADMIN_ID, "Drivers: las-vegas (23)")


async def test_areas_and_stores(emulator: BotApiEmulator, storerun: StorerunBot) -> None:
    await online_driver(emulator, MARIA, "Maria")
    await emulator.send_text(ADMIN_ID, "/areas")
    areas = await emulator.wait_for_message(ADMIN_ID, "las-vegas · Fashion Show")
    assert "3 stores · 1 driver (1 online)" in (areas.text or "")
    await emulator.send_text(ADMIN_ID, "/area las-vegas off")
    await emulator.wait_for_message(ADMIN_ID, "las-vegas is now paused")
    paused = await new_offer(emulator, ref="P1")
    await storerun.sender.drain()
    assert not any(f"#{paused.offer_id} ·" in (m.text or "") for m in emulator.chat(MARIA))
    await emulator.send_text(ADMIN_ID, "/area las-vegas on")
    await emulator.wait_for_message(ADMIN_ID, "las-vegas is now active")
    await emulator.send_text(
        ADMIN_ID, '/addstore FS-NIKE area=las-vegas name="Nike" where="Level 2, near the food court"'
    )
    await emulator.wait_for_message(
        ADMIN_ID, "Store FS-NIKE saved: Nike, Level 2, near the food court (las-vegas)"
    )
    await emulator.send_text(ADMIN_ID, "/stores las-vegas")
    stores = await emulator.wait_for_message(ADMIN_ID, "Stores: las-vegas (4)")
    assert "FS-NIKE · Nike" in (stores.text or "")
    await emulator.send_text(ADMIN_ID, '/addstore FS-X area=mars name="X" where="Y"')
    await emulator.wait_for_message(ADMIN_ID, "There's no area mars")


async def test_offer_board_trail_cancel_and_reopen(emulator: BotApiEmulator, start_bot: BotFactory) -> None:
    bot = await start_bot(acceptance_window_seconds=1.5, wave_interval_seconds=30)
    await online_driver(emulator, MARIA, "Maria")
    await online_driver(emulator, JOE, "Joe")
    await link(emulator, CLERK)
    offer = await new_offer(emulator, ref="B1")
    await emulator.wait_for_message(MARIA, f"New offer #{offer.offer_id}")
    await emulator.press(MARIA, "Accept")
    await emulator.wait_for_message(MARIA, "It's yours")
    await emulator.send_text(ADMIN_ID, "/offers accepted")
    board = await emulator.wait_for_message(ADMIN_ID, "Offers: accepted (1)")
    assert f"#{offer.offer_id} FS-ZARA B1 · accepted · Maria" in (board.text or "")
    await emulator.send_text(ADMIN_ID, f"/offer {offer.offer_id}")
    trail = await emulator.wait_for_message(ADMIN_ID, "Copies sent:")
    for piece in (
        "wave 1 → Maria: accepted",
        "wave 1 → Joe: taken",
        f"{Words(Language.EN)(texts.EVENT_WORDS[EventKind.OPEN])} by admin Ada",
        f"{Words(Language.EN)(texts.EVENT_WORDS[EventKind.ACCEPT])} by driver Maria (#",
    ):
        assert piece in (trail.text or ""), trail.text
    await emulator.send_text(ADMIN_ID, f"/cancel {offer.offer_id} customer called")
    await emulator.wait_for_message(ADMIN_ID, f"Offer #{offer.offer_id}: Cancelled.")
    await emulator.wait_for_message(MARIA, "cancelled")
    await emulator.wait_for_message(CLERK, "Order B1 was cancelled")
    await emulator.send_text(ADMIN_ID, f"/cancel {offer.offer_id}")
    await emulator.wait_for_message(ADMIN_ID, "It's already cancelled.")
    expiring = await new_offer(emulator, ref="B2")
    await emulator.wait_for_message(ADMIN_ID, "expired with no driver", timeout=10)
    await emulator.send_text(ADMIN_ID, f"/reopen {expiring.offer_id}")
    await emulator.wait_for_message(ADMIN_ID, f"Offer #{expiring.offer_id}: Offered again.")
    async with bot.db.transaction() as tx:
        again = await tx.offers.by_id(expiring.offer_id)
    assert again is not None and again.status in ("open", "expired")


async def test_stats_come_with_a_png_chart(emulator: BotApiEmulator, storerun: StorerunBot) -> None:
    await online_driver(emulator, MARIA, "Maria")
    offer = await new_offer(emulator, ref="ST1")
    await emulator.wait_for_message(MARIA, f"New offer #{offer.offer_id}")
    await emulator.press(MARIA, "Accept")
    await emulator.send_text(ADMIN_ID, "/stats las-vegas 7")
    text = await emulator.wait_for_message(ADMIN_ID, "(las-vegas)")
    assert "created 1" in (text.text or "") and "accepted 1" in (text.text or "")
    chart = await emulator.wait_for_message(ADMIN_ID, lambda m: m.photo is not None)
    assert chart.photo is not None and chart.photo.content.startswith(b"\x89PNG\r\n\x1a\n")
    await emulator.send_text(ADMIN_ID, "/stats mars")
    await emulator.wait_for_message(ADMIN_ID, "There's no area mars")


async def test_export_offers_is_a_csv_matching_the_database(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    first = await new_offer(emulator, ref="X1")
    second = await new_offer(emulator, ref="X2")
    await emulator.send_text(ADMIN_ID, "/export offers 7")
    document = await emulator.wait_for_message(ADMIN_ID, lambda m: m.document is not None)
    assert document.document is not None and document.document.file_name == "offers-7d.csv"
    rows = list(csv.DictReader(io.StringIO(document.document.content.decode())))
    assert sorted(int(row["id"]) for row in rows) == sorted([first.offer_id, second.offer_id])
    assert {row["ref"] for row in rows} == {"X1", "X2"}
    assert "pickup_code" not in rows[0] and "address" not in rows[0]  # the code and the address stay private
    assert "3200 Las Vegas Blvd" not in document.document.content.decode()
    await emulator.send_text(ADMIN_ID, "/export drivers")
    drivers = await emulator.wait_for_message(
        ADMIN_ID, lambda m: m.document is not None and "drivers" in (m.document.file_name or "")
    )
    assert drivers.document is not None and drivers.document.content.decode().startswith("id,")


async def test_broadcast_asks_first_then_reports_the_count(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    await online_driver(emulator, MARIA, "Maria")
    await online_driver(emulator, JOE, "Joe")
    await emulator.send_text(ADMIN_ID, "/broadcast las-vegas Parking on level 3 is closed today")
    confirm = await emulator.wait_for_message(ADMIN_ID, "Send this to 2 approved drivers of Fashion Show")
    assert confirm.buttons == ["Send it (2)", "Don't send"]
    await storerun.sender.drain()
    assert not any("Parking" in (m.text or "") for m in emulator.chat(MARIA))
    sent = await emulator.press(ADMIN_ID, "Send it (2)")
    assert sent.text == "Sending to 2 drivers. I'll tell you when it's done."
    for driver in (MARIA, JOE):
        await emulator.wait_for_message(
            driver, "📣 Fashion Show, Las Vegas Strip: Parking on level 3 is closed today"
        )
    await emulator.wait_for_message(
        ADMIN_ID, "Broadcast to Fashion Show, Las Vegas Strip done: 2 delivered, 0 not delivered."
    )
    again = await emulator.press_callback(
        ADMIN_ID, confirm.message_id, confirm.inline_keyboard[0][0].callback_data or ""
    )
    assert again.text == "This broadcast was already sent or dropped."


async def test_an_offer_sent_to_many_drivers_counts_its_copies_and_keeps_its_whole_trail(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    bot = await start_bot(wave_size=120)
    await seed_online_drivers(bot, emulator, range(9100, 9220))
    offer = await new_offer(emulator, ref="LONG")
    await emulator.send_text(ADMIN_ID, f"/offer {offer.offer_id}")
    trail = await emulator.wait_for_message(ADMIN_ID, "Copies sent:")
    text = trail.text or ""
    assert len(text) <= 4096 and "120 copies: no answer yet 120" in text
    en = Words(Language.EN)
    wave = en(texts.DETAIL_VALUES["wave"], value=1) + " · " + en.n(texts.DETAIL_COUNTS["drivers"], 120)
    assert text.endswith(f"{en(texts.EVENT_WORDS[EventKind.WAVE])} by dispatch: {wave}")


async def test_a_broadcast_finished_while_the_bot_was_down_is_reported_on_start(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    first = await start_bot()
    await online_driver(emulator, MARIA, "Maria")
    draft = await first.dispatch.admin.draft_broadcast(ADMIN_ID, "las-vegas", "Rain tonight")
    assert draft.broadcast_id is not None
    first.sender.on_settled = None  # the bot goes down before it could report
    assert await first.dispatch.admin.send_broadcast(draft.broadcast_id, ADMIN_ID) == 1
    await first.sender.drain()
    await emulator.wait_for_message(MARIA, "Rain tonight")
    await first.stop()
    await start_bot()
    await emulator.wait_for_message(ADMIN_ID, "done: 1 delivered, 0 not delivered.")
