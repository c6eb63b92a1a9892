"""The outbox sender: makes queued deliveries as Bot API calls within Telegram's limits, surviving errors."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import time
import warnings
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from telegram import Bot, InputFile
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.warnings import PTBUserWarning

from dispatch.clock import Clock
from dispatch.exports import FILE_REF
from dispatch.outbox import Verdict, backoff_seconds, judge_bad_request, should_give_up
from storage.db import Database
from storage.records import Delivery, GivenUp, OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)

# PTB 22's documented opt-in to its next major version: retry_after as a timedelta, not an int.
os.environ.setdefault("PTB_TIMEDELTA", "true")
# The outbox makes every Bot API call by its method name; PTB would rather see its typed helpers.
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.", category=PTBUserWarning)

# The Bot API call that makes each kind of delivery: the domain says what to deliver, the bot
# decides how. Nowhere else is a method name chosen for an outbox row.
API_METHODS: dict[Delivery, str] = {
    Delivery.MESSAGE: "sendMessage",
    Delivery.EDIT: "editMessageText",
    Delivery.BUTTONS: "editMessageReplyMarkup",
    Delivery.PHOTO: "sendPhoto",
    Delivery.DOCUMENT: "sendDocument",
    Delivery.UPLOADING: "sendChatAction",
}
# Deliveries that put no message in the chat (a status such as "sending a file…"): the next
# message to the chat need not wait a second after them.
UNPACED = frozenset({Delivery.UPLOADING})
# Requests reach Telegram a little unevenly; this margin keeps a chat's spacing above its limit.
CHAT_SPACING_MARGIN = 0.05
RESCAN_SECONDS = 5.0
# Message ids of sent calls kept in memory for the edits that follow; older ones are read back.
MESSAGE_IDS_KEPT = 20_000
# A send that outlasts the request timeout is tried again, but its first call is still heard out
# this long: Telegram may have delivered it, and its late answer names a copy to edit later.
LATE_ANSWER_SECONDS = 120.0


@dataclass(frozen=True, slots=True)
class SenderLimits:
    """Telegram's limits and the sender's retry policy (see Settings)."""

    per_second: float = 30.0
    chat_interval: float = 1.0
    max_attempts: int = 8
    concurrency: int = 16


@dataclass(slots=True)
class SenderStats:
    """What the sender has done since it started."""

    sent: int = 0
    retried: int = 0
    too_many_requests: int = 0
    failed: int = 0
    unreachable_chats: int = 0
    latencies: dict[int, float] = field(default_factory=dict)


class FileGone(Exception):
    """The stored file a call uploads is no longer there."""


def _file_refs(payload: str) -> list[int]:
    """The stored files a queued call uploads (see dispatch.exports.queue_upload)."""
    if f'"{FILE_REF}"' not in payload:  # most calls upload nothing: no need to parse them
        return []
    params = json.loads(payload)
    return [
        int(value[FILE_REF]) for value in params.values() if isinstance(value, dict) and FILE_REF in value
    ]


async def _file_params(db: Database, params: dict[str, Any]) -> dict[str, Any]:
    """Turn file values back into uploads: {"file_ref": id, "filename": …} read from the files
    table now, or {"_file": name, "base64": …} as calls queued before it carried them."""
    decoded: dict[str, Any] = {}
    for name, value in params.items():
        if isinstance(value, dict) and FILE_REF in value:
            async with db.read() as tx:
                data = await tx.files.content(int(value[FILE_REF]))
            if data is None:
                raise FileGone(f"stored file {value[FILE_REF]} is gone")
            decoded[name] = InputFile(data, filename=str(value["filename"]), attach=True)
        elif isinstance(value, dict) and "_file" in value:
            data = base64.b64decode(value["base64"])
            decoded[name] = InputFile(data, filename=str(value["_file"]), attach=True)
        else:
            decoded[name] = value
    return decoded


def retry_after_seconds(error: RetryAfter) -> float:
    """How long Telegram asked to wait (an int, or a timedelta once PTB_TIMEDELTA is on)."""
    retry_after = error.retry_after
    return retry_after.total_seconds() if isinstance(retry_after, timedelta) else float(retry_after)


class OutboxSender:
    """One sender per database: picks the next due call (interactive lane first) and makes it.

    It paces calls evenly at `per_second`, keeps `chat_interval` between calls to one chat (and
    one call in flight per chat, so a chat sees its messages in order), and waits out every
    `retry_after` Telegram asks for, for the chat and for the whole bot.
    """

    def __init__(self, db: Database, bot: Bot, clock: Clock, limits: SenderLimits) -> None:
        self.db = db
        self.bot = bot
        self.clock = clock
        self.limits = limits
        self.stats = SenderStats()
        self._queue: dict[int, OutboxMessage] = {}
        self._loaded_up_to = 0
        self._in_flight: set[int] = set()
        self._flying_tags: Counter[str] = Counter()
        self._busy_chats: set[int] = set()
        self._chat_ready_at: dict[int, float] = {}
        self._unreachable: set[int] = set()
        # The message id each recent call was delivered as (None: given up), for the edits that
        # follow soon; older ones are read from the outbox.
        self._message_ids: OrderedDict[int, int | None] = OrderedDict()
        self._next_slot = 0.0
        self._paused_until = 0.0
        # The Bot API failing with network errors, timeouts or 5xx: everyone waits, step by step.
        self._outage_steps = 0
        self._outage_since = 0.0
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._late_answers: set[asyncio.Future[Any]] = set()
        self._runner: asyncio.Task[None] | None = None
        self._stopping = False
        self._last_rescan = 0.0
        self._fresh = True
        # Called when the last call with a tag (a broadcast's) is done; it then counts the outcome.
        self.on_settled: Callable[[str], Awaitable[None]] | None = None
        # Calls finished lately: a load that read them as pending just before they finished
        # must not queue them again.
        self._finished: dict[int, float] = {}

    # --- life cycle ---

    async def start(self, *, after_another: bool = False) -> None:
        """Load what is pending (from before a restart too, or left by another instance) and
        start draining.

        `after_another`: another instance was sending until a moment ago (or, by the outbox, one
        sent something within a chat interval). What it sent last, or had in flight when it
        died, reached its chats without a record here, so nothing is sent for one chat interval:
        no chat gets two messages within a second, and Telegram's per-bot rate is not exceeded
        across the handover.
        """
        self._queue.clear()  # what another instance sent meanwhile is read again below
        await self._load(full=True)
        self._stopping = False
        if after_another or await self._sent_lately():
            self._paused_until = max(
                self._paused_until, time.monotonic() + self.limits.chat_interval + CHAT_SPACING_MARGIN
            )
        self._runner = asyncio.create_task(self._run(), name="outbox-sender")

    async def _sent_lately(self) -> bool:
        """Whether a call went out within a chat interval: from a process that stopped or died a
        moment before this one started (it may have had more in flight)."""
        async with self.db.read() as tx:
            last = await tx.outbox.last_sent_at()
        interval = timedelta(seconds=self.limits.chat_interval + CHAT_SPACING_MARGIN)
        return last is not None and self.clock.now() - last < interval

    def wake(self) -> None:
        """New calls were committed: look for them now."""
        self._fresh = True
        self._wake.set()

    async def stop(self, grace: float = 5.0) -> None:
        """Stop taking calls, let those in flight finish; the rest wait for the next start."""
        self._stopping = True
        self._wake.set()
        if self._runner is not None:
            # Not cancelled: a task cancelled in the middle of a database call can leave its
            # connection checked out. It sees the flag once its current step is done.
            try:
                await asyncio.wait_for(asyncio.shield(self._runner), timeout=grace)
            except TimeoutError:
                self._runner.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._runner
            self._runner = None
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=grace)
        for late in list(self._late_answers):
            late.cancel()

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait until nothing is pending or in flight (for tests and tools)."""
        deadline = time.monotonic() + timeout
        while True:
            await self._load(full=True)
            if not self._queue and not self._in_flight:
                return
            self._idle.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"outbox still has {len(self._queue)} pending calls")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), min(remaining, 0.2))

    @property
    def pending(self) -> int:
        return len(self._queue)

    # --- picking ---

    async def _load(self, *, full: bool = False) -> None:
        """Read newly committed calls; a full scan also finds ones committed out of id order.

        On PostgreSQL transactions commit in any order, so a row can become visible after a row
        with a higher id: reading only past the highest id seen would skip it until the next
        rescan, and a later message to the same chat would overtake it. There every load reads
        all pending rows. SQLite has one writer, so its ids become visible in order.
        """
        after = 0 if full or not self.db.is_sqlite else self._loaded_up_to
        async with self.db.transaction() as tx:
            rows = await tx.outbox.pending(after_id=after, limit=100_000)
            # Read with the calls: a chat that wrote again is reachable again, whichever
            # instance applied what it wrote (Chats.seen).
            self._unreachable = await tx.chats.unreachable()
        horizon = time.monotonic() - 60.0
        self._finished = {key: at for key, at in self._finished.items() if at > horizon}
        if full:  # a chat whose interval has passed needs no entry
            now = time.monotonic()
            self._chat_ready_at = {chat: at for chat, at in self._chat_ready_at.items() if at > now}
        for row in rows:
            if row.id not in self._queue and row.id not in self._in_flight and row.id not in self._finished:
                self._queue[row.id] = row
            self._loaded_up_to = max(self._loaded_up_to, row.id)
        if full:
            self._last_rescan = time.monotonic()

    def _pick(self, now: float) -> tuple[OutboxMessage | None, float]:
        """The next call that may go now, and otherwise how long until one may."""
        wall = self.clock.now()
        soonest = RESCAN_SECONDS
        for row in sorted(self._queue.values(), key=lambda row: (row.lane, row.id)):
            if row.chat_id in self._busy_chats:
                continue
            if row.target_id is not None and (
                row.target_id in self._queue or row.target_id in self._in_flight
            ):
                continue
            wait = max(
                self._chat_ready_at.get(row.chat_id, 0.0) - now,
                (row.not_before - wall).total_seconds(),
            )
            if wait <= 0:
                return row, 0.0
            soonest = min(soonest, wait)
        return None, soonest

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            rescan = time.monotonic() - self._last_rescan > RESCAN_SECONDS
            if self._fresh or rescan:
                self._fresh = False
                await self._load(full=rescan)
            now = time.monotonic()
            # Take the next global slot first, then choose: an interactive call that arrived
            # while waiting for the slot goes before any bulk call.
            slot = max(now, self._next_slot, self._paused_until)
            if slot > now:
                await self._wait_for_wake(slot - now)
                continue
            if len(self._in_flight) >= self.limits.concurrency:
                await self._wait_for_wake(0.05)
                continue
            row, wait = self._pick(now)
            if row is None:
                if not self._queue and not self._in_flight:
                    self._idle.set()
                await self._wait_for_wake(wait)
                continue
            # Slots follow a fixed grid while busy, so the event loop's small lateness does not add
            # up over a long fan-out; after an idle spell the grid starts again from now.
            interval = 1.0 / self.limits.per_second
            self._next_slot = (self._next_slot if now - self._next_slot < interval else now) + interval
            self._begin(row, now)

    async def _wait_for_wake(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), max(0.001, timeout))

    def _begin(self, row: OutboxMessage, now: float) -> None:
        del self._queue[row.id]
        self._in_flight.add(row.id)
        self._busy_chats.add(row.chat_id)
        if row.tag is not None:
            self._flying_tags[row.tag] += 1
        task = asyncio.create_task(self._deliver(row), name=f"outbox-{row.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- sending ---

    async def _deliver(self, row: OutboxMessage) -> None:
        try:
            await self._attempt(row)
        except Exception:
            log.exception("outbox call %s (%s) failed unexpectedly", row.id, row.kind)
            await self._give_up(row, OutboxStatus.FAILED, "internal error", row.attempts + 1)
        finally:
            if row.id not in self._queue:
                self._finished[row.id] = time.monotonic()
            if row.kind not in UNPACED:
                # Counted from the answer, by when Telegram surely had the message: counted from
                # the request, a slow one and a quick one after it could land less than the
                # interval apart.
                ready = time.monotonic() + self.limits.chat_interval + CHAT_SPACING_MARGIN
                self._chat_ready_at[row.chat_id] = max(self._chat_ready_at.get(row.chat_id, 0.0), ready)
            self._in_flight.discard(row.id)
            self._busy_chats.discard(row.chat_id)
            self._wake.set()
            if row.tag is not None:
                self._flying_tags[row.tag] -= 1
            if row.tag is not None and self.on_settled is not None and not self._has_tag(row.tag):
                try:
                    await self.on_settled(row.tag)
                except Exception:
                    log.exception("reporting the end of %s failed", row.tag)

    def _has_tag(self, tag: str) -> bool:
        """Whether any call with this tag is still queued or in flight here."""
        return self._flying_tags[tag] > 0 or any(queued.tag == tag for queued in self._queue.values())

    async def _attempt(self, row: OutboxMessage) -> None:
        if row.chat_id in self._unreachable:
            await self._give_up(row, OutboxStatus.DROPPED, "chat unreachable", row.attempts)
            return
        try:
            params = await _file_params(self.db, json.loads(row.payload))
        except FileGone as error:
            await self._give_up(row, OutboxStatus.DROPPED, str(error), row.attempts)
            return
        params["chat_id"] = row.chat_id
        if row.target_id is not None:
            target = await self._target_message_id(row.target_id)
            if target is None:
                await self._give_up(
                    row, OutboxStatus.DROPPED, "the message to edit was never sent", row.attempts
                )
                return
            params["message_id"] = target
        attempts = row.attempts + 1
        try:
            result = await self._call(row, params)
        except RetryAfter as error:
            await self._retry_after(row, retry_after_seconds(error))
            return
        except Forbidden as error:
            await self._chat_unreachable(row, str(error), attempts)
            return
        except BadRequest as error:
            if judge_bad_request(error.message) is Verdict.SENT:
                await self._sent(row, params.get("message_id"), attempts)
            else:
                log.warning("Telegram refused outbox call %s (%s): %s", row.id, row.kind, error)
                await self._give_up(row, OutboxStatus.FAILED, error.message, attempts)
            return
        except NetworkError as error:  # includes timeouts and 5xx
            self._api_unreachable(error)
            await self._retry_later(row, attempts, f"{type(error).__name__}: {error}")
            return
        except TelegramError as error:
            log.warning("outbox call %s (%s) failed: %s", row.id, row.kind, error)
            await self._give_up(row, OutboxStatus.FAILED, str(error), attempts)
            return
        message_id = result.get("message_id") if isinstance(result, dict) else None
        await self._sent(row, message_id if message_id is not None else params.get("message_id"), attempts)
        if row.target_id is not None:
            await self._edit_copies(row, params)

    async def _call(self, row: OutboxMessage, params: dict[str, Any]) -> Any:
        """Make the call; a new message whose answer is late counts as timed out (and is sent
        again), while its first call is still heard out in the background."""
        method = API_METHODS[row.kind]
        if row.kind.is_edit:
            return await self.bot.do_api_request(method, api_kwargs=params)
        patience = self.bot.request.read_timeout or LATE_ANSWER_SECONDS
        call = asyncio.ensure_future(
            self.bot.do_api_request(method, api_kwargs=params, read_timeout=LATE_ANSWER_SECONDS)
        )
        done, _ = await asyncio.wait({call}, timeout=patience)
        if call in done:
            return call.result()
        self._late_answers.add(call)
        call.add_done_callback(lambda late: self._heard_late(row, late))
        raise TimedOut(f"no answer within {patience:g} s")

    def _heard_late(self, row: OutboxMessage, late: asyncio.Future[Any]) -> None:
        self._late_answers.discard(late)
        if late.cancelled() or late.exception() is not None:
            return  # it never reached Telegram, or said no: the retry stands alone
        result = late.result()
        message_id = result.get("message_id") if isinstance(result, dict) else None
        if message_id is not None and not self._stopping:
            task = asyncio.create_task(self._delivered_late(row, int(message_id)))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _delivered_late(self, row: OutboxMessage, message_id: int) -> None:
        """A timed-out send reached Telegram after all: the message, if its retry has not been
        sent yet, or else a second copy, which is edited as the first one was and will be."""
        now = self.clock.now()
        async with self.db.transaction(urgent=True) as tx:
            first = await tx.outbox.mark_sent(
                row.id, at=now, message_id=message_id, attempts=row.attempts + 1
            )
            if first:
                await tx.files.remove(_file_refs(row.payload))
            else:
                await tx.outbox.add_copy(row.id, message_id, now)
                edit = await tx.outbox.last_edit_of(row.id)
        if first:
            self._queue.pop(row.id, None)  # its retry is not needed
            self._remember(row.id, message_id)
            self.stats.sent += 1
            self._wake.set()
            return
        if edit is not None:
            try:
                params = await _file_params(self.db, json.loads(edit.payload))
            except FileGone:
                return  # an edit that uploads a file is done with it once it is made
            params.update(chat_id=edit.chat_id, message_id=message_id)
            await self._call_on_copy(edit.kind, params)

    async def _edit_copies(self, row: OutboxMessage, params: dict[str, Any]) -> None:
        """An edit reaches every further copy of its message too."""
        assert row.target_id is not None
        async with self.db.read() as tx:
            copies = await tx.outbox.copies_of(row.target_id)
        for message_id in copies:
            await self._call_on_copy(row.kind, {**params, "message_id": message_id})

    async def _call_on_copy(self, kind: Delivery, params: dict[str, Any]) -> None:
        # The copy's own message stands or falls with it: a failure here changes nothing else.
        try:
            await self.bot.do_api_request(API_METHODS[kind], api_kwargs=params)
        except TelegramError as error:
            log.info("editing a second copy (message %s) failed: %s", params.get("message_id"), error)

    def _api_unreachable(self, error: NetworkError) -> None:
        """Pause all sending for a backoff step; one warning per step, however many calls failed."""
        now = time.monotonic()
        if now < self._paused_until:
            return  # calls already in flight when the step began
        if self._outage_steps == 0:
            self._outage_since = now
        self._outage_steps += 1
        delay = backoff_seconds(self._outage_steps, cap=30.0)
        self._paused_until = now + delay
        log.warning(
            "Bot API unreachable (%s: %s); sending again in %.1f s", type(error).__name__, error, delay
        )

    def _api_reachable(self) -> None:
        if self._outage_steps:
            log.info("Bot API reachable again after %.1f s", time.monotonic() - self._outage_since)
            self._outage_steps = 0

    def _remember(self, outbox_id: int, message_id: int | None) -> None:
        self._message_ids[outbox_id] = message_id
        while len(self._message_ids) > MESSAGE_IDS_KEPT:
            self._message_ids.popitem(last=False)

    async def _target_message_id(self, target_id: int) -> int | None:
        if target_id in self._message_ids:
            return self._message_ids[target_id]
        async with self.db.transaction() as tx:
            target = await tx.outbox.by_id(target_id)
        return None if target is None else target.message_id

    async def _sent(self, row: OutboxMessage, message_id: int | None, attempts: int) -> None:
        self._api_reachable()
        # Urgent: until it commits, a crash would send the message again.
        async with self.db.transaction(urgent=True) as tx:
            first = await tx.outbox.mark_sent(
                row.id, at=self.clock.now(), message_id=message_id, attempts=attempts
            )
            if not first and message_id is not None and row.target_id is None:
                # A timed-out first call was heard late and took the row: this is a second copy.
                await tx.outbox.add_copy(row.id, message_id, self.clock.now())
            # Sent: the upload's stored file has served its purpose.
            await tx.files.remove(_file_refs(row.payload))
        if not first:
            return
        self._remember(row.id, message_id)
        self.stats.sent += 1
        self.stats.latencies[row.id] = (self.clock.now() - row.created_at).total_seconds()

    async def _retry_after(self, row: OutboxMessage, seconds: float) -> None:
        """429: Telegram says when to try again; nobody writes before then."""
        self.stats.too_many_requests += 1
        resume = time.monotonic() + seconds
        self._paused_until = max(self._paused_until, resume)
        self._chat_ready_at[row.chat_id] = max(self._chat_ready_at.get(row.chat_id, 0.0), resume)
        log.info("Telegram asked to wait %.0f s (outbox call %s)", seconds, row.id)
        self._queue[row.id] = row

    async def _retry_later(self, row: OutboxMessage, attempts: int, error: str) -> None:
        if should_give_up(attempts, self.limits.max_attempts):
            log.warning("outbox call %s gave up after %d attempts: %s", row.id, attempts, error)
            await self._give_up(row, OutboxStatus.FAILED, error, attempts)
            return
        not_before = self.clock.now() + timedelta(seconds=backoff_seconds(attempts))
        async with self.db.transaction() as tx:
            await tx.outbox.retry_later(row.id, attempts=attempts, not_before=not_before, error=error)
        self.stats.retried += 1
        self._queue[row.id] = replace(row, attempts=attempts, not_before=not_before)

    async def _chat_unreachable(self, row: OutboxMessage, error: str, attempts: int) -> None:
        """403: the person blocked the bot. Stop writing to the chat until they write again."""
        self._unreachable.add(row.chat_id)
        self.stats.unreachable_chats += 1
        dropped = [queued for queued in self._queue.values() if queued.chat_id == row.chat_id]
        async with self.db.transaction() as tx:
            await tx.chats.set_reachable(row.chat_id, False, self.clock.now())
            await tx.outbox.give_up(row.id, status=OutboxStatus.FAILED, attempts=attempts, error=error)
            await tx.files.remove(_file_refs(row.payload))
            for queued in dropped:
                await tx.outbox.give_up(
                    queued.id, status=OutboxStatus.DROPPED, attempts=queued.attempts, error="chat unreachable"
                )
                await tx.files.remove(_file_refs(queued.payload))
        for queued in dropped:
            self._queue.pop(queued.id, None)
            self._remember(queued.id, None)
        self._remember(row.id, None)
        self.stats.failed += 1

    async def _give_up(self, row: OutboxMessage, status: GivenUp, error: str, attempts: int) -> None:
        async with self.db.transaction() as tx:
            await tx.outbox.give_up(row.id, status=status, attempts=attempts, error=error)
            await tx.files.remove(_file_refs(row.payload))
        self._remember(row.id, None)
        self.stats.failed += 1
