"""An order whose pickup window leaves no time is never offered as it is: its store or an admin gives
it a new window, or cancels it; and every message asking so loses its buttons once one was pressed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot import keyboards, texts
from bot.app import StorerunBot
from bot.routes.admins import OFFER_ANSWER
from dispatch.clock import FakeClock
from dispatch.offers import Press
from sandbox.emulator import BotApiEmulator, ChatMessage
from tests.e2e.conftest import ADMIN_ID, BotFactory
from tests.e2e.people import online_driver
from tests.e2e.test_stores_and_admins import link
from tests.e2e.words import (
    ADMIN_EXPIRED,
    ADMIN_EXPIRED_REOFFERED,
    EN,
    JOB_CARD,
    JOB_NO_SHOW,
    NO_SHOW_RELEASED,
    OFFER_COPY,
    RELEASED,
    RELEASED_REOFFERED,
    STORE_ACCEPTED,
    STORE_CANCELLED,
    WINDOW_DROPPED,
    WINDOW_GIVEN,
    WINDOW_OVER_NO_SHOW,
    WINDOW_OVER_RELEASED,
    matches,
    part,
    saying,
    title_of,
)

MARIA, JOE, CLERK, BO = 3001, 3002, 4001, 1001
VEGAS = "America/Los_Angeles"
NOON = datetime(2026, 7, 15, 19, 0, tzinfo=UTC)  # 12:00 PDT in Las Vegas
PICKUP_START = datetime(2026, 7, 15, 20, 0, tzinfo=UTC)  # 1:00 PM PDT
PICKUP_END = PICKUP_START + timedelta(minutes=30)
DELIVER_BY = datetime(2026, 7, 15, 21, 30, tzinfo=UTC)  # 2:30 PM PDT
LINE = (
    "/newoffer store=FS-ZARA packages=2 pay=18.50 window=13:00-13:30 date=2026-07-15 zone=89109 "
    'ref=E1 deliver_by=14:30 address="3200 Las Vegas Blvd S"'
)
OFFER_ID = 1  # the first offer of a fresh database


def slot(start: datetime) -> str:
    """The label of the new-window button for the half hour from `start`."""
    return EN.window(start, start + timedelta(minutes=30), VEGAS, now=NOON)


def asking(message: ChatMessage) -> bool:
    """A message asking for a new window: its slot buttons and Cancel order."""
    return EN(keyboards.CANCEL_ORDER) in message.buttons


def edit_of(message: ChatMessage) -> Callable[[ChatMessage], bool]:
    """Matches that message once it was edited and has no buttons left."""
    return lambda m: m.message_id == message.message_id and m.edited and m.buttons == []


async def accepted_by_maria(emulator: BotApiEmulator, start_bot: BotFactory) -> StorerunBot:
    """Maria holds order E1 (1:00–1:30 PM); Joe, online too, could take it; Zara's clerk is linked."""
    bot = await start_bot(clock=FakeClock(NOON), wave_size=1, wave_interval_seconds=3600)
    await link(emulator, CLERK)
    await online_driver(emulator, MARIA, "Maria")
    await online_driver(emulator, JOE, "Joe")
    await emulator.send_text(ADMIN_ID, LINE)
    await emulator.wait_for_message(MARIA, part(OFFER_COPY))
    assert (await emulator.press(MARIA, EN(keyboards.ACCEPT))).text == EN(texts.PRESS_ANSWERS[Press.AWARDED])
    await emulator.wait_for_message(MARIA, part(JOB_CARD))
    await emulator.wait_for_message(CLERK, part(STORE_ACCEPTED, ref="E1", driver="Maria"))
    return bot


async def offered_to(bot: StorerunBot, emulator: BotApiEmulator, user_id: int) -> list[ChatMessage]:
    await bot.sender.drain()
    return [m for m in emulator.chat(user_id) if (m.text or "").startswith(part(OFFER_COPY))]


async def test_a_no_show_is_not_offered_again_and_the_store_gives_it_a_new_window(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    bot = await accepted_by_maria(emulator, start_bot)
    clock = bot.clock
    assert isinstance(clock, FakeClock)
    clock.set(PICKUP_END + timedelta(minutes=10))  # 1:40 PM: the window and its grace are over
    await bot.timers.fire_due()

    asks = {person: await emulator.wait_for_message(person, asking) for person in (CLERK, ADMIN_ID)}
    for ask in asks.values():
        no_show = matches(WINDOW_OVER_NO_SHOW, driver="Maria", window="1:00–1:30 PM PDT")
        assert no_show.search(ask.text or ""), ask.text
        assert ask.buttons == [
            slot(datetime(2026, 7, 15, 21, 0, tzinfo=UTC)),  # 2:00 PM, the next half hour
            slot(datetime(2026, 7, 15, 21, 30, tzinfo=UTC)),
            slot(datetime(2026, 7, 15, 22, 0, tzinfo=UTC)),
            slot(datetime(2026, 7, 15, 22, 30, tzinfo=UTC)),
            EN(keyboards.CANCEL_ORDER),
        ]
    assert await offered_to(bot, emulator, JOE) == []  # not set up for a "you're late"
    async with bot.db.read() as tx:
        waiting = await tx.offers.by_id(OFFER_ID)
    assert waiting is not None and waiting.status == "expired" and waiting.holder_id is None

    two_pm = slot(datetime(2026, 7, 15, 21, 0, tzinfo=UTC))
    chosen = await emulator.press(CLERK, two_pm)
    assert chosen.text == EN(texts.WINDOW_ANSWERS[Press.REOPENED])
    copy = await emulator.wait_for_message(JOE, part(OFFER_COPY))
    assert matches(OFFER_COPY, window="2:00–2:30 PM PDT").search(copy.text or ""), copy.text
    async with bot.db.read() as tx:
        moved = await tx.offers.by_id(OFFER_ID)
    assert moved is not None and moved.status == "open"
    assert (moved.pickup_start, moved.pickup_end) == (
        datetime(2026, 7, 15, 21, 0, tzinfo=UTC),
        datetime(2026, 7, 15, 21, 30, tzinfo=UTC),
    )
    assert moved.deliver_by == DELIVER_BY + timedelta(hours=1)  # shifted with the window
    assert await offered_to(bot, emulator, MARIA) == []  # never again to the driver who never came

    for person, ask in asks.items():  # the admin's copy too, though the store answered
        closed = await emulator.wait_for_message(person, edit_of(ask))
        by = EN(texts.NAME_AT_STORE, name="Clerk4001", store="Zara")
        given = matches(WINDOW_GIVEN, window="2:00–2:30 PM PDT", ref="E1", by=by)
        assert given.search(closed.text or ""), closed.text
    half_past = f"1:nw:{OFFER_ID}:202607152130"  # a press that raced the clerk's
    again = await emulator.press_callback(ADMIN_ID, asks[ADMIN_ID].message_id, half_past)
    assert again.text == EN(texts.WINDOW_ANSWERS[Press.REOFFERED_BEFORE])


async def test_the_driver_hears_of_their_no_show_once_and_their_job_card_closes(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    bot = await accepted_by_maria(emulator, start_bot)
    clock = bot.clock
    assert isinstance(clock, FakeClock)
    clock.set(PICKUP_END + timedelta(minutes=10))
    await bot.timers.fire_due()
    no_show = matches(NO_SHOW_RELEASED)
    await emulator.wait_for_message(MARIA, saying(NO_SHOW_RELEASED))
    await bot.sender.drain()

    chat = [m for m in emulator.chat(MARIA) if m.from_bot]
    told = [m for m in chat if no_show.search(m.text or "")]
    assert len(told) == 1, emulator.transcript(MARIA)
    job = next(m for m in chat if title_of(OFFER_ID) in (m.text or "") and m.edited)
    assert job.buttons == [] and job.message_id < told[0].message_id
    assert not no_show.search(job.text or "") and matches(JOB_NO_SHOW).fullmatch(job.text or ""), job.text


async def test_a_release_too_late_for_anyone_else_asks_for_a_new_window_and_cancel_closes_every_ask(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    bot = await accepted_by_maria(emulator, start_bot)
    clock = bot.clock
    assert isinstance(clock, FakeClock)
    clock.set(PICKUP_END - timedelta(minutes=10))  # 1:20 PM: no one could get there by 1:30
    await bot.timers.fire_due()
    released = await emulator.press(MARIA, EN(keyboards.RELEASE))
    assert released.text == EN(texts.PRESS_ANSWERS[Press.RELEASED_TOO_LATE])
    job = await emulator.wait_for_message(MARIA, saying(RELEASED))
    assert job.buttons == [] and not matches(RELEASED_REOFFERED).search(job.text or "")
    asks = {person: await emulator.wait_for_message(person, asking) for person in (CLERK, ADMIN_ID)}
    for ask in asks.values():
        assert matches(WINDOW_OVER_RELEASED, driver="Maria", ref="E1").search(ask.text or ""), ask.text
    assert await offered_to(bot, emulator, JOE) == []

    dropped = await emulator.press(ADMIN_ID, EN(keyboards.CANCEL_ORDER))
    assert dropped.text == EN(texts.CANCEL_ANSWERS[Press.CANCELLED])
    await emulator.wait_for_message(CLERK, part(STORE_CANCELLED, ref="E1"))
    for person, ask in asks.items():
        closed = await emulator.wait_for_message(person, edit_of(ask))
        assert EN(WINDOW_DROPPED, ref="E1", id=1, store="Zara", by="Ada") in (closed.text or "")
    async with bot.db.read() as tx:
        offer = await tx.offers.by_id(OFFER_ID)
    assert offer is not None and offer.status == "cancelled"
    late = await emulator.press_callback(CLERK, asks[CLERK].message_id, f"1:nw:{OFFER_ID}:202607152100")
    assert late.text == EN(texts.WINDOW_ANSWERS[Press.CANCELLED])


async def test_only_the_store_and_the_admins_may_give_a_new_window(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    bot = await accepted_by_maria(emulator, start_bot)
    clock = bot.clock
    assert isinstance(clock, FakeClock)
    clock.set(PICKUP_END + timedelta(minutes=10))
    await bot.timers.fire_due()
    card = await emulator.wait_for_message(CLERK, asking)
    joes = emulator.last_bot_message(JOE)
    assert joes is not None
    forged = await emulator.press_callback(JOE, joes.message_id, f"1:nw:{OFFER_ID}:202607152100")
    assert forged.text == EN(texts.WINDOW_ANSWERS[Press.NOT_YOURS])
    gone = await emulator.press_callback(CLERK, card.message_id, f"1:nw:{OFFER_ID}:202607152000")
    assert gone.text == EN(texts.WINDOW_ANSWERS[Press.SLOT_GONE])  # 1:00–1:30 PM, as it is 1:40
    async with bot.db.read() as tx:
        offer = await tx.offers.by_id(OFFER_ID)
    assert offer is not None and offer.status == "expired"


async def test_reopen_of_an_order_whose_window_is_over_answers_with_new_windows(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    clock = FakeClock(NOON)
    bot = await start_bot(clock=clock, acceptance_window_seconds=600, wave_interval_seconds=60)
    await online_driver(emulator, MARIA, "Maria")
    await emulator.send_text(ADMIN_ID, LINE)
    await emulator.wait_for_message(MARIA, part(OFFER_COPY))
    clock.set(NOON + timedelta(seconds=600))
    await bot.timers.fire_due()
    expired = await emulator.wait_for_message(ADMIN_ID, saying(ADMIN_EXPIRED))
    assert expired.buttons == [EN(keyboards.REOFFER)]

    clock.set(PICKUP_END - timedelta(minutes=5))  # 1:25 PM
    pressed = await emulator.press(ADMIN_ID, EN(keyboards.REOFFER), message_id=expired.message_id)
    assert pressed.text == EN(texts.PRESS_ANSWERS[Press.NEW_WINDOW])
    first_ask = await emulator.wait_for_message(ADMIN_ID, asking)
    await emulator.send_text(ADMIN_ID, f"/reopen {OFFER_ID}")
    ask = await emulator.wait_for_message(ADMIN_ID, asking, after=first_ask.message_id)
    assert ask.buttons[0] == slot(datetime(2026, 7, 15, 20, 30, tzinfo=UTC))  # 1:30–2:00 PM
    assert await offered_to(bot, emulator, MARIA) == []  # the closed window went to nobody

    chosen = await emulator.press(
        ADMIN_ID, slot(datetime(2026, 7, 15, 20, 30, tzinfo=UTC)), message_id=ask.message_id
    )
    assert chosen.text == EN(texts.WINDOW_ANSWERS[Press.REOPENED])
    copy = await emulator.wait_for_message(MARIA, saying(OFFER_COPY, window="1:30–2:00 PM PDT"))
    assert copy.buttons == [EN(keyboards.ACCEPT), EN(keyboards.DECLINE)]
    for asked in (expired, first_ask, ask):
        await emulator.wait_for_message(ADMIN_ID, edit_of(asked))
    again = await emulator.press_callback(ADMIN_ID, expired.message_id, f"1:reo:{OFFER_ID}")
    assert again.text == EN(texts.PRESS_ANSWERS[Press.REOFFERED_BEFORE])


async def test_every_admins_expiry_card_loses_re_offer_once_it_was_offered_again(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    emulator.add_user(BO, "Bo")
    clock = FakeClock(NOON)
    bot = await start_bot(
        clock=clock, acceptance_window_seconds=600, wave_interval_seconds=60, admin_ids=f"{ADMIN_ID},{BO}"
    )
    await online_driver(emulator, MARIA, "Maria")
    await emulator.send_text(ADMIN_ID, LINE)
    await emulator.wait_for_message(MARIA, part(OFFER_COPY))
    clock.set(NOON + timedelta(seconds=600))
    await bot.timers.fire_due()
    cards = {admin: await emulator.wait_for_message(admin, saying(ADMIN_EXPIRED)) for admin in (ADMIN_ID, BO)}

    await emulator.send_text(ADMIN_ID, f"/reopen {OFFER_ID}")
    offered_again = EN(texts.REOPEN_ANSWERS[Press.REOPENED])
    await emulator.wait_for_message(ADMIN_ID, EN(OFFER_ANSWER, id=OFFER_ID, answer=offered_again))
    for admin, card in cards.items():
        closed = await emulator.wait_for_message(admin, edit_of(card))
        assert matches(ADMIN_EXPIRED_REOFFERED).search(closed.text or ""), closed.text
    late = await emulator.press_callback(BO, cards[BO].message_id, f"1:reo:{OFFER_ID}")
    assert late.text == EN(texts.PRESS_ANSWERS[Press.REOFFERED_BEFORE])
