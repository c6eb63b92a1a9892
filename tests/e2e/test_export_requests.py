"""/export is a request built in the background: the admin is answered at once, everyone else keeps
being answered while the file is built, and a request left over from before a stop is built on start."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import IO

import pytest
from sqlalchemy import func, insert, select

from bot import exports_worker, texts
from bot.app import StorerunBot
from dispatch import exports
from dispatch.clock import SystemClock
from sandbox.emulator import BotApiEmulator
from storage import schema
from storage.db import Database
from storage.records import Language
from tests.e2e.conftest import ADMIN_ID, BotFactory
from tests.e2e.people import new_offer

BEA = 2001
EN = texts.Texts(Language.EN, SystemClock())


class SlowWriter:
    """The offers CSV writer, held back until the test lets it go on."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.building = asyncio.Event()
        self.go_on = asyncio.Event()
        self._write = exports.write_offers_csv
        monkeypatch.setattr(exports, "write_offers_csv", self.write)

    async def write(
        self,
        db: Database,
        sink: IO[bytes],
        *,
        now: datetime,
        days: int = 30,
        header: Sequence[str] | None = None,
    ) -> None:
        self.building.set()
        await self.go_on.wait()
        await self._write(db, sink, now=now, days=days, header=header)


async def _left_from_before(sqlite_url: str, *, kind: str, days: int, told: bool = False) -> None:
    """A request the admin made before a stop (its first part sent, if `told`)."""
    db = Database.connect(sqlite_url)
    await db.upgrade()
    async with db.transaction() as tx:
        asked = datetime.now(UTC)
        row = {"chat_id": ADMIN_ID, "kind": kind, "days": days, "requested_at": asked}
        row["told_at"] = asked if told else None
        await tx.connection.execute(insert(schema.export_requests).values(**row))
    await db.close()


async def pending_requests(bot: StorerunBot) -> int:
    async with bot.db.read() as tx:
        query = select(func.count()).select_from(schema.export_requests)
        return int((await tx.connection.execute(query)).scalar_one())


async def test_others_are_answered_while_an_export_is_built(
    emulator: BotApiEmulator, storerun: StorerunBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    offer = await new_offer(emulator)
    writer = SlowWriter(monkeypatch)
    monkeypatch.setattr(exports_worker, "STILL_UPLOADING_SECONDS", 0.2)
    emulator.add_user(BEA, "Bea")

    await emulator.send_text(ADMIN_ID, "/export offers 30")
    try:
        await asyncio.wait_for(writer.building.wait(), 10)
        await emulator.send_text(BEA, "/help")

        await emulator.wait_for_message(BEA, EN(texts.HELP_FOOTER))
        assert not [m for m in emulator.chat(ADMIN_ID) if m.document is not None]
        # The admin sees "sending a file…" at once, and again for as long as the file takes.
        await emulator.wait_until(lambda: emulator.stats.calls["sendChatAction"] >= 3)
        assert emulator.chat_action(ADMIN_ID) == "upload_document"
    finally:
        writer.go_on.set()
    document = await emulator.wait_for_message(ADMIN_ID, lambda m: m.document is not None)
    assert document.document is not None and document.document.file_name == "offers-30d.csv"
    assert f"\n{offer.offer_id}," in document.document.content.decode("utf-8")
    assert await pending_requests(storerun) == 0


async def test_a_request_left_from_before_a_stop_is_built_on_start(
    emulator: BotApiEmulator, start_bot: BotFactory, sqlite_url: str
) -> None:
    await _left_from_before(sqlite_url, kind="drivers", days=7)

    storerun = await start_bot()

    document = await emulator.wait_for_message(ADMIN_ID, lambda m: m.document is not None)
    assert document.document is not None and document.document.file_name == "drivers-7d.csv"
    assert document.text == texts.export_caption(EN, "drivers", 7)
    assert await pending_requests(storerun) == 0


async def test_an_export_that_fails_is_reported_once_and_forgotten(
    emulator: BotApiEmulator, storerun: StorerunBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(
        db: Database,
        sink: IO[bytes],
        *,
        now: datetime,
        days: int = 30,
        header: Sequence[str] | None = None,
    ) -> None:
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(exports, "write_offers_csv", broken)

    await emulator.send_text(ADMIN_ID, "/export offers 3")

    await emulator.wait_for_message(ADMIN_ID, EN(texts.EXPORT_FAILED))
    await storerun.exports.drain()
    await storerun.sender.drain()
    failures = [m for m in emulator.chat(ADMIN_ID) if m.text == EN(texts.EXPORT_FAILED)]
    assert len(failures) == 1
    assert not [m for m in emulator.chat(ADMIN_ID) if m.text == EN(texts.SOMETHING_WENT_WRONG)]
    assert await pending_requests(storerun) == 0


async def test_stats_whose_numbers_went_out_before_a_stop_send_only_their_chart_on_start(
    emulator: BotApiEmulator, start_bot: BotFactory, sqlite_url: str
) -> None:
    await _left_from_before(sqlite_url, kind="stats", days=7, told=True)

    storerun = await start_bot()

    chart = await emulator.wait_for_message(ADMIN_ID, lambda m: m.photo is not None)
    assert chart.text == texts.stats_chart_caption(EN, 7)
    await storerun.sender.drain()
    assert [m for m in emulator.chat(ADMIN_ID) if m.from_bot] == [chart]  # the numbers are not sent twice
    assert await pending_requests(storerun) == 0


async def test_stats_are_counted_outside_the_asking_update_and_the_chart_follows_the_numbers(
    emulator: BotApiEmulator, storerun: StorerunBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    counting = asyncio.Event()
    go_on = asyncio.Event()
    compute = exports_worker.compute_stats

    async def slow(*args: object, **kwargs: object) -> object:
        counting.set()
        await go_on.wait()
        return await compute(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(exports_worker, "compute_stats", slow)
    emulator.add_user(BEA, "Bea")

    await emulator.send_text(ADMIN_ID, "/stats las-vegas 30")
    await asyncio.wait_for(counting.wait(), 10)
    await emulator.send_text(BEA, "/help")
    await emulator.wait_for_message(BEA, EN(texts.HELP_FOOTER))  # nobody waits for the counting
    go_on.set()

    numbers = await emulator.wait_for_message(ADMIN_ID, "las-vegas")
    chart = await emulator.wait_for_message(ADMIN_ID, lambda m: m.photo is not None, timeout=60)
    assert numbers.message_id < chart.message_id
    assert chart.photo is not None and chart.photo.content.startswith(b"\x89PNG")
    assert await pending_requests(storerun) == 0
