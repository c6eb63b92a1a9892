"""What the routes of every role share: who may act where, a command's arguments and usage, and
how a pressed button is routed, answered and refused."""

from __future__ import annotations

import shlex
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from functools import wraps
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.ext import Application

from bot import commands, texts
from bot.callbacks import Button
from bot.chat import Context, in_private_chat, private_chat_please, reply
from bot.inbox import answer_query

if TYPE_CHECKING:
    from dispatch.dispatcher import Person

Handler = Callable[[Update, Context], Coroutine[Any, Any, None]]
App = Application[Any, Any, Any, Any, Any, Any]
# Carries out a pressed button; returns its short answer, or None when it answered at once itself.
Press = Callable[[Button, Update, Context], Awaitable[str | None]]


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


def admin_only(handler: Handler) -> Handler:
    """Everyone else gets "not allowed" and nothing happens. An admin in a group is pointed to
    their private chat: phones, pickup codes and exports are not for everyone there."""

    @wraps(handler)
    async def guarded(update: Update, context: Context) -> None:
        user, t = update.effective_user, context.texts
        if user is None or user.id not in context.dispatch.admin_ids:
            await context.dispatch.send(reply(t, update, t(texts.NOT_ALLOWED)))
            return
        if not in_private_chat(update):
            await context.dispatch.send(reply(t, update, private_chat_please(t, context, admin=True)))
            return
        await handler(update, context)

    return guarded


def buttons(press: Press, *, private: bool = True, admin: bool = False) -> Handler:
    """A role's button route (matched by its acts' pattern): a malformed or forged button, or one
    pressed in a group that belongs in a private chat, is answered at once and changes nothing."""

    async def route(update: Update, context: Context) -> None:
        query = update.callback_query
        if query is None or update.effective_user is None or update.effective_chat is None:
            return
        button, t = Button.parse(query.data), context.texts
        if button is None:
            answer_query(query, t(texts.STALE_BUTTON), at_once=True)
            return
        if private and not in_private_chat(update):
            answer_query(query, private_chat_please(t, context, admin=admin), at_once=True)
            return
        answer = await press(button, update, context)
        if answer is not None:
            answer_query(query, answer)

    route.__name__ = route.__qualname__ = getattr(press, "__name__", "buttons")
    return route


async def roles_here(update: Update, context: Context) -> Person:
    """Who is writing, with the roles that count in this chat: in a group, only store staff."""
    assert update.effective_user is not None and update.effective_chat is not None
    person = await context.dispatch.who_is(update.effective_user.id, update.effective_chat.id)
    return person if in_private_chat(update) else replace(person, driver=None, is_admin=False)


def arguments(update: Update) -> str:
    """What follows the command on its line (`/newoffer store=… pay=…`)."""
    text = update.effective_message.text if update.effective_message else None
    return (text or "").partition(" ")[2].strip()


def words(update: Update) -> list[str]:
    """The command's arguments, quotes respected; a malformed quote gives no arguments."""
    try:
        return shlex.split(arguments(update))
    except ValueError:
        return ["\x00"]  # never a valid argument: the command answers with its correct form


async def usage(update: Update, context: Context, command: str) -> None:
    """The command's correct form (bot.commands), as the answer to a wrong one."""
    t = context.texts
    await context.dispatch.send(reply(t, update, t(texts.WRONG_FORM, usage=commands.usage(t, command))))


def number(value: str) -> int | None:
    value = value.lstrip("#")
    return int(value) if value.isdigit() and len(value) < 16 else None


async def one_id(update: Update, context: Context, command: str) -> int | None:
    """The single ID the command takes; otherwise its correct form is the answer, and None."""
    given = words(update)
    found = number(given[0]) if len(given) == 1 else None
    if found is None:
        await usage(update, context, command)
    return found
