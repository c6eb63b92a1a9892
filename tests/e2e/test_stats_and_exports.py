"""/stats and /export through the emulator: the numbers, the chart and the CSV files after real work,
in the language of the chat that asked."""

from __future__ import annotations

import csv
import io
import re
import struct
from datetime import UTC, datetime, timedelta

import pytest

from bot import export_words, keyboards, texts
from bot.app import StorerunBot
from bot.chart_process import ChartDrawer
from bot.export_words import ChartLabels
from bot.i18n import Words
from dispatch.clock import FakeClock
from dispatch.exports import COLUMNS, ExportKind
from dispatch.stats import Stats, compute_stats
from sandbox.emulator import BotApiEmulator
from storage.records import Language
from tests.e2e.conftest import ADMIN_ID, BotFactory
from tests.e2e.people import online_driver

MARIA = 3001
NOON = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)  # 12:00 PST on Wed Nov 25 in Las Vegas
ADDRESS = "3200 Las Vegas Blvd S"
LINE = (
    "/newoffer store=FS-ZARA packages=2 pay=18.50 window=13:00-13:30 date=2026-11-25 zone=89109 "
    f'ref=S1 address="{ADDRESS}"'
)


async def expired_then_reoffered_and_delivered(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> tuple[StorerunBot, int, str]:
    """Maria lets an offer expire; the admin re-offers it; she takes it, picks it up and delivers it."""
    clock = FakeClock(NOON)
    bot = await start_bot(clock=clock, acceptance_window_seconds=600, wave_interval_seconds=60, wave_size=5)
    await online_driver(emulator, MARIA, "Maria")
    await emulator.send_text(ADMIN_ID, LINE)
    card = await emulator.wait_for_message(ADMIN_ID, "Ref S1 ")
    found = re.search(r"Offer #(\d+).*Pickup code: (\d{4})", card.text or "", re.S)
    assert found, card.text
    offer_id, pickup_code = int(found.group(1)), found.group(2)
    first = await emulator.wait_for_message(MARIA, "📦 New offer")

    clock.set(NOON + timedelta(seconds=600))
    await bot.timers.fire_due()
    await emulator.wait_for_message(ADMIN_ID, "expired with no driver")
    assert (await emulator.press(ADMIN_ID, keyboards.REOFFER)).text == "Offered again."
    await emulator.wait_for_message(
        MARIA, lambda m: m.message_id > first.message_id and "📦 New offer" in (m.text or "")
    )
    clock.advance(20)
    await emulator.press(MARIA, "Accept")
    await emulator.wait_for_message(MARIA, "It's yours")
    await emulator.press(MARIA, keyboards.CONFIRM_PICKUP)
    await emulator.wait_for_message(MARIA, "Type the 4-digit")
    await emulator.send_text(MARIA, pickup_code)
    await emulator.wait_for_message(MARIA, "🚗 Deliver order S1")
    assert (await emulator.press(MARIA, keyboards.DELIVERED)).text == "Delivered. Thank you!"
    return bot, offer_id, pickup_code


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return int(width), int(height)


async def test_stats_count_the_expiry_of_an_offer_later_reoffered_and_delivered(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    await expired_then_reoffered_and_delivered(emulator, start_bot)

    await emulator.send_text(ADMIN_ID, "/stats las-vegas 1")

    text = await emulator.wait_for_message(ADMIN_ID, "(las-vegas)")
    assert (text.text or "").splitlines()[:4] == [
        "Fashion Show, Las Vegas Strip (las-vegas) · Nov 25",
        "created 1 · reopened 1 · accepted 1 · expired 1 · cancelled 0",
        "released 0 · no-shows 0 · picked up 1 · delivered 1 · returned 0",
        "accepted before expiry 50% (1 of 2) · median time to accept 20s",
    ]
    chart = await emulator.wait_for_message(ADMIN_ID, lambda m: m.photo is not None)
    assert chart.photo is not None
    assert png_size(chart.photo.content) == (chart.photo.width, chart.photo.height) == (960, 696)


async def test_export_offers_is_one_row_per_offer_in_local_time_without_code_or_address(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    _, offer_id, pickup_code = await expired_then_reoffered_and_delivered(emulator, start_bot)

    await emulator.send_text(ADMIN_ID, "/export offers 7")

    message = await emulator.wait_for_message(ADMIN_ID, lambda m: m.document is not None)
    assert message.document is not None and message.document.file_name == "offers-7d.csv"
    content = message.document.content.decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(content, newline="")))
    assert [int(row["id"]) for row in rows] == [offer_id]
    (row,) = rows
    assert (row["store"], row["area"], row["ref"], row["status"]) == (
        "FS-ZARA",
        "las-vegas",
        "S1",
        "delivered",
    )
    assert row["created_at"] == "2026-11-25T12:00:00-08:00"
    assert row["pickup_start"] == "2026-11-25T13:00:00-08:00"
    assert row["accepted_at"] == "2026-11-25T12:10:20-08:00"
    assert "pickup_code" not in row and pickup_code not in row.values()
    assert "address" not in row and "Las Vegas Blvd" not in content


async def test_export_drivers_keeps_the_phone_number_for_admins(
    emulator: BotApiEmulator, start_bot: BotFactory
) -> None:
    await expired_then_reoffered_and_delivered(emulator, start_bot)

    await emulator.send_text(ADMIN_ID, "/export drivers 7")

    message = await emulator.wait_for_message(ADMIN_ID, lambda m: m.document is not None)
    assert message.document is not None and message.document.file_name == "drivers-7d.csv"
    (maria,) = list(csv.DictReader(io.StringIO(message.document.content.decode("utf-8"), newline="")))
    assert maria["name"] == "Maria" and maria["areas"] == "las-vegas"
    assert maria["phone"].startswith("+1555")
    assert (maria["offered"], maria["accepted"], maria["delivered"], maria["timed_out"]) == (
        "2",
        "1",
        "1",
        "1",
    )
    assert maria["created_at"] == "2026-11-25T12:00:00-08:00"


async def reads_spanish(bot: StorerunBot, chat_id: int) -> None:
    """The chat reads Spanish from now on (as if it had chosen it)."""
    async with bot.db.transaction() as tx:
        await tx.chats.set_language(chat_id, Language.ES, bot.clock.now())


def table(content: bytes) -> tuple[list[str], list[list[str]]]:
    """The header row and the rows of a CSV file."""
    header, *rows = csv.reader(io.StringIO(content.decode("utf-8"), newline=""))
    return header, rows


def header_in(language: Language, kind: ExportKind) -> list[str]:
    """The header row as the catalog renders it: before the Spanish catalog lands, its msgids."""
    t = Words(language)
    return [t(export_words.HEADERS[kind][column]) for column in COLUMNS[kind]]


@pytest.mark.parametrize("kind", list(ExportKind))
async def test_an_exports_header_row_is_in_the_language_of_the_chat_that_asked_and_only_it(
    emulator: BotApiEmulator, start_bot: BotFactory, kind: ExportKind
) -> None:
    bot, _, _ = await expired_then_reoffered_and_delivered(emulator, start_bot)
    await emulator.send_text(ADMIN_ID, f"/export {kind} 7")
    english = await emulator.wait_for_message(ADMIN_ID, lambda m: m.document is not None)
    await reads_spanish(bot, ADMIN_ID)

    await emulator.send_text(ADMIN_ID, f"/export {kind} 7")

    spanish = await emulator.wait_for_message(
        ADMIN_ID, lambda m: m.document is not None, after=english.message_id
    )
    assert english.document is not None and spanish.document is not None
    english_header, english_rows = table(english.document.content)
    spanish_header, spanish_rows = table(spanish.document.content)
    # In English the header is the column codes, as the files always had it.
    assert english_header == header_in(Language.EN, kind) == list(COLUMNS[kind])
    assert spanish_header == header_in(Language.ES, kind)
    # The rows are the same for everyone: codes, plain numbers and ISO times.
    assert spanish_rows == english_rows and len(spanish_rows) == 1
    assert spanish.document.file_name == english.document.file_name == f"{kind}-7d.csv"
    es = texts.Texts(Language.ES, bot.clock)
    assert spanish.text == texts.export_caption(es, kind, 7)


async def test_a_spanish_chat_gets_its_numbers_and_its_charts_words_in_spanish(
    emulator: BotApiEmulator, start_bot: BotFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn: list[ChartLabels] = []
    draw = ChartDrawer.draw

    async def recording(drawer: ChartDrawer, stats: Stats, labels: ChartLabels) -> bytes:
        drawn.append(labels)
        return await draw(drawer, stats, labels)

    monkeypatch.setattr(ChartDrawer, "draw", recording)
    bot, _, _ = await expired_then_reoffered_and_delivered(emulator, start_bot)
    await reads_spanish(bot, ADMIN_ID)

    await emulator.send_text(ADMIN_ID, "/stats las-vegas 1")

    chart = await emulator.wait_for_message(ADMIN_ID, lambda m: m.photo is not None, timeout=60)
    es = texts.Texts(Language.ES, bot.clock)
    stats = await compute_stats(
        bot.db, now=bot.clock.now(), days=1, area_slug="las-vegas", human_min=bot.dispatch.rules.human_min
    )
    numbers = texts.stats_text(es, stats)
    assert [m.text for m in emulator.chat(ADMIN_ID) if m.from_bot and m.text == numbers] == [numbers]
    assert chart.text == texts.stats_chart_caption(es, 1)
    (labels,) = drawn
    assert labels == export_words.chart_labels(es, stats)
    assert (labels.title, labels.accepted, labels.expired) == (
        es(export_words.CHART_TITLE),
        es(export_words.CHART_ACCEPTED),
        es(export_words.CHART_EXPIRED),
    )
    assert [labels.hours[hour] for hour in (0, 12)] == ["12 a.m.", "12 p.m."]  # es_US's clock
