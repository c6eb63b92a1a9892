"""The Bot API emulator, driven by python-telegram-bot's real Bot and by the people's side."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from zoneinfo import ZoneInfo

import aiohttp
import pytest
import pytest_asyncio
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    MessageEntity,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from sandbox.client import SandboxClient, SandboxError
from sandbox.emulator import BotApiEmulator, ButtonNotFoundError

DRIVER = 1001
OTHER_DRIVER = 1002
OFFER_KEYBOARD = InlineKeyboardMarkup(
    [
        [
            InlineKeyboardButton("Accept", callback_data="offer:7:accept"),
            InlineKeyboardButton("Decline", callback_data="offer:7:decline"),
        ]
    ]
)
PNG_2X3 = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000020000000308020000001273bd"
    "0b0000000f4944415478da63f8cf800f18000080fe05fb5d1d4f620000000049454e44ae426082"
)


class FakeClock:
    """A monotonic clock that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def bot_for(emulator: BotApiEmulator, token: str | None = None) -> Bot:
    return Bot(
        token or emulator.token,
        base_url=f"{emulator.url}/bot",
        base_file_url=f"{emulator.url}/file/bot",
    )


@pytest_asyncio.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator() as running:
        running.add_user(DRIVER, "Dana", username="dana", phone_number="+15550001001")
        running.add_user(OTHER_DRIVER, "Omar")
        yield running


@pytest_asyncio.fixture
async def bot(emulator: BotApiEmulator) -> AsyncIterator[Bot]:
    async with bot_for(emulator) as running:
        yield running


@pytest_asyncio.fixture
async def clock() -> FakeClock:
    return FakeClock()


@pytest_asyncio.fixture
async def limited(clock: FakeClock) -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(clock=clock) as running:
        for user_id in range(1, 41):
            running.add_user(user_id, f"Driver {user_id}")
        running.set_limits(enabled=True)
        yield running


async def test_get_me_describes_the_bot(bot: Bot) -> None:
    me = await bot.get_me()

    assert me.id == 123456
    assert me.is_bot
    assert me.username == "storerun_bot"


async def test_person_sees_offer_with_its_buttons(emulator: BotApiEmulator, bot: Bot) -> None:
    sent = await bot.send_message(DRIVER, "New offer: 2 boxes", reply_markup=OFFER_KEYBOARD)

    assert sent.message_id == 1
    assert sent.chat.id == DRIVER
    assert sent.from_user is not None and sent.from_user.is_bot
    assert sent.reply_markup == OFFER_KEYBOARD
    seen = emulator.last_bot_message(DRIVER)
    assert seen is not None
    assert seen.text == "New offer: 2 boxes"
    assert seen.buttons == ["Accept", "Decline"]
    assert seen.inline_keyboard[0][0].callback_data == "offer:7:accept"
    assert "bot: New offer: 2 boxes\n           [Accept] [Decline]" in emulator.transcript(DRIVER)


async def test_press_sends_callback_query_and_shows_the_answer(emulator: BotApiEmulator, bot: Bot) -> None:
    sent = await bot.send_message(DRIVER, "New offer", reply_markup=OFFER_KEYBOARD)
    press = asyncio.create_task(emulator.press(DRIVER, "Accept"))

    (update,) = await bot.get_updates(timeout=10)
    query = update.callback_query
    assert query is not None
    assert query.data == "offer:7:accept"
    assert query.from_user.id == DRIVER
    assert query.message is not None and query.message.message_id == sent.message_id
    await query.answer("The offer is yours", show_alert=True)
    result = await press

    assert result.answered
    assert result.text == "The offer is yours"
    assert result.show_alert
    assert result.latency is not None and result.latency >= 0
    assert result.update_id == update.update_id
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await query.answer("again")


async def test_transcript_shows_when_each_thing_was_said_and_what_the_person_pressed() -> None:
    vegas = ZoneInfo("America/Los_Angeles")
    now = [datetime(2026, 3, 2, 10, 5, 12, tzinfo=vegas).timestamp()]
    async with BotApiEmulator(wall_clock=lambda: now[0]) as emulator:
        emulator.add_user(DRIVER, "Dana")
        async with bot_for(emulator) as bot:
            sent = await bot.send_message(DRIVER, "New offer: 2 boxes", reply_markup=OFFER_KEYBOARD)
            now[0] += 8
            await emulator.press(DRIVER, "Accept", timeout=0.01)
            now[0] += 2
            await bot.edit_message_text("Offer taken", chat_id=DRIVER, message_id=sent.message_id)
            now[0] += 50
            await emulator.send_text(DRIVER, "thanks")
            await bot.send_message(DRIVER, "You're welcome")

            transcript = emulator.transcript(DRIVER, vegas)

    assert transcript.splitlines() == [
        "10:05:12 bot: Offer taken (edited 10:05:22)",
        "10:05:20 you pressed [Accept]",
        "10:06:12 you: thanks",
        "10:06:12 bot: You're welcome",
    ]


async def test_unanswered_press_reports_not_answered(emulator: BotApiEmulator, bot: Bot) -> None:
    await bot.send_message(DRIVER, "New offer", reply_markup=OFFER_KEYBOARD)

    result = await emulator.press(DRIVER, "Decline", timeout=0.1)

    assert not result.answered
    assert emulator.pending_updates == 1


async def test_a_press_answered_after_the_query_ttl_is_too_old() -> None:
    now = [100.0]
    async with BotApiEmulator(clock=lambda: now[0], callback_query_ttl=15.0) as emulator:
        emulator.add_user(DRIVER, "Dana")
        async with bot_for(emulator) as bot:
            sent = await bot.send_message(DRIVER, "New offer", reply_markup=OFFER_KEYBOARD)
            await emulator.press_callback(DRIVER, sent.message_id, "offer:7:accept", timeout=0.01)
            (update,) = await bot.get_updates()
            assert update.callback_query is not None
            now[0] += 15.5
            with pytest.raises(BadRequest, match=r"(?i)query is too old"):
                await update.callback_query.answer("too late")


async def test_forged_callback_data_reaches_the_bot(emulator: BotApiEmulator, bot: Bot) -> None:
    sent = await bot.send_message(DRIVER, "New offer", reply_markup=OFFER_KEYBOARD)

    await emulator.press_callback(DRIVER, sent.message_id, "offer:999:accept", timeout=0.01)

    (update,) = await bot.get_updates()
    assert update.callback_query is not None
    assert update.callback_query.data == "offer:999:accept"


async def test_pressing_a_missing_button_lists_what_is_on_screen(emulator: BotApiEmulator, bot: Bot) -> None:
    await bot.send_message(DRIVER, "New offer", reply_markup=OFFER_KEYBOARD)

    with pytest.raises(ButtonNotFoundError, match="Accept"):
        await emulator.press(DRIVER, "Take it")


async def test_edit_is_applied_in_the_chat(emulator: BotApiEmulator, bot: Bot) -> None:
    sent = await bot.send_message(DRIVER, "New offer", reply_markup=OFFER_KEYBOARD)

    edited = await bot.edit_message_text("Offer taken", chat_id=DRIVER, message_id=sent.message_id)

    assert isinstance(edited, type(sent))
    assert edited.text == "Offer taken"
    assert edited.edit_date is not None
    (seen,) = emulator.chat(DRIVER)
    assert seen.edited
    assert seen.text == "Offer taken"
    assert seen.buttons == []  # an edit without reply_markup drops the keyboard, as on Telegram


async def test_edit_of_markup_only_keeps_text(emulator: BotApiEmulator, bot: Bot) -> None:
    sent = await bot.send_message(DRIVER, "New offer", reply_markup=OFFER_KEYBOARD)
    only_accept = InlineKeyboardMarkup([[InlineKeyboardButton("Accept", callback_data="a")]])

    await bot.edit_message_reply_markup(DRIVER, sent.message_id, reply_markup=only_accept)

    (seen,) = emulator.chat(DRIVER)
    assert seen.text == "New offer"
    assert seen.buttons == ["Accept"]


async def test_same_edit_twice_is_not_modified(bot: Bot) -> None:
    sent = await bot.send_message(DRIVER, "New offer", reply_markup=OFFER_KEYBOARD)
    await bot.edit_message_text("Taken", DRIVER, sent.message_id, reply_markup=OFFER_KEYBOARD)

    with pytest.raises(BadRequest, match=r"(?i)not modified"):
        await bot.edit_message_text("Taken", DRIVER, sent.message_id, reply_markup=OFFER_KEYBOARD)


async def test_edit_of_unknown_message_or_chat_fails(bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("Taken", DRIVER, 99)
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.edit_message_text("Taken", 424242, 1)


async def test_missing_parameters_use_telegrams_wording(emulator: BotApiEmulator) -> None:
    async with aiohttp.ClientSession() as session:
        api = f"{emulator.url}/bot{emulator.token}"
        async with session.post(f"{api}/sendMessage", json={"text": "hi"}) as response:
            no_chat = await response.json()
        async with session.post(f"{api}/sendMessage", data={"chat_id": str(DRIVER)}) as response:
            no_text = await response.json()

    assert no_chat == {"ok": False, "error_code": 400, "description": "Bad Request: chat_id is empty"}
    assert no_text["description"] == "Bad Request: message text is empty"


async def test_json_body_with_markup_object_is_accepted(emulator: BotApiEmulator) -> None:
    markup = {"inline_keyboard": [[{"text": "Accept", "callback_data": "a"}]]}
    async with aiohttp.ClientSession() as session:
        api = f"{emulator.url}/bot{emulator.token}"
        payload = {"chat_id": DRIVER, "text": "New offer", "reply_markup": markup}
        async with session.post(f"{api}/sendMessage", json=payload) as response:
            body = await response.json()

    assert body["ok"]
    assert body["result"]["reply_markup"] == markup
    assert body["result"]["chat"] == {
        "id": DRIVER,
        "first_name": "Dana",
        "username": "dana",
        "type": "private",
    }


async def test_offset_confirms_and_long_poll_returns_when_a_message_arrives(
    emulator: BotApiEmulator, bot: Bot
) -> None:
    first = await emulator.send_text(DRIVER, "hello")
    (update,) = await bot.get_updates()
    assert update.update_id == first
    assert await bot.get_updates(offset=first + 1) == ()
    assert emulator.confirmed_update_id == first
    assert emulator.pending_updates == 0

    poll = asyncio.create_task(bot.get_updates(offset=first + 1, timeout=60))
    await asyncio.sleep(0.1)
    assert not poll.done()
    second = await emulator.send_text(DRIVER, "are you there?")
    (arrived,) = await asyncio.wait_for(poll, timeout=20)

    assert arrived.update_id == second
    assert arrived.message is not None and arrived.message.text == "are you there?"


async def test_a_second_long_poll_ends_the_first_with_conflict(emulator: BotApiEmulator, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=30))
    await asyncio.sleep(0.1)
    async with bot_for(emulator) as second_instance:
        second = asyncio.create_task(second_instance.get_updates(timeout=30))

        with pytest.raises(Conflict):
            await asyncio.wait_for(first, timeout=20)
        await emulator.send_text(DRIVER, "hi")
        assert len(await asyncio.wait_for(second, timeout=20)) == 1


async def test_typed_command_carries_a_bot_command_entity(emulator: BotApiEmulator, bot: Bot) -> None:
    await emulator.send_text(DRIVER, "/start@storerun_bot store-12")

    (update,) = await bot.get_updates()
    message = update.message
    assert message is not None
    (entity,) = message.entities
    assert entity.type == MessageEntity.BOT_COMMAND
    assert entity.offset == 0
    assert message.parse_entity(entity) == "/start@storerun_bot"
    assert message.text == "/start@storerun_bot store-12"
    assert Update.de_json(update.to_dict(), bot) == update


async def test_plain_text_has_no_entities(emulator: BotApiEmulator, bot: Bot) -> None:
    await emulator.send_text(DRIVER, "on my way / 5 min")

    (update,) = await bot.get_updates()
    assert update.message is not None
    assert update.message.entities == ()


async def test_request_contact_button_shares_the_contact(emulator: BotApiEmulator, bot: Bot) -> None:
    keyboard = ReplyKeyboardMarkup(
        [[KeyboardButton("Share my phone", request_contact=True)]], one_time_keyboard=True
    )
    sent = await bot.send_message(DRIVER, "Please share your phone", reply_markup=keyboard)
    assert sent.reply_markup is None  # Telegram echoes only inline keyboards
    assert emulator.reply_keyboard(DRIVER) == [["Share my phone"]]

    result = await emulator.press(DRIVER, "Share my phone")

    assert result.answered and result.text is None
    (update,) = await bot.get_updates()
    assert update.message is not None and update.message.contact is not None
    assert update.message.contact.phone_number == "+15550001001"
    assert update.message.contact.user_id == DRIVER
    assert update.message.contact.first_name == "Dana"
    assert emulator.reply_keyboard(DRIVER) is None  # one-time keyboards hide once used


async def test_reply_keyboard_stays_until_removed(emulator: BotApiEmulator, bot: Bot) -> None:
    await bot.send_message(DRIVER, "Menu", reply_markup=ReplyKeyboardMarkup([["My offers"]]))

    await emulator.press(DRIVER, "My offers")
    await bot.send_message(DRIVER, "Here they are")
    assert emulator.reply_keyboard(DRIVER) == [["My offers"]]
    (update,) = await bot.get_updates()
    assert update.message is not None and update.message.text == "My offers"

    await bot.send_message(DRIVER, "Bye", reply_markup=ReplyKeyboardRemove())
    assert emulator.reply_keyboard(DRIVER) is None


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # PTB's own
async def test_burst_over_the_global_limit_gets_retry_after(limited: BotApiEmulator) -> None:
    delivered = 0
    async with bot_for(limited) as bot:
        for user_id in range(1, 41):
            try:
                await bot.send_message(user_id, "New offer")
                delivered += 1
            except RetryAfter as error:
                # "Retry in 1" (an int), or "0:00:01" once PTB_TIMEDELTA is on (the bot opts in)
                assert "Retry in 1 seconds" in error.message or "Retry in 0:00:01" in error.message

    assert delivered == 30
    assert limited.stats.too_many_requests == 10
    assert limited.stats.sent_messages == 30


async def test_evenly_paced_sender_stays_under_the_limits(limited: BotApiEmulator, clock: FakeClock) -> None:
    async with bot_for(limited) as bot:
        for second in range(3):
            for user_id in range(1, 31):
                clock.now += 1 / 30
                await bot.send_message(user_id, f"Round {second}")

    assert limited.stats.too_many_requests == 0


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # PTB's own
async def test_two_sends_to_one_chat_back_to_back_hit_the_chat_limit(
    limited: BotApiEmulator, clock: FakeClock
) -> None:
    async with bot_for(limited) as bot:
        await bot.send_message(1, "New offer")
        with pytest.raises(RetryAfter):
            await bot.send_message(1, "Another offer")
        clock.now += 1.0
        await bot.send_message(1, "Another offer")

    assert [message.text for message in limited.chat(1)] == ["New offer", "Another offer"]


async def test_blocked_chat_is_forbidden(emulator: BotApiEmulator, bot: Bot) -> None:
    sent = await bot.send_message(DRIVER, "New offer")
    emulator.block_chat(DRIVER)

    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await bot.send_message(DRIVER, "Another offer")
    with pytest.raises(Forbidden):
        await bot.edit_message_text("Taken", DRIVER, sent.message_id)
    assert emulator.stats.forbidden == 2

    await emulator.send_text(DRIVER, "/start")  # writing to the bot again unblocks it
    await bot.send_message(DRIVER, "Welcome back")


async def test_bad_gateway_is_a_network_error_once(emulator: BotApiEmulator, bot: Bot) -> None:
    emulator.fail_next("sendMessage", status=502)

    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(DRIVER, "New offer")
    await bot.send_message(DRIVER, "New offer")

    assert emulator.stats.server_errors == 1
    assert emulator.stats.calls["sendMessage"] == 2
    assert len(emulator.chat(DRIVER)) == 1


async def test_armed_faults_meet_a_methods_calls_in_order_429_included(
    emulator: BotApiEmulator, bot: Bot
) -> None:
    emulator.fail_next("getMe", status=502)
    emulator.fail_next("getMe", status=429, retry_after=3)

    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.get_me()
    with pytest.raises(RetryAfter, match=r"Retry in (3|0:00:03)"):
        await bot.get_me()
    assert (await bot.get_me()).username
    with pytest.raises(ValueError, match="5xx"):
        emulator.fail_next("getMe", status=400)


async def test_stalled_send_times_out_but_is_still_delivered(emulator: BotApiEmulator, bot: Bot) -> None:
    emulator.stall_next("sendMessage", seconds=1.0)

    with pytest.raises(TimedOut):
        await bot.send_message(DRIVER, "New offer", read_timeout=0.2)

    seen = await emulator.wait_for_message(DRIVER, "New offer", timeout=20)
    assert seen.from_bot


async def test_document_bytes_are_kept_and_downloadable(emulator: BotApiEmulator, bot: Bot) -> None:
    report = b"offer,driver\n7,Dana\n"

    sent = await bot.send_document(DRIVER, report, filename="offers.csv", caption="Today")

    assert sent.document is not None
    assert sent.document.file_name == "offers.csv"
    assert sent.document.mime_type == "text/csv"
    assert sent.caption == "Today"
    seen = emulator.last_bot_message(DRIVER)
    assert seen is not None and seen.document is not None
    assert seen.document.content == report
    assert seen.text == "Today"
    telegram_file = await bot.get_file(sent.document.file_id)
    assert bytes(await telegram_file.download_as_bytearray()) == report


async def test_photo_keeps_its_size_and_can_be_resent_by_file_id(emulator: BotApiEmulator, bot: Bot) -> None:
    sent = await bot.send_photo(DRIVER, PNG_2X3)

    (size,) = sent.photo
    assert (size.width, size.height) == (2, 3)
    again = await bot.send_photo(OTHER_DRIVER, size.file_id, caption="Same")
    seen = emulator.last_bot_message(OTHER_DRIVER)
    assert again.photo[0].file_id == size.file_id
    assert seen is not None and seen.photo is not None and seen.photo.content == PNG_2X3


async def test_person_photo_reaches_the_bot(emulator: BotApiEmulator, bot: Bot) -> None:
    await emulator.send_photo(DRIVER, caption="Delivered")

    (update,) = await bot.get_updates()
    assert update.message is not None
    assert update.message.caption == "Delivered"
    photo = await bot.get_file(update.message.photo[-1].file_id)
    assert (await photo.download_as_bytearray()).startswith(b"\x89PNG")


async def test_unknown_method_is_a_bad_request(emulator: BotApiEmulator, bot: Bot) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{emulator.url}/bot{emulator.token}/sendTelepathy") as response,
    ):
        body = await response.json()

    assert response.status == 400
    assert body == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: method not found",
    }
    with pytest.raises(BadRequest, match=r"(?i)method not found"):
        await bot.do_api_request("sendTelepathy")


async def test_wrong_token_is_invalid(emulator: BotApiEmulator) -> None:
    with pytest.raises(InvalidToken):
        async with bot_for(emulator, token="654321:WRONG"):
            pass


async def test_commands_are_stored(bot: Bot) -> None:
    await bot.set_my_commands([BotCommand("start", "Register as a driver")])

    (command,) = await bot.get_my_commands()
    assert (command.command, command.description) == ("start", "Register as a driver")
    await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()


async def test_deleted_message_leaves_the_chat(emulator: BotApiEmulator, bot: Bot) -> None:
    sent = await bot.send_message(DRIVER, "New offer")

    assert await bot.delete_message(DRIVER, sent.message_id)
    assert emulator.chat(DRIVER) == []
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(DRIVER, sent.message_id)


async def test_get_chat_and_chat_action(bot: Bot) -> None:
    chat = await bot.get_chat(DRIVER)

    assert chat.first_name == "Dana"
    assert chat.type == "private"
    assert await bot.send_chat_action(DRIVER, "typing")


async def test_wait_for_message_times_out_with_the_transcript(emulator: BotApiEmulator, bot: Bot) -> None:
    await emulator.send_text(DRIVER, "hello")
    await bot.send_message(DRIVER, "Welcome")

    with pytest.raises(TimeoutError, match=r"\d\d:\d\d:\d\d you: hello\n\d\d:\d\d:\d\d bot: Welcome"):
        await emulator.wait_for_message(DRIVER, "Offer", timeout=0.1)


async def test_redelivered_update_comes_back_with_the_same_id(emulator: BotApiEmulator, bot: Bot) -> None:
    update_id = await emulator.send_text(DRIVER, "/start")
    await bot.get_updates()
    assert await bot.get_updates(offset=update_id + 1) == ()

    emulator.redeliver(update_id)

    (again,) = await bot.get_updates(offset=update_id + 1)
    assert again.update_id == update_id
    assert again.message is not None and again.message.text == "/start"
    assert await bot.get_updates(offset=update_id + 1) == ()


async def test_people_use_the_http_api(emulator: BotApiEmulator, bot: Bot) -> None:
    async with SandboxClient(emulator.url) as people:
        await people.add_user(2001, "Rita", username="rita")
        assert 2001 in [person.user_id for person in await people.users()]
        update_id = await people.send_text(2001, "/start")
        (update,) = await bot.get_updates()
        assert update.update_id == update_id

        await bot.send_message(2001, "New offer", reply_markup=OFFER_KEYBOARD)
        press = asyncio.create_task(people.press(2001, "Accept"))
        (query_update,) = await bot.get_updates(offset=update_id + 1, timeout=10)
        assert query_update.callback_query is not None
        await query_update.callback_query.answer("Yours")
        result = await press
        assert result.answered and result.text == "Yours"

        await bot.send_message(2001, "Share?", reply_markup=ReplyKeyboardMarkup([["Help"]]))
        view = await people.chat_view(2001)
        assert [message.text for message in view.messages] == ["/start", "New offer", "Share?"]
        assert view.messages[1].buttons == ["Accept", "Decline"]
        assert view.reply_keyboard == [["Help"]]

        await people.share_contact(2001, "+15550002001")
        await people.send_photo(2001, caption="Proof")
        chat = await people.chat(2001)
        assert chat[-2].contact_phone == "+15550002001"
        assert chat[-1].photo is not None and chat[-1].photo.content.startswith(b"\x89PNG")

        await people.block_chat(2001)
        with pytest.raises(Forbidden):
            await bot.send_message(2001, "Hello?")
        await people.set_limits(enabled=True, per_second=30.0, per_chat_per_second=1.0)
        stats = await people.stats()
        assert stats.forbidden == 1
        assert stats.calls["sendMessage"] == 3

        with pytest.raises(SandboxError) as unknown:
            await people.send_text(9999, "hi")
        assert unknown.value.status == 404
        with pytest.raises(SandboxError) as missing:
            await people.press(2001, "Nope")
        assert missing.value.status == 404


async def test_a_real_application_polls_and_answers(emulator: BotApiEmulator) -> None:
    async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        await context.bot.send_message(
            update.effective_chat.id, "Welcome, driver", reply_markup=OFFER_KEYBOARD
        )

    async def on_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.callback_query is not None
        await update.callback_query.answer(f"Pressed {update.callback_query.data}")
        await update.callback_query.edit_message_text("Offer accepted")

    application = (
        Application.builder()
        .token(emulator.token)
        .base_url(f"{emulator.url}/bot")
        .base_file_url(f"{emulator.url}/file/bot")
        .build()
    )
    application.add_handler(CommandHandler("start", on_start))
    application.add_handler(CallbackQueryHandler(on_press))
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0, timeout=1)
        try:
            await emulator.send_text(DRIVER, "/start")
            await emulator.wait_for_message(DRIVER, "Welcome, driver", timeout=20)
            result = await emulator.press(DRIVER, "Accept", timeout=20)
            await emulator.wait_for_message(DRIVER, "Offer accepted", timeout=20)
        finally:
            await application.updater.stop()
            await application.stop()

    assert result.answered and result.text == "Pressed offer:7:accept"
    assert emulator.pending_updates == 0


async def test_a_client_killed_mid_request_is_no_error_on_the_emulators_side(
    emulator: BotApiEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    host, port = emulator.url.removeprefix("http://").split(":")
    _reader, writer = await asyncio.open_connection(host, int(port))
    body = b"chat_id=1&text="
    writer.write(
        f"POST /bot{emulator.token}/sendMessage HTTP/1.1\r\nHost: {host}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 500\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    await asyncio.sleep(0.1)
    writer.transport.abort()  # a SIGKILLed bot: the rest of the body never comes
    await asyncio.sleep(0.2)
    assert not [record for record in caplog.records if record.exc_info], caplog.text
    assert emulator.chat(DRIVER) == []  # nothing half-read was acted on
