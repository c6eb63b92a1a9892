"""Fan-out benchmark: 600 bulk messages through the outbox at Telegram's limits, with 20 replies cutting in.

Run with `python -m bench.fanout`. The emulator enforces 30 messages a second and one a second per
chat; the report gives the total time against the 600 / 30 = 20 s floor, the 429s received, and the
interactive replies' latency (queued to delivered). The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from telegram import Bot
from telegram.request import HTTPXRequest

from bot.sender import OutboxSender, SenderLimits
from dispatch.clock import SystemClock
from dispatch.outbox import Delivery, Lane, Outgoing, enqueue
from sandbox.emulator import BotApiEmulator
from storage.db import Database

TOKEN = "123456:BENCH-TOKEN"
RATE = 30.0


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def fanout(chats: int, replies: int, folder: Path) -> dict[str, float | int]:
    clock = SystemClock()
    db = Database.connect(f"sqlite+aiosqlite:///{folder / 'bench.db'}")
    await db.upgrade()
    async with BotApiEmulator(token=TOKEN) as emulator:
        bulk_chats = range(100_000, 100_000 + chats)
        reply_chats = range(200_000, 200_000 + replies)
        for chat in [*bulk_chats, *reply_chats]:
            emulator.add_user(chat, f"Person {chat}")
        emulator.set_limits(enabled=True, per_second=RATE, per_chat_per_second=1.0)
        request = HTTPXRequest(connection_pool_size=64)
        async with Bot(TOKEN, base_url=f"{emulator.url}/bot", request=request) as bot:
            sender = OutboxSender(db, bot, clock, SenderLimits(per_second=RATE))
            async with db.transaction() as tx:
                for chat in bulk_chats:
                    message = Outgoing(chat, Delivery.MESSAGE, {"text": "New offer near you"}, lane=Lane.BULK)
                    await enqueue(tx, message, clock.now())
            started = time.monotonic()
            await sender.start()
            reply_ids = []
            # The replies arrive spread over the run, as people press buttons during a broadcast.
            spacing = (chats / RATE) * 0.9 / replies
            for chat in reply_chats:
                await asyncio.sleep(spacing)
                async with db.transaction() as tx:
                    reply = Outgoing(chat, Delivery.MESSAGE, {"text": "It's yours"}, lane=Lane.INTERACTIVE)
                    reply_ids.append(await enqueue(tx, reply, clock.now()))
                sender.wake()
            await sender.drain(timeout=120)
            total = time.monotonic() - started
            await sender.stop()
            delivered = sum(1 for chat in [*bulk_chats, *reply_chats] if emulator.chat(chat))
        latencies = [sender.stats.latencies[row] for row in reply_ids]
    await db.close()
    return {
        "messages": chats + replies,
        "delivered": delivered,
        "total_seconds": round(total, 2),
        "limit_seconds": round(chats / RATE, 2),
        "ratio_to_limit": round(total / (chats / RATE), 3),
        "too_many_requests": emulator.stats.too_many_requests,
        "interactive_p50_seconds": round(statistics.median(latencies), 3),
        "interactive_p95_seconds": round(percentile(latencies, 0.95), 3),
    }


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--chats", type=int, default=600)
    options.add_argument("--replies", type=int, default=20)
    arguments = options.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        figures = asyncio.run(fanout(arguments.chats, arguments.replies, Path(folder)))
    target_met = (
        figures["total_seconds"] <= figures["limit_seconds"] + 1
        and figures["too_many_requests"] == 0
        and figures["interactive_p95_seconds"] <= 1.0
        and figures["delivered"] == figures["messages"]
    )
    print(f"fan-out of {arguments.chats} bulk messages + {arguments.replies} interactive replies")
    print(f"  delivered            {figures['delivered']} / {figures['messages']}")
    print(
        f"  total time           {figures['total_seconds']} s "
        f"(limit {figures['limit_seconds']} s at {RATE:.0f}/s, ratio {figures['ratio_to_limit']})"
    )
    print(f"  429 responses        {figures['too_many_requests']}")
    print(
        f"  interactive latency  p50 {figures['interactive_p50_seconds']} s, "
        f"p95 {figures['interactive_p95_seconds']} s"
    )
    print(f"  target (<= limit + 1 s, 0 x 429, p95 <= 1 s): {'met' if target_met else 'MISSED'}")
    print(json.dumps({"benchmark": "fanout", **figures, "target_met": target_met}))


if __name__ == "__main__":
    main()
