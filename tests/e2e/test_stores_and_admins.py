"""Store staff and admins through the emulator: invites, store notices, store orders, every admin command."""

from __future__ import annotations

import asyncio
import csv
import io
import re

import pytest

from bot import commands, keyboards, texts
from bot.app import StorerunBot
from bot.commands import Audience
from bot.problems import PROBLEMS
from bot.routes import stores
from bot.routes.admins import (
    AREA_ACTIVE,
    AREA_LINE,
    AREA_NOW_PAUSED,
    DRIVERS,
    LIST_TITLES,
    OFFER_ANSWER,
    STORES,
)
from dispatch.drivers import Decision
from dispatch.lifecycle import Status
from dispatch.offers import Press
from dispatch.problems import Problem
from dispatch.views import FailReason
from sandbox.emulator import BotApiEmulator
from storage.records import Account, EventKind, Outcome
from tests.e2e.conftest import ADMIN_ID, BotFactory
from tests.e2e.people import LAS_VEGAS, new_offer, offer_line, online_driver, seed_online_drivers
from tests.e2e.words import (
    ADMIN_EXPIRED,
    ADMIN_OFFER_CARD,
    ASK_FAIL_REASON,
    ASK_PICKUP_CODE,
    BROADCAST_DONE,
    COPIES_COUNTED,
    COPIES_SENT,
    COPY_CANCELLED,
    COPY_LINE,
    DELIVERY_CARD,
    DRIVER_RECORD,
    EN,
    JOB_CARD,
    OFFER_COPY,
    ORDER_LINE,
    PAGE_OF,
    REJECTED_BY,
    STATS_BLOCK,
    STORE_ACCEPTED,
    STORE_CANCELLED,
    STORE_DELIVERED,
    STORE_EXPIRED,
    STORE_PICKED_UP,
    STORE_PROOF,
    STORE_RELEASED,
    STORE_RETURNING,
    TODAYS_ORDERS,
    TRAIL_STEP,
    WHO_ADMIN,
    WHO_DISPATCH,
    WHO_DRIVER,
    YOU_ARE_REINSTATED,
    YOU_ARE_REJECTED,
    line_of,
    matches,
    offer_copy_of,
    part,
    saying,
    title_of,
    titled,
)

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
    await emulator.wait_for_message(clerk, part(texts.LINKED["linked"]))


async def test_an_invite_links_staff_once(emulator: BotApiEmulator, storerun: StorerunBot) -> None:
    emulator.add_user(CLERK, "Kim")
    emulator.add_user(OTHER_CLERK, "Lou")
    token = await invite_link(emulator)
    await emulator.send_text(CLERK, f"/start {token}")
    await emulator.wait_for_message(CLERK, EN(texts.LINKED["linked"], store="Zara (FS-ZARA)"))
    await emulator.send_text(OTHER_CLERK, f"/start {token}")
    await emulator.wait_for_message(OTHER_CLERK, EN(texts.LINKED["used"]))
    await emulator.send_text(OTHER_CLERK, "/start not-a-real-token")
    await emulator.wait_for_message(OTHER_CLERK, EN(texts.LINKED["unknown"]))
    await emulator.send_text(CLERK, "/help")
    await emulator.wait_for_message(CLERK, commands.help_lines(EN, Audience.STORES))
    await emulator.send_text(CLERK, "/unlink")
    await emulator.wait_for_message(CLERK, EN(texts.UNLINKED, codes="FS-ZARA"))
    await emulator.send_text(CLERK, "/orders")
    await emulator.wait_for_message(CLERK, EN(texts.NOT_STAFF))


async def test_an_expired_invite_is_refused(emulator: BotApiEmulator, start_bot: BotFactory) -> None:
    await start_bot(invite_ttl_seconds=0.5)
    emulator.add_user(CLERK, "Kim")
    token = await invite_link(emulator)
    await asyncio.sleep(0.8)
    await emulator.send_text(CLERK, f"/start {token}")
    await emulator.wait_for_message(CLERK, EN(texts.LINKED["expired"]))


async def test_the_store_hears_of_every_step_with_the_pickup_code(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    await link(emulator, CLERK)
    await link(emulator, OTHER_CLERK)  # a store may have several staff chats
    await online_driver(emulator, MARIA, "Maria Lopez")
    offer = await new_offer(emulator, ref="Z77")
    await emulator.wait_for_message(MARIA, part(OFFER_COPY))
    await emulator.press(MARIA, EN(keyboards.ACCEPT))
    # The window starts an hour from the real now: late in the evening, that is tomorrow.
    window = re.compile(r"(\w{3}, \w{3} \d{1,2}, )?\d{1,2}:\d\d.* (PST|PDT)")
    told = matches(STORE_ACCEPTED, ref="Z77", driver="Maria", window=window, code=offer.pickup_code)
    for clerk in (CLERK, OTHER_CLERK):
        accepted = await emulator.wait_for_message(clerk, part(STORE_ACCEPTED, ref="Z77", driver="Maria"))
        assert told.search(accepted.text or ""), accepted.text
    await emulator.press(MARIA, EN(keyboards.CONFIRM_PICKUP))
    await emulator.wait_for_message(MARIA, part(ASK_PICKUP_CODE))
    await emulator.send_text(MARIA, offer.pickup_code)
    await emulator.wait_for_message(CLERK, part(STORE_PICKED_UP, ref="Z77", driver="Maria"))
    await emulator.wait_for_message(MARIA, part(DELIVERY_CARD))
    await emulator.press(MARIA, EN(keyboards.DELIVERED))
    await emulator.wait_for_message(CLERK, part(STORE_DELIVERED, ref="Z77"))
    await emulator.send_photo(MARIA)
    proof = await emulator.wait_for_message(CLERK, part(STORE_PROOF, ref="Z77"))
    assert proof.photo is not None


async def test_the_store_hears_of_release_expiry_and_failed_delivery(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    await start_bot(acceptance_window_seconds=2, wave_interval_seconds=30)
    await link(emulator, CLERK)
    await online_driver(emulator, MARIA, "Maria")
    released = await new_offer(emulator, ref="R1")
    await emulator.wait_for_message(MARIA, offer_copy_of(released.offer_id))
    await emulator.press(MARIA, EN(keyboards.ACCEPT))
    await emulator.wait_for_message(MARIA, part(JOB_CARD))
    await emulator.press(MARIA, EN(keyboards.RELEASE))
    await emulator.wait_for_message(CLERK, part(STORE_RELEASED, ref="R1"))
    await emulator.wait_for_message(CLERK, part(STORE_EXPIRED, ref="R1"), timeout=15)

    failed = await new_offer(emulator, ref="F1")
    await emulator.wait_for_message(MARIA, offer_copy_of(failed.offer_id))
    await emulator.press(MARIA, EN(keyboards.ACCEPT))
    await emulator.wait_for_message(MARIA, titled(JOB_CARD, failed.offer_id))
    await emulator.press(MARIA, EN(keyboards.CONFIRM_PICKUP))
    await emulator.wait_for_message(MARIA, part(ASK_PICKUP_CODE))
    await emulator.send_text(MARIA, failed.pickup_code)
    await emulator.wait_for_message(MARIA, part(DELIVERY_CARD, ref="F1"))
    await emulator.press(MARIA, EN(keyboards.CANT_DELIVER))
    await emulator.wait_for_message(MARIA, saying(ASK_FAIL_REASON, ref="F1"))
    await emulator.press(MARIA, EN(keyboards.REASONS[FailReason.DAMAGED]))
    damaged = EN(texts.FAIL_REASONS[FailReason.DAMAGED])
    await emulator.wait_for_message(CLERK, part(STORE_RETURNING, ref="F1", reason=damaged))


async def test_staff_create_an_order_in_one_line_for_their_own_store(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    await link(emulator, CLERK)
    await online_driver(emulator, MARIA, "Maria")
    line = offer_line(ref="S1").replace("/newoffer store=FS-ZARA", "/neworder")
    await emulator.send_text(CLERK, line)
    card = await emulator.wait_for_message(CLERK, part(ADMIN_OFFER_CARD))
    assert matches(ADMIN_OFFER_CARD, code="FS-ZARA").search(card.text or ""), card.text
    await emulator.wait_for_message(MARIA, part(OFFER_COPY))
    await emulator.send_text(CLERK, offer_line(store="TC-UNIQLO", ref="S2").replace("/newoffer", "/neworder"))
    await emulator.wait_for_message(CLERK, EN(PROBLEMS[Problem.NOT_STAFF_OF], store="TC-UNIQLO"))
    await emulator.send_text(CLERK, "/neworder packages=2 pay=lots")
    refused = await emulator.wait_for_message(CLERK, part(texts.OFFER_PROBLEMS))
    assert "/neworder packages=2" in (refused.text or "") and "store=" not in (refused.text or "")


async def test_staff_create_an_order_step_by_step(emulator: BotApiEmulator, storerun: StorerunBot) -> None:
    await link(emulator, CLERK)
    await emulator.send_text(CLERK, "/neworder")
    await emulator.wait_for_message(CLERK, EN(texts.DRAFT_PROMPTS["packages"], store="Zara"))
    await emulator.press(CLERK, "2")
    windows = await emulator.wait_for_message(CLERK, EN(texts.DRAFT_PROMPTS["window"]))
    assert len(windows.buttons) == 4
    await emulator.press(CLERK, windows.buttons[1])
    await emulator.wait_for_message(CLERK, EN(texts.DRAFT_PROMPTS["pay"]))
    await emulator.send_text(CLERK, "lots")
    problem = EN(PROBLEMS[Problem.PAY_FORM])
    await emulator.wait_for_message(
        CLERK, f"⚠️ {problem[:1].upper()}{problem[1:]}."
    )  # a problem heads the step
    await emulator.send_text(CLERK, "21.75")
    await emulator.wait_for_message(CLERK, EN(texts.DRAFT_PROMPTS["zone"]))
    await emulator.send_text(CLERK, "89109")
    await emulator.wait_for_message(CLERK, EN(texts.DRAFT_PROMPTS["ref"]))
    await emulator.send_text(CLERK, "STEP-1")
    await emulator.wait_for_message(CLERK, EN(texts.DRAFT_PROMPTS["address"]))
    await emulator.send_text(CLERK, "3200 Las Vegas Blvd S")
    summary = await emulator.wait_for_message(CLERK, part(stores.NEW_ORDER))
    assert "pay: 21.75" in (summary.text or "")
    assert summary.buttons == [EN(keyboards.CREATE_ORDER), EN(keyboards.DROP_ORDER)]
    created = await emulator.press(CLERK, EN(keyboards.CREATE_ORDER))
    assert created.text == EN(stores.CREATED)
    card = await emulator.wait_for_message(CLERK, part(ADMIN_OFFER_CARD))
    assert EN.pay(2175) in (card.text or "") and matches(ADMIN_OFFER_CARD, ref="STEP-1").search(
        card.text or ""
    )


async def test_orders_lists_today_and_staff_cancel_only_their_own(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    await link(emulator, CLERK)
    await link(emulator, OTHER_CLERK, "TC-UNIQLO")
    await online_driver(emulator, MARIA, "Maria")
    offer = await new_offer(emulator, ref="O1")
    await emulator.wait_for_message(MARIA, part(OFFER_COPY))
    await emulator.send_text(CLERK, "/orders")
    listing = await emulator.wait_for_message(CLERK, EN(TODAYS_ORDERS))
    waiting = EN(texts.OFFER_STATES[Status.OPEN])
    line = matches(ORDER_LINE, id=offer.offer_id, ref="O1", state=waiting, holder="")
    assert line.search(listing.text or ""), listing.text
    cancel = EN(keyboards.CANCEL_ONE, id=offer.offer_id)
    assert listing.buttons == [cancel]
    own = emulator.last_bot_message(OTHER_CLERK)
    assert own is not None
    forged = await emulator.press_callback(OTHER_CLERK, own.message_id, f"1:sc:{offer.offer_id}")
    assert forged.text == EN(texts.CANCEL_ANSWERS[Press.NOT_YOURS])
    done = await emulator.press(CLERK, cancel)
    assert done.text == EN(texts.CANCEL_ANSWERS[Press.CANCELLED])
    await emulator.wait_for_message(MARIA, saying(COPY_CANCELLED))
    await emulator.wait_for_message(CLERK, part(STORE_CANCELLED, ref="O1"))
    await emulator.wait_for_message(CLERK, lambda m: m.message_id == listing.message_id and not m.buttons)
    again = await emulator.press_callback(CLERK, listing.message_id, f"1:sc:{offer.offer_id}")
    assert again.text == EN(texts.CANCEL_ANSWERS[Press.DONE])


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
    assert answers == [EN(texts.NOT_ALLOWED)] * len(ADMIN_COMMANDS)
    async with storerun.db.transaction() as tx:
        area = await tx.areas.by_slug("tysons")
        assert area is not None and area.active


@pytest.mark.parametrize(
    ("command", "name"),
    [
        ("/driver abc", "driver"),
        ("/approve", "approve"),
        ("/suspend 1 2", "suspend"),
        ("/area tysons maybe", "area"),
        ("/addstore X-1 area=tysons", "addstore"),
        ("/invite", "invite"),
        ("/offers everything now", "offers"),
        ("/offer", "offer"),
        ("/cancel", "cancel"),
        ("/stats tysons chandler", "stats"),
        ("/export pies", "export"),
        ("/broadcast tysons", "broadcast"),
        ("/drivers nowhere", "drivers"),
    ],
)
async def test_a_malformed_admin_command_gets_its_correct_form(
    emulator: BotApiEmulator, storerun: StorerunBot, command: str, name: str
) -> None:
    await emulator.send_text(ADMIN_ID, command)
    answer = await emulator.wait_for_message(ADMIN_ID, part(texts.WRONG_FORM))
    assert commands.usage(EN, name) in (answer.text or "")


async def test_driver_standing_commands(emulator: BotApiEmulator, storerun: StorerunBot) -> None:
    await online_driver(emulator, MARIA, "Maria")
    async with storerun.db.transaction() as tx:
        maria = await tx.drivers.by_telegram_id(MARIA)
    assert maria is not None
    await emulator.send_text(ADMIN_ID, f"/driver {maria.id}")
    profile = await emulator.wait_for_message(ADMIN_ID, f"#{maria.id} Maria")
    record = matches(DRIVER_RECORD, offered=0, accepted=0, rate=texts.NO_DATA)
    assert record.search(profile.text or ""), profile.text
    await emulator.send_text(ADMIN_ID, f"/suspend {maria.id}")
    await emulator.wait_for_message(ADMIN_ID, EN(texts.STANDING_DONE["suspend"], id=maria.id))
    suspended = EN(texts.DRIVER_BY_STATUS[Account.SUSPENDED])
    await emulator.wait_for_message(MARIA, suspended)
    await emulator.send_text(MARIA, "/online")
    await emulator.wait_for_message(MARIA, suspended)
    await emulator.send_text(ADMIN_ID, f"/reinstate {maria.id}")
    await emulator.wait_for_message(MARIA, EN(YOU_ARE_REINSTATED))
    await emulator.send_text(ADMIN_ID, f"/approve {maria.id}")
    await emulator.wait_for_message(ADMIN_ID, EN(texts.DECISION_ANSWERS[Decision.ALREADY_DECIDED]))
    emulator.add_user(JOE, "Joe")
    from tests.e2e.people import enroll

    await enroll(emulator, JOE, "Joe")
    async with storerun.db.transaction() as tx:
        joe = await tx.drivers.by_telegram_id(JOE)
    assert joe is not None
    await emulator.send_text(ADMIN_ID, f"/reject {joe.id}")
    await emulator.wait_for_message(JOE, EN(YOU_ARE_REJECTED))
    await emulator.wait_for_message(ADMIN_ID, lambda m: EN(REJECTED_BY, admin="Ada") in (m.text or ""))


async def test_driver_lists_are_paged(emulator: BotApiEmulator, storerun: StorerunBot) -> None:
    await seed_online_drivers(storerun, emulator, range(9000, 9023))
    await emulator.send_text(ADMIN_ID, "/drivers online")
    first = await emulator.wait_for_message(ADMIN_ID, EN(LIST_TITLES["drivers"], which="online") + " (23)")
    assert EN(PAGE_OF, page=1, pages=3) in (first.text or "") and first.buttons == [EN(keyboards.NEXT)]
    await emulator.press(ADMIN_ID, EN(keyboards.NEXT))
    page_two = EN(PAGE_OF, page=2, pages=3)
    second = await emulator.wait_for_message(
        ADMIN_ID, lambda m: m.message_id == first.message_id and page_two in (m.text or "")
    )
    assert second.buttons == [EN(keyboards.PREVIOUS), EN(keyboards.NEXT)]
    await emulator.send_text(ADMIN_ID, "/drivers las-vegas")
    await emulator.wait_for_message(ADMIN_ID, EN(LIST_TITLES["drivers"], which="las-vegas") + " (23)")


async def areas_show_one_online_driver_in_las_vegas(emulator: BotApiEmulator) -> None:
    """/areas: Las Vegas active, with its 3 stores and its one driver, online."""
    await emulator.send_text(ADMIN_ID, "/areas")
    areas = await emulator.wait_for_message(ADMIN_ID, part(AREA_LINE, slug="las-vegas", name=LAS_VEGAS))
    counted = line_of(
        AREA_LINE,
        slug="las-vegas",
        name=LAS_VEGAS,
        state=EN(AREA_ACTIVE),
        stores=EN.n(STORES, 3),
        drivers=EN.n(DRIVERS, 1),
        online=1,
    )
    assert counted.search(areas.text or ""), areas.text


async def test_areas_and_stores(emulator: BotApiEmulator, storerun: StorerunBot) -> None:
    await online_driver(emulator, MARIA, "Maria")
    await areas_show_one_online_driver_in_las_vegas(emulator)
    await emulator.send_text(ADMIN_ID, "/area las-vegas off")
    await emulator.wait_for_message(ADMIN_ID, EN(texts.AREA_SET, slug="las-vegas", state=EN(AREA_NOW_PAUSED)))
    paused = await new_offer(emulator, ref="P1")
    await storerun.sender.drain()
    assert not any(title_of(paused.offer_id) in (m.text or "") for m in emulator.chat(MARIA))
    await emulator.send_text(ADMIN_ID, "/area las-vegas on")
    await emulator.wait_for_message(ADMIN_ID, EN(texts.AREA_SET, slug="las-vegas", state=EN(AREA_ACTIVE)))
    await emulator.send_text(
        ADMIN_ID, '/addstore FS-NIKE area=las-vegas name="Nike" where="Level 2, near the food court"'
    )
    saved = EN(
        texts.STORE_SAVED, code="FS-NIKE", name="Nike", where="Level 2, near the food court", area="las-vegas"
    )
    await emulator.wait_for_message(ADMIN_ID, saved)
    await emulator.send_text(ADMIN_ID, "/stores las-vegas")
    listed = await emulator.wait_for_message(ADMIN_ID, EN(LIST_TITLES["stores"], which="las-vegas") + " (4)")
    assert "FS-NIKE · Nike" in (listed.text or "")
    await emulator.send_text(ADMIN_ID, '/addstore FS-X area=mars name="X" where="Y"')
    await emulator.wait_for_message(ADMIN_ID, EN(texts.NO_SUCH_AREA_SLUG, slug="mars"))


async def test_offer_board_trail_cancel_and_reopen(emulator: BotApiEmulator, start_bot: BotFactory) -> None:
    bot = await start_bot(acceptance_window_seconds=1.5, wave_interval_seconds=30)
    await online_driver(emulator, MARIA, "Maria")
    await online_driver(emulator, JOE, "Joe")
    await link(emulator, CLERK)
    offer = await new_offer(emulator, ref="B1")
    await emulator.wait_for_message(MARIA, offer_copy_of(offer.offer_id))
    await emulator.press(MARIA, EN(keyboards.ACCEPT))
    await emulator.wait_for_message(MARIA, part(JOB_CARD))
    await emulator.send_text(ADMIN_ID, "/offers accepted")
    board = await emulator.wait_for_message(ADMIN_ID, EN(LIST_TITLES["offers"], which="accepted") + " (1)")
    accepted = EN(texts.OFFER_STATES[Status.ACCEPTED])
    assert f"#{offer.offer_id} FS-ZARA B1 · {accepted} · Maria" in (board.text or "")
    await emulator.send_text(ADMIN_ID, f"/offer {offer.offer_id}")
    trail = await emulator.wait_for_message(ADMIN_ID, EN(COPIES_SENT))
    for piece in (
        matches(COPY_LINE, wave=1, driver="Maria", outcome=EN(texts.COPY_OUTCOMES[Outcome.ACCEPTED])),
        matches(COPY_LINE, wave=1, driver="Joe", outcome=EN(texts.COPY_OUTCOMES[Outcome.TAKEN])),
        matches(TRAIL_STEP, kind=EN(texts.EVENT_WORDS[EventKind.OPEN]), who=EN(WHO_ADMIN, name="Ada")),
        matches(
            TRAIL_STEP, kind=EN(texts.EVENT_WORDS[EventKind.ACCEPT]), who=matches(WHO_DRIVER, name="Maria")
        ),
    ):
        assert piece.search(trail.text or ""), trail.text
    await emulator.send_text(ADMIN_ID, f"/cancel {offer.offer_id} customer called")
    cancelled = EN(texts.CANCEL_ANSWERS[Press.CANCELLED])
    await emulator.wait_for_message(ADMIN_ID, EN(OFFER_ANSWER, id=offer.offer_id, answer=cancelled))
    await emulator.wait_for_message(MARIA, saying(COPY_CANCELLED))
    await emulator.wait_for_message(CLERK, part(STORE_CANCELLED, ref="B1"))
    await emulator.send_text(ADMIN_ID, f"/cancel {offer.offer_id}")
    await emulator.wait_for_message(ADMIN_ID, EN(texts.CANCEL_ANSWERS[Press.DONE]))
    expiring = await new_offer(emulator, ref="B2")
    await emulator.wait_for_message(ADMIN_ID, saying(ADMIN_EXPIRED, ref="B2"), timeout=10)
    await emulator.send_text(ADMIN_ID, f"/reopen {expiring.offer_id}")
    offered_again = EN(texts.REOPEN_ANSWERS[Press.REOPENED])
    await emulator.wait_for_message(ADMIN_ID, EN(OFFER_ANSWER, id=expiring.offer_id, answer=offered_again))
    async with bot.db.transaction() as tx:
        again = await tx.offers.by_id(expiring.offer_id)
    assert again is not None and again.status in ("open", "expired")


async def test_stats_come_with_a_png_chart(emulator: BotApiEmulator, storerun: StorerunBot) -> None:
    await online_driver(emulator, MARIA, "Maria")
    offer = await new_offer(emulator, ref="ST1")
    await emulator.wait_for_message(MARIA, offer_copy_of(offer.offer_id))
    await emulator.press(MARIA, EN(keyboards.ACCEPT))
    await emulator.send_text(ADMIN_ID, "/stats las-vegas 7")
    text = await emulator.wait_for_message(ADMIN_ID, "(las-vegas)")
    assert matches(STATS_BLOCK, created=1, accepted=1).search(text.text or ""), text.text
    chart = await emulator.wait_for_message(ADMIN_ID, lambda m: m.photo is not None)
    assert chart.photo is not None and chart.photo.content.startswith(b"\x89PNG\r\n\x1a\n")
    await emulator.send_text(ADMIN_ID, "/stats mars")
    await emulator.wait_for_message(ADMIN_ID, EN(texts.NO_SUCH_AREA_SLUG, slug="mars"))


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
    news = "Parking on level 3 is closed today"
    confirm = await emulator.wait_for_message(
        ADMIN_ID, EN.n(texts.BROADCAST_CONFIRM, 2, area=LAS_VEGAS, text=news)
    )
    send_it = EN(keyboards.SEND_BROADCAST, n=2)
    assert confirm.buttons == [send_it, EN(keyboards.DROP_BROADCAST)]
    await storerun.sender.drain()
    assert not any("Parking" in (m.text or "") for m in emulator.chat(MARIA))
    sent = await emulator.press(ADMIN_ID, send_it)
    assert sent.text == EN.n(texts.BROADCAST_QUEUED, 2)
    for driver in (MARIA, JOE):
        await emulator.wait_for_message(driver, f"📣 {LAS_VEGAS}: {news}")
    await emulator.wait_for_message(ADMIN_ID, EN(BROADCAST_DONE, area=LAS_VEGAS, sent=2, failed=0))
    again = await emulator.press_callback(
        ADMIN_ID, confirm.message_id, confirm.inline_keyboard[0][0].callback_data or ""
    )
    assert again.text == EN(texts.BROADCAST_GONE)


async def test_an_offer_sent_to_many_drivers_counts_its_copies_and_keeps_its_whole_trail(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    bot = await start_bot(wave_size=120)
    await seed_online_drivers(bot, emulator, range(9100, 9220))
    offer = await new_offer(emulator, ref="LONG")
    await emulator.send_text(ADMIN_ID, f"/offer {offer.offer_id}")
    trail = await emulator.wait_for_message(ADMIN_ID, EN(COPIES_SENT))
    text = trail.text or ""
    unanswered = EN(texts.COPY_OUTCOMES[Outcome.SENT])
    assert len(text) <= 4096 and EN.n(COPIES_COUNTED, 120, outcomes=f"{unanswered} 120") in text
    # The trail's last step: the wave, by dispatch, with its details in words.
    wave = matches(TRAIL_STEP, kind=EN(texts.EVENT_WORDS[EventKind.WAVE]), who=EN(WHO_DISPATCH))
    details = " · ".join(
        [EN(texts.DETAIL_VALUES["wave"], value=1), EN.n(texts.DETAIL_COUNTS["drivers"], 120)]
    )
    assert re.search(f"{wave.pattern}: {re.escape(details)}\\Z", text), text


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
    await emulator.wait_for_message(ADMIN_ID, saying(BROADCAST_DONE, sent=1, failed=0))
