"""Crash rounds: 40 people write at once, the bot is SIGKILLed mid-burst and restarted; count what was lost.

Run: python -m bench.crash [--mode polling|webhook|both] [--rounds 8] [--people 40]

Each round, half the people send a command (/help) and half press a button (Go online / Go offline),
all within about 0.1 s; 20–600 ms after the burst began the bot process (`storerun run`) is killed
with SIGKILL and started again on the same database. Every update must have its effect exactly
once: each one queues exactly one reply, so the replies queued per chat are counted in the
database. The report gives updates lost, applied twice, duplicate messages people saw (a message
whose send was cut short by the kill may arrive twice: sending is at least once), and the time from
a restart to the first update applied. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from bench.cluster import BotProcess, free_port, prepare_database
from bot.config import ConfigError, load_database_settings
from sandbox.emulator import BotApiEmulator
from storage import schema
from storage.db import Database

TOKEN = "123456:CRASH-ROUNDS"
ADMIN_ID = 1000
FIRST_PERSON = 50_000
BURST_SECONDS = 0.1
KILL_AFTER = (0.02, 0.6)  # seconds after the burst began
ROUND_TIMEOUT = 90.0


@dataclass
class CrashReport:
    """What the rounds found, for one mode."""

    mode: str
    rounds: int
    people: int
    updates: int = 0
    lost: int = 0
    applied_twice: int = 0
    duplicate_messages: int = 0
    pending_at_kill: list[int] = field(default_factory=list)
    restart_to_first_applied: list[float] = field(default_factory=list)

    @property
    def restart_p50(self) -> float | None:
        values = self.restart_to_first_applied
        return round(statistics.median(values), 3) if values else None

    def summary(self) -> dict[str, object]:
        figures = asdict(self)
        figures["restart_to_first_applied_p50"] = self.restart_p50
        figures["restart_to_first_applied_max"] = (
            round(max(self.restart_to_first_applied), 3) if self.restart_to_first_applied else None
        )
        figures["restart_to_first_applied"] = [round(value, 3) for value in self.restart_to_first_applied]
        return figures


async def _replies_per_chat(db: Database) -> dict[int, int]:
    """Replies queued per chat: one per applied update, so the count says what was applied."""
    o = schema.outbox
    async with db.read() as tx:
        rows = await tx.connection.execute(select(o.c.chat_id, func.count()).group_by(o.c.chat_id))
        return {int(chat): int(count) for chat, count in rows}


async def _sent_per_chat(db: Database) -> tuple[dict[int, int], int]:
    o = schema.outbox
    async with db.read() as tx:
        rows = await tx.connection.execute(
            select(o.c.chat_id, func.count()).where(o.c.status == "sent").group_by(o.c.chat_id)
        )
        pending = (await tx.connection.execute(select(func.count()).where(o.c.status == "pending"))).scalar()
    return {int(chat): int(count) for chat, count in rows}, int(pending or 0)


async def _first_applied_since(db: Database, since: datetime) -> datetime | None:
    i = schema.inbox
    async with db.read() as tx:
        query = select(func.min(i.c.done_at)).where(i.c.status == "done", i.c.done_at >= since)
        found: datetime | None = (await tx.connection.execute(query)).scalar()
    return found


async def _kill_once_stored(bot: BotProcess, db: Database, deadline: float) -> tuple[int, float]:
    """Kill the bot as soon as an update waits in its inbox (or at the deadline); how many wait,
    and when it was killed."""
    while time.monotonic() < deadline and not await _pending_updates(db):  # noqa: ASYNC110 (another process's table)
        await asyncio.sleep(0.002)
    bot.check_alive()
    await bot.kill()
    return await _pending_updates(db), time.monotonic()


async def _pending_updates(db: Database) -> int:
    async with db.read() as tx:
        return (await tx.inbox.backlog()).pending


async def crash_rounds(
    *,
    mode: str,
    rounds: int = 8,
    people: int = 40,
    workdir: Path,
    database_url: str | None = None,
    seed_value: int = 1,
    say: Callable[[str], None] = print,
) -> CrashReport:
    """Run the rounds against a fresh database in `workdir` (or `database_url`, which must be empty)."""
    rng = random.Random(seed_value)
    everyone = list(range(FIRST_PERSON, FIRST_PERSON + people))
    drivers = everyone[::2]  # they press a button; the others send a command
    url = database_url or f"sqlite+aiosqlite:///{workdir / 'crash.db'}"
    await prepare_database(url, drivers)
    report = CrashReport(mode=mode, rounds=rounds, people=people)
    http_port = free_port()
    async with BotApiEmulator(token=TOKEN) as emulator:
        emulator.add_user(ADMIN_ID, "Ada")
        for user_id in everyone:
            emulator.add_user(user_id, f"P{user_id}")
        environment = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": emulator.url,
            "DATABASE_URL": url,
            "ADMIN_IDS": str(ADMIN_ID),
            "LOG_LEVEL": "INFO",
            "HTTP_LISTEN": f"127.0.0.1:{http_port}",
            "REQUEST_TIMEOUT_SECONDS": "5",
        }
        if mode == "webhook":
            environment["WEBHOOK_URL"] = f"http://127.0.0.1:{http_port}/telegram/webhook"
            environment["WEBHOOK_SECRET"] = "crash-rounds-secret"
        bot = BotProcess(environment, workdir)
        db = Database.connect(url)
        try:
            await bot.start()
            # Everyone writes once first, so each driver has a message to press a button under.
            status_message: dict[int, int] = {}
            for user_id in everyone:
                await emulator.send_text(user_id, "/status" if user_id in drivers else "/help")
            for user_id in everyone:
                reply = await emulator.wait_for_message(user_id, lambda message: True, timeout=60)
                status_message[user_id] = reply.message_id
            baseline = await _replies_per_chat(db)
            for number in range(1, rounds + 1):
                order = everyone[:]
                rng.shuffle(order)
                kill_after = rng.uniform(*KILL_AFTER)
                presses: list[asyncio.Task[object]] = []
                began = time.monotonic()
                # The first round kills the moment updates wait in the inbox, stored but not applied,
                # so that case is met on any machine; the others kill at a random moment.
                watcher = (
                    asyncio.create_task(_kill_once_stored(bot, db, began + KILL_AFTER[1]))
                    if number == 1
                    else None
                )
                for index, user_id in enumerate(order):
                    await asyncio.sleep(
                        max(0.0, began + BURST_SECONDS * index / len(order) - time.monotonic())
                    )
                    if user_id in drivers:
                        data = "1:on:0" if number % 2 else "1:off:0"
                        press = emulator.press_callback(user_id, status_message[user_id], data, timeout=5.0)
                        presses.append(asyncio.create_task(press))
                    else:
                        await emulator.send_text(user_id, "/help")
                    report.updates += 1
                if watcher is not None:
                    pending, killed_at = await watcher
                    kill_after = killed_at - began
                else:
                    await asyncio.sleep(max(0.0, began + kill_after - time.monotonic()))
                    bot.check_alive()
                    await bot.kill()
                    pending = await _pending_updates(db)
                report.pending_at_kill.append(pending)
                restarted = datetime.now(UTC)
                await bot.start()
                await _wait_for_round(db, bot, baseline, everyone, number)
                first = await _first_applied_since(db, restarted)
                if pending and first is not None:
                    report.restart_to_first_applied.append((first - restarted).total_seconds())
                await asyncio.gather(*presses, return_exceptions=True)
                say(
                    f"round {number}: killed {kill_after * 1000:.0f} ms into the burst,"
                    f" {pending} updates waiting in the inbox at the kill"
                )
            await _wait_for_outbox(db, bot)
            replies = await _replies_per_chat(db)
            for user_id in everyone:
                applied = replies.get(user_id, 0) - baseline.get(user_id, 0)
                report.lost += max(0, rounds - applied)
                report.applied_twice += max(0, applied - rounds)
            sent, _ = await _sent_per_chat(db)
            for user_id in everyone:
                seen = sum(1 for message in emulator.chat(user_id) if message.from_bot)
                report.duplicate_messages += max(0, seen - sent.get(user_id, 0))
            code = await bot.stop()
            if code != 0:
                raise RuntimeError(f"the bot did not stop cleanly ({code}); see {bot.log_path}")
        finally:
            if bot.process is not None and bot.process.returncode is None:
                await bot.kill()
            await db.close()
    return report


async def _wait_for_round(
    db: Database, bot: BotProcess, baseline: dict[int, int], everyone: list[int], rounds_done: int
) -> None:
    """Until every update so far has its reply queued (or the time is up: the report then counts)."""
    deadline = time.monotonic() + ROUND_TIMEOUT
    while time.monotonic() < deadline:
        bot.check_alive()
        replies = await _replies_per_chat(db)
        applied = all(replies.get(user, 0) - baseline.get(user, 0) >= rounds_done for user in everyone)
        if applied and await _pending_updates(db) == 0:
            return
        await asyncio.sleep(0.05)


async def _wait_for_outbox(db: Database, bot: BotProcess) -> None:
    deadline = time.monotonic() + ROUND_TIMEOUT
    while time.monotonic() < deadline:
        bot.check_alive()
        _, pending = await _sent_per_chat(db)
        if pending == 0:
            await asyncio.sleep(0.5)  # a call marked sent has reached the emulator already
            return
        await asyncio.sleep(0.1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.crash", description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["polling", "webhook", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--people", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default: a fresh SQLite file)")
    arguments = parser.parse_args(argv)
    if arguments.database_url and arguments.mode == "both":
        parser.error("--database-url needs one --mode: each mode wants an empty database")
    if arguments.database_url:
        try:
            load_database_settings(database_url=arguments.database_url)
        except ConfigError as error:
            parser.error(f"--database-url: {error}")
    modes = ["polling", "webhook"] if arguments.mode == "both" else [arguments.mode]
    figures: dict[str, object] = {}
    for mode in modes:
        with tempfile.TemporaryDirectory(prefix=f"storerun-crash-{mode}-") as scratch:
            print(f"{mode}: {arguments.rounds} rounds of {arguments.people} people, SIGKILL in each")
            report = asyncio.run(
                crash_rounds(
                    mode=mode,
                    rounds=arguments.rounds,
                    people=arguments.people,
                    workdir=Path(scratch),
                    database_url=arguments.database_url,
                    seed_value=arguments.seed,
                )
            )
        print(
            f"{mode}: {report.updates} updates, {report.lost} lost, {report.applied_twice} applied twice,"
            f" {report.duplicate_messages} duplicate messages seen;"
            f" restart to first applied update p50 {report.restart_p50} s"
        )
        figures[mode] = report.summary()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
