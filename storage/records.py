"""Plain records the storage layer hands out, one frozen dataclass per row kind, and the states they hold."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal


@dataclass(frozen=True, slots=True)
class Area:
    id: int
    slug: str
    name: str
    tz: str
    active: bool
    award_window_seconds: int | None = None  # None: the AWARD_WINDOW_SECONDS setting
    fairness_order: str | None = None  # None: the default order


@dataclass(frozen=True, slots=True)
class Store:
    id: int
    code: str
    name: str
    area_id: int
    location: str
    active: bool


class Account(StrEnum):
    """Where a driver's account stands (drivers.status)."""

    PENDING = "pending"  # applied, waiting for an admin
    APPROVED = "approved"
    SUSPENDED = "suspended"
    REJECTED = "rejected"


class Language(StrEnum):
    """The language a chat reads (chats.language): set at first contact, changed with /language."""

    EN = "en"
    ES = "es"


class Prompt(StrEnum):
    """What the bot waits for the driver to send next (drivers.prompt)."""

    PHONE = "phone"  # their phone number, or Skip, to finish applying
    PROOF = "proof"  # a photo of a delivery just made (drivers.prompt_offer_id)


class OfferStatus(StrEnum):
    """Where an offer is in its lifecycle (offers.status); dispatch.lifecycle says which action
    moves it from which status to which, and names it Status."""

    DRAFT = "draft"
    OPEN = "open"
    ACCEPTED = "accepted"
    PICKED_UP = "picked_up"
    DELIVERED = "delivered"
    RETURNED = "returned"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


# Offers a driver holds: counted against how many one may hold at once.
HELD_STATUSES = (OfferStatus.ACCEPTED, OfferStatus.PICKED_UP)
# Offers that are still in play: a handful at any time, however long the history.
LIVE_STATUSES = (OfferStatus.OPEN, *HELD_STATUSES)


@dataclass(frozen=True, slots=True)
class Driver:
    id: int
    tg_user_id: int
    chat_id: int
    name: str
    username: str | None
    phone: str | None
    status: Account
    online: bool
    reachable: bool
    offered: int = 0
    accepted: int = 0
    declined: int = 0
    timed_out: int = 0
    released: int = 0
    no_shows: int = 0
    delivered: int = 0
    last_offered_at: datetime | None = None
    created_at: datetime | None = None
    enrolled_at: datetime | None = None
    prompt: Prompt | None = None
    prompt_offer_id: int | None = None
    timeouts_in_a_row: int = 0
    fast_taps_told_at: datetime | None = None


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
    status: OfferStatus
    holder_id: int | None
    wave: int
    created_at: datetime
    next_wave_at: datetime | None = None
    expires_at: datetime | None = None
    wrong_codes: int = 0
    pickup_locked: bool = False
    proof_file_id: str | None = None
    failure_reason: str | None = None
    created_by: int | None = None
    accepted_at: datetime | None = None
    picked_up_at: datetime | None = None
    finished_at: datetime | None = None
    pickup_reminded_at: datetime | None = None
    late_reminded_at: datetime | None = None
    delivery_reminded_at: datetime | None = None
    cancel_reason: str | None = None
    code_asked_at: datetime | None = None
    award_at: datetime | None = None


class Delivery(StrEnum):
    """What an outbox row delivers to its chat, in the domain's words (the outbox's `kind`).

    Which Bot API call makes it is the bot's business (bot.sender.API_METHODS): no method name
    is stored. An edit names, as its target, the outbox row that sent the message it changes.
    """

    MESSAGE = "message"  # a new text message (its buttons, if any, come with it)
    EDIT = "edit"  # new text, and buttons, for a message sent before
    BUTTONS = "buttons"  # new buttons only (none, to take them off) for a message sent before
    PHOTO = "photo"  # a new photo with a caption
    DOCUMENT = "document"  # a new file with a caption
    UPLOADING = "uploading"  # "sending a file…" shown in the chat for a while: no message

    @property
    def is_edit(self) -> bool:
        """Whether it changes a message sent before rather than adding one."""
        return self in EDITS


# The deliveries that change a message sent before (the outbox row named as the target).
EDITS = frozenset({Delivery.EDIT, Delivery.BUTTONS})


class OutboxStatus(StrEnum):
    """How far a queued delivery got (outbox.status): pending until sent or given up."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # Telegram refused it, or it kept failing until the attempts ran out
    DROPPED = "dropped"  # pointless by its turn: the chat blocked the bot, the message to edit never went


# Outbox statuses of a call that will never be made again.
SETTLED = (OutboxStatus.SENT, OutboxStatus.FAILED, OutboxStatus.DROPPED)
# How a call ends that is never made.
GivenUp = Literal[OutboxStatus.FAILED, OutboxStatus.DROPPED]


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One delivery still to make (or made): `kind` with `payload` to `chat_id`."""

    id: int
    lane: int
    chat_id: int
    kind: Delivery
    payload: str
    target_id: int | None
    notice_id: int | None
    status: OutboxStatus
    attempts: int
    not_before: datetime
    created_at: datetime
    message_id: int | None = None
    tag: str | None = None


class EventKind(StrEnum):
    """What happened, in a line of the trail (events.kind); the actor and detail say the rest."""

    # An offer's lifecycle; the steps share their names with dispatch.lifecycle.Action.
    OPEN = "open"
    WAVE = "wave"  # a wave of copies went out
    WINDOW = "window"  # the first Accept opened the offer's award window
    ACCEPT = "accept"  # taken by the first Accept, or awarded when its window closed
    NO_AWARD = "no_award"  # its award window closed with nobody to award it to
    DECLINE = "decline"
    RELEASE = "release"
    EXPIRE = "expire"
    REOPEN = "reopen"  # an expired offer offered again, in its window or a new one
    CANCEL = "cancel"
    PICKUP = "pickup"
    PICKUP_CODE_WRONG = "pickup_code_wrong"
    PICKUP_LOCKED = "pickup_locked"  # too many wrong codes: an admin must step in
    DELIVER = "deliver"
    FAIL = "fail"  # returned to the store
    PROOF = "proof"  # a photo of the delivery (its detail is the Telegram file id)
    # The deadlines that remind the holder, and the one that releases a no-show (dispatch.deadlines.Kind).
    PICKUP_REMINDER = "pickup_reminder"
    LATE = "late"
    DELIVERY_REMINDER = "delivery_reminder"
    NO_SHOW = "no_show"
    # A driver's own doing, and what is done to a driver.
    ENROLL = "enroll"
    APPLIED = "applied"
    ONLINE = "online"
    OFFLINE = "offline"
    AUTO_OFFLINE = "auto_offline"  # set offline after missing offers in a row
    FAST_TAPS = "fast_taps"  # presses faster than a person taps, told to the admins
    APPROVED = "approved"  # the admin decisions share their names with Account
    REJECTED = "rejected"
    SUSPENDED = "suspended"
    REINSTATED = "reinstated"
    # The admins' and stores' desks.
    AREA = "area"
    STORE = "store"
    FAIRNESS = "fairness"
    BROADCAST = "broadcast"
    INVITE = "invite"
    STAFF_LINKED = "staff_linked"
    STAFF_UNLINKED = "staff_unlinked"
    # Written by earlier versions of the award window, no longer: kept so that their trails read.
    ENTER = "enter"
    AWARD = "award"


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    at: datetime
    offer_id: int | None
    actor: str
    kind: EventKind
    detail: str


class Outcome(StrEnum):
    """What became of one copy of an offer (notices.outcome)."""

    SENT = "sent"  # out, not answered yet
    ENTERED = "entered"  # its Accept is collected in the offer's award window
    ACCEPTED = "accepted"  # its driver holds (or held) the offer
    DECLINED = "declined"
    TAKEN = "taken"  # the offer went to another driver
    EXPIRED = "expired"  # the offer expired unanswered
    CANCELLED = "cancelled"
    WITHDRAWN = "withdrawn"  # its driver went offline (or was suspended) before answering
    RELEASED = "released"  # its driver gave the offer back


# A copy that may still win its offer: not answered yet, or collected in its award window.
LIVE_OUTCOMES = (Outcome.SENT, Outcome.ENTERED)


@dataclass(frozen=True, slots=True)
class Notice:
    """One copy of an offer sent to one driver."""

    id: int
    offer_id: int
    driver_id: int
    chat_id: int
    message_id: int | None
    wave: int
    outcome: Outcome
    created_at: datetime
    delivered_at: datetime | None = None
    pressed_at: datetime | None = None
    press_ms: int | None = None
    won_at: datetime | None = None
    award_detail: str | None = None


class CardKind(StrEnum):
    """What a remembered message is about (cards.kind), so that every copy of it is edited when
    that is decided, or changes; its subject is an offer, or for an application a driver."""

    JOB = "job"  # a holder's /myoffers card of an offer accepted: Confirm pickup, Release
    DELIVERY = "delivery"  # a holder's card of an offer picked up (its delivery's buttons)
    WINDOW_ASK = "window_ask"  # no time left in an order's window: give it a new one, or cancel it
    EXPIRED = "expired"  # an admin's card of an expired offer, with Re-offer
    ORDERS = "orders"  # a store's /orders list, remembered by every order it offers to cancel
    APPLICATION = "application"  # an admin's card of a driver's application: Approve, Reject
    # A message that only repeats the buttons of a job or delivery card (a reminder's): they go
    # when that card's do.
    JOB_BUTTONS = "job:buttons"
    DELIVERY_BUTTONS = "delivery:buttons"

    @property
    def buttons(self) -> CardKind | None:
        """The kind of messages that repeat this kind's buttons (None: none do)."""
        return _BUTTONS_OF.get(self)


_BUTTONS_OF = {CardKind.JOB: CardKind.JOB_BUTTONS, CardKind.DELIVERY: CardKind.DELIVERY_BUTTONS}


@dataclass(frozen=True, slots=True)
class Card:
    """A message to an admin about something decided later; edited on every copy once decided."""

    id: int
    kind: CardKind
    subject_id: int
    chat_id: int
    outbox_id: int


@dataclass(frozen=True, slots=True)
class Invite:
    token: str
    store_id: int
    created_by: int
    created_at: datetime
    expires_at: datetime
    used_by: int | None
    used_at: datetime | None


@dataclass(frozen=True, slots=True)
class OrderDraft:
    chat_id: int
    store_id: int
    step: str
    fields: str
    updated_at: datetime


class BroadcastStatus(StrEnum):
    """Where an admin's broadcast stands (broadcasts.status)."""

    DRAFT = "draft"  # waiting for the admin to confirm it
    SENDING = "sending"  # queued to its drivers, not all sent yet
    DONE = "done"  # every copy sent or given up, and the admin told so
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Broadcast:
    id: int
    area_id: int
    text: str
    created_by: int
    status: BroadcastStatus
    recipients: int
    created_at: datetime
    sent_at: datetime | None
    done_at: datetime | None


class InboxStatus(StrEnum):
    """How applying a stored update went (inbox.status)."""

    PENDING = "pending"
    DONE = "done"
    PARKED = "parked"  # its handler failed too often: left for a person to look at


@dataclass(frozen=True, slots=True)
class InboxUpdate:
    """One update as Telegram delivered it (`payload` is its JSON), and how applying it went."""

    update_id: int
    chat_key: int
    kind: str
    payload: str
    status: InboxStatus
    attempts: int
    received_at: datetime
    next_attempt_at: datetime
    done_at: datetime | None = None
    error: str | None = None
    answered_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class InboxBacklog:
    """What the inbox holds now, for health checks and metrics."""

    pending: int
    parked: int
    oldest_pending_at: datetime | None
    last_received_at: datetime | None


class RequestKind(StrEnum):
    """What an /export or /stats asked for (export_requests.kind)."""

    OFFERS = "offers"  # a CSV of the offers
    DRIVERS = "drivers"  # a CSV of the drivers
    STATS = "stats"  # the numbers, then their chart


@dataclass(frozen=True, slots=True)
class ExportRequest:
    """An /export or /stats asked for and not yet sent."""

    id: int
    chat_id: int
    kind: RequestKind
    days: int
    requested_at: datetime
    area_slug: str | None = None
    told_at: datetime | None = None
