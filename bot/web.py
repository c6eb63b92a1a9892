"""The bot's own HTTP server: the webhook, /healthz and /metrics, served by uvicorn in the bot's loop."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import socket
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import uvicorn
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram import Update

from bot.metrics import CONTENT_TYPE, Metrics, Snapshot

log = logging.getLogger(__name__)

SECRET_HEADER: Final = "X-Telegram-Bot-Api-Secret-Token"
MAX_UPDATE_BYTES: Final = 1024 * 1024
HEALTH_PATH: Final = "/healthz"
METRICS_PATH: Final = "/metrics"
# A health check that hangs is no answer: past this, the database counts as unreachable.
SNAPSHOT_TIMEOUT_SECONDS: Final = 5.0
# Requests still running at stop get this long to finish (Telegram resends what we drop).
STOP_GRACE_SECONDS: Final = 5
STARTUP_POLL_SECONDS: Final = 0.01

# Errors that mean the database is out of reach for now, not a bug: one log line, no traceback.
UNREACHABLE: Final = (OSError, OperationalError, InterfaceError)


@dataclass(frozen=True)
class Webhook:
    """Where Telegram posts updates, the secret it sends along, and what stores an update."""

    path: str
    secret: str = field(repr=False)
    receive: Callable[[dict[str, Any]], Awaitable[None]]  # returns once the update is committed


class ListenError(Exception):
    """The HTTP server could not listen on its address."""


class _NotAnUpdate(Exception):
    pass


def build_http_app(
    *,
    metrics: Metrics,
    snapshot: Callable[[], Awaitable[Snapshot]],
    mode: str,
    webhook: Webhook | None,
    leading: Callable[[], bool] = lambda: True,
) -> Starlette:
    """The ASGI app: GET /healthz, GET /metrics, and POST to the webhook's path when there is one."""

    async def health(request: Request) -> Response:
        """200 with the backlogs, or 503 when the database cannot be reached."""
        try:
            now = await _read_snapshot(snapshot)
        except Exception as error:
            log.warning("health check: the database cannot be reached: %s", _brief(error))
            return JSONResponse(
                {"database": "unreachable", "mode": mode, "leader": leading()}, status_code=503
            )
        return JSONResponse(
            {
                "database": "ok",
                "mode": mode,
                # The leader sends the outbox and fires deadlines; every instance applies updates.
                "leader": leading(),
                "last_update_age_seconds": now.last_update_age_seconds,
                "inbox_pending": now.inbox_pending,
                "outbox_pending": sum(now.outbox_pending.values()),
                "outbox_oldest_pending_seconds": now.outbox_oldest_pending_seconds,
                "deadlines_pending": now.deadlines_pending,
            }
        )

    async def scrape(request: Request) -> Response:
        """The process's metrics; backlogs keep their last value while the database is away."""
        try:
            metrics.observe(await _read_snapshot(snapshot))
        except Exception as error:
            log.warning("metrics: backlogs not refreshed, the database cannot be reached: %s", _brief(error))
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    routes = [
        Route(HEALTH_PATH, health, methods=["GET"]),
        Route(METRICS_PATH, scrape, methods=["GET"]),
    ]
    if webhook is not None:
        if not webhook.path.startswith("/") or webhook.path in (HEALTH_PATH, METRICS_PATH):
            raise ValueError(f"the webhook path must start with / and not be {HEALTH_PATH} or {METRICS_PATH}")
        routes.append(Route(webhook.path, _webhook_endpoint(webhook), methods=["POST"]))
    return Starlette(routes=routes)


def _webhook_endpoint(webhook: Webhook) -> Callable[[Request], Awaitable[Response]]:
    expected_secret = webhook.secret.encode()

    async def on_update(request: Request) -> Response:
        """Telegram posts one update; 200 only once it is stored, so anything else is sent again."""
        # Header values arrive as latin-1 text; encoding back gives the bytes Telegram sent.
        secret = request.headers.get(SECRET_HEADER, "").encode("latin-1")
        if not hmac.compare_digest(secret, expected_secret):
            return Response(status_code=403)
        try:
            update = await _read_update(request)
        except _NotAnUpdate as problem:
            log.warning("webhook: refused a request: %s", problem)
            return Response(status_code=400)
        update_id = update["update_id"]
        try:
            await webhook.receive(update)
        except UNREACHABLE as error:
            log.warning(
                "webhook: update %d not stored, Telegram will send it again: %s", update_id, _brief(error)
            )
            return Response(status_code=500)
        except Exception:
            log.exception("webhook: update %d not stored, Telegram will send it again", update_id)
            return Response(status_code=500)
        return Response(status_code=200)

    return on_update


async def _read_update(request: Request) -> dict[str, Any]:
    """The request's body as an update's JSON, checked by PTB; raises _NotAnUpdate."""
    declared = request.headers.get("content-length")
    if declared is not None and not (declared.isascii() and declared.isdigit()):
        raise _NotAnUpdate("malformed Content-Length")
    if declared is not None and int(declared) > MAX_UPDATE_BYTES:
        raise _NotAnUpdate(f"declared length {declared} is over {MAX_UPDATE_BYTES} bytes")
    body = bytearray()
    try:
        # Counted while streaming too: a chunked body declares no length.
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_UPDATE_BYTES:
                raise _NotAnUpdate(f"body is over {MAX_UPDATE_BYTES} bytes")
    except ClientDisconnect:
        raise _NotAnUpdate("the client went away mid-body") from None
    try:
        update = json.loads(body)
    except (ValueError, RecursionError):
        raise _NotAnUpdate("body is not JSON") from None
    if not isinstance(update, dict):
        raise _NotAnUpdate("body is not a JSON object")
    update_id = update.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise _NotAnUpdate("no integer update_id")
    try:
        Update.de_json(update, None)
    except Exception as error:
        raise _NotAnUpdate(f"update {update_id} is not a Telegram update: {_brief(error)}") from None
    return update


async def _read_snapshot(snapshot: Callable[[], Awaitable[Snapshot]]) -> Snapshot:
    async with asyncio.timeout(SNAPSHOT_TIMEOUT_SECONDS):
        return await snapshot()


def _brief(error: BaseException) -> str:
    """The error's kind and the first line of its message (SQLAlchemy puts the statement after it)."""
    lines = str(error).splitlines()
    first = lines[0][:200] if lines else ""
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


class _EmbeddedServer(uvicorn.Server):
    """Uvicorn that leaves signals alone: the bot's own SIGINT/SIGTERM handlers decide when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HttpServer:
    """Serves an ASGI app with uvicorn inside the running event loop, until `stop`."""

    def __init__(self) -> None:
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        """The port it listens on (the one picked when started with port 0)."""
        if self._port is None:
            raise RuntimeError("the HTTP server is not started")
        return self._port

    async def start(self, app: Starlette, host: str, port: int) -> None:
        """Listen on host:port (0 picks a free port) and serve `app`; returns once listening."""
        if self._task is not None:
            raise RuntimeError("the HTTP server is already started")
        # Bound here rather than by uvicorn, which would sys.exit() when the port is taken.
        listener = await _listen(host, port)
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            lifespan="off",
            ws="none",
            log_config=None,
            access_log=False,
            proxy_headers=False,
            server_header=False,
            timeout_graceful_shutdown=STOP_GRACE_SECONDS,
        )
        server = _EmbeddedServer(config)
        task = asyncio.create_task(server.serve(sockets=[listener]), name="storerun-http")
        try:
            while not server.started:
                if task.done():
                    await task  # raises what stopped it
                    raise ListenError(f"the HTTP server on {host}:{port} stopped while starting")
                await asyncio.sleep(STARTUP_POLL_SECONDS)
        except BaseException:
            task.cancel()
            listener.close()
            raise
        self._server, self._task = server, task
        self._port = int(listener.getsockname()[1])
        log.info("HTTP server listening on %s:%d", host, self._port)

    async def stop(self) -> None:
        """Stop accepting, give running requests STOP_GRACE_SECONDS, then close."""
        if self._server is None or self._task is None:
            return
        server, task = self._server, self._task
        self._server = self._task = None
        self._port = None
        server.should_exit = True
        # uvicorn bounds its own wait by timeout_graceful_shutdown; this bounds the rest.
        done, _ = await asyncio.wait({task}, timeout=STOP_GRACE_SECONDS + 2)
        if done:
            task.result()  # raises what broke the server, if anything did
        else:
            server.force_exit = True
            task.cancel()
            await asyncio.wait({task})
            log.warning("HTTP server did not stop in time; cancelled")
        log.info("HTTP server stopped")


async def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port; ListenError says which address failed and why."""
    loop = asyncio.get_running_loop()
    try:
        addresses = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, _, _, _, address = addresses[0]
        return socket.create_server(address, family=family)
    except OSError as error:
        raise ListenError(f"cannot listen on {host}:{port}: {error.strerror or error}") from error
