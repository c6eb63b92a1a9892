"""What every route shares: the handler context, a text reply, and where a person is writing from."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import CallbackContext, ExtBot

from bot import texts
from dispatch.outbox import Delivery, Outgoing

if TYPE_CHECKING:
    from bot.app import StorerunBot
    from dispatch.dispatcher import Dispatch


class Context(
    CallbackContext[ExtBot[None], dict[object, object], dict[object, object], dict[object, object]]
):
    """The handler context, carrying the running storerun bot (and so every service)."""

    @property
    def storerun(self) -> StorerunBot:
        return cast("StorerunBot", self.application.bot_data["storerun"])

    @property
    def dispatch(self) -> Dispatch:
        return self.storerun.dispatch


def reply(update: Update, text: str, markup: dict[str, object] | None = None) -> Outgoing:
    """A text answer to the chat an update came from."""
    assert update.effective_chat is not None
    if len(text) > texts.MESSAGE_LIMIT:  # Telegram refuses longer messages; a long trail or list is cut
        text = text[: texts.MESSAGE_LIMIT - 40].rsplit("\n", 1)[0] + "\n… (cut: too long for one message)"
    params: dict[str, object] = {"text": text}
    if markup is not None:
        params["reply_markup"] = markup
    return Outgoing(chat_id=update.effective_chat.id, delivery=Delivery.MESSAGE, params=params)


def in_private_chat(update: Update) -> bool:
    """Whether the update comes from the person's own chat with the bot, not from a group."""
    return update.effective_chat is not None and update.effective_chat.type == ChatType.PRIVATE


def private_chat_please(context: Context, *, admin: bool = False) -> str:
    """The answer to a driver's (or an admin's) step taken outside their private chat."""
    return (texts.ADMIN_IN_PRIVATE if admin else texts.DRIVERS_IN_PRIVATE).format(bot=context.bot.username)
