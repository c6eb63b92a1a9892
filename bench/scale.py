"""Scale benchmark: a year-sized pilot database, the bot as its own process, every admin command timed.

Run: python -m bench.scale [--drivers 10000] [--offers 100000] [--wave 1000] [--runs 3]
     [--command-timeout 60] [--database-url postgresql+asyncpg://…/an_empty_database]

The database (a fresh SQLite file unless --database-url names an empty PostgreSQL database) is
migrated, the pilot seeded, then filled in bulk: approved drivers in the pilot's areas (a share
online), offers over the last 60 days in every state with about 5 notices and 5 events each, and
the outbox rows their messages left as history. `storerun run` then starts against the emulator
(Telegram's flood limits on), and everything is measured from the people's side: start-up (process
start to the first answer), the time to the answer of each admin command (p95 and median over
--runs), the bot's resident memory idle and at its peak (sampled every 50 ms), the database's size,
an offer sent in one wave to --wave online drivers (time to the last copy against the rate floor,
429s) and their accept race, against a bare python-telegram-bot app answering the same presses on
the same emulator. The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import operator
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Table, select, text
from sqlalchemy.engine import make_url

from bench.accept_race import bare_presses, figures, offer_line, press_all
from bench.cluster import BotProcess, free_port
from bot import keyboards, texts
from bot.config import ConfigError, load_database_settings
from bot.i18n import Words
from dispatch.offers import Press
from dispatch.pilot import PILOT_FILE, read_pilot, seed
from sandbox.emulator import BotApiEmulator, ChatMessage, PressResult
from storage import schema
from storage.db import Database
from storage.records import Delivery, Language

TOKEN = "123456:SCALE-BENCH"
ADMINS = range(1000, 1016)  # one chat per command: a chat's replies are paced a second apart
CLERK = 2000
FIRST_DRIVER = 10_000_000  # drivers' Telegram ids: FIRST_DRIVER + drivers.id
BUSY_STORE = "FS-ZARA"
WAVE_AREA = "las-vegas"
HISTORY_DAYS = 60
RATE = 30.0  # messages a second: Telegram's limit, and the outbox's
CHUNK = 2000  # offers per bulk transaction (with their notices, events and outbox rows)
STARTUP_TIMEOUT = 120.0
SAMPLE_SECONDS = 0.05
EN = Words(Language.EN)  # the simulated people read English: they find buttons by their catalog text
LATE_FACTOR = 3  # a command that timed out is waited for this many timeouts more before going on


# --------------------------------------------------------------------------- seeding


@dataclass
class Seeded:
    """Who and what the measured commands name."""

    drivers: int
    offers: int
    notices: int = 0
    events: int = 0
    outbox: int = 0
    seconds: float = 0.0
    wave_candidates: list[int] = field(default_factory=list)  # Telegram ids: online, approved, in the area
    long_history_driver: int = 0  # drivers.id
    many_copies_offer: int = 0  # offers.id


def _chunks(count: int, size: int) -> Iterator[range]:
    for start in range(0, count, size):
        yield range(start, min(count, start + size))


# An offer's copy as the outbox queued it (written once; each row fills in its chat and offer).
_COPY_PAYLOAD = (
    json.dumps(
        {
            "chat_id": 1111111111,
            "text": "📦 New offer #2222222222: 2 packages, $18.50\nPickup 14:00–14:30 PST\nZone 89109",
            "reply_markup": {
                "inline_keyboard": [
                    [
                        {"text": "Accept", "callback_data": "1:acc:2222222222"},
                        {"text": "Decline", "callback_data": "1:dec:2222222222"},
                    ]
                ]
            },
        }
    )
    .replace("1111111111", "{chat}")
    .replace("2222222222", "{offer}")
)


def _copy_payload(chat_id: int, offer_id: int) -> str:
    return _COPY_PAYLOAD.replace("{chat}", str(chat_id)).replace("{offer}", str(offer_id))


class _Seeder:
    """Rows for every table, made up in Python and inserted a chunk at a time."""

    def __init__(self, db: Database, drivers: int, offers: int, wave: int, rng: random.Random) -> None:
        self.db = db
        self.driver_count = drivers
        self.offer_count = offers
        self.wave = wave
        self.rng = rng
        self.now = datetime.now(UTC)
        self.seeded = Seeded(drivers=drivers, offers=offers)
        self.notice_id = 0
        self.event_id = 0
        self.outbox_id = 0

    async def insert(self, table: Table, rows: list[dict[str, Any]]) -> None:
        """Multi-row inserts, 5,000 rows an executemany (every row of a list has the same keys).

        The rows go as tuples straight to the driver's executemany (SQLite's, or asyncpg's
        prepared and pipelined one), SQLite's times already written as SQLAlchemy stores them:
        building and converting each row's parameters one at a time took half the seeding time."""
        if not rows:
            return
        names = list(rows[0])
        if self.db.is_sqlite:
            times = [name for name in names if isinstance(table.c[name].type, schema.UtcDateTime)]
            for row in rows:
                for name in times:
                    when = row[name]
                    if when is not None:
                        row[name] = f"{when:%Y-%m-%d %H:%M:%S.%f}"  # every time here is UTC
            places = ", ".join("?" * len(names))
        else:
            places = ", ".join(f"${number}" for number in range(1, len(names) + 1))
        pick = operator.itemgetter(*names)
        statement = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({places})"
        for start in range(0, len(rows), 5000):
            async with self.db.transaction() as tx:
                await tx.connection.exec_driver_sql(
                    statement, [pick(row) for row in rows[start : start + 5000]]
                )

    async def run(self) -> Seeded:
        started = time.monotonic()
        await self.db.upgrade()
        await seed(self.db, read_pilot(PILOT_FILE))
        async with self.db.read() as tx:
            area_rows = (await tx.connection.execute(select(schema.areas.c.id, schema.areas.c.slug))).all()
            store_rows = (await tx.connection.execute(select(schema.stores.c.id, schema.stores.c.code))).all()
        self.areas = {str(slug): int(area_id) for area_id, slug in area_rows}
        self.stores = {str(code): int(store_id) for store_id, code in store_rows}
        await self.seed_drivers()
        busy = self.stores[BUSY_STORE]
        await self.insert(
            schema.store_staff,
            [{"store_id": busy, "chat_id": CLERK, "user_id": CLERK, "linked_at": self.now}],
        )
        for chunk in _chunks(self.offer_count, CHUNK):
            await self.seed_offers(chunk)
        if not self.db.is_sqlite:
            async with self.db.transaction() as tx:
                for table in ("drivers", "offers", "notices", "events", "outbox"):
                    await tx.connection.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                            f" (SELECT COALESCE(MAX(id), 1) FROM {table}))"
                        )
                    )
        self.seeded.seconds = round(time.monotonic() - started, 2)
        return self.seeded

    async def seed_drivers(self) -> None:
        rng, now = self.rng, self.now
        wave_area = self.areas[WAVE_AREA]
        other_areas = list(self.areas.values())
        drivers: list[dict[str, Any]] = []
        memberships: list[dict[str, Any]] = []
        for driver_id in range(1, self.driver_count + 1):
            in_wave = driver_id <= self.wave
            joined = now - timedelta(days=rng.uniform(1, 365))
            approved = in_wave or driver_id % 20 != 0 or driver_id == self.driver_count
            online = approved and (in_wave or rng.random() < 0.1)
            tg_id = FIRST_DRIVER + driver_id
            drivers.append(
                {
                    "id": driver_id,
                    "tg_user_id": tg_id,
                    "chat_id": tg_id,
                    "name": f"Driver {driver_id}",
                    "username": f"driver{driver_id}",
                    "phone": f"+1555{driver_id:07d}",
                    "status": "approved" if approved else "pending",
                    "online": online,
                    "reachable": True,
                    "offered": rng.randint(0, 200),
                    "accepted": rng.randint(0, 60),
                    "declined": rng.randint(0, 40),
                    "timed_out": rng.randint(0, 20),
                    "released": rng.randint(0, 5),
                    "no_shows": rng.randint(0, 3),
                    "delivered": rng.randint(0, 55),
                    "last_offered_at": None if in_wave else now - timedelta(days=rng.uniform(0, 60)),
                    "created_at": joined,
                    "enrolled_at": joined + timedelta(minutes=5) if approved else None,
                    "timeouts_in_a_row": 0,
                }
            )
            areas = {wave_area} if in_wave else {rng.choice(other_areas)}
            if not in_wave and rng.random() < 0.1:
                areas.add(rng.choice(other_areas))
            memberships.extend({"driver_id": driver_id, "area_id": area} for area in areas)
            if online and wave_area in areas:
                self.seeded.wave_candidates.append(tg_id)
        await self.insert(schema.drivers, drivers)
        await self.insert(schema.driver_areas, memberships)
        # The one whose /status has the longest history: approved, offline, not in the wave.
        self.seeded.long_history_driver = self.driver_count if self.driver_count > self.wave else 1
        self.approved = [row["id"] for row in drivers if row["status"] == "approved"]

    def offer_status(self, created: datetime) -> str:
        if self.now - created < timedelta(days=2) and self.rng.random() < 0.3:
            return self.rng.choice(["open", "accepted", "picked_up"])
        return self.rng.choices(
            ["delivered", "expired", "cancelled", "returned"], weights=[75, 12, 8, 5], k=1
        )[0]

    async def seed_offers(self, chunk: range) -> None:
        rng, now = self.rng, self.now
        store_ids = list(self.stores.values())
        busy = self.stores[BUSY_STORE]
        offers: list[dict[str, Any]] = []
        notices: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        outbox: list[dict[str, Any]] = []
        span = HISTORY_DAYS * 86400
        many_copies = self.offer_count // 2 + 1
        self.seeded.many_copies_offer = many_copies
        for index in chunk:
            offer_id = index + 1
            # Offers are numbered in the order they were created, the newest a minute ago.
            created = now - timedelta(seconds=60 + span * (1 - index / self.offer_count))
            status = self.offer_status(created)
            in_flight = status in ("open", "accepted", "picked_up")
            # Offers still in flight get their windows days ahead: no timer of theirs fires in the run.
            pickup = now + timedelta(days=rng.uniform(2, 5)) if in_flight else created + timedelta(hours=2)
            holder = self.seeded.long_history_driver if rng.random() < 0.02 else rng.choice(self.approved)
            held = status in ("accepted", "picked_up", "delivered", "returned")
            accepted_at = created + timedelta(minutes=rng.uniform(0.5, 10)) if held else None
            offers.append(
                {
                    "id": offer_id,
                    "store_id": busy if rng.random() < 0.25 else rng.choice(store_ids),
                    "ref": f"R{offer_id}",
                    "packages": rng.randint(1, 4),
                    "zone": rng.choice(["89109", "89102", "85226", "22102"]),
                    "address": f"{rng.randint(100, 9999)} Las Vegas Blvd S, Las Vegas, NV 89109",
                    "pay_cents": rng.randint(900, 3500),
                    "pickup_start": pickup,
                    "pickup_end": pickup + timedelta(minutes=30),
                    "deliver_by": pickup + timedelta(hours=2),
                    "pickup_code": f"{rng.randint(0, 9999):04d}",
                    "status": status,
                    "holder_id": holder if held else None,
                    "wave": rng.randint(1, 2),
                    "next_wave_at": None,
                    "expires_at": now + timedelta(days=1)
                    if status == "open"
                    else created + timedelta(minutes=10),
                    "wrong_codes": 0,
                    "pickup_locked": False,
                    "created_by": ADMINS[0],
                    "created_at": created,
                    "accepted_at": accepted_at,
                    "picked_up_at": pickup + timedelta(minutes=10)
                    if status in ("picked_up", "delivered", "returned")
                    else None,
                    "finished_at": pickup + timedelta(hours=1) if not in_flight else None,
                    "cancel_reason": "store closed" if status == "cancelled" else None,
                }
            )
            copies = 1000 if offer_id == many_copies else rng.randint(3, 7)
            others = rng.sample(self.approved, min(len(self.approved), copies + 1))
            recipients = ([holder] if held else []) + [d for d in others if d != holder]
            for driver_id in recipients[:copies]:
                self.notice_id += 1
                self.outbox_id += 1
                winner = held and driver_id == holder
                chat_id = FIRST_DRIVER + driver_id
                sent_at = created + timedelta(seconds=rng.uniform(0, 60))
                outcome = "accepted" if winner else rng.choice(["taken", "declined", "expired"])
                # A winner pressed and won; most who lost or declined pressed too (what /stats and
                # /why read: presses, how long after delivery, awards).
                pressed = winner or (outcome in ("taken", "declined") and rng.random() < 0.7)
                press_ms = rng.randint(300, 20_000) if pressed else None
                notices.append(
                    {
                        "id": self.notice_id,
                        "offer_id": offer_id,
                        "driver_id": driver_id,
                        "chat_id": chat_id,
                        "message_id": self.outbox_id,
                        "wave": 1,
                        "outcome": outcome,
                        "created_at": sent_at,
                        "delivered_at": sent_at,
                        "pressed_at": sent_at + timedelta(milliseconds=press_ms) if press_ms else None,
                        "press_ms": press_ms,
                        "won_at": accepted_at if winner else None,
                    }
                )
                copy_row = self.outbox_id
                outbox.append(
                    self._sent(
                        chat_id,
                        Delivery.MESSAGE,
                        _copy_payload(chat_id, offer_id),
                        sent_at,
                        notice=self.notice_id,
                        lane=1,
                    )
                )
                if not winner and rng.random() < 0.5:
                    self.outbox_id += 1
                    edit = f'{{"chat_id": {chat_id}, "text": "Someone else took this one."}}'
                    outbox.append(self._sent(chat_id, Delivery.EDIT, edit, sent_at, target=copy_row))
            # The admin's and the store's messages about it.
            for chat_id in (ADMINS[0], CLERK):
                self.outbox_id += 1
                note = f'{{"chat_id": {chat_id}, "text": "Offer #{offer_id} is {status}."}}'
                outbox.append(self._sent(chat_id, Delivery.MESSAGE, note, created))
            trail = ["open", "wave"] + {
                "delivered": ["accept", "pickup", "deliver"],
                "returned": ["accept", "pickup", "fail"],
                "accepted": ["accept", "decline"],
                "picked_up": ["accept", "pickup"],
                "expired": ["decline", "expire"],
                "cancelled": ["decline", "cancel"],
                "open": ["decline"],
            }[status]
            for step, kind in enumerate(trail):
                self.event_id += 1
                actor = (
                    f"admin:{ADMINS[0]}"
                    if kind in ("open", "cancel")
                    else ("dispatch" if kind in ("wave", "expire") else f"driver:{holder}")
                )
                events.append(
                    {
                        "id": self.event_id,
                        "at": created + timedelta(minutes=step * 7),
                        "offer_id": offer_id,
                        "actor": actor,
                        "kind": kind,
                        "detail": f"ref R{offer_id}" if kind == "open" else "",
                    }
                )
        await self.insert(schema.offers, offers)
        await self.insert(schema.notices, notices)
        await self.insert(schema.events, events)
        await self.insert(schema.outbox, outbox)
        self.seeded.notices += len(notices)
        self.seeded.events += len(events)
        self.seeded.outbox += len(outbox)

    def _sent(
        self,
        chat_id: int,
        kind: Delivery,
        payload: str,
        at: datetime,
        *,
        notice: int | None = None,
        target: int | None = None,
        lane: int = 0,
    ) -> dict[str, Any]:
        return {
            "id": self.outbox_id,
            "lane": lane,
            "chat_id": chat_id,
            "kind": kind.value,  # straight to the driver (see insert)
            "payload": payload,
            "target_id": target,
            "notice_id": notice,
            "status": "sent",
            "attempts": 1,
            "not_before": at,
            "created_at": at,
            "sent_at": at,
            "message_id": self.outbox_id,
            "error": None,
            "tag": None,
        }


async def seed_database(url: str, *, drivers: int, offers: int, wave: int, seed_value: int = 1) -> Seeded:
    """Migrate, seed the pilot and fill an empty database in bulk; what the commands will name."""
    db = Database.connect(url)
    try:
        seeded = await _Seeder(db, drivers, offers, wave, random.Random(seed_value)).run()
        # A database that has run for months has planner statistics (PostgreSQL's autovacuum, the
        # bot's daily maintenance); without them PostgreSQL plans /stats as if events were empty.
        await db.maintain()
        return seeded
    finally:
        await db.close()


async def database_megabytes(url: str) -> float:
    """The SQLite file with its WAL, or PostgreSQL's pg_database_size."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        files = [path, path.with_name(path.name + "-wal")]
        return round(sum(f.stat().st_size for f in files if f.exists()) / 1e6, 1)
    db = Database.connect(url)
    try:
        async with db.connection() as connection:
            size = (await connection.execute(text("SELECT pg_database_size(current_database())"))).scalar()
        return round(int(size or 0) / 1e6, 1)
    finally:
        await db.close()


# --------------------------------------------------------------------------- measuring


class MemorySampler:
    """The bot process's resident memory (VmRSS), read every 50 ms in the background."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kb = 0
        self.last_kb = 0
        self.phase = "start-up"
        self.phase_peaks_kb: dict[str, int] = {}  # the peak while each command (or step) ran
        self.children_peak_kb = 0
        self._task: asyncio.Task[None] | None = None

    def read_kb(self, pid: int | None = None) -> int:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid or self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def children_kb(self) -> int:
        """The resident memory of the bot's child processes (the chart-drawing one)."""
        children: list[int] = []
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{self.pid}/task").iterdir():
                children += [int(pid) for pid in (task / "children").read_text().split()]
        return sum(self.read_kb(pid) for pid in children)

    async def _sample(self) -> None:
        while True:
            self.children_peak_kb = max(self.children_peak_kb, self.children_kb())
            self.last_kb = self.read_kb() or self.last_kb
            self.peak_kb = max(self.peak_kb, self.last_kb)
            self.phase_peaks_kb[self.phase] = max(self.phase_peaks_kb.get(self.phase, 0), self.last_kb)
            await asyncio.sleep(SAMPLE_SECONDS)

    def start(self) -> None:
        self._task = asyncio.create_task(self._sample())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


@dataclass(frozen=True)
class Command:
    """One admin (or clerk, or driver) command: who types it, and what counts as its answer."""

    label: str
    user: int
    line: str
    answer: Callable[[ChatMessage], bool]
    done: Callable[[ChatMessage], bool] | None = None  # the last of its messages, if it sends several


def _any(message: ChatMessage) -> bool:
    return True


def _document(message: ChatMessage) -> bool:
    return message.document is not None


def _photo(message: ChatMessage) -> bool:
    return message.photo is not None


def commands(seeded: Seeded) -> list[Command]:
    admin = iter(ADMINS)
    long_history = FIRST_DRIVER + seeded.long_history_driver
    return [
        Command("/stats", next(admin), "/stats", _any, _photo),
        Command("/stats las-vegas 30", next(admin), "/stats las-vegas 30", _any, _photo),
        Command("/export offers 30", next(admin), "/export offers 30", _document),
        Command("/export drivers", next(admin), "/export drivers", _document),
        Command("/offers", next(admin), "/offers", _any),
        Command("/offers today", next(admin), "/offers today", _any),
        Command("/offers las-vegas", next(admin), "/offers las-vegas", _any),
        Command("/drivers", next(admin), "/drivers", _any),
        Command("/drivers online", next(admin), "/drivers online", _any),
        Command("/driver ID", next(admin), f"/driver {seeded.long_history_driver}", _any),
        Command("/offer ID", next(admin), f"/offer {seeded.many_copies_offer}", _any),
        Command("/orders", CLERK, "/orders", _any),
        Command("/status", long_history, "/status", _any),
    ]


async def ask(
    emulator: BotApiEmulator, user: int, line: str, answer: Callable[[ChatMessage], bool], timeout: float
) -> tuple[float | None, ChatMessage | None]:
    """Type `line` and wait for the bot's answer: (seconds, the answer), or (None, None) on timeout."""
    chat = emulator.chat(user)
    after = chat[-1].message_id if chat else 0
    started = time.monotonic()
    await emulator.send_text(user, line)
    try:
        message = await emulator.wait_for_message(user, answer, after=after, timeout=timeout)
    except TimeoutError:
        return None, None
    return time.monotonic() - started, message


def _p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(0.95 * len(ordered) + 0.5) - 1))]


async def time_commands(
    emulator: BotApiEmulator,
    seeded: Seeded,
    runs: int,
    timeout: float,
    say: Callable[[str], None],
    sampler: MemorySampler,
) -> dict[str, dict[str, Any]]:
    """Each command `runs` times, one after another: p95, median, and what it answered."""
    results: dict[str, dict[str, Any]] = {}
    for command in commands(seeded):
        sampler.phase = command.label
        seconds: list[float] = []
        first_line = ""
        late: float | None = None
        for _ in range(runs):
            chat = emulator.chat(command.user)
            before = chat[-1].message_id if chat else 0
            sent = time.monotonic()
            took, message = await ask(emulator, command.user, command.line, command.answer, timeout)
            if took is None:
                # The bot is still at it: let it finish (within bounds), or the next commands would
                # be timed behind it.
                with contextlib.suppress(TimeoutError):
                    await emulator.wait_for_message(
                        command.user, command.answer, after=before, timeout=LATE_FACTOR * timeout
                    )
                    late = round(time.monotonic() - sent, 1)
                await asyncio.sleep(1.1)
                break
            seconds.append(took)
            if message is not None and not first_line:
                shown = message.text or (message.document.file_name if message.document else "") or ""
                first_line = shown.splitlines()[0][:70] if shown else ""
            if command.done is not None:
                with contextlib.suppress(TimeoutError):
                    await emulator.wait_for_message(command.user, command.done, after=before, timeout=timeout)
            await asyncio.sleep(1.1)  # the chat's pacing: each run's answer starts a fresh second
        timed_out = len(seconds) < runs
        figures_of = {
            "p95_s": round(_p95(seconds), 3) if seconds and not timed_out else None,
            "median_s": round(statistics.median(seconds), 3) if seconds and not timed_out else None,
            "runs_s": [round(value, 3) for value in seconds],
            "timeout": timed_out,
            "late_answer_s": late,
            "answer": first_line,
        }
        results[command.label] = figures_of
        shown = (
            f"timeout (answered after {late} s)"
            if timed_out
            else f"p95 {figures_of['p95_s']} s, median {figures_of['median_s']} s"
        )
        say(f"  {command.label:<22} {shown:<34} {first_line}")
    return results


def _figures(results: list[PressResult]) -> dict[str, float | int]:
    if not any(result.latency is not None for result in results):
        return {"answered": sum(1 for result in results if result.answered), "p50_ms": 0.0, "p99_ms": 0.0}
    return figures(results)


def _has_copy(emulator: BotApiEmulator, user: int) -> bool:
    message = emulator.last_bot_message(user)
    return message is not None and message.text is not None and "📦 New offer" in message.text


def _holds_job(emulator: BotApiEmulator, user: int) -> bool:
    message = emulator.last_bot_message(user)
    return message is not None and message.buttons == [EN(keyboards.CONFIRM_PICKUP), EN(keyboards.RELEASE)]


async def _job_cards(emulator: BotApiEmulator, drivers: Sequence[int], timeout: float) -> int:
    """How many of the drivers' copies became the job card once the award window closed."""
    with contextlib.suppress(TimeoutError):
        await emulator.wait_until(
            lambda: any(_holds_job(emulator, user) for user in drivers), timeout=timeout
        )
    await asyncio.sleep(2.0)  # a second award would have shown by now
    return sum(1 for user in drivers if _holds_job(emulator, user))


async def wave_and_race(
    emulator: BotApiEmulator, seeded: Seeded, wave: int, timeout: float, seed_value: int
) -> tuple[dict[str, Any], list[int]]:
    """/newoffer to `wave` online drivers: the time to the last copy; then they all press Accept."""
    emulator.reset_stats()
    expected = min(wave, len(seeded.wave_candidates))
    waiting = set(seeded.wave_candidates)
    reached: list[int] = []
    started = time.monotonic()
    await emulator.send_text(ADMINS[0], offer_line())
    deadline = started + max(timeout, 3 * expected / RATE + 30)
    while len(reached) < expected and time.monotonic() < deadline:
        for user in [user for user in waiting if _has_copy(emulator, user)]:
            waiting.discard(user)
            reached.append(user)
        await asyncio.sleep(0.02)
    last_copy = time.monotonic() - started
    floor = expected / RATE
    results = await press_all(
        reached, lambda d: emulator.press(d, EN(keyboards.ACCEPT), timeout=timeout), seed_value
    )
    won = EN(texts.PRESS_ANSWERS[Press.AWARDED])
    winners = sum(1 for result in results if result.text == won)
    if not winners:  # an award window: every press was told "you're in"; the award comes at its close
        winners = await _job_cards(emulator, reached, timeout)
    race = _figures(results)
    return {
        "wave_drivers": expected,
        "wave_reached": len(reached),
        "wave_last_copy_s": round(last_copy, 2),
        "wave_floor_s": round(floor, 2),
        "wave_ratio_to_floor": round(last_copy / floor, 3) if floor else None,
        "wave_429s": emulator.stats.too_many_requests,
        "race_presses": len(results),
        "race_winners": winners,
        "race_answered": race["answered"],
        "race_p50_ms": race["p50_ms"],
        "race_p99_ms": race["p99_ms"],
    }, reached


async def bare_race_on(emulator: BotApiEmulator, drivers: Sequence[int], seed_value: int) -> dict[str, Any]:
    """The framework's floor: a bare python-telegram-bot app that only answers the same presses."""
    emulator.set_limits(enabled=False)  # its own copies go out at once: only the answers are timed
    bare = _figures(await bare_presses(emulator, drivers, seed_value))
    return {"bare_answered": bare["answered"], "bare_p50_ms": bare["p50_ms"], "bare_p99_ms": bare["p99_ms"]}


# --------------------------------------------------------------------------- the run


async def scale(
    *,
    drivers: int,
    offers: int,
    wave: int,
    runs: int,
    command_timeout: float,
    workdir: Path,
    database_url: str | None = None,
    seed_value: int = 1,
    award_window: int | None = None,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Seed, start the bot, measure; every figure in one dict."""
    url = database_url or f"sqlite+aiosqlite:///{workdir / 'scale.db'}"
    backend = make_url(url).get_backend_name()
    say(f"seeding {drivers} drivers and {offers} offers ({backend}) …")
    seeded = await seed_database(url, drivers=drivers, offers=offers, wave=wave, seed_value=seed_value)
    seeded_size = await database_megabytes(url)
    say(
        f"  seeded in {seeded.seconds} s: {seeded.notices} notices, {seeded.events} events,"
        f" {seeded.outbox} outbox rows; {seeded_size} MB"
    )
    report: dict[str, Any] = {
        "benchmark": "scale",
        "backend": backend,
        "award_window_s": award_window,
        "drivers": drivers,
        "offers": offers,
        "notices": seeded.notices,
        "events": seeded.events,
        "outbox_rows": seeded.outbox,
        "seed_s": seeded.seconds,
        "db_mb_seeded": seeded_size,
    }
    async with BotApiEmulator(token=TOKEN) as emulator:
        for admin in ADMINS:
            emulator.add_user(admin, f"Admin {admin}")
        emulator.add_user(CLERK, "Clara")
        for driver_id in range(1, drivers + 1):
            emulator.add_user(FIRST_DRIVER + driver_id, f"Driver {driver_id}")
        emulator.set_limits(enabled=True, per_second=RATE, per_chat_per_second=1.0)
        environment = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": emulator.url,
            "DATABASE_URL": url,
            "ADMIN_IDS": ",".join(str(admin) for admin in ADMINS),
            "LOG_LEVEL": "WARNING",
            "HTTP_LISTEN": f"127.0.0.1:{free_port()}",
            "WAVE_SIZE": str(wave),
            "MAX_OFFERS_HELD": "1000",
            "ACCEPTANCE_WINDOW_SECONDS": "3600",
            "WAVE_INTERVAL_SECONDS": "3600",
            **({} if award_window is None else {"AWARD_WINDOW_SECONDS": str(award_window)}),
        }
        bot = BotProcess(environment, workdir)
        sampler: MemorySampler | None = None
        try:
            started = time.monotonic()
            await bot.start()
            assert bot.process is not None
            sampler = MemorySampler(bot.process.pid)
            sampler.start()
            took, _ = await ask(
                emulator,
                ADMINS[-1],
                "/help",
                lambda m: EN(texts.HELP_FOOTER) in (m.text or ""),
                STARTUP_TIMEOUT,
            )
            bot.check_alive()
            if took is None:
                raise RuntimeError(f"the bot did not answer within {STARTUP_TIMEOUT} s; see {bot.log_path}")
            report["startup_s"] = round(time.monotonic() - started, 2)
            await asyncio.sleep(2.0)
            report["rss_idle_mb"] = round(sampler.read_kb() / 1024, 1)
            say(f"  started in {report['startup_s']} s; {report['rss_idle_mb']} MB resident when idle")
            say(f"commands, {runs} runs each (timeout {command_timeout:g} s):")
            report["commands"] = await time_commands(emulator, seeded, runs, command_timeout, say, sampler)
            bot.check_alive()
            reach = min(wave, len(seeded.wave_candidates))
            say(f"one wave to {reach} online drivers, then their accept race …")
            sampler.phase = "wave and race"
            race, reached = await wave_and_race(emulator, seeded, wave, command_timeout, seed_value)
            report.update(race)
            await asyncio.sleep(1.0)
            report["rss_peak_mb"] = round(sampler.peak_kb / 1024, 1)
            report["rss_children_peak_mb"] = round(sampler.children_peak_kb / 1024, 1)
            report["rss_peak_by_phase_mb"] = {
                phase: round(kb / 1024, 1) for phase, kb in sampler.phase_peaks_kb.items()
            }
            bot.check_alive()
            report["bot_exit_code"] = await bot.stop()
        finally:
            if sampler is not None:
                await sampler.stop()
            if bot.process is not None and bot.process.returncode is None:
                await bot.kill()
        report["bot_log_tail"] = _log_tail(bot.log_path)
        report["db_mb"] = await database_megabytes(url)
        report.update(await bare_race_on(emulator, reached, seed_value))
    bare_p99 = float(report["bare_p99_ms"])
    report["race_p99_ratio"] = round(float(report["race_p99_ms"]) / bare_p99, 2) if bare_p99 else None
    report["timeouts"] = [label for label, result in report["commands"].items() if result["timeout"]]
    return report


def _log_tail(path: Path, lines: int = 5) -> list[str]:
    """The bot's last warnings and errors (it logs nothing less at WARNING), for a command that
    never answered: a message Telegram refused, say."""
    if not path.exists():
        return []
    logged = [
        line[:300]
        for line in path.read_text(errors="replace").splitlines()
        if "WARNING" in line or "ERROR" in line
    ]
    return logged[-lines:]


def print_report(report: dict[str, Any], say: Callable[[str], None] = print) -> None:
    say(
        f"scale at {report['drivers']} drivers / {report['offers']} offers ({report['backend']}):"
        f" start-up {report['startup_s']} s, memory {report['rss_idle_mb']} MB idle →"
        f" {report['rss_peak_mb']} MB peak, database {report['db_mb_seeded']} → {report['db_mb']} MB"
    )
    highest = sorted(report["rss_peak_by_phase_mb"].items(), key=operator.itemgetter(1), reverse=True)[:3]
    say("  memory peaks by step: " + ", ".join(f"{phase} {mb} MB" for phase, mb in highest))
    say(f"  the chart-drawing process (a child of the bot): {report['rss_children_peak_mb']} MB at its peak")
    say(
        f"  wave to {report['wave_drivers']}: reached {report['wave_reached']}, last copy"
        f" {report['wave_last_copy_s']} s (floor {report['wave_floor_s']} s, ratio"
        f" {report['wave_ratio_to_floor']}), {report['wave_429s']} × 429"
    )
    say(
        f"  accept race: {report['race_winners']} winner(s), {report['race_answered']} /"
        f" {report['race_presses']} answered, p50 {report['race_p50_ms']} ms, p99 {report['race_p99_ms']} ms;"
        f" bare PTB p50 {report['bare_p50_ms']} ms, p99 {report['bare_p99_ms']} ms;"
        f" p99 ratio {report['race_p99_ratio']}"
    )
    if report["timeouts"]:
        say(f"  timed out: {', '.join(report['timeouts'])}")
        for line in report["bot_log_tail"]:
            say(f"  bot log: {line}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.splitlines()[0])
    parser.add_argument("--drivers", type=int, default=10_000)
    parser.add_argument("--offers", type=int, default=100_000)
    parser.add_argument("--wave", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--command-timeout", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default: a fresh SQLite file)")
    parser.add_argument(
        "--window",
        type=int,
        help="AWARD_WINDOW_SECONDS for the race (default: the setting's; 0: first Accept wins)",
    )
    arguments = parser.parse_args(argv)
    if arguments.drivers < 2 or arguments.offers < 1 or arguments.wave < 1 or arguments.runs < 1:
        parser.error("--drivers must be at least 2, and --offers, --wave and --runs at least 1")
    if arguments.database_url:
        try:
            load_database_settings(database_url=arguments.database_url)
        except ConfigError as error:
            parser.error(f"--database-url: {error}")
    with tempfile.TemporaryDirectory(prefix="storerun-scale-") as scratch:
        report = asyncio.run(
            scale(
                drivers=arguments.drivers,
                offers=arguments.offers,
                wave=arguments.wave,
                runs=arguments.runs,
                command_timeout=arguments.command_timeout,
                workdir=Path(scratch),
                database_url=arguments.database_url,
                seed_value=arguments.seed,
                award_window=arguments.window,
            )
        )
    print_report(report)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
