"""Outbound policy: lanes, the shape of a queued delivery, and what to do when one fails."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Any

# Re-exported: what a queued delivery is, for everyone who queues one.
from storage.records import Delivery as Delivery
from storage.repos import NewOutbox, Transaction


class Lane(IntEnum):
    """Interactive replies go before bulk fan-out."""

    INTERACTIVE = 0
    BULK = 1


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One thing to deliver to a chat: what it is and its parameters (chat_id is added later).

    The bot decides which Bot API call delivers it. `edit_of` names the outbox row that sent the
    message being edited; its message id is filled in at send time, so an edit can be queued
    before the original message is even sent.
    """

    chat_id: int
    delivery: Delivery
    params: dict[str, Any] = field(default_factory=dict)
    lane: Lane = Lane.INTERACTIVE
    edit_of: int | None = None
    notice_id: int | None = None
    tag: str | None = None

    def payload(self) -> str:
        return json.dumps(self.params, separators=(",", ":"), sort_keys=True)


class Verdict(IntEnum):
    """What the sender does after one attempt."""

    SENT = 0  # done; record the message id
    RETRY = 1  # try again after a delay
    UNREACHABLE = 2  # the person blocked the bot: stop writing to this chat
    FAILED = 3  # Telegram refused the call itself; retrying will not help


NOT_MODIFIED = "message is not modified"


def judge_bad_request(description: str) -> Verdict:
    """A 400 is final, except an edit that changes nothing, which already has the wanted effect."""
    return Verdict.SENT if NOT_MODIFIED in description.lower() else Verdict.FAILED


def backoff_seconds(attempt: int, *, base: float = 0.5, cap: float = 60.0, jitter: float = 0.2) -> float:
    """Exponential backoff for network errors and 5xx: 0.5 s, 1 s, 2 s, … up to `cap`, ±20 %."""
    delay = min(cap, base * 2 ** max(0, attempt - 1))
    return float(delay * random.uniform(1 - jitter, 1 + jitter))


def should_give_up(attempts: int, max_attempts: int) -> bool:
    """Network errors and 5xx are retried until the attempts run out."""
    return attempts >= max_attempts


def as_row(message: Outgoing) -> NewOutbox:
    """The outbox columns of one delivery, for a bulk insert."""
    return {
        "lane": int(message.lane),
        "chat_id": message.chat_id,
        "kind": message.delivery,
        "payload": message.payload(),
        "target_id": message.edit_of,
        "notice_id": message.notice_id,
        "tag": message.tag,
    }


async def enqueue(tx: Transaction, message: Outgoing, at: datetime) -> int:
    """Write one delivery to the outbox in the caller's transaction; returns its outbox id."""
    return await tx.outbox.add(
        lane=int(message.lane),
        chat_id=message.chat_id,
        kind=message.delivery,
        payload=message.payload(),
        at=at,
        target_id=message.edit_of,
        notice_id=message.notice_id,
        tag=message.tag,
    )
