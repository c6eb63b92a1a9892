"""No live stale buttons: a message whose buttons no longer apply is edited so they are gone, and an
old button pressed anyway says what became of the order."""

from __future__ import annotations

import re
from datetime import timedelta

from bot import keyboards, texts
from dispatch.clock import FakeClock
from dispatch.offers import Press
from sandbox.emulator import BotApiEmulator
from tests.e2e.conftest import ADMIN_ID, BotFactory
from tests.e2e.people import new_offer, online_driver
from tests.e2e.test_stores_and_admins import CLERK, OTHER_CLERK, link
from tests.e2e.test_timers_journey import LINE, NOON, PICKUP_END
from tests.e2e.words import (
    ADMIN_OFFER_CARD,
    DELIVERY_CARD,
    EN,
    JOB_CARD,
    LATE_REMINDER,
    OFFER_COPY,
    TODAYS_ORDERS,
    matches,
    part,
    saying,
)

MARIA = 3201


def cancel(offer_id: int) -> str:
    """The label of the button under a store's /orders that cancels this order."""
    return EN(keyboards.CANCEL_ONE, id=offer_id)


async def test_a_late_reminder_loses_its_buttons_when_the_driver_releases(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    clock = FakeClock(NOON)
    bot = await start_bot(clock=clock, wave_size=1, wave_interval_seconds=3600)
    await online_driver(emulator, MARIA, "Maria")
    await emulator.send_text(ADMIN_ID, LINE)
    await emulator.wait_for_message(MARIA, part(OFFER_COPY))
    await emulator.press(MARIA, EN(keyboards.ACCEPT))
    job = await emulator.wait_for_message(MARIA, part(JOB_CARD))
    clock.set(PICKUP_END)
    await bot.timers.fire_due()
    late = await emulator.wait_for_message(MARIA, part(LATE_REMINDER))
    assert late.buttons == [EN(keyboards.CONFIRM_PICKUP), EN(keyboards.RELEASE)]

    await emulator.press(MARIA, EN(keyboards.RELEASE), message_id=job.message_id)
    await emulator.wait_for_message(
        MARIA, lambda m: m.message_id == late.message_id and not m.buttons and m.edited
    )


async def test_a_late_reminder_loses_its_buttons_at_pickup(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    clock = FakeClock(NOON)
    bot = await start_bot(clock=clock, wave_size=1, wave_interval_seconds=3600)
    await online_driver(emulator, MARIA, "Maria")
    await emulator.send_text(ADMIN_ID, LINE)
    with_code = matches(ADMIN_OFFER_CARD, pickup_code=re.compile(r"\d{4}"))
    card = with_code.search((await emulator.wait_for_message(ADMIN_ID, saying(ADMIN_OFFER_CARD))).text or "")
    assert card
    code = card.group("pickup_code")
    await emulator.wait_for_message(MARIA, part(OFFER_COPY))
    await emulator.press(MARIA, EN(keyboards.ACCEPT))
    await emulator.wait_for_message(MARIA, part(JOB_CARD))
    clock.set(PICKUP_END + timedelta(seconds=1))
    await bot.timers.fire_due()
    late = await emulator.wait_for_message(MARIA, part(LATE_REMINDER))
    await emulator.press(MARIA, EN(keyboards.CONFIRM_PICKUP), message_id=late.message_id)
    await emulator.send_text(MARIA, code)
    await emulator.wait_for_message(MARIA, part(DELIVERY_CARD))
    await emulator.wait_for_message(MARIA, lambda m: m.message_id == late.message_id and not m.buttons)


async def test_every_orders_list_loses_the_cancel_of_an_order_cancelled_anywhere(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    await start_bot()
    await link(emulator, CLERK)
    await link(emulator, OTHER_CLERK)  # two staff chats of the same store
    first = await new_offer(emulator, ref="L1")
    second = await new_offer(emulator, ref="L2")
    lists = {}
    for clerk in (CLERK, OTHER_CLERK):
        await emulator.send_text(clerk, "/orders")
        lists[clerk] = await emulator.wait_for_message(clerk, EN(TODAYS_ORDERS))
        assert sorted(lists[clerk].buttons) == sorted([cancel(first.offer_id), cancel(second.offer_id)])

    done = await emulator.press(CLERK, cancel(first.offer_id), message_id=lists[CLERK].message_id)
    assert done.text == EN(texts.CANCEL_ANSWERS[Press.CANCELLED])
    for clerk in (CLERK, OTHER_CLERK):
        await emulator.wait_for_message(
            clerk,
            lambda m, clerk=clerk: (
                m.message_id == lists[clerk].message_id and m.buttons == [cancel(second.offer_id)]
            ),
        )

    await emulator.send_text(ADMIN_ID, f"/cancel {second.offer_id} customer called")
    for clerk in (CLERK, OTHER_CLERK):
        await emulator.wait_for_message(
            clerk, lambda m, clerk=clerk: m.message_id == lists[clerk].message_id and not m.buttons
        )
    # A press that raced the edit (the old button, as it was) says the order was cancelled.
    again = await emulator.press_callback(CLERK, lists[CLERK].message_id, f"1:sc:{second.offer_id}")
    assert again.text == EN(texts.CANCEL_ANSWERS[Press.DONE])


async def test_an_old_job_button_on_a_cancelled_offer_says_it_was_cancelled(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    await start_bot()
    await online_driver(emulator, MARIA, "Maria")
    offer = await new_offer(emulator, ref="C1")
    await emulator.wait_for_message(MARIA, part(OFFER_COPY))
    await emulator.press(MARIA, EN(keyboards.ACCEPT))
    job = await emulator.wait_for_message(MARIA, part(JOB_CARD))
    await emulator.send_text(ADMIN_ID, f"/cancel {offer.offer_id} store closed")
    await emulator.wait_for_message(MARIA, lambda m: m.message_id == job.message_id and not m.buttons)
    for act in ("pick", "rel"):
        pressed = await emulator.press_callback(MARIA, job.message_id, f"1:{act}:{offer.offer_id}")
        assert pressed.text == EN(texts.PRESS_ANSWERS[Press.CANCELLED])
