"""The database schema as SQLAlchemy Core tables; migrations under storage/migrations create it."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import TypeVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from storage.records import (
    Account,
    BroadcastStatus,
    CardKind,
    Delivery,
    EventKind,
    InboxStatus,
    OfferStatus,
    OutboxStatus,
    Outcome,
    Prompt,
    RequestKind,
)

E = TypeVar("E", bound=StrEnum)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC instant on every backend (SQLite keeps no zone, so it is added back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware UTC time")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class DeliveryKind(TypeDecorator[Delivery]):
    """An outbox row's kind: a Delivery, stored as its value and read back as the member (the
    column is VARCHAR(32), as it was when it held Bot API method names: see migration 0014)."""

    impl = String(32)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else Delivery(value).value  # a stray name fails here

    def process_result_value(self, value: str | None, dialect: Dialect) -> Delivery | None:
        return None if value is None else Delivery(value)


class Named(TypeDecorator[E]):
    """A state or kind (a StrEnum) stored as its value in a VARCHAR and read back as the member;
    a value the enum does not name fails as it is written. The column stays a plain VARCHAR."""

    impl = String
    cache_ok = True

    def __init__(self, kind: type[E], length: int) -> None:
        super().__init__(length)
        self.kind = kind

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.kind(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> E | None:
        return None if value is None else self.kind(value)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Telegram ids exceed 32 bits; SQLite autoincrements only an INTEGER primary key.
Id = BigInteger().with_variant(Integer(), "sqlite")


def _when(name: str, nullable: bool = True) -> Column[datetime]:
    return Column(name, UtcDateTime(), nullable=nullable)


areas = Table(
    "areas",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("slug", String(40), nullable=False, unique=True),
    Column("name", String(120), nullable=False),
    Column("tz", String(64), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    # How long accepts are collected before the offer is awarded (None: the setting), and by which
    # published fairness order (None: the default order).
    Column("award_window_seconds", Integer),
    Column("fairness_order", String(24)),
)

stores = Table(
    "stores",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("code", String(40), nullable=False, unique=True),
    Column("name", String(120), nullable=False),
    Column("area_id", Id, ForeignKey("areas.id"), nullable=False),
    Column("location", String(200), nullable=False, default=""),
    Column("active", Boolean, nullable=False, default=True),
)

store_staff = Table(
    "store_staff",
    metadata,
    Column("store_id", Id, ForeignKey("stores.id"), primary_key=True),
    Column("chat_id", BigInteger, primary_key=True),
    Column("user_id", BigInteger, nullable=False),
    _when("linked_at", nullable=False),
)

drivers = Table(
    "drivers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tg_user_id", BigInteger, nullable=False, unique=True),
    Column("chat_id", BigInteger, nullable=False),
    Column("name", String(200), nullable=False),
    Column("username", String(64)),
    Column("phone", String(32)),
    Column("status", Named(Account, 16), nullable=False, default=Account.PENDING),
    Column("online", Boolean, nullable=False, default=False),
    Column("reachable", Boolean, nullable=False, default=True),
    Column("offered", Integer, nullable=False, default=0),
    Column("accepted", Integer, nullable=False, default=0),
    Column("declined", Integer, nullable=False, default=0),
    Column("timed_out", Integer, nullable=False, default=0),
    Column("released", Integer, nullable=False, default=0),
    Column("no_shows", Integer, nullable=False, default=0),
    Column("delivered", Integer, nullable=False, default=0),
    _when("last_offered_at"),
    _when("created_at", nullable=False),
    # Set once the application is complete (after the optional phone step).
    _when("enrolled_at"),
    # What the bot is waiting for the driver to type or send: a pickup code, a proof photo.
    Column("prompt", Named(Prompt, 16)),
    Column("prompt_offer_id", Id),
    Column("timeouts_in_a_row", Integer, nullable=False, default=0, server_default="0"),
    # When an admin was told that this driver's presses come faster than a person taps (once).
    _when("fast_taps_told_at"),
)
Index("ix_drivers_status_id", drivers.c.status, drivers.c.id)
Index("ix_drivers_chat_id", drivers.c.chat_id)

driver_areas = Table(
    "driver_areas",
    metadata,
    Column("driver_id", Id, ForeignKey("drivers.id"), primary_key=True),
    Column("area_id", Id, ForeignKey("areas.id"), primary_key=True),
)
Index("ix_driver_areas_area_id", driver_areas.c.area_id, driver_areas.c.driver_id)

offers = Table(
    "offers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("store_id", Id, ForeignKey("stores.id"), nullable=False),
    Column("ref", String(64), nullable=False),
    Column("packages", Integer, nullable=False),
    Column("zone", String(64), nullable=False),
    Column("address", Text, nullable=False, default=""),
    Column("pay_cents", Integer, nullable=False),
    _when("pickup_start", nullable=False),
    _when("pickup_end", nullable=False),
    _when("deliver_by"),
    Column("pickup_code", String(8), nullable=False),
    Column("status", Named(OfferStatus, 16), nullable=False, default=OfferStatus.DRAFT),
    Column("holder_id", Id, ForeignKey("drivers.id")),
    Column("wave", Integer, nullable=False, default=0),
    _when("next_wave_at"),
    _when("expires_at"),
    Column("wrong_codes", Integer, nullable=False, default=0),
    Column("pickup_locked", Boolean, nullable=False, default=False, server_default=false()),
    Column("proof_file_id", String(200)),
    Column("failure_reason", String(200)),
    Column("created_by", BigInteger),
    _when("created_at", nullable=False),
    _when("accepted_at"),
    _when("picked_up_at"),
    _when("finished_at"),
    # When each reminder to the current holder went out (reset when a new driver accepts).
    _when("pickup_reminded_at"),
    _when("late_reminded_at"),
    _when("delivery_reminded_at"),
    Column("cancel_reason", String(200)),
    # When the holder pressed Confirm pickup: the offer waits for its code (reset on a new holder).
    _when("code_asked_at"),
    # When the award window opened by the first Accept closes: the offer is awarded then.
    _when("award_at"),
    UniqueConstraint("store_id", "ref", name="uq_offers_store_ref"),
)
Index("ix_offers_status", offers.c.status)
Index("ix_offers_holder_id_status_finished_at", offers.c.holder_id, offers.c.status, offers.c.finished_at)
Index("ix_offers_created_at", offers.c.created_at)
Index("ix_offers_store_id_created_at", offers.c.store_id, offers.c.created_at)
Index("ix_offers_picked_up_at", offers.c.picked_up_at)

notices = Table(
    "notices",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("offer_id", Id, ForeignKey("offers.id"), nullable=False),
    Column("driver_id", Id, ForeignKey("drivers.id"), nullable=False),
    Column("chat_id", BigInteger, nullable=False),
    Column("message_id", BigInteger),
    Column("wave", Integer, nullable=False),
    Column("outcome", Named(Outcome, 16), nullable=False, default=Outcome.SENT),
    _when("created_at", nullable=False),
    # When Telegram took the copy, when the driver first pressed Accept or Decline on it, and how
    # many ms after the copy's delivery that was (a fast tap is one too quick for a person).
    _when("delivered_at"),
    _when("pressed_at"),
    Column("press_ms", Integer),
    # When this copy won the offer, and what the award saw of its driver (rank, fairness keys).
    _when("won_at"),
    Column("award_detail", Text),
    UniqueConstraint("offer_id", "driver_id", name="uq_notices_offer_driver"),
)
Index("ix_notices_driver_id_pressed_at", notices.c.driver_id, notices.c.pressed_at)
Index("ix_notices_driver_id_won_at", notices.c.driver_id, notices.c.won_at)
# A period's awards and presses (/stats): only the few copies that were won or pressed.
_won = notices.c.won_at.is_not(None)
Index("ix_notices_won_at", notices.c.won_at, sqlite_where=_won, postgresql_where=_won)
_pressed = notices.c.pressed_at.is_not(None)
Index("ix_notices_pressed_at", notices.c.pressed_at, sqlite_where=_pressed, postgresql_where=_pressed)

events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    _when("at", nullable=False),
    Column("offer_id", Id, ForeignKey("offers.id")),
    Column("actor", String(64), nullable=False),
    Column("kind", Named(EventKind, 40), nullable=False),
    Column("detail", Text, nullable=False, default=""),
)
Index("ix_events_offer_id", events.c.offer_id)
Index("ix_events_kind_at", events.c.kind, events.c.at)
Index("ix_notices_driver_id_created_at", notices.c.driver_id, notices.c.created_at)

# A message sent to an admin (or a store) about something that may be decided later, such as a
# driver's application: every copy is edited once one admin decides.
cards = Table(
    "cards",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", Named(CardKind, 32), nullable=False),
    Column("subject_id", Id, nullable=False),
    Column("chat_id", BigInteger, nullable=False),
    Column("outbox_id", Id, ForeignKey("outbox.id"), nullable=False),
    _when("created_at", nullable=False),
)
Index("ix_cards_kind_subject_id", cards.c.kind, cards.c.subject_id)
Index("ix_cards_outbox_id", cards.c.outbox_id)

# One row per chat the bot has met; `reachable` turns false when Telegram says the bot is blocked.
chats = Table(
    "chats",
    metadata,
    Column("chat_id", BigInteger, primary_key=True, autoincrement=False),
    Column("reachable", Boolean, nullable=False, default=True),
    _when("first_seen", nullable=False),
    _when("blocked_at"),
    # What the chat reads (a Language): from Telegram's language_code at first contact, then /language.
    Column("language", String(8), nullable=False, server_default="en"),
)

# The first name of each Telegram user who wrote to the bot, as last seen: the offer trail names
# admins and clerks by it (drivers keep theirs in drivers.name).
people = Table(
    "people",
    metadata,
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column("first_name", String(64), nullable=False),
    _when("named_at", nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("lane", Integer, nullable=False),
    Column("chat_id", BigInteger, nullable=False),
    # What is delivered (a Delivery); the bot decides which Bot API call makes it.
    Column("kind", DeliveryKind(), nullable=False),
    Column("payload", Text, nullable=False),
    # An edit names the outbox row that sent its message; the message id is read at send time.
    Column("target_id", Id, ForeignKey("outbox.id")),
    Column("notice_id", Id, ForeignKey("notices.id")),
    Column("status", Named(OutboxStatus, 12), nullable=False, default=OutboxStatus.PENDING),
    Column("attempts", Integer, nullable=False, default=0),
    _when("not_before", nullable=False),
    _when("created_at", nullable=False),
    _when("sent_at"),
    Column("message_id", BigInteger),
    Column("error", String(300)),
    # Groups calls whose completion someone waits for, like "broadcast:7".
    Column("tag", String(40)),
)
Index("ix_outbox_tag", outbox.c.tag)
Index("ix_outbox_status_id", outbox.c.status, outbox.c.id)
Index("ix_outbox_notice_id", outbox.c.notice_id)
Index("ix_outbox_target_id", outbox.c.target_id)
_outbox_pending = outbox.c.status == OutboxStatus.PENDING
Index("ix_outbox_pending", outbox.c.id, sqlite_where=_outbox_pending, postgresql_where=_outbox_pending)

# Every further message id a sent call was delivered as: a send that timed out may still have
# reached Telegram, and its late answer names a second copy that edits must reach too.
message_copies = Table(
    "message_copies",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("outbox_id", Id, ForeignKey("outbox.id"), nullable=False),
    Column("message_id", BigInteger, nullable=False),
    _when("created_at", nullable=False),
    UniqueConstraint("outbox_id", "message_id", name="uq_message_copies_outbox_message"),
)

# Every update Telegram delivered, stored before Telegram hears it arrived, then applied once.
# status: pending → done, or parked once its handler has failed too often.
inbox = Table(
    "inbox",
    metadata,
    Column("update_id", BigInteger, primary_key=True, autoincrement=False),
    # One chat's updates are applied in update_id order: the chat, else the user, else 0.
    Column("chat_key", BigInteger, nullable=False),
    Column("kind", String(24), nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", Named(InboxStatus, 8), nullable=False, default=InboxStatus.PENDING),
    Column("attempts", Integer, nullable=False, default=0),
    _when("received_at", nullable=False),
    _when("next_attempt_at", nullable=False),
    _when("done_at"),
    Column("error", String(300)),
    # When the person was answered on arrival, ahead of the update's turn (its handler's answer
    # then goes nowhere: a press is answered once).
    _when("answered_at"),
)
Index("ix_inbox_status_chat_key", inbox.c.status, inbox.c.chat_key, inbox.c.update_id)
Index("ix_inbox_status_done_at", inbox.c.status, inbox.c.done_at)
# Only the pending rows (see migration 0009): SQLite's statistics cannot tell how few they are.
_inbox_pending = inbox.c.status == InboxStatus.PENDING
Index("ix_inbox_pending", inbox.c.update_id, sqlite_where=_inbox_pending, postgresql_where=_inbox_pending)

# A one-time link that makes whoever opens it staff of a store.
invites = Table(
    "invites",
    metadata,
    Column("token", String(64), primary_key=True),
    Column("store_id", Id, ForeignKey("stores.id"), nullable=False),
    Column("created_by", BigInteger, nullable=False),
    _when("created_at", nullable=False),
    _when("expires_at", nullable=False),
    Column("used_by", BigInteger),
    _when("used_at"),
)

# An order a store's staff is putting together step by step (/neworder alone), one per chat.
order_drafts = Table(
    "order_drafts",
    metadata,
    Column("chat_id", BigInteger, primary_key=True, autoincrement=False),
    Column("store_id", Id, ForeignKey("stores.id"), nullable=False),
    Column("step", String(16), nullable=False),
    Column("fields", Text, nullable=False, default="{}"),
    _when("updated_at", nullable=False),
)

broadcasts = Table(
    "broadcasts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("area_id", Id, ForeignKey("areas.id"), nullable=False),
    Column("text", Text, nullable=False),
    Column("created_by", BigInteger, nullable=False),
    Column("status", Named(BroadcastStatus, 12), nullable=False, default=BroadcastStatus.DRAFT),
    Column("recipients", Integer, nullable=False, default=0),
    _when("created_at", nullable=False),
    _when("sent_at"),
    _when("done_at"),
)

# A generated file (an export, a chart) waiting to be uploaded: stored once and named by the
# outbox row that sends it ({"file_ref": id}), read at send time, removed once sent or given up.
files = Table(
    "files",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("filename", String(100), nullable=False),
    Column("content", LargeBinary, nullable=False),
    _when("created_at", nullable=False),
)

# An /export asked for and not yet sent: recorded with the update that asked, built afterwards
# outside any update (bot.exports_worker), and removed in the transaction that queues the file.
export_requests = Table(
    "export_requests",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("chat_id", BigInteger, nullable=False),
    Column("kind", Named(RequestKind, 12), nullable=False),
    Column("days", Integer, nullable=False),
    _when("requested_at", nullable=False),
    Column("area_slug", String(40), nullable=True),  # /stats of one area (None: every area)
    _when("told_at"),  # /stats: the numbers were sent, the chart not yet
)
