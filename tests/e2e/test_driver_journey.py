"""A driver's whole journey through the emulator: enroll, go online, get offers, accept, pick up, deliver."""

from __future__ import annotations

import asyncio
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from bot import keyboards, texts
from bot.app import StorerunBot
from bot.problems import PROBLEMS
from dispatch.drivers import Availability, Decision
from dispatch.offers import Code, Press
from dispatch.problems import Problem
from dispatch.views import FailReason
from sandbox.emulator import BotApiEmulator
from storage import schema
from storage.records import Account
from tests.e2e.conftest import ADMIN_ID, BotFactory
from tests.e2e.people import LAS_VEGAS, card_of, copy_of, enroll, new_offer, offer_line, online_driver
from tests.e2e.words import (
    ADMIN_EXPIRED,
    ADMIN_PICKUP_LOCKED,
    ADMIN_RETURNED,
    APPROVED_BY,
    ASK_FAIL_REASON,
    ASK_PICKUP_CODE,
    COPY_DECLINED,
    COPY_EXPIRED,
    COPY_TAKEN,
    DELIVERED_THANKS,
    DELIVERY_CARD,
    EN,
    JOB_CARD,
    JOB_PICKED_UP,
    OFFER_COPY,
    PICKUP_LOCKED,
    PROOF_SAVED,
    REJECTED_BY,
    RELEASED,
    RETURNING,
    WRONG_CODE,
    YOU_ARE_APPROVED,
    YOU_ARE_REJECTED,
    matches,
    offer_copy_of,
    part,
    saying,
    title_of,
    titled,
)

MARIA, JOE, LEE = 3001, 3002, 3003


async def test_a_new_driver_enrolls_and_every_admin_decides_once(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    second_admin = 1001
    emulator.add_user(second_admin, "Bo")
    await start_bot(admin_ids=f"{ADMIN_ID},{second_admin}")
    await enroll(emulator, MARIA, "Maria Lopez")
    for admin in (ADMIN_ID, second_admin):
        card = await emulator.wait_for_message(admin, saying(texts.APPLICATION, name="Maria Lopez"))
        phone = re.compile(r"\+1555.*")
        assert matches(texts.APPLICATION, name="Maria Lopez", areas=LAS_VEGAS, phone=phone).search(
            card.text or ""
        )
        assert card.buttons == [EN(keyboards.APPROVE), EN(keyboards.REJECT)]
    assert emulator.reply_keyboard(MARIA) is None

    first, second = await asyncio.gather(
        emulator.press(
            ADMIN_ID, EN(keyboards.APPROVE), message_id=card_of(emulator, "Maria Lopez").message_id
        ),
        emulator.press(
            second_admin,
            EN(keyboards.REJECT),
            message_id=(
                await emulator.wait_for_message(second_admin, saying(texts.APPLICATION, name="Maria Lopez"))
            ).message_id,
        ),
    )
    answers = sorted([first.text or "", second.text or ""])
    assert EN(texts.DECISION_ANSWERS[Decision.ALREADY_DECIDED]) in answers
    approved = first.text == EN(texts.DECISION_ANSWERS[Decision.APPROVED])
    winner = EN(APPROVED_BY, admin="Ada") if approved else EN(REJECTED_BY, admin="Bo")
    for admin in (ADMIN_ID, second_admin):
        decided = await emulator.wait_for_message(admin, winner)
        card = matches(texts.APPLICATION, name="Maria Lopez", areas=LAS_VEGAS)
        assert decided.buttons == [] and card.search(decided.text or "")
    await emulator.wait_for_message(MARIA, EN(YOU_ARE_APPROVED) if approved else EN(YOU_ARE_REJECTED))


async def test_a_driver_who_skips_the_phone_still_applies(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    await enroll(emulator, JOE, "Joe", phone=False)
    card = await emulator.wait_for_message(ADMIN_ID, saying(texts.APPLICATION, name="Joe"))
    assert matches(texts.APPLICATION, name="Joe", phone=EN(texts.NOT_SHARED)).search(card.text or "")


async def test_a_rejected_driver_gets_no_offers_and_is_told_why(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    await enroll(emulator, JOE, "Joe")
    await emulator.wait_for_message(ADMIN_ID, saying(texts.APPLICATION, name="Joe"))
    await emulator.press(ADMIN_ID, EN(keyboards.REJECT), message_id=card_of(emulator, "Joe").message_id)
    await emulator.wait_for_message(JOE, EN(YOU_ARE_REJECTED))
    await emulator.send_text(JOE, "/online")
    await emulator.wait_for_message(JOE, EN(texts.DRIVER_BY_STATUS[Account.REJECTED]))
    await new_offer(emulator)
    await storerun.sender.drain()
    assert not any(part(OFFER_COPY) in (m.text or "") for m in emulator.chat(JOE))


async def test_availability_and_status(emulator: BotApiEmulator, storerun: StorerunBot) -> None:
    await online_driver(emulator, MARIA, "Maria")
    await emulator.send_text(MARIA, "/status")
    status = await emulator.wait_for_message(MARIA, EN(texts.ONLINE_NOW))
    today = EN.n(texts.TODAY, 0, pay=EN.pay(0))
    assert "Fashion Show" in (status.text or "") and today in (status.text or "")
    await emulator.press(MARIA, EN(keyboards.GO_OFFLINE), message_id=status.message_id)
    await emulator.wait_for_message(MARIA, EN(texts.AVAILABILITY[Availability.OFFLINE]))
    await emulator.send_text(MARIA, "/status")
    await emulator.wait_for_message(MARIA, EN(texts.OFFLINE_NOW))


async def test_an_unknown_person_is_not_a_driver(emulator: BotApiEmulator, storerun: StorerunBot) -> None:
    emulator.add_user(LEE, "Lee")
    await emulator.send_text(LEE, "/online")
    await emulator.wait_for_message(LEE, EN(texts.NOT_A_DRIVER))


async def test_first_accept_wins_and_every_other_copy_says_taken(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    await start_bot(wave_size=10)
    for user_id, name in ((MARIA, "Maria"), (JOE, "Joe"), (LEE, "Lee")):
        await online_driver(emulator, user_id, name)
    offer = await new_offer(emulator)
    for user_id in (MARIA, JOE, LEE):
        copy = await emulator.wait_for_message(user_id, offer_copy_of(offer.offer_id))
        assert copy.buttons == [EN(keyboards.ACCEPT), EN(keyboards.DECLINE)]
        assert "Zara, Level 1" in (copy.text or "") and matches(OFFER_COPY, zone="89109").search(
            copy.text or ""
        )
        assert EN.pay(1850) in (copy.text or "")
        assert "3200 Las Vegas Blvd" not in (copy.text or "")  # the address only after pickup

    won = await emulator.press(MARIA, EN(keyboards.ACCEPT))
    assert won.text == EN(texts.PRESS_ANSWERS[Press.AWARDED])
    job = await emulator.wait_for_message(MARIA, part(JOB_CARD))
    assert job.buttons == [EN(keyboards.CONFIRM_PICKUP), EN(keyboards.RELEASE)]
    assert matches(JOB_CARD).search(job.text or "")
    for user_id in (JOE, LEE):
        taken = await emulator.wait_for_message(user_id, saying(COPY_TAKEN))
        assert taken.buttons == []
    late = await emulator.press_callback(
        JOE, copy_of(emulator, JOE, offer.offer_id).message_id, f"1:acc:{offer.offer_id}"
    )
    assert late.text == EN(texts.PRESS_ANSWERS[Press.TAKEN])


async def test_a_double_tap_awards_once(emulator: BotApiEmulator, storerun: StorerunBot) -> None:
    await online_driver(emulator, MARIA, "Maria")
    offer = await new_offer(emulator)
    copy = await emulator.wait_for_message(MARIA, part(OFFER_COPY))
    data = f"1:acc:{offer.offer_id}"
    first, second = await asyncio.gather(
        emulator.press_callback(MARIA, copy.message_id, data),
        emulator.press_callback(MARIA, copy.message_id, data),
    )
    answers = [EN(texts.PRESS_ANSWERS[Press.ALREADY_YOURS]), EN(texts.PRESS_ANSWERS[Press.AWARDED])]
    assert sorted([first.text or "", second.text or ""]) == sorted(answers)
    async with storerun.db.transaction() as tx:
        events = [event.kind for event in await tx.events.for_offer(offer.offer_id)]
    assert events.count("accept") == 1


async def test_presses_on_offers_not_sent_or_gone_change_nothing(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    await online_driver(emulator, MARIA, "Maria")
    emulator.add_user(LEE, "Lee")
    await emulator.send_text(LEE, "/start")
    hello = await emulator.wait_for_message(LEE, EN(texts.PICK_AREA))
    offer = await new_offer(emulator)
    await emulator.wait_for_message(MARIA, part(OFFER_COPY))
    not_sent = EN(texts.PRESS_ANSWERS[Press.NOT_YOURS])
    stranger = await emulator.press_callback(LEE, hello.message_id, f"1:acc:{offer.offer_id}")
    assert stranger.text == not_sent
    missing = await emulator.press_callback(MARIA, hello.message_id, "1:acc:999999")
    assert missing.text == not_sent
    forged = await emulator.press_callback(MARIA, hello.message_id, "1:acc:1; DROP TABLE offers")
    assert forged.text == EN(texts.STALE_BUTTON)
    pickup = await emulator.press_callback(MARIA, hello.message_id, f"1:pick:{offer.offer_id}")
    assert pickup.text == not_sent  # not hers yet
    async with storerun.db.transaction() as tx:
        current = await tx.offers.by_id(offer.offer_id)
    assert current is not None and current.status == "open" and current.holder_id is None


async def test_decline_edits_the_copy_and_never_offers_it_again(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    bot = await start_bot(wave_size=1, wave_interval_seconds=0.5)
    await online_driver(emulator, MARIA, "Maria")
    offer = await new_offer(emulator)
    await emulator.wait_for_message(MARIA, part(OFFER_COPY))
    declined = await emulator.press(MARIA, EN(keyboards.DECLINE))
    assert declined.text == EN(texts.PRESS_ANSWERS[Press.DECLINED])
    copy = await emulator.wait_for_message(MARIA, saying(COPY_DECLINED))
    assert copy.buttons == []
    await asyncio.sleep(1.5)  # three more waves
    await bot.sender.drain()
    copies = [m for m in emulator.chat(MARIA) if title_of(offer.offer_id) in (m.text or "")]
    assert len(copies) == 1
    again = await emulator.press_callback(MARIA, copy.message_id, f"1:acc:{offer.offer_id}")
    assert again.text == EN(texts.PRESS_ANSWERS[Press.DECLINED_BEFORE])


async def test_waves_reach_the_longest_waiting_drivers_first(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    bot = await start_bot(wave_size=1, wave_interval_seconds=0.6)
    for user_id, name in ((MARIA, "Maria"), (JOE, "Joe")):
        await online_driver(emulator, user_id, name)
    first = await new_offer(emulator, ref="W1")
    await emulator.wait_for_message(
        MARIA, offer_copy_of(first.offer_id)
    )  # nobody offered yet: lowest id first
    await emulator.wait_for_message(JOE, offer_copy_of(first.offer_id), timeout=5)  # wave 2
    async with bot.db.transaction() as tx:
        waves = {n.driver_id: n.wave for n in await tx.notices.for_offer(first.offer_id)}
    assert sorted(waves.values()) == [1, 2]


async def test_pickup_needs_the_stores_code_and_locks_after_three_wrong_ones(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    await online_driver(emulator, MARIA, "Maria")
    offer = await new_offer(emulator)
    await emulator.wait_for_message(MARIA, part(OFFER_COPY))
    await emulator.press(MARIA, EN(keyboards.ACCEPT))
    await emulator.wait_for_message(MARIA, part(JOB_CARD))
    asked = await emulator.press(MARIA, EN(keyboards.CONFIRM_PICKUP))
    assert asked.text == EN(texts.PRESS_ANSWERS[Press.TYPE_CODE])
    await emulator.wait_for_message(MARIA, part(ASK_PICKUP_CODE))
    await emulator.send_text(MARIA, "12")
    await emulator.wait_for_message(MARIA, EN(texts.CODE_ANSWERS[Code.MALFORMED]))
    wrong = "0000" if offer.pickup_code != "0000" else "1111"
    await emulator.send_text(MARIA, wrong)
    await emulator.wait_for_message(MARIA, saying(WRONG_CODE, n=2))
    await emulator.send_text(MARIA, wrong)
    await emulator.wait_for_message(MARIA, saying(WRONG_CODE, n=1))
    await emulator.send_text(MARIA, wrong)
    await emulator.wait_for_message(MARIA, EN(PICKUP_LOCKED, id=offer.offer_id))
    await emulator.wait_for_message(ADMIN_ID, saying(ADMIN_PICKUP_LOCKED, driver="Maria"))
    await emulator.send_text(MARIA, offer.pickup_code)  # too late now
    locked_now = EN(texts.CODE_ANSWERS[Code.LOCKED])
    await emulator.wait_for_message(MARIA, lambda m: m.text == locked_now)
    # The lock itself was said once: no second message for the try that locked it.
    lock = matches(PICKUP_LOCKED)
    said = [
        m for m in emulator.chat(MARIA) if m.from_bot and (lock.search(m.text or "") or m.text == locked_now)
    ]
    assert len(said) == 2, emulator.transcript(MARIA)
    async with storerun.db.transaction() as tx:
        locked = await tx.offers.by_id(offer.offer_id)
        kinds = [event.kind for event in await tx.events.for_offer(offer.offer_id)]
    assert locked is not None and locked.status == "accepted" and locked.pickup_locked
    assert kinds.count("pickup_code_wrong") == 3 and "pickup_locked" in kinds
    again = await emulator.press(MARIA, EN(keyboards.CONFIRM_PICKUP))
    assert again.text == EN(texts.PRESS_ANSWERS[Press.LOCKED])


async def test_pickup_reveals_the_address_and_delivery_completes_with_a_photo(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    await online_driver(emulator, MARIA, "Maria")
    offer = await new_offer(emulator, pay="18.50")
    await emulator.wait_for_message(MARIA, part(OFFER_COPY))
    await emulator.press(MARIA, EN(keyboards.ACCEPT))
    await emulator.wait_for_message(MARIA, part(JOB_CARD))
    await emulator.press(MARIA, EN(keyboards.CONFIRM_PICKUP))
    await emulator.wait_for_message(MARIA, part(ASK_PICKUP_CODE))
    await emulator.send_text(MARIA, offer.pickup_code)
    card = await emulator.wait_for_message(MARIA, part(DELIVERY_CARD, ref="A123"))
    assert "3200 Las Vegas Blvd S" in (card.text or "")
    assert card.buttons == [EN(keyboards.DELIVERED), EN(keyboards.CANT_DELIVER)]
    job = copy_of(emulator, MARIA, offer.offer_id)
    assert (job.text or "").startswith(part(JOB_PICKED_UP)) and job.buttons == []

    done = await emulator.press(MARIA, EN(keyboards.DELIVERED))
    assert done.text == EN(texts.PRESS_ANSWERS[Press.DELIVERED])
    thanks = await emulator.wait_for_message(MARIA, part(DELIVERED_THANKS, ref="A123"))
    assert EN.n(texts.TODAY, 1, pay=EN.pay(1850)) in (thanks.text or "")
    await emulator.send_photo(MARIA, caption="at the door")
    await emulator.wait_for_message(MARIA, EN(PROOF_SAVED, ref="A123"))
    async with storerun.db.transaction() as tx:
        delivered = await tx.offers.by_id(offer.offer_id)
        maria = await tx.drivers.by_telegram_id(MARIA)
        kinds = [event.kind for event in await tx.events.for_offer(offer.offer_id)]
    assert delivered is not None and delivered.status == "delivered" and delivered.proof_file_id
    assert maria is not None and maria.delivered == 1 and maria.accepted == 1
    assert kinds[-3:] == ["pickup", "deliver", "proof"]
    again = await emulator.press_callback(MARIA, card.message_id, f"1:dlv:{offer.offer_id}")
    assert again.text == EN(texts.PRESS_ANSWERS[Press.DONE])


async def test_cant_deliver_asks_why_and_sends_it_back_to_the_store(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    await online_driver(emulator, MARIA, "Maria")
    offer = await new_offer(emulator)
    await emulator.wait_for_message(MARIA, part(OFFER_COPY))
    await emulator.press(MARIA, EN(keyboards.ACCEPT))
    await emulator.wait_for_message(MARIA, part(JOB_CARD))
    await emulator.press(MARIA, EN(keyboards.CONFIRM_PICKUP))
    await emulator.wait_for_message(MARIA, part(ASK_PICKUP_CODE))
    await emulator.send_text(MARIA, offer.pickup_code)
    await emulator.wait_for_message(MARIA, part(DELIVERY_CARD))
    why = await emulator.press(MARIA, EN(keyboards.CANT_DELIVER))
    assert why.text == EN(texts.PRESS_ANSWERS[Press.CHOOSE_REASON])
    reasons = await emulator.wait_for_message(MARIA, saying(ASK_FAIL_REASON, ref="A123"))
    assert reasons.buttons == [EN(keyboards.REASONS[reason]) for reason in FailReason]
    await emulator.press(MARIA, EN(keyboards.REASONS[FailReason.ABSENT]))
    absent = EN(texts.FAIL_REASONS[FailReason.ABSENT])
    await emulator.wait_for_message(MARIA, saying(RETURNING, ref="A123", reason=absent))
    await emulator.wait_for_message(ADMIN_ID, saying(ADMIN_RETURNED, ref="A123", reason=absent))
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
    await emulator.wait_for_message(MARIA, part(OFFER_COPY))  # wave 1: Maria only
    await emulator.press(MARIA, EN(keyboards.ACCEPT))
    await emulator.wait_for_message(MARIA, part(JOB_CARD))
    released = await emulator.press(MARIA, EN(keyboards.RELEASE))
    assert released.text == EN(texts.PRESS_ANSWERS[Press.RELEASED])
    await emulator.wait_for_message(MARIA, saying(RELEASED))
    await emulator.wait_for_message(JOE, offer_copy_of(offer.offer_id))
    await bot.sender.drain()
    assert len([m for m in emulator.chat(MARIA) if title_of(offer.offer_id) in (m.text or "")]) == 1
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
    await emulator.wait_for_message(MARIA, EN(texts.NO_OFFERS_HELD))
    first = await new_offer(emulator, ref="M1")
    await emulator.wait_for_message(MARIA, offer_copy_of(first.offer_id))
    await emulator.press(MARIA, EN(keyboards.ACCEPT))
    await emulator.wait_for_message(MARIA, part(JOB_CARD))
    second = await new_offer(emulator, ref="M2")
    await emulator.wait_for_message(MARIA, offer_copy_of(second.offer_id))
    assert (await emulator.press(MARIA, EN(keyboards.ACCEPT))).text == EN(texts.PRESS_ANSWERS[Press.AWARDED])
    job = await emulator.wait_for_message(MARIA, titled(JOB_CARD, second.offer_id))
    await emulator.press(MARIA, EN(keyboards.CONFIRM_PICKUP), message_id=job.message_id)
    await emulator.wait_for_message(MARIA, part(ASK_PICKUP_CODE))
    await emulator.send_text(MARIA, second.pickup_code)
    await emulator.wait_for_message(MARIA, part(DELIVERY_CARD, ref="M2"))
    before = len(emulator.chat(MARIA))
    await emulator.send_text(MARIA, "/myoffers")
    await emulator.wait_for_message(
        MARIA, lambda m: m.message_id > before + 1 and part(DELIVERY_CARD, ref="M2") in (m.text or "")
    )
    cards = [m for m in emulator.chat(MARIA) if m.message_id > before]
    assert [m.buttons for m in cards if m.from_bot] == [
        [EN(keyboards.CONFIRM_PICKUP), EN(keyboards.RELEASE)],
        [EN(keyboards.DELIVERED), EN(keyboards.CANT_DELIVER)],
    ]
    # the /myoffers card works like the original
    await emulator.press(MARIA, EN(keyboards.RELEASE), message_id=cards[1].message_id)
    released = matches(RELEASED)
    await emulator.wait_for_message(
        MARIA, lambda m: m.message_id == cards[1].message_id and bool(released.search(m.text or ""))
    )


async def test_a_third_offer_is_refused_when_two_are_held(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    bot = await start_bot(max_offers_held=1, wave_size=5)
    await online_driver(emulator, MARIA, "Maria")
    await online_driver(emulator, JOE, "Joe")
    first = await new_offer(emulator, ref="F1")
    await emulator.wait_for_message(MARIA, offer_copy_of(first.offer_id))
    await emulator.press(MARIA, EN(keyboards.ACCEPT))
    second = await new_offer(emulator, ref="F2")
    await emulator.wait_for_message(JOE, offer_copy_of(second.offer_id))
    await bot.sender.drain()
    assert not any(title_of(second.offer_id) in (m.text or "") for m in emulator.chat(MARIA))  # she is full


async def test_admin_commands_are_refused_to_others(emulator: BotApiEmulator, storerun: StorerunBot) -> None:
    await online_driver(emulator, MARIA, "Maria")
    await emulator.send_text(MARIA, offer_line())
    await emulator.wait_for_message(MARIA, EN(texts.NOT_ALLOWED))
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
        ("/newoffer", matches(PROBLEMS[Problem.MISSING], field="store")),
        (
            '/newoffer store=FS-ZARA packages=two pay=18.50 window=14:00-14:30 zone=89109 ref=A1 address="x"',
            matches(PROBLEMS[Problem.PACKAGES_RANGE]),
        ),
        (
            '/newoffer store=FS-ZARA packages=2 pay=abc window=14:00-14:30 zone=89109 ref=A1 address="x"',
            matches(PROBLEMS[Problem.PAY_FORM]),
        ),
        (
            "/newoffer store=NOPE packages=2 pay=1 window=23:00-23:30 "
            "zone=1 ref=A1 address=x date=2099-01-01",
            matches(PROBLEMS[Problem.NO_SUCH_STORE], store="NOPE"),
        ),
        (
            "/newoffer store=FS-ZARA packages=2 pay=1 window=10:00-10:30 "
            "zone=1 ref=A1 address=x date=2020-01-01",
            matches(PROBLEMS[Problem.DATE_PAST]),
        ),
        (
            "/newoffer store=FS-ZARA packages=2 pay=1 window=02:10-02:40 "
            f"zone=1 ref=A1 address=x date={_next_spring_forward().isoformat()}",
            matches(PROBLEMS[Problem.TIME_SKIPPED]),
        ),
        (
            "/newoffer store=FS-ZARA packages=2 pay=1 window=23:00-23:30 "
            "zone=1 ref=A1 address=x date=9999-12-31",
            matches(PROBLEMS[Problem.DATE_TOO_FAR], days=14),
        ),
    ],
)
async def test_a_malformed_offer_line_is_explained_and_creates_nothing(
    emulator: BotApiEmulator, start_bot: BotFactory, line: str, problem: re.Pattern[str]
) -> None:
    # Far enough ahead for the next spring-forward night, unless the line is about the limit.
    storerun = await start_bot(max_days_ahead=14 if "9999" in line else 366)
    await emulator.send_text(ADMIN_ID, line)
    answer = await emulator.wait_for_message(ADMIN_ID, part(texts.OFFER_PROBLEMS))
    explained = matches(
        texts.OFFER_PROBLEMS, problems=re.compile(r"(?s:.+)"), example=re.compile("/newoffer store=.*")
    )
    assert problem.search(answer.text or "") and explained.search(answer.text or ""), answer.text
    async with storerun.db.transaction() as tx:
        assert (await tx.connection.execute(select(schema.offers.c.id))).first() is None


async def test_an_offer_nobody_takes_expires_and_can_be_offered_again(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    await start_bot(acceptance_window_seconds=1.5, wave_interval_seconds=5)
    await online_driver(emulator, MARIA, "Maria")
    offer = await new_offer(emulator)
    await emulator.wait_for_message(MARIA, part(OFFER_COPY))
    expired = await emulator.wait_for_message(MARIA, saying(COPY_EXPIRED), timeout=10)
    assert expired.buttons == []
    alert = await emulator.wait_for_message(ADMIN_ID, saying(ADMIN_EXPIRED), timeout=10)
    assert alert.buttons == [EN(keyboards.REOFFER)]
    late = await emulator.press_callback(MARIA, expired.message_id, f"1:acc:{offer.offer_id}")
    assert late.text == EN(texts.PRESS_ANSWERS[Press.EXPIRED])
    again = await emulator.press(ADMIN_ID, EN(keyboards.REOFFER))
    assert again.text == EN(texts.PRESS_ANSWERS[Press.REOPENED])
    await emulator.wait_for_message(
        MARIA, lambda m: m.message_id > expired.message_id and part(OFFER_COPY) in (m.text or "")
    )


async def test_a_driver_holding_two_offers_may_type_the_other_ones_code(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    await start_bot(max_offers_held=2)
    await online_driver(emulator, MARIA, "Maria")
    first = await new_offer(emulator, ref="T1")
    await emulator.wait_for_message(MARIA, offer_copy_of(first.offer_id))
    await emulator.press(MARIA, EN(keyboards.ACCEPT))
    job_one = await emulator.wait_for_message(MARIA, titled(JOB_CARD, first.offer_id))
    second = await new_offer(emulator, ref="T2")
    await emulator.wait_for_message(MARIA, offer_copy_of(second.offer_id))
    await emulator.press(MARIA, EN(keyboards.ACCEPT))
    job_two = await emulator.wait_for_message(MARIA, titled(JOB_CARD, second.offer_id))
    await emulator.press(MARIA, EN(keyboards.CONFIRM_PICKUP), message_id=job_one.message_id)
    await emulator.press(
        MARIA, EN(keyboards.CONFIRM_PICKUP), message_id=job_two.message_id
    )  # asked for T2's code last
    await emulator.send_text(MARIA, first.pickup_code)  # but at T1's counter
    await emulator.wait_for_message(MARIA, part(DELIVERY_CARD, ref="T1"))
    await emulator.send_text(MARIA, "/status")
    status = await emulator.wait_for_message(MARIA, EN(texts.ONLINE_NOW))
    holding = matches(texts.HOLDING, id=first.offer_id, store="Zara", state=EN(texts.PICKED_UP))
    assert holding.search(status.text or ""), status.text
