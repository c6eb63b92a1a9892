"""Two bots on one PostgreSQL, in one process: one leads (polls, sends, keeps the deadlines), the
other applies updates too; what the follower applies is sent and timed by the leader, and when
the leader stops the follower takes over."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from bot import keyboards, texts
from bot.app import StorerunBot
from dispatch.deadlines import Kind
from dispatch.drivers import Availability
from sandbox.emulator import BotApiEmulator
from tests.conftest import _admin as admin
from tests.e2e.conftest import ADMIN_ID, BotFactory
from tests.e2e.people import copy_of, new_offer, online_driver
from tests.e2e.words import EN

pytestmark = pytest.mark.postgres

MARIA = 7001
QUICK_TAKEOVER = {"leader_takeover_seconds": 2}


@pytest.fixture
def url(postgres_scratch_url: str) -> str:
    """An empty PostgreSQL database: update ids start again with each emulator."""
    asyncio.run(admin(postgres_scratch_url, "DROP SCHEMA public CASCADE", "CREATE SCHEMA public"))
    return postgres_scratch_url


async def two_bots(start_bot: BotFactory, url: str) -> tuple[StorerunBot, StorerunBot]:
    """A leader that only polls, sends and keeps time (its own workers stopped), and a follower
    that applies every update."""
    leader = await start_bot(database_url=url, **QUICK_TAKEOVER)
    follower = await start_bot(database_url=url, **QUICK_TAKEOVER)
    assert leader.leadership.is_leader and not follower.leadership.is_leader
    await leader.inbox.stop()
    return leader, follower


def sent_twice(emulator: BotApiEmulator, *chats: int) -> list[str]:
    """Messages a chat got twice (a message sent by both bots would show here)."""
    twice = []
    for chat in chats:
        texts_seen = Counter(m.text for m in emulator.chat(chat) if m.from_bot)
        twice += [text or "" for text, count in texts_seen.items() if count > 1]
    return twice


async def test_what_the_follower_applies_the_leader_sends_and_times(
    emulator: BotApiEmulator, start_bot: BotFactory, url: str
) -> None:
    leader, follower = await two_bots(start_bot, url)
    await online_driver(emulator, MARIA, "Maria")
    offer = await new_offer(emulator)
    await emulator.wait_for_message(MARIA, lambda m: m.from_bot and f"#{offer.offer_id}" in (m.text or ""))

    # The follower applied every update (its timers are not set); the leader, told by the
    # commits, read the offer's deadlines from the database.
    assert follower.metrics._registry.get_sample_value("storerun_updates_applied_total", {"kind": "command"})
    assert follower.timers.pending == []
    for _ in range(100):
        if {d.kind for d in leader.timers.pending if d.offer_id == offer.offer_id}:
            break
        await asyncio.sleep(0.05)
    assert Kind.EXPIRE in {d.kind for d in leader.timers.pending if d.offer_id == offer.offer_id}

    await emulator.press(
        MARIA, EN(keyboards.ACCEPT), message_id=copy_of(emulator, MARIA, offer.offer_id).message_id
    )
    for _ in range(200):
        kinds = {d.kind for d in leader.timers.pending if d.offer_id == offer.offer_id}
        if Kind.NO_SHOW in kinds:
            break
        await asyncio.sleep(0.05)
    assert Kind.NO_SHOW in kinds and Kind.EXPIRE not in kinds
    assert follower.timers.pending == []
    assert sent_twice(emulator, MARIA, ADMIN_ID) == []


async def test_when_the_leader_stops_the_follower_takes_over(
    emulator: BotApiEmulator, start_bot: BotFactory, url: str
) -> None:
    leader, follower = await two_bots(start_bot, url)
    await online_driver(emulator, MARIA, "Maria")
    offer = await new_offer(emulator)

    await leader.stop()
    for _ in range(150):
        if follower.leadership.is_leader:
            break
        await asyncio.sleep(0.1)
    assert follower.leadership.is_leader
    assert follower.metrics._registry.get_sample_value("storerun_leader_takeovers_total") == 1.0
    # It polls now, sends, and keeps the deadlines the old leader kept.
    assert Kind.EXPIRE in {d.kind for d in follower.timers.pending if d.offer_id == offer.offer_id}
    await emulator.send_text(MARIA, "/offline")
    await emulator.wait_for_message(MARIA, EN(texts.AVAILABILITY[Availability.OFFLINE]))
    assert sent_twice(emulator, MARIA, ADMIN_ID) == []
