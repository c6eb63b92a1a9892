"""`storerun sandbox`: the real bot and the Bot API emulator on loopback, with a simulated pilot day.

The bot's CLI (`bot.cli`, the `sandbox` command) calls these and sets up logging first; nothing
here imports the CLI. The bot talks to the emulator over HTTP, as it would to Telegram: for the
scripted visit the CLI hands in a `StartBot` that runs the real bot against the emulator's URL,
and a simulated day (`sandbox.simulation.PilotDay`) runs it in-process on its simulated clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from typing import Protocol

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from sandbox.emulator import BotApiEmulator
from sandbox.simulation import FIRST_CLERK, VEGAS, DayPlan, PilotDay, summary_text

SANDBOX_TOKEN = "123456:SANDBOX-TOKEN"
ADMIN = (1000, "Ada", "ada_admin")
VISITOR = (2001, "Sam", "sam_visitor")
STATUSES = ("open", "accepted", "picked_up", "delivered", "expired")
# How long, in real seconds, the simulated admin leaves an application to the person at the page.
ADMIN_LEAVES_IT_SECONDS = 60.0


class StartBot(Protocol):
    """Runs the real bot, polling the Bot API at `api_url` with `token` and `admin_id` its admin,
    on a fresh database seeded with the pilot, for as long as the context lasts."""

    def __call__(self, *, api_url: str, token: str, admin_id: int) -> AbstractAsyncContextManager[object]: ...


async def tour(emulator: BotApiEmulator) -> str:
    """A short scripted visit: the admin and a visitor say /start; returns both chats."""
    for user_id, _, _ in (ADMIN, VISITOR):
        await emulator.send_text(user_id, "/start")
        await emulator.wait_for_message(user_id, lambda message: message.from_bot, timeout=15)
    return "\n\n".join(
        f"--- chat of {name} ({user_id}) ---\n{emulator.transcript(user_id)}"
        for user_id, name, _ in (ADMIN, VISITOR)
    )


async def run_once(start_bot: StartBot, *, port: int = 8081) -> None:
    """Start the emulator and, with `start_bot`, the bot; play one scripted visit and print it."""
    async with BotApiEmulator(token=SANDBOX_TOKEN, port=port) as emulator:
        for user_id, name, username in (ADMIN, VISITOR):
            emulator.add_user(user_id, name, username=username)
        async with start_bot(api_url=emulator.url, token=SANDBOX_TOKEN, admin_id=ADMIN[0]):
            print(await tour(emulator))


def live_view(day: PilotDay, board: list[tuple[str, dict[str, int], int]], progress: Progress) -> Group:
    """The progress bar and one row per area."""
    table = Table(title="Pilot day, live")
    table.add_column("area")
    for status in STATUSES:
        table.add_column(status.replace("_", " "), justify="right")
    table.add_column("drivers online", justify="right")
    for slug, statuses, online in board:
        table.add_row(slug, *(str(statuses.get(status, 0)) for status in STATUSES), str(online))
    return Group(progress, table)


async def run_day(plan: DayPlan, console: Console | None = None) -> int:
    """Play a pilot day with a live view; print the summary; 0 if every invariant held."""
    console = console or Console()
    progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"))
    clock_task = progress.add_task("opening the day: drivers enroll, stores link", total=plan.hours * 3600)
    day = PilotDay(plan)
    with Live(live_view(day, [], progress), console=console, refresh_per_second=4, transient=False) as live:

        async def tick(running: PilotDay) -> None:
            if running.clock is None or running.day_started is None or running.bot is None:
                return
            now = running.clock.now()
            if now >= running.day_started:
                shown = now.astimezone(VEGAS)
                progress.update(
                    clock_task,
                    completed=(now - running.day_started).total_seconds(),
                    description=f"simulated {shown:%H:%M} Las Vegas time",
                )
            live.update(live_view(running, await running.board(), progress))

        summary = await day.run(on_tick=tick)
    console.print()
    console.print(summary_text(summary))
    return 0 if not summary.problems else 1


async def run_interactive(plan: DayPlan, *, port: int = 8080) -> None:
    """The bot, the emulator and the chat page on 127.0.0.1, with simulated drivers working around."""
    from sandbox.web import ChatPage

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    page: ChatPage | None = None

    async def ready(day: PilotDay) -> None:
        nonlocal page
        assert day.emulator is not None and day.clock is not None
        people = [(day.admin.user_id, day.admin.name, "admin")]
        people += [(FIRST_CLERK + n, f"Clerk {code}", "store") for n, code in enumerate(day.store_codes())]
        page = ChatPage(day.emulator, port=port, people=people, zone=VEGAS, now=day.clock.now)
        await page.start()
        print(
            f"storerun sandbox: open {page.url} to chat with the bot as the admin, a store, or a new driver."
        )
        print(
            f"The Bot API emulator is at {day.emulator.url}; talk to the bot as any user through its\n"
            f'user-side API too: POST {day.emulator.url}/sandbox/users/ID/text {{"text": "/start"}},\n'
            f'POST .../press {{"label": "…"}}, GET .../chat (see README).'
        )
        print("Simulated drivers keep working around you. Ctrl-C stops.", flush=True)

    async def until_stopped(day: PilotDay) -> None:
        if stop.is_set():
            day.stop_early()

    # A person at the page may decide the applications: the simulated admin gives them a minute.
    day = PilotDay(replace(plan, admin_waits=ADMIN_LEAVES_IT_SECONDS * plan.speed))
    try:
        print(summary_text(await day.run(on_tick=until_stopped, on_ready=ready)))
    finally:
        if page is not None:
            with contextlib.suppress(Exception):
                await page.stop()
