"""The outbox's rules: lanes, payloads, what a failure means, and how long to back off."""

from __future__ import annotations

import itertools
import json

from dispatch.outbox import (
    Delivery,
    Lane,
    Outgoing,
    Verdict,
    backoff_seconds,
    judge_bad_request,
    should_give_up,
)


def test_interactive_lane_sorts_before_bulk() -> None:
    assert sorted([Lane.BULK, Lane.INTERACTIVE]) == [Lane.INTERACTIVE, Lane.BULK]


def test_payload_is_the_call_parameters_as_json() -> None:
    message = Outgoing(chat_id=5, delivery=Delivery.MESSAGE, params={"text": "Hi", "reply_markup": {"a": 1}})
    assert json.loads(message.payload()) == {"text": "Hi", "reply_markup": {"a": 1}}


def test_an_edit_that_changes_nothing_counts_as_sent() -> None:
    description = (
        "Message is not modified: specified new message content and reply markup are exactly "
        "the same as a current content and reply markup of the message"
    )
    assert judge_bad_request(description) is Verdict.SENT
    assert judge_bad_request("Message to edit not found") is Verdict.FAILED
    assert judge_bad_request("Chat not found") is Verdict.FAILED


def test_backoff_doubles_and_stops_at_the_cap() -> None:
    delays = [backoff_seconds(attempt, jitter=0) for attempt in range(1, 10)]
    assert delays[:4] == [0.5, 1.0, 2.0, 4.0]
    assert max(delays) == 60.0
    assert all(later >= earlier for earlier, later in itertools.pairwise(delays))


def test_backoff_jitter_stays_within_a_fifth() -> None:
    for _ in range(200):
        assert 1.6 <= backoff_seconds(3) <= 2.4


def test_attempts_run_out_at_the_maximum() -> None:
    assert not should_give_up(7, 8)
    assert should_give_up(8, 8)
