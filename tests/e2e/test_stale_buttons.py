"""No live stale buttons: a message whose buttons no longer apply is edited so they are gone, and an
old button pressed anyway says what became of the order."""

from __future__ import annotations

from datetime import timedelta

from bot import texts
from dispatch.clock import FakeClock
from dispatch.offers import Press
from sandbox.emulator import BotApiEmulator
from tests.e2e.conftest import ADMIN_ID, BotFactory
from tests.e2e.people import new_offer, online_driver
from tests.e2e.test_stores_and_admins import CLERK, OTHER_CLERK, link
from tests.e2e.test_timers_journey import LINE, NOON, PICKUP_END

MARIA = 3201


async def test_a_late_reminder_loses_its_buttons_when_the_driver_releases(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    clock = FakeClock(NOON)
    bot = await start_bot(clock=clock, wave_size=1, wave_interval_seconds=3600)
    await online_driver(emulator, MARIA, "Maria")
    await emulator.send_text(ADMIN_ID, LINE)
    await emulator.wait_for_message(MARIA, "📦 New offer")
    await emulator.press(MARIA, "Accept")
    job = await emulator.wait_for_message(MARIA, "It's yours")
    clock.set(PICKUP_END)
    await bot.timers.fire_due()
    late = await emulator.wait_for_message(MARIA, "You're late for pickup")
    assert late.buttons == ["Confirm pickup", "Release"]

    await emulator.press(MARIA, "Release", message_id=job.message_id)
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
    card = await emulator.wait_for_message(ADMIN_ID, "Pickup code:")
    code = (card.text or "").split("Pickup code: ")[1][:4]
    await emulator.wait_for_message(MARIA, "📦 New offer")
    await emulator.press(MARIA, "Accept")
    await emulator.wait_for_message(MARIA, "It's yours")
    clock.set(PICKUP_END + timedelta(seconds=1))
    await bot.timers.fire_due()
    late = await emulator.wait_for_message(MARIA, "You're late for pickup")
    await emulator.press(MARIA, "Confirm pickup", message_id=late.message_id)
    await emulator.send_text(MARIA, code)
    await emulator.wait_for_message(MARIA, "🚗 Deliver order")
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
        lists[clerk] = await emulator.wait_for_message(clerk, "Today's orders:")
        assert sorted(lists[clerk].buttons) == [f"Cancel #{first.offer_id}", f"Cancel #{second.offer_id}"]

    done = await emulator.press(CLERK, f"Cancel #{first.offer_id}", message_id=lists[CLERK].message_id)
    assert done.text == texts.CANCEL_ANSWERS[Press.CANCELLED]
    for clerk in (CLERK, OTHER_CLERK):
        await emulator.wait_for_message(
            clerk,
            lambda m, clerk=clerk: (
                m.message_id == lists[clerk].message_id and m.buttons == [f"Cancel #{second.offer_id}"]
            ),
        )

    await emulator.send_text(ADMIN_ID, f"/cancel {second.offer_id} customer called")
    for clerk in (CLERK, OTHER_CLERK):
        await emulator.wait_for_message(
            clerk, lambda m, clerk=clerk: m.message_id == lists[clerk].message_id and not m.buttons
        )
    # A press that raced the edit (the old button, as it was) says the order was cancelled.
    again = await emulator.press_callback(CLERK, lists[CLERK].message_id, f"1:sc:{second.offer_id}")
    assert again.text == texts.CANCEL_ANSWERS[Press.DONE]


async def test_an_old_job_button_on_a_cancelled_offer_says_it_was_cancelled(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    await start_bot()
    await online_driver(emulator, MARIA, "Maria")
    offer = await new_offer(emulator, ref="C1")
    await emulator.wait_for_message(MARIA, "📦 New offer")
    await emulator.press(MARIA, "Accept")
    job = await emulator.wait_for_message(MARIA, "It's yours")
    await emulator.send_text(ADMIN_ID, f"/cancel {offer.offer_id} store closed")
    await emulator.wait_for_message(MARIA, lambda m: m.message_id == job.message_id and not m.buttons)
    for act in ("pick", "rel"):
        pressed = await emulator.press_callback(MARIA, job.message_id, f"1:{act}:{offer.offer_id}")
        assert pressed.text == texts.PRESS_ANSWERS[Press.CANCELLED]
