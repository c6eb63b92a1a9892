"""The outbox sender against the emulator: limits, 429s, 5xx, timeouts, 403, edits and restarts."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.sender import OutboxSender, SenderLimits
from dispatch.clock import SystemClock
from dispatch.outbox import Delivery, Lane, Outgoing, enqueue
from sandbox.emulator import BotApiEmulator
from storage.db import Database
from storage.records import Language
from tests.e2e.conftest import TOKEN

CHATS = range(7000, 7060)


@pytest_asyncio.fixture
async def db(sqlite_url: str) -> AsyncIterator[Database]:
    database = Database.connect(sqlite_url)
    await database.upgrade()
    yield database
    await database.close()


@pytest_asyncio.fixture
async def telegram_bot(emulator: BotApiEmulator) -> AsyncIterator[Bot]:
    for chat in CHATS:
        emulator.add_user(chat, f"Person {chat}")
    request = HTTPXRequest(connection_pool_size=64, read_timeout=1.0, connect_timeout=1.0)
    async with Bot(TOKEN, base_url=f"{emulator.url}/bot", request=request) as bot:
        yield bot


def make_sender(db: Database, bot: Bot, **limits: float) -> OutboxSender:
    return OutboxSender(db, bot, SystemClock(), SenderLimits(**limits))  # type: ignore[arg-type]


async def queue(db: Database, *messages: Outgoing) -> list[int]:
    async with db.transaction() as tx:
        return [await enqueue(tx, message, SystemClock().now()) for message in messages]


def text(chat: int, body: str, lane: Lane = Lane.INTERACTIVE) -> Outgoing:
    return Outgoing(chat_id=chat, delivery=Delivery.MESSAGE, params={"text": body}, lane=lane)


def bot_texts(emulator: BotApiEmulator, chat: int) -> list[str]:
    return [m.text or "" for m in emulator.chat(chat) if m.from_bot]


async def test_every_queued_message_arrives_once_in_order(
    emulator: BotApiEmulator, telegram_bot: Bot, db: Database
) -> None:
    sender = make_sender(db, telegram_bot, chat_interval=0.05)
    await sender.start()
    await queue(db, *(text(chat, f"{chat}-{n}") for n in range(3) for chat in CHATS[:10]))
    sender.wake()
    await sender.drain()
    await sender.stop()
    for chat in CHATS[:10]:
        assert bot_texts(emulator, chat) == [f"{chat}-0", f"{chat}-1", f"{chat}-2"]


async def test_pacing_keeps_telegrams_limits_without_a_single_429(
    emulator: BotApiEmulator, telegram_bot: Bot, db: Database
) -> None:
    emulator.set_limits(enabled=True, per_second=30, per_chat_per_second=1)
    sender = make_sender(db, telegram_bot)
    await queue(db, *(text(chat, "hello") for chat in CHATS))  # 60 chats: a 2 s burst at 30/s
    await queue(db, *(text(CHATS[0], f"again {n}") for n in range(3)))  # one chat: 1 a second
    started = time.monotonic()
    await sender.start()
    await sender.drain()
    await sender.stop()
    assert emulator.stats.too_many_requests == 0
    assert sender.stats.sent == 63
    assert time.monotonic() - started >= 3.0  # the three extra messages to one chat are spaced
    assert bot_texts(emulator, CHATS[0]) == ["hello", "again 0", "again 1", "again 2"]


async def test_429s_are_waited_out_and_nothing_is_lost_or_doubled(
    emulator: BotApiEmulator, telegram_bot: Bot, db: Database
) -> None:
    emulator.set_limits(enabled=True, per_second=10, per_chat_per_second=1)
    sender = make_sender(db, telegram_bot, per_second=100)  # faster than this Telegram allows
    await queue(db, *(text(chat, "burst") for chat in CHATS[:40]))
    await sender.start()
    await sender.drain(timeout=60)
    await sender.stop()
    assert emulator.stats.too_many_requests > 0
    assert sender.stats.too_many_requests == emulator.stats.too_many_requests
    assert all(bot_texts(emulator, chat) == ["burst"] for chat in CHATS[:40])


async def test_server_errors_are_retried_with_backoff(
    emulator: BotApiEmulator, telegram_bot: Bot, db: Database
) -> None:
    emulator.fail_next("sendMessage", status=502, times=3)
    sender = make_sender(db, telegram_bot)
    [row] = await queue(db, text(CHATS[0], "after three 502s"))
    await sender.start()
    await sender.drain()
    await sender.stop()
    assert bot_texts(emulator, CHATS[0]) == ["after three 502s"]
    async with db.transaction() as tx:
        sent = await tx.outbox.by_id(row)
    assert sent is not None and sent.status == "sent" and sent.attempts == 4


async def test_an_unreachable_bot_api_logs_one_warning_per_backoff_step_and_one_line_when_back(
    emulator: BotApiEmulator, telegram_bot: Bot, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.fail_next("sendMessage", status=502, times=3)
    sender = make_sender(db, telegram_bot)
    await queue(db, *(text(chat, "while Telegram is down") for chat in CHATS[:20]))
    with caplog.at_level(logging.INFO, logger="bot.sender"):
        await sender.start()
        await sender.drain()
        await sender.stop()
    assert all(bot_texts(emulator, chat) == ["while Telegram is down"] for chat in CHATS[:20])
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    back = [record for record in caplog.records if "reachable again" in record.getMessage()]
    assert 1 <= len(warnings) <= 3  # one per step, not one per failed call (20 were queued)
    assert all("Bot API unreachable" in record.getMessage() for record in warnings)
    assert len(back) == 1
    assert all(record.exc_info is None for record in caplog.records)
    assert all(TOKEN not in record.getMessage() for record in caplog.records)


async def test_a_timeout_is_retried(emulator: BotApiEmulator, telegram_bot: Bot, db: Database) -> None:
    emulator.stall_next("sendMessage", seconds=2.0)  # the client gives up after 1 s
    # No spacing: the retry goes at once (with it, the retry waits the chat's interval from the
    # timeout, by when the stalled call may have landed and been heard, and is not needed).
    sender = make_sender(db, telegram_bot, chat_interval=0)
    [row] = await queue(db, text(CHATS[0], "slow network"))
    await sender.start()
    await sender.drain()
    await sender.stop()
    async with db.transaction() as tx:
        sent = await tx.outbox.by_id(row)
    assert sent is not None and sent.status == "sent" and sent.attempts == 2
    # Like Telegram, the stalled request may still land: delivery after a timeout is at least once.
    await asyncio.sleep(1.2)
    assert 1 <= bot_texts(emulator, CHATS[0]).count("slow network") <= 2


async def test_calls_that_keep_failing_give_up_after_the_last_attempt(
    emulator: BotApiEmulator, telegram_bot: Bot, db: Database
) -> None:
    emulator.fail_next("sendMessage", status=500, times=10)
    sender = make_sender(db, telegram_bot, max_attempts=3)
    [row] = await queue(db, text(CHATS[0], "never"))
    await sender.start()
    await sender.drain()
    await sender.stop()
    async with db.transaction() as tx:
        failed = await tx.outbox.by_id(row)
    assert failed is not None and failed.status == "failed" and failed.attempts == 3
    assert bot_texts(emulator, CHATS[0]) == []


async def test_a_blocked_chat_is_marked_unreachable_and_left_alone(
    emulator: BotApiEmulator, telegram_bot: Bot, db: Database
) -> None:
    blocked, other = CHATS[0], CHATS[1]
    async with db.transaction() as tx:
        driver = await tx.drivers.add(blocked, blocked, "Blocked", SystemClock().now())
    emulator.block_chat(blocked)
    sender = make_sender(db, telegram_bot)
    await queue(db, text(blocked, "one"), text(blocked, "two"), text(other, "fine"))
    await sender.start()
    await sender.drain()
    await queue(db, text(blocked, "three"))
    sender.wake()
    await sender.drain()
    await sender.stop()
    assert emulator.stats.forbidden == 1  # one refusal, then the sender stopped trying
    assert bot_texts(emulator, other) == ["fine"]
    async with db.transaction() as tx:
        marked = await tx.drivers.by_id(driver)
        counts = await tx.outbox.counts()
        assert await tx.chats.unreachable() == {blocked}
    assert marked is not None and not marked.reachable
    assert counts == {"sent": 1, "failed": 1, "dropped": 2}


async def test_a_blocked_chat_that_wrote_again_through_another_instance_is_written_to_again(
    emulator: BotApiEmulator, telegram_bot: Bot, db: Database
) -> None:
    chat = CHATS[0]
    emulator.block_chat(chat)
    sender = make_sender(db, telegram_bot)
    await queue(db, text(chat, "one"))
    await sender.start()
    await sender.drain()
    assert emulator.stats.forbidden == 1
    # The person unblocks the bot and writes; another instance applies it and records the chat
    # as reachable. This sender learns it from the database, not from its own memory.
    emulator.block_chat(chat, blocked=False)
    async with db.transaction() as tx:
        await tx.chats.seen({chat: Language.EN}, SystemClock().now())
    await queue(db, text(chat, "welcome back"))
    sender.wake()
    await sender.drain()
    await sender.stop()
    assert bot_texts(emulator, chat) == ["welcome back"]


@pytest.mark.parametrize("known_by", ["a takeover", "a send just recorded"])
async def test_a_sender_following_another_process_waits_one_chat_interval_first(
    known_by: str, emulator: BotApiEmulator, telegram_bot: Bot, db: Database
) -> None:
    # The process that sent before (another instance that led, or one that died or stopped a
    # moment ago) may have written to this chat just now, perhaps without a record.
    if known_by == "a send just recorded":
        [earlier] = await queue(db, text(CHATS[0], "sent by the process before"))
        async with db.transaction() as tx:
            await tx.outbox.mark_sent(earlier, at=SystemClock().now(), message_id=None, attempts=1)
    await queue(db, text(CHATS[0], "first of this process"))
    sender = make_sender(db, telegram_bot, chat_interval=0.5)
    started = time.monotonic()
    await sender.start(after_another=known_by == "a takeover")
    await emulator.wait_for_message(CHATS[0], "first of this process")
    waited = time.monotonic() - started
    await sender.stop()
    assert waited >= 0.5  # a lower bound: a busy machine only makes it longer


async def test_an_edit_waits_for_its_message_and_an_unchanged_edit_counts_as_sent(
    emulator: BotApiEmulator, telegram_bot: Bot, db: Database
) -> None:
    chat = CHATS[0]
    keyboard = {"inline_keyboard": [[{"text": "Accept", "callback_data": "v1:a:1"}]]}
    [original] = await queue(
        db,
        Outgoing(
            chat_id=chat, delivery=Delivery.MESSAGE, params={"text": "Offer #1", "reply_markup": keyboard}
        ),
    )
    taken = Outgoing(chat_id=chat, delivery=Delivery.EDIT, params={"text": "Taken"}, edit_of=original)
    [first_edit, second_edit] = await queue(db, taken, taken)
    sender = make_sender(db, telegram_bot, chat_interval=0.05)
    await sender.start()
    await sender.drain()
    await sender.stop()
    [message] = emulator.chat(chat)
    assert message.text == "Taken" and message.edited and message.inline_keyboard == []
    async with db.transaction() as tx:
        rows = [await tx.outbox.by_id(row) for row in (original, first_edit, second_edit)]
    assert [row.status for row in rows if row] == ["sent", "sent", "sent"]
    assert {row.message_id for row in rows if row} == {message.message_id}


async def test_interactive_replies_overtake_a_bulk_fan_out(
    emulator: BotApiEmulator, telegram_bot: Bot, db: Database
) -> None:
    emulator.set_limits(enabled=True, per_second=30)
    sender = make_sender(db, telegram_bot)
    await queue(db, *(text(chat, "bulk", Lane.BULK) for chat in CHATS[1:]))
    await sender.start()
    await asyncio.sleep(0.2)
    [reply] = await queue(db, text(CHATS[0], "your answer"))
    sender.wake()
    await emulator.wait_for_message(CHATS[0], "your answer")
    bulk_done = sum(1 for chat in CHATS[1:] if bot_texts(emulator, chat))
    await sender.drain()
    await sender.stop()
    assert bulk_done < len(CHATS) // 2
    assert sender.stats.latencies[reply] < 1.0


async def test_messages_queued_before_a_restart_are_sent_after_it(
    emulator: BotApiEmulator, telegram_bot: Bot, db: Database
) -> None:
    emulator.set_limits(enabled=True, per_second=30)
    first = make_sender(db, telegram_bot)
    await queue(db, *(text(chat, "survives") for chat in CHATS))
    await first.start()
    await asyncio.sleep(0.5)
    await first.stop()  # a stop with most of the fan-out still queued
    assert 0 < first.stats.sent < len(CHATS)
    second = make_sender(db, telegram_bot)
    await second.start()
    await second.drain()
    await second.stop()
    assert first.stats.sent + second.stats.sent == len(CHATS)
    assert all(bot_texts(emulator, chat) == ["survives"] for chat in CHATS)


async def test_a_message_committed_after_a_higher_id_still_goes_before_the_chats_next_one(
    emulator: BotApiEmulator, telegram_bot: Bot, database_url: str
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite has one writer: ids become visible in order")
    db = Database.connect(database_url)
    await db.upgrade()
    first, other = CHATS[0], CHATS[1]
    sender = make_sender(db, telegram_bot)
    await sender.start()
    try:
        async with db.transaction() as slow:  # takes an id, commits last
            await enqueue(slow, text(first, "1st to the first chat"), SystemClock().now())
            await queue(db, text(other, "to the other chat"))  # a higher id, committed first
            sender.wake()
            await emulator.wait_for_message(other, "to the other chat")
        await queue(db, text(first, "2nd to the first chat"))
        sender.wake()
        await emulator.wait_for_message(first, "2nd to the first chat", timeout=10)
        await sender.drain()
    finally:
        await sender.stop()
        await db.close()
    assert bot_texts(emulator, first) == ["1st to the first chat", "2nd to the first chat"]


def with_buttons(chat: int, body: str) -> Outgoing:
    keyboard = {"inline_keyboard": [[{"text": "Accept", "callback_data": "1:acc:1"}]]}
    return Outgoing(chat_id=chat, delivery=Delivery.MESSAGE, params={"text": body, "reply_markup": keyboard})


async def until_copies(db: Database, row: int, count: int) -> None:
    """Wait until the sender knows the message by `count` further copies."""
    for _ in range(200):
        async with db.read() as tx:
            if len(await tx.outbox.copies_of(row)) >= count:
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"outbox row {row} never got {count} copies")


async def test_a_message_telegram_received_twice_after_a_timeout_is_edited_in_both_copies(
    emulator: BotApiEmulator, telegram_bot: Bot, db: Database
) -> None:
    emulator.stall_next("sendMessage", seconds=2.0)  # the sender waits 1 s, then sends again
    sender = make_sender(db, telegram_bot, chat_interval=0)  # again at once (see above)
    [row] = await queue(db, with_buttons(CHATS[0], "offer"))
    await sender.start()
    await sender.drain()
    await until_copies(db, row, 1)  # the first call's late answer names the second copy
    assert bot_texts(emulator, CHATS[0]) == ["offer", "offer"]
    await queue(db, Outgoing(CHATS[0], Delivery.EDIT, {"text": "taken"}, edit_of=row))
    sender.wake()
    await sender.drain()
    await sender.stop()
    copies = [m for m in emulator.chat(CHATS[0]) if m.from_bot]
    assert [(m.text, m.buttons) for m in copies] == [("taken", []), ("taken", [])]


async def test_a_copy_that_lands_after_the_edit_is_edited_too(
    emulator: BotApiEmulator, telegram_bot: Bot, db: Database
) -> None:
    emulator.stall_next("sendMessage", seconds=3.0)
    sender = make_sender(db, telegram_bot, chat_interval=0)
    [row] = await queue(db, with_buttons(CHATS[1], "offer"))
    await sender.start()
    await sender.drain()  # the retry's copy is sent; the first call is still stalled
    await queue(db, Outgoing(CHATS[1], Delivery.EDIT, {"text": "taken"}, edit_of=row))
    sender.wake()
    await sender.drain()
    await until_copies(db, row, 1)
    await sender.stop()
    for _ in range(100):
        copies = [(m.text, m.buttons) for m in emulator.chat(CHATS[1]) if m.from_bot]
        if copies == [("taken", []), ("taken", [])]:
            break
        await asyncio.sleep(0.05)
    assert copies == [("taken", []), ("taken", [])]


async def test_the_sender_keeps_few_message_ids_in_memory_and_an_edit_of_an_older_message_still_lands(
    emulator: BotApiEmulator, telegram_bot: Bot, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.sender.MESSAGE_IDS_KEPT", 3)
    sender = make_sender(db, telegram_bot, chat_interval=0)
    rows = await queue(db, *(text(chat, f"message {chat}") for chat in CHATS[:6]))
    await sender.start()
    await sender.drain()
    assert len(sender._message_ids) == 3  # a long-running process does not keep every message's id
    await queue(db, Outgoing(CHATS[0], Delivery.EDIT, {"text": "edited"}, edit_of=rows[0]))
    sender.wake()
    await sender.drain()
    await sender.stop()
    assert bot_texts(emulator, CHATS[0]) == ["edited"]
