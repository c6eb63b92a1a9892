"""The emulator as the balancer before several instances: webhook_spread, one chat's updates at a time.

Each instance is a tiny aiohttp server on loopback that answers the emulator's POSTs; every
instance writes what happens into one journal, so a test can replay the order across them.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

import pytest
import pytest_asyncio
from aiohttp import web
from telegram.error import RetryAfter

from sandbox.client import SandboxClient
from sandbox.emulator import BotApiEmulator, EmulatorStats
from tests.sandbox.test_emulator_webhook import bot_for, raw_call, until, unused_port

SECRET = "spread-Secret_7"
# The URL every instance sets: the balancer's. Only its path and query reach the instances.
BALANCER_URL = "https://bot.storerun.example:8443/telegram/hook?via=balancer"
HOOK_PATH = "/telegram/hook"
ALLOWED = ["message", "callback_query"]
FIRST_PERSON = 5000
T = TypeVar("T")


class Seen(StrEnum):
    """What an instance saw happen to one POST."""

    ARRIVED = "arrived"
    ANSWERED_2XX = "answered_2xx"
    ANSWERED_ERROR = "answered_error"


@dataclass
class Journal:
    """Everything every instance saw, in the order it happened (one event loop runs them all)."""

    events: list[tuple[Seen, int, str]] = field(default_factory=list)

    def delivered(self) -> list[int]:
        """The update ids answered 2xx, by any instance."""
        return [update_id for seen, update_id, _ in self.events if seen is Seen.ANSWERED_2XX]

    def assert_one_at_a_time_per_chat(self, chat_of: dict[int, int]) -> None:
        """No POST of a chat's update reached any instance before every earlier update of that
        chat had been answered 2xx."""
        answered: set[int] = set()
        for seen, update_id, instance in self.events:
            if seen is Seen.ANSWERED_2XX:
                answered.add(update_id)
            elif seen is Seen.ARRIVED:
                chat = chat_of[update_id]
                earlier = {other for other, its in chat_of.items() if its == chat and other < update_id}
                assert earlier <= answered, (
                    f"update {update_id} of chat {chat} reached {instance} before {earlier - answered}"
                )


class Instance:
    """One instance of the bot behind the balancer: answers each POST on the hook path with the
    next scripted status (200 once the script runs out) after `delay` seconds, and holds every
    answer back while `gate` is clear."""

    def __init__(self, name: str, journal: Journal) -> None:
        self.name = name
        self.journal = journal
        self.statuses: deque[int] = deque()
        self.delay = 0.0
        self.gate = asyncio.Event()
        self.gate.set()
        self.paths: list[str] = []
        self.secrets: list[str | None] = []
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def delivered(self) -> list[int]:
        """The update ids this instance answered 2xx."""
        return [
            update_id
            for seen, update_id, instance in self.journal.events
            if seen is Seen.ANSWERED_2XX and instance == self.name
        ]

    @property
    def arrived(self) -> list[int]:
        return [
            update_id
            for seen, update_id, instance in self.journal.events
            if seen is Seen.ARRIVED and instance == self.name
        ]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post(HOOK_PATH, self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """The instance dies: its port is closed from now on."""
        self.gate.set()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        update: dict[str, Any] = await request.json()
        update_id = int(update["update_id"])
        self.paths.append(request.path_qs)
        self.secrets.append(request.headers.get("X-Telegram-Bot-Api-Secret-Token"))
        self.journal.events.append((Seen.ARRIVED, update_id, self.name))
        status = self.statuses.popleft() if self.statuses else 200
        await asyncio.sleep(self.delay)
        await self.gate.wait()
        answered = Seen.ANSWERED_2XX if 200 <= status <= 299 else Seen.ANSWERED_ERROR
        self.journal.events.append((answered, update_id, self.name))
        return web.Response(status=status)


@pytest.fixture
def journal() -> Journal:
    return Journal()


@pytest_asyncio.fixture
async def instances(journal: Journal) -> AsyncIterator[tuple[Instance, Instance]]:
    first, second = Instance("first", journal), Instance("second", journal)
    await first.start()
    await second.start()
    yield first, second
    await first.stop()
    await second.stop()


@pytest_asyncio.fixture
async def balanced(instances: tuple[Instance, Instance]) -> AsyncIterator[BotApiEmulator]:
    """The emulator spreading the webhook's POSTs over both instances."""
    spread = [instance.base for instance in instances]
    async with BotApiEmulator(webhook_spread=spread, webhook_retry_max=0.2) as emulator:
        yield emulator


async def set_balancer_webhook(emulator: BotApiEmulator) -> None:
    """What each instance of storerun does on start."""
    async with bot_for(emulator) as bot:
        assert await bot.set_webhook(BALANCER_URL, secret_token=SECRET, allowed_updates=ALLOWED)


async def people_write(emulator: BotApiEmulator, people: int, messages: int) -> dict[int, int]:
    """`people` people each send `messages` texts, interleaved; returns each update's chat."""
    for number in range(people):
        emulator.add_user(FIRST_PERSON + number, f"Person {number}")
    chat_of: dict[int, int] = {}
    for message in range(messages):
        for number in range(people):
            person = FIRST_PERSON + number
            chat_of[await emulator.send_text(person, f"message {message}")] = person
    return chat_of


# --------------------------------------------------------------------------- spreading


def test_spread_bases_must_be_a_scheme_host_and_port() -> None:
    for bad in ("127.0.0.1:8081", "ftp://127.0.0.1:8081", "http://127.0.0.1:8081/hook", "http://:8081"):
        with pytest.raises(ValueError, match="webhook_spread"):
            BotApiEmulator(webhook_spread=[bad])
    with pytest.raises(ValueError, match="webhook_spread"):
        BotApiEmulator(webhook_spread="http://127.0.0.1:8081")
    spread = BotApiEmulator(webhook_spread=["http://127.0.0.1:8081/", "https://instance-2.example:8443"])
    assert spread.webhook_spread == ("http://127.0.0.1:8081", "https://instance-2.example:8443")


async def test_each_update_reaches_one_instance_once_and_both_take_some(
    balanced: BotApiEmulator, instances: tuple[Instance, Instance], journal: Journal
) -> None:
    first, second = instances
    await set_balancer_webhook(balanced)
    assert balanced.webhook_url == BALANCER_URL

    chat_of = await people_write(balanced, people=6, messages=4)
    await until(lambda: balanced.pending_updates == 0)

    assert sorted(journal.delivered()) == sorted(chat_of)
    assert first.delivered and second.delivered
    assert balanced.stats.webhook_deliveries_by_base == Counter(
        {first.base: len(first.delivered), second.base: len(second.delivered)}
    )
    assert set(first.paths + second.paths) == {"/telegram/hook?via=balancer"}
    assert set(first.secrets + second.secrets) == {SECRET}
    journal.assert_one_at_a_time_per_chat(chat_of)


async def test_a_chats_next_update_waits_for_the_2xx_of_the_one_before(
    balanced: BotApiEmulator, instances: tuple[Instance, Instance], journal: Journal
) -> None:
    for instance in instances:
        instance.gate.clear()
    await set_balancer_webhook(balanced)
    chat_of = await people_write(balanced, people=3, messages=3)
    heads = sorted(chat_of)[:3]  # each person's first message

    await until(lambda: len(journal.events) >= 3)
    await asyncio.sleep(0.2)  # room for a wrong fourth POST to show up
    assert sorted(update_id for _, update_id, _ in journal.events) == heads  # the chats side by side

    for instance in instances:
        instance.gate.set()
    await until(lambda: balanced.pending_updates == 0)
    assert sorted(journal.delivered()) == sorted(chat_of)
    journal.assert_one_at_a_time_per_chat(chat_of)


async def test_order_per_chat_holds_while_one_instance_is_slow_and_the_other_fails(
    balanced: BotApiEmulator, instances: tuple[Instance, Instance], journal: Journal
) -> None:
    slow, failing = instances
    slow.delay = 0.05
    failing.statuses.extend([500, 200, 503, 500, 200] * 4)
    await set_balancer_webhook(balanced)

    chat_of = await people_write(balanced, people=4, messages=5)
    await until(lambda: balanced.pending_updates == 0, timeout=30)

    assert sorted(journal.delivered()) == sorted(chat_of)  # each once, whatever failed on the way
    journal.assert_one_at_a_time_per_chat(chat_of)
    for person in set(chat_of.values()):
        answered_in_order = [update_id for update_id in journal.delivered() if chat_of[update_id] == person]
        assert answered_in_order == sorted(answered_in_order)


async def test_updates_reach_the_other_instance_while_one_is_down(
    balanced: BotApiEmulator, instances: tuple[Instance, Instance], journal: Journal
) -> None:
    alive, dead = instances
    await set_balancer_webhook(balanced)
    before = await people_write(balanced, people=3, messages=2)
    await until(lambda: balanced.pending_updates == 0)
    delivered_by_dead = Counter(dead.delivered)

    await dead.stop()
    after = await people_write(balanced, people=5, messages=4)
    await until(lambda: balanced.pending_updates == 0, timeout=30)

    assert sorted(journal.delivered()) == sorted({**before, **after})
    assert Counter(dead.delivered) == delivered_by_dead  # nothing more since it died
    assert set(after) <= set(alive.delivered)
    stats = balanced.stats
    assert sum(stats.webhook_deliveries_by_base.values()) == len(before) + len(after)
    assert stats.webhook_posts == len(before) + len(after) + stats.webhook_failures
    journal.assert_one_at_a_time_per_chat({**before, **after})


async def test_an_instance_that_never_listened_only_delays_updates(
    instances: tuple[Instance, Instance],
) -> None:
    alive, _ = instances
    dead_base = f"http://127.0.0.1:{unused_port()}"
    async with BotApiEmulator(webhook_spread=[dead_base, alive.base], webhook_retry_max=0.2) as emulator:
        await set_balancer_webhook(emulator)
        chat_of = await people_write(emulator, people=5, messages=3)
        await until(lambda: emulator.pending_updates == 0, timeout=30)

        assert sorted(alive.delivered) == sorted(chat_of)
        assert emulator.stats.webhook_deliveries_by_base == Counter({alive.base: len(chat_of)})


# --------------------------------------------------------------------------- a second instance starts


def webhook_deliveries() -> list[asyncio.Task[Any]]:
    return [task for task in asyncio.all_tasks() if task.get_name().startswith("webhook http")]


async def test_the_same_set_webhook_again_keeps_posts_in_flight_and_delivery_running(
    balanced: BotApiEmulator, instances: tuple[Instance, Instance], journal: Journal
) -> None:
    for instance in instances:
        instance.gate.clear()
    await set_balancer_webhook(balanced)
    chat_of = await people_write(balanced, people=3, messages=2)
    await until(lambda: len(journal.events) >= 3)  # one POST per chat in flight
    (delivery,) = webhook_deliveries()

    await set_balancer_webhook(balanced)  # the second instance starts
    again = await raw_call(
        balanced, "setWebhook", url=BALANCER_URL, secret_token=SECRET, allowed_updates=ALLOWED
    )

    assert again == {"ok": True, "result": True, "description": "Webhook is already set"}
    assert webhook_deliveries() == [delivery]
    for instance in instances:
        instance.gate.set()
    await until(lambda: balanced.pending_updates == 0)
    arrivals = Counter(update_id for seen, update_id, _ in journal.events if seen is Seen.ARRIVED)
    assert arrivals == Counter(
        list(chat_of)
    )  # each POSTed once: nothing in flight was dropped and sent again
    assert sorted(journal.delivered()) == sorted(chat_of)


async def test_a_set_webhook_with_other_parameters_starts_delivery_anew(
    balanced: BotApiEmulator, instances: tuple[Instance, Instance]
) -> None:
    await set_balancer_webhook(balanced)
    (delivery,) = webhook_deliveries()

    changed = await raw_call(balanced, "setWebhook", url=BALANCER_URL, secret_token="another-secret")

    assert changed == {"ok": True, "result": True, "description": "Webhook was set"}
    assert delivery.done()
    assert len(webhook_deliveries()) == 1


# --------------------------------------------------------------------------- chats' spacing


async def test_spacing_counts_messages_to_one_chat_less_than_a_second_apart() -> None:
    now = [100.0]
    async with BotApiEmulator(clock=lambda: now[0]) as emulator, bot_for(emulator) as bot:
        emulator.add_user(FIRST_PERSON, "Dana")
        emulator.add_user(FIRST_PERSON + 1, "Omar")
        first = await sent_at(now, 100.0, bot.send_message(FIRST_PERSON, "one"))
        await sent_at(now, 100.2, bot.edit_message_text("one, edited", FIRST_PERSON, first.message_id))
        await sent_at(now, 100.3, bot.send_chat_action(FIRST_PERSON, "typing"))
        await sent_at(now, 100.4, bot.send_message(FIRST_PERSON + 1, "another chat"))
        await sent_at(now, 101.0, bot.send_message(FIRST_PERSON, "a second later"))
        assert emulator.stats.chat_spacing_violations == 0
        assert emulator.stats.min_chat_spacing == pytest.approx(1.0)

        await sent_at(now, 101.3, bot.send_message(FIRST_PERSON, "back to back"))

        assert emulator.stats.chat_spacing_violations == 1
        assert emulator.stats.min_chat_spacing == pytest.approx(0.3)
        async with SandboxClient(emulator.url) as people:
            assert await people.stats() == emulator.stats


async def test_a_message_refused_with_429_is_no_spacing_violation() -> None:
    now = [100.0]
    async with BotApiEmulator(clock=lambda: now[0]) as emulator, bot_for(emulator) as bot:
        emulator.add_user(FIRST_PERSON, "Dana")
        emulator.set_limits(enabled=True)
        await bot.send_message(FIRST_PERSON, "one")
        with pytest.raises(RetryAfter):
            await bot.send_message(FIRST_PERSON, "too soon")

        assert emulator.stats.too_many_requests == 1
        assert emulator.stats.chat_spacing_violations == 0
        assert emulator.stats.min_chat_spacing is None


async def sent_at(now: list[float], moment: float, call: Awaitable[T]) -> T:
    """Make a Bot API call at `moment` on the emulator's clock."""
    now[0] = moment
    return await call


def test_stats_json_round_trip_keeps_the_new_counters_and_reads_an_older_body() -> None:
    stats = EmulatorStats(
        webhook_posts=3,
        webhook_failures=1,
        webhook_deliveries_by_base=Counter({"http://127.0.0.1:8081": 2}),
        chat_spacing_violations=1,
        min_chat_spacing=0.25,
    )
    assert EmulatorStats.from_json(stats.as_json()) == stats

    older = {"too_many_requests": 0, "forbidden": 0, "server_errors": 0, "calls": {}, "sent_messages": 4}
    assert EmulatorStats.from_json(older) == EmulatorStats(sent_messages=4)
