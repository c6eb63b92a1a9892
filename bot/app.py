"""Wiring: the database, the outbox sender and python-telegram-bot, started and stopped together."""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import timedelta

from telegram import BotCommand, BotCommandScopeChat, Update
from telegram.error import BadRequest
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ExtBot,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import admin_commands, handlers, store_commands, texts
from bot.config import Settings
from bot.handlers import Context
from bot.sender import OutboxSender, SenderLimits
from bot.texts import TelegramMessages
from dispatch.clock import Clock, SystemClock
from dispatch.deadlines import Timing
from dispatch.dispatcher import Dispatch, Rules
from dispatch.timers import Timers
from storage.db import Database

log = logging.getLogger(__name__)

POLL_TIMEOUT_SECONDS = 10
MAX_CONCURRENT_UPDATES = 64

StorerunApplication = Application[
    ExtBot[None],
    Context,
    dict[object, object],
    dict[object, object],
    dict[object, object],
    None,
]


def build_application(settings: Settings) -> StorerunApplication:
    """python-telegram-bot's application, pointed at TELEGRAM_API_URL, with every handler."""
    api = settings.telegram_api_url
    application = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .context_types(ContextTypes(context=Context))
        .concurrent_updates(MAX_CONCURRENT_UPDATES)
        .read_timeout(settings.request_timeout_seconds)
        .write_timeout(settings.request_timeout_seconds)
        .connect_timeout(settings.request_timeout_seconds)
        .pool_timeout(settings.request_timeout_seconds)
        .get_updates_read_timeout(POLL_TIMEOUT_SECONDS + settings.request_timeout_seconds)
        .job_queue(None)
        .build()
    )
    application.add_handler(TypeHandler(Update, handlers.on_any_update), group=-1)
    commands = {
        "start": handlers.on_start,
        "help": handlers.on_help,
        "online": handlers.on_online,
        "offline": handlers.on_offline,
        "status": handlers.on_status,
        "myoffers": handlers.on_my_offers,
        "newoffer": handlers.on_new_offer,
        "neworder": store_commands.on_new_order,
        "orders": store_commands.on_orders,
        "unlink": store_commands.on_unlink,
        "drivers": admin_commands.on_drivers,
        "driver": admin_commands.on_driver,
        "approve": admin_commands.on_approve,
        "reject": admin_commands.on_reject,
        "suspend": admin_commands.on_suspend,
        "reinstate": admin_commands.on_reinstate,
        "areas": admin_commands.on_areas,
        "area": admin_commands.on_area,
        "stores": admin_commands.on_stores,
        "addstore": admin_commands.on_add_store,
        "invite": admin_commands.on_invite,
        "offers": admin_commands.on_offers,
        "offer": admin_commands.on_offer,
        "cancel": admin_commands.on_cancel,
        "reopen": admin_commands.on_reopen,
        "stats": admin_commands.on_stats,
        "export": admin_commands.on_export,
        "broadcast": admin_commands.on_broadcast,
    }
    for name, callback in commands.items():
        application.add_handler(CommandHandler(name, callback))
    application.add_handler(CallbackQueryHandler(handlers.on_button))
    fresh = ~filters.UpdateType.EDITED
    application.add_handler(MessageHandler(filters.CONTACT & fresh, handlers.on_contact))
    application.add_handler(MessageHandler(filters.PHOTO & fresh, handlers.on_photo))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND & fresh, handlers.on_text))
    application.add_handler(MessageHandler(filters.ALL & fresh, handlers.on_unknown_text))
    application.add_error_handler(handlers.on_error)
    return application


class StorerunBot:
    """The running bot: owns the database, the dispatch domain, the outbox sender and PTB."""

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        timing = Timing(
            pickup_reminder_lead=timedelta(seconds=settings.pickup_reminder_lead_seconds),
            no_show_grace=timedelta(seconds=settings.no_show_grace_seconds),
            delivery_reminder_lead=timedelta(seconds=settings.delivery_reminder_lead_seconds),
        )
        self.db = Database.connect(settings.database_url)
        self.application = build_application(settings)
        self.sender = OutboxSender(
            self.db,
            self.application.bot,
            self.clock,
            SenderLimits(
                per_second=settings.outbox_rate_per_second,
                chat_interval=settings.outbox_chat_interval_seconds,
                max_attempts=settings.outbox_max_attempts,
                concurrency=settings.outbox_concurrency,
            ),
        )
        # On a clock that tests move by hand, timers fire when told to (Timers.fire_due).
        self.timers = Timers(self.clock, timing, follow_wall_clock=isinstance(self.clock, SystemClock))
        self.dispatch = Dispatch(
            self.db,
            self.clock,
            TelegramMessages(),
            rules=Rules(
                wave_size=settings.wave_size,
                wave_interval=timedelta(seconds=settings.wave_interval_seconds),
                acceptance_window=timedelta(seconds=settings.acceptance_window_seconds),
                max_offers_held=settings.max_offers_held,
                auto_offline_after=settings.auto_offline_after_timeouts,
                invite_ttl=timedelta(seconds=settings.invite_ttl_seconds),
                timing=timing,
            ),
            admin_ids=settings.admin_ids,
            on_commit=self.sender.wake,
            deadlines=self.timers,
        )
        self.timers.bind(self.dispatch)
        self.sender.on_settled = self.dispatch.admin.outbox_settled
        self.application.bot_data["storerun"] = self
        self._stop_requested = asyncio.Event()

    async def start(self) -> None:
        """Upgrade the database, register commands, start sending and polling."""
        await self.db.upgrade()
        await self.application.initialize()
        bot = self.application.bot
        await bot.set_my_commands([BotCommand(name, about) for name, about in texts.COMMANDS])
        for admin in sorted(self.settings.admin_ids):  # admins see their own menu
            menu = [BotCommand(name, about) for name, about in texts.ADMIN_MENU]
            try:
                await bot.set_my_commands(menu, scope=BotCommandScopeChat(admin))
            except BadRequest as error:  # an admin who never opened the chat
                log.warning("no admin menu for %s: %s", admin, error.message)
        await self.sender.start()
        await self.dispatch.admin.settle_unreported()
        await self.timers.start()
        await self.application.start()
        assert self.application.updater is not None
        await self.application.updater.start_polling(
            poll_interval=0,
            timeout=POLL_TIMEOUT_SECONDS,
            allowed_updates=[Update.MESSAGE, Update.CALLBACK_QUERY],
            drop_pending_updates=False,
        )
        log.info("storerun is running as @%s", self.application.bot.username)

    async def stop(self) -> None:
        """Stop fetching, finish each fetched update, stop sending; unsent calls wait for a restart."""
        assert self.application.updater is not None
        if self.application.updater.running:
            await self.application.updater.stop()
        if self.application.running:
            await self.application.stop()
        self.timers.stop()
        await self.sender.stop()
        await self.application.shutdown()
        await self.db.close()
        log.info("storerun stopped")

    def request_stop(self) -> None:
        self._stop_requested.set()

    async def run_until_stopped(self) -> None:
        """Run until SIGINT or SIGTERM (or request_stop), then stop cleanly."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.request_stop)
        await self.start()
        try:
            await self._stop_requested.wait()
        finally:
            await self.stop()
