"""The export builder: files asked for with /export, and /stats with its chart, are built here,
after and outside the asking update.

An export takes seconds at scale. Built inside the asking update it would hold that update's
transaction, and on SQLite the one write lock, so every other person would wait. Here it is read
on its own (a read takes no write lock) and only the short write that queues the file and takes
the request off the list is a transaction; a stop or crash mid-build leaves the request, built
again on the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from bot import export_words, texts
from bot.chart_process import ChartDrawer
from dispatch.dispatcher import Dispatch
from dispatch.exports import STATS, ExportKind, ExportTooLarge, GeneratedFile, export_file, queue_upload
from dispatch.outbox import Delivery, Outgoing, enqueue
from dispatch.stats import compute_stats
from storage.records import ExportRequest, Language

log = logging.getLogger(__name__)

# How often an idle builder looks for requests nobody woke it for (another instance's, or those
# left after a moment the database could not be reached).
IDLE_LOOK_SECONDS = 30.0
# Telegram shows a chat action for 5 seconds: while a file takes longer, it is shown again.
STILL_UPLOADING_SECONDS = 4.0


def uploading(chat_id: int) -> Outgoing:
    """The chat's status while its file is built: "sending a file…", no message (so the file,
    when it comes, need not wait a second after one)."""
    return Outgoing(chat_id, Delivery.UPLOADING, {"action": "upload_document"})


class ExportWorker:
    """Builds requested exports one at a time, oldest first, and queues each as a document, in
    the language of the chat that asked (its words, its chart's labels, its file's header row)."""

    def __init__(self, dispatch: Dispatch, catalog: Callable[[Language], texts.Texts] | None = None) -> None:
        self.dispatch = dispatch
        self.texts = catalog or texts.Catalog(dispatch.clock)
        self.charts = ChartDrawer()
        self._wake = asyncio.Event()
        self._stopping = False
        self._building = False
        self._runner: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """A request was recorded: build it now."""
        self._wake.set()

    async def start(self) -> None:
        """Start building; requests left from before a stop come first."""
        self._stopping = False
        self._wake.set()
        self._runner = asyncio.create_task(self._run(), name="exports")

    async def stop(self, grace: float = 10.0) -> None:
        """Stop after the export being built; one still building after `grace` seconds is
        abandoned, and its request waits for the next start."""
        self._stopping = True
        self._wake.set()
        if self._runner is None:
            return
        done, _ = await asyncio.wait({self._runner}, timeout=grace)
        if not done:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        self._runner = None
        self.charts.close()

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait until no request is left or being built (for tests and tools)."""
        async with asyncio.timeout(timeout):
            while True:
                if not self._building and not self._wake.is_set() and await self._oldest() is None:
                    return
                await asyncio.sleep(0.02)

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                while not self._stopping and (request := await self._oldest()) is not None:
                    self._building = True
                    try:
                        await self._build(request)
                    finally:
                        self._building = False
            except Exception as error:  # the database is away for a moment: the request stays
                log.warning("exports: the database is away (%s); looking again soon", type(error).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), IDLE_LOOK_SECONDS)

    async def _oldest(self) -> ExportRequest | None:
        async with self.dispatch.db.read() as tx:
            return await tx.export_requests.oldest()

    async def _reader(self, request: ExportRequest) -> texts.Texts:
        """The words of the chat that asked, as it reads now (English for a chat that never wrote)."""
        async with self.dispatch.db.read() as tx:
            language = await tx.chats.language(request.chat_id)
        return self.texts(language or Language.EN)

    async def _build(self, request: ExportRequest) -> None:
        """Build one request's file and send it, or say why not; either way the request is done."""
        t = await self._reader(request)
        if request.kind == STATS:
            await self._build_stats(request, t)
            return
        d = self.dispatch
        try:
            kind = ExportKind(request.kind)
            # The period ends when it was asked for: built again after a restart, it is the same file.
            building = asyncio.ensure_future(
                export_file(
                    d.db,
                    kind,
                    now=request.requested_at,
                    days=request.days,
                    header=export_words.csv_header(t, kind),
                )
            )
            try:
                while not (await asyncio.wait({building}, timeout=STILL_UPLOADING_SECONDS))[0]:
                    await d.send(uploading(request.chat_id))
            finally:
                building.cancel()  # only if it is still going: the builder is being stopped
            file = building.result()
        except ExportTooLarge as too_large:
            await self._answer(
                request,
                t(texts.EXPORT_TOO_LARGE, megabytes=too_large.megabytes, limit=too_large.limit_megabytes),
            )
            return
        except Exception:
            # Not tried again: what failed once would most likely fail again, on every start.
            log.exception("export %d (%s, %d days) failed", request.id, request.kind, request.days)
            await self._answer(request, t(texts.EXPORT_FAILED))
            return
        caption = texts.export_caption(t, kind, request.days)
        await self._upload(
            request, Outgoing(request.chat_id, Delivery.DOCUMENT, {"caption": caption}), "document", file
        )

    async def _build_stats(self, request: ExportRequest, t: texts.Texts) -> None:
        """The numbers first, as soon as they are counted, then the chart once it is drawn."""
        d = self.dispatch
        try:
            # The period ends when it was asked for: counted again after a restart, it is the same.
            stats = await compute_stats(
                d.db,
                now=request.requested_at,
                days=request.days,
                area_slug=request.area_slug,
                human_min=d.rules.human_min,
            )
            if request.told_at is None:
                async with d.transaction() as tx:
                    if await tx.export_requests.mark_told(request.id, d.clock.now()):
                        numbers = _message(request.chat_id, texts.stats_text(t, stats))
                        await enqueue(tx, numbers, d.clock.now())
            # The chart's words are made here, in the reader's language: the drawing process has no catalogs.
            png = await self.charts.draw(stats, export_words.chart_labels(t, stats))
        except Exception:
            log.exception(
                "stats %d (%s, %d days) failed", request.id, request.area_slug or "all areas", request.days
            )
            await self._answer(request, t(texts.STATS_FAILED))
            return
        chart = Outgoing(
            request.chat_id, Delivery.PHOTO, {"caption": texts.stats_chart_caption(t, request.days)}
        )
        await self._upload(request, chart, "photo", GeneratedFile("stats.png", png))

    async def _upload(
        self, request: ExportRequest, message: Outgoing, field: str, file: GeneratedFile
    ) -> None:
        """Queue the request's file and take the request off the list, together."""
        async with self.dispatch.db.unit() as tx:
            if await tx.export_requests.remove(request.id):  # not already sent by another instance
                await queue_upload(self.dispatch, message, field, file)

    async def _answer(self, request: ExportRequest, text: str) -> None:
        """Take the request off the list with a message instead of its file (in the reader's words)."""
        async with self.dispatch.transaction() as tx:
            if await tx.export_requests.remove(request.id):
                await enqueue(tx, _message(request.chat_id, text), self.dispatch.clock.now())


def _message(chat_id: int, text: str) -> Outgoing:
    """A message already in its reader's words (they were looked up once, for the whole request)."""
    return Outgoing(chat_id, Delivery.MESSAGE, {"text": text})
