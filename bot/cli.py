"""The `storerun` command: run the bot, upgrade the database, seed the pilot, try it in the sandbox."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from bot.config import ConfigError, load_database_settings, load_settings
from dispatch.pilot import PILOT_FILE, SeedError, read_pilot, seed
from storage.db import Database


class RedactSecrets(logging.Filter):
    """Blanks the bot token wherever it would appear in a log line."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secret and self.secret in record.getMessage():
            record.msg = record.getMessage().replace(self.secret, "<token>")
            record.args = None
        return True


def configure_logging(level: str, secret: str = "") -> None:
    """Log lines to stderr; HTTP client logs (which carry the token in URLs) stay quiet."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secret))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for noisy in ("httpx", "httpcore", "aiohttp.access", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


async def _upgrade(url: str) -> None:
    db = Database.connect(url)
    try:
        await db.upgrade()
    finally:
        await db.close()


async def _seed(url: str, path: Path) -> tuple[int, int]:
    pilot = read_pilot(path)
    db = Database.connect(url)
    try:
        await db.upgrade()
        return await seed(db, pilot)
    finally:
        await db.close()


async def _run() -> None:
    from bot.app import StorerunBot

    settings = load_settings()
    configure_logging(settings.log_level, settings.telegram_bot_token.get_secret_value())
    await StorerunBot(settings).run_until_stopped()


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="storerun", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run the bot against TELEGRAM_API_URL (polling)")
    db = commands.add_parser("db", help="database maintenance")
    db.add_argument("action", choices=["upgrade"], help="apply every pending migration")
    seeding = commands.add_parser("seed", help="load areas and stores from a TOML file")
    seeding.add_argument("file", nargs="?", type=Path, default=PILOT_FILE, help="default: pilot.toml")
    sandbox = commands.add_parser(
        "sandbox", help="the bot and a Telegram emulator on loopback, no token needed"
    )
    sandbox.add_argument("--port", type=int, default=8081, help="emulator port (default 8081; 0 picks one)")
    sandbox.add_argument("--once", action="store_true", help="play a short scripted visit, print it, exit")
    return top


def main(argv: list[str] | None = None) -> int:
    arguments = parser().parse_args(argv)
    try:
        if arguments.command == "run":
            asyncio.run(_run())
        elif arguments.command == "db":
            settings = load_database_settings()
            configure_logging(settings.log_level)
            asyncio.run(_upgrade(settings.database_url))
            print("database is up to date")
        elif arguments.command == "seed":
            settings = load_database_settings()
            configure_logging(settings.log_level)
            areas, stores = asyncio.run(_seed(settings.database_url, arguments.file))
            print(f"seeded {areas} areas and {stores} stores from {arguments.file}")
        elif arguments.command == "sandbox":
            from sandbox.run import run_sandbox

            asyncio.run(run_sandbox(port=arguments.port, once=arguments.once))
    except (ConfigError, SeedError) as error:
        print(f"storerun: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
