"""Telegram handlers: each parses an update, calls one domain operation, and renders the answer."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import replace
from datetime import datetime
from functools import wraps
from typing import TYPE_CHECKING, Any

from babel import Locale
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot import keyboards, texts
from bot.admin_commands import press_broadcast, turn_page
from bot.callbacks import Act, Button
from bot.chat import Context, chat_key, in_every_language, in_private_chat, private_chat_please, reads, reply
from bot.i18n import LOCALES, N_
from bot.inbox import ArrivalAnswer, answer_query, arrived_at, record_failure
from bot.problems import problem_list
from bot.store_commands import answer_step, press_draft, press_staff_cancel, redeem_invite
from dispatch.actors import Actor
from dispatch.drivers import Availability, Enrollment
from dispatch.offers import Code
from dispatch.orders import OrderLineError, example_line, parse_order_line
from dispatch.outbox import Delivery, Outgoing
from dispatch.views import FailReason
from storage.records import Account, Language, Prompt

if TYPE_CHECKING:
    from bot.texts import Catalog
    from dispatch.dispatcher import Dispatch, Person
    from storage.repos import Transaction

log = logging.getLogger(__name__)

# Translators: stands for the area's name when it is gone: "Got it: your area. Share your phone…"
YOUR_AREA = N_("your area")
CHOOSE_LANGUAGE = N_("Which language should I write to you in?")
# Translators: the answer to choosing this catalog's language under /language: name your language.
LANGUAGE_SET = N_("Now I'll write to you in English.")


def _arguments(update: Update) -> str:
    """What follows the command on its line (`/newoffer store=… pay=…`)."""
    text = update.effective_message.text if update.effective_message else None
    return (text or "").partition(" ")[2].strip()


# --- where people may act ---

Handler = Callable[[Update, Context], Coroutine[Any, Any, None]]

# Buttons that work in a group, where a store's staff may share one chat: a new store act belongs
# here. Every other button (an offer, a job, an admin's card) belongs in one person's private chat.
GROUP_ACTS = frozenset(
    {
        Act.STAFF_CANCEL,
        Act.DRAFT,
        Act.DRAFT_CONFIRM,
        Act.DRAFT_CANCEL,
        Act.NEW_WINDOW,
        Act.DROP_WAITING,
        Act.LANGUAGE,
    }
)
ADMIN_ACTS = frozenset(
    {Act.APPROVE, Act.REJECT, Act.REOPEN, Act.PAGE, Act.BROADCAST_SEND, Act.BROADCAST_DROP}
)


def private_chat_only(handler: Handler) -> Handler:
    """A driver's route: whoever is in a group would see the offers, jobs and customers' addresses,
    so there the person is pointed to their private chat and nothing changes."""

    @wraps(handler)
    async def guarded(update: Update, context: Context) -> None:
        if not in_private_chat(update):
            t = context.texts
            await context.dispatch.send(reply(t, update, private_chat_please(t, context)))
            return
        await handler(update, context)

    return guarded


async def roles_here(update: Update, context: Context) -> Person:
    """Who is writing, with the roles that count in this chat: in a group, only store staff."""
    assert update.effective_user is not None and update.effective_chat is not None
    person = await context.dispatch.who_is(update.effective_user.id, update.effective_chat.id)
    return person if in_private_chat(update) else replace(person, driver=None, is_admin=False)


# --- every update ---


async def on_any_update(update: Update, context: Context) -> None:
    """Whoever writes has not blocked the bot (any longer): the sender may write to them again.
    And what the chat reads is looked up here once for every handler of the update (Context.texts)."""
    if update.effective_chat is not None:
        context.storerun.sender.chat_reachable_again(update.effective_chat.id)
    async with context.dispatch.db.read() as tx:
        context.language = reads(update, await tx.chats.language(chat_key(update)))


# --- commands ---


async def on_start(update: Update, context: Context) -> None:
    """/start: a stranger is welcomed and offered the areas; everyone else gets their help."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return
    if context.args:  # opened from a deep link: a store's invite, which may link a group too
        await redeem_invite(update, context, context.args[0])
        return
    person = await roles_here(update, context)
    if not person.is_unknown:
        t = context.texts
        await context.dispatch.send(reply(t, update, texts.help_for(t, person, user.first_name)))
        return
    await _welcome_new_driver(update, context)


@private_chat_only
async def _welcome_new_driver(update: Update, context: Context) -> None:
    """A stranger is welcomed and offered the areas to drive in."""
    assert update.effective_user is not None
    user, t = update.effective_user, context.texts
    areas = await context.dispatch.drivers.areas()
    welcome = t(texts.WELCOME, name=texts.first_name(t, user.first_name))
    if not areas:
        await context.dispatch.send(reply(t, update, f"{welcome}\n\n{t(texts.NO_AREAS)}"))
        return
    text = f"{welcome}\n\n{t(texts.PICK_AREA)}\n\n{t(texts.STORE_STAFF_HINT)}"
    await context.dispatch.send(reply(t, update, text, keyboards.areas(areas)))


async def on_help(update: Update, context: Context) -> None:
    """/help: tell the person what they can do, by their roles (in a group: as store staff)."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return
    person, t = await roles_here(update, context), context.texts
    if person.is_unknown and not in_private_chat(update):
        await context.dispatch.send(reply(t, update, private_chat_please(t, context)))
        return
    await context.dispatch.send(reply(t, update, texts.help_for(t, person, user.first_name)))


async def _set_online(update: Update, context: Context, online: bool) -> str:
    assert update.effective_user is not None
    t = context.texts
    outcome, driver = await context.dispatch.drivers.set_online(update.effective_user.id, online)
    if outcome is Availability.NOT_APPROVED and driver is not None:
        text = texts.driver_standing(t, driver)
        await context.dispatch.send(reply(t, update, text))
        return text
    text = t(texts.AVAILABILITY[outcome])
    markup = (
        keyboards.availability(t, online) if outcome in (Availability.ONLINE, Availability.OFFLINE) else None
    )
    await context.dispatch.send(reply(t, update, text, markup))
    return text


@private_chat_only
async def on_online(update: Update, context: Context) -> None:
    """/online: an approved driver starts getting offers."""
    await _set_online(update, context, True)


@private_chat_only
async def on_offline(update: Update, context: Context) -> None:
    """/offline: the driver stops getting offers."""
    await _set_online(update, context, False)


@private_chat_only
async def on_status(update: Update, context: Context) -> None:
    """/status: areas, online state, held offers, today's deliveries and pay."""
    assert update.effective_user is not None
    t = context.texts
    status = await context.dispatch.drivers.status(update.effective_user.id)
    if status is None:
        await context.dispatch.send(reply(t, update, t(texts.NOT_A_DRIVER)))
        return
    approved = status.driver.status == Account.APPROVED
    markup = keyboards.availability(t, status.driver.online) if approved else None
    now = context.dispatch.clock.now()
    await context.dispatch.send(reply(t, update, texts.status_text(t, status, now), markup))


@private_chat_only
async def on_my_offers(update: Update, context: Context) -> None:
    """/myoffers: each held offer with the buttons for its next step."""
    assert update.effective_user is not None
    if await context.dispatch.offers.show_held(update.effective_user.id) == 0:
        t = context.texts
        await context.dispatch.send(reply(t, update, t(texts.NO_OFFERS_HELD)))


async def on_new_offer(update: Update, context: Context) -> None:
    """/newoffer store=… packages=… pay=… window=… zone=… ref=… address="…": an admin creates an offer."""
    user, t = update.effective_user, context.texts
    assert user is not None
    if user.id not in context.dispatch.admin_ids:
        await context.dispatch.send(reply(t, update, t(texts.NOT_ALLOWED)))
        return
    if not in_private_chat(update):  # as every admin command (bot.admin_commands.admin_only)
        await context.dispatch.send(reply(t, update, private_chat_please(t, context, admin=True)))
        return
    try:
        line = parse_order_line(_arguments(update))
    except OrderLineError as error:
        problems = problem_list(t, error.problems)
        text = t(texts.OFFER_PROBLEMS, problems=problems, example=error.example)
        await context.dispatch.send(reply(t, update, text))
        return
    assert line.store is not None
    created = await context.dispatch.offers.create(
        line,
        store_code=line.store,
        by=Actor.admin(user.id),
        card_to=update.effective_chat.id if update.effective_chat else None,
    )
    if created.view is None:
        problems = problem_list(t, created.problems)
        text = t(texts.OFFER_PROBLEMS, problems=problems, example=example_line())
        await context.dispatch.send(reply(t, update, text))


# --- messages that answer a question the bot asked ---


@private_chat_only
async def on_contact(update: Update, context: Context) -> None:
    """A shared phone finishes a driver's application."""
    message, user = update.effective_message, update.effective_user
    if message is None or message.contact is None or user is None:
        return
    if message.contact.user_id not in (None, user.id):
        t = context.texts
        await context.dispatch.send(reply(t, update, t(texts.SHARE_OWN_PHONE)))
        return
    await _finish_application(update, context, message.contact.phone_number)


async def _finish_application(update: Update, context: Context, phone: str | None) -> None:
    assert update.effective_user is not None
    t = context.texts
    outcome = await context.dispatch.drivers.finish_application(update.effective_user.id, phone)
    text = t(texts.APPLIED if outcome is Enrollment.APPLIED else texts.NOT_UNDERSTOOD)
    await context.dispatch.send(reply(t, update, text, keyboards.remove_reply_keyboard()))


async def on_text(update: Update, context: Context) -> None:
    """Typed text: the answer to what the bot asked (a driver's phone or pickup code, a step of a
    store's order), or a pointer to /help."""
    message, user, chat = update.effective_message, update.effective_user, update.effective_chat
    if message is None or message.text is None or user is None or chat is None:
        return
    if in_private_chat(update) and await _answer_as_driver(update, context, message.text):
        return

    if await answer_step(update, context, message.text):
        return
    t = context.texts
    if not in_private_chat(update) and (await context.dispatch.who_is(user.id, chat.id)).driver:
        # A driver typing a pickup code or a phone where others read it: nothing is taken.
        await context.dispatch.send(reply(t, update, private_chat_please(t, context)))
        return
    await context.dispatch.send(reply(t, update, t(texts.NOT_UNDERSTOOD)))


async def _answer_as_driver(update: Update, context: Context, text: str) -> bool:
    """Text answering the driver's phone step or an offer waiting for its code; False if neither."""
    assert update.effective_user is not None
    user, t = update.effective_user, context.texts
    prompt = await context.dispatch.drivers.prompt_of(user.id)
    if prompt == Prompt.PHONE:
        # The keyboard's Skip, typed or tapped, in whichever language it was shown.
        if text.strip() in in_every_language(keyboards.SKIP):
            await _finish_application(update, context, None)
        else:
            await context.dispatch.send(reply(t, update, t(texts.PHONE_OR_SKIP), keyboards.ask_phone(t)))
        return True
    # Any offer waiting for its code takes typed text first, whatever else the driver is at.
    outcome = await context.dispatch.offers.enter_code(user.id, text)
    if outcome is not Code.NOT_EXPECTED:
        if outcome in texts.CODE_ANSWERS:
            await context.dispatch.send(reply(t, update, t(texts.CODE_ANSWERS[outcome])))
        return True
    return False


@private_chat_only
async def on_photo(update: Update, context: Context) -> None:
    """A photo after a delivery is kept as proof."""
    message, user = update.effective_message, update.effective_user
    if message is None or not message.photo or user is None:
        return
    if await context.dispatch.offers.add_proof(user.id, message.photo[-1].file_id) is None:
        t = context.texts
        await context.dispatch.send(reply(t, update, t(texts.PHOTO_NOT_EXPECTED)))


# --- buttons ---


async def on_button(update: Update, context: Context) -> None:
    """Any inline button: parsed into a typed Button, checked against the database by the domain."""
    query, user, chat = update.callback_query, update.effective_user, update.effective_chat
    if query is None or user is None or chat is None:
        return
    button, t = Button.parse(query.data), context.texts
    if button is None:
        answer_query(query, t(texts.STALE_BUTTON))
        return
    if button.act not in GROUP_ACTS and not in_private_chat(update):
        answer_query(query, private_chat_please(t, context, admin=button.act in ADMIN_ACTS))
        return
    answer_query(query, await _press(button, update, context))


async def answers_at_once(
    dispatch: Dispatch, catalog: Catalog, tx: Transaction, presses: Sequence[tuple[Update, datetime]]
) -> dict[int, ArrivalAnswer]:
    """The answers, by update id, that what is committed gives to presses as they arrive, before
    they take their turn to be applied (bot.inbox): a forged or stale button, an Accept that cannot
    win (final: nothing changes), an Accept collected in an award window (answered now, recorded in
    its turn). A press not answered here goes to on_button. Each answer is in the language of the
    chat it was pressed in (read once for them all: a rush is a thousand presses)."""
    answers: dict[int, ArrivalAnswer] = {}
    accepts: dict[int, tuple[int, int]] = {}
    arrivals: dict[tuple[int, int], datetime] = {}
    pressed = [(update, arrived) for update, arrived in presses if update.callback_query is not None]
    languages = await tx.chats.languages({chat_key(update) for update, _ in pressed})
    words = {
        update.update_id: catalog(reads(update, languages.get(chat_key(update)))) for update, _ in pressed
    }
    for update, arrived in pressed:
        query = update.callback_query
        if query is None or update.effective_chat is None:
            continue
        button = Button.parse(query.data)
        if button is None:
            answers[update.update_id] = ArrivalAnswer(words[update.update_id](texts.STALE_BUTTON))
        elif button.act is Act.ACCEPT and in_private_chat(update):
            accepts[update.update_id] = (button.subject, query.from_user.id)
            arrivals[(button.subject, query.from_user.id)] = arrived
    verdicts = await dispatch.offers.on_arrival(tx, arrivals)
    for update_id, press in accepts.items():
        if press in verdicts:
            verdict = verdicts[press]
            text = texts.press_answer(words[update_id], verdict.answer)
            answers[update_id] = ArrivalAnswer(text, final=verdict.final)
    return answers


async def applies_at_once(
    dispatch: Dispatch, tx: Transaction, presses: Sequence[tuple[Update, datetime]]
) -> None:
    """Apply in bulk the presses answered on arrival that still change something (bot.inbox): the
    Accepts collected in an award window, as on_button would have, one by one."""
    accepts: dict[datetime, set[tuple[int, int]]] = {}
    for update, arrived in presses:
        query = update.callback_query
        button = Button.parse(query.data) if query is not None else None
        if query is not None and button is not None and button.act is Act.ACCEPT:
            accepts.setdefault(arrived, set()).add((button.subject, query.from_user.id))
    for arrived, accepted in accepts.items():
        await dispatch.offers.enter_all(tx, accepted, arrived)


async def _press(button: Button, update: Update, context: Context) -> str:
    """Carry out one pressed button; returns the short answer shown to the person."""
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    offers, drivers, t = context.dispatch.offers, context.dispatch.drivers, context.texts
    match button.act:
        case Act.ACCEPT:
            return texts.press_answer(t, await offers.accept(button.subject, user.id, arrived_at()))
        case Act.WHY_NOT:
            return texts.why_not(t, await context.dispatch.fairness.why_not(button.subject, user.id))
        case Act.DECLINE:
            return t(texts.PRESS_ANSWERS[await offers.decline(button.subject, user.id)])
        case Act.PICKUP:
            return t(texts.PRESS_ANSWERS[await offers.start_pickup(button.subject, user.id)])
        case Act.RELEASE:
            return t(texts.PRESS_ANSWERS[await offers.release(button.subject, user.id)])
        case Act.DELIVERED:
            return t(texts.PRESS_ANSWERS[await offers.deliver(button.subject, user.id)])
        case Act.CANT_DELIVER:
            return t(texts.PRESS_ANSWERS[await offers.ask_reason(button.subject, user.id)])
        case Act.REASON:
            try:
                reason = FailReason(button.arg or "")
            except ValueError:
                return t(texts.STALE_BUTTON)
            return t(texts.PRESS_ANSWERS[await offers.fail(button.subject, user.id, reason)])
        case Act.REOPEN:
            return t(texts.PRESS_ANSWERS[await offers.reopen(button.subject, user.id)])
        case Act.NEW_WINDOW:
            chosen = await offers.new_window(
                button.subject, button.arg or "", user_id=user.id, chat_id=chat.id, name=user.first_name
            )
            return t(texts.WINDOW_ANSWERS[chosen])
        case Act.DROP_WAITING:
            dropped = await offers.drop_waiting(
                button.subject, user_id=user.id, chat_id=chat.id, name=user.first_name
            )
            return t(texts.CANCEL_ANSWERS.get(dropped) or texts.WINDOW_ANSWERS[dropped])
        case Act.APPROVE | Act.REJECT:
            approve = button.act is Act.APPROVE
            decision = await drivers.decide(button.subject, user.id, user.first_name, approve)
            return t(texts.DECISION_ANSWERS[decision])
        case Act.ONLINE | Act.OFFLINE:
            return await _set_online(update, context, button.act is Act.ONLINE)
        case Act.PAGE:
            return await turn_page(update, context, button)
        case Act.BROADCAST_SEND | Act.BROADCAST_DROP:
            return await press_broadcast(update, context, button, send=button.act is Act.BROADCAST_SEND)
        case Act.STAFF_CANCEL:
            return await press_staff_cancel(update, context, button)
        case Act.DRAFT | Act.DRAFT_CONFIRM | Act.DRAFT_CANCEL:
            return await press_draft(update, context, button)
        case Act.LANGUAGE:
            return await _choose_language(update, context, button)
        case Act.AREA:
            outcome = await drivers.choose_area(
                user.id, chat.id, user.full_name, user.username, button.subject
            )
            if outcome is Enrollment.ASK_PHONE:
                area = next((a for a in await drivers.areas() if a.id == button.subject), None)
                text = t(texts.ASK_PHONE, area=area.name if area else t(YOUR_AREA))
                await context.dispatch.send(reply(t, update, text, keyboards.ask_phone(t)))
                return t(texts.AREA_CHOSEN)
            return t(texts.ENROLLMENT[outcome])
    return t(texts.STALE_BUTTON)


# --- the language a chat reads ---


def language_buttons() -> dict[str, object]:
    """A button per language, each named in its own language ("English", "Español"): whoever
    cannot read the chat's language still finds theirs."""
    names = {
        language: (Locale.parse(LOCALES[language]).get_language_name() or language.value).capitalize()
        for language in Language
    }
    row = [
        InlineKeyboardButton(
            names[language], callback_data=Button(act=Act.LANGUAGE, subject=0, arg=language.value).pack()
        )
        for language in Language
    ]
    return InlineKeyboardMarkup([row]).to_dict()


async def on_language(update: Update, context: Context) -> None:
    """/language: everyone (a private chat, or a store's group) picks what the chat reads."""
    t = context.texts
    await context.dispatch.send(reply(t, update, t(CHOOSE_LANGUAGE), language_buttons()))


async def _choose_language(update: Update, context: Context, button: Button) -> str:
    """A language's button under /language: the chat reads it from now on, starting with the answer."""
    chat, message = update.effective_chat, update.effective_message
    assert chat is not None
    try:
        language = Language(button.arg or "")
    except ValueError:  # forged: no language of ours
        return context.texts(texts.STALE_BUTTON)
    await context.dispatch.set_language(chat.id, language)
    context.language = language
    t = context.texts
    if message is not None:  # the question becomes its answer, and its buttons go
        params = {"message_id": message.message_id, "text": t(LANGUAGE_SET)}
        await context.dispatch.send(Outgoing(message.chat_id, Delivery.EDIT, params))
    return t(LANGUAGE_SET)


# --- the rest ---


async def on_unknown_text(update: Update, context: Context) -> None:
    """Anything else a person sends."""
    t = context.texts
    await context.dispatch.send(reply(t, update, t(texts.NOT_UNDERSTOOD)))


async def on_error(update: object, context: Context) -> None:
    """A handler failed: its update is rolled back and tried again, then parked (bot.inbox)."""
    if not record_failure(context.error):
        log.error("a handler failed outside an update", exc_info=context.error)
