"""A simulated pilot day: drivers, store clerks and an admin who act only through the emulator's user side.

Each simulated person reads their own chat and presses buttons by their labels, as a person would;
the driver types the pickup code the store's clerk sees in the store's chat. Nothing here touches
the bot or its database while the day runs, except to learn whether it has handled everything due
(before the simulated clock moves on), to draw the live table and, at the end, the summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import itertools
import logging
import random
import re
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, create_engine, func, select
from sqlalchemy.pool import NullPool

from bot import keyboards, texts
from bot.app import StorerunBot
from bot.config import load_settings
from bot.i18n import Words, translations
from dispatch.clock import SimulatedClock
from dispatch.drivers import Availability
from dispatch.offers import Press
from dispatch.pilot import PILOT_FILE, PilotFile, read_pilot, seed
from dispatch.views import FailReason
from sandbox.emulator import BotApiEmulator, ChatMessage
from sandbox.reading import part, pattern, showing
from storage import schema
from storage.records import Language

log = logging.getLogger(__name__)
T = TypeVar("T")

TOKEN = "123456:SANDBOX-TOKEN"
ADMIN = (1000, "Ada")
FIRST_DRIVER, FIRST_CLERK = 20_000, 30_000
NAMES = [
    "Maria",
    "Joe",
    "Lee",
    "Sam",
    "Ana",
    "Raj",
    "Kim",
    "Eli",
    "Noor",
    "Omar",
    "Ivy",
    "Ben",
    "Zoe",
    "Luis",
    "Mei",
    "Tom",
    "Ada",
    "Kai",
    "Ria",
    "Dev",
]
SURNAMES = [
    "Lopez",
    "Chen",
    "Patel",
    "Kim",
    "Garcia",
    "Nguyen",
    "Smith",
    "Khan",
    "Rossi",
    "Silva",
    "Cohen",
    "Ito",
]
ZONES = {
    "las-vegas": ["89109", "89169", "89102"],
    "chandler": ["85226", "85224", "85286"],
    "tysons": ["22102", "22182"],
}
PAYS = ["12.50", "15.00", "18.50", "22.00"]
STREETS = ["Main St", "Oak Ave", "Desert Inn Rd", "Elm St", "Spring Mountain Rd", "Maple Dr"]


# Drivers enroll and clerks link before the stores open at 10:00.
OPENING = timedelta(minutes=30)
# The longest the clock stands still, in real seconds, while nothing is due: a person at the
# chat page sees time move, and their message is handled before it moves on.
STEP_SECONDS = 0.25
# How long, in real seconds, the clock waits for a bot still busy before it moves on regardless.
STUCK_SECONDS = 60.0
# How far behind its pace the clock may fall (a busy bot) and still catch up, in real seconds.
CATCH_UP_SECONDS = 2.0
# When the inbox and the outbox next have something due (in one read, so one snapshot).
DUE_LATER = select(
    select(func.min(schema.inbox.c.next_attempt_at))
    .where(schema.inbox.c.status == "pending")
    .scalar_subquery(),
    select(func.min(schema.outbox.c.not_before)).where(schema.outbox.c.status == "pending").scalar_subquery(),
)
# A driver takes a break about this often (simulated seconds), on average.
BREAK_EVERY = 4 * 3600.0
VEGAS = ZoneInfo("America/Los_Angeles")

# The simulated people read English: each of the bot's messages is known by its msgid in the
# English catalog (those the bot marks where it renders them, by the method that renders them).
EN = Words(Language.EN)
OFFER_COPY = texts.OFFER_COPY
COPY_WENT_ELSEWHERE = texts.COPY_WENT_ELSEWHERE  # the copy's last words after an award window
COPY_CANCELLED = texts.COPY_CANCELLED
COPY_EXPIRED = texts.COPY_EXPIRED
JOB_CARD = texts.JOB_CARD
ASK_PICKUP_CODE = texts.ASK_PICKUP_CODE
DELIVERY_CARD = texts.DELIVERY_CARD
ASK_FAIL_REASON = texts.ASK_FAIL_REASON
NO_SHOW_RELEASED = texts.NO_SHOW_RELEASED
SET_OFFLINE = texts.SET_OFFLINE
YOU_ARE_APPROVED = texts.YOU_ARE_APPROVED
STORE_ACCEPTED = texts.STORE_ACCEPTED
AWARDED = texts.PRESS_ANSWERS[Press.AWARDED]
# A slip at the door: what a driver who can't deliver picks.
CANT_DELIVER_REASONS = (FailReason.ABSENT, FailReason.ADDRESS, FailReason.DAMAGED)


def said(message: str, **known: object) -> re.Pattern[str]:
    """A pattern of one of the bot's messages in English, with what the reader knows of it."""
    return pattern(EN(message), **known)


def says(text: str, message: str | tuple[str, str], **known: object) -> bool:
    """Whether the text has one of the bot's messages in it (a plural one, in any of its forms)."""
    if isinstance(message, str):
        return bool(said(message, **known).search(text))
    catalog = translations(Language.EN)
    return any(pattern(catalog.ngettext(*message, count), **known).search(text) for count in (1, 2))


def titled(message: str, offer_id: int) -> str:
    """The first words of a message that starts with an offer's title: "✅ It's yours: #12 · "."""
    return f"{part(EN(message))}#{offer_id} · "


@dataclass(frozen=True)
class DayPlan:
    """What day to play: at most `speed` simulated seconds per real second."""

    speed: float = 60.0
    hours: float = 8.0
    drivers: int = 40
    orders: int = 60
    seed: int = 1
    transcript_dir: Path | None = None
    chart_path: Path = Path("sandbox-out/pilot-day.png")
    start: datetime | None = None  # when the stores open; default: 10:00 today, Las Vegas time
    # How long (simulated seconds) the simulated admin leaves an application to whoever else
    # plays the admin (a person at the chat page) before deciding it.
    admin_waits: float = 120.0


@dataclass
class DaySummary:
    offers: int
    accepted: int
    delivered: int
    expired: int
    no_shows: int
    median_accept_seconds: float | None
    on_time_pickup_rate: float | None
    messages_sent: int
    too_many_requests: int
    chart_path: Path | None  # None: no offer was made, so no chart was drawn
    transcripts: list[Path]
    problems: list[str]

    @property
    def acceptance_rate(self) -> float | None:
        """Of the rounds on the board that ended accepted or expired, the share accepted (as /stats
        counts it: an offer released and taken again is accepted twice)."""
        ended = self.accepted + self.expired
        return self.accepted / ended if ended else None


@dataclass
class Person:
    """Someone simulated: their Telegram user id, name, and what they have already reacted to."""

    user_id: int
    name: str
    seen: set[tuple[int, str]] = field(default_factory=set)
    version: int = -1
    zone: ZoneInfo = VEGAS

    def fresh(self, emulator: BotApiEmulator) -> list[ChatMessage]:
        """Bot messages (or new versions of edited ones) not reacted to yet, oldest first."""
        version = emulator.chat_version(self.user_id)
        if version == self.version:
            return []  # nothing changed since the last look
        self.version = version
        found = []
        for message in emulator.chat(self.user_id):
            key = (message.message_id, message.text or "")
            if message.from_bot and key not in self.seen:
                self.seen.add(key)
                found.append(message)
        return found


@dataclass
class Driver(Person):
    area: str = ""
    area_slug: str = ""
    believed: set[int] = field(default_factory=set)  # offers this driver thinks they hold


@dataclass
class _Watch:
    """A process waiting for something to show up in a person's chat."""

    user_id: int
    check: Callable[[], object | None]
    task: asyncio.Task[None]
    future: asyncio.Future[object | None]
    version: int = -1  # of the chat when last checked


class Timeline:
    """What the simulated people do next, and at which simulated moment: a discrete-event schedule.

    A person's doings are processes (coroutines begun with `start`) that wait only on the
    timeline: `sleep` for a simulated while, or `until` something shows up in a chat. The day
    resumes one process at a time, in order of (moment, order of scheduling), each once the one
    before waits again and the bot has handled what it caused: the same seed plays the same day
    on a quiet or a busy machine.
    """

    def __init__(self, clock: SimulatedClock) -> None:
        self.clock = clock
        self._queue: list[tuple[datetime, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._watches: dict[int, _Watch] = {}
        self._running: set[asyncio.Task[None]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._unstarted: set[Coroutine[Any, Any, None]] = set()
        self._quiet = asyncio.Event()
        self._quiet.set()

    # --- what processes call ---

    def start(self, work: Coroutine[Any, Any, None]) -> None:
        """Begin a process now, after whatever is already due now."""
        self._unstarted.add(work)
        self._push(self.clock.now(), lambda: self._begin(work))

    async def sleep(self, seconds: float) -> None:
        """Wait a simulated while."""
        await self.sleep_until(self.clock.now() + timedelta(seconds=max(0.0, seconds)))

    async def sleep_until(self, when: datetime) -> None:
        task, future = self._waiting()
        self._push(max(when, self.clock.now()), lambda: self._resume(task, future, None))
        await self._wait(task, future)

    async def until(
        self, user_id: int, check: Callable[[], T | None], within: float | None = None
    ) -> T | None:
        """Wait until `check()` finds something (looked at each time the person's chat changes);
        None once `within` simulated seconds have passed without."""
        task, future = self._waiting()
        key = next(self._order)
        self._watches[key] = _Watch(user_id, check, task, future)
        if within is not None:
            self._push(self.clock.now() + timedelta(seconds=within), lambda: self._expire(key))
        try:
            return await self._wait(task, future)  # type: ignore[return-value]
        finally:
            self._watches.pop(key, None)

    # --- what the day calls ---

    @property
    def quiet(self) -> bool:
        """No process is running: each waits on the timeline, or is done."""
        return not self._running

    async def until_quiet(self) -> None:
        while self._running:
            await self._quiet.wait()

    def check_watches(self, chat_version: Callable[[int], int]) -> None:
        """Schedule, for now, every waiting process whose chat now shows what it waits for."""
        for key, watch in list(self._watches.items()):
            version = chat_version(watch.user_id)
            if version == watch.version:
                continue
            watch.version = version
            found = watch.check()
            if found is not None:
                del self._watches[key]
                self._push(self.clock.now(), functools.partial(self._resume, watch.task, watch.future, found))

    def resume_next(self) -> bool:
        """Run the first thing due now; False if nothing is."""
        if not self._queue or self._queue[0][0] > self.clock.now():
            return False
        _, _, wake = heapq.heappop(self._queue)
        wake()
        return True

    def next_at(self) -> datetime | None:
        return self._queue[0][0] if self._queue else None

    async def cancel_all(self) -> None:
        """End every process (the day is over)."""
        self._queue.clear()
        self._watches.clear()
        for work in self._unstarted:
            work.close()
        self._unstarted.clear()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._running.clear()
        self._quiet.set()

    # --- inside ---

    def _push(self, when: datetime, wake: Callable[[], None]) -> None:
        heapq.heappush(self._queue, (when, next(self._order), wake))

    def _begin(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(self._process(work))
        self._tasks.add(task)
        self._run(task)

    async def _process(self, work: Coroutine[Any, Any, None]) -> None:
        # Only now is it begun: a task cancelled before its first step never runs this body.
        self._unstarted.discard(work)
        try:
            await work
        except Exception:  # one simulated person's mistake must not stop the day
            log.exception("a simulated person failed")
        finally:
            task = asyncio.current_task()
            assert task is not None
            self._tasks.discard(task)
            self._stopped(task)

    def _waiting(self) -> tuple[asyncio.Task[None], asyncio.Future[object | None]]:
        task = asyncio.current_task()
        if task is None or task not in self._tasks:
            raise RuntimeError("only a process begun with Timeline.start waits on the timeline")
        return task, asyncio.get_running_loop().create_future()

    async def _wait(self, task: asyncio.Task[None], future: asyncio.Future[object | None]) -> object | None:
        self._stopped(task)
        return await future

    def _resume(self, task: asyncio.Task[None], future: asyncio.Future[object | None], value: object) -> None:
        if not future.done():
            self._run(task)
            future.set_result(value)

    def _expire(self, key: int) -> None:
        watch = self._watches.pop(key, None)
        if watch is not None:
            self._resume(watch.task, watch.future, None)

    def _run(self, task: asyncio.Task[None]) -> None:
        self._running.add(task)
        self._quiet.clear()

    def _stopped(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if not self._running:
            self._quiet.set()


class Pacer:
    """Keeps simulated time from running faster than `speed` simulated seconds per real second;
    after a spell far behind (a busy bot) it paces on from there rather than rush."""

    def __init__(self, speed: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        if speed <= 0:
            raise ValueError("the speed must be positive")
        self.speed = speed
        self._monotonic = monotonic
        self._anchor: tuple[float, datetime] | None = None

    def wait(self, now: datetime, target: datetime) -> float:
        """Real seconds to wait before the clock may move from `now` to `target` (0: move on)."""
        real = self._monotonic()
        if self._anchor is None:
            self._anchor = (real, now)
        began, origin = self._anchor
        due = began + (target - origin).total_seconds() / self.speed
        if real - due > CATCH_UP_SECONDS:
            self._anchor = (real, now)
            due = real + (target - now).total_seconds() / self.speed
        return max(0.0, due - real)


class PilotDay:
    """Plays one day: the real bot, the emulator, and simulated people acting through it.

    Simulated time moves only when everything due at the current moment has been handled: the
    updates people sent are applied, the outbox holds nothing due, no deadline is due, and every
    simulated person waits on the timeline. Then the clock moves to the next thing due (a
    person's next step, a deadline, a delayed call), no faster than the plan's speed.
    """

    def __init__(self, plan: DayPlan) -> None:
        self.plan = plan
        self.rng = random.Random(plan.seed)
        self.pilot: PilotFile = read_pilot(PILOT_FILE)
        self.drivers: list[Driver] = []
        self.clerks: dict[str, Person] = {}
        self.admin = Person(*ADMIN)
        self.emulator: BotApiEmulator | None = None
        self.bot: StorerunBot | None = None
        self.clock: SimulatedClock | None = None
        self.timeline: Timeline | None = None
        self.stopped = False
        self.day_started: datetime | None = None
        self.day_ends: datetime | None = None
        self._idle: tuple[datetime, int, datetime | None] | None = None
        # A second connection to the day's SQLite file, only read from (WAL: it never blocks the
        # bot): the look before each move of the clock is synchronous, no thread hop, no pool.
        self._look: Connection | None = None

    # --- the day ---

    async def run(
        self,
        on_tick: Callable[[PilotDay], Awaitable[None]] | None = None,
        on_ready: Callable[[PilotDay], Awaitable[None]] | None = None,
    ) -> DaySummary:
        """Play the whole day and return its summary (the bot is stopped at the end).

        `on_ready` runs once the bot is up, before the people arrive; `on_tick` about four times a
        real second.
        """
        opens = (self.plan.start or morning()).astimezone(UTC)
        clock = self.clock = SimulatedClock(opens - OPENING)
        self.day_started, self.day_ends = opens, opens + timedelta(hours=self.plan.hours)
        with tempfile.TemporaryDirectory(prefix="storerun-day-") as folder:
            async with BotApiEmulator(token=TOKEN, wall_clock=lambda: clock.now().timestamp()) as emulator:
                self.emulator = emulator
                fast = self.plan.speed > 60
                emulator.set_limits(
                    enabled=True, per_second=500 if fast else 30, per_chat_per_second=1000 if fast else 1
                )
                settings = load_settings(
                    _env_file=None,
                    telegram_bot_token=TOKEN,
                    telegram_api_url=emulator.url,
                    database_url=f"sqlite+aiosqlite:///{Path(folder) / 'day.db'}",
                    admin_ids=str(ADMIN[0]),
                    http_listen="",  # no health or metrics server inside a tool
                    log_level="WARNING",
                    # Telegram's pace would stretch a fast day; the emulator allows more.
                    outbox_rate_per_second=500 if fast else 30,
                    outbox_chat_interval_seconds=0 if fast else 1,
                )
                self.bot = StorerunBot(settings, clock=clock)
                await self.bot.db.upgrade()
                await seed(self.bot.db, self.pilot)
                await self.bot.start()
                looking = create_engine(f"sqlite:///{Path(folder) / 'day.db'}", poolclass=NullPool)
                self._look = looking.connect()
                self.timeline = Timeline(clock)
                ticker = asyncio.create_task(self._tick(on_tick))
                try:
                    if on_ready is not None:
                        await on_ready(self)
                    self.timeline.start(self._open_the_day())
                    await self._play(self.day_ends)
                    await self._close_the_day()
                    return await self._summary()
                finally:
                    ticker.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await ticker
                    await self.timeline.cancel_all()
                    self._look.close()
                    looking.dispose()
                    await self.bot.stop()

    def store_codes(self) -> list[str]:
        return [store.code for area in self.pilot.areas for store in area.stores]

    def stop_early(self) -> None:
        """End the day now (Ctrl-C in --interactive)."""
        self.stopped = True

    async def _tick(self, on_tick: Callable[[PilotDay], Awaitable[None]] | None) -> None:
        while on_tick is not None:
            try:
                await on_tick(self)
            except Exception:  # the live view failing must not stop the day
                log.exception("the live view failed")
            await asyncio.sleep(0.25)

    async def _play(self, end: datetime) -> None:
        """Run the day's events in order until `end`, moving the clock only when all is handled."""
        clock, timeline, emulator, bot = self.clock, self.timeline, self.emulator, self.bot
        assert clock is not None and timeline is not None and emulator is not None and bot is not None
        pacer = Pacer(self.plan.speed)
        while not self.stopped:
            upcoming = await self._settle()
            timeline.check_watches(emulator.chat_version)
            if timeline.resume_next():
                continue
            now = clock.now()
            if now >= end:
                return
            step = now + timedelta(seconds=self.plan.speed * STEP_SECONDS)
            target = min(when for when in (timeline.next_at(), upcoming, end, step) if when is not None)
            wait = pacer.wait(now, target)
            if wait > 0:
                await asyncio.sleep(min(wait, STEP_SECONDS))
                continue  # whatever a person at the page did meanwhile is handled first
            clock.move_to(target)
            # What waits for the clock (a call's retry, an update's) is looked at again now.
            bot.sender.wake()
            bot.inbox.wake()

    async def _settle(self) -> datetime | None:
        """Wait until every simulated person waits on the timeline and the bot has handled all
        that is due now; returns when the bot next has something due (None: nothing)."""
        timeline, bot = self.timeline, self.bot
        assert timeline is not None and bot is not None
        pause = 0.0
        began = time.monotonic()
        while True:
            await timeline.until_quiet()
            await bot.timers.fire_due()
            busy, upcoming = await self._bot_busy()
            if not busy and timeline.quiet:
                return upcoming
            if time.monotonic() - began > STUCK_SECONDS:
                # A bot that never finishes (a bug to look into) must not freeze the day for good.
                log.warning("the bot has had work due for %.0f s; the clock moves on", STUCK_SECONDS)
                return upcoming
            await asyncio.sleep(pause)
            pause = min(0.005, pause + 0.001)

    async def _bot_busy(self) -> tuple[bool, datetime | None]:
        """Whether the bot has anything due now (an update to fetch or apply, a call to make, a
        deadline), and otherwise when it next will."""
        clock, emulator, bot = self.clock, self.emulator, self.bot
        assert clock is not None and emulator is not None and bot is not None
        now = clock.now()
        if emulator.pending_updates:
            return True, None
        deadlines = bot.timers.pending
        soonest_deadline = deadlines[0].when if deadlines else None
        if soonest_deadline is not None and soonest_deadline <= now:
            return True, None
        # The bot only gets work by fetching updates (a call to the emulator) or as the clock
        # moves: with neither since it was last found idle, it still is.
        calls = sum(emulator.stats.calls.values())
        if self._idle is not None and self._idle[:2] == (now, calls):
            return False, _soonest(self._idle[2], soonest_deadline)
        assert self._look is not None
        inbox_next, outbox_next = self._look.execute(DUE_LATER).one()
        self._look.rollback()  # no snapshot is held until the next look
        stored = _soonest(inbox_next, outbox_next)
        if emulator.pending_updates or (stored is not None and stored <= now):
            return True, None
        self._idle = (now, calls, stored)
        return False, _soonest(stored, soonest_deadline)

    async def _open_the_day(self) -> None:
        """The admin, a clerk per store linked by invite; every driver comes to enroll; the stores
        post their orders from the opening on."""
        emulator, timeline = self.emulator, self.timeline
        assert emulator is not None and timeline is not None
        emulator.add_user(self.admin.user_id, self.admin.name, username="ada_admin")
        timeline.start(self._admin_at_work())
        for number, code in enumerate(self.store_codes()):
            clerk = Person(FIRST_CLERK + number, f"Clerk {code}", zone=self._zone_of_store(code))
            emulator.add_user(clerk.user_id, clerk.name)
            await emulator.send_text(self.admin.user_id, f"/invite {code}")
            card = await self.until(self.admin, invite_for(code), within=600)
            token = re.search(r"\?start=([\w-]+)", (card.text or "") if card else "")
            if token is None:
                raise RuntimeError(f"no invite for {code}:\n{emulator.transcript(self.admin.user_id)}")
            await emulator.send_text(clerk.user_id, f"/start {token.group(1)}")
            if await self.until(clerk, part(EN(texts.LINKED["linked"])), within=600) is None:
                raise RuntimeError(f"{clerk.name} was not linked:\n{emulator.transcript(clerk.user_id)}")
            self.clerks[code] = clerk
        areas = self.pilot.areas
        for number in range(self.plan.drivers):
            area = areas[number % len(areas)]
            name = f"{self.rng.choice(NAMES)} {self.rng.choice(SURNAMES)}"
            driver = Driver(
                FIRST_DRIVER + number, name, zone=ZoneInfo(area.tz), area=area.name, area_slug=area.slug
            )
            emulator.add_user(driver.user_id, name.split()[0], last_name=name.split()[1])
            self.drivers.append(driver)
            timeline.start(self._drive(driver))
        timeline.start(self._post_orders())

    def _zone_of_store(self, code: str) -> ZoneInfo:
        return next(ZoneInfo(area.tz) for area in self.pilot.areas for s in area.stores if s.code == code)

    # --- what people do ---

    async def pause(self, simulated_seconds: float) -> None:
        assert self.timeline is not None
        await self.timeline.sleep(simulated_seconds)

    async def until(
        self, person: Person, wanted: str | Callable[[ChatMessage], bool], within: float
    ) -> ChatMessage | None:
        """The newest bot message in the person's chat that is `wanted` (a string: its text has
        it), once there is one; None after `within` simulated seconds without."""
        emulator, timeline = self.emulator, self.timeline
        assert emulator is not None and timeline is not None
        matches = wanted if callable(wanted) else (lambda message: wanted in (message.text or ""))

        def found() -> ChatMessage | None:
            chat = emulator.chat(person.user_id)
            return next((m for m in reversed(chat) if m.from_bot and matches(m)), None)

        return await timeline.until(person.user_id, found, within)

    async def look(self, person: Person) -> list[ChatMessage]:
        """Wait until the bot says something new to the person; what it said."""
        emulator, timeline = self.emulator, self.timeline
        assert emulator is not None and timeline is not None
        return await timeline.until(person.user_id, lambda: person.fresh(emulator) or None) or []

    async def press(self, person: Person, label: str, message_id: int | None = None) -> str | None:
        """Press a button if it is still there; the answer, or None if it was gone."""
        assert self.emulator is not None
        with contextlib.suppress(LookupError, TimeoutError):
            return (
                await self.emulator.press(person.user_id, label, message_id=message_id, timeout=30)
            ).text or ""
        return None

    def shows(self, person: Person, message_id: int, label: str) -> bool:
        """Whether the message still has this button."""
        assert self.emulator is not None
        chat = self.emulator.chat(person.user_id)
        return any(m.message_id == message_id and label in m.buttons for m in chat)

    async def _admin_at_work(self) -> None:
        """The admin decides applications as they come, and re-offers now and then what expired."""
        while True:
            for message in await self.look(self.admin):
                if EN(keyboards.APPROVE) in message.buttons:
                    self._start(self._decide(message.message_id))
                elif EN(keyboards.REOFFER) in message.buttons and self.rng.random() < 0.5:
                    self._start(self._reoffer(message.message_id))

    async def _decide(self, card_id: int) -> None:
        """Approve an application after a while, unless someone else (at the page) decided it."""
        await self.pause(self.plan.admin_waits * self.rng.uniform(1.0, 1.5))
        if self.shows(self.admin, card_id, EN(keyboards.APPROVE)):
            await self.press(self.admin, EN(keyboards.APPROVE), card_id)

    async def _reoffer(self, card_id: int) -> None:
        await self.pause(self.rng.uniform(60, 300))
        if self.shows(self.admin, card_id, EN(keyboards.REOFFER)):
            await self.press(self.admin, EN(keyboards.REOFFER), card_id)

    def _start(self, work: Coroutine[Any, Any, None]) -> None:
        assert self.timeline is not None
        self.timeline.start(work)

    # --- stores ---

    async def _post_orders(self) -> None:
        """Stores post their orders through the day, at random moments."""
        assert self.timeline is not None and self.day_started is not None
        span = self.plan.hours * 3600 * 0.85
        moments = sorted(self.rng.uniform(0, span) for _ in range(self.plan.orders))
        stores = [(area, store) for area in self.pilot.areas for store in area.stores]
        for number, moment in enumerate(moments):
            await self.timeline.sleep_until(self.day_started + timedelta(seconds=moment))
            area, store = self.rng.choice(stores)
            await self._post_order(area.slug, area.tz, store.code, number)

    async def _post_order(self, slug: str, tz: str, code: str, number: int) -> None:
        assert self.clock is not None and self.emulator is not None
        clerk = self.clerks[code]
        local = self.clock.now().astimezone(ZoneInfo(tz)) + timedelta(minutes=self.rng.randint(20, 60))
        local = local.replace(minute=local.minute - local.minute % 5, second=0, microsecond=0)
        end = local + timedelta(minutes=30)
        line = (
            f"/neworder packages={self.rng.randint(1, 4)} pay={self.rng.choice(PAYS)} "
            f"window={local:%H:%M}-{end:%H:%M} date={local:%Y-%m-%d} zone={self.rng.choice(ZONES[slug])} "
            f'ref=D{number:03d} address="{self.rng.randint(100, 9999)} {self.rng.choice(STREETS)}"'
        )
        await self.emulator.send_text(clerk.user_id, line)

    def pickup_code(self, offer_id: int) -> str | None:
        """What the store's clerk reads in their chat when a driver accepts the order."""
        assert self.emulator is not None
        accepted = said(STORE_ACCEPTED, id=offer_id, code=re.compile(r"\d{4}"))
        for clerk in self.clerks.values():
            for message in self.emulator.chat(clerk.user_id):
                found = accepted.search(message.text or "")
                if found:
                    return found.group("code")
        return None

    # --- drivers ---

    async def _drive(self, driver: Driver) -> None:
        """A driver's day: enroll, go online, then answer offers like a person, now and then a break."""
        if not await self._enroll(driver):
            return
        self._start(self._take_breaks(driver))
        while True:
            for message in await self.look(driver):
                text = message.text or ""
                offer = re.search(r"#(\d+) ·", text)
                if (
                    text.startswith(part(EN(OFFER_COPY)))
                    and offer
                    and EN(keyboards.ACCEPT) in message.buttons
                ):
                    self._start(self._consider(driver, int(offer.group(1)), message.message_id))
                elif says(text, SET_OFFLINE):
                    self._start(self._come_back(driver))
                elif (says(text, NO_SHOW_RELEASED) or says(text, COPY_CANCELLED)) and offer:
                    driver.believed.discard(int(offer.group(1)))

    async def _enroll(self, driver: Driver) -> bool:
        """/start, the area, the phone (or not), then online once approved; False if it stalled."""
        emulator = self.emulator
        assert emulator is not None
        await self.pause(self.rng.uniform(0, 300))
        await emulator.send_text(driver.user_id, "/start")
        if await self.until(driver, EN(texts.PICK_AREA), within=600) is None:
            return False
        await self.press(driver, driver.area)
        if await self.until(driver, EN(texts.ASK_PHONE, area=driver.area), within=600) is None:
            return False
        await self.press(driver, EN(keyboards.SHARE_PHONE if self.rng.random() < 0.8 else keyboards.SKIP))
        waits = 2 * 3600 + 3 * self.plan.admin_waits
        approved = await self.until(driver, EN(YOU_ARE_APPROVED), within=waits)
        if approved is None:
            return False
        await self.press(driver, EN(keyboards.GO_ONLINE), approved.message_id)
        if await self.until(driver, EN(texts.AVAILABILITY[Availability.ONLINE]), within=600) is None:
            return False
        driver.fresh(emulator)
        return True

    async def _consider(self, driver: Driver, offer_id: int, message_id: int) -> None:
        roll = self.rng.random()
        await self.pause(self.rng.uniform(2, 20))
        if roll < 0.12:
            await self.press(driver, EN(keyboards.DECLINE), message_id)
            return
        if roll < 0.22:
            return  # lets it time out
        answer = await self.press(driver, EN(keyboards.ACCEPT), message_id)
        if answer is not None and answer.startswith(part(EN(texts.ENTERED), id=offer_id)):
            # An award window: the copy becomes the job card, or says it went to another driver.
            decided = await self.until(driver, lambda message: _decides(message, offer_id), within=600)
            won = decided is not None and titled(JOB_CARD, offer_id) in (decided.text or "")
            answer = EN(AWARDED) if won else None
        if answer == EN(AWARDED):
            driver.believed.add(offer_id)
            await self._do_the_job(driver, offer_id)

    async def _do_the_job(self, driver: Driver, offer_id: int) -> None:
        emulator = self.emulator
        assert emulator is not None
        roll = self.rng.random()
        if roll < 0.05:
            await self.pause(self.rng.uniform(60, 600))
            job = self._message(driver, titled(JOB_CARD, offer_id))
            if (
                job is not None
                and await self.press(driver, EN(keyboards.RELEASE), job.message_id) is not None
            ):
                driver.believed.discard(offer_id)
            return
        if roll < 0.09:
            return  # a no-show: the bot releases it after the window and its grace
        await self.pause(self.rng.uniform(15 * 60, 45 * 60))  # on the way to the store
        job = self._message(driver, titled(JOB_CARD, offer_id))
        if job is None or await self.press(driver, EN(keyboards.CONFIRM_PICKUP), job.message_id) != EN(
            texts.PRESS_ANSWERS[Press.TYPE_CODE]
        ):
            driver.believed.discard(offer_id)
            return
        if await self.until(driver, part(EN(ASK_PICKUP_CODE)), within=600) is None:
            return
        code = self.pickup_code(offer_id)
        if code is None:
            return
        if self.rng.random() < 0.05:
            await emulator.send_text(driver.user_id, "0000" if code != "0000" else "1111")  # a slip
            await self.pause(20)
        await emulator.send_text(driver.user_id, code)
        card = await self.until(driver, showing(said(DELIVERY_CARD, id=offer_id)), within=600)
        if card is None:
            return
        await self.pause(self.rng.uniform(10 * 60, 30 * 60))  # on the road
        if self.rng.random() < 0.04:
            if await self.press(driver, EN(keyboards.CANT_DELIVER), card.message_id) is not None:
                await self.pause(10)
                reason = self.rng.choice(CANT_DELIVER_REASONS)
                await self.press(driver, EN(keyboards.REASONS[reason]), card.message_id)
        elif (
            await self.press(driver, EN(keyboards.DELIVERED), card.message_id) is not None
            and self.rng.random() < 0.5
        ):
            await self.pause(15)
            await emulator.send_photo(driver.user_id, caption="at the door")
        driver.believed.discard(offer_id)

    def _message(self, driver: Driver, needle: str) -> ChatMessage | None:
        assert self.emulator is not None
        return next(
            (m for m in reversed(self.emulator.chat(driver.user_id)) if needle in (m.text or "")), None
        )

    async def _come_back(self, driver: Driver) -> None:
        await self.pause(self.rng.uniform(300, 1800))
        await self.press(driver, EN(keyboards.GO_ONLINE))

    async def _take_breaks(self, driver: Driver) -> None:
        assert self.emulator is not None
        while True:
            await self.pause(self.rng.expovariate(1 / BREAK_EVERY))
            await self.emulator.send_text(driver.user_id, "/offline")
            await self.pause(self.rng.uniform(600, 2400))
            await self.emulator.send_text(driver.user_id, "/online")

    # --- the end ---

    async def _close_the_day(self) -> None:
        """Everyone stops; the bot finishes what it fetched and sends the rest."""
        bot, emulator, timeline = self.bot, self.emulator, self.timeline
        assert bot is not None and emulator is not None and timeline is not None
        await timeline.cancel_all()
        if bot.poller is not None:
            await bot.poller.stop()
        await bot.inbox.drain(timeout=120)
        await bot.sender.drain(timeout=120)
        for driver in self.drivers:  # at the end of the day each driver reads what they hold off their chat
            driver.believed = held_in_chat(emulator.chat(driver.user_id))

    async def _summary(self) -> DaySummary:
        from bot.charts import stats_chart
        from dispatch.stats import compute_stats

        bot, emulator, clock = self.bot, self.emulator, self.clock
        assert bot is not None and emulator is not None and clock is not None
        played = clock.now() - (self.day_started or clock.now())
        days = min(365, max(1, played.days + 1))
        stats = await compute_stats(bot.db, now=clock.now(), days=days)
        total = stats.total
        chart: Path | None = None
        if total.created:  # an empty chart must not replace the last day's
            chart = self.plan.chart_path
            chart.parent.mkdir(parents=True, exist_ok=True)
            chart.write_bytes(stats_chart(stats))
        transcripts = self.write_transcripts() if self.plan.transcript_dir else []
        return DaySummary(
            offers=total.created,
            accepted=total.accepted,
            delivered=total.delivered,
            expired=total.expired,
            no_shows=total.no_shows,
            median_accept_seconds=total.median_accept_seconds,
            on_time_pickup_rate=total.on_time_pickup_rate,
            messages_sent=emulator.stats.sent_messages,
            too_many_requests=emulator.stats.too_many_requests,
            chart_path=chart,
            transcripts=transcripts,
            problems=await check_invariants(bot, self.drivers),
        )

    def write_transcripts(self) -> list[Path]:
        """Each person's chat as they saw it, with the simulated time in their own zone."""
        assert self.emulator is not None and self.plan.transcript_dir is not None
        folder = self.plan.transcript_dir
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for person in [self.admin, *self.clerks.values(), *self.drivers]:
            path = folder / f"{person.user_id}-{re.sub(r'[^A-Za-z0-9]+', '-', person.name).strip('-')}.txt"
            path.write_text(self.emulator.transcript(person.user_id, person.zone) + "\n", encoding="utf-8")
            written.append(path)
        return written

    async def board(self) -> list[tuple[str, dict[str, int], int]]:
        """For the live table: per area, offers by status and drivers online."""
        assert self.bot is not None
        o, s, a, d, da = schema.offers, schema.stores, schema.areas, schema.drivers, schema.driver_areas
        async with self.bot.db.read() as tx:
            counts = (
                await tx.connection.execute(
                    select(a.c.slug, o.c.status, func.count())
                    .select_from(o.join(s, s.c.id == o.c.store_id).join(a, a.c.id == s.c.area_id))
                    .group_by(a.c.slug, o.c.status)
                )
            ).all()
            online = (
                await tx.connection.execute(
                    select(a.c.slug, func.count())
                    .select_from(d.join(da, da.c.driver_id == d.c.id).join(a, a.c.id == da.c.area_id))
                    .where(d.c.online.is_(True), d.c.status == "approved")
                    .group_by(a.c.slug)
                )
            ).all()
        per_area: dict[str, dict[str, int]] = {area.slug: {} for area in self.pilot.areas}
        for slug, status, count in counts:
            per_area.setdefault(slug, {})[status] = int(count)
        drivers_online = {slug: int(count) for slug, count in online}
        return [(slug, statuses, drivers_online.get(slug, 0)) for slug, statuses in per_area.items()]


async def check_invariants(bot: StorerunBot, drivers: list[Driver]) -> list[str]:
    """What must hold after any day: each problem found, as a sentence (none is good)."""
    problems = []
    o, e, ob = schema.offers, schema.events, schema.outbox
    async with bot.db.read() as tx:
        offers = (await tx.connection.execute(select(o.c.id, o.c.status, o.c.holder_id))).all()
        accepts: dict[int, int] = dict(
            (
                await tx.connection.execute(
                    select(e.c.offer_id, func.count())
                    .where(e.c.kind.in_(["accept", "award"]))
                    .group_by(e.c.offer_id)
                )
            ).all()
        )
        givebacks: dict[int, int] = dict(
            (
                await tx.connection.execute(
                    select(e.c.offer_id, func.count())
                    .where(e.c.kind.in_(["release", "no_show"]))
                    .group_by(e.c.offer_id)
                )
            ).all()
        )
        outbox: dict[str, int] = dict(
            (await tx.connection.execute(select(ob.c.status, func.count()).group_by(ob.c.status))).all()
        )
        holders = {}
        for driver in drivers:
            record = await tx.drivers.by_telegram_id(driver.user_id)
            if record is not None:
                holders[driver.user_id] = {offer.id for offer in await tx.offers.held_by(record.id)}
    for offer_id, status, holder_id in offers:
        held = status in ("accepted", "picked_up")
        if held != (holder_id is not None) and status not in ("delivered", "returned", "cancelled"):
            problems.append(f"offer {offer_id} is {status} but its holder is {holder_id}")
        if status not in ("open", "accepted", "picked_up", "delivered", "returned", "expired", "cancelled"):
            problems.append(f"offer {offer_id} is in an unknown status {status}")
        if accepts.get(offer_id, 0) > 1 + givebacks.get(offer_id, 0):
            problems.append(
                f"offer {offer_id} awarded {accepts[offer_id]} times, given back {givebacks.get(offer_id, 0)}"
            )
    for driver in drivers:
        actual = holders.get(driver.user_id, set())
        if driver.believed != actual:
            problems.append(
                f"driver {driver.user_id} thinks they hold {sorted(driver.believed)}, db: {sorted(actual)}"
            )
    if outbox.get("pending", 0):
        problems.append(f"{outbox['pending']} outbox calls were never made")
    return problems


def invite_for(code: str) -> Callable[[ChatMessage], bool]:
    """Matches the admin's message carrying the invite link of this store."""

    return showing(said(texts.INVITE_LINK, code=code, link=re.compile(r"\S*\?start=[\w-]+")))


def median_text(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{int(seconds // 60)}m {int(seconds % 60):02d}s"


def percent(share: float | None) -> str:
    return "—" if share is None else f"{share:.0%}"


def summary_text(summary: DaySummary) -> str:
    lines = [
        "Pilot day summary",
        f"  offers               {summary.offers}",
        f"  acceptance rate      {percent(summary.acceptance_rate)}"
        f" ({summary.accepted} accepted, {summary.expired} expired)",
        f"  median to accept     {median_text(summary.median_accept_seconds)}",
        f"  on-time pickup rate  {percent(summary.on_time_pickup_rate)}",
        f"  delivered            {summary.delivered}",
        f"  no-shows             {summary.no_shows}",
        f"  expired              {summary.expired}",
        f"  messages sent        {summary.messages_sent}",
        f"  429 responses        {summary.too_many_requests}",
        f"  invariants           {'all hold' if not summary.problems else '; '.join(summary.problems)}",
        f"  chart                {chart_text(summary.chart_path)}",
    ]
    if summary.transcripts:
        folder = summary.transcripts[0].parent.resolve()
        lines.append(f"  transcripts          {len(summary.transcripts)} files in {folder}")
    return "\n".join(lines)


def chart_text(path: Path | None) -> str:
    return str(path.resolve()) if path is not None else "none drawn: no offer was made (the last one is kept)"


def morning() -> datetime:
    """10:00 today in Las Vegas: when the stores open on the simulated day."""
    return datetime.now(VEGAS).replace(hour=10, minute=0, second=0, microsecond=0)


def _soonest(*moments: datetime | None) -> datetime | None:
    return min((moment for moment in moments if moment is not None), default=None)


def _decides(message: ChatMessage, offer_id: int) -> bool:
    """Whether the message tells how an award window ended for the driver: their job card, or their
    copy saying it went to someone else (or nobody)."""
    text = message.text or ""
    if titled(JOB_CARD, offer_id) in text:
        return True
    title = re.compile(rf"#{offer_id} · .*")
    ended = (COPY_WENT_ELSEWHERE, COPY_CANCELLED, COPY_EXPIRED)
    return any(says(text, copy, title=title) for copy in ended)


def held_in_chat(chat: list[ChatMessage]) -> set[int]:
    """The offers a driver's chat shows them holding: a live job card or delivery card."""
    held = set()
    for message in chat:
        text = message.text or ""
        found = re.search(r"#(\d+)", text)
        if not message.from_bot or found is None:
            continue
        live_job = text.startswith(f"{part(EN(JOB_CARD))}#") and EN(keyboards.RELEASE) in message.buttons
        on_the_road = EN(keyboards.DELIVERED) in message.buttons or says(text, ASK_FAIL_REASON)
        if live_job or on_the_road:
            held.add(int(found.group(1)))
    return held
