"""What every route shares: the handler context, a text reply, and where a person is writing from."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, cast

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import CallbackContext, ExtBot

from bot import texts
from bot.i18n import N_, Words, language_of
from dispatch.outbox import Delivery, Outgoing
from storage.records import Language

if TYPE_CHECKING:
    from bot.app import StorerunBot
    from bot.texts import Texts
    from dispatch.dispatcher import Dispatch

CUT = N_("… (cut: too long for one message)")


class Context(
    CallbackContext[ExtBot[None], dict[object, object], dict[object, object], dict[object, object]]
):
    """The handler context, carrying the running storerun bot (and so every service)."""

    # What the chat of the update being handled reads: found once per update, before any other
    # handler runs (routes.everyone.on_any_update); PTB hands every handler of an update the same context.
    language: Language = Language.EN

    @property
    def storerun(self) -> StorerunBot:
        return cast("StorerunBot", self.application.bot_data["storerun"])

    @property
    def dispatch(self) -> Dispatch:
        return self.storerun.dispatch

    @property
    def texts(self) -> Texts:
        """The words of the chat the update comes from."""
        return self.storerun.catalog(self.language)


def chat_key(update: Update) -> int:
    """The chat an update belongs to (else its sender's, 0 if neither): the inbox applies a chat's
    updates in turn, and a chat reads one language."""
    chat, user = update.effective_chat, update.effective_user
    return chat.id if chat is not None else user.id if user is not None else 0


def reads(update: Update, stored: Language | None) -> Language:
    """What the person behind an update reads: what their chat reads, or, for a chat not seen
    before, the language of their Telegram app."""
    if stored is not None:
        return stored
    user = update.effective_user
    return language_of(user.language_code if user is not None else None)


@functools.cache
def in_every_language(message: str) -> frozenset[str]:
    """A catalog message (a button's label) as every language shows it: typed text is matched
    against all of them, whatever the chat reads now."""
    return frozenset(Words(language)(message) for language in Language)


def reply(t: Words, update: Update, text: str, markup: dict[str, object] | None = None) -> Outgoing:
    """A text answer to the chat an update came from."""
    assert update.effective_chat is not None
    if len(text) > texts.MESSAGE_LIMIT:  # Telegram refuses longer messages; a long trail or list is cut
        cut = "\n" + t(CUT)
        text = text[: texts.MESSAGE_LIMIT - len(cut)].rsplit("\n", 1)[0] + cut
    params: dict[str, object] = {"text": text}
    if markup is not None:
        params["reply_markup"] = markup
    return Outgoing(chat_id=update.effective_chat.id, delivery=Delivery.MESSAGE, params=params)


def in_private_chat(update: Update) -> bool:
    """Whether the update comes from the person's own chat with the bot, not from a group."""
    return update.effective_chat is not None and update.effective_chat.type == ChatType.PRIVATE


def private_chat_please(t: Words, context: Context, *, admin: bool = False) -> str:
    """The answer to a driver's (or an admin's) step taken outside their private chat."""
    return t(texts.ADMIN_IN_PRIVATE if admin else texts.DRIVERS_IN_PRIVATE, bot=context.bot.username)
