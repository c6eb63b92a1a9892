"""The `storerun` command: run the bot, upgrade the database, seed the pilot, try it in the sandbox."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from bot.config import ConfigError, DatabaseSettings, load_database_settings, load_settings
from bot.startup import RejectedToken, open_database
from dispatch.pilot import PILOT_FILE, SeedError, read_pilot, seed

SANDBOX_ONCE_LOG_LEVEL = "WARNING"


class RedactSecrets(logging.Filter):
    """Blanks the bot token and the webhook secret wherever they would appear in a log line."""

    def __init__(self, *secrets: str) -> None:
        super().__init__()
        self.secrets = [secret for secret in secrets if secret]

    def filter(self, record: logging.LogRecord) -> bool:
        line = record.getMessage()
        if any(secret in line for secret in self.secrets):
            for secret in self.secrets:
                line = line.replace(secret, "<secret>")
            record.msg = line
            record.args = None
        return True


def configure_logging(level: str, *secrets: str) -> None:
    """Log lines to stderr; HTTP client logs (which carry the token in URLs) and per-query
    driver chatter stay quiet."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(*secrets))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for noisy in ("httpx", "httpcore", "aiohttp.access", "apscheduler", "aiosqlite"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


async def _upgrade(settings: DatabaseSettings) -> None:
    db = await open_database(settings.database_url, settings.database_connect_timeout_seconds)
    await db.close()


async def _seed(settings: DatabaseSettings, path: Path) -> tuple[int, int]:
    pilot = read_pilot(path)
    db = await open_database(settings.database_url, settings.database_connect_timeout_seconds)
    try:
        return await seed(db, pilot)
    finally:
        await db.close()


async def _run() -> None:
    from bot.app import StorerunBot

    settings = load_settings()
    webhook_secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
    configure_logging(settings.log_level, settings.telegram_bot_token.get_secret_value(), webhook_secret)
    await StorerunBot(settings).run_until_stopped()


@contextlib.asynccontextmanager
async def _sandbox_bot(*, api_url: str, token: str, admin_id: int) -> AsyncIterator[None]:
    """The real bot for `storerun sandbox --once`, polling the emulator at `api_url`: a fresh SQLite
    database in a temporary folder, the pilot seeded, no HTTP server; stopped when the context ends.
    (sandbox.run.StartBot: the sandbox gets the bot from here and never imports the CLI.)"""
    from bot.app import StorerunBot

    with tempfile.TemporaryDirectory(prefix="storerun-sandbox-") as folder:
        settings = load_settings(
            _env_file=None,
            telegram_bot_token=token,
            telegram_api_url=api_url,
            database_url=f"sqlite+aiosqlite:///{Path(folder) / 'storerun.db'}",
            admin_ids=str(admin_id),
            http_listen="",  # no health or metrics server inside a tool
            log_level=SANDBOX_ONCE_LOG_LEVEL,
        )
        bot = StorerunBot(settings)
        await bot.db.upgrade()
        await seed(bot.db, read_pilot(PILOT_FILE))
        await bot.start()
        try:
            yield
        finally:
            await bot.stop()


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="storerun", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run the bot against TELEGRAM_API_URL (polling, or WEBHOOK_URL)")
    db = commands.add_parser("db", help="database maintenance")
    db.add_argument("action", choices=["upgrade"], help="apply every pending migration")
    seeding = commands.add_parser("seed", help="load areas and stores from a TOML file")
    seeding.add_argument("file", nargs="?", type=Path, default=PILOT_FILE, help="default: pilot.toml")
    sandbox = commands.add_parser(
        "sandbox", help="the bot and a Telegram emulator on loopback, no token needed"
    )
    sandbox.add_argument(
        "--speed",
        type=float,
        help="at most N simulated seconds per real second (default 600; 10 with --interactive)",
    )
    sandbox.add_argument("--hours", type=float, default=8, help="length of the simulated day (default 8)")
    sandbox.add_argument("--drivers", type=int, default=40, help="simulated drivers (default 40)")
    sandbox.add_argument("--orders", type=int, default=60, help="orders the stores post (default 60)")
    sandbox.add_argument("--seed", type=int, default=1, help="random seed, for a repeatable day (default 1)")
    sandbox.add_argument("--transcript", type=Path, metavar="DIR", help="write each person's chat to DIR")
    sandbox.add_argument(
        "--chart", type=Path, default=Path("sandbox-out/pilot-day.png"), help="where the chart goes"
    )
    sandbox.add_argument(
        "--interactive", action="store_true", help="a chat page in the browser, drivers around you"
    )
    sandbox.add_argument(
        "--port", type=int, default=8080, help="port of the --interactive page (default 8080)"
    )
    sandbox.add_argument("--once", action="store_true", help="only a short scripted visit: print it and exit")
    return top


def _sandbox(arguments: argparse.Namespace) -> int:
    from sandbox.run import run_day, run_interactive, run_once
    from sandbox.simulation import DayPlan

    if arguments.once:
        configure_logging(SANDBOX_ONCE_LOG_LEVEL)
        asyncio.run(run_once(_sandbox_bot, port=0))
        return 0
    if arguments.speed is None:
        arguments.speed = 10.0 if arguments.interactive else 600.0
    if arguments.speed <= 0 or arguments.hours <= 0 or arguments.drivers < 1 or arguments.orders < 0:
        print("storerun: --speed and --hours must be positive, --drivers at least 1", file=sys.stderr)
        return 2
    plan = DayPlan(
        speed=arguments.speed,
        hours=arguments.hours if not arguments.interactive else 24 * 365,
        drivers=arguments.drivers,
        orders=arguments.orders if not arguments.interactive else arguments.orders * 3 * 365,
        seed=arguments.seed,
        transcript_dir=arguments.transcript,
        chart_path=arguments.chart,
    )
    configure_logging("ERROR")  # the live view and the chat page's instructions stay readable
    if arguments.interactive:
        asyncio.run(run_interactive(plan, port=arguments.port))
        return 0
    return asyncio.run(run_day(plan))


def main(argv: list[str] | None = None) -> int:
    arguments = parser().parse_args(argv)
    try:
        if arguments.command == "run":
            asyncio.run(_run())
        elif arguments.command == "db":
            settings = load_database_settings()
            configure_logging(settings.log_level)
            asyncio.run(_upgrade(settings))
            print("database is up to date")
        elif arguments.command == "seed":
            settings = load_database_settings()
            configure_logging(settings.log_level)
            areas, stores = asyncio.run(_seed(settings, arguments.file))
            print(f"seeded {areas} areas and {stores} stores from {arguments.file}")
        elif arguments.command == "sandbox":
            return _sandbox(arguments)
    except (ConfigError, SeedError, RejectedToken) as error:
        print(f"storerun: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
