"""The drivers' routes (their private chat only): signing up, going online, their day, their
offers, and every button of an offer's copy and job card; presses answered as they arrive."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot import keyboards, texts
from bot.callbacks import Act, Button, pattern
from bot.chat import Context, chat_key, in_every_language, in_private_chat, reads, reply
from bot.i18n import N_
from bot.inbox import ArrivalAnswer, arrived_at
from bot.routes.guards import App, Handler, buttons, private_chat_only
from dispatch.drivers import Availability, Enrollment
from dispatch.offers import Code
from dispatch.views import FailReason
from storage.records import Account, Prompt

if TYPE_CHECKING:
    from bot.texts import Catalog
    from dispatch.dispatcher import Dispatch
    from storage.repos import Transaction

# Translators: stands for the area's name when it is gone: "Got it: your area. Share your phone…"
YOUR_AREA = N_("your area")


# --- commands ---


@private_chat_only
async def welcome_new_driver(update: Update, context: Context) -> None:
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


async def answer_as_driver(update: Update, context: Context, text: str) -> bool:
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


async def answers_at_once(
    dispatch: Dispatch, catalog: Catalog, tx: Transaction, presses: Sequence[tuple[Update, datetime]]
) -> dict[int, ArrivalAnswer]:
    """The answers, by update id, that what is committed gives to presses as they arrive, before
    they take their turn to be applied (bot.inbox): a forged or stale button, an Accept that cannot
    win (final: nothing changes), an Accept collected in an award window (answered now, recorded in
    its turn). A press not answered here goes to its button route (press). Each answer is in the
    language of the chat it was pressed in (read once for them all: a rush is a thousand presses)."""
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
    Accepts collected in an award window, as the button route (press) would have, one by one."""
    accepts: dict[datetime, set[tuple[int, int]]] = {}
    for update, arrived in presses:
        query = update.callback_query
        button = Button.parse(query.data) if query is not None else None
        if query is not None and button is not None and button.act is Act.ACCEPT:
            accepts.setdefault(arrived, set()).add((button.subject, query.from_user.id))
    for arrived, accepted in accepts.items():
        await dispatch.offers.enter_all(tx, accepted, arrived)


ACTS = (
    Act.AREA,
    Act.ONLINE,
    Act.OFFLINE,
    Act.ACCEPT,
    Act.DECLINE,
    Act.WHY_NOT,
    Act.PICKUP,
    Act.RELEASE,
    Act.DELIVERED,
    Act.CANT_DELIVER,
    Act.REASON,
)


async def press(button: Button, update: Update, context: Context) -> str | None:
    """A driver's button: an offer's copy, a job card, going online, the area to drive in."""
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
        case Act.ONLINE | Act.OFFLINE:
            return await _set_online(update, context, button.act is Act.ONLINE)
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


ROUTES: dict[str, Handler] = {
    "status": on_status,
    "online": on_online,
    "offline": on_offline,
    "myoffers": on_my_offers,
}


def register(application: App) -> None:
    """The drivers' commands and buttons (their shared phone and proof photos come with the
    messages everyone sends: bot.routes.everyone.register_last)."""
    for name, route in ROUTES.items():
        application.add_handler(CommandHandler(name, route))
    application.add_handler(CallbackQueryHandler(buttons(press), pattern=pattern(*ACTS)))
