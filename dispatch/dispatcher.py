"""The program's front door: who someone is, updates applied once, and messages queued."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from dispatch.clock import Clock
from dispatch.outbox import Outgoing, enqueue
from storage.db import Database
from storage.records import Driver, Store
from storage.repos import Transaction


@dataclass(frozen=True, slots=True)
class Person:
    """Everything storerun knows about whoever is writing: one person may hold several roles."""

    user_id: int
    is_admin: bool = False
    driver: Driver | None = None
    stores: list[Store] = field(default_factory=list)

    @property
    def is_unknown(self) -> bool:
        return not self.is_admin and self.driver is None and not self.stores


class Dispatch:
    """Domain operations over the database; every change is one explicit transaction."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        admin_ids: Iterable[int] = (),
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.admin_ids = frozenset(admin_ids)
        self._on_commit = on_commit

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """A transaction that wakes the outbox sender once it has committed."""
        async with self.db.transaction() as tx:
            yield tx
        self._on_commit()

    async def first_sight(self, update_id: int, chat_id: int | None) -> bool:
        """Claim an update id; False if it was already applied (Telegram re-sent it)."""
        async with self.db.transaction() as tx:
            if not await tx.updates.claim(update_id, self.clock.now()):
                return False
            if chat_id is not None:
                await tx.chats.seen(chat_id, self.clock.now())
            return True

    async def who_is(self, user_id: int, chat_id: int) -> Person:
        """The roles of this Telegram user writing from this chat."""
        async with self.db.transaction() as tx:
            driver = await tx.drivers.by_telegram_id(user_id)
            stores = await tx.stores.staffed_by(chat_id)
        return Person(user_id=user_id, is_admin=user_id in self.admin_ids, driver=driver, stores=stores)

    async def send(self, *messages: Outgoing) -> list[int]:
        """Queue messages that change nothing else (a reply, a help text)."""
        async with self.transaction() as tx:
            return [await enqueue(tx, message, self.clock.now()) for message in messages]
