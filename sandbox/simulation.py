"""A simulated pilot day: drivers, store clerks and an admin who act only through the emulator's user side.

Each simulated person reads their own chat and presses buttons by their labels, as a person would;
the driver types the pickup code the store's clerk sees in the store's chat. Nothing here touches
the bot or its database while the day runs, except to draw the live table and, at the end, the summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.app import StorerunBot
from bot.config import load_settings
from dispatch.clock import ScaledClock
from dispatch.pilot import PILOT_FILE, PilotFile, read_pilot, seed
from sandbox.emulator import BotApiEmulator, ChatMessage
from storage import schema

log = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class DayPlan:
    """What day to play: `speed` simulated seconds per real second."""

    speed: float = 60.0
    hours: float = 8.0
    drivers: int = 40
    orders: int = 60
    seed: int = 1
    transcript_dir: Path | None = None
    chart_path: Path = Path("sandbox-out/pilot-day.png")
    start: datetime | None = None  # default: 10:00 this morning, Las Vegas time


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
    chart_path: Path
    transcripts: list[Path]
    problems: list[str]

    @property
    def acceptance_rate(self) -> float | None:
        return self.accepted / self.offers if self.offers else None


@dataclass
class Person:
    """Someone simulated: their Telegram user id, name, and what they have already reacted to."""

    user_id: int
    name: str
    seen: set[tuple[int, str]] = field(default_factory=set)
    version: int = -1

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


class PilotDay:
    """Plays one day: the real bot, the emulator, and simulated people acting through it."""

    def __init__(self, plan: DayPlan) -> None:
        self.plan = plan
        self.rng = random.Random(plan.seed)
        self.pilot: PilotFile = read_pilot(PILOT_FILE)
        self.tasks: set[asyncio.Task[None]] = set()
        self.drivers: list[Driver] = []
        self.clerks: dict[str, Person] = {}
        self.admin = Person(*ADMIN)
        self.emulator: BotApiEmulator | None = None
        self.bot: StorerunBot | None = None
        self.clock: ScaledClock | None = None
        self.ending = False
        self.stopped = False
        self.ticker: asyncio.Task[None] | None = None
        self.day_started: datetime | None = None
        self.day_ends: datetime | None = None

    # --- time ---

    async def pause(self, simulated_seconds: float) -> None:
        assert self.clock is not None
        await asyncio.sleep(self.clock.real_seconds(simulated_seconds))

    def spawn(self, work: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def press(self, person: Person, label: str, message_id: int | None = None) -> str | None:
        """Press a button if it is still there; the answer, or None if it was gone."""
        assert self.emulator is not None
        with contextlib.suppress(LookupError, TimeoutError):
            return (
                await self.emulator.press(person.user_id, label, message_id=message_id, timeout=30)
            ).text or ""
        return None

    # --- the day ---

    async def run(
        self,
        on_tick: Callable[[PilotDay], Awaitable[None]] | None = None,
        on_ready: Callable[[PilotDay], Awaitable[None]] | None = None,
    ) -> DaySummary:
        """Play the whole day and return its summary (the bot is stopped at the end).

        `on_ready` runs once the bot is up, before the people arrive; `on_tick` about four times a second.
        """
        with tempfile.TemporaryDirectory(prefix="storerun-day-") as folder:
            async with BotApiEmulator(token=TOKEN) as emulator:
                self.emulator = emulator
                fast = self.plan.speed > 60
                emulator.set_limits(
                    enabled=True, per_second=500 if fast else 30, per_chat_per_second=1000 if fast else 1
                )
                self.clock = ScaledClock(self.plan.start or morning(), self.plan.speed)
                settings = load_settings(
                    _env_file=None,
                    telegram_bot_token=TOKEN,
                    telegram_api_url=emulator.url,
                    database_url=f"sqlite+aiosqlite:///{Path(folder) / 'day.db'}",
                    admin_ids=str(ADMIN[0]),
                    http_listen="",  # no health or metrics server inside a tool
                    log_level="WARNING",
                    # Faster than real time, Telegram's pace would stretch the day; the emulator allows it.
                    outbox_rate_per_second=500 if fast else 30,
                    outbox_chat_interval_seconds=0 if fast else 1,
                )
                self.bot = StorerunBot(settings, clock=self.clock)
                await self.bot.db.upgrade()
                await seed(self.bot.db, self.pilot)
                await self.bot.start()
                ticker = self.ticker = asyncio.create_task(self._tick_timers())
                try:
                    self.spawn(self._admin_at_work())
                    if on_ready is not None:
                        await on_ready(self)
                    await self._open_the_day()
                    self.day_started = self.clock.now()
                    end = self.day_started + timedelta(hours=self.plan.hours)
                    self.day_ends = end
                    self.spawn(self._post_orders(end))
                    for driver in self.drivers:
                        self.spawn(self._drive(driver))
                    while self.clock.now() < end and not self.stopped:
                        if on_tick is not None:
                            await on_tick(self)
                        await asyncio.sleep(0.25)
                    self.ending = True
                    await self._close_the_day()
                    return await self._summary()
                finally:
                    ticker.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await ticker
                    await self.bot.stop()

    def store_codes(self) -> list[str]:
        return [store.code for area in self.pilot.areas for store in area.stores]

    def stop_early(self) -> None:
        """End the day now (Ctrl-C in --interactive)."""
        self.stopped = True

    async def _tick_timers(self) -> None:
        assert self.bot is not None
        while True:
            try:
                await self.bot.timers.fire_due()
            except Exception:  # one failing timer must not stop the day's clock
                log.exception("timers failed")
            await asyncio.sleep(0.05)

    async def _open_the_day(self) -> None:
        """The admin, a clerk per store linked by invite, and every driver enrolled, approved, online."""
        emulator = self.emulator
        assert emulator is not None
        emulator.add_user(self.admin.user_id, self.admin.name, username="ada_admin")
        for number, code in enumerate(self.store_codes()):
            clerk = Person(FIRST_CLERK + number, f"Clerk {code}")
            emulator.add_user(clerk.user_id, clerk.name)
            await emulator.send_text(self.admin.user_id, f"/invite {code}")
            card = await emulator.wait_for_message(self.admin.user_id, invite_for(code))
            self.admin.fresh(emulator)
            token = re.search(r"\?start=([\w-]+)", card.text or "")
            assert token is not None
            await emulator.send_text(clerk.user_id, f"/start {token.group(1)}")
            await emulator.wait_for_message(clerk.user_id, "You're now staff of")
            clerk.fresh(emulator)
            self.clerks[code] = clerk
        areas = self.pilot.areas
        for number in range(self.plan.drivers):
            area = areas[number % len(areas)]
            name = f"{self.rng.choice(NAMES)} {self.rng.choice(SURNAMES)}"
            driver = Driver(FIRST_DRIVER + number, name, area=area.name, area_slug=area.slug)
            emulator.add_user(driver.user_id, name.split()[0], last_name=name.split()[1])
            self.drivers.append(driver)
        await asyncio.gather(*(self._enroll(driver) for driver in self.drivers))

    async def _enroll(self, driver: Driver) -> None:
        emulator = self.emulator
        assert emulator is not None
        await self.pause(self.rng.uniform(0, 300))
        await emulator.send_text(driver.user_id, "/start")
        await emulator.wait_for_message(driver.user_id, "Pick your area", timeout=60)
        await self.press(driver, driver.area)
        await emulator.wait_for_message(driver.user_id, "Share your phone", timeout=60)
        await self.press(driver, "📱 Share my phone" if self.rng.random() < 0.8 else "Skip")
        await emulator.wait_for_message(driver.user_id, "You're approved", timeout=120)
        await self.press(driver, "Go online")
        await emulator.wait_for_message(driver.user_id, "You're online", timeout=60)
        driver.fresh(emulator)

    async def _admin_at_work(self) -> None:
        """The admin approves applications as they come, and re-offers now and then what expired."""
        assert self.emulator is not None
        while not self.ending:
            for message in self.admin.fresh(self.emulator):
                if "Approve" in message.buttons:
                    await self.press(self.admin, "Approve", message.message_id)
                elif "Re-offer" in message.buttons and self.rng.random() < 0.5:
                    await self.pause(self.rng.uniform(60, 300))
                    await self.press(self.admin, "Re-offer", message.message_id)
            await self.pause(20)

    # --- stores ---

    async def _post_orders(self, end: datetime) -> None:
        """Stores post their orders through the day, at random moments."""
        assert self.clock is not None
        start = self.clock.now()
        span = (end - start).total_seconds() * 0.85
        moments = sorted(self.rng.uniform(0, span) for _ in range(self.plan.orders))
        stores = [(area, store) for area in self.pilot.areas for store in area.stores]
        for number, moment in enumerate(moments):
            wait = (start + timedelta(seconds=moment) - self.clock.now()).total_seconds()
            if wait > 0:
                await self.pause(wait)
            area, store = self.rng.choice(stores)
            self.spawn(self._post_order(area.slug, area.tz, store.code, number))

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
        for clerk in self.clerks.values():
            for message in self.emulator.chat(clerk.user_id):
                if f"(#{offer_id})" in (message.text or "") and "Pickup code:" in (message.text or ""):
                    found = re.search(r"Pickup code: (\d{4})", message.text or "")
                    return found.group(1) if found else None
        return None

    # --- drivers ---

    async def _drive(self, driver: Driver) -> None:
        """A driver's day: watch the chat, answer offers like a person, now and then take a break."""
        emulator = self.emulator
        assert emulator is not None
        while not self.ending:
            for message in driver.fresh(emulator):
                text = message.text or ""
                offer = re.search(r"#(\d+) ·", text)
                if text.startswith("📦 New offer") and offer and "Accept" in message.buttons:
                    self.spawn(self._consider(driver, int(offer.group(1)), message.message_id))
                elif "set you offline" in text:
                    self.spawn(self._come_back(driver))
                elif ("released because" in text or "cancelled" in text) and offer:
                    driver.believed.discard(int(offer.group(1)))
            if self.rng.random() < 0.0005:
                self.spawn(self._take_a_break(driver))
            # A look at the phone every few simulated seconds, but not more than ~30 times a real
            # second: at high speed forty drivers polling faster would starve the bot they wait for.
            assert self.clock is not None
            await asyncio.sleep(
                max(self.clock.real_seconds(self.rng.uniform(3, 8)), self.rng.uniform(0.02, 0.04))
            )

    async def _consider(self, driver: Driver, offer_id: int, message_id: int) -> None:
        roll = self.rng.random()
        await self.pause(self.rng.uniform(2, 20))
        if roll < 0.12:
            await self.press(driver, "Decline", message_id)
            return
        if roll < 0.22:
            return  # lets it time out
        if await self.press(driver, "Accept", message_id) == "It's yours!":
            driver.believed.add(offer_id)
            await self._do_the_job(driver, offer_id)

    async def _do_the_job(self, driver: Driver, offer_id: int) -> None:
        emulator = self.emulator
        assert emulator is not None
        roll = self.rng.random()
        if roll < 0.05:
            await self.pause(self.rng.uniform(60, 600))
            job = await self._message(driver, f"It's yours: #{offer_id} ·")
            if job is not None and await self.press(driver, "Release", job.message_id) is not None:
                driver.believed.discard(offer_id)
            return
        if roll < 0.09:
            return  # a no-show: the bot releases it after the window and its grace
        await self.pause(self.rng.uniform(15 * 60, 45 * 60))  # on the way to the store
        job = await self._message(driver, f"It's yours: #{offer_id} ·")
        if (
            job is None
            or await self.press(driver, "Confirm pickup", job.message_id) != "Type the pickup code."
        ):
            driver.believed.discard(offer_id)
            return
        code = self.pickup_code(offer_id)
        if code is None:
            return
        if self.rng.random() < 0.05:
            await emulator.send_text(
                driver.user_id, "0000" if code != "0000" else "1111"
            )  # a slip of the thumb
            await self.pause(20)
        await emulator.send_text(driver.user_id, code)
        card = await self._wait(driver, f"· #{offer_id}\nTo:")
        if card is None:
            return
        await self.pause(self.rng.uniform(10 * 60, 30 * 60))  # on the road
        if self.rng.random() < 0.04:
            if await self.press(driver, "Can't deliver", card.message_id) is not None:
                await self.pause(10)
                await self.press(
                    driver,
                    self.rng.choice(["Customer not there", "Wrong address", "Damaged"]),
                    card.message_id,
                )
        elif await self.press(driver, "Delivered", card.message_id) is not None and self.rng.random() < 0.5:
            await self.pause(15)
            await emulator.send_photo(driver.user_id, caption="at the door")
        driver.believed.discard(offer_id)

    async def _message(self, driver: Driver, needle: str) -> ChatMessage | None:
        assert self.emulator is not None
        return next(
            (m for m in reversed(self.emulator.chat(driver.user_id)) if needle in (m.text or "")), None
        )

    async def _wait(self, driver: Driver, needle: str) -> ChatMessage | None:
        """Glance at the phone until a message with `needle` shows up (up to 10 simulated minutes).

        Polling the chat's version is cheap; the emulator's wait_for_message would wake every
        waiting driver on every message anyone gets.
        """
        assert self.emulator is not None and self.clock is not None
        deadline = self.clock.now() + timedelta(minutes=10)
        version = -1
        while self.clock.now() < deadline:
            if self.emulator.chat_version(driver.user_id) != version:
                version = self.emulator.chat_version(driver.user_id)
                found = await self._message(driver, needle)
                if found is not None:
                    return found
            await asyncio.sleep(max(self.clock.real_seconds(2), 0.02))
        return None

    async def _come_back(self, driver: Driver) -> None:
        await self.pause(self.rng.uniform(300, 1800))
        await self.press(driver, "Go online")

    async def _take_a_break(self, driver: Driver) -> None:
        assert self.emulator is not None
        await self.emulator.send_text(driver.user_id, "/offline")
        await self.pause(self.rng.uniform(600, 2400))
        await self.emulator.send_text(driver.user_id, "/online")

    # --- the end ---

    async def _close_the_day(self) -> None:
        """Everyone stops; the clock's timers stop; the bot finishes what it fetched and sends the rest."""
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.ticker is not None:
            self.ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.ticker
        bot, emulator = self.bot, self.emulator
        assert bot is not None and emulator is not None
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
        self.plan.chart_path.parent.mkdir(parents=True, exist_ok=True)
        self.plan.chart_path.write_bytes(stats_chart(stats))
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
            chart_path=self.plan.chart_path,
            transcripts=transcripts,
            problems=await check_invariants(bot, self.drivers),
        )

    def write_transcripts(self) -> list[Path]:
        assert self.emulator is not None and self.plan.transcript_dir is not None
        folder = self.plan.transcript_dir
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for person in [self.admin, *self.clerks.values(), *self.drivers]:
            path = folder / f"{person.user_id}-{re.sub(r'[^A-Za-z0-9]+', '-', person.name).strip('-')}.txt"
            path.write_text(self.emulator.transcript(person.user_id) + "\n", encoding="utf-8")
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
                    select(e.c.offer_id, func.count()).where(e.c.kind == "accept").group_by(e.c.offer_id)
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

    def matches(message: ChatMessage) -> bool:
        return f"({code})" in (message.text or "") and "?start=" in (message.text or "")

    return matches


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
        f"  acceptance rate      {percent(summary.acceptance_rate)} ({summary.accepted} accepted)",
        f"  median to accept     {median_text(summary.median_accept_seconds)}",
        f"  on-time pickup rate  {percent(summary.on_time_pickup_rate)}",
        f"  delivered            {summary.delivered}",
        f"  no-shows             {summary.no_shows}",
        f"  expired              {summary.expired}",
        f"  messages sent        {summary.messages_sent}",
        f"  429 responses        {summary.too_many_requests}",
        f"  invariants           {'all hold' if not summary.problems else '; '.join(summary.problems)}",
        f"  chart                {summary.chart_path.resolve()}",
    ]
    if summary.transcripts:
        folder = summary.transcripts[0].parent.resolve()
        lines.append(f"  transcripts          {len(summary.transcripts)} files in {folder}")
    return "\n".join(lines)


def morning() -> datetime:
    """10:00 today in Las Vegas: when the simulated day opens."""
    vegas = ZoneInfo("America/Los_Angeles")
    return datetime.now(vegas).replace(hour=10, minute=0, second=0, microsecond=0)


def held_in_chat(chat: list[ChatMessage]) -> set[int]:
    """The offers a driver's chat shows them holding: a live job card or delivery card."""
    held = set()
    for message in chat:
        text = message.text or ""
        found = re.search(r"#(\d+)", text)
        if not message.from_bot or found is None:
            continue
        live_job = text.startswith("✅ It's yours: #") and "Release" in message.buttons
        on_the_road = "Delivered" in message.buttons or "Why can't it be delivered?" in text
        if live_job or on_the_road:
            held.add(int(found.group(1)))
    return held
