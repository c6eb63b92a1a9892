"""Wiring: the database, the outbox sender and python-telegram-bot, started and stopped together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from datetime import datetime, timedelta
from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ContextTypes,
    ExtBot,
)

from bot import routes
from bot.chat import Context
from bot.config import ConfigError, Settings
from bot.exports_worker import ExportWorker
from bot.inbox import ALLOWED_UPDATES, POLL_TIMEOUT_SECONDS, InboxLimits, InboxWorker, Poller
from bot.leader import DatabaseInUse, Duties, Leadership, LeaderTiming, leadership_for
from bot.metrics import CountingRequest, Metrics, Snapshot
from bot.routes import drivers
from bot.sender import OutboxSender
from bot.startup import introduce, prepare_database
from bot.texts import Catalog
from bot.web import HttpServer, ListenError, Webhook, build_http_app
from dispatch.clock import Clock, SystemClock
from dispatch.deadlines import deadlines_of
from dispatch.dispatcher import Dispatch
from dispatch.outbox import Lane
from dispatch.retention import Pruned, Purged, prune_history, purge_personal_data
from dispatch.timers import Timers
from storage.db import Database, PoolSize, Wake

log = logging.getLogger(__name__)

# Personal data is kept for days (PERSONAL_DATA_DAYS): an hourly look is exact enough.
PURGE_EVERY_SECONDS = 3600.0
# History is kept for days too (RETENTION_DAYS), and a prune is a long job: once a day.
PRUNE_EVERY = timedelta(days=1)


StorerunApplication = Application[
    ExtBot[None],
    Context,
    dict[object, object],
    dict[object, object],
    dict[object, object],
    None,
]


def build_application(settings: Settings, metrics: Metrics | None = None) -> StorerunApplication:
    """python-telegram-bot's application, pointed at TELEGRAM_API_URL, with every handler.

    It fetches nothing itself (no Updater): updates come from the inbox (bot.inbox), and every
    Bot API call is counted in `metrics`.
    """
    api = settings.telegram_api_url
    metrics = metrics or Metrics()
    timeout = settings.request_timeout_seconds
    timeouts = {"connect_timeout": timeout, "read_timeout": timeout, "write_timeout": timeout}
    application = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .context_types(ContextTypes(context=Context))
        .request(CountingRequest(metrics, connection_pool_size=64, pool_timeout=timeout, **timeouts))
        .get_updates_request(
            CountingRequest(
                metrics, pool_timeout=timeout, **{**timeouts, "read_timeout": POLL_TIMEOUT_SECONDS + timeout}
            )
        )
        .updater(None)
        .job_queue(None)
        .build()
    )
    routes.register(application)
    return application


class StorerunBot:
    """The running bot: owns the database, the dispatch domain, the inbox, the outbox sender and PTB."""

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        timing = settings.timing()
        self.metrics = Metrics()
        self.db = Database.connect(
            settings.database_url, PoolSize(settings.database_pool_size, settings.database_max_overflow)
        )
        self.application = build_application(settings, self.metrics)
        self.sender = OutboxSender(
            self.db,
            self.application.bot,
            self.clock,
            settings.sender_limits(),
        )
        # On a clock that tests move by hand, timers fire when told to (Timers.fire_due).
        self.timers = Timers(
            self.clock,
            timing,
            follow_wall_clock=isinstance(self.clock, SystemClock),
            on_fired=self.metrics.deadline_fired,
        )
        # Every language's words, each made once: the domain renders what it queues in the
        # reader's language with them, and the handlers answer with them (Context.texts).
        self.catalog = Catalog(self.clock)
        self.dispatch = Dispatch(
            self.db,
            self.clock,
            self.catalog,
            rules=settings.rules(timing),
            admin_ids=settings.admin_ids,
            on_commit=self.sender.wake,
            deadlines=self.timers,
        )
        self.timers.bind(self.dispatch)
        self.sender.on_settled = self.dispatch.admin.outbox_settled
        self.inbox = InboxWorker(
            self.db,
            self.clock,
            self.application,
            self.dispatch,
            self.metrics,
            InboxLimits(
                # A batch of updates (of different chats) shares one transaction, each in its own
                # savepoint: the claim, the done marks and the commit are paid once per batch, and
                # presses that what is committed settles are answered with one query for all.
                # SQLite has one writer: one worker. PostgreSQL runs batches in parallel.
                concurrency=1 if self.db.is_sqlite else max(1, settings.inbox_concurrency // 4),
                batch=4 * settings.inbox_concurrency,
                max_attempts=settings.inbox_max_attempts,
                retention=timedelta(seconds=settings.inbox_retention_seconds),
                lease=timedelta(seconds=settings.inbox_lease_seconds),
            ),
            answers_at_once=lambda tx, presses: drivers.answers_at_once(
                self.dispatch, self.catalog, tx, presses
            ),
            applies_at_once=lambda tx, presses: drivers.applies_at_once(self.dispatch, tx, presses),
        )
        self.exports = ExportWorker(self.dispatch)
        self.poller = (
            None
            if settings.webhook_url
            else Poller(self.application.bot, self.inbox, request_timeout=settings.request_timeout_seconds)
        )
        # Of all the instances on the database, the leader sends, keeps the time, builds the
        # exports and polls; every instance applies updates.
        self.leadership: Leadership = leadership_for(
            self.db.engine.url,
            LeaderTiming(takeover=timedelta(seconds=settings.leader_takeover_seconds)),
            Duties(begin=self._lead, end=self._stop_leading, look=self._look),
            self.metrics,
        )
        self.http: HttpServer | None = HttpServer() if settings.http_listen else None
        self.application.bot_data["storerun"] = self
        self._stop_requested = asyncio.Event()
        self._stopped = False
        self._purging: asyncio.Task[None] | None = None
        self._stop_purging = asyncio.Event()
        self._pruned_at: datetime | None = None

    @property
    def mode(self) -> str:
        return "webhook" if self.settings.webhook_url else "polling"

    async def start(self) -> None:
        """Ready the database, serve HTTP, introduce the bot to Telegram, then take updates.

        Each step that talks to the database or the Bot API retries until it succeeds (or the
        start is cancelled); the inbox applies what was left from before a restart first.
        """
        self.claim_database()
        await prepare_database(self.db, self.settings)
        if self.http is not None:
            await self._serve_http()
        await introduce(self.application, self.settings, allowed_updates=ALLOWED_UPDATES)
        await self.leadership.start()
        await self.inbox.start()
        if self.settings.personal_data_days or self.settings.retention_days:
            self._purging = asyncio.create_task(self._housekeeping_every_hour(), name="housekeeping")
        log.info(
            "storerun is running as @%s (%s, %s)",
            self.application.bot.username,
            self.mode,
            "leading" if self.leadership.is_leader else "following",
        )

    def claim_database(self) -> None:
        """Make sure this process may use the database (SQLite: no other process is on it)."""
        try:
            self.leadership.claim()
        except DatabaseInUse as error:
            raise ConfigError(f"DATABASE_URL: {error}") from None

    async def _lead(self, after_another: bool) -> None:
        """Elected: send what is pending, fire the deadlines due, build exports, poll."""
        await self.sender.start(after_another=after_another)
        await self.dispatch.admin.settle_unreported()
        await self.timers.start()
        await self.exports.start()
        if self.poller is not None:
            await self.poller.start()

    async def _stop_leading(self) -> None:
        """No longer the leader (stopping, or the lock lost): another instance does all this now."""
        if self.poller is not None:
            await self.poller.stop()
        await self.exports.stop()
        await self.timers.stop()
        await self.sender.stop()

    def _look(self, wake: Wake) -> None:
        """A commit (here or on another instance) asked the leader to look at the outbox or at
        offers whose deadlines moved."""
        if wake.outbox:
            self.sender.wake()
        if wake.all_offers:
            self.timers.heard(None)
        elif wake.offer_ids:
            self.timers.heard(wake.offer_ids)

    async def _serve_http(self) -> None:
        assert self.http is not None
        webhook = None
        if self.settings.webhook_url:
            assert self.settings.webhook_secret is not None
            webhook = Webhook(
                path=self.settings.webhook_path,
                secret=self.settings.webhook_secret.get_secret_value(),
                receive=self._receive_one,
            )
        app = build_http_app(
            metrics=self.metrics,
            snapshot=self.snapshot,
            mode=self.mode,
            webhook=webhook,
            leading=lambda: self.leadership.is_leader,
        )
        host, port = self.settings.http_address
        try:
            await self.http.start(app, host, port)
        except ListenError as error:
            raise ConfigError(f"HTTP_LISTEN: {error}") from None

    async def _receive_one(self, payload: dict[str, Any]) -> None:
        await self.inbox.arrive(Update.de_json(payload, self.application.bot))

    async def snapshot(self) -> Snapshot:
        """What the database says now: backlogs and offers, for /healthz and /metrics."""
        now = self.clock.now()
        async with self.db.read() as tx:
            inbox = await tx.inbox.backlog()
            outbox = await tx.outbox.backlog()
            offers = await tx.offers.count_by_status()
            live = await tx.offers.with_deadlines()
        timing = self.dispatch.rules.timing
        oldest = min((at for _, at in outbox.values() if at is not None), default=None)

        def age(at: datetime | None) -> float | None:
            return None if at is None else max(0.0, (now - at).total_seconds())

        return Snapshot(
            inbox_pending=inbox.pending,
            inbox_parked=inbox.parked,
            outbox_pending={Lane(lane).name.lower(): count for lane, (count, _) in outbox.items()},
            outbox_oldest_pending_seconds=age(oldest),
            offers=offers,
            deadlines_pending=sum(len(deadlines_of(offer, timing)) for offer in live),
            last_update_age_seconds=age(inbox.last_received_at),
        )

    async def purge_personal_data(self) -> Purged | None:
        """Forget the personal data older than PERSONAL_DATA_DAYS (None: it is 0, kept for good)."""
        days = self.settings.personal_data_days
        if not days:
            return None
        purged = await purge_personal_data(self.db, now=self.clock.now(), keep=timedelta(days=days))
        if purged.total:
            log.info("forgot personal data older than %d days: %s", days, purged)
        return purged

    async def prune_history(self) -> Pruned | None:
        """Delete the messages sent longer than RETENTION_DAYS ago that nothing needs any more, if
        the last prune was a day ago or more (None: not due, or RETENTION_DAYS is 0)."""
        days = self.settings.retention_days
        now = self.clock.now()
        if not days or (self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY):
            return None
        pruned = await prune_history(
            self.db, now=now, keep=timedelta(days=days), stopping=self._stop_purging.is_set
        )
        self._pruned_at = now
        log.info("pruned history older than %d days: %s", days, pruned)
        return pruned

    async def housekeeping(self) -> None:
        """One round: the personal-data purge, and the history prune when a day has passed; a
        step that fails (the database away for a moment) is tried again next round."""
        for name, step in (
            ("purge personal data", self.purge_personal_data),
            ("prune history", self.prune_history),
        ):
            try:
                await step()
            except Exception as error:
                first_line = (str(error).splitlines() or [""])[0][:200]
                log.warning("could not %s (%s: %s)", name, type(error).__name__, first_line)

    async def _housekeeping_every_hour(self) -> None:
        """Housekeeping at start and every hour after, until the bot stops (by the leader only:
        one instance's purge is enough)."""
        while not self._stop_purging.is_set():
            if self.leadership.is_leader:
                await self.housekeeping()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_purging.wait(), PURGE_EVERY_SECONDS)

    async def stop(self) -> None:
        """Stop taking updates, finish those being applied, stop sending; the rest waits for a restart.

        Stopping twice, or a bot whose start failed half way, is fine.
        """
        if self._stopped:
            return
        self._stopped = True
        if self.poller is not None:
            await self.poller.stop()
        if self.http is not None:
            await self.http.stop()
        await self.inbox.stop()
        if self._purging is not None:
            # Not cancelled: a purge under way finishes, so its connection goes back to the pool.
            self._stop_purging.set()
            await self._purging
        await self.leadership.stop()
        await self.application.shutdown()
        await self.db.close()
        log.info("storerun stopped")

    def request_stop(self) -> None:
        self._stop_requested.set()

    async def run_until_stopped(self) -> None:
        """Run until SIGINT or SIGTERM (or request_stop), then stop cleanly, even while starting."""
        self.claim_database()  # before anything starts: a refused start has nothing to stop
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.request_stop)
        starting = asyncio.create_task(self.start(), name="start")
        stopping = asyncio.create_task(self._stop_requested.wait(), name="stop-requested")
        try:
            await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if starting.done():
                starting.result()  # a start that failed raises here
                await stopping
            else:
                log.info("stop requested while starting")
                starting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await starting
        finally:
            stopping.cancel()
            await self.stop()
