"""The durable inbox: every update is stored before Telegram hears it arrived, then applied once.

Polling stores each fetched batch and only then confirms it with the next getUpdates offset; the
webhook answers 200 only after the update is stored. Workers then claim stored updates (row locks,
so several processes can share the table; at most one update per chat at a time) and apply each
in one transaction with the mark that it is done: after a crash anywhere, every update is applied
exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from telegram import CallbackQuery, Update, User
from telegram.error import BadRequest, Conflict, RetryAfter, TelegramError

from bot import texts
from bot.chat import chat_key, reads
from bot.i18n import Words
from bot.sender import retry_after_seconds
from dispatch.clock import Clock
from dispatch.outbox import Delivery, Outgoing, backoff_seconds, enqueue
from storage.db import Database
from storage.records import InboxUpdate, Language
from storage.repos import InboxEntry, Transaction

if TYPE_CHECKING:
    from telegram import Bot
    from telegram.ext import Application

    from bot.metrics import Metrics
    from dispatch.dispatcher import Dispatch

log = logging.getLogger(__name__)

# The kinds of update storerun handles; Telegram sends no others (getUpdates and setWebhook).
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]
POLL_TIMEOUT_SECONDS = 10
IDLE_LOOK_SECONDS = 0.5  # how often an idle worker looks for updates due again (retries, other instances)
PRUNE_EVERY_SECONDS = 3600.0
# How long a stored press waits for the receiving side to settle it before the workers may take it
# (the settling makes it due at once either way, within milliseconds; this only bounds a settling
# that never ends: the instance that stored the press died, and an award window that closed
# meanwhile waits for the press this long at most).
SETTLE_HOLD = timedelta(seconds=1)
# Webhook arrivals stored in one transaction at most (as many as getUpdates hands out at once).
ARRIVALS_AT_ONCE = 100


def _update_id(update: Update) -> int:
    return update.update_id


def kind_of(payload: dict[str, Any]) -> str:
    """What an update is, for the metrics: command, message, callback_query, …"""
    kind = next((name for name in payload if name != "update_id"), "unknown")
    if kind == "message":
        text = payload["message"].get("text") if isinstance(payload["message"], dict) else None
        if isinstance(text, str) and text.startswith("/"):
            return "command"
    return kind[:24]


def entry_of(update: Update) -> InboxEntry:
    """The inbox row of one update: ordered within its chat (else its sender)."""
    payload = update.to_dict()
    return InboxEntry(
        update_id=update.update_id,
        chat_key=chat_key(update),
        kind=kind_of(payload),
        payload=json.dumps(payload, separators=(",", ":")),
    )


def _first_names(users: Iterable[User | None]) -> dict[int, str]:
    """The first name of each of these users (the offer trail names people by it)."""
    return {user.id: user.first_name for user in users if user is not None}


def _first_languages(updates: Iterable[Update]) -> dict[int, Language]:
    """The language each chat writing in these updates reads if it is new: its Telegram app's."""
    return {key: reads(update, None) for update in updates if (key := chat_key(update))}


@dataclass(slots=True)
class _Applying:
    """What applying one update produced besides its committed effects."""

    error: BaseException | None = None
    answers: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    received_at: datetime | None = None
    # Answers a press at once (InboxWorker._answer); set while an update is applied by a worker.
    answer_now: Callable[[str, str], None] | None = None
    answered: bool = False  # the press was answered at once: nothing is answered after the commit


_applying: ContextVar[_Applying | None] = ContextVar("storerun_applying", default=None)


def answer_query(query: CallbackQuery, text: str, *, at_once: bool = False) -> None:
    """Answer a pressed button once its effects have committed, so the answer never promises
    what a rollback undid; if the answer is lost, the edited message still shows the effect.
    An answer that does not depend on the work (`at_once`) goes before the work: the spinner stops
    without waiting for the database."""
    applying = _applying.get()
    if applying is None:
        raise RuntimeError("a button was answered outside an update being applied")
    if at_once and applying.answer_now is not None and not applying.answered:
        applying.answered = True
        applying.answer_now(query.id, text)
        return
    applying.answers.append((query.id, text))


def arrived_at() -> datetime | None:
    """When the update being applied reached the bot (a press counts from then, not from its turn)."""
    applying = _applying.get()
    return None if applying is None else applying.received_at


def record_failure(error: BaseException | None) -> bool:
    """Note that the update being applied failed (its transaction is then rolled back and retried).

    Returns False when no update is being applied, so the caller handles the error itself.
    """
    applying = _applying.get()
    if applying is None:
        return False
    applying.error = error or RuntimeError("handler failed")
    return True


@dataclass(frozen=True, slots=True)
class ArrivalAnswer:
    """The answer to a press that what is committed already gives. `final`: the press changes
    nothing, so answering it is applying it; else it is still applied in its turn, and that turn
    answers nothing more (an Accept collected in an award window: "you're in")."""

    text: str
    final: bool = True


# The answers, by update id, to the button presses among these updates (each with when it arrived)
# that what is committed already gives (an Accept on an offer someone else took, a forged button,
# an Accept in an award window); a press only applying it can answer is left out.
AnswersAtOnce = Callable[
    [Transaction, Sequence[tuple[Update, datetime]]], Awaitable[dict[int, ArrivalAnswer]]
]
# Applies, in bulk and in the given transaction, presses (each with when it arrived) that were
# answered on arrival with a non-final answer: their effects, as their handler would have had them.
AppliesAtOnce = Callable[[Transaction, Sequence[tuple[Update, datetime]]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class InboxLimits:
    """How many updates are applied at once, how often one is tried, and how long done rows stay."""

    concurrency: int = 16
    max_attempts: int = 5
    retention: timedelta = timedelta(days=7)
    # Updates (of different chats) applied in one transaction: on SQLite, where writers take
    # turns, a batch spares a turn per update; on PostgreSQL updates go in parallel instead.
    batch: int = 1
    # How long an update claimed by an instance that went silent stays claimed (PostgreSQL).
    lease: timedelta = timedelta(seconds=30)


class InboxWorker:
    """Stores arriving updates and applies stored ones, oldest first per chat, chats in parallel."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        application: Application[Any, Any, Any, Any, Any, Any],
        dispatch: Dispatch,
        metrics: Metrics,
        limits: InboxLimits,
        answers_at_once: AnswersAtOnce | None = None,
        applies_at_once: AppliesAtOnce | None = None,
    ) -> None:
        self.db = db
        self.answers_at_once = answers_at_once
        self.applies_at_once = applies_at_once
        self.clock = clock
        self.application = application
        self.dispatch = dispatch
        self.metrics = metrics
        self.limits = limits
        self._wake = asyncio.Event()
        self._fresh = True
        self._stopping = False
        self._runner: asyncio.Task[None] | None = None
        self._workers: set[asyncio.Task[None]] = set()
        self._answers: set[asyncio.Task[None]] = set()
        self._settling: set[asyncio.Task[None]] = set()
        self._pruned_at = -math.inf  # monotonic time starts at boot: prune at once, not an hour after it
        # Webhook arrivals waiting to be stored together (see arrive), and the task storing them.
        self._arrivals: list[tuple[Update, asyncio.Future[None]]] = []
        self._storing: asyncio.Task[None] | None = None

    # --- arriving ---

    async def arrive(self, update: Update) -> None:
        """Store one update from the webhook; returns once it is committed (then Telegram may be
        told it arrived). Updates that arrive while a store is being committed are stored
        together in the next one: in a rush every POST does not pay a transaction of its own,
        and a lone update waits for no one."""
        stored: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._arrivals.append((update, stored))
        if self._storing is None or self._storing.done():
            self._storing = asyncio.create_task(self._store_arrivals(), name="inbox-arrivals")
        await stored

    async def _store_arrivals(self) -> None:
        while self._arrivals:
            batch, self._arrivals = self._arrivals[:ARRIVALS_AT_ONCE], self._arrivals[ARRIVALS_AT_ONCE:]
            # One update sent again while its first POST waits here is stored once.
            updates = sorted({update.update_id: update for update, _ in batch}.values(), key=_update_id)
            try:
                await self.receive(updates)
            except asyncio.CancelledError:
                for _, stored in batch:
                    stored.cancel()
                raise
            except Exception as error:
                for _, stored in batch:
                    if not stored.done():
                        stored.set_exception(error)
                        stored.exception()  # a POST that went away meanwhile needs no telling
            else:
                for _, stored in batch:
                    if not stored.done():
                        stored.set_result(None)

    async def receive(self, updates: Sequence[Update]) -> int:
        """Store updates (each new update_id once) and commit; returns how many were new.

        Then, without holding up the next updates, the presses among them that change nothing and
        whose answer what is committed already settles are answered and marked done (see
        _settle): in a rush of a thousand Accepts on one offer, all but the first few are told it
        was taken without waiting for their turn to be applied. Until then the workers leave the
        presses alone (they are stored held, for at most SETTLE_HOLD, should the settling never end).
        """
        entries = [entry_of(update) for update in updates]
        presses = [
            (entry, update)
            for entry, update in zip(entries, updates, strict=True)
            if update.callback_query is not None and self.answers_at_once is not None and not self._stopping
        ]
        now = self.clock.now()
        held = {entry.update_id for entry, _ in presses}
        # Urgent: storing what Telegram already sent is short, and confirming it waits on it.
        async with self.db.transaction(urgent=True) as tx:
            stored = set(await tx.inbox.store(entries, now, hold=held, until=now + SETTLE_HOLD))
        for entry in entries:
            self.metrics.update_received(entry.kind)
        presses = [(entry, update) for entry, update in presses if entry.update_id in stored]
        if presses:
            task = asyncio.create_task(self._settle(presses, now), name="inbox-settle")
            self._settling.add(task)
            task.add_done_callback(self._settling.discard)
        if len(presses) < len(stored):
            self.wake()  # the rest are the workers' now; the presses once settled
        return len(stored)

    async def _settle(self, presses: Sequence[tuple[InboxEntry, Update]], at: datetime) -> None:
        """Answer the stored presses whose answer what is committed gives, mark done those that
        change nothing, and hand the others to the workers.

        Applying a press that changes nothing is a read, so it is applied here, as it arrives: the
        answers are read without the write lock, then the presses are marked done if they are
        still pending and first in their chat (an earlier update of the chat still waiting could
        change what the press finds). A press answered here that does change something (an Accept
        collected in an award window) is answered at once, and applied in its turn.
        """
        try:
            answers = await self._answers_at_once(presses, at)
            for entry, update in presses:
                answer = answers.get(entry.update_id)
                if answer is not None and not answer.final:
                    assert update.callback_query is not None
                    self._answer(update.callback_query.id, answer.text)
            await self._settled_at_once(presses, answers, at)
        except Exception as error:  # nothing is lost: the workers apply them once their hold ends
            log.warning("inbox: presses not answered on arrival (%s); applying them in turn", _short(error))
        finally:
            self.wake()

    async def _answers_at_once(
        self, presses: Sequence[tuple[InboxEntry, Update]], at: datetime
    ) -> dict[int, ArrivalAnswer]:
        """The answers, by update id, that what is committed gives, for presses first in their chat."""
        assert self.answers_at_once is not None
        async with self.db.read() as tx:
            first = await tx.inbox.first_in_chat([entry.update_id for entry, _ in presses])
            return await self.answers_at_once(
                tx, [(update, at) for entry, update in presses if entry.update_id in first]
            )

    async def _settled_at_once(
        self, presses: Sequence[tuple[InboxEntry, Update]], answers: dict[int, ArrivalAnswer], at: datetime
    ) -> None:
        """Mark done those answered, still pending and first in their chat: a press that changes
        nothing is done once answered (it is answered now, after the commit); one answered already
        that changes something (an Accept collected in a window) is applied here with the others
        of its kind, in bulk (applies_at_once), in the same transaction as its done mark. The rest
        are due for the workers now (those already answered marked so)."""
        now = self.clock.now()
        final = [update_id for update_id, answer in answers.items() if answer.final]
        answered = [update_id for update_id, answer in answers.items() if not answer.final]
        bulk = answered if self.applies_at_once is not None else []
        async with self.db.transaction(urgent=True) as tx:
            done = set(await tx.inbox.settle([*final, *bulk], now)) if final or bulk else set()
            applied = [
                (update, at)
                for entry, update in presses
                if entry.update_id in done and entry.update_id in bulk
            ]
            if applied:
                assert self.applies_at_once is not None
                await self.applies_at_once(tx, applied)
            await tx.inbox.release(
                [entry.update_id for entry, _ in presses if entry.update_id not in done],
                now,
                answered=answered,
            )
            settled = [(entry, update) for entry, update in presses if entry.update_id in done]
            await tx.chats.seen(_first_languages(update for _, update in settled), now)
            await tx.people.seen(_first_names(update.effective_user for _, update in settled), now)
        for entry, update in settled:
            assert update.callback_query is not None
            self.metrics.update_applied(entry.kind, 0.0)
            if answers[entry.update_id].final:
                self._answer(update.callback_query.id, answers[entry.update_id].text)

    def wake(self) -> None:
        """Updates were stored: look for them now."""
        self._fresh = True
        self._wake.set()

    # --- life cycle ---

    async def start(self) -> None:
        """Start applying: whatever was left from before a restart comes first (oldest ids first)."""
        self._stopping = False
        self._fresh = True
        self._runner = asyncio.create_task(self._run(), name="inbox")

    async def stop(self, grace: float = 10.0) -> None:
        """Stop claiming; updates being applied finish, the rest wait in the inbox for the next start."""
        self._stopping = True
        self._wake.set()
        if self._runner is not None:
            # Not cancelled: a task cancelled in the middle of a database call can leave its
            # connection checked out. It sees the flag at its next wake (set just above).
            await self._runner
            self._runner = None
        if self._settling:
            await asyncio.wait(self._settling, timeout=grace)
        if self._workers:
            await asyncio.wait(self._workers, timeout=grace)
        if self._answers:
            await asyncio.wait(self._answers, timeout=2.0)

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait until no stored update is pending (for tests and tools)."""
        deadline = time.monotonic() + timeout
        while True:
            async with self.db.read() as tx:
                backlog = await tx.inbox.backlog()
            if backlog.pending == 0 and not self._workers:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"inbox still has {backlog.pending} pending updates")
            await asyncio.sleep(0.02)

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                free = self.limits.concurrency - len(self._workers)
                if free > 0 and (self._fresh or await self._due()):
                    self._fresh = False
                    for _ in range(free):
                        self._spawn()
                if time.monotonic() - self._pruned_at > PRUNE_EVERY_SECONDS:
                    await self._prune()
            except Exception as error:  # the database is unreachable for a moment: look again soon
                log.warning("inbox: cannot read the database (%s); looking again soon", _short(error))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), IDLE_LOOK_SECONDS)

    async def _due(self) -> bool:
        async with self.db.read() as tx:
            return await tx.inbox.has_due(self.clock.now())

    def _spawn(self) -> None:
        task = asyncio.create_task(self._work(), name="inbox-worker")
        self._workers.add(task)
        task.add_done_callback(self._worker_done)

    def _worker_done(self, task: asyncio.Task[None]) -> None:
        self._workers.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("inbox worker ended: %s", _short(task.exception()))

    async def _work(self) -> None:
        """Apply claimable updates until none is left for this worker."""
        while not self._stopping and await self._apply_next():
            pass

    async def _prune(self) -> None:
        self._pruned_at = time.monotonic()
        async with self.db.transaction() as tx:
            pruned = await tx.inbox.prune(self.clock.now() - self.limits.retention)
        if pruned:
            log.info("inbox: forgot %d updates applied over %s ago", pruned, self.limits.retention)

    # --- applying ---

    async def _apply_next(self) -> bool:
        """Claim a batch of updates (one per chat) and apply each, with their done marks, in one
        transaction; False if none was due.

        Each update runs in its own savepoint: one that fails is rolled back alone, and its retry
        (or parking) is written in the same transaction, still holding the claim, so nobody can
        claim it again in between. A batch makes one SQLite write lock serve many updates.
        """
        results: list[tuple[InboxUpdate, Update, _Applying, bool]] = []
        async with self.db.unit() as tx:
            if self._stopping:  # it waited for the database while the bot began to stop
                return False
            rows = await tx.inbox.claim(self.clock.now(), limit=self.limits.batch, lease=self.limits.lease)
            updates = [Update.de_json(json.loads(row.payload), self.application.bot) for row in rows]
            # Whoever wrote has not blocked the bot (any longer), whatever their update does; a
            # chat seen for the first time reads the language of the writer's Telegram app.
            await tx.chats.seen(_first_languages(updates), self.clock.now())
            await tx.people.seen(_first_names(update.effective_user for update in updates), self.clock.now())
            remaining = list(zip(rows, updates, strict=True))
            while remaining:
                # Presses that what is now known settles need no handler (see _settle); asked
                # again after each update applied, which may have settled the rest (the winner
                # of a rush: everyone else in the batch has lost).
                answers = await self._answers_in(tx, remaining)
                for row, update in remaining:
                    if update.update_id in answers:
                        assert update.callback_query is not None
                        answer = (update.callback_query.id, answers[update.update_id])
                        results.append((row, update, _Applying(answers=[answer]), False))
                remaining = [(row, update) for row, update in remaining if update.update_id not in answers]
                if not remaining:
                    break
                (row, update), *remaining = remaining
                applying = await self._apply(tx, update, row.received_at)
                parked = False
                if applying.error is not None:
                    parked = await self._failed(row, update, applying.error)
                results.append((row, update, applying, parked))
            done = [row.update_id for row, _, applying, _ in results if applying.error is None]
            if done:
                await tx.inbox.mark_done(done, self.clock.now())
        for row, update, applying, parked in results:
            self._settled(row, update, applying, parked)
        return bool(results)

    async def _answers_in(
        self, tx: Transaction, updates: Sequence[tuple[InboxUpdate, Update]]
    ) -> dict[int, str]:
        """The final answers that what is now known gives to presses among these updates."""
        presses = [(update, row.received_at) for row, update in updates if update.callback_query is not None]
        if self.answers_at_once is None or not presses:
            return {}
        answers = await self.answers_at_once(tx, presses)
        return {update_id: answer.text for update_id, answer in answers.items() if answer.final}

    async def _apply(self, tx: Transaction, update: Update, received_at: datetime) -> _Applying:
        """Run the handlers of one update inside a savepoint; a failure rolls back only its writes."""
        applying = _Applying(received_at=received_at, answer_now=self._answer)
        started = time.perf_counter()
        waiting = len(tx.after_commit)
        savepoint = await tx.connection.begin_nested()
        token = _applying.set(applying)
        try:
            await self.application.process_update(update)
        finally:
            _applying.reset(token)
        if applying.error is None:
            await savepoint.commit()
        else:
            await savepoint.rollback()
            del tx.after_commit[waiting:]  # nothing of the failed try is left to follow up
        applying.seconds = time.perf_counter() - started
        return applying

    def _settled(self, row: InboxUpdate, update: Update, applying: _Applying, parked: bool) -> None:
        """After the commit: answers, metrics and the one log line of a parked update."""
        if applying.error is None:
            self.metrics.update_applied(row.kind, applying.seconds)
            # A press is answered once: not again if it was as it arrived, or at once by its handler.
            if row.answered_at is None and not applying.answered:
                for query_id, text in applying.answers:
                    self._answer(query_id, text)
        elif parked:
            log.error(
                "update %s parked after %d failed tries",
                row.update_id,
                row.attempts + 1,
                exc_info=applying.error,
            )
            self.metrics.update_parked(row.kind)
            if update.callback_query is not None and not applying.answered:
                self._answer(update.callback_query.id, "")  # stops the spinner; the message says the rest

    def _answer(self, query_id: str, text: str) -> None:
        """Answer a press (Telegram shows at most 200 characters of it)."""
        task = asyncio.create_task(self._send_answer(query_id, text[:200]), name="answer-callback-query")
        self._answers.add(task)
        task.add_done_callback(self._answers.discard)

    async def _send_answer(self, query_id: str, text: str) -> None:
        """Answer a press after its effects committed; a lost answer only leaves a spinner turning."""
        try:
            await self.application.bot.answer_callback_query(query_id, text=text or None)
        except BadRequest as error:  # too old (the update waited, or came back after a restart)
            log.info("a button press was applied but not answered: %s", error.message)
        except TelegramError as error:
            # Not a warning: the press stands, and an unreachable Bot API is the sender's to report
            # (one warning per backoff step), not once per press.
            log.info("a button press was applied but its answer failed: %s", _short(error))

    async def _failed(self, row: InboxUpdate, update: Update, error: BaseException) -> bool:
        """In the claiming transaction: try again after a backoff, or park it; True if parked."""
        attempts = row.attempts + 1
        now = self.clock.now()
        if attempts < self.limits.max_attempts:
            delay = backoff_seconds(attempts)
            log.warning(
                "update %s failed (%s); try %d of %d in %.1f s",
                row.update_id,
                _short(error),
                attempts + 1,
                self.limits.max_attempts,
                delay,
            )
            async with self.db.transaction() as tx:
                await tx.inbox.retry_later(
                    row.update_id,
                    attempts=attempts,
                    next_attempt_at=now + timedelta(seconds=delay),
                    error=_short(error),
                )
            return False
        async with self.dispatch.transaction() as tx:
            await tx.inbox.park(row.update_id, attempts=attempts, error=_short(error), at=now)
            if update.effective_chat is not None:
                language = reads(update, await tx.chats.language(update.effective_chat.id))
                sorry = {"text": Words(language)(texts.SOMETHING_WENT_WRONG)}
                await enqueue(tx, Outgoing(update.effective_chat.id, Delivery.MESSAGE, sorry), now)
        return True


def _short(error: BaseException | None) -> str:
    """An error in one line: its kind and message, no traceback."""
    if error is None:
        return "unknown error"
    message = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {message}"[:300] if message else type(error).__name__


class Poller:
    """Long-polls getUpdates; each batch is stored before the next call's offset confirms it."""

    def __init__(self, bot: Bot, inbox: InboxWorker, *, request_timeout: float) -> None:
        self.bot = bot
        self.inbox = inbox
        self.request_timeout = request_timeout
        self._offset: int | None = None
        self._runner: asyncio.Task[None] | None = None
        self._fetch: asyncio.Task[tuple[Update, ...]] | None = None
        self._stopping = False
        self._pause = asyncio.Event()  # set to cut a wait short when stopping

    async def start(self) -> None:
        """Poll (again, after a stop: an instance that leads again)."""
        self._stopping = False
        self._pause.clear()
        self._runner = asyncio.create_task(self._run(), name="poller")

    async def stop(self) -> None:
        """Stop polling; stored updates are confirmed so Telegram does not hand them out again.

        Only a waiting getUpdates is cancelled, never the storing of a fetched batch: that one
        finishes, so its connection goes back to the pool and the batch is not fetched twice.
        """
        if self._runner is None:
            return
        self._stopping = True
        if self._fetch is not None:
            self._fetch.cancel()
        self._pause.set()
        with contextlib.suppress(asyncio.CancelledError):
            await self._runner
        self._runner = None
        if self._offset is not None:
            with contextlib.suppress(TelegramError):
                await self.bot.get_updates(offset=self._offset, timeout=0, limit=1, read_timeout=2.0)

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            self._fetch = asyncio.create_task(
                self.bot.get_updates(
                    offset=self._offset,
                    timeout=POLL_TIMEOUT_SECONDS,
                    allowed_updates=ALLOWED_UPDATES,
                    read_timeout=POLL_TIMEOUT_SECONDS + self.request_timeout,
                ),
                name="get-updates",
            )
            try:
                updates = await self._fetch
                if updates:
                    # Stored and committed first: only then may the next offset confirm them.
                    await self.inbox.receive(updates)
                    self._offset = updates[-1].update_id + 1
            except asyncio.CancelledError:
                if self._stopping:
                    return
                raise
            except RetryAfter as error:
                seconds = retry_after_seconds(error)
                log.warning("getUpdates: Telegram asked to wait %.0f s", seconds)
                await self._rest(seconds)
                continue
            except Exception as error:
                failures += 1
                delay = backoff_seconds(failures, cap=30.0)
                what = "another poller or a webhook holds the updates" if isinstance(error, Conflict) else ""
                log.warning(
                    "getUpdates failed (%s%s); retrying in %.1f s",
                    _short(error),
                    f": {what}" if what else "",
                    delay,
                )
                await self._rest(delay)
                continue
            finally:
                self._fetch = None
            if failures:
                log.info("getUpdates works again after %d failed tries", failures)
                failures = 0

    async def _rest(self, seconds: float) -> None:
        """Wait before trying again, unless told to stop meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._pause.wait(), seconds)
