"""A driver holding two offers at the counter: a typed code is matched against each offer waiting for one."""

from __future__ import annotations

from bot import keyboards
from sandbox.emulator import BotApiEmulator, ChatMessage
from tests.e2e.conftest import BotFactory
from tests.e2e.people import CreatedOffer, new_offer, online_driver
from tests.e2e.words import (
    DELIVERED_THANKS,
    DELIVERY_CARD,
    EN,
    JOB_CARD,
    WRONG_CODE,
    offer_copy_of,
    part,
    saying,
    titled,
)

MARIA = 3101


async def take(emulator: BotApiEmulator, ref: str) -> tuple[CreatedOffer, ChatMessage]:
    """Maria accepts a new offer; returns it and her job card."""
    offer = await new_offer(emulator, ref=ref)
    copy = await emulator.wait_for_message(MARIA, offer_copy_of(offer.offer_id))
    await emulator.press(MARIA, EN(keyboards.ACCEPT), message_id=copy.message_id)
    job = await emulator.wait_for_message(MARIA, titled(JOB_CARD, offer.offer_id))
    return offer, job


async def test_both_codes_pick_up_after_confirm_pickup_on_both(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    await start_bot(max_offers_held=2)
    await online_driver(emulator, MARIA, "Maria")
    first, job_one = await take(emulator, "T1")
    second, job_two = await take(emulator, "T2")
    await emulator.press(MARIA, EN(keyboards.CONFIRM_PICKUP), message_id=job_one.message_id)
    await emulator.press(MARIA, EN(keyboards.CONFIRM_PICKUP), message_id=job_two.message_id)
    await emulator.send_text(MARIA, first.pickup_code)
    await emulator.wait_for_message(MARIA, part(DELIVERY_CARD, ref="T1"))
    await emulator.send_text(MARIA, second.pickup_code)
    await emulator.wait_for_message(MARIA, part(DELIVERY_CARD, ref="T2"))


async def test_the_delivery_photo_step_does_not_swallow_the_other_offers_code(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    await start_bot(max_offers_held=2)
    await online_driver(emulator, MARIA, "Maria")
    first, job_one = await take(emulator, "T1")
    second, job_two = await take(emulator, "T2")
    await emulator.press(MARIA, EN(keyboards.CONFIRM_PICKUP), message_id=job_one.message_id)
    await emulator.send_text(MARIA, first.pickup_code)
    delivery = await emulator.wait_for_message(MARIA, part(DELIVERY_CARD, ref="T1"))
    await emulator.press(MARIA, EN(keyboards.CONFIRM_PICKUP), message_id=job_two.message_id)
    await emulator.press(MARIA, EN(keyboards.DELIVERED), message_id=delivery.message_id)
    # The bot now asks for a proof photo of T1.
    await emulator.wait_for_message(MARIA, saying(DELIVERED_THANKS, ref="T1"))
    await emulator.send_text(MARIA, second.pickup_code)
    await emulator.wait_for_message(MARIA, part(DELIVERY_CARD, ref="T2"))


async def test_a_wrong_code_with_two_waiting_counts_against_both(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    bot = await start_bot(max_offers_held=2)
    await online_driver(emulator, MARIA, "Maria")
    first, job_one = await take(emulator, "T1")
    second, job_two = await take(emulator, "T2")
    await emulator.press(MARIA, EN(keyboards.CONFIRM_PICKUP), message_id=job_one.message_id)
    await emulator.press(MARIA, EN(keyboards.CONFIRM_PICKUP), message_id=job_two.message_id)
    wrong = next(
        code for code in ("0000", "1111", "2222") if code not in (first.pickup_code, second.pickup_code)
    )
    await emulator.send_text(MARIA, wrong)
    await emulator.wait_for_message(MARIA, saying(WRONG_CODE, n=2, orders=EN.either(["T1", "T2"])))
    async with bot.db.read() as tx:
        for offer in (first, second):
            found = await tx.offers.by_id(offer.offer_id)
            assert found is not None and found.wrong_codes == 1
    # The right code still picks up after a wrong one.
    await emulator.send_text(MARIA, second.pickup_code)
    await emulator.wait_for_message(MARIA, part(DELIVERY_CARD, ref="T2"))
