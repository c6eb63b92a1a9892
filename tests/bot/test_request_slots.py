"""The bot's Bot API calls wait for a free connection in the bot, never in httpcore's pool, where a
thousand queued answers to a rush of presses cost the bot's CPU quadratically."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from telegram.error import TimedOut
from telegram.request import HTTPXRequest

from bot.metrics import CountingRequest, Metrics


class _Calls:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.in_flight = 0
        self.most = 0

    async def do_request(self, *_: Any, **__: Any) -> tuple[int, bytes]:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        await asyncio.sleep(self.seconds)
        self.in_flight -= 1
        return 200, b'{"ok":true,"result":true}'


async def test_no_more_calls_are_under_way_than_the_pool_has_connections(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _Calls(0.01)
    monkeypatch.setattr(HTTPXRequest, "do_request", calls.do_request)
    request = CountingRequest(Metrics(), connection_pool_size=8, pool_timeout=5.0)

    answers = await asyncio.gather(
        *(request.do_request("https://api.telegram.org/botT/answerCallbackQuery", "POST") for _ in range(200))
    )

    assert len(answers) == 200 and all(status == 200 for status, _ in answers)
    assert calls.most == 8


async def test_a_call_that_finds_no_free_connection_in_time_times_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(HTTPXRequest, "do_request", _Calls(1.0).do_request)
    request = CountingRequest(Metrics(), connection_pool_size=1, pool_timeout=0.05)
    busy = asyncio.create_task(request.do_request("https://api.telegram.org/botT/sendMessage", "POST"))
    await asyncio.sleep(0.01)

    with pytest.raises(TimedOut):
        await request.do_request("https://api.telegram.org/botT/sendMessage", "POST")
    busy.cancel()
