"""Everyone's routes: every update's first look, /start and /help, /language, /fairness and /why,
typed text (handed to whichever role asked for it), and whatever nobody expects."""

from __future__ import annotations

import logging

from babel import Locale
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, TypeHandler, filters

from bot import texts
from bot.callbacks import Act, Button, pattern
from bot.chat import Context, chat_key, in_private_chat, private_chat_please, reads, reply
from bot.i18n import LOCALES, N_
from bot.inbox import answer_query, record_failure
from bot.routes import drivers, stores
from bot.routes.guards import App, Handler, buttons, one_id, roles_here
from dispatch.outbox import Delivery, Outgoing
from storage.records import Language

log = logging.getLogger(__name__)

CHOOSE_LANGUAGE = N_("Which language should I write to you in?")
# Translators: the answer to choosing this catalog's language under /language: name your language.
LANGUAGE_SET = N_("Now I'll write to you in English.")


# --- every update ---


async def on_any_update(update: Update, context: Context) -> None:
    """What the chat reads is looked up here once for every handler of the update (Context.texts).
    (That whoever writes is reachable again is recorded with the update: Chats.seen.)"""
    async with context.dispatch.db.read() as tx:
        context.language = reads(update, await tx.chats.language(chat_key(update)))


# --- commands ---


async def on_start(update: Update, context: Context) -> None:
    """/start: a stranger is welcomed and offered the areas; everyone else gets their help."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return
    if context.args:  # opened from a deep link: a store's invite, which may link a group too
        await stores.redeem_invite(update, context, context.args[0])
        return
    person = await roles_here(update, context)
    if not person.is_unknown:
        t = context.texts
        await context.dispatch.send(reply(t, update, texts.help_for(t, person, user.first_name)))
        return
    await drivers.welcome_new_driver(update, context)


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


async def on_fairness(update: Update, context: Context) -> None:
    """/fairness: each area's award window and fairness order, the same for everyone."""
    user = update.effective_user
    if user is None:
        return
    areas, t = await context.dispatch.fairness.areas(user.id), context.texts
    await context.dispatch.send(reply(t, update, texts.fairness(t, areas)))


async def on_why(update: Update, context: Context) -> None:
    """/why ID: an admin sees every copy of the offer and the award; a driver, why not them."""
    user = update.effective_user
    if user is None:
        return
    offer_id = await one_id(update, context, "why")
    if offer_id is None:
        return
    fairness, t = context.dispatch.fairness, context.texts
    if user.id in context.dispatch.admin_ids:
        explanation = await fairness.explain(offer_id)
        text = (
            t(texts.NO_SUCH_OFFER_ID, id=offer_id)
            if explanation is None
            else texts.explanation(t, explanation)
        )
    else:
        text = texts.why_not(t, await fairness.why_not(offer_id, user.id))
    await context.dispatch.send(reply(t, update, text))


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


async def choose_language(button: Button, update: Update, context: Context) -> str | None:
    """A language's button under /language: the chat reads it from now on, starting with the
    answer, which is given before the database work (it depends only on the button)."""
    chat, message, query = update.effective_chat, update.effective_message, update.callback_query
    assert chat is not None and query is not None
    try:
        language = Language(button.arg or "")
    except ValueError:  # forged: no language of ours
        return context.texts(texts.STALE_BUTTON)
    context.language = language
    t = context.texts
    answer_query(query, t(LANGUAGE_SET), at_once=True)
    await context.dispatch.set_language(chat.id, language)
    if message is not None:  # the question becomes its answer, and its buttons go
        params = {"message_id": message.message_id, "text": t(LANGUAGE_SET)}
        await context.dispatch.send(Outgoing(message.chat_id, Delivery.EDIT, params))
    return None


# --- typed text and the rest ---


async def on_text(update: Update, context: Context) -> None:
    """Typed text: the answer to what the bot asked (a driver's phone or pickup code, a step of a
    store's order), or a pointer to /help."""
    message, user, chat = update.effective_message, update.effective_user, update.effective_chat
    if message is None or message.text is None or user is None or chat is None:
        return
    if in_private_chat(update) and await drivers.answer_as_driver(update, context, message.text):
        return

    if await stores.answer_step(update, context, message.text):
        return
    t = context.texts
    if not in_private_chat(update) and (await context.dispatch.who_is(user.id, chat.id)).driver:
        # A driver typing a pickup code or a phone where others read it: nothing is taken.
        await context.dispatch.send(reply(t, update, private_chat_please(t, context)))
        return
    await context.dispatch.send(reply(t, update, t(texts.NOT_UNDERSTOOD)))


async def on_unknown_text(update: Update, context: Context) -> None:
    """Anything else a person sends."""
    t = context.texts
    await context.dispatch.send(reply(t, update, t(texts.NOT_UNDERSTOOD)))


async def on_error(update: object, context: Context) -> None:
    """A handler failed: its update is rolled back and tried again, then parked (bot.inbox)."""
    if not record_failure(context.error):
        log.error("a handler failed outside an update", exc_info=context.error)


async def on_stale_button(update: Update, context: Context) -> None:
    """A button no role routes: malformed, forged, or of an older version of the bot."""
    if update.callback_query is not None:
        answer_query(update.callback_query, context.texts(texts.STALE_BUTTON), at_once=True)


ROUTES: dict[str, Handler] = {
    "start": on_start,
    "help": on_help,
    "language": on_language,
    "fairness": on_fairness,
    "why": on_why,
}


def register(application: App) -> None:
    """Everyone's commands, the language buttons, and the routes of messages."""
    application.add_handler(TypeHandler(Update, on_any_update), group=-1)
    for name, route in ROUTES.items():
        application.add_handler(CommandHandler(name, route))
    application.add_handler(
        CallbackQueryHandler(buttons(choose_language, private=False), pattern=pattern(Act.LANGUAGE))
    )


def register_last(application: App) -> None:
    """What is left once every role's routes had their turn: typed text, and the unexpected."""
    fresh = ~filters.UpdateType.EDITED
    application.add_handler(MessageHandler(filters.CONTACT & fresh, drivers.on_contact))
    application.add_handler(MessageHandler(filters.PHOTO & fresh, drivers.on_photo))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND & fresh, on_text))
    application.add_handler(MessageHandler(filters.ALL & fresh, on_unknown_text))
    application.add_handler(CallbackQueryHandler(on_stale_button))
    application.add_error_handler(on_error)
