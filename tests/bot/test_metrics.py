"""The bot's metrics: what the process counts, what the database shows, and every Bot API call counted."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families
from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.metrics import CountingRequest, Metrics, Outcome, Snapshot, bot_api_method, outcome_of
from sandbox.emulator import BotApiEmulator

TOKEN = "123456:TEST-TOKEN-never-in-metrics"
DRIVER = 7001
STRANGER = 7999  # never opened a chat with the bot

SNAPSHOT = Snapshot(
    inbox_pending=3,
    inbox_parked=1,
    outbox_pending={"interactive": 2, "bulk": 5},
    outbox_oldest_pending_seconds=4.5,
    offers={"open": 2, "accepted": 1},
    deadlines_pending=6,
    last_update_age_seconds=12.0,
)


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    """One sample's value as a scrape shows it, or None when the scrape has no such sample."""
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return None


def calls(metrics: Metrics, method: str, outcome: Outcome) -> float | None:
    return value(metrics, "storerun_bot_api_calls_total", method=method, outcome=outcome.value)


# ----------------------------------------------------------------- counters, histograms, gauges


def test_every_metric_is_named_storerun() -> None:
    metrics = Metrics()
    metrics.update_received("message")
    metrics.update_applied("message", 0.01)
    metrics.update_parked("message")
    metrics.bot_api_call("sendMessage", Outcome.SENT)
    metrics.deadline_fired(0.5)
    metrics.observe(SNAPSHOT)
    names = {family.name for family in text_string_to_metric_families(metrics.render().decode())}
    assert all(name.startswith("storerun_") for name in names)
    assert {name for name in names if not name.endswith("_created")} == {
        "storerun_updates_received",
        "storerun_updates_applied",
        "storerun_updates_parked",
        "storerun_update_apply_seconds",
        "storerun_bot_api_calls",
        "storerun_deadline_lateness_seconds",
        "storerun_inbox_backlog",
        "storerun_outbox_backlog",
        "storerun_outbox_oldest_pending_seconds",
        "storerun_offers",
        "storerun_deadlines_pending",
        "storerun_leader",
        "storerun_leader_elections",
        "storerun_leader_takeovers",
    }


def test_updates_are_counted_by_kind() -> None:
    metrics = Metrics()
    metrics.update_received("message")
    metrics.update_received("message")
    metrics.update_received("callback_query")
    metrics.update_applied("message", 0.004)
    metrics.update_parked("callback_query")
    assert value(metrics, "storerun_updates_received_total", kind="message") == 2
    assert value(metrics, "storerun_updates_received_total", kind="callback_query") == 1
    assert value(metrics, "storerun_updates_applied_total", kind="message") == 1
    assert value(metrics, "storerun_updates_parked_total", kind="callback_query") == 1
    assert value(metrics, "storerun_updates_parked_total", kind="message") is None


def test_an_unknown_update_kind_is_counted_as_other() -> None:
    metrics = Metrics()
    metrics.update_received("made_up_kind")
    assert value(metrics, "storerun_updates_received_total", kind="other") == 1
    assert b"made_up_kind" not in metrics.render()


def test_apply_time_falls_in_millisecond_buckets() -> None:
    metrics = Metrics()
    metrics.update_applied("message", 0.003)
    metrics.update_applied("message", 7.0)
    assert value(metrics, "storerun_update_apply_seconds_bucket", le="0.0025") == 0
    assert value(metrics, "storerun_update_apply_seconds_bucket", le="0.005") == 1
    assert value(metrics, "storerun_update_apply_seconds_bucket", le="5.0") == 1
    assert value(metrics, "storerun_update_apply_seconds_bucket", le="10.0") == 2
    assert value(metrics, "storerun_update_apply_seconds_count") == 2
    assert value(metrics, "storerun_update_apply_seconds_sum") == pytest.approx(7.003)


def test_deadline_lateness_spans_ten_milliseconds_to_five_minutes() -> None:
    metrics = Metrics()
    metrics.deadline_fired(0.02)
    metrics.deadline_fired(90.0)
    metrics.deadline_fired(-0.5)  # a clock step back: on time, not early
    assert value(metrics, "storerun_deadline_lateness_seconds_bucket", le="0.01") == 1
    assert value(metrics, "storerun_deadline_lateness_seconds_bucket", le="0.025") == 2
    assert value(metrics, "storerun_deadline_lateness_seconds_bucket", le="60.0") == 2
    assert value(metrics, "storerun_deadline_lateness_seconds_bucket", le="120.0") == 3
    assert value(metrics, "storerun_deadline_lateness_seconds_bucket", le="300.0") == 3


def test_backlog_gauges_show_what_the_database_said_last() -> None:
    metrics = Metrics()
    metrics.observe(SNAPSHOT)
    assert value(metrics, "storerun_inbox_backlog", status="pending") == 3
    assert value(metrics, "storerun_inbox_backlog", status="parked") == 1
    assert value(metrics, "storerun_outbox_backlog", lane="interactive") == 2
    assert value(metrics, "storerun_outbox_backlog", lane="bulk") == 5
    assert value(metrics, "storerun_outbox_oldest_pending_seconds") == 4.5
    assert value(metrics, "storerun_offers", status="open") == 2
    assert value(metrics, "storerun_offers", status="delivered") == 0
    assert value(metrics, "storerun_deadlines_pending") == 6


def test_a_lane_or_status_that_empties_drops_to_zero() -> None:
    metrics = Metrics()
    metrics.observe(SNAPSHOT)
    emptied = Snapshot(
        inbox_pending=0,
        inbox_parked=0,
        outbox_pending={},
        outbox_oldest_pending_seconds=None,
        offers={"accepted": 1},
        deadlines_pending=0,
        last_update_age_seconds=None,
    )
    metrics.observe(emptied)
    assert value(metrics, "storerun_outbox_backlog", lane="bulk") == 0
    assert value(metrics, "storerun_outbox_oldest_pending_seconds") == 0
    assert value(metrics, "storerun_offers", status="open") == 0
    assert value(metrics, "storerun_offers", status="accepted") == 1


def test_two_bots_in_one_process_keep_their_own_counts() -> None:
    first, second = Metrics(), Metrics()
    first.update_received("message")
    assert value(first, "storerun_updates_received_total", kind="message") == 1
    assert value(second, "storerun_updates_received_total", kind="message") is None


@pytest.mark.parametrize(
    ("status_code", "outcome"),
    [
        (200, Outcome.SENT),
        (429, Outcome.TOO_MANY_REQUESTS),
        (403, Outcome.FORBIDDEN),
        (400, Outcome.BAD_REQUEST),
        (409, Outcome.BAD_REQUEST),
        (404, Outcome.BAD_REQUEST),
        (500, Outcome.SERVER_ERROR),
        (502, Outcome.SERVER_ERROR),
        (599, Outcome.SERVER_ERROR),
        (302, Outcome.NETWORK),
    ],
)
def test_each_http_status_has_one_outcome(status_code: int, outcome: Outcome) -> None:
    assert outcome_of(status_code) is outcome


@pytest.mark.parametrize(
    ("url", "http_method", "expected"),
    [
        (f"https://api.telegram.org/bot{TOKEN}/sendMessage", "POST", "sendMessage"),
        (f"https://api.telegram.org/bot{TOKEN}", "POST", "other"),
        (f"https://api.telegram.org/file/bot{TOKEN}/photos/file_3.jpg", "GET", "fileDownload"),
    ],
)
def test_the_method_label_never_carries_the_token(url: str, http_method: str, expected: str) -> None:
    assert bot_api_method(url, http_method) == expected


# ----------------------------------------------------------------- Bot API calls against the emulator


@pytest_asyncio.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(token=TOKEN) as running:
        running.add_user(DRIVER, "Dana")
        yield running


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest_asyncio.fixture
async def bot(emulator: BotApiEmulator, metrics: Metrics) -> AsyncIterator[Bot]:
    request = CountingRequest(metrics, read_timeout=0.3, connect_timeout=1.0)
    polling = CountingRequest(metrics, read_timeout=2.0, connect_timeout=1.0)
    async with Bot(
        TOKEN, base_url=f"{emulator.url}/bot", request=request, get_updates_request=polling
    ) as bot:
        yield bot


async def test_a_delivered_message_counts_as_sent(bot: Bot, metrics: Metrics) -> None:
    await bot.send_message(DRIVER, "Offer #12: 2 bags, Elm St")
    await bot.send_message(DRIVER, "Offer #13: 1 bag, Oak St")
    assert calls(metrics, "sendMessage", Outcome.SENT) == 2
    assert calls(metrics, "getMe", Outcome.SENT) == 1  # the bot introducing itself at start


async def test_a_server_error_counts_as_5xx(bot: Bot, metrics: Metrics, emulator: BotApiEmulator) -> None:
    emulator.fail_next("sendMessage", status=502)
    with pytest.raises(NetworkError):
        await bot.send_message(DRIVER, "Offer #12")
    assert calls(metrics, "sendMessage", Outcome.SERVER_ERROR) == 1
    assert calls(metrics, "sendMessage", Outcome.SENT) is None


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # PTB's own RetryAfter
async def test_flood_control_counts_as_429(bot: Bot, metrics: Metrics, emulator: BotApiEmulator) -> None:
    emulator.set_limits(enabled=True, per_chat_per_second=1.0)
    await bot.send_message(DRIVER, "Offer #12")
    with pytest.raises(RetryAfter):
        await bot.send_message(DRIVER, "Offer #13")
    assert calls(metrics, "sendMessage", Outcome.SENT) == 1
    assert calls(metrics, "sendMessage", Outcome.TOO_MANY_REQUESTS) == 1


async def test_a_stalled_call_counts_as_timeout(bot: Bot, metrics: Metrics, emulator: BotApiEmulator) -> None:
    emulator.stall_next("sendMessage", seconds=2.0)
    with pytest.raises(TimedOut):
        await bot.send_message(DRIVER, "Offer #12")
    assert calls(metrics, "sendMessage", Outcome.TIMEOUT) == 1


async def test_a_person_who_blocked_the_bot_counts_as_403(
    bot: Bot, metrics: Metrics, emulator: BotApiEmulator
) -> None:
    emulator.block_chat(DRIVER)
    with pytest.raises(Forbidden):
        await bot.send_message(DRIVER, "Offer #12")
    assert calls(metrics, "sendMessage", Outcome.FORBIDDEN) == 1


async def test_an_unknown_chat_counts_as_400(bot: Bot, metrics: Metrics) -> None:
    with pytest.raises(BadRequest):
        await bot.send_message(STRANGER, "Offer #12")
    assert calls(metrics, "sendMessage", Outcome.BAD_REQUEST) == 1


async def test_an_unreachable_api_counts_as_network(metrics: Metrics, emulator: BotApiEmulator) -> None:
    request = CountingRequest(metrics, connect_timeout=1.0)
    async with Bot(TOKEN, base_url=f"{emulator.url}/bot", request=request) as bot:
        await emulator.stop()
        with pytest.raises(NetworkError) as raised:
            await bot.send_message(DRIVER, "Offer #12")
    assert not isinstance(raised.value, TimedOut)
    assert calls(metrics, "sendMessage", Outcome.NETWORK) == 1


async def test_long_polls_are_counted_too(bot: Bot, metrics: Metrics, emulator: BotApiEmulator) -> None:
    await emulator.send_text(DRIVER, "/start")
    updates = await bot.get_updates(timeout=1)
    assert len(updates) == 1
    assert calls(metrics, "getUpdates", Outcome.SENT) == 1


async def test_the_token_never_reaches_the_metrics(
    bot: Bot, metrics: Metrics, emulator: BotApiEmulator
) -> None:
    emulator.fail_next("sendMessage", status=500)
    with pytest.raises(NetworkError):
        await bot.send_message(DRIVER, "Offer #12")
    await bot.send_message(DRIVER, "Offer #12")
    rendered = metrics.render().decode()
    assert TOKEN not in rendered
    assert TOKEN.split(":")[1] not in rendered
