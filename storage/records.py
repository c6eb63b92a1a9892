"""Plain records the storage layer hands out: one frozen dataclass per table row kind."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Area:
    id: int
    slug: str
    name: str
    tz: str
    active: bool


@dataclass(frozen=True, slots=True)
class Store:
    id: int
    code: str
    name: str
    area_id: int
    location: str
    active: bool


@dataclass(frozen=True, slots=True)
class Driver:
    id: int
    tg_user_id: int
    chat_id: int
    name: str
    username: str | None
    phone: str | None
    status: str
    online: bool
    reachable: bool


@dataclass(frozen=True, slots=True)
class Offer:
    id: int
    store_id: int
    ref: str
    packages: int
    zone: str
    address: str
    pay_cents: int
    pickup_start: datetime
    pickup_end: datetime
    deliver_by: datetime | None
    pickup_code: str
    status: str
    holder_id: int | None
    wave: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One Telegram call still to make (or made): `method` with `payload` to `chat_id`."""

    id: int
    lane: int
    chat_id: int
    method: str
    payload: str
    target_id: int | None
    notice_id: int | None
    status: str
    attempts: int
    not_before: datetime
    created_at: datetime
    message_id: int | None = None


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    at: datetime
    offer_id: int | None
    actor: str
    kind: str
    detail: str
