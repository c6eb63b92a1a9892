"""Exports and charts as uploads: the file is stored once beside its outbox row, read when sent,
and gone once sent or given up; large ones arrive zipped, too large ones are refused."""

from __future__ import annotations

import base64
import csv
import io
import json
import zipfile

import pytest
from sqlalchemy import func, select

from bot import texts
from bot.app import StorerunBot
from bot.i18n import Words
from dispatch import exports
from dispatch.exports import GeneratedFile, queue_upload
from dispatch.outbox import Delivery, Outgoing
from sandbox.emulator import BotApiEmulator
from storage import schema
from storage.records import Language
from tests.e2e.conftest import ADMIN_ID
from tests.e2e.people import new_offer


async def stored_files(bot: StorerunBot) -> int:
    async with bot.db.read() as tx:
        return int((await tx.connection.execute(select(func.count()).select_from(schema.files))).scalar_one())


async def outbox_payloads(bot: StorerunBot, kind: Delivery | None = None) -> list[str]:
    o = schema.outbox
    query = select(o.c.payload).order_by(o.c.id)
    if kind is not None:
        query = query.where(o.c.kind == kind)
    async with bot.db.read() as tx:
        return [str(payload) for payload in (await tx.connection.execute(query)).scalars()]


def offer_ids(content: bytes) -> list[int]:
    return [int(row["id"]) for row in csv.DictReader(io.StringIO(content.decode("utf-8"), newline=""))]


async def test_admin_gets_the_export_and_no_copy_of_the_file_stays_behind(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    offer = await new_offer(emulator)

    await emulator.send_text(ADMIN_ID, "/export offers 1")

    message = await emulator.wait_for_message(ADMIN_ID, lambda m: m.document is not None)
    assert message.document is not None and message.document.file_name == "offers-1d.csv"
    assert offer_ids(message.document.content) == [offer.offer_id]
    await storerun.sender.drain()
    (payload,) = await outbox_payloads(storerun, Delivery.DOCUMENT)
    reference = json.loads(payload)["document"]
    assert reference == {"file_ref": reference["file_ref"], "filename": "offers-1d.csv"}
    assert await stored_files(storerun) == 0
    inline = base64.b64encode(message.document.content).decode()
    assert not [payload for payload in await outbox_payloads(storerun) if inline in payload]


async def test_a_large_export_arrives_zipped(
    emulator: BotApiEmulator, storerun: StorerunBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    offer = await new_offer(emulator)
    monkeypatch.setattr(exports, "COMPRESS_ABOVE_BYTES", 100)

    await emulator.send_text(ADMIN_ID, "/export offers 1")

    message = await emulator.wait_for_message(ADMIN_ID, lambda m: m.document is not None)
    assert message.document is not None and message.document.file_name == "offers-1d.zip"
    with zipfile.ZipFile(io.BytesIO(message.document.content)) as archive:
        assert archive.namelist() == ["offers-1d.csv"]
        assert offer_ids(archive.read("offers-1d.csv")) == [offer.offer_id]
    await storerun.sender.drain()
    assert await stored_files(storerun) == 0


async def test_an_export_too_large_for_telegram_is_refused_plainly(
    emulator: BotApiEmulator, storerun: StorerunBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    await new_offer(emulator)
    # Even zipped, one offer's file is over a limit of 200 bytes.
    monkeypatch.setattr(exports, "COMPRESS_ABOVE_BYTES", 100)
    monkeypatch.setattr(exports, "DOCUMENT_LIMIT_BYTES", 200)

    await emulator.send_text(ADMIN_ID, "/export offers 1")

    refusal = Words(Language.EN)(texts.EXPORT_TOO_LARGE, megabytes=1, limit=0)
    await emulator.wait_for_message(ADMIN_ID, lambda m: m.text == refusal)
    await storerun.sender.drain()
    assert not [m for m in emulator.chat(ADMIN_ID) if m.document is not None]
    assert await stored_files(storerun) == 0
    assert await outbox_payloads(storerun, Delivery.DOCUMENT) == []


async def test_stats_chart_is_uploaded_from_a_stored_file_then_removed(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    await emulator.send_text(ADMIN_ID, "/stats")

    chart = await emulator.wait_for_message(ADMIN_ID, lambda m: m.photo is not None)
    assert chart.photo is not None and chart.photo.content.startswith(b"\x89PNG")
    await storerun.sender.drain()
    (payload,) = await outbox_payloads(storerun, Delivery.PHOTO)
    assert json.loads(payload)["photo"]["filename"] == "stats.png"
    assert await stored_files(storerun) == 0


async def test_a_document_for_a_chat_that_blocked_the_bot_is_given_up_and_its_file_removed(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    emulator.block_chat(ADMIN_ID)
    document = Outgoing(ADMIN_ID, Delivery.DOCUMENT, {"caption": "Offers"})

    await queue_upload(storerun.dispatch, document, "document", GeneratedFile("offers-1d.csv", b"id\n1\n"))

    await storerun.sender.drain()
    assert not [m for m in emulator.chat(ADMIN_ID) if m.document is not None]
    async with storerun.db.read() as tx:
        statuses = (await tx.outbox.counts()).keys()
    assert "failed" in statuses
    assert await stored_files(storerun) == 0


async def test_a_document_queued_inline_before_files_were_stored_is_still_sent(
    emulator: BotApiEmulator, storerun: StorerunBot
) -> None:
    content = b"id,ref\n7,OLD\n"
    inline = {"_file": "offers-7d.csv", "base64": base64.b64encode(content).decode()}

    await storerun.dispatch.send(
        Outgoing(ADMIN_ID, Delivery.DOCUMENT, {"document": inline, "caption": "Old"})
    )

    message = await emulator.wait_for_message(ADMIN_ID, lambda m: m.document is not None)
    assert message.document is not None
    assert (message.document.file_name, message.document.content) == ("offers-7d.csv", content)
