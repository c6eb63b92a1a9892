"""Start-up: reach the database and introduce the bot to Telegram, waiting out what heals by itself."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

from alembic.util.exc import CommandError
from sqlalchemy.exc import DBAPIError
from telegram import BotCommand, BotCommandScopeChat
from telegram.error import BadRequest, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_delay,
    wait_exponential,
    wait_random,
)

from bot import commands
from bot.commands import Audience
from bot.config import ConfigError, DatabaseSettings, Settings
from bot.i18n import Words
from bot.sender import retry_after_seconds
from storage.db import Database
from storage.records import Language

log = logging.getLogger(__name__)

T = TypeVar("T")
AnyApplication = Application[Any, Any, Any, Any, Any, Any]

# Exponential from 0.5 s, capped, with up to half a second of jitter so restarted instances spread out.
BACKOFF = wait_exponential(multiplier=0.5, max=30) + wait_random(0, 0.5)
DATABASE_BACKOFF = wait_exponential(multiplier=0.5, max=5) + wait_random(0, 0.5)
# One attempt to connect may take this long even when less of the start-up allowance is left.
SHORTEST_CONNECT_ATTEMPT_SECONDS = 5.0
# PostgreSQL's answers that no waiting will change: no such database (3D000), bad login (class 28).
FINAL_SQLSTATES = ("3D000", "28")
# PTB's errors may quote the request URL, which carries the token after "/bot".
TOKEN_IN_URL = re.compile(r"bot\d+:[A-Za-z0-9_-]+")
# The command menus registered, by the language of the app they are for: English is the default
# (no language_code), which every other language not listed here gets too.
MENU_LANGUAGES: dict[Language, str | None] = {
    language: None if language is Language.EN else language.value for language in Language
}


def _for(code: str | None) -> str:
    """The language a menu is for, in a log line: nothing for the default one."""
    return f" ({code})" if code else ""


def _menu(audiences: tuple[Audience, ...], language: Language) -> list[BotCommand]:
    """A command menu (bot.commands) with its descriptions in one language."""
    return [BotCommand(name, about) for name, about in commands.menu(Words(language), audiences)]


class RejectedToken(Exception):
    """The Bot API does not know TELEGRAM_BOT_TOKEN (401 or 404 on getMe)."""

    def __init__(self) -> None:
        super().__init__("the Bot API rejected TELEGRAM_BOT_TOKEN")


def _heals_by_itself(error: BaseException) -> bool:
    # BadRequest is a NetworkError in PTB, but asking again gets the same answer.
    return isinstance(error, RetryAfter) or (
        isinstance(error, NetworkError) and not isinstance(error, BadRequest)
    )


def _telegram_wait(retry_state: RetryCallState) -> float:
    """Telegram's own retry_after on a 429; our backoff for everything else."""
    error = retry_state.outcome.exception() if retry_state.outcome is not None else None
    if isinstance(error, RetryAfter):
        return retry_after_seconds(error)
    return BACKOFF(retry_state)


def _telegram_reason(error: BaseException | None) -> str:
    if isinstance(error, RetryAfter):
        return "Too Many Requests"
    reason = error.message if isinstance(error, TelegramError) else str(error)
    return TOKEN_IN_URL.sub("bot<token>", reason.splitlines()[0] if reason else type(error).__name__)


def _log_retry(what: str, reason: Callable[[BaseException | None], str]) -> Callable[[RetryCallState], None]:
    def log_retry(retry_state: RetryCallState) -> None:
        error = retry_state.outcome.exception() if retry_state.outcome is not None else None
        log.warning("%s failed (%s); retrying in %.1f s", what, reason(error), retry_state.upcoming_sleep)

    return log_retry


async def call_bot_api(what: str, call: Callable[[], Awaitable[T]]) -> T:
    """Await `call` until it succeeds, retrying network errors, timeouts, 5xx and 429 with backoff.

    A rejected token raises RejectedToken; any other Bot API error is raised as it is. Cancelling
    the caller ends the wait at once.
    """
    retrying = AsyncRetrying(
        retry=retry_if_exception(_heals_by_itself),
        wait=_telegram_wait,
        before_sleep=_log_retry(what, _telegram_reason),
        reraise=True,
    )
    try:
        async for attempt in retrying:
            with attempt:
                result = await call()
    except InvalidToken:
        # PTB's message for it quotes the token.
        raise RejectedToken from None
    if attempt.retry_state.attempt_number > 1:
        log.info("%s succeeded after %d attempts", what, attempt.retry_state.attempt_number)
    return result


async def introduce(application: AnyApplication, settings: Settings, *, allowed_updates: list[str]) -> None:
    """Everything the bot tells Telegram before it takes updates: who it is, its menus, how it listens."""
    if not settings.admin_ids:
        log.warning("ADMIN_IDS is empty: nobody can approve drivers or run admin commands")
    await call_bot_api("getMe", application.initialize)
    bot = application.bot
    # Telegram shows the menu of the person's app language; anyone else's gets the default one.
    for language, code in MENU_LANGUAGES.items():
        menu = _menu(commands.EVERYONE_MENU, language)
        set_menu = partial(bot.set_my_commands, menu, language_code=code)
        await call_bot_api("setMyCommands" + _for(code), set_menu)
    for admin in sorted(settings.admin_ids):  # admins see their own menu
        try:
            for language, code in MENU_LANGUAGES.items():
                admin_menu = _menu(commands.ADMIN_MENU, language)
                set_admin_menu = partial(
                    bot.set_my_commands, admin_menu, scope=BotCommandScopeChat(admin), language_code=code
                )
                await call_bot_api(f"setMyCommands for admin {admin}" + _for(code), set_admin_menu)
        except BadRequest as error:  # an admin who never opened the chat
            log.warning("no admin menu for %s: %s", admin, error.message)
    if settings.webhook_url:
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
        await call_bot_api(
            "setWebhook",
            lambda: bot.set_webhook(
                url=settings.webhook_url,
                secret_token=secret,
                allowed_updates=allowed_updates,
                drop_pending_updates=False,
            ),
        )
    else:
        await call_bot_api("deleteWebhook", lambda: bot.delete_webhook(drop_pending_updates=False))


def _sqlstate(error: BaseException) -> str:
    """The PostgreSQL error code behind `error` (through SQLAlchemy's wrapping), "" if none."""
    cause: BaseException | None = error
    while cause is not None:
        sqlstate = getattr(cause, "sqlstate", None)
        if isinstance(sqlstate, str):
            return sqlstate
        cause = cause.__cause__
    return ""


def _is_unreachable(error: BaseException) -> bool:
    return isinstance(error, OSError | TimeoutError | DBAPIError)


def _is_final(error: BaseException) -> bool:
    return _sqlstate(error).startswith(FINAL_SQLSTATES)


def _database_reason(error: BaseException | None) -> str:
    if isinstance(error, TimeoutError):
        return "no answer"
    if isinstance(error, DBAPIError):
        error = error.orig
    reason = (error.strerror if isinstance(error, OSError) else None) or str(error)
    return reason.splitlines()[0] if reason else type(error).__name__


async def _reach(db: Database, deadline: float) -> None:
    """Open one connection, giving up at the deadline (or after the shortest attempt, if later)."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(max(deadline - loop.time(), SHORTEST_CONNECT_ATTEMPT_SECONDS)):
        async with db.engine.connect():
            pass


async def prepare_database(db: Database, settings: DatabaseSettings) -> None:
    """Wait up to DATABASE_CONNECT_TIMEOUT_SECONDS for the database to answer, then upgrade its schema."""
    await _reach_and_upgrade(db, settings.database_connect_timeout_seconds)


async def open_database(url: str, timeout_seconds: float) -> Database:
    """Connect to the database at `url` and upgrade it, waiting up to `timeout_seconds` for it to answer."""
    db = Database.connect(url)
    try:
        await _reach_and_upgrade(db, timeout_seconds)
    except BaseException:
        await db.close()
        raise
    return db


async def _reach_and_upgrade(db: Database, timeout: float) -> None:
    """Wait up to `timeout` seconds for the database to answer, then upgrade it.

    A ConfigError naming DATABASE_URL (password masked) says when it never answered, or at once
    when no waiting will help: no such database, a refused login, an SQLite file that cannot be
    opened.
    """
    url = db.engine.url
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout

    def worth_waiting_for(error: BaseException) -> bool:
        return _is_unreachable(error) and not _is_final(error) and not db.is_sqlite

    def until_the_deadline(retry_state: RetryCallState) -> float:
        return min(DATABASE_BACKOFF(retry_state), max(0.0, deadline - loop.time()))

    retrying = AsyncRetrying(
        retry=retry_if_exception(worth_waiting_for),
        stop=stop_after_delay(timeout),
        wait=until_the_deadline,
        before_sleep=_log_retry("connecting to the database", _database_reason),
        reraise=True,
    )
    try:
        async for attempt in retrying:
            with attempt:
                await _reach(db, deadline)
    except (OSError, TimeoutError, DBAPIError) as error:
        reason = _database_reason(error)
        if url.password:
            reason = reason.replace(str(url.password), "***")
        shown = url.render_as_string(hide_password=True)
        raise ConfigError(f"cannot reach the database at DATABASE_URL={shown}: {reason}") from None
    try:
        await db.upgrade()
    except CommandError as error:  # its schema names a migration this version does not have
        shown = url.render_as_string(hide_password=True)
        raise ConfigError(
            f"the database at DATABASE_URL={shown} cannot be upgraded ({error}); "
            "a newer storerun made it: run that version, or roll the database back (README: Upgrades)"
        ) from None
