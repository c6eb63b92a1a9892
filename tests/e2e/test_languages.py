"""Each chat reads its own language: from its Telegram app's at first contact, or as chosen with /language.

Every text is compared with the bot's own rendering in the reader's language (`Texts`), never
with English copied here, so these hold whatever the catalogs say.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from telegram import BotCommandScopeChat

from bot import commands, keyboards, texts
from bot.app import StorerunBot
from bot.callbacks import Act, Button
from bot.routes import everyone
from bot.texts import Texts
from dispatch.drivers import Availability
from dispatch.offers import Press
from dispatch.views import DayTally, OfferView, offer_view
from sandbox.emulator import BotApiEmulator, ChatMessage
from storage.records import Language
from tests.e2e.conftest import ADMIN_ID
from tests.e2e.people import LAS_VEGAS, approve, new_offer, online_driver

LUCIA, SAM, ROSA, MARIA = 3101, 3102, 4101, 3001
TEAM = -100_777  # a store's group chat


def spanish(text: str | None, english: str) -> None:
    """`text` reached a Spanish reader: it is Spanish, not English."""
    assert text is not None
    assert text != english, text


def words(storerun: StorerunBot) -> tuple[Texts, Texts]:
    """The bot's own words in Spanish and in English."""
    return Texts(Language.ES, storerun.clock), Texts(Language.EN, storerun.clock)


async def reads(storerun: StorerunBot, chat_id: int) -> Language | None:
    """What the database says the chat reads."""
    async with storerun.db.read() as tx:
        return await tx.chats.language(chat_id)


async def view_of(storerun: StorerunBot, offer_id: int) -> OfferView:
    async with storerun.db.read() as tx:
        view = await offer_view(tx, offer_id)
    assert view is not None
    return view


def newest(emulator: BotApiEmulator, chat_id: int) -> int:
    """The id of the newest message in the chat (0 if none): what comes after it is new."""
    return max((message.message_id for message in emulator.chat(chat_id)), default=0)


def reading(text: str) -> Callable[[ChatMessage], bool]:
    """A predicate for wait_for_message: the message reads exactly `text`."""

    def matches(message: ChatMessage) -> bool:
        return message.text == text

    return matches


# --- a phone that reads Spanish ---


async def test_a_driver_whose_phone_reads_spanish_is_answered_in_spanish_from_the_first_word(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    es, en = words(storerun)
    emulator.add_user(LUCIA, "Lucía Pérez", username="lucia", language_code="es-US")

    await emulator.send_text(LUCIA, "/start")
    welcome = await emulator.wait_for_message(LUCIA, es(texts.PICK_AREA))
    assert (welcome.text or "").startswith(es(texts.WELCOME, name="Lucía"))
    spanish(welcome.text, en(texts.WELCOME, name="Lucía"))
    assert await reads(storerun, LUCIA) is Language.ES  # the chat reads it from its first word

    chosen = await emulator.press(LUCIA, LAS_VEGAS)
    assert chosen.text == es(texts.AREA_CHOSEN)
    asked = await emulator.wait_for_message(LUCIA, reading(es(texts.ASK_PHONE, area=LAS_VEGAS)))
    spanish(asked.text, en(texts.ASK_PHONE, area=LAS_VEGAS))
    assert emulator.reply_keyboard(LUCIA) == [[es(keyboards.SHARE_PHONE)], [es(keyboards.SKIP)]]
    await emulator.press(LUCIA, es(keyboards.SHARE_PHONE))
    await emulator.wait_for_message(LUCIA, reading(es(texts.APPLIED)))

    # What the domain says later is made in her language too, as it is queued.
    await approve(emulator, "Lucía Pérez")
    approved = es.you_are_approved()["text"]
    await emulator.wait_for_message(LUCIA, reading(approved))
    spanish(approved, en.you_are_approved()["text"])
    await emulator.send_text(LUCIA, "/online")
    online = await emulator.wait_for_message(LUCIA, reading(es(texts.AVAILABILITY[Availability.ONLINE])))
    assert online.buttons == [es(keyboards.GO_OFFLINE)]
    spanish(online.text, en(texts.AVAILABILITY[Availability.ONLINE]))

    # The whole journey, in Spanish: the offer, its award, the pickup at the counter, the delivery.
    created = await new_offer(emulator)
    view = await view_of(storerun, created.offer_id)
    copy = await emulator.wait_for_message(LUCIA, reading(es.offer_copy(view)["text"]))
    assert copy.buttons == [es(keyboards.ACCEPT), es(keyboards.DECLINE)]
    spanish(copy.text, en.offer_copy(view)["text"])
    won = await emulator.press(LUCIA, es(keyboards.ACCEPT), message_id=copy.message_id)
    assert won.text == es(texts.PRESS_ANSWERS[Press.AWARDED])
    spanish(won.text, en(texts.PRESS_ANSWERS[Press.AWARDED]))
    view = await view_of(storerun, created.offer_id)
    job = await emulator.wait_for_message(LUCIA, reading(es.job_card(view)["text"]))
    assert job.buttons == [es(keyboards.CONFIRM_PICKUP), es(keyboards.RELEASE)]

    asked_code = await emulator.press(LUCIA, es(keyboards.CONFIRM_PICKUP), message_id=job.message_id)
    assert asked_code.text == es(texts.PRESS_ANSWERS[Press.TYPE_CODE])
    await emulator.wait_for_message(LUCIA, reading(es.ask_pickup_code(view)["text"]))
    await emulator.send_text(LUCIA, created.pickup_code)
    view = await view_of(storerun, created.offer_id)
    road = await emulator.wait_for_message(LUCIA, reading(es.delivery_card(view)["text"]))
    assert road.buttons == [es(keyboards.DELIVERED), es(keyboards.CANT_DELIVER)]
    spanish(road.text, en.delivery_card(view)["text"])

    done = await emulator.press(LUCIA, es(keyboards.DELIVERED), message_id=road.message_id)
    assert done.text == es(texts.PRESS_ANSWERS[Press.DELIVERED])
    view = await view_of(storerun, created.offer_id)
    await emulator.wait_for_message(LUCIA, reading(es.delivery_closed(view)["text"]))
    thanks = es.delivered(view, DayTally(1, view.offer.pay_cents))["text"]
    await emulator.wait_for_message(LUCIA, reading(thanks))
    spanish(thanks, en.delivered(view, DayTally(1, view.offer.pay_cents))["text"])
    before = newest(emulator, LUCIA)
    await emulator.send_text(LUCIA, "/status")
    status = await emulator.wait_for_message(LUCIA, lambda m: m.message_id > before and bool(m.buttons))
    assert status.buttons == [es(keyboards.GO_OFFLINE)]


async def test_skip_is_understood_typed_in_either_language(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    es, en = words(storerun)
    emulator.add_user(LUCIA, "Lucía", language_code="es")
    emulator.add_user(SAM, "Sam", language_code="en")
    for person, typed, answer in ((LUCIA, en(keyboards.SKIP), es), (SAM, es(keyboards.SKIP), en)):
        await emulator.send_text(person, "/start")
        await emulator.wait_for_message(person, answer(texts.PICK_AREA))
        await emulator.press(person, LAS_VEGAS)
        await emulator.wait_for_message(person, reading(answer(texts.ASK_PHONE, area=LAS_VEGAS)))
        await emulator.send_text(person, typed)  # the other language's Skip, typed
        await emulator.wait_for_message(person, reading(answer(texts.APPLIED)))


async def test_an_unknown_phone_language_reads_english(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    _, en = words(storerun)
    emulator.add_user(SAM, "Sam", language_code="pt-BR")
    await emulator.send_text(SAM, "/start")
    await emulator.wait_for_message(SAM, en(texts.PICK_AREA))
    assert await reads(storerun, SAM) is Language.EN


# --- /language ---


async def test_language_switches_a_chat_both_ways(emulator: BotApiEmulator, storerun: StorerunBot) -> None:
    es, en = words(storerun)
    emulator.add_user(SAM, "Sam")  # a phone that reads English

    await emulator.send_text(SAM, "/language")
    question = await emulator.wait_for_message(SAM, reading(en(everyone.CHOOSE_LANGUAGE)))
    assert question.buttons == ["English", "Español"]  # each language named in its own words
    pressed = await emulator.press(SAM, "Español", message_id=question.message_id)
    assert pressed.text == es(everyone.LANGUAGE_SET)  # the answer is already in the new language
    spanish(pressed.text, en(everyone.LANGUAGE_SET))
    await emulator.wait_for_message(
        SAM, lambda m: m.message_id == question.message_id and m.text == es(everyone.LANGUAGE_SET)
    )
    assert emulator.chat(SAM)[-1].buttons == []  # the question became its answer
    assert await reads(storerun, SAM) is Language.ES

    before = newest(emulator, SAM)
    await emulator.send_text(SAM, "¿qué tal?")
    await emulator.wait_for_message(SAM, reading(es(texts.NOT_UNDERSTOOD)), after=before)

    await emulator.send_text(SAM, "/language")
    again = await emulator.wait_for_message(SAM, reading(es(everyone.CHOOSE_LANGUAGE)), after=before)
    pressed = await emulator.press(SAM, "English", message_id=again.message_id)
    assert pressed.text == en(everyone.LANGUAGE_SET)  # answered before the work: then it is done
    await emulator.wait_for_message(
        SAM, lambda m: m.message_id == again.message_id and m.text == en(everyone.LANGUAGE_SET)
    )
    assert await reads(storerun, SAM) is Language.EN
    before = newest(emulator, SAM)
    await emulator.send_text(SAM, "what's up?")
    await emulator.wait_for_message(SAM, reading(en(texts.NOT_UNDERSTOOD)), after=before)


async def test_a_forged_language_button_is_stale_and_changes_nothing(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    _, en = words(storerun)
    emulator.add_user(SAM, "Sam")
    await emulator.send_text(SAM, "/language")
    question = await emulator.wait_for_message(SAM, reading(en(everyone.CHOOSE_LANGUAGE)))
    for forged in ("1:lang:0:xx", "1:lang:0", "1:lang:0:es-mx"):
        answer = await emulator.press_callback(SAM, question.message_id, forged)
        assert answer.text == en(texts.STALE_BUTTON), forged
    assert await reads(storerun, SAM) is Language.EN
    assert emulator.chat(SAM)[-1].buttons == ["English", "Español"]  # the question is still open


async def test_a_store_group_picks_its_own_language(emulator: BotApiEmulator, storerun: StorerunBot) -> None:
    es, en = words(storerun)
    emulator.add_user(ROSA, "Rosa")
    emulator.add_group(TEAM, "Zara team")
    await emulator.send_text(ROSA, "/language", chat_id=TEAM)
    question = await emulator.wait_for_message(TEAM, reading(en(everyone.CHOOSE_LANGUAGE)))
    spanish_button = Button(act=Act.LANGUAGE, subject=0, arg=Language.ES.value).pack()
    pressed = await emulator.press_callback(ROSA, question.message_id, spanish_button, chat_id=TEAM)
    assert pressed.text == es(everyone.LANGUAGE_SET)
    await emulator.wait_for_message(
        TEAM, lambda m: m.message_id == question.message_id and m.text == es(everyone.LANGUAGE_SET)
    )
    assert await reads(storerun, TEAM) is Language.ES
    assert await reads(storerun, ROSA) is None  # her own chat with the bot is another chat


# --- one offer, each reader in their language ---


async def test_a_spanish_clerk_and_an_english_admin_read_the_same_offer_each_in_their_language(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    es, en = words(storerun)
    emulator.add_user(ROSA, "Rosa", language_code="es-US")
    await emulator.send_text(ADMIN_ID, "/invite FS-ZARA")
    invite = await emulator.wait_for_message(ADMIN_ID, "?start=")
    token = re.search(r"\?start=([\w-]+)", invite.text or "")
    assert token is not None
    await emulator.send_text(ROSA, f"/start {token.group(1)}")
    linked = await emulator.wait_for_message(
        ROSA, reading(es(texts.LINKED["linked"], store="Zara (FS-ZARA)"))
    )
    spanish(linked.text, en(texts.LINKED["linked"], store="Zara (FS-ZARA)"))

    await online_driver(emulator, MARIA, "Maria")
    created = await new_offer(emulator)
    view = await view_of(storerun, created.offer_id)
    card = await emulator.wait_for_message(ADMIN_ID, reading(en.admin_offer_card(view)["text"]))
    assert card.text == en.admin_offer_card(view)["text"]

    await emulator.wait_for_message(MARIA, offered(en))
    await emulator.press(MARIA, en(keyboards.ACCEPT))
    taken = await view_of(storerun, created.offer_id)
    assert taken.holder is not None
    notice = es.store_accepted(taken, taken.holder)["text"]
    await emulator.wait_for_message(ROSA, reading(notice))
    spanish(notice, en.store_accepted(taken, taken.holder)["text"])

    before = newest(emulator, ROSA)
    await emulator.send_text(ROSA, "/orders")
    listed = es.orders_list([taken], 1)["text"]
    await emulator.wait_for_message(ROSA, reading(listed), after=before)
    spanish(listed, en.orders_list([taken], 1)["text"])


# --- answers given as a press arrives, and the command menus ---


async def test_presses_answered_on_arrival_are_answered_in_the_chat_language(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    es, en = words(storerun)
    emulator.add_user(LUCIA, "Lucía", language_code="es")
    await emulator.send_text(LUCIA, "/start")
    welcome = await emulator.wait_for_message(LUCIA, es(texts.PICK_AREA))
    forged = await emulator.press_callback(LUCIA, welcome.message_id, "not a button")
    assert forged.text == es(texts.STALE_BUTTON)
    spanish(forged.text, en(texts.STALE_BUTTON))

    # An offer goes to an English and a Spanish driver; the Spanish one presses Accept too late.
    await online_driver(emulator, MARIA, "Maria")
    await approve_spanish_driver(emulator, storerun, LUCIA)
    created = await new_offer(emulator)
    for driver, t in ((MARIA, en), (LUCIA, es)):
        await emulator.wait_for_message(driver, offered(t))
    assert (await emulator.press(MARIA, en(keyboards.ACCEPT))).text is not None
    lost = await emulator.press(LUCIA, es(keyboards.ACCEPT))
    assert lost.text == es(texts.PRESS_ANSWERS[Press.TAKEN])
    spanish(lost.text, en(texts.PRESS_ANSWERS[Press.TAKEN]))
    assert (await view_of(storerun, created.offer_id)).holder is not None


def offered(t: Texts) -> Callable[[ChatMessage], bool]:
    """A predicate for wait_for_message: a copy of an offer, with its Accept in `t`'s language."""

    def matches(message: ChatMessage) -> bool:
        return t(keyboards.ACCEPT) in message.buttons

    return matches


async def approve_spanish_driver(emulator: BotApiEmulator, storerun: StorerunBot, user_id: int) -> None:
    """A driver already welcomed in Spanish applies, is approved and goes online."""
    es, _ = words(storerun)
    await emulator.press(user_id, LAS_VEGAS)
    await emulator.wait_for_message(user_id, reading(es(texts.ASK_PHONE, area=LAS_VEGAS)))
    await emulator.press(user_id, es(keyboards.SKIP))
    await emulator.wait_for_message(user_id, reading(es(texts.APPLIED)))
    await approve(emulator, "Lucía")
    await emulator.wait_for_message(user_id, reading(es.you_are_approved()["text"]))
    await emulator.send_text(user_id, "/online")
    await emulator.wait_for_message(user_id, reading(es(texts.AVAILABILITY[Availability.ONLINE])))


async def test_the_command_menus_are_registered_in_each_language(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    es, en = words(storerun)
    bot = storerun.application.bot
    for language_code, t in ((None, en), ("es", es)):
        menu = await bot.get_my_commands(language_code=language_code)
        assert [(command.command, command.description) for command in menu] == commands.menu(
            t, commands.EVERYONE_MENU
        )
        admin_menu = await bot.get_my_commands(
            scope=BotCommandScopeChat(ADMIN_ID), language_code=language_code
        )
        assert [(command.command, command.description) for command in admin_menu] == commands.menu(
            t, commands.ADMIN_MENU
        )
    spanish(es(commands.COMMANDS[0].about), en(commands.COMMANDS[0].about))
