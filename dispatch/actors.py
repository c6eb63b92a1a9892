"""Who did something: an admin, a driver, a store's clerk or dispatch itself, as events.actor records it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """What the one who acted is to storerun."""

    ADMIN = "admin"
    DRIVER = "driver"
    STORE = "store"
    DISPATCH = "dispatch"
    OTHER = "other"  # a form this version does not read; kept as written


@dataclass(frozen=True, slots=True)
class Actor:
    """One who acted. `id` is an admin's or clerk's Telegram user id, or a driver's id (drivers.id);
    `store` is the code of the store a clerk acted for."""

    role: Role
    id: int | None = None
    store: str | None = None
    written: str | None = None  # the stored form of an OTHER actor

    @classmethod
    def admin(cls, user_id: int) -> Actor:
        return cls(Role.ADMIN, id=user_id)

    @classmethod
    def driver(cls, driver_id: int) -> Actor:
        return cls(Role.DRIVER, id=driver_id)

    @classmethod
    def clerk(cls, store_code: str, user_id: int) -> Actor:
        return cls(Role.STORE, id=user_id, store=store_code)

    @property
    def user_id(self) -> int | None:
        """The Telegram user behind this actor, where the id is one (a driver's is not)."""
        return self.id if self.role in (Role.ADMIN, Role.STORE) else None

    def encode(self) -> str:
        """The form stored in events.actor: "admin:5001", "driver:42", "store:FS-ZARA:7001", "dispatch"."""
        if self.role is Role.DISPATCH:
            return "dispatch"
        if self.role is Role.STORE:
            return f"store:{self.store}:{self.id}" if self.store else f"staff:{self.id}"
        if self.role in (Role.ADMIN, Role.DRIVER):
            return f"{self.role.value}:{self.id}"
        return self.written or ""

    @classmethod
    def parse(cls, written: str) -> Actor:
        """The actor of a stored event; rows from before this form (a clerk as "staff:7001") still
        read, and anything else becomes an OTHER actor that shows as written."""
        if written == "dispatch":
            return DISPATCH
        prefix, _, rest = written.partition(":")
        if prefix in ("admin", "driver") and rest.isdigit():
            return cls(Role(prefix), id=int(rest))
        if prefix == "staff" and rest.isdigit():
            return cls(Role.STORE, id=int(rest))
        store, _, user_id = rest.rpartition(":")
        if prefix == "store" and store and user_id.isdigit():
            return cls.clerk(store, int(user_id))
        return cls(Role.OTHER, written=written)


DISPATCH = Actor(Role.DISPATCH)


@dataclass(frozen=True, slots=True)
class By:
    """Who did something, as the others are told: a person's first name, at a store or not; with
    no name, the store itself. The bot puts it in words in each reader's language."""

    name: str | None = None
    store: str | None = None  # the store's name, for a clerk


class CancelReason(StrEnum):
    """Why the domain itself gives for a cancel (a person's own reason is their text, as typed)."""

    NO_TIME_LEFT = "no_time_left"  # nobody could pick it up in its window any more
