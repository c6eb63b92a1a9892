"""The bot's HTTP server: Telegram's webhook, /healthz and /metrics, and uvicorn inside the bot's loop."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from bot.metrics import Metrics, Snapshot
from bot.web import MAX_UPDATE_BYTES, SECRET_HEADER, HttpServer, ListenError, Webhook, build_http_app

WEBHOOK_PATH = "/telegram/updates"
WEBHOOK_SECRET = "s3cret_Token-1"
UPDATE: dict[str, Any] = {
    "update_id": 41,
    "message": {
        "message_id": 7,
        "date": 1_700_000_000,
        "chat": {"id": 5001, "type": "private"},
        "from": {"id": 5001, "is_bot": False, "first_name": "Dana"},
        "text": "/start",
    },
}
SNAPSHOT = Snapshot(
    inbox_pending=3,
    inbox_parked=1,
    outbox_pending={"interactive": 2, "bulk": 5},
    outbox_oldest_pending_seconds=4.5,
    offers={"open": 2, "accepted": 1},
    deadlines_pending=6,
    last_update_age_seconds=12.0,
)


class Inbox:
    """Stands in for the inbox: keeps what the webhook hands it, or fails when told to."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.failure: Exception | None = None

    async def receive(self, update: dict[str, Any]) -> None:
        if self.failure is not None:
            raise self.failure
        self.received.append(update)


class Database:
    """Stands in for the database behind the snapshot: answers, or cannot be reached."""

    def __init__(self) -> None:
        self.reachable = True

    async def snapshot(self) -> Snapshot:
        if not self.reachable:
            raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")
        return SNAPSHOT


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
def database() -> Database:
    return Database()


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest_asyncio.fixture
async def client(inbox: Inbox, database: Database, metrics: Metrics) -> AsyncIterator[httpx.AsyncClient]:
    webhook = Webhook(path=WEBHOOK_PATH, secret=WEBHOOK_SECRET, receive=inbox.receive)
    app = build_http_app(metrics=metrics, snapshot=database.snapshot, mode="webhook", webhook=webhook)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bot") as http:
        yield http


async def post_update(
    client: httpx.AsyncClient, body: Any, secret: str | None = WEBHOOK_SECRET
) -> httpx.Response:
    headers = {} if secret is None else {SECRET_HEADER: secret}
    content = body if isinstance(body, bytes) else None
    json_body = None if isinstance(body, bytes) else body
    return await client.post(WEBHOOK_PATH, headers=headers, content=content, json=json_body)


class Chunks:
    """A request body sent in chunks without a declared length; counts how many were read."""

    def __init__(self, chunk_size: int, count: int) -> None:
        self.chunk_size = chunk_size
        self.count = count
        self.read = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.count):
            self.read += 1
            yield b" " * self.chunk_size


# ----------------------------------------------------------------- webhook


async def test_an_update_with_the_right_secret_is_stored_once_and_answered_200(
    client: httpx.AsyncClient, inbox: Inbox
) -> None:
    response = await post_update(client, UPDATE)
    assert response.status_code == 200
    assert response.content == b""
    assert inbox.received == [UPDATE]


@pytest.mark.parametrize("secret", ["wrong-secret", WEBHOOK_SECRET[:-1], WEBHOOK_SECRET + "x", "", None])
async def test_a_wrong_or_missing_secret_is_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, inbox: Inbox, secret: str | None
) -> None:
    response = await post_update(client, UPDATE, secret=secret)
    assert response.status_code == 403
    assert inbox.received == []


async def test_a_wrong_secret_is_refused_before_the_body_is_read(
    client: httpx.AsyncClient, inbox: Inbox
) -> None:
    body = Chunks(chunk_size=1024, count=4)
    response = await client.post(WEBHOOK_PATH, headers={SECRET_HEADER: "wrong"}, content=body)
    assert response.status_code == 403
    assert body.read == 0
    assert inbox.received == []


async def test_a_body_declared_over_one_megabyte_is_refused_unread(
    client: httpx.AsyncClient, inbox: Inbox
) -> None:
    body = Chunks(chunk_size=1024, count=4)
    headers = {SECRET_HEADER: WEBHOOK_SECRET, "Content-Length": str(MAX_UPDATE_BYTES + 1)}
    response = await client.post(WEBHOOK_PATH, headers=headers, content=body)
    assert response.status_code == 400
    assert body.read == 0
    assert inbox.received == []


async def test_a_body_over_one_megabyte_with_its_length_is_refused(
    client: httpx.AsyncClient, inbox: Inbox
) -> None:
    padded = {**UPDATE, "padding": "x" * MAX_UPDATE_BYTES}
    response = await post_update(client, padded)
    assert response.status_code == 400
    assert inbox.received == []


async def test_a_chunked_body_is_cut_off_past_one_megabyte(client: httpx.AsyncClient, inbox: Inbox) -> None:
    chunk_size = 64 * 1024
    body = Chunks(chunk_size=chunk_size, count=3 * MAX_UPDATE_BYTES // chunk_size)
    response = await client.post(WEBHOOK_PATH, headers={SECRET_HEADER: WEBHOOK_SECRET}, content=body)
    assert response.status_code == 400
    assert body.read <= MAX_UPDATE_BYTES // chunk_size + 1  # stopped reading, did not drain it
    assert inbox.received == []


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"{not json", id="malformed JSON"),
        pytest.param(b"\xff\xfe", id="not UTF-8"),
        pytest.param(b"[" * 100_000, id="nested too deep"),
        pytest.param([UPDATE], id="a JSON list"),
        pytest.param({"message": UPDATE["message"]}, id="no update_id"),
        pytest.param({**UPDATE, "update_id": "41"}, id="a text update_id"),
        pytest.param({**UPDATE, "update_id": True}, id="a boolean update_id"),
        pytest.param({"update_id": 42, "message": "hello"}, id="a message that is not one"),
        pytest.param({"update_id": 43, "callback_query": {"id": "1"}}, id="a callback query missing fields"),
    ],
)
async def test_a_body_that_is_not_an_update_is_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, inbox: Inbox, body: Any
) -> None:
    response = await post_update(client, body)
    assert response.status_code == 400
    assert inbox.received == []


async def test_an_update_the_inbox_cannot_store_gets_500_so_telegram_sends_it_again(
    client: httpx.AsyncClient, inbox: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    inbox.failure = ConnectionResetError("database connection lost")
    response = await post_update(client, UPDATE)
    assert response.status_code == 500
    failures = [r for r in caplog.records if r.name == "bot.web" and r.levelno >= logging.WARNING]
    assert len(failures) == 1
    assert "41" in failures[0].getMessage()
    assert WEBHOOK_SECRET not in caplog.text


async def test_an_unexpected_failure_to_store_also_gets_500(client: httpx.AsyncClient, inbox: Inbox) -> None:
    inbox.failure = KeyError("chat")
    response = await post_update(client, UPDATE)
    assert response.status_code == 500


async def test_the_webhook_takes_only_post(client: httpx.AsyncClient, inbox: Inbox) -> None:
    response = await client.get(WEBHOOK_PATH, headers={SECRET_HEADER: WEBHOOK_SECRET})
    assert response.status_code == 405
    assert inbox.received == []


async def test_without_a_webhook_there_is_no_webhook_route(metrics: Metrics, database: Database) -> None:
    app = build_http_app(metrics=metrics, snapshot=database.snapshot, mode="polling", webhook=None)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bot") as http:
        response = await http.post(WEBHOOK_PATH, headers={SECRET_HEADER: WEBHOOK_SECRET}, json=UPDATE)
    assert response.status_code == 404


def test_the_webhook_cannot_take_the_health_or_metrics_path(metrics: Metrics, database: Database) -> None:
    webhook = Webhook(path="/healthz", secret=WEBHOOK_SECRET, receive=Inbox().receive)
    with pytest.raises(ValueError, match="webhook path"):
        build_http_app(metrics=metrics, snapshot=database.snapshot, mode="webhook", webhook=webhook)


def test_the_secret_stays_out_of_the_webhooks_repr() -> None:
    webhook = Webhook(path=WEBHOOK_PATH, secret=WEBHOOK_SECRET, receive=Inbox().receive)
    assert WEBHOOK_SECRET not in repr(webhook)


# ----------------------------------------------------------------- health and metrics


async def test_health_shows_the_database_backlogs(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "database": "ok",
        "mode": "webhook",
        "leader": True,
        "last_update_age_seconds": 12.0,
        "inbox_pending": 3,
        "outbox_pending": 7,
        "outbox_oldest_pending_seconds": 4.5,
        "deadlines_pending": 6,
    }


async def test_health_is_503_when_the_database_cannot_be_reached(
    client: httpx.AsyncClient, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    database.reachable = False
    response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"database": "unreachable", "mode": "webhook", "leader": True}
    warnings = [r for r in caplog.records if r.name == "bot.web"]
    assert [r.levelno for r in warnings] == [logging.WARNING]
    assert warnings[0].exc_info is None
    assert "ConnectionRefusedError" in warnings[0].getMessage()


async def test_metrics_are_prometheus_text_with_the_database_backlogs(
    client: httpx.AsyncClient, metrics: Metrics
) -> None:
    metrics.update_received("message")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    assert 'storerun_updates_received_total{kind="message"} 1.0' in response.text
    assert 'storerun_outbox_backlog{lane="bulk"} 5.0' in response.text
    assert "storerun_deadlines_pending 6.0" in response.text


async def test_metrics_still_serve_the_counters_when_the_database_is_away(
    client: httpx.AsyncClient, database: Database, metrics: Metrics
) -> None:
    await client.get("/metrics")
    database.reachable = False
    metrics.update_received("callback_query")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert 'storerun_updates_received_total{kind="callback_query"} 1.0' in response.text
    assert 'storerun_inbox_backlog{status="pending"} 3.0' in response.text  # as last read


# ----------------------------------------------------------------- the server in the bot's loop


async def test_the_server_answers_over_loopback_and_stops(metrics: Metrics, database: Database) -> None:
    app = build_http_app(metrics=metrics, snapshot=database.snapshot, mode="polling", webhook=None)
    server = HttpServer()
    await server.start(app, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.port}/healthz"
    try:
        async with httpx.AsyncClient() as http:
            response = await http.get(url)
        assert response.status_code == 200
        assert response.json()["mode"] == "polling"
    finally:
        await server.stop()
    async with httpx.AsyncClient() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(url)


async def test_the_bots_signal_handler_stays_in_place_while_serving(
    metrics: Metrics, database: Database
) -> None:
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop_requested.set)
    handler_before = signal.getsignal(signal.SIGTERM)
    app = build_http_app(metrics=metrics, snapshot=database.snapshot, mode="polling", webhook=None)
    server = HttpServer()
    try:
        await server.start(app, "127.0.0.1", 0)
        assert signal.getsignal(signal.SIGTERM) is handler_before
        signal.raise_signal(signal.SIGTERM)
        await asyncio.wait_for(stop_requested.wait(), timeout=2)
        async with httpx.AsyncClient() as http:  # the bot decides when to stop, not uvicorn
            response = await http.get(f"http://127.0.0.1:{server.port}/healthz")
        assert response.status_code == 200
        await server.stop()
        assert signal.getsignal(signal.SIGTERM) is handler_before
    finally:
        await server.stop()
        loop.remove_signal_handler(signal.SIGTERM)


async def test_a_taken_port_is_named_at_start(metrics: Metrics, database: Database) -> None:
    app = build_http_app(metrics=metrics, snapshot=database.snapshot, mode="polling", webhook=None)
    first, second = HttpServer(), HttpServer()
    await first.start(app, "127.0.0.1", 0)
    try:
        with pytest.raises(ListenError, match=rf"127\.0\.0\.1:{first.port}"):
            await second.start(app, "127.0.0.1", first.port)
    finally:
        await first.stop()
