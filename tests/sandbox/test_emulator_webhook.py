"""The emulator's webhooks: setWebhook, the POSTs to a webhook, getWebhookInfo, deleteWebhook.

The webhook is a tiny aiohttp server in the test that records what the emulator POSTs to it; the
bot side is python-telegram-bot's Bot, used only to make Bot API calls.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import warnings
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Conflict

from sandbox.client import SandboxClient
from sandbox.emulator import BotApiEmulator

DRIVER = 1001
SECRET = "s3cret-Token_1"
WALL_CLOCK = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC
OFFER_KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("Accept", callback_data="offer:7:accept")]])


@dataclass(frozen=True)
class Post:
    """One request the emulator made to the webhook."""

    update: dict[str, Any]
    headers: Mapping[str, str]
    content_type: str

    @property
    def update_id(self) -> int:
        return int(self.update["update_id"])


class Receiver:
    """A bot's webhook on loopback: records every POST, answers each with the next scripted status
    (200 once the script runs out) after the next scripted delay, and while `gate` is clear holds
    every answer back."""

    def __init__(self) -> None:
        self.posts: list[Post] = []
        self.statuses: deque[int] = deque()
        self.delays: deque[float] = deque()
        self.gate = asyncio.Event()
        self.gate.set()
        self.on_update: Callable[[dict[str, Any]], Awaitable[None]] | None = None
        self.in_flight = 0
        self.most_in_flight = 0
        self.port = 0
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def start(self, port: int = 0) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        # A short shutdown: a handler still sleeping out a scripted delay is not worth waiting for.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        self.gate.set()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def wait_for_posts(self, count: int, timeout: float = 10.0) -> list[Post]:
        """The first `count` posts, waiting for them to arrive."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(self.posts) >= count), timeout)
        return self.posts[:count]

    async def _handle(self, request: web.Request) -> web.Response:
        post = Post(await request.json(), dict(request.headers), request.content_type)
        status = self.statuses.popleft() if self.statuses else 200
        delay = self.delays.popleft() if self.delays else 0.0
        async with self._changed:
            self.posts.append(post)
            self._changed.notify_all()
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(delay)
            await self.gate.wait()
            if self.on_update is not None:
                await self.on_update(post.update)
        finally:
            self.in_flight -= 1
        return web.Response(status=status)


def bot_for(emulator: BotApiEmulator) -> Bot:
    return Bot(emulator.token, base_url=f"{emulator.url}/bot", base_file_url=f"{emulator.url}/file/bot")


def unused_port() -> int:
    """A loopback port nothing listens on (connecting to it is refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for `condition` to hold (the emulator confirms an update only after the webhook's
    answer has come back, a moment after the receiver saw the POST)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("the condition did not hold in time")
        await asyncio.sleep(0.01)


async def raw_call(emulator: BotApiEmulator, method: str, **params: Any) -> dict[str, Any]:
    """A Bot API call's whole JSON answer, fields left out included."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{emulator.url}/bot{emulator.token}/{method}", json=params) as response,
    ):
        body: dict[str, Any] = await response.json()
        return body


@pytest_asyncio.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(wall_clock=lambda: WALL_CLOCK, webhook_retry_max=0.5) as running:
        running.add_user(DRIVER, "Dana", username="dana")
        yield running


@pytest_asyncio.fixture
async def bot(emulator: BotApiEmulator) -> AsyncIterator[Bot]:
    async with bot_for(emulator) as running:
        yield running


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    running = Receiver()
    await running.start()
    yield running
    await running.stop()


# --------------------------------------------------------------------------- delivery


async def test_update_is_posted_as_json_with_the_secret_header_and_confirmed_on_200(
    emulator: BotApiEmulator, bot: Bot, receiver: Receiver
) -> None:
    assert await bot.set_webhook(receiver.url, secret_token=SECRET)
    assert emulator.webhook_url == receiver.url

    update_id = await emulator.send_text(DRIVER, "hello")

    (post,) = await receiver.wait_for_posts(1)
    assert post.content_type == "application/json"
    assert post.headers["X-Telegram-Bot-Api-Secret-Token"] == SECRET
    assert post.update_id == update_id
    assert post.update["message"]["text"] == "hello"
    assert post.update["message"]["chat"]["id"] == DRIVER
    await until(lambda: emulator.pending_updates == 0)
    assert emulator.confirmed_update_id == update_id
    assert (emulator.stats.webhook_posts, emulator.stats.webhook_failures) == (1, 0)


async def test_no_secret_header_is_sent_without_a_secret_token(
    emulator: BotApiEmulator, bot: Bot, receiver: Receiver
) -> None:
    await bot.set_webhook(receiver.url)
    await emulator.send_text(DRIVER, "hello")

    (post,) = await receiver.wait_for_posts(1)
    assert "X-Telegram-Bot-Api-Secret-Token" not in post.headers


async def test_post_carries_the_same_update_get_updates_would_return(
    emulator: BotApiEmulator, bot: Bot, receiver: Receiver
) -> None:
    await emulator.send_text(DRIVER, "/start")
    (polled,) = (await raw_call(emulator, "getUpdates"))["result"]  # no offset: still pending

    await bot.set_webhook(receiver.url)

    (post,) = await receiver.wait_for_posts(1)
    assert post.update == polled


async def test_update_is_posted_again_until_the_webhook_answers_2xx(
    emulator: BotApiEmulator, bot: Bot, receiver: Receiver
) -> None:
    receiver.statuses.extend([500, 503])
    await bot.set_webhook(receiver.url)

    update_id = await emulator.send_text(DRIVER, "hello")

    posts = await receiver.wait_for_posts(3)
    assert [post.update_id for post in posts] == [update_id] * 3
    await until(lambda: emulator.pending_updates == 0)
    info = await bot.get_webhook_info()
    assert info.last_error_message == "Wrong response from the webhook: 503 Service Unavailable"
    assert info.last_error_date is not None and info.last_error_date.timestamp() == WALL_CLOCK
    assert (emulator.stats.webhook_posts, emulator.stats.webhook_failures) == (3, 2)


async def test_refused_connection_is_retried_until_the_webhook_listens(
    emulator: BotApiEmulator, bot: Bot
) -> None:
    port = unused_port()
    await bot.set_webhook(f"http://127.0.0.1:{port}/hook")
    update_id = await emulator.send_text(DRIVER, "hello")

    await until(lambda: emulator.stats.webhook_failures >= 2)
    info = await bot.get_webhook_info()
    assert info.last_error_message == "Connection refused"
    assert info.pending_update_count == 1

    receiver = Receiver()
    await receiver.start(port)
    try:
        (post,) = await receiver.wait_for_posts(1)
        assert post.update_id == update_id
        await until(lambda: emulator.pending_updates == 0)
    finally:
        await receiver.stop()


async def test_webhook_that_answers_too_late_gets_the_update_again(receiver: Receiver) -> None:
    async with (
        BotApiEmulator(webhook_timeout=0.2, wall_clock=lambda: WALL_CLOCK) as emulator,
        bot_for(emulator) as bot,
    ):
        emulator.add_user(DRIVER, "Dana")
        receiver.delays.append(1.0)
        await bot.set_webhook(receiver.url)

        update_id = await emulator.send_text(DRIVER, "hello")

        posts = await receiver.wait_for_posts(2)
        assert [post.update_id for post in posts] == [update_id, update_id]
        await until(lambda: emulator.pending_updates == 0)
        assert (await bot.get_webhook_info()).last_error_message == "Timeout expired"


async def test_updates_are_posted_in_update_id_order(
    emulator: BotApiEmulator, bot: Bot, receiver: Receiver
) -> None:
    sent = [await emulator.send_text(DRIVER, text) for text in ("one", "two", "three")]

    await bot.set_webhook(receiver.url, max_connections=1)

    posts = await receiver.wait_for_posts(3)
    assert [post.update_id for post in posts] == sent
    await until(lambda: emulator.pending_updates == 0)
    assert emulator.confirmed_update_id == sent[-1]


async def test_no_more_than_max_connections_posts_are_in_flight(
    emulator: BotApiEmulator, bot: Bot, receiver: Receiver
) -> None:
    receiver.gate.clear()
    await bot.set_webhook(receiver.url, max_connections=2)

    # Five chats: one chat's updates go one at a time whatever max_connections allows.
    for number in range(5):
        emulator.add_user(DRIVER + 100 + number, f"Driver {number}")
        await emulator.send_text(DRIVER + 100 + number, f"message {number}")
    await receiver.wait_for_posts(2)
    await asyncio.sleep(0.2)
    assert len(receiver.posts) == 2

    receiver.gate.set()
    await receiver.wait_for_posts(5)
    await until(lambda: emulator.pending_updates == 0)
    assert receiver.most_in_flight == 2


async def test_redelivered_update_is_posted_again_in_webhook_mode(
    emulator: BotApiEmulator, bot: Bot, receiver: Receiver
) -> None:
    await bot.set_webhook(receiver.url)
    update_id = await emulator.send_text(DRIVER, "/start")
    await receiver.wait_for_posts(1)
    await until(lambda: emulator.pending_updates == 0)

    emulator.redeliver(update_id)

    first, again = await receiver.wait_for_posts(2)
    assert again.update_id == update_id
    assert again.update == first.update
    await until(lambda: emulator.pending_updates == 0)


async def test_update_redelivered_while_its_post_is_in_flight_is_posted_once_more(
    emulator: BotApiEmulator, bot: Bot, receiver: Receiver
) -> None:
    receiver.gate.clear()
    await bot.set_webhook(receiver.url)
    update_id = await emulator.send_text(DRIVER, "/start")
    await receiver.wait_for_posts(1)

    emulator.redeliver(update_id)
    receiver.gate.set()

    posts = await receiver.wait_for_posts(2)
    assert [post.update_id for post in posts] == [update_id, update_id]
    await until(lambda: emulator.pending_updates == 0)
    await asyncio.sleep(0.1)
    assert len(receiver.posts) == 2


async def test_press_waits_for_the_bots_answer_in_webhook_mode(
    emulator: BotApiEmulator, bot: Bot, receiver: Receiver
) -> None:
    async def act_as_the_bot(update: dict[str, Any]) -> None:
        if "message" in update:
            await bot.send_message(DRIVER, "New offer", reply_markup=OFFER_KEYBOARD)
        elif "callback_query" in update:
            await bot.answer_callback_query(update["callback_query"]["id"], text="Yours")

    receiver.on_update = act_as_the_bot
    await bot.set_webhook(receiver.url)

    await emulator.send_text(DRIVER, "/start")
    await emulator.wait_for_message(DRIVER, "New offer")
    result = await emulator.press(DRIVER, "Accept")

    assert result.answered and result.text == "Yours"
    await until(lambda: emulator.pending_updates == 0)


# --------------------------------------------------------------------------- getUpdates and deleteWebhook


async def test_get_updates_is_a_conflict_while_a_webhook_is_set(
    emulator: BotApiEmulator, bot: Bot, receiver: Receiver
) -> None:
    await bot.set_webhook(receiver.url)

    with pytest.raises(Conflict, match="can't use getUpdates method while webhook is active"):
        await bot.get_updates()

    body = await raw_call(emulator, "getUpdates")
    assert body == {
        "ok": False,
        "error_code": 409,
        "description": (
            "Conflict: can't use getUpdates method while webhook is active; "
            "use deleteWebhook to delete the webhook first"
        ),
    }


async def test_waiting_long_poll_ends_with_a_conflict_when_a_webhook_is_set(
    emulator: BotApiEmulator, bot: Bot, receiver: Receiver
) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await asyncio.sleep(0.1)

    await bot.set_webhook(receiver.url)

    with pytest.raises(Conflict, match="terminated by setWebhook request"):
        await asyncio.wait_for(poll, timeout=10)


async def test_deleting_the_webhook_leaves_pending_updates_for_get_updates(
    emulator: BotApiEmulator, bot: Bot
) -> None:
    await bot.set_webhook(f"http://127.0.0.1:{unused_port()}/hook")
    first = await emulator.send_text(DRIVER, "one")
    second = await emulator.send_text(DRIVER, "two")
    await until(lambda: emulator.stats.webhook_failures >= 2)

    assert await bot.delete_webhook()

    assert emulator.webhook_url == ""
    updates = await bot.get_updates()
    assert [update.update_id for update in updates] == [first, second]
    assert await bot.get_updates(offset=second + 1) == ()
    info = await bot.get_webhook_info()
    assert info.url == "" and info.last_error_message is None and info.max_connections is None


async def test_deleting_the_webhook_can_drop_the_pending_updates(emulator: BotApiEmulator, bot: Bot) -> None:
    await bot.set_webhook(f"http://127.0.0.1:{unused_port()}/hook")
    await emulator.send_text(DRIVER, "one")

    await bot.delete_webhook(drop_pending_updates=True)

    assert emulator.pending_updates == 0
    assert await bot.get_updates() == ()


async def test_setting_an_empty_url_removes_the_webhook(
    emulator: BotApiEmulator, bot: Bot, receiver: Receiver
) -> None:
    await bot.set_webhook(receiver.url)

    body = await raw_call(emulator, "setWebhook", url="")

    assert body == {"ok": True, "result": True, "description": "Webhook was deleted"}
    assert emulator.webhook_url == ""
    update_id = await emulator.send_text(DRIVER, "hello")
    (update,) = await bot.get_updates()
    assert update.update_id == update_id
    assert receiver.posts == []


async def test_set_webhook_can_drop_the_pending_updates(
    emulator: BotApiEmulator, bot: Bot, receiver: Receiver
) -> None:
    await emulator.send_text(DRIVER, "sent while nobody listened")

    await bot.set_webhook(receiver.url, drop_pending_updates=True)
    update_id = await emulator.send_text(DRIVER, "hello")

    (post,) = await receiver.wait_for_posts(1)
    assert post.update_id == update_id
    await asyncio.sleep(0.1)
    assert len(receiver.posts) == 1


# --------------------------------------------------------------------------- setWebhook and getWebhookInfo


async def test_set_webhook_checks_the_secret_token_and_url_like_telegram(
    emulator: BotApiEmulator, bot: Bot, receiver: Receiver
) -> None:
    for bad_secret in ("a b", "a+b/c=", "секрет"):
        with pytest.raises(BadRequest, match=r"(?i)secret token contains unallowed characters"):
            await bot.set_webhook(receiver.url, secret_token=bad_secret)
    with pytest.raises(BadRequest, match=r"(?i)secret token is too long"):
        await bot.set_webhook(receiver.url, secret_token="a" * 257)
    for bad_url in ("ftp://example.com/hook", "example.com/hook", "https://", "http://host:99999/"):
        with pytest.raises(BadRequest, match=r"(?i)invalid webhook URL specified"):
            await bot.set_webhook(bad_url)

    body = await raw_call(emulator, "setWebhook", url=receiver.url, secret_token="bad token!")
    assert body == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: secret token contains unallowed characters",
    }
    assert emulator.webhook_url == ""
    assert await bot.set_webhook(receiver.url, secret_token="a" * 256)


async def test_webhook_info_reports_only_the_fields_that_have_values(
    emulator: BotApiEmulator, receiver: Receiver
) -> None:
    assert (await raw_call(emulator, "getWebhookInfo"))["result"] == {
        "url": "",
        "has_custom_certificate": False,
        "pending_update_count": 0,
    }

    set_answer = await raw_call(
        emulator,
        "setWebhook",
        url=receiver.url,
        max_connections=5,
        allowed_updates=["callback_query", "message"],
    )
    assert set_answer == {"ok": True, "result": True, "description": "Webhook was set"}
    assert (await raw_call(emulator, "getWebhookInfo"))["result"] == {
        "url": receiver.url,
        "has_custom_certificate": False,
        "pending_update_count": 0,
        "max_connections": 5,
        "allowed_updates": ["message", "callback_query"],
    }

    receiver.statuses.extend([500] * 1000)
    await emulator.send_text(DRIVER, "hello")
    await receiver.wait_for_posts(1)
    await until(lambda: emulator.stats.webhook_failures >= 1)
    assert (await raw_call(emulator, "getWebhookInfo"))["result"] == {
        "url": receiver.url,
        "has_custom_certificate": False,
        "pending_update_count": 1,
        "last_error_date": int(WALL_CLOCK),
        "last_error_message": "Wrong response from the webhook: 500 Internal Server Error",
        "max_connections": 5,
        "allowed_updates": ["message", "callback_query"],
    }


async def test_max_connections_defaults_to_40_and_is_clamped_to_1_to_100(
    bot: Bot, receiver: Receiver
) -> None:
    await bot.set_webhook(receiver.url)
    assert (await bot.get_webhook_info()).max_connections == 40
    await bot.set_webhook(receiver.url, max_connections=1000)
    assert (await bot.get_webhook_info()).max_connections == 100
    await bot.set_webhook(receiver.url, max_connections=0)
    assert (await bot.get_webhook_info()).max_connections == 1


async def test_setting_the_same_webhook_again_keeps_it_and_its_last_error(
    emulator: BotApiEmulator, bot: Bot, receiver: Receiver
) -> None:
    receiver.statuses.append(502)
    await bot.set_webhook(receiver.url, secret_token=SECRET)
    await emulator.send_text(DRIVER, "hello")
    await until(lambda: emulator.pending_updates == 0)

    again = await raw_call(emulator, "setWebhook", url=receiver.url, secret_token=SECRET)

    assert again == {"ok": True, "result": True, "description": "Webhook is already set"}
    kept = await bot.get_webhook_info()
    assert kept.last_error_message == "Wrong response from the webhook: 502 Bad Gateway"
    await bot.set_webhook(receiver.url, secret_token="another-secret")
    assert (await bot.get_webhook_info()).last_error_message is None


async def test_allowed_updates_keep_other_kinds_from_the_webhook(
    emulator: BotApiEmulator, bot: Bot, receiver: Receiver
) -> None:
    await bot.set_webhook(receiver.url, allowed_updates=["callback_query"])
    offer = await bot.send_message(DRIVER, "New offer", reply_markup=OFFER_KEYBOARD)

    await emulator.send_text(DRIVER, "dropped: messages are not allowed")
    assert emulator.pending_updates == 0
    await emulator.press_callback(DRIVER, offer.message_id, "offer:7:accept", timeout=0.1)

    (post,) = await receiver.wait_for_posts(1)
    assert post.update["callback_query"]["data"] == "offer:7:accept"
    assert (await bot.get_webhook_info()).allowed_updates == ("callback_query",)


async def test_allowed_updates_of_get_updates_hold_for_the_updates_that_follow(
    emulator: BotApiEmulator, bot: Bot
) -> None:
    assert await bot.get_updates(allowed_updates=["callback_query"]) == ()
    await emulator.send_text(DRIVER, "dropped")
    assert await bot.get_updates() == ()

    assert await bot.get_updates(allowed_updates=[]) == ()  # Telegram's default: every kind again
    update_id = await emulator.send_text(DRIVER, "kept")

    (update,) = await bot.get_updates()
    assert update.update_id == update_id


async def test_webhook_counters_reach_the_people_side_stats(
    emulator: BotApiEmulator, bot: Bot, receiver: Receiver
) -> None:
    receiver.statuses.append(500)
    await bot.set_webhook(receiver.url)
    await emulator.send_text(DRIVER, "hello")
    await until(lambda: emulator.pending_updates == 0)

    async with SandboxClient(emulator.url) as people:
        stats = await people.stats()

    assert (stats.webhook_posts, stats.webhook_failures) == (2, 1)


# --------------------------------------------------------------------------- lifecycle


def webhook_tasks() -> list[asyncio.Task[Any]]:
    return [task for task in asyncio.all_tasks() if task.get_name().startswith("webhook")]


async def test_stopping_the_emulator_ends_delivery_cleanly(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    gc.collect()  # what earlier tests left for the collector is not this test's to judge
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        emulator = BotApiEmulator()
        await emulator.start()
        emulator.add_user(DRIVER, "Dana")
        async with bot_for(emulator) as bot:
            await bot.set_webhook(receiver.url)
        receiver.gate.clear()  # one POST stays in flight
        await emulator.send_text(DRIVER, "in flight")
        await receiver.wait_for_posts(1)
        receiver.statuses.extend([500] * 1000)  # and another keeps being retried
        await emulator.send_text(DRIVER, "retried")
        assert webhook_tasks()

        await asyncio.wait_for(emulator.stop(), timeout=5)

        assert webhook_tasks() == []
        assert emulator.pending_updates == 2
        receiver.gate.set()
        await asyncio.sleep(0.1)
        gc.collect()
    assert [str(warning.message) for warning in caught] == []
    # e.g. asyncio's "Task exception was never retrieved" or aiohttp's "Unclosed client session"
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING] == []


async def test_deleting_the_webhook_ends_delivery_and_a_restart_resumes_it(receiver: Receiver) -> None:
    emulator = BotApiEmulator()
    await emulator.start()
    try:
        emulator.add_user(DRIVER, "Dana")
        async with bot_for(emulator) as bot:
            await bot.set_webhook(receiver.url)
            await bot.delete_webhook()
        assert webhook_tasks() == []

        async with bot_for(emulator) as bot:
            await bot.set_webhook(receiver.url)
        await emulator.stop()
        update_id = await emulator.send_text(DRIVER, "sent while the emulator was down")
        await emulator.start()

        (post,) = await receiver.wait_for_posts(1)
        assert post.update_id == update_id
    finally:
        await emulator.stop()
    assert webhook_tasks() == []
