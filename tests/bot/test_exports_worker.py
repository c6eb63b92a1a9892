"""The export builder answers each request in the language of the chat that asked: the file's header
row, its caption, the /stats numbers and the chart's words (English for a chat that never wrote)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot import export_words, texts
from bot.export_words import ChartLabels
from bot.exports_worker import ExportWorker
from dispatch.clock import FakeClock
from dispatch.dispatcher import Dispatch
from dispatch.exports import COLUMNS, ExportKind, request_export, request_stats
from dispatch.outbox import Delivery
from dispatch.pilot import PILOT_FILE, read_pilot, seed
from dispatch.stats import Stats, compute_stats
from storage import schema
from storage.db import Database
from storage.records import Language

NOW = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)
ENGLISH, SPANISH, NEVER_WROTE = 501, 502, 503


class Tagged(texts.Texts):
    """Texts that say which language rendered them, so a test tells them apart before the Spanish
    catalog has a word."""

    def __call__(self, message: str, **params: object) -> str:
        return f"[{self.language}] {super().__call__(message, **params)}"


class RecordingDrawer:
    """Stands in for the drawing process: keeps the words it was given."""

    def __init__(self) -> None:
        self.labels: list[ChartLabels] = []

    async def draw(self, stats: Stats, labels: ChartLabels) -> bytes:
        self.labels.append(labels)
        return b"\x89PNG"

    def close(self) -> None:
        return None


async def built(db: Database, ask: list[tuple[int, ExportKind | None]]) -> tuple[ExportWorker, FakeClock]:
    """Each chat's request (a kind of file, or None for /stats) built by a worker with Tagged texts."""
    clock = FakeClock(NOW)
    await seed(db, read_pilot(PILOT_FILE))
    async with db.transaction() as tx:
        await tx.drivers.add(601, 601, "Ana", NOW - timedelta(days=1))
        await tx.chats.set_language(ENGLISH, Language.EN, NOW)
        await tx.chats.set_language(SPANISH, Language.ES, NOW)
    made = {language: Tagged(language, clock) for language in Language}
    dispatch = Dispatch(db, clock, made.__getitem__)
    worker = ExportWorker(dispatch, made.__getitem__)
    worker.charts = RecordingDrawer()  # type: ignore[assignment]
    for chat_id, kind in ask:
        if kind is None:
            await request_stats(dispatch, chat_id, 7, None, wake=worker.wake)
        else:
            await request_export(dispatch, chat_id, kind, 7, wake=worker.wake)
    await worker.start()
    try:
        await worker.drain()
    finally:
        await worker.stop()
    return worker, clock


async def sent(db: Database, chat_id: int) -> list[tuple[Delivery, dict[str, object]]]:
    o = schema.outbox
    query = select(o.c.kind, o.c.payload).where(o.c.chat_id == chat_id).order_by(o.c.id)
    async with db.read() as tx:
        rows = (await tx.connection.execute(query)).all()
    return [(Delivery(kind), json.loads(payload)) for kind, payload in rows]


async def document_rows(db: Database, chat_id: int) -> tuple[str, list[list[str]]]:
    """The caption and the CSV rows of the one document queued for the chat."""
    ((_, params),) = [(kind, params) for kind, params in await sent(db, chat_id) if kind is Delivery.DOCUMENT]
    reference = params["document"]
    assert isinstance(reference, dict)
    async with db.read() as tx:
        content = await tx.files.content(reference["file_ref"])
    assert content is not None
    return str(params["caption"]), list(csv.reader(io.StringIO(content.decode("utf-8"), newline="")))


async def test_each_chat_gets_its_file_headed_and_captioned_in_its_language(db: Database) -> None:
    kind = ExportKind.DRIVERS
    _, clock = await built(db, [(ENGLISH, kind), (SPANISH, kind), (NEVER_WROTE, kind)])

    files = {chat_id: await document_rows(db, chat_id) for chat_id in (ENGLISH, SPANISH, NEVER_WROTE)}

    for chat_id, language in ((ENGLISH, Language.EN), (SPANISH, Language.ES), (NEVER_WROTE, Language.EN)):
        t, plain = Tagged(language, clock), texts.Texts(language, clock)
        caption, (header, *rows) = files[chat_id]
        names = export_words.HEADERS[kind]
        assert header == [f"[{language}] {plain(names[column])}" for column in COLUMNS[kind]]
        assert caption == texts.export_caption(t, kind, 7)
        assert [row[1] for row in rows] == ["Ana"]
    # Only the header row differs: the data is the same whoever reads it.
    assert files[SPANISH][1][1:] == files[ENGLISH][1][1:] == files[NEVER_WROTE][1][1:]


async def test_stats_and_their_chart_are_in_the_language_of_the_chat_that_asked(db: Database) -> None:
    worker, clock = await built(db, [(SPANISH, None), (NEVER_WROTE, None)])

    spanish, english = Tagged(Language.ES, clock), Tagged(Language.EN, clock)
    stats = await compute_stats(db, now=NOW, days=7)
    drawn = worker.charts.labels  # type: ignore[attr-defined]
    assert [labels.title for labels in drawn] == [
        spanish(export_words.CHART_TITLE),
        english(export_words.CHART_TITLE),
    ]
    for chat_id, t in ((SPANISH, spanish), (NEVER_WROTE, english)):
        (numbers, chart) = await sent(db, chat_id)
        assert numbers == (Delivery.MESSAGE, {"text": texts.stats_text(t, stats)})
        assert chart[0] is Delivery.PHOTO and chart[1]["caption"] == texts.stats_chart_caption(t, 7)
