"""The program's front door: who someone is, updates applied once, and messages queued."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from dispatch.clock import Clock
from dispatch.deadlines import Timing
from dispatch.messages import Catalog, Messages, Render
from dispatch.outbox import Delivery, Lane, Outgoing, enqueue
from dispatch.stats import HUMAN_MIN
from storage.db import WAKE_OUTBOX, Database, wake_for_offer
from storage.records import Driver, Language, Offer, Store
from storage.repos import Transaction


@dataclass(frozen=True, slots=True)
class Rules:
    """The dispatch settings (see Settings for their environment names)."""

    wave_size: int = 5
    wave_interval: timedelta = timedelta(seconds=60)
    acceptance_window: timedelta = timedelta(seconds=600)
    max_offers_held: int = 2
    pickup_code_tries: int = 3
    auto_offline_after: int = 3
    invite_ttl: timedelta = timedelta(hours=24)
    max_days_ahead: int = 14  # how far ahead an order's date may be
    # An order is offered to drivers only while this much of its pickup window is left: the time a
    # driver needs to get to the store (as long as the pickup reminder comes ahead of a window).
    time_to_reach_store: timedelta = timedelta(minutes=15)
    timing: Timing = field(default_factory=Timing)
    # Accepts are collected this long from the first, then the offer is awarded by the area's
    # fairness order; zero: the first Accept wins. Areas may have their own (areas.award_window_seconds).
    award_window: timedelta = timedelta(seconds=10)
    # A press sooner than this after its copy was delivered is a fast tap (quicker than a person).
    human_min: timedelta = HUMAN_MIN
    # Admins are told once when this share of a driver's last presses were fast taps.
    fast_tap_alert_share: float = 0.5

    def award_window_of(self, area_seconds: int | None) -> timedelta:
        """The award window of an area: its own, else the setting."""
        return self.award_window if area_seconds is None else timedelta(seconds=area_seconds)

    def stands_until(self, now: datetime, pickup_end: datetime) -> datetime:
        """When an offer put out now expires: after the acceptance window, or sooner, when a
        driver taking it could no longer reach the store before its pickup window closes."""
        return min(now + self.acceptance_window, pickup_end - self.time_to_reach_store)


class Deadlines(Protocol):
    """Where the domain asks for timers: every deadline the offer has in its current state."""

    def plan(self, offer: Offer) -> None: ...


class NoTimers:
    """Deadlines that nobody runs (tools and tests that fire them by hand)."""

    def plan(self, offer: Offer) -> None:
        return None


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


class Outbound:
    """Messages queued in a transaction, each made in the language its chat reads; a transaction
    made here wakes the outbox sender once it has committed."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        messages: Catalog,
        admin_ids: frozenset[int],
        on_commit: Callable[[], None],
    ) -> None:
        self.db = db
        self.clock = clock
        self.messages = messages
        self.admin_ids = admin_ids
        self._on_commit = on_commit

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """A transaction that wakes the outbox sender once it has committed."""
        async with self.db.transaction() as tx:
            if self._on_commit not in tx.after_commit:
                tx.after_commit.append(self._on_commit)
            tx.wakes.add(WAKE_OUTBOX)  # the sender may be another instance's (the leader's)
            yield tx

    def words(self, language: Language | None) -> Messages:
        """The messages in a language; a chat that never wrote (an admin's, at first) reads English."""
        return self.messages(language or Language.EN)

    async def rendered(
        self, tx: Transaction, chat_ids: Iterable[int], render: Render
    ) -> dict[int, dict[str, object]]:
        """One message for many chats, each in its language: made once per language, not per chat."""
        languages = await tx.chats.languages(chat_ids)
        made: dict[Language, dict[str, object]] = {}
        out = {}
        for chat_id in chat_ids:
            language = languages.get(chat_id, Language.EN)
            if language not in made:
                made[language] = render(self.words(language))
            out[chat_id] = made[language]
        return out

    async def say(
        self,
        tx: Transaction,
        chat_id: int,
        render: Render,
        *,
        lane: Lane = Lane.INTERACTIVE,
        delivery: Delivery = Delivery.MESSAGE,
        edit_of: int | None = None,
        notice_id: int | None = None,
    ) -> int:
        """Queue one message (or, with `edit_of`, an edit of it) in this transaction, made in the
        language the chat reads."""
        if edit_of is not None and delivery is Delivery.MESSAGE:
            delivery = Delivery.EDIT
        params = render(self.words(await tx.chats.language(chat_id)))
        message = Outgoing(chat_id, delivery, params, lane=lane, edit_of=edit_of, notice_id=notice_id)
        return await enqueue(tx, message, self.clock.now())

    async def tell_admins(self, tx: Transaction, render: Render) -> list[int]:
        """Queue the same message to every admin, each in their language; returns the outbox ids."""
        return [await self.say(tx, admin, render) for admin in sorted(self.admin_ids)]

    async def tell_store(
        self, tx: Transaction, store_id: int, render: Render, *, delivery: Delivery = Delivery.MESSAGE
    ) -> None:
        """Queue the same notice to every staff chat of a store, each in the language it reads."""
        for chat_id in await tx.stores.staff_chats(store_id):
            await self.say(tx, chat_id, render, delivery=delivery)

    async def send(self, *messages: Outgoing) -> list[int]:
        """Queue messages that change nothing else (a reply, a help text)."""
        async with self.transaction() as tx:
            return [await enqueue(tx, message, self.clock.now()) for message in messages]


class Planner:
    """Timers for an offer's deadlines, set only once the change that moved them has committed."""

    def __init__(self, deadlines: Deadlines) -> None:
        self.deadlines = deadlines

    def plan(self, tx: Transaction, offer: Offer) -> None:
        """Once this transaction commits, set timers for the offer's deadlines as they now stand
        (here if this instance keeps the time, and in the leader, which is told by the commit)."""
        tx.after_commit.append(lambda: self.deadlines.plan(offer))
        tx.wakes.add(wake_for_offer(offer.id))


class Dispatch:
    """Domain operations over the database; every change is one explicit transaction.

    The front door: it builds the collaborators (the outbound messages, the deadline planner) and
    hands each desk just the ones it uses; no desk holds the Dispatch.
    """

    def __init__(
        self,
        db: Database,
        clock: Clock,
        messages: Catalog,
        *,
        rules: Rules | None = None,
        admin_ids: Iterable[int] = (),
        on_commit: Callable[[], None] = lambda: None,
        deadlines: Deadlines | None = None,
    ) -> None:
        from dispatch.admin import AdminDesk
        from dispatch.drivers import DriverDesk
        from dispatch.offers import OfferDesk
        from dispatch.stores import StoreDesk
        from dispatch.why import FairnessDesk

        self.db = db
        self.clock = clock
        self.messages = messages
        self.rules = rules or Rules()
        self.admin_ids = frozenset(admin_ids)
        self.deadlines: Deadlines = deadlines or NoTimers()
        self.outbound = Outbound(db, clock, messages, self.admin_ids, on_commit)
        self.planner = Planner(self.deadlines)
        self.offers = OfferDesk(db, clock, self.rules, self.outbound, self.planner, self.admin_ids)
        self.drivers = DriverDesk(db, clock, self.outbound, self.admin_ids, offers=self.offers)
        self.stores = StoreDesk(db, clock, self.rules, self.outbound, offers=self.offers)
        self.admin = AdminDesk(
            db, clock, self.rules, self.outbound, offers=self.offers, driver_desk=self.drivers
        )
        self.fairness = FairnessDesk(db, clock, self.rules, self.outbound, self.admin_ids)

    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """A transaction that wakes the outbox sender once it has committed."""
        return self.outbound.transaction()

    def plan(self, tx: Transaction, offer: Offer) -> None:
        """Once this transaction commits, set timers for the offer's deadlines as they now stand."""
        self.planner.plan(tx, offer)

    async def who_is(self, user_id: int, chat_id: int) -> Person:
        """The roles of this Telegram user writing from this chat."""
        async with self.db.transaction() as tx:
            driver = await tx.drivers.by_telegram_id(user_id)
            stores = await tx.stores.staffed_by(chat_id)
        return Person(user_id=user_id, is_admin=user_id in self.admin_ids, driver=driver, stores=stores)

    async def set_language(self, chat_id: int, language: Language) -> None:
        """The chat chose what it reads (/language): every message to it from now on is in it."""
        async with self.transaction() as tx:
            await tx.chats.set_language(chat_id, language, self.clock.now())

    async def send(self, *messages: Outgoing) -> list[int]:
        """Queue messages that change nothing else (a reply, a help text)."""
        return await self.outbound.send(*messages)
