"""A driver's whole journey through the emulator: enroll, go online, get offers, accept, pick up, deliver."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from bot import texts
from bot.app import StorerunBot
from dispatch.offers import Code
from sandbox.emulator import BotApiEmulator
from storage import schema
from tests.e2e.conftest import ADMIN_ID, BotFactory
from tests.e2e.people import card_of, copy_of, enroll, new_offer, offer_line, online_driver

MARIA, JOE, LEE = 3001, 3002, 3003


async def test_a_new_driver_enrolls_and_every_admin_decides_once(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    second_admin = 1001
    emulator.add_user(second_admin, "Bo")
    await start_bot(admin_ids=f"{ADMIN_ID},{second_admin}")
    await enroll(emulator, MARIA, "Maria Lopez")
    for admin in (ADMIN_ID, second_admin):
        card = await emulator.wait_for_message(admin, ": Maria Lopez")
        assert "Area: Fashion Show, Las Vegas Strip" in (card.text or "")
        assert "Phone: +1555" in (card.text or "")
        assert card.buttons == ["Approve", "Reject"]
    assert emulator.reply_keyboard(MARIA) is None

    first, second = await asyncio.gather(
        emulator.press(ADMIN_ID, "Approve", message_id=card_of(emulator, "Maria Lopez").message_id),
        emulator.press(
            second_admin,
            "Reject",
            message_id=(await emulator.wait_for_message(second_admin, "Maria")).message_id,
        ),
    )
    answers = sorted([first.text or "", second.text or ""])
    assert "Another admin already decided." in answers
    winner = "Approved by Ada" if first.text == "Approved." else "Rejected by Bo"
    for admin in (ADMIN_ID, second_admin):
        decided = await emulator.wait_for_message(admin, winner)
        assert decided.buttons == [] and "Area: Fashion Show, Las Vegas Strip" in (decided.text or "")
    await emulator.wait_for_message(MARIA, "approved" if first.text == "Approved." else "not accepted")


async def test_a_driver_who_skips_the_phone_still_applies(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    await enroll(emulator, JOE, "Joe", phone=False)
    card = await emulator.wait_for_message(ADMIN_ID, ": Joe")
    assert "Phone: not shared" in (card.text or "")


async def test_a_rejected_driver_gets_no_offers_and_is_told_why(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    await enroll(emulator, JOE, "Joe")
    await emulator.wait_for_message(ADMIN_ID, ": Joe")
    await emulator.press(ADMIN_ID, "Reject", message_id=card_of(emulator, "Joe").message_id)
    await emulator.wait_for_message(JOE, "not accepted")
    await emulator.send_text(JOE, "/online")
    await emulator.wait_for_message(JOE, "was not accepted, so you get no offers")
    await new_offer(emulator)
    await storerun.sender.drain()
    assert not any("New offer" in (m.text or "") for m in emulator.chat(JOE))


async def test_availability_and_status(emulator: BotApiEmulator, storerun: StorerunBot) -> None:
    await online_driver(emulator, MARIA, "Maria")
    await emulator.send_text(MARIA, "/status")
    status = await emulator.wait_for_message(MARIA, "🟢 Online")
    assert "Fashion Show" in (status.text or "") and "Today: 0 deliveries · $0.00" in (status.text or "")
    await emulator.press(MARIA, "Go offline", message_id=status.message_id)
    await emulator.wait_for_message(MARIA, "You're offline")
    await emulator.send_text(MARIA, "/status")
    await emulator.wait_for_message(MARIA, "⚪ Offline")


async def test_an_unknown_person_is_not_a_driver(emulator: BotApiEmulator, storerun: StorerunBot) -> None:
    emulator.add_user(LEE, "Lee")
    await emulator.send_text(LEE, "/online")
    await emulator.wait_for_message(LEE, "You're not a driver yet")


async def test_first_accept_wins_and_every_other_copy_says_taken(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    await start_bot(wave_size=10)
    for user_id, name in ((MARIA, "Maria"), (JOE, "Joe"), (LEE, "Lee")):
        await online_driver(emulator, user_id, name)
    offer = await new_offer(emulator)
    for user_id in (MARIA, JOE, LEE):
        copy = await emulator.wait_for_message(user_id, f"New offer #{offer.offer_id}")
        assert copy.buttons == ["Accept", "Decline"]
        assert "Zara, Level 1" in (copy.text or "") and "zone 89109" in (copy.text or "")
        assert "$18.50" in (copy.text or "") and "Offer stands until" in (copy.text or "")
        assert "3200 Las Vegas Blvd" not in (copy.text or "")  # the address only after pickup

    won = await emulator.press(MARIA, "Accept")
    assert won.text == "It's yours!"
    job = await emulator.wait_for_message(MARIA, "It's yours")
    assert job.buttons == ["Confirm pickup", "Release"] and "At the counter say" in (job.text or "")
    for user_id in (JOE, LEE):
        taken = await emulator.wait_for_message(user_id, "taken by another driver")
        assert taken.buttons == []
    late = await emulator.press_callback(
        JOE, copy_of(emulator, JOE, offer.offer_id).message_id, f"1:acc:{offer.offer_id}"
    )
    assert late.text == "Someone else took this one."


async def test_a_double_tap_awards_once(emulator: BotApiEmulator, storerun: StorerunBot) -> None:
    await online_driver(emulator, MARIA, "Maria")
    offer = await new_offer(emulator)
    copy = await emulator.wait_for_message(MARIA, "📦 New offer")
    data = f"1:acc:{offer.offer_id}"
    first, second = await asyncio.gather(
        emulator.press_callback(MARIA, copy.message_id, data),
        emulator.press_callback(MARIA, copy.message_id, data),
    )
    assert sorted([first.text or "", second.text or ""]) == ["It's already yours.", "It's yours!"]
    async with storerun.db.transaction() as tx:
        events = [event.kind for event in await tx.events.for_offer(offer.offer_id)]
    assert events.count("accept") == 1


async def test_presses_on_offers_not_sent_or_gone_change_nothing(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    await online_driver(emulator, MARIA, "Maria")
    emulator.add_user(LEE, "Lee")
    await emulator.send_text(LEE, "/start")
    hello = await emulator.wait_for_message(LEE, "Pick your area")
    offer = await new_offer(emulator)
    await emulator.wait_for_message(MARIA, "📦 New offer")
    stranger = await emulator.press_callback(LEE, hello.message_id, f"1:acc:{offer.offer_id}")
    assert stranger.text == "This offer wasn't sent to you."
    missing = await emulator.press_callback(MARIA, hello.message_id, "1:acc:999999")
    assert missing.text == "This offer wasn't sent to you."
    forged = await emulator.press_callback(MARIA, hello.message_id, "1:acc:1; DROP TABLE offers")
    assert forged.text == "This button is no longer active."
    pickup = await emulator.press_callback(MARIA, hello.message_id, f"1:pick:{offer.offer_id}")
    assert pickup.text == "This offer wasn't sent to you."  # not hers yet
    async with storerun.db.transaction() as tx:
        current = await tx.offers.by_id(offer.offer_id)
    assert current is not None and current.status == "open" and current.holder_id is None


async def test_decline_edits_the_copy_and_never_offers_it_again(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    bot = await start_bot(wave_size=1, wave_interval_seconds=0.5)
    await online_driver(emulator, MARIA, "Maria")
    offer = await new_offer(emulator)
    await emulator.wait_for_message(MARIA, "📦 New offer")
    declined = await emulator.press(MARIA, "Decline")
    assert declined.text == "Declined. You won't get this one again."
    copy = await emulator.wait_for_message(MARIA, ": declined.")
    assert copy.buttons == []
    await asyncio.sleep(1.5)  # three more waves
    await bot.sender.drain()
    copies = [m for m in emulator.chat(MARIA) if f"#{offer.offer_id} ·" in (m.text or "")]
    assert len(copies) == 1
    again = await emulator.press_callback(MARIA, copy.message_id, f"1:acc:{offer.offer_id}")
    assert again.text == "You declined this one."


async def test_waves_reach_the_longest_waiting_drivers_first(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    bot = await start_bot(wave_size=1, wave_interval_seconds=0.6)
    for user_id, name in ((MARIA, "Maria"), (JOE, "Joe")):
        await online_driver(emulator, user_id, name)
    first = await new_offer(emulator, ref="W1")
    await emulator.wait_for_message(
        MARIA, f"New offer #{first.offer_id}"
    )  # nobody offered yet: lowest id first
    await emulator.wait_for_message(JOE, f"New offer #{first.offer_id}", timeout=5)  # wave 2
    async with bot.db.transaction() as tx:
        waves = {n.driver_id: n.wave for n in await tx.notices.for_offer(first.offer_id)}
    assert sorted(waves.values()) == [1, 2]


async def test_pickup_needs_the_stores_code_and_locks_after_three_wrong_ones(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    await online_driver(emulator, MARIA, "Maria")
    offer = await new_offer(emulator)
    await emulator.wait_for_message(MARIA, "📦 New offer")
    await emulator.press(MARIA, "Accept")
    await emulator.wait_for_message(MARIA, "It's yours")
    asked = await emulator.press(MARIA, "Confirm pickup")
    assert asked.text == "Type the pickup code."
    await emulator.wait_for_message(MARIA, "Type the 4-digit pickup code")
    await emulator.send_text(MARIA, "12")
    await emulator.wait_for_message(MARIA, "The pickup code is 4 digits")
    wrong = "0000" if offer.pickup_code != "0000" else "1111"
    await emulator.send_text(MARIA, wrong)
    await emulator.wait_for_message(MARIA, "2 tries left")
    await emulator.send_text(MARIA, wrong)
    await emulator.wait_for_message(MARIA, "1 try left")
    await emulator.send_text(MARIA, wrong)
    await emulator.wait_for_message(MARIA, "locked after too many wrong codes")
    await emulator.wait_for_message(ADMIN_ID, "pickup locked after wrong codes by Maria")
    await emulator.send_text(MARIA, offer.pickup_code)  # too late now
    await emulator.wait_for_message(MARIA, lambda m: m.text == texts.CODE_ANSWERS[Code.LOCKED])
    # The lock itself was said once: no second message for the try that locked it.
    said = [m for m in emulator.chat(MARIA) if m.from_bot and "ocked" in (m.text or "")]
    assert len(said) == 2, emulator.transcript(MARIA)
    async with storerun.db.transaction() as tx:
        locked = await tx.offers.by_id(offer.offer_id)
        kinds = [event.kind for event in await tx.events.for_offer(offer.offer_id)]
    assert locked is not None and locked.status == "accepted" and locked.pickup_locked
    assert kinds.count("pickup_code_wrong") == 3 and "pickup_locked" in kinds
    again = await emulator.press(MARIA, "Confirm pickup")
    assert again.text == "Pickup is locked for this offer. An admin will contact you."


async def test_pickup_reveals_the_address_and_delivery_completes_with_a_photo(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    await online_driver(emulator, MARIA, "Maria")
    offer = await new_offer(emulator, pay="18.50")
    await emulator.wait_for_message(MARIA, "📦 New offer")
    await emulator.press(MARIA, "Accept")
    await emulator.wait_for_message(MARIA, "It's yours")
    await emulator.press(MARIA, "Confirm pickup")
    await emulator.wait_for_message(MARIA, "Type the 4-digit")
    await emulator.send_text(MARIA, offer.pickup_code)
    card = await emulator.wait_for_message(MARIA, "🚗 Deliver order A123")
    assert "3200 Las Vegas Blvd S" in (card.text or "") and card.buttons == ["Delivered", "Can't deliver"]
    job = copy_of(emulator, MARIA, offer.offer_id)
    assert (job.text or "").startswith("📦 Picked up") and job.buttons == []

    done = await emulator.press(MARIA, "Delivered")
    assert done.text == "Delivered. Thank you!"
    thanks = await emulator.wait_for_message(MARIA, "✅ Delivered order A123")
    assert "Today: 1 delivery · $18.50" in (thanks.text or "")
    await emulator.send_photo(MARIA, caption="at the door")
    await emulator.wait_for_message(MARIA, "Photo saved as proof")
    async with storerun.db.transaction() as tx:
        delivered = await tx.offers.by_id(offer.offer_id)
        maria = await tx.drivers.by_telegram_id(MARIA)
        kinds = [event.kind for event in await tx.events.for_offer(offer.offer_id)]
    assert delivered is not None and delivered.status == "delivered" and delivered.proof_file_id
    assert maria is not None and maria.delivered == 1 and maria.accepted == 1
    assert kinds[-3:] == ["pickup", "deliver", "proof"]
    again = await emulator.press_callback(MARIA, card.message_id, f"1:dlv:{offer.offer_id}")
    assert again.text == "That's already done."


async def test_cant_deliver_asks_why_and_sends_it_back_to_the_store(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    await online_driver(emulator, MARIA, "Maria")
    offer = await new_offer(emulator)
    await emulator.wait_for_message(MARIA, "📦 New offer")
    await emulator.press(MARIA, "Accept")
    await emulator.wait_for_message(MARIA, "It's yours")
    await emulator.press(MARIA, "Confirm pickup")
    await emulator.wait_for_message(MARIA, "Type the 4-digit")
    await emulator.send_text(MARIA, offer.pickup_code)
    await emulator.wait_for_message(MARIA, "🚗 Deliver")
    why = await emulator.press(MARIA, "Can't deliver")
    assert why.text == "Why can't it be delivered?"
    reasons = await emulator.wait_for_message(MARIA, "Why can't it be delivered?")
    assert reasons.buttons == ["Customer not there", "Wrong address", "Damaged", "Other"]
    await emulator.press(MARIA, "Customer not there")
    await emulator.wait_for_message(MARIA, "can't be delivered (customer not there)")
    await emulator.wait_for_message(ADMIN_ID, "can't be delivered: customer not there")
    async with storerun.db.transaction() as tx:
        returned = await tx.offers.by_id(offer.offer_id)
    assert returned is not None and returned.status == "returned" and returned.failure_reason == "absent"


async def test_release_offers_it_again_but_never_to_the_releaser(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    bot = await start_bot(wave_size=1, wave_interval_seconds=30)
    await online_driver(emulator, MARIA, "Maria")
    await online_driver(emulator, JOE, "Joe")
    offer = await new_offer(emulator)
    await emulator.wait_for_message(MARIA, "📦 New offer")  # wave 1: Maria only
    await emulator.press(MARIA, "Accept")
    await emulator.wait_for_message(MARIA, "It's yours")
    released = await emulator.press(MARIA, "Release")
    assert released.text == "Released. It's offered to other drivers."
    await emulator.wait_for_message(MARIA, "you released it")
    await emulator.wait_for_message(JOE, f"New offer #{offer.offer_id}")
    await bot.sender.drain()
    assert len([m for m in emulator.chat(MARIA) if f"#{offer.offer_id} ·" in (m.text or "")]) == 1
    async with bot.db.transaction() as tx:
        maria = await tx.drivers.by_telegram_id(MARIA)
        current = await tx.offers.by_id(offer.offer_id)
    assert maria is not None and maria.released == 1
    assert current is not None and current.status == "open" and current.holder_id is None


async def test_my_offers_lists_each_held_offer_with_its_buttons(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    await start_bot(max_offers_held=2)
    await online_driver(emulator, MARIA, "Maria")
    await emulator.send_text(MARIA, "/myoffers")
    await emulator.wait_for_message(MARIA, "You hold no offers right now.")
    first = await new_offer(emulator, ref="M1")
    await emulator.wait_for_message(MARIA, f"New offer #{first.offer_id}")
    await emulator.press(MARIA, "Accept")
    await emulator.wait_for_message(MARIA, "It's yours")
    second = await new_offer(emulator, ref="M2")
    await emulator.wait_for_message(MARIA, f"New offer #{second.offer_id}")
    assert (await emulator.press(MARIA, "Accept")).text == "It's yours!"
    job = await emulator.wait_for_message(MARIA, f"It's yours: #{second.offer_id}")
    await emulator.press(MARIA, "Confirm pickup", message_id=job.message_id)
    await emulator.wait_for_message(MARIA, "Type the 4-digit")
    await emulator.send_text(MARIA, second.pickup_code)
    await emulator.wait_for_message(MARIA, "🚗 Deliver order M2")
    before = len(emulator.chat(MARIA))
    await emulator.send_text(MARIA, "/myoffers")
    await emulator.wait_for_message(
        MARIA, lambda m: m.message_id > before + 1 and "🚗 Deliver order M2" in (m.text or "")
    )
    cards = [m for m in emulator.chat(MARIA) if m.message_id > before]
    assert [m.buttons for m in cards if m.from_bot] == [
        ["Confirm pickup", "Release"],
        ["Delivered", "Can't deliver"],
    ]
    # the /myoffers card works like the original
    await emulator.press(MARIA, "Release", message_id=cards[1].message_id)
    await emulator.wait_for_message(
        MARIA, lambda m: m.message_id == cards[1].message_id and "released" in (m.text or "")
    )


async def test_a_third_offer_is_refused_when_two_are_held(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    bot = await start_bot(max_offers_held=1, wave_size=5)
    await online_driver(emulator, MARIA, "Maria")
    await online_driver(emulator, JOE, "Joe")
    first = await new_offer(emulator, ref="F1")
    await emulator.wait_for_message(MARIA, f"New offer #{first.offer_id}")
    await emulator.press(MARIA, "Accept")
    second = await new_offer(emulator, ref="F2")
    await emulator.wait_for_message(JOE, f"New offer #{second.offer_id}")
    await bot.sender.drain()
    assert not any(f"#{second.offer_id} ·" in (m.text or "") for m in emulator.chat(MARIA))  # she is full


async def test_admin_commands_are_refused_to_others(emulator: BotApiEmulator, storerun: StorerunBot) -> None:
    await online_driver(emulator, MARIA, "Maria")
    await emulator.send_text(MARIA, offer_line())
    await emulator.wait_for_message(MARIA, "Sorry, that's only for admins.")
    async with storerun.db.transaction() as tx:
        assert (await tx.connection.execute(select(schema.offers.c.id))).first() is None


def _next_spring_forward() -> date:
    """The next night Las Vegas skips 2:00–3:00 (the second Sunday of March)."""
    today = date.today()
    for year in (today.year, today.year + 1):
        eighth = date(year, 3, 8)
        sunday = eighth + timedelta(days=(6 - eighth.weekday()) % 7)
        if sunday > today:
            return sunday
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("/newoffer", "store is missing"),
        (
            '/newoffer store=FS-ZARA packages=two pay=18.50 window=14:00-14:30 zone=89109 ref=A1 address="x"',
            "packages",
        ),
        (
            '/newoffer store=FS-ZARA packages=2 pay=abc window=14:00-14:30 zone=89109 ref=A1 address="x"',
            "pay",
        ),
        (
            "/newoffer store=NOPE packages=2 pay=1 window=23:00-23:30 "
            "zone=1 ref=A1 address=x date=2099-01-01",
            "there is no store NOPE",
        ),
        (
            "/newoffer store=FS-ZARA packages=2 pay=1 window=10:00-10:30 "
            "zone=1 ref=A1 address=x date=2020-01-01",
            "that date is in the past",
        ),
        (
            "/newoffer store=FS-ZARA packages=2 pay=1 window=02:10-02:40 "
            f"zone=1 ref=A1 address=x date={_next_spring_forward().isoformat()}",
            "does not exist",
        ),
        (
            "/newoffer store=FS-ZARA packages=2 pay=1 window=23:00-23:30 "
            "zone=1 ref=A1 address=x date=9999-12-31",
            "pick a date within 14 days",
        ),
    ],
)
async def test_a_malformed_offer_line_is_explained_and_creates_nothing(
    emulator: BotApiEmulator, start_bot: BotFactory, line: str, problem: str
) -> None:
    # Far enough ahead for the next spring-forward night, unless the line is about the limit.
    storerun = await start_bot(max_days_ahead=14 if "9999" in line else 366)
    await emulator.send_text(ADMIN_ID, line)
    answer = await emulator.wait_for_message(ADMIN_ID, "I couldn't create that offer")
    assert problem in (answer.text or "") and "A correct line looks like:\n/newoffer store=" in (
        answer.text or ""
    )
    async with storerun.db.transaction() as tx:
        assert (await tx.connection.execute(select(schema.offers.c.id))).first() is None


async def test_an_offer_nobody_takes_expires_and_can_be_offered_again(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    await start_bot(acceptance_window_seconds=1.5, wave_interval_seconds=5)
    await online_driver(emulator, MARIA, "Maria")
    offer = await new_offer(emulator)
    await emulator.wait_for_message(MARIA, "📦 New offer")
    expired = await emulator.wait_for_message(MARIA, ": expired.", timeout=10)
    assert expired.buttons == []
    alert = await emulator.wait_for_message(ADMIN_ID, "expired with no driver", timeout=10)
    assert alert.buttons == ["Re-offer"]
    late = await emulator.press_callback(MARIA, expired.message_id, f"1:acc:{offer.offer_id}")
    assert late.text == "This offer has expired."
    again = await emulator.press(ADMIN_ID, "Re-offer")
    assert again.text == "Offered again."
    await emulator.wait_for_message(
        MARIA, lambda m: m.message_id > expired.message_id and "New offer" in (m.text or "")
    )


async def test_a_driver_holding_two_offers_may_type_the_other_ones_code(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    await start_bot(max_offers_held=2)
    await online_driver(emulator, MARIA, "Maria")
    first = await new_offer(emulator, ref="T1")
    await emulator.wait_for_message(MARIA, f"New offer #{first.offer_id}")
    await emulator.press(MARIA, "Accept")
    job_one = await emulator.wait_for_message(MARIA, f"It's yours: #{first.offer_id}")
    second = await new_offer(emulator, ref="T2")
    await emulator.wait_for_message(MARIA, f"New offer #{second.offer_id}")
    await emulator.press(MARIA, "Accept")
    job_two = await emulator.wait_for_message(MARIA, f"It's yours: #{second.offer_id}")
    await emulator.press(MARIA, "Confirm pickup", message_id=job_one.message_id)
    await emulator.press(MARIA, "Confirm pickup", message_id=job_two.message_id)  # asked for T2's code last
    await emulator.send_text(MARIA, first.pickup_code)  # but at T1's counter
    await emulator.wait_for_message(MARIA, "🚗 Deliver order T1")
    await emulator.send_text(MARIA, "/status")
    status = await emulator.wait_for_message(MARIA, "🟢 Online")
    assert f"#{first.offer_id} Zara, pickup" in (status.text or "") and "(picked up)" in (status.text or "")
