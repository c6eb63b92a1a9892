"""Telegram handlers: each parses an update, calls one domain operation, and renders the answer."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, cast

from telegram import Update
from telegram.ext import ApplicationHandlerStop, CallbackContext, ExtBot

from bot import texts
from dispatch.outbox import Outgoing

if TYPE_CHECKING:
    from bot.app import StorerunBot

log = logging.getLogger(__name__)


class Context(
    CallbackContext[ExtBot[None], dict[object, object], dict[object, object], dict[object, object]]
):
    """The handler context, carrying the running storerun bot (and so every service)."""

    @property
    def storerun(self) -> StorerunBot:
        return cast("StorerunBot", self.application.bot_data["storerun"])


def reply(update: Update, text: str) -> Outgoing:
    """A plain text answer to the chat an update came from."""
    assert update.effective_chat is not None
    return Outgoing(chat_id=update.effective_chat.id, method="sendMessage", params={"text": text})


async def on_any_update(update: Update, context: Context) -> None:
    """Apply each update once: a repeated update id stops here and changes nothing."""
    chat_id = update.effective_chat.id if update.effective_chat else None
    if not await context.storerun.dispatch.first_sight(update.update_id, chat_id):
        log.info("update %s was already applied; ignored", update.update_id)
        raise ApplicationHandlerStop
    if chat_id is not None:
        context.storerun.sender.chat_reachable_again(chat_id)


async def on_help(update: Update, context: Context) -> None:
    """/start and /help: tell the person what they can do, by their roles."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return
    person = await context.storerun.dispatch.who_is(user.id, chat.id)
    await context.storerun.dispatch.send(reply(update, texts.help_for(person, user.first_name)))


async def on_unknown_text(update: Update, context: Context) -> None:
    """Anything typed that no journey expects."""
    await context.storerun.dispatch.send(reply(update, texts.NOT_UNDERSTOOD))


async def on_stale_button(update: Update, context: Context) -> None:
    """A button no handler knows: an old message, or data that was tampered with."""
    if update.callback_query is not None:
        await update.callback_query.answer(texts.STALE_BUTTON)


async def on_error(update: object, context: Context) -> None:
    """Log the failure with its traceback; tell the person briefly, without details."""
    log.error("handling update failed", exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            if update.callback_query is not None:
                await update.callback_query.answer(texts.SOMETHING_WENT_WRONG)
            else:
                await context.storerun.dispatch.send(reply(update, texts.SOMETHING_WENT_WRONG))
        except Exception:
            log.exception("could not tell the person about the failure")
