"""The bot's Prometheus metrics: process counters, database backlogs, and Bot API calls counted."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from enum import StrEnum
from http import HTTPStatus
from typing import Any, Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

# The type PTB itself uses for a timeout that may be left to the request's default.
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.constants import UpdateType
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest, RequestData

from dispatch.lifecycle import Status
from dispatch.outbox import Lane
from storage.records import InboxStatus

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST

APPLY_SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LATENESS_SECONDS_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

# Label values are kept to known sets, so a stray name cannot grow the registry without bound.
OTHER = "other"
# Telegram's update types, and "command": a message that starts with "/" (bot.inbox.kind_of).
UPDATE_KINDS: Final = frozenset(kind.value for kind in UpdateType) | {"command"}
BOT_API_METHOD = re.compile(r"[A-Za-z]{1,64}")
FILE_DOWNLOAD = "fileDownload"


class Outcome(StrEnum):
    """How one Bot API call ended."""

    SENT = "sent"
    TOO_MANY_REQUESTS = "429"
    SERVER_ERROR = "5xx"
    FORBIDDEN = "403"
    BAD_REQUEST = "400"  # and every other 4xx
    TIMEOUT = "timeout"
    NETWORK = "network"


def outcome_of(status_code: int) -> Outcome:
    """The outcome an HTTP status of the Bot API stands for."""
    if HTTPStatus.OK <= status_code <= 299:
        return Outcome.SENT
    if status_code == HTTPStatus.TOO_MANY_REQUESTS:
        return Outcome.TOO_MANY_REQUESTS
    if status_code == HTTPStatus.FORBIDDEN:
        return Outcome.FORBIDDEN
    if 400 <= status_code <= 499:
        return Outcome.BAD_REQUEST
    if 500 <= status_code <= 599:
        return Outcome.SERVER_ERROR
    return Outcome.NETWORK  # PTB raises NetworkError for any other status


@dataclass(frozen=True)
class Snapshot:
    """What the database says now, read at each health check and scrape."""

    inbox_pending: int
    inbox_parked: int
    outbox_pending: dict[str, int]  # by lane name, e.g. "interactive"
    outbox_oldest_pending_seconds: float | None
    offers: dict[Status, int]
    deadlines_pending: int
    last_update_age_seconds: float | None


class Metrics:
    """This process's metrics, in a registry of its own so two bots in one process do not clash."""

    def __init__(self) -> None:
        self._registry = CollectorRegistry(auto_describe=True)
        registry = self._registry
        self._received = Counter(
            "storerun_updates_received", "Updates received from Telegram.", ["kind"], registry=registry
        )
        self._applied = Counter(
            "storerun_updates_applied", "Updates applied to the database.", ["kind"], registry=registry
        )
        self._parked = Counter(
            "storerun_updates_parked",
            "Updates set aside after their handler failed too often.",
            ["kind"],
            registry=registry,
        )
        self._apply_seconds = Histogram(
            "storerun_update_apply_seconds",
            "Time to apply one update.",
            buckets=APPLY_SECONDS_BUCKETS,
            registry=registry,
        )
        self._bot_api_calls = Counter(
            "storerun_bot_api_calls",
            "Bot API calls by method and outcome.",
            ["method", "outcome"],
            registry=registry,
        )
        self._deadline_lateness = Histogram(
            "storerun_deadline_lateness_seconds",
            "How long after its due time a deadline fired.",
            buckets=LATENESS_SECONDS_BUCKETS,
            registry=registry,
        )
        self._inbox_backlog = Gauge(
            "storerun_inbox_backlog", "Updates in the inbox by status.", ["status"], registry=registry
        )
        self._outbox_backlog = Gauge(
            "storerun_outbox_backlog",
            "Bot API calls waiting in the outbox by lane.",
            ["lane"],
            registry=registry,
        )
        self._outbox_oldest = Gauge(
            "storerun_outbox_oldest_pending_seconds",
            "Age of the oldest call waiting in the outbox (0 when none waits).",
            registry=registry,
        )
        self._offers = Gauge("storerun_offers", "Offers by status.", ["status"], registry=registry)
        self._deadlines_pending = Gauge(
            "storerun_deadlines_pending", "Deadlines not yet fired.", registry=registry
        )
        self._leader = Gauge(
            "storerun_leader",
            "1 while this instance leads (sends the outbox and fires deadlines), else 0.",
            registry=registry,
        )
        self._elections = Counter(
            "storerun_leader_elections",
            "Times this instance became the leader.",
            registry=registry,
        )
        self._takeovers = Counter(
            "storerun_leader_takeovers",
            "Times this instance became the leader after another instance had led.",
            registry=registry,
        )

    def update_received(self, kind: str) -> None:
        """An update of this kind (e.g. "message") arrived."""
        self._received.labels(_update_kind(kind)).inc()

    def update_applied(self, kind: str, seconds: float) -> None:
        """An update of this kind was applied, taking `seconds`."""
        self._applied.labels(_update_kind(kind)).inc()
        self._apply_seconds.observe(seconds)

    def update_parked(self, kind: str) -> None:
        """An update of this kind was set aside after failing too often."""
        self._parked.labels(_update_kind(kind)).inc()

    def bot_api_call(self, method: str, outcome: Outcome) -> None:
        """A Bot API call (e.g. "sendMessage") ended with this outcome."""
        self._bot_api_calls.labels(method, outcome.value).inc()

    def deadline_fired(self, lateness_seconds: float) -> None:
        """A deadline fired this long after it was due."""
        self._deadline_lateness.observe(max(lateness_seconds, 0.0))

    def leading(self, *, takeover: bool) -> None:
        """This instance became the leader (`takeover`: from another instance that led)."""
        self._leader.set(1)
        self._elections.inc()
        if takeover:
            self._takeovers.inc()

    def following(self) -> None:
        """This instance no longer leads (or never did)."""
        self._leader.set(0)

    def observe(self, snapshot: Snapshot) -> None:
        """Set the backlog gauges from what the database says now."""
        self._inbox_backlog.labels(InboxStatus.PENDING).set(snapshot.inbox_pending)
        self._inbox_backlog.labels(InboxStatus.PARKED).set(snapshot.inbox_parked)
        # A lane or status missing from the snapshot has none, not "as before".
        lanes = dict.fromkeys((lane.name.lower() for lane in Lane), 0) | snapshot.outbox_pending
        for lane_name, pending in lanes.items():
            self._outbox_backlog.labels(lane_name).set(pending)
        self._outbox_oldest.set(snapshot.outbox_oldest_pending_seconds or 0.0)
        offers = dict.fromkeys(Status, 0) | snapshot.offers
        for status, count in offers.items():
            self._offers.labels(status).set(count)
        self._deadlines_pending.set(snapshot.deadlines_pending)

    def render(self) -> bytes:
        """Everything in Prometheus's text format (served as `CONTENT_TYPE`)."""
        return generate_latest(self._registry)


def _update_kind(kind: str) -> str:
    return kind if kind in UPDATE_KINDS else OTHER


def bot_api_method(url: str, http_method: str) -> str:
    """The Bot API method a request URL calls; never the token, which is also in the URL."""
    if http_method == "GET":
        return FILE_DOWNLOAD
    name = url.rsplit("/", 1)[-1]
    return name if BOT_API_METHOD.fullmatch(name) else OTHER


class CountingRequest(HTTPXRequest):
    """PTB's HTTPX request that counts every Bot API call by method and outcome."""

    def __init__(self, metrics: Metrics, **httpx_request_kwargs: Any) -> None:
        super().__init__(**httpx_request_kwargs)
        self._metrics = metrics
        # At most as many calls under way as the pool has connections: the rest wait here, not in
        # httpcore's pool, whose every hand-over looks at each waiting request and connection (a
        # thousand answers to a rush of presses queued there cost the bot's CPU quadratically).
        self._slots = asyncio.Semaphore(int(httpx_request_kwargs.get("connection_pool_size", 1)))
        pool_timeout = httpx_request_kwargs.get("pool_timeout")
        self._pool_timeout = float(pool_timeout) if pool_timeout is not None else None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """See `BaseRequest.do_request`; the answer or the error is passed on unchanged."""
        api_method = bot_api_method(url, method)
        wait = self._pool_timeout if isinstance(pool_timeout, DefaultValue) else pool_timeout
        try:
            async with asyncio.timeout(wait):
                await self._slots.acquire()
        except TimeoutError:
            self._metrics.bot_api_call(api_method, Outcome.TIMEOUT)
            raise TimedOut("Pool timeout: all connections are busy") from None
        try:
            status_code, payload = await super().do_request(
                url,
                method,
                request_data=request_data,
                read_timeout=read_timeout,
                write_timeout=write_timeout,
                connect_timeout=connect_timeout,
                pool_timeout=pool_timeout,
            )
        except TimedOut:
            self._metrics.bot_api_call(api_method, Outcome.TIMEOUT)
            raise
        except NetworkError:
            self._metrics.bot_api_call(api_method, Outcome.NETWORK)
            raise
        finally:
            self._slots.release()
        self._metrics.bot_api_call(api_method, outcome_of(status_code))
        return status_code, payload
