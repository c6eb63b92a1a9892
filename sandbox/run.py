"""`storerun sandbox`: the real bot and the Bot API emulator together on loopback, no token needed."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import tempfile
from pathlib import Path

from bot.app import StorerunBot
from bot.cli import configure_logging
from bot.config import load_settings
from dispatch.pilot import PILOT_FILE, read_pilot, seed
from sandbox.emulator import BotApiEmulator

SANDBOX_TOKEN = "123456:SANDBOX-TOKEN"
ADMIN = (1000, "Ada", "ada_admin")
VISITOR = (2001, "Sam", "sam_visitor")


def instructions(url: str, database: Path) -> str:
    """What a person can do while the sandbox runs."""
    api = f"{url}/sandbox"
    return f"""storerun sandbox is running.
  Bot API emulator  {url}   (the bot polls it exactly as it polls Telegram)
  database          {database}   (fresh for this run, seeded with pilot.toml)
  people            admin {ADMIN[0]} ({ADMIN[1]}), visitor {VISITOR[0]} ({VISITOR[1]})

Talk to the bot as anyone through the emulator's user-side API:
  curl -s -X POST {api}/users -H 'Content-Type: application/json' \\
       -d '{{"user_id": 2002, "first_name": "Lee"}}'
  curl -s -X POST {api}/users/2002/text -H 'Content-Type: application/json' -d '{{"text": "/start"}}'
  curl -s {api}/users/2002/chat
  curl -s -X POST {api}/users/2002/press -H 'Content-Type: application/json' -d '{{"label": "…"}}'
Or from Python: sandbox.client.SandboxClient("{url}").

Press Ctrl-C to stop."""


async def tour(emulator: BotApiEmulator) -> str:
    """A short scripted visit: the admin and a visitor say /start; returns both chats."""
    for user_id, _, _ in (ADMIN, VISITOR):
        await emulator.send_text(user_id, "/start")
        await emulator.wait_for_message(user_id, lambda message: message.from_bot, timeout=15)
    return "\n\n".join(
        f"--- chat of {name} ({user_id}) ---\n{emulator.transcript(user_id)}"
        for user_id, name, _ in (ADMIN, VISITOR)
    )


async def run_sandbox(*, port: int = 8081, once: bool = False, log_level: str = "WARNING") -> None:
    """Start the emulator and the bot, seed the pilot, and run until Ctrl-C (or one tour with `once`)."""
    configure_logging(log_level)
    with tempfile.TemporaryDirectory(prefix="storerun-sandbox-") as folder:
        database = Path(folder) / "storerun.db"
        async with BotApiEmulator(token=SANDBOX_TOKEN, port=port) as emulator:
            for user_id, name, username in (ADMIN, VISITOR):
                emulator.add_user(user_id, name, username=username)
            settings = load_settings(
                _env_file=None,
                telegram_bot_token=SANDBOX_TOKEN,
                telegram_api_url=emulator.url,
                database_url=f"sqlite+aiosqlite:///{database}",
                admin_ids=str(ADMIN[0]),
                log_level=log_level,
            )
            bot = StorerunBot(settings)
            await bot.db.upgrade()
            await seed(bot.db, read_pilot(PILOT_FILE))
            await bot.start()
            try:
                if once:
                    print(await tour(emulator))
                    return
                print(instructions(emulator.url, database), flush=True)
                stop = asyncio.Event()
                loop = asyncio.get_running_loop()
                for signum in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(signum, stop.set)
                await stop.wait()
            finally:
                with contextlib.suppress(Exception):
                    await bot.stop()
