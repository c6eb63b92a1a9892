"""A short, seeded simulated pilot day: at its end every invariant holds, whatever the machine's load."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from telegram import Update
from telegram.ext import TypeHandler

from bot import keyboards, texts
from dispatch.drivers import Availability
from sandbox.emulator import ChatMessage
from sandbox.simulation import FIRST_DRIVER, DayPlan, Person, PilotDay, held_in_chat, summary_text
from tests.e2e.people import LAS_VEGAS
from tests.e2e.words import (
    APPROVED_BY,
    ASK_PICKUP_CODE,
    DELIVERY_CARD,
    EN,
    JOB_CARD,
    JOB_PICKED_UP,
    LATE_REMINDER,
    REJECTED_BY,
    RELEASED_REOFFERED,
    STORE_ACCEPTED,
    YOU_ARE_APPROVED,
    matches,
    part,
    saying,
)

VEGAS = ZoneInfo("America/Los_Angeles")
# A Monday in the past: no machine's own clock is anywhere near it.
OPENS = datetime(2026, 3, 2, 10, 0, tzinfo=VEGAS)
HUMAN = Person(5001, "Lee Park")  # someone at the chat page, not one of the simulated people
TIMED_LINE = re.compile(r"^\d\d:\d\d:\d\d (bot: |you: |you pressed \[)")


# Every count of a day's summary.
COUNTS = ("offers", "accepted", "delivered", "expired", "no_shows", "messages_sent", "too_many_requests")


def vegas_time(date: int) -> datetime:
    return datetime.fromtimestamp(date, VEGAS)


@pytest.mark.timeout(300)
async def test_a_two_hour_day_at_600x_keeps_every_invariant(tmp_path: Path) -> None:
    plan = DayPlan(
        speed=600,
        hours=2,
        drivers=12,
        orders=12,
        seed=3,
        start=OPENS,
        chart_path=tmp_path / "day.png",
        transcript_dir=tmp_path / "transcripts",
    )
    day = PilotDay(plan)
    checked: dict[str, object] = {}

    async def look_before_the_bot_stops(running: PilotDay) -> None:
        # What the tick sees mid-day is only the live table; the real checks come with the summary.
        checked["board"] = await running.board()

    summary = await day.run(on_tick=look_before_the_bot_stops)

    assert summary.problems == [], summary_text(summary)
    assert summary.offers == plan.orders  # every order a store posted became an offer
    assert summary.acceptance_rate is not None and summary.acceptance_rate >= 0.9, summary_text(summary)
    assert summary.expired <= 2 and summary.no_shows <= 3, summary_text(summary)
    assert plan.orders // 2 <= summary.delivered <= plan.orders, summary_text(summary)
    assert 100 <= summary.messages_sent <= 600, summary_text(summary)
    assert summary.too_many_requests == 0
    assert summary.chart_path is not None
    assert summary.chart_path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert len(summary.transcripts) == 1 + len(day.clerks) + plan.drivers
    admin_chat = (tmp_path / "transcripts" / "1000-Ada.txt").read_text()
    assert part(texts.APPLICATION) in admin_chat and EN(APPROVED_BY, admin="Ada") in admin_chat
    # Each transcript tells when each thing was said and what the person did, in order: the
    # admin approved the drivers before the stores opened; a driver took an offer, confirmed the
    # pickup, read the bot asking for the code, and typed it.
    approve, accept, confirm = (
        pressed(label) for label in (keyboards.APPROVE, keyboards.ACCEPT, keyboards.CONFIRM_PICKUP)
    )
    assert re.search(rf"^09:\d\d:\d\d {re.escape(approve)}$", admin_chat, re.M), admin_chat
    chats = [path.read_text() for path in summary.transcripts]
    took = next(chat for chat in chats if confirm in chat)
    steps = [line.split(" ", 1) for line in took.splitlines() if TIMED_LINE.match(line)]
    assert [at for at, _ in steps] == sorted(at for at, _ in steps), took
    what = [said for _, said in steps]
    assert what.index(accept) < what.index(confirm), took
    confirmed = what.index(confirm)
    assert what[confirmed + 1].startswith(f"bot: {part(ASK_PICKUP_CODE)}"), took
    assert re.fullmatch(r"you: \d{4}", what[confirmed + 2]), took
    assert checked["board"]
    # The stores posted through their chats, and the drivers typed the codes they saw there.
    assert day.emulator is not None
    code_told = matches(STORE_ACCEPTED, code=re.compile(r"\d{4}"))
    assert any(
        code_told.search(m.text or "")
        for clerk in day.clerks.values()
        for m in day.emulator.chat(clerk.user_id)
    )


async def test_the_stores_open_at_10_las_vegas_time_with_every_driver_online(tmp_path: Path) -> None:
    plan = DayPlan(speed=100_000, hours=1, drivers=6, orders=4, seed=5, chart_path=tmp_path / "day.png")
    day = PilotDay(plan)

    summary = await day.run()

    assert summary.problems == [], summary_text(summary)
    assert day.day_started is not None and day.emulator is not None
    opened = day.day_started.astimezone(VEGAS)
    assert (opened.hour, opened.minute) == (10, 0)
    orders = [
        vegas_time(m.date)
        for clerk in day.clerks.values()
        for m in day.emulator.chat(clerk.user_id)
        if not m.from_bot and (m.text or "").startswith("/neworder")
    ]
    assert len(orders) == plan.orders
    assert all(opened <= posted < opened + timedelta(hours=plan.hours) for posted in orders), orders
    first_online = [
        next(
            vegas_time(m.date)
            for m in day.emulator.chat(driver.user_id)
            if m.from_bot and EN(texts.AVAILABILITY[Availability.ONLINE]) in (m.text or "")
        )
        for driver in day.drivers
    ]
    assert max(first_online) <= opened, first_online


@pytest.mark.timeout(300)
async def test_one_seed_plays_the_same_day_on_a_busy_machine(tmp_path: Path) -> None:
    plan = DayPlan(speed=600, hours=1.5, drivers=8, orders=10, seed=7, start=OPENS)

    quiet = await PilotDay(replace(plan, chart_path=tmp_path / "quiet.png")).run()

    async def slow_bot(running: PilotDay) -> None:
        """Every update costs the bot real time, blocking and not, and so does every message sent."""
        assert running.bot is not None and running.emulator is not None

        async def busy(update: Update, context: object) -> None:
            time.sleep(0.004)  # noqa: ASYNC251 (the event loop itself starved, as by a busy CPU)
            await asyncio.sleep(0.03)

        running.bot.application.add_handler(TypeHandler(Update, busy), group=-2)
        for method in ("sendMessage", "editMessageText"):
            running.emulator.stall_next(method, seconds=0.02, times=100_000)

    with burning_a_core():
        busy = await PilotDay(replace(plan, chart_path=tmp_path / "busy.png")).run(on_ready=slow_bot)

    assert quiet.problems == [] and busy.problems == [], (summary_text(quiet), summary_text(busy))
    far_apart = {
        name: (getattr(quiet, name), getattr(busy, name))
        for name in COUNTS
        if abs(getattr(quiet, name) - getattr(busy, name)) > 2
    }
    assert not far_apart, f"quiet vs busy: {far_apart}\n{summary_text(quiet)}\n{summary_text(busy)}"
    assert quiet.acceptance_rate is not None and quiet.acceptance_rate >= 0.9, summary_text(quiet)
    # Time to accept is simulated time: the bot's slowness adds none.
    assert quiet.median_accept_seconds is not None and busy.median_accept_seconds is not None
    assert abs(quiet.median_accept_seconds - busy.median_accept_seconds) <= 2


@contextmanager
def burning_a_core() -> Iterator[None]:
    """Another process keeps one core busy meanwhile."""
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        burner.kill()
        burner.wait()


async def test_a_person_at_the_page_is_answered_before_the_clock_moves_on(tmp_path: Path) -> None:
    plan = DayPlan(
        speed=600, hours=1, drivers=1, orders=0, seed=2, start=OPENS, chart_path=tmp_path / "d.png"
    )
    day = PilotDay(plan)
    seen: dict[str, int] = {}

    async def a_person_types_start(running: PilotDay) -> None:
        # Not a simulated person: this one acts in real time, from outside the simulation.
        assert running.emulator is not None

        async def person() -> None:
            emulator = running.emulator
            assert emulator is not None
            emulator.add_user(HUMAN.user_id, "Lee", last_name="Park")
            await emulator.send_text(HUMAN.user_id, "/start")
            reply = await emulator.wait_for_message(HUMAN.user_id, EN(texts.PICK_AREA), timeout=60)
            seen["sent"], seen["answered"] = emulator.chat(HUMAN.user_id)[0].date, reply.date
            running.stop_early()

        asyncio.get_running_loop().create_task(person())

    await day.run(on_ready=a_person_types_start)

    assert seen, "the person got no answer"
    assert seen["answered"] == seen["sent"]  # handled at the simulated moment it was sent
    assert OPENS - timedelta(hours=1) <= vegas_time(seen["sent"]) <= OPENS + timedelta(hours=plan.hours)


async def test_an_early_stop_keeps_the_last_days_chart(tmp_path: Path) -> None:
    chart = tmp_path / "pilot-day.png"
    chart.write_bytes(b"the chart of the last whole day")
    plan = DayPlan(speed=600, hours=8, drivers=1, orders=5, seed=1, start=OPENS, chart_path=chart)

    async def ctrl_c(running: PilotDay) -> None:
        running.stop_early()

    summary = await PilotDay(plan).run(on_ready=ctrl_c)

    assert summary.chart_path is None
    assert chart.read_bytes() == b"the chart of the last whole day"
    assert "none drawn" in summary_text(summary)


async def test_the_simulated_admin_leaves_applications_to_the_person_playing_the_admin(
    tmp_path: Path,
) -> None:
    plan = DayPlan(
        speed=100_000,
        hours=0.5,
        drivers=1,
        orders=0,
        seed=4,
        start=OPENS,
        admin_waits=600,
        chart_path=tmp_path / "d.png",
    )
    day = PilotDay(plan)
    found: dict[str, object] = {}

    async def the_person_at_the_page_rejects_one(running: PilotDay) -> None:
        assert running.timeline is not None
        running.timeline.start(a_new_driver_and_the_admin(running))

    async def a_new_driver_and_the_admin(running: PilotDay) -> None:
        emulator = running.emulator
        assert emulator is not None
        emulator.add_user(HUMAN.user_id, "Lee", last_name="Park")
        await emulator.send_text(HUMAN.user_id, "/start")
        await running.until(HUMAN, EN(texts.PICK_AREA), within=600)
        await running.press(HUMAN, LAS_VEGAS)
        await running.until(HUMAN, EN(texts.ASK_PHONE, area=LAS_VEGAS), within=600)
        await running.press(HUMAN, EN(keyboards.SKIP))
        card = await running.until(running.admin, saying(texts.APPLICATION, name="Lee Park"), within=600)
        assert card is not None
        await running.pause(300)  # the person playing the admin takes five minutes to decide
        reject = EN(keyboards.REJECT)
        found["undecided after five minutes"] = reject in message(running, card.message_id).buttons
        await running.press(running.admin, reject, card.message_id)
        await running.pause(900)
        found["after"] = message(running, card.message_id).text

    summary = await day.run(on_ready=the_person_at_the_page_rejects_one)

    assert summary.problems == [], summary_text(summary)
    assert found["undecided after five minutes"] is True
    assert EN(REJECTED_BY, admin="Ada") in str(found["after"]), found
    # The simulated driver was approved by the simulated admin, but only after its wait.
    assert day.emulator is not None
    driver_chat = day.emulator.chat(FIRST_DRIVER)
    applied = next(m for m in driver_chat if m.from_bot and m.text == EN(texts.APPLIED)).date
    approved = next(m for m in driver_chat if m.from_bot and m.text == EN(YOU_ARE_APPROVED)).date
    assert approved - applied >= plan.admin_waits


def pressed(label: str) -> str:
    """How a transcript shows a press of the button with this label."""
    return f"you pressed [{EN(label)}]"


def message(running: PilotDay, message_id: int) -> ChatMessage:
    """The admin's message as it looks now."""
    assert running.emulator is not None
    return next(m for m in running.emulator.chat(running.admin.user_id) if m.message_id == message_id)


def test_what_a_driver_holds_is_read_off_their_chat() -> None:
    from sandbox.emulator import ChatMessage, InlineButton

    def bot(message_id: int, text: str, *labels: str) -> ChatMessage:
        keyboard = (
            [[InlineButton(label=label, callback_data="1:x:1", url=None) for label in labels]]
            if labels
            else []
        )
        return ChatMessage(
            message_id=message_id,
            from_bot=True,
            text=text,
            inline_keyboard=keyboard,
            edited=False,
            document=None,
            photo=None,
            date=0,
        )

    where, window, package = "Zara, Level 1", "2:00–2:30 PM PST", EN.n(texts.PACKAGES, 1)
    job = {"where": where, "window": window, "packages": package, "zone": "89109"}
    on_job = (EN(keyboards.CONFIRM_PICKUP), EN(keyboards.RELEASE))
    chat = [
        bot(1, EN(JOB_CARD, title="#4 · Zara · $12.50", ref="D0", **job), *on_job),
        bot(2, EN(JOB_PICKED_UP, title="#5 · Zara · $12.50", ref="D1")),
        bot(
            3,
            EN(DELIVERY_CARD, ref="D1", packages=package, id=5, address="1 Main St", zone="89109"),
            EN(keyboards.DELIVERED),
            EN(keyboards.CANT_DELIVER),
        ),
        bot(4, EN(RELEASED_REOFFERED, title="#6 · Zara · $9.00")),
        bot(5, EN(LATE_REMINDER, where=where, window=window, ref="D7"), *on_job),
    ]
    assert held_in_chat(chat) == {4, 5}
