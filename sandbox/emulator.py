"""An in-memory stand-in for Telegram's Bot API server, driven over loopback HTTP."""

from __future__ import annotations

import asyncio
import base64
import bisect
import contextlib
import errno
import json
import math
import mimetypes
import random
import re
import struct
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from aiohttp.web_request import FileField

JsonObject = dict[str, Any]
T = TypeVar("T")

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
UPLOAD_LIMIT = 50 * 1024 * 1024

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
GET_UPDATES_CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
)
WEBHOOK_IS_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
TERMINATED_BY_SET_WEBHOOK = "Conflict: terminated by setWebhook request"
SECRET_TOKEN_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SECRET_TOKEN_LIMIT = 256
SECRET_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]*")
WEBHOOK_CONNECTIONS_DEFAULT = 40
WEBHOOK_CONNECTIONS_MAX = 100
# Every field of Telegram's Update object that names a kind of update, in Telegram's own order: the
# names allowed_updates understands (the emulator itself only produces message and callback_query).
UPDATE_KINDS = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "message_reaction",
    "message_reaction_count",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "purchased_paid_media",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
)
SERVER_ERROR_DESCRIPTIONS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
# Telegram's lenient bound for an evenly paced per-chat sender: a token counts as there at 95 %.
PER_CHAT_TOLERANCE = 0.95
# Telegram asks a bot to send one chat no more than one message a second; the stats count every
# message that followed the chat's previous one sooner, whether or not the limits are enforced.
CHAT_SPACING_SECONDS = 1.0
COMMAND_PATTERN = re.compile(r"/[A-Za-z0-9_]{1,32}(@[A-Za-z0-9_]{3,32})?(?=\s|$)")
# A 1x1 transparent PNG: what a person's "photo" contains unless a test gives its own bytes.
TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


# --------------------------------------------------------------------------- public views


@dataclass(frozen=True)
class FileInfo:
    """A file the emulator holds: an upload by the bot or a photo sent by a person."""

    file_id: str
    file_unique_id: str
    file_path: str
    file_name: str | None
    mime_type: str | None
    content: bytes = field(repr=False)
    width: int | None = None
    height: int | None = None

    @property
    def size(self) -> int:
        """Number of bytes."""
        return len(self.content)

    def as_json(self) -> JsonObject:
        """This file for the user-side HTTP API, its bytes in base64."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_path": self.file_path,
            "file_name": self.file_name,
            "mime_type": self.mime_type,
            "size": self.size,
            "width": self.width,
            "height": self.height,
            "content_base64": base64.b64encode(self.content).decode("ascii"),
        }

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> FileInfo:
        """The inverse of `as_json`."""
        return cls(
            file_id=body["file_id"],
            file_unique_id=body["file_unique_id"],
            file_path=body["file_path"],
            file_name=body.get("file_name"),
            mime_type=body.get("mime_type"),
            content=base64.b64decode(body.get("content_base64", "")),
            width=body.get("width"),
            height=body.get("height"),
        )


@dataclass(frozen=True)
class InlineButton:
    """One button of an inline keyboard as the person sees it."""

    label: str
    callback_data: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class ChatMessage:
    """One message of a private chat as the person sees it (edits applied)."""

    message_id: int
    from_bot: bool
    text: str | None
    inline_keyboard: list[list[InlineButton]]
    edited: bool
    document: FileInfo | None
    photo: FileInfo | None
    date: int
    contact_phone: str | None = None

    @property
    def buttons(self) -> list[str]:
        """The labels of the inline keyboard, row by row, flattened."""
        return [button.label for row in self.inline_keyboard for button in row]

    def as_json(self) -> JsonObject:
        """This message for the user-side HTTP API."""
        return {
            "message_id": self.message_id,
            "from_bot": self.from_bot,
            "text": self.text,
            "inline_keyboard": [
                [{"label": b.label, "callback_data": b.callback_data, "url": b.url} for b in row]
                for row in self.inline_keyboard
            ],
            "edited": self.edited,
            "document": self.document.as_json() if self.document else None,
            "photo": self.photo.as_json() if self.photo else None,
            "date": self.date,
            "contact_phone": self.contact_phone,
        }

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> ChatMessage:
        """The inverse of `as_json`."""
        return cls(
            message_id=body["message_id"],
            from_bot=body["from_bot"],
            text=body.get("text"),
            inline_keyboard=[
                [InlineButton(b["label"], b.get("callback_data"), b.get("url")) for b in row]
                for row in body.get("inline_keyboard", [])
            ],
            edited=body.get("edited", False),
            document=FileInfo.from_json(body["document"]) if body.get("document") else None,
            photo=FileInfo.from_json(body["photo"]) if body.get("photo") else None,
            date=body["date"],
            contact_phone=body.get("contact_phone"),
        )


@dataclass(frozen=True)
class Person:
    """A Telegram user talking to the bot in a private chat whose id equals the user id."""

    user_id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    phone_number: str | None = None
    language_code: str | None = "en"

    def as_json(self) -> JsonObject:
        """This person for the user-side HTTP API."""
        return {
            "user_id": self.user_id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "username": self.username,
            "phone_number": self.phone_number,
            "language_code": self.language_code,
        }

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Person:
        """The inverse of `as_json`."""
        return cls(
            user_id=body["user_id"],
            first_name=body["first_name"],
            last_name=body.get("last_name"),
            username=body.get("username"),
            phone_number=body.get("phone_number"),
            language_code=body.get("language_code"),
        )

    def user_json(self) -> JsonObject:
        """Telegram's User object for this person."""
        user: JsonObject = {"id": self.user_id, "is_bot": False, "first_name": self.first_name}
        if self.last_name is not None:
            user["last_name"] = self.last_name
        if self.username is not None:
            user["username"] = self.username
        if self.language_code is not None:
            user["language_code"] = self.language_code
        return user

    def chat_json(self) -> JsonObject:
        """Telegram's Chat object for the private chat with this person."""
        chat: JsonObject = {"id": self.user_id, "first_name": self.first_name}
        if self.last_name is not None:
            chat["last_name"] = self.last_name
        if self.username is not None:
            chat["username"] = self.username
        chat["type"] = "private"
        return chat


@dataclass(frozen=True)
class PressResult:
    """What the person experienced after pressing a button."""

    answered: bool
    text: str | None = None
    show_alert: bool = False
    latency: float | None = None
    update_id: int | None = None
    url: str | None = None

    def as_json(self) -> JsonObject:
        """This result for the user-side HTTP API."""
        return {
            "answered": self.answered,
            "text": self.text,
            "show_alert": self.show_alert,
            "latency": self.latency,
            "update_id": self.update_id,
            "url": self.url,
        }

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> PressResult:
        """The inverse of `as_json`."""
        return cls(
            answered=body["answered"],
            text=body.get("text"),
            show_alert=body.get("show_alert", False),
            latency=body.get("latency"),
            update_id=body.get("update_id"),
            url=body.get("url"),
        )


@dataclass
class EmulatorStats:
    """Counters of what the bot asked of the emulator and how it was answered, and of the POSTs
    the emulator made to the bot's webhook (`webhook_failures`: those not answered 2xx;
    `webhook_deliveries_by_base`: those answered 2xx, per scheme://host:port they went to).

    `chat_spacing_violations` counts the bot's messages that reached a chat less than
    CHAT_SPACING_SECONDS after its previous message there, limits enforced or not (edits, chat
    actions and callback answers put no message in a chat and do not count); `min_chat_spacing`
    is the shortest such gap seen, in seconds (None until some chat got a second message)."""

    too_many_requests: int = 0
    forbidden: int = 0
    server_errors: int = 0
    calls: Counter[str] = field(default_factory=Counter)
    sent_messages: int = 0
    webhook_posts: int = 0
    webhook_failures: int = 0
    webhook_deliveries_by_base: Counter[str] = field(default_factory=Counter)
    chat_spacing_violations: int = 0
    min_chat_spacing: float | None = None

    def as_json(self) -> JsonObject:
        """These counters for the user-side HTTP API."""
        return {
            "too_many_requests": self.too_many_requests,
            "forbidden": self.forbidden,
            "server_errors": self.server_errors,
            "calls": dict(self.calls),
            "sent_messages": self.sent_messages,
            "webhook_posts": self.webhook_posts,
            "webhook_failures": self.webhook_failures,
            "webhook_deliveries_by_base": dict(self.webhook_deliveries_by_base),
            "chat_spacing_violations": self.chat_spacing_violations,
            "min_chat_spacing": self.min_chat_spacing,
        }

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> EmulatorStats:
        """The inverse of `as_json`."""
        return cls(
            too_many_requests=body["too_many_requests"],
            forbidden=body["forbidden"],
            server_errors=body["server_errors"],
            calls=Counter(body.get("calls", {})),
            sent_messages=body["sent_messages"],
            # An emulator from before webhooks does not send these.
            webhook_posts=body.get("webhook_posts", 0),
            webhook_failures=body.get("webhook_failures", 0),
            # Nor does one from before spreading webhooks and watching chats' spacing.
            webhook_deliveries_by_base=Counter(body.get("webhook_deliveries_by_base", {})),
            chat_spacing_violations=body.get("chat_spacing_violations", 0),
            min_chat_spacing=body.get("min_chat_spacing"),
        )


class UnknownUserError(LookupError):
    """The emulator has no person with this user id."""


class ButtonNotFoundError(LookupError):
    """No button with this label is on the person's screen."""


# --------------------------------------------------------------------------- internals


class ApiError(Exception):
    """A Bot API failure: becomes {"ok": false, "error_code", "description"}."""

    def __init__(self, status: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def response(self) -> web.Response:
        """Telegram's error body."""
        body: JsonObject = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return web.json_response(body, status=self.status)


def _bad_request(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: {reason}")


class _Signal:
    """Wakes every waiter on each notify; a waiter that checks first and then waits never misses
    a change, because nothing runs between the check and taking the current event."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float | None) -> bool:
        """Wait for the next notify; False on timeout."""
        event = self._event
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            return False
        return True


@dataclass
class _Bucket:
    """A token bucket; `threshold` below 1 tolerates jitter of an evenly paced sender."""

    rate: float
    capacity: float
    tokens: float
    stamp: float

    def seconds_short(self, now: float, threshold: float) -> float:
        """Refill, then how long until a token is there (0 when one is)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= threshold:
            return 0.0
        return (threshold - self.tokens) / self.rate


@dataclass
class _Limits:
    enabled: bool = False
    per_second: float = 30.0
    per_chat_per_second: float = 1.0


@dataclass
class _Message:
    """A stored message; `ChatMessage` is the person's snapshot of it."""

    message_id: int
    from_bot: bool
    date: int
    text: str | None = None
    entities: list[JsonObject] = field(default_factory=list)
    inline_keyboard: list[list[JsonObject]] = field(default_factory=list)
    document: FileInfo | None = None
    photo: FileInfo | None = None
    contact_phone: str | None = None
    edit_date: int | None = None
    sender: Person | None = None  # who wrote it in a group chat (the chat's person otherwise)

    @property
    def has_media(self) -> bool:
        return self.document is not None or self.photo is not None

    def view(self) -> ChatMessage:
        return ChatMessage(
            message_id=self.message_id,
            from_bot=self.from_bot,
            text=self.text,
            inline_keyboard=[
                [
                    InlineButton(
                        label=str(button.get("text", "")),
                        callback_data=button.get("callback_data"),
                        url=button.get("url"),
                    )
                    for button in row
                ]
                for row in self.inline_keyboard
            ],
            edited=self.edit_date is not None,
            document=self.document,
            photo=self.photo,
            date=self.date,
            contact_phone=self.contact_phone,
        )


@dataclass(frozen=True)
class _Press:
    """A button the person pressed, for the transcript (a press is no message of the chat)."""

    date: int
    label: str
    message_id: int


@dataclass
class _Chat:
    person: Person
    messages: dict[int, _Message] = field(default_factory=dict)
    # What happened in the chat, in order: a message (by id) was sent, or a button was pressed.
    log: list[int | _Press] = field(default_factory=list)
    next_message_id: int = 1
    reply_keyboard: list[list[JsonObject]] | None = None
    keyboard_one_time: bool = False
    blocked: bool = False
    version: int = 0  # counts every change the person could see
    title: str | None = None  # a group chat's title (its `person` then stands for the group)
    # The bot's status in the chat ("typing", "upload_document") and when it was set: Telegram
    # shows it for up to CHAT_ACTION_SECONDS, or until the bot's next message arrives.
    action: tuple[str, float] | None = None
    bot_message_at: float | None = None  # when (by the emulator's clock) the bot last sent one

    def chat_json(self) -> JsonObject:
        """Telegram's Chat object: the private chat with the person, or the group."""
        if self.title is None:
            return self.person.chat_json()
        return {"id": self.person.user_id, "type": "group", "title": self.title}


@dataclass
class _PendingUpdate:
    update_id: int
    payload: JsonObject
    made_at: float
    chat_id: int | None  # whose updates it is POSTed in order with (None: with nobody's)

    @classmethod
    def of(cls, payload: JsonObject, made_at: float) -> _PendingUpdate:
        """An update waiting to be handed out, with the chat it belongs to."""
        return cls(int(payload["update_id"]), payload, made_at, _update_chat_id(payload))


@dataclass
class _CallbackQuery:
    query_id: str
    made_at: float
    answer: asyncio.Future[PressResult]


@dataclass
class _Fault:
    """What goes wrong with one call of a method: a stall, then (if `status`) an error answer."""

    status: int = 0
    seconds: float = 0.0  # a stall's length; with status 429, the retry_after


@dataclass(frozen=True)
class _Described:
    """A Bot API result with the "description" Telegram sends along, e.g. "Webhook was set"."""

    result: object
    description: str


@dataclass
class _Webhook:
    """The webhook the bot set with setWebhook, and the last error in delivering to it."""

    url: str
    secret_token: str  # "" when the bot set none
    max_connections: int
    last_error_date: int | None = None
    last_error_message: str = ""


@dataclass
class _Backoff:
    """An update whose POSTs failed: how many times, and the loop time it may be POSTed again."""

    failures: int
    not_before: float


@dataclass
class _Delivery:
    """One run of POSTing updates to a webhook, from setWebhook until deleteWebhook, another
    setWebhook or stop(); stopping is a flag and a wake-up rather than a cancel of `task`, so that
    a cancellation swallowed by `asyncio.wait_for` (Python 3.11) cannot leave it running."""

    webhook: _Webhook
    task: asyncio.Task[None] | None = None
    stopping: bool = False
    in_flight: dict[int, asyncio.Task[None]] = field(default_factory=dict)
    backoff: dict[int, _Backoff] = field(default_factory=dict)
    chats_in_flight: dict[int, int] = field(default_factory=dict)  # chat id -> its update in flight


class _Params:
    """A Bot API call's parameters from a JSON body, a url-encoded form or multipart data."""

    def __init__(self, values: Mapping[str, object]) -> None:
        self._values = values

    def raw(self, name: str) -> object:
        return self._values.get(name)

    def text(self, name: str) -> str | None:
        value = self._values.get(name)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, bytes | bytearray):
            return bytes(value).decode("utf-8", "replace")
        if isinstance(value, FileField):
            raise _bad_request(f"can't parse {name}")
        return json.dumps(value) if isinstance(value, dict | list) else str(value)

    def integer(self, name: str) -> int | None:
        value = self._values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        try:
            return int(str(value))
        except ValueError:
            raise _bad_request(f"invalid {name} specified") from None

    def number(self, name: str) -> float | None:
        value = self._values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, int | float):
            return float(value)
        try:
            return float(str(value))
        except ValueError:
            raise _bad_request(f"invalid {name} specified") from None

    def flag(self, name: str) -> bool:
        value = self._values.get(name)
        if isinstance(value, str):
            return value.strip().lower() in {"true", "1"}
        return bool(value)

    def structure(self, name: str) -> object:
        """A parameter that is an object or array: JSON-decoded when it came as a string."""
        value = self._values.get(name)
        if isinstance(value, bytes | bytearray):
            value = bytes(value).decode("utf-8", "replace")
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise _bad_request(f"can't parse {name} JSON object") from None
        return value

    def upload(self, name: str) -> FileField | str | None:
        value = self._values.get(name)
        if isinstance(value, str):
            if value.startswith("attach://"):
                attached = self._values.get(value.removeprefix("attach://"))
                if isinstance(attached, FileField):
                    return attached
                raise _bad_request(f"can't find attached file {value!r}")
            return value
        if value is None or isinstance(value, FileField):
            return value
        raise _bad_request(f"wrong type of the {name} field")


def _image_size(content: bytes) -> tuple[int, int]:
    """Width and height of a PNG, GIF or JPEG; (0, 0) when unknown."""
    if content.startswith(b"\x89PNG\r\n\x1a\n") and len(content) >= 24:
        width, height = struct.unpack(">II", content[16:24])
        return int(width), int(height)
    if content[:6] in (b"GIF87a", b"GIF89a") and len(content) >= 10:
        width, height = struct.unpack("<HH", content[6:10])
        return int(width), int(height)
    if content.startswith(b"\xff\xd8"):
        index = 2
        while index + 9 < len(content):
            if content[index] != 0xFF:
                index += 1
                continue
            marker = content[index + 1]
            (segment_length,) = struct.unpack(">H", content[index + 2 : index + 4])
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", content[index + 5 : index + 9])
                return int(width), int(height)
            index += 2 + int(segment_length)
    return 0, 0


def _text_contains(needle: str) -> Callable[[ChatMessage], bool]:
    """A message predicate: its text (or caption) contains `needle`."""

    def matches(message: ChatMessage) -> bool:
        return message.text is not None and needle in message.text

    return matches


def _entities_for(text: str) -> list[JsonObject]:
    """Entities Telegram's clients attach to what a person types (a leading bot command)."""
    match = COMMAND_PATTERN.match(text)
    if match is None:
        return []
    return [{"offset": 0, "length": len(match.group(0)), "type": "bot_command"}]


def _is_webhook_url(url: str) -> bool:
    """Whether setWebhook can take `url`: http(s) with a host (Telegram itself wants HTTPS)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _update_chat_id(payload: Mapping[str, Any]) -> int | None:
    """The chat whose updates Telegram POSTs one at a time that this update belongs to: the
    chat of its message, else of the message under a pressed button, else the user who caused it."""
    for kind in UPDATE_KINDS:
        body = payload.get(kind)
        if not isinstance(body, dict):
            continue
        for holder in (body, body.get("message")):
            chat = holder.get("chat") if isinstance(holder, dict) else None
            if isinstance(chat, dict) and isinstance(chat.get("id"), int):
                return int(chat["id"])
        sender = body.get("from")
        if isinstance(sender, dict) and isinstance(sender.get("id"), int):
            return int(sender["id"])
        return None
    return None


def _spread_base(base: str) -> str:
    """One base of `webhook_spread` as "scheme://host:port"; ValueError when it is more or less."""
    try:
        parts = urlsplit(base.strip())
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        raise ValueError(f"webhook_spread: {base!r} is not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"webhook_spread: {base!r} is not an http(s) URL with a host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"webhook_spread: {base!r} may only name a scheme, host and port")
    return f"{parts.scheme}://{parts.netloc}"


def _webhook_error(error: Exception) -> str:
    """Telegram's words in getWebhookInfo's last_error_message for a POST that got no response."""
    if isinstance(error, TimeoutError):
        return "Timeout expired"
    if isinstance(error, aiohttp.ClientConnectorDNSError):
        return f"Failed to resolve host: {error.strerror or 'Name or service not known'}"
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return "Webhook connection closed"
    if isinstance(error, aiohttp.ClientOSError):
        if error.errno == errno.ECONNREFUSED:
            return "Connection refused"
        return error.strerror or "Connection failed"
    return f"Webhook request failed: {str(error) or type(error).__name__}"


_RATE_LIMITED_PREFIXES = ("send", "edit")
_RATE_LIMITED_EXTRA = frozenset({"copyMessage", "forwardMessage"})
_NOT_RATE_LIMITED = frozenset({"sendChatAction"})
CHAT_ACTION_SECONDS = 5.0  # how long Telegram shows a chat action


def _is_rate_limited(method: str) -> bool:
    if method in _NOT_RATE_LIMITED:
        return False
    return method.startswith(_RATE_LIMITED_PREFIXES) or method in _RATE_LIMITED_EXTRA


_BotMethod = Callable[[_Params], Awaitable[object]]


# --------------------------------------------------------------------------- the emulator


class BotApiEmulator:
    """Telegram's Bot API for one bot, and the people chatting with it, in memory.

    The bot side is HTTP at ``{url}/bot{token}/{method}`` (point PTB's ``base_url`` at
    ``{url}/bot`` and ``base_file_url`` at ``{url}/file/bot``). The people side is this object's
    methods in-process, or JSON over HTTP under ``{url}/sandbox/``.

    A stalled call (`stall_next`) is handled normally once its stall is over, even when the client
    has given up by then: like Telegram, a message whose request timed out may still be delivered,
    so a bot that retries produces duplicates the tests can see.

    Updates reach the bot by getUpdates or, once it calls setWebhook, as JSON POSTs to its URL
    (getUpdates then answers 409). A POST answered 2xx confirms its update; anything else, a
    connection error or no answer within `webhook_timeout` seconds leaves it pending, POSTed again
    after a backoff that doubles from `webhook_retry_base` up to `webhook_retry_max` seconds. As on
    Telegram, one chat's updates are POSTed one at a time: the next only once the one before was
    answered 2xx; different chats' updates go side by side, up to the webhook's max_connections.

    `webhook_spread` (bases such as "http://127.0.0.1:8081") stands in for a load balancer in
    front of several instances of the bot: each POST goes to the webhook's URL with its
    scheme://host:port swapped for a base drawn at random for that POST, so a retry may reach
    another instance and an instance that is down only delays an update.

    A callback query can be answered for `callback_query_ttl` seconds after the press; later,
    answerCallbackQuery fails with "query is too old", as on Telegram.

    `clock` (monotonic seconds) times flood limits and callback queries; `wall_clock` (Unix
    seconds) stamps the dates of messages and presses: a simulated day passes its simulated clock.
    """

    def __init__(
        self,
        *,
        token: str = "123456:TEST-TOKEN",
        bot_id: int = 123456,
        bot_username: str = "storerun_bot",
        bot_name: str = "Storerun",
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        webhook_timeout: float = 10.0,
        webhook_retry_base: float = 0.05,
        webhook_retry_max: float = 2.0,
        callback_query_ttl: float = 15.0,
        webhook_spread: Sequence[str] = (),
    ) -> None:
        if webhook_timeout <= 0 or webhook_retry_base <= 0 or webhook_retry_max < webhook_retry_base:
            raise ValueError("webhook timings must be positive, the retry maximum at least the base")
        if isinstance(webhook_spread, str):
            raise ValueError("webhook_spread is a sequence of bases, not one string")
        self._webhook_spread = tuple(_spread_base(base) for base in webhook_spread)
        self._spread_draw = random.Random()
        self._callback_query_ttl = callback_query_ttl
        self._token = token
        self._bot_id = bot_id
        self._bot_username = bot_username
        self._bot_name = bot_name
        self._host = host
        self._port = port
        self._clock = clock
        self._wall_clock = wall_clock
        self._runner: web.AppRunner | None = None
        self._bound_port: int | None = None
        self._stopping = asyncio.Event()

        self.stats = EmulatorStats()
        self._limits = _Limits()
        self._global_bucket: _Bucket | None = None
        self._chat_buckets: dict[int, _Bucket] = {}
        self._faults: dict[str, deque[_Fault]] = {}

        self._chats: dict[int, _Chat] = {}
        self._chat_changed = _Signal()
        self._files: dict[str, FileInfo] = {}
        self._file_paths: dict[str, str] = {}
        self._next_file_number = 1
        self._commands: dict[tuple[str, str], list[JsonObject]] = {}

        self._next_update_id = 1
        self._updates: dict[int, JsonObject] = {}
        self._pending: deque[_PendingUpdate] = deque()
        self._redelivered: set[int] = set()
        self._confirmed_update_id = 0
        self._update_arrived = _Signal()
        self._poll_ticket = 0
        # Telegram's allowed_updates, shared by getUpdates and setWebhook: () is Telegram's default,
        # which covers every kind the emulator produces.
        self._allowed_updates: tuple[str, ...] = ()

        self._webhook: _Webhook | None = None
        self._webhook_lock = asyncio.Lock()
        self._delivery: _Delivery | None = None
        self._webhook_wakeup = _Signal()
        self._webhook_timeout = webhook_timeout
        self._webhook_retry_base = webhook_retry_base
        self._webhook_retry_max = webhook_retry_max

        self._next_query_number = 1
        self._queries: dict[str, _CallbackQuery] = {}

        self._methods: dict[str, tuple[str, _BotMethod]] = {
            name.lower(): (name, handler)
            for name, handler in {
                "getMe": self._get_me,
                "getUpdates": self._get_updates,
                "deleteWebhook": self._delete_webhook,
                "setWebhook": self._set_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "deleteMyCommands": self._delete_my_commands,
                "sendMessage": self._send_message,
                "editMessageText": self._edit_message_text,
                "editMessageCaption": self._edit_message_caption,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "deleteMessage": self._delete_message,
                "answerCallbackQuery": self._answer_callback_query,
                "sendDocument": self._send_document,
                "sendPhoto": self._send_photo,
                "getFile": self._get_file,
                "sendChatAction": self._send_chat_action,
                "getChat": self._get_chat,
                "close": self._close,
                "logOut": self._close,
            }.items()
        }

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Bind and serve; port 0 picks a free port."""
        if self._runner is not None:
            return
        self._stopping = asyncio.Event()
        app = web.Application(client_max_size=UPLOAD_LIMIT + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_bot_call)
        app.router.add_get("/file/bot{token}/{file_path:.+}", self._handle_file_download)
        self._add_sandbox_routes(app)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        await site.start()
        self._runner = runner
        self._bound_port = int(runner.addresses[0][1])
        # A webhook outlives a restart, as it outlives a restart of Telegram's servers.
        self._start_delivery()

    async def stop(self) -> None:
        """Wake long polls and stalls, end webhook delivery, then close the server."""
        if self._runner is None:
            return
        self._stopping.set()
        self._update_arrived.notify()
        await self._stop_delivery()
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """The root URL, e.g. "http://127.0.0.1:PORT"."""
        if self._bound_port is None:
            raise RuntimeError("the emulator is not started")
        return f"http://{self._host}:{self._bound_port}"

    @property
    def token(self) -> str:
        """The one token this emulator accepts."""
        return self._token

    @property
    def webhook_url(self) -> str:
        """The URL of the webhook the bot set ("" when there is none and it uses getUpdates)."""
        return self._webhook.url if self._webhook is not None else ""

    @property
    def webhook_spread(self) -> tuple[str, ...]:
        """The bases ("scheme://host:port") webhook POSTs are spread over; () when they go to the
        webhook's own URL."""
        return self._webhook_spread

    # ----------------------------------------------------------------- limits and faults

    def set_limits(
        self, *, enabled: bool, per_second: float = 30.0, per_chat_per_second: float = 1.0
    ) -> None:
        """Switch Telegram's flood limits on or off; buckets start full."""
        if per_second <= 0 or per_chat_per_second <= 0:
            raise ValueError("rates must be positive")
        self._limits = _Limits(enabled, per_second, per_chat_per_second)
        self._global_bucket = None
        self._chat_buckets.clear()

    def block_chat(self, chat_id: int, blocked: bool = True) -> None:
        """The person blocks (or unblocks) the bot: sends and edits to them answer 403."""
        self._chat(chat_id).blocked = blocked

    def fail_next(self, method: str, *, status: int = 502, times: int = 1, retry_after: int = 1) -> None:
        """The next `times` calls of `method` answer this error: a 5xx server error, or 429 Too
        Many Requests with `retry_after` (Telegram may answer any method so). Faults armed for one
        method (here and with `stall_next`) meet its calls in the order they were armed."""
        if status != 429 and status < 500:
            raise ValueError("fail_next is for 5xx server errors and 429")
        fault = _Fault(status=status, seconds=retry_after if status == 429 else 0.0)
        self._faults.setdefault(self._canonical(method), deque()).extend([fault] * times)

    def stall_next(self, method: str, *, seconds: float, times: int = 1) -> None:
        """The next `times` calls of `method` wait `seconds`, then are handled normally."""
        self._faults.setdefault(self._canonical(method), deque()).extend([_Fault(seconds=seconds)] * times)

    def reset_stats(self) -> None:
        """Zero every counter."""
        self.stats = EmulatorStats()

    # ----------------------------------------------------------------- people

    def add_user(
        self,
        user_id: int,
        first_name: str,
        *,
        username: str | None = None,
        last_name: str | None = None,
        phone_number: str | None = None,
        language_code: str | None = "en",
    ) -> None:
        """A person with a private chat (chat id == user id); adding again updates the profile."""
        person = Person(
            user_id=user_id,
            first_name=first_name,
            last_name=last_name,
            username=username,
            phone_number=phone_number or f"+1555{user_id % 10_000_000:07d}",
            language_code=language_code,
        )
        chat = self._chats.get(user_id)
        if chat is None:
            self._chats[user_id] = _Chat(person=person)
        else:
            chat.person = person

    def add_group(self, chat_id: int, title: str) -> None:
        """A group chat the bot is in; people write and press in it with `chat_id=`."""
        if chat_id >= 0:
            raise ValueError("a group chat's id is negative")
        self._chats[chat_id] = _Chat(person=Person(user_id=chat_id, first_name=title), title=title)

    def people(self) -> list[Person]:
        """Everyone added so far."""
        return [chat.person for chat in self._chats.values() if chat.title is None]

    def is_blocked(self, user_id: int) -> bool:
        """Whether this person has blocked the bot."""
        return self._chat(user_id).blocked

    async def send_text(self, user_id: int, text: str, *, chat_id: int | None = None) -> int:
        """The person types `text` (in the group `chat_id`, if given); returns the update_id."""
        if not text:
            raise ValueError("a person cannot send an empty message")
        chat = self._chat(user_id if chat_id is None else chat_id)
        message = self._add_message(chat, from_bot=False, text=text)
        message.entities = _entities_for(text)
        message.sender = self._chat(user_id).person
        return self._push_message_update(chat, message)

    async def share_contact(self, user_id: int, phone_number: str) -> int:
        """The person shares their contact; returns the update_id."""
        chat = self._chat(user_id)
        message = self._add_message(chat, from_bot=False, text=None)
        message.contact_phone = phone_number
        return self._push_message_update(chat, message)

    async def send_photo(self, user_id: int, *, caption: str | None = None, content: bytes = TINY_PNG) -> int:
        """The person sends a photo (a tiny PNG unless `content` is given); returns update_id."""
        chat = self._chat(user_id)
        photo = self._store_file(content, kind="photos", file_name=None, mime_type=None)
        message = self._add_message(chat, from_bot=False, text=caption)
        message.photo = photo
        return self._push_message_update(chat, message)

    async def press(
        self, user_id: int, label: str, *, message_id: int | None = None, timeout: float = 10.0
    ) -> PressResult:
        """The person presses the button labelled `label`.

        An inline button is looked for in `message_id`, or else in the newest message that has
        one with this label; pressing it sends a callback query and waits up to `timeout` for the
        bot's answer. A URL button sends nothing: it returns answered=False with the url.
        Without such an inline button, the chat's reply keyboard is tried: its button sends its
        text, or the person's contact when it requests one (a one-time keyboard then hides).
        """
        chat = self._chat(user_id)
        for message in self._messages_to_search(chat, message_id):
            for row in message.inline_keyboard:
                for button in row:
                    if button.get("text") != label:
                        continue
                    data = button.get("callback_data")
                    if data is None:
                        url = button.get("url")
                        if url is not None:
                            return PressResult(answered=False, url=str(url))
                        raise ValueError(f"button {label!r} sends nothing to the bot: {button}")
                    return await self.press_callback(user_id, message.message_id, str(data), timeout=timeout)
        if message_id is None and chat.reply_keyboard is not None:
            for keyboard_row in chat.reply_keyboard:
                for key in keyboard_row:
                    if key.get("text") != label:
                        continue
                    if chat.keyboard_one_time:
                        chat.reply_keyboard = None
                    if key.get("request_contact"):
                        phone = chat.person.phone_number or ""
                        update_id = await self.share_contact(user_id, phone)
                    else:
                        update_id = await self.send_text(user_id, label)
                    return PressResult(answered=True, latency=0.0, update_id=update_id)
        raise ButtonNotFoundError(
            f"no button {label!r} for user {user_id}"
            + (f" in message {message_id}" if message_id is not None else "")
            + f"; on screen: {self._labels_on_screen(chat)}"
        )

    async def press_callback(
        self, user_id: int, message_id: int, data: str, *, timeout: float = 10.0, chat_id: int | None = None
    ) -> PressResult:
        """A callback query with any (even forged) `data` for one of the chat's messages (of the
        group `chat_id`, if given)."""
        chat = self._chat(user_id if chat_id is None else chat_id)
        message = chat.messages.get(message_id)
        if message is None:
            raise LookupError(f"no message {message_id} in the chat with {user_id}")
        label = next(
            (
                str(button.get("text"))
                for row in message.inline_keyboard
                for button in row
                if button.get("callback_data") == data
            ),
            data,
        )
        chat.log.append(_Press(int(self._wall_clock()), label, message_id))
        query_id = str(4_000_000_000_000_000_000 + self._next_query_number)
        self._next_query_number += 1
        answer: asyncio.Future[PressResult] = asyncio.get_running_loop().create_future()
        query = _CallbackQuery(query_id=query_id, made_at=self._clock(), answer=answer)
        # Queries nobody answered in time can never be answered: forget them.
        horizon = self._clock() - self._callback_query_ttl
        self._queries = {key: old for key, old in self._queries.items() if old.made_at >= horizon}
        self._queries[query_id] = query
        update_id = self._push_update(
            "callback_query",
            {
                "id": query_id,
                "from": self._chat(user_id).person.user_json(),
                "message": self._message_json(chat, message),
                "chat_instance": str(-(6_000_000_000_000_000_000 + user_id)),
                "data": data,
            },
        )
        try:
            result = await asyncio.wait_for(asyncio.shield(answer), timeout)
        except TimeoutError:
            return PressResult(answered=False, update_id=update_id)
        return PressResult(
            answered=True,
            text=result.text,
            show_alert=result.show_alert,
            latency=result.latency,
            update_id=update_id,
            url=result.url,
        )

    def chat(self, user_id: int) -> list[ChatMessage]:
        """The chat as the person sees it, oldest first, edits applied."""
        return [message.view() for message in self._chat(user_id).messages.values()]

    def chat_action(self, user_id: int) -> str | None:
        """The status the bot shows in the chat now ("upload_document": "sending a file…"), if any."""
        chat = self._chat(user_id)
        if chat.action is None or self._clock() - chat.action[1] > CHAT_ACTION_SECONDS:
            return None
        return chat.action[0]

    def chat_version(self, user_id: int) -> int:
        """A number that grows whenever anything in the chat changes (cheap to poll)."""
        return self._chat(user_id).version

    def reply_keyboard(self, user_id: int) -> list[list[str]] | None:
        """The labels of the reply keyboard the person currently has, if any."""
        keyboard = self._chat(user_id).reply_keyboard
        if keyboard is None:
            return None
        return [[str(key.get("text", "")) for key in row] for row in keyboard]

    def last_bot_message(self, user_id: int) -> ChatMessage | None:
        """The newest message the bot sent to this person."""
        for message in reversed(self._chat(user_id).messages.values()):
            if message.from_bot:
                return message.view()
        return None

    async def wait_until(self, condition: Callable[[], bool], *, timeout: float = 10.0) -> None:
        """Wait until `condition()` holds, looking again at every change in any chat."""
        deadline = self._loop_time() + timeout
        while not condition():
            remaining = deadline - self._loop_time()
            if remaining <= 0 or not await self._chat_changed.wait(remaining):
                raise TimeoutError(f"the condition did not hold within {timeout}s")

    async def wait_for_message(
        self,
        user_id: int,
        predicate: Callable[[ChatMessage], bool] | str,
        *,
        timeout: float = 10.0,
        after: int | None = None,
    ) -> ChatMessage:
        """The newest bot message (newer than message `after`, if given) satisfying `predicate`
        (a string: the text contains it), waiting up to `timeout` for one to be sent or edited."""
        chat = self._chat(user_id)
        matches = _text_contains(predicate) if isinstance(predicate, str) else predicate
        deadline = self._loop_time() + timeout
        while True:
            for message in reversed(chat.messages.values()):
                if after is not None and message.message_id <= after:
                    break
                if message.from_bot:
                    view = message.view()
                    if matches(view):
                        return view
            remaining = deadline - self._loop_time()
            if remaining <= 0 or not await self._chat_changed.wait(remaining):
                wanted = repr(predicate) if isinstance(predicate, str) else "the predicate"
                raise TimeoutError(
                    f"no bot message matching {wanted} for user {user_id} within {timeout}s;"
                    f" chat:\n{self.transcript(user_id)}"
                )

    def transcript(self, user_id: int, zone: tzinfo = UTC) -> str:
        """The chat as readable text, each line with its time in `zone` (by this emulator's wall
        clock), the person's presses in order among the messages::

            10:05:12 bot: New offer …
                       [Accept] [Decline]
            10:05:20 you pressed [Accept]
        """
        chat = self._chat(user_id)
        lines: list[str] = []

        def at(date: int) -> str:
            return datetime.fromtimestamp(date, zone).strftime("%H:%M:%S")

        indent = " " * len(at(0) + " ")
        for entry in chat.log:
            if isinstance(entry, _Press):
                lines.append(f"{at(entry.date)} you pressed [{entry.label}]")
                continue
            message = chat.messages.get(entry)
            if message is None:
                continue  # deleted
            speaker = "bot" if message.from_bot else "you"
            parts: list[str] = []
            if message.document is not None:
                document = message.document
                parts.append(f"[document {document.file_name} {document.mime_type} {document.size} bytes]")
            if message.photo is not None:
                parts.append(f"[photo {message.photo.width}x{message.photo.height}]")
            if message.contact_phone is not None:
                parts.append(f"[contact {message.contact_phone}]")
            if message.text is not None:
                parts.append(message.text)
            if message.edit_date is not None:
                parts.append(f"(edited {at(message.edit_date)})")
            body = " ".join(parts).replace("\n", "\n" + indent + "     ")
            lines.append(f"{at(message.date)} {speaker}: {body}")
            for row in message.inline_keyboard:
                lines.append(indent + "  " + " ".join(f"[{button.get('text')}]" for button in row))
        if chat.reply_keyboard is not None:
            keys = " ".join(f"[{key.get('text')}]" for row in chat.reply_keyboard for key in row)
            lines.append(f"keyboard: {keys}")
        return "\n".join(lines)

    # ----------------------------------------------------------------- updates

    def redeliver(self, update_id: int) -> None:
        """Queue an already delivered update again under the same id, as Telegram does when it
        believes the bot did not get it; it is handed out once even below the confirmed offset
        (with a webhook: POSTed once more, even when a POST of it is in flight right now)."""
        payload = self._updates.get(update_id)
        if payload is None:
            raise LookupError(f"no update {update_id}")
        self._redelivered.add(update_id)
        if all(update.update_id != update_id for update in self._pending):
            ids = [update.update_id for update in self._pending]
            position = bisect.bisect_left(ids, update_id)
            self._pending.insert(position, _PendingUpdate.of(payload, self._clock()))
        self._updates_changed()

    @property
    def confirmed_update_id(self) -> int:
        """The highest update id confirmed by a getUpdates offset or a webhook's 2xx (POSTs run
        side by side, so with a webhook a lower id may still be pending, being retried)."""
        return self._confirmed_update_id

    @property
    def pending_updates(self) -> int:
        """How many updates the bot has not confirmed yet."""
        return len(self._pending)

    # ----------------------------------------------------------------- state helpers

    def _chat(self, chat_id: int) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            raise UnknownUserError(f"no user {chat_id}; add_user() first")
        return chat

    def _canonical(self, method: str) -> str:
        entry = self._methods.get(method.lower())
        return entry[0] if entry is not None else method

    def _loop_time(self) -> float:
        return asyncio.get_running_loop().time()

    def _messages_to_search(self, chat: _Chat, message_id: int | None) -> list[_Message]:
        if message_id is not None:
            message = chat.messages.get(message_id)
            if message is None:
                raise LookupError(f"no message {message_id} in the chat with {chat.person.user_id}")
            return [message]
        return [message for message in reversed(chat.messages.values()) if message.from_bot]

    def _labels_on_screen(self, chat: _Chat) -> str:
        inline = [
            f"{message.message_id}:{button.get('text')}"
            for message in chat.messages.values()
            for row in message.inline_keyboard
            for button in row
        ]
        keyboard = [str(key.get("text")) for row in chat.reply_keyboard or [] for key in row]
        return f"inline {inline or 'none'}, reply keyboard {keyboard or 'none'}"

    def _add_message(self, chat: _Chat, *, from_bot: bool, text: str | None) -> _Message:
        if not from_bot:
            # A person can only write to a bot they have not blocked: writing unblocks it.
            chat.blocked = False
        message = _Message(
            message_id=chat.next_message_id,
            from_bot=from_bot,
            date=int(self._wall_clock()),
            text=text,
        )
        chat.next_message_id += 1
        chat.messages[message.message_id] = message
        chat.log.append(message.message_id)
        if from_bot:
            chat.action = None
        chat.version += 1
        self._chat_changed.notify()
        return message

    def _push_message_update(self, chat: _Chat, message: _Message) -> int:
        return self._push_update("message", self._message_json(chat, message))

    def _push_update(self, kind: str, body: JsonObject) -> int:
        update_id = self._next_update_id
        self._next_update_id += 1
        if self._allowed_updates and kind not in self._allowed_updates:
            # Telegram drops a kind the bot did not allow; the bot just sees a gap in the ids.
            return update_id
        payload: JsonObject = {"update_id": update_id, kind: body}
        self._updates[update_id] = payload
        self._pending.append(_PendingUpdate.of(payload, self._clock()))
        self._updates_changed()
        return update_id

    def _updates_changed(self) -> None:
        """Wake whoever hands updates out: a waiting getUpdates, or the webhook delivery."""
        self._update_arrived.notify()
        self._webhook_wakeup.notify()

    def _bot_user_json(self) -> JsonObject:
        return {
            "id": self._bot_id,
            "is_bot": True,
            "first_name": self._bot_name,
            "username": self._bot_username,
        }

    def _message_json(self, chat: _Chat, message: _Message) -> JsonObject:
        sender = message.sender or chat.person
        body: JsonObject = {
            "message_id": message.message_id,
            "from": self._bot_user_json() if message.from_bot else sender.user_json(),
            "chat": chat.chat_json(),
            "date": message.date,
        }
        if message.edit_date is not None:
            body["edit_date"] = message.edit_date
        if message.document is not None:
            body["document"] = self._document_json(message.document)
        if message.photo is not None:
            body["photo"] = [self._photo_size_json(message.photo)]
        if message.text is not None:
            body["caption" if message.has_media else "text"] = message.text
            if message.entities:
                body["caption_entities" if message.has_media else "entities"] = message.entities
        if message.contact_phone is not None:
            contact: JsonObject = {
                "phone_number": message.contact_phone,
                "first_name": chat.person.first_name,
            }
            if chat.person.last_name is not None:
                contact["last_name"] = chat.person.last_name
            contact["user_id"] = chat.person.user_id
            body["contact"] = contact
        if message.inline_keyboard:
            body["reply_markup"] = {"inline_keyboard": message.inline_keyboard}
        return body

    @staticmethod
    def _document_json(document: FileInfo) -> JsonObject:
        body: JsonObject = {}
        if document.file_name is not None:
            body["file_name"] = document.file_name
        if document.mime_type is not None:
            body["mime_type"] = document.mime_type
        body.update(
            file_id=document.file_id,
            file_unique_id=document.file_unique_id,
            file_size=document.size,
        )
        return body

    @staticmethod
    def _photo_size_json(photo: FileInfo) -> JsonObject:
        return {
            "file_id": photo.file_id,
            "file_unique_id": photo.file_unique_id,
            "file_size": photo.size,
            "width": photo.width or 0,
            "height": photo.height or 0,
        }

    def _store_file(
        self, content: bytes, *, kind: str, file_name: str | None, mime_type: str | None
    ) -> FileInfo:
        number = self._next_file_number
        self._next_file_number += 1
        prefix = "AgACAgIAAxkBAAI" if kind == "photos" else "BQACAgIAAxkBAAI"
        extension = ""
        if file_name and "." in file_name:
            extension = "." + file_name.rsplit(".", 1)[1]
        elif kind == "photos":
            extension = ".jpg"
        width, height = _image_size(content) if kind == "photos" else (None, None)
        info = FileInfo(
            file_id=f"{prefix}{number:08d}",
            file_unique_id=f"AQAD{number:06d}",
            file_path=f"{kind}/file_{number}{extension}",
            file_name=file_name,
            mime_type=mime_type,
            content=content,
            width=width,
            height=height,
        )
        self._files[info.file_id] = info
        self._file_paths[info.file_path] = info.file_id
        return info

    # ----------------------------------------------------------------- bot-side HTTP

    async def _handle_bot_call(self, request: web.Request) -> web.Response:
        method_name = request.match_info["method"]
        entry = self._methods.get(method_name.lower())
        canonical = entry[0] if entry is not None else method_name
        self.stats.calls[canonical] += 1
        try:
            if request.match_info["token"] != self._token:
                raise ApiError(401, "Unauthorized")
            if entry is None:
                raise _bad_request("method not found")
            try:
                params = await self._read_params(request)
            except ConnectionResetError:  # the bot went away mid-request (killed): nobody to answer
                return web.Response(status=499)
            await self._meet_fault(canonical)
            if self._limits.enabled and _is_rate_limited(canonical):
                self._take_tokens(params)
            result = await entry[1](params)
            if isinstance(result, _Described):
                return web.json_response(
                    {"ok": True, "result": result.result, "description": result.description}
                )
        except ApiError as error:
            if error.status == 403:
                self.stats.forbidden += 1
            elif error.status == 429:
                self.stats.too_many_requests += 1
            elif error.status >= 500:
                self.stats.server_errors += 1
            return error.response()
        return web.json_response({"ok": True, "result": result})

    async def _handle_file_download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self._token:
            return ApiError(401, "Unauthorized").response()
        file_id = self._file_paths.get(request.match_info["file_path"])
        if file_id is None:
            return ApiError(404, "Not Found").response()
        info = self._files[file_id]
        return web.Response(body=info.content, content_type=info.mime_type or "application/octet-stream")

    @staticmethod
    async def _read_params(request: web.Request) -> _Params:
        values: dict[str, object] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise _bad_request("can't parse JSON object") from None
                if not isinstance(body, dict):
                    raise _bad_request("can't parse JSON object")
                values.update(body)
            elif request.content_type in (
                "application/x-www-form-urlencoded",
                "multipart/form-data",
            ):
                form = await request.post()
                values.update(form.items())
        return _Params(values)

    async def _meet_fault(self, method: str) -> None:
        """The next fault armed for this method, if any: a stall, or an error answer."""
        faults = self._faults.get(method)
        if not faults:
            return
        fault = faults.popleft()
        if fault.status == 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), fault.seconds)
            return
        if fault.status == 429:
            retry_after = int(fault.seconds)
            raise ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)
        raise ApiError(fault.status, SERVER_ERROR_DESCRIPTIONS.get(fault.status, "Internal Server Error"))

    def _take_tokens(self, params: _Params) -> None:
        """Telegram's flood control: a global bucket, and a bucket per chat; a 429 costs none."""
        now = self._clock()
        limits = self._limits
        if self._global_bucket is None:
            self._global_bucket = _Bucket(limits.per_second, limits.per_second, limits.per_second, now)
        short = self._global_bucket.seconds_short(now, 1.0)
        chat_id = params.integer("chat_id")
        chat_bucket: _Bucket | None = None
        if chat_id is not None:
            chat_bucket = self._chat_buckets.get(chat_id)
            if chat_bucket is None:
                chat_bucket = _Bucket(limits.per_chat_per_second, 1.0, 1.0, now)
                self._chat_buckets[chat_id] = chat_bucket
            short = max(short, chat_bucket.seconds_short(now, PER_CHAT_TOLERANCE))
        if short > 0:
            retry_after = max(1, math.ceil(short))
            raise ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)
        self._global_bucket.tokens -= 1
        if chat_bucket is not None:
            chat_bucket.tokens -= 1

    def _target_chat(self, params: _Params) -> _Chat:
        """The chat a call addresses: 400 when missing or unknown, 403 when blocked."""
        if params.raw("chat_id") in (None, ""):
            raise _bad_request("chat_id is empty")
        try:
            chat_id = params.integer("chat_id")
        except ApiError:
            raise _bad_request("chat not found") from None
        chat = self._chats.get(chat_id) if chat_id is not None else None
        if chat is None:
            raise _bad_request("chat not found")
        if chat.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _apply_reply_markup(self, chat: _Chat, params: _Params) -> list[list[JsonObject]]:
        """Take a send's reply_markup: returns the inline keyboard, updates the reply keyboard."""
        markup = params.structure("reply_markup")
        if markup is None:
            return []
        if not isinstance(markup, dict):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            return self._inline_keyboard(markup)
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise _bad_request("can't parse reply keyboard markup JSON object")
            chat.reply_keyboard = [
                [key if isinstance(key, dict) else {"text": str(key)} for key in row] for row in rows
            ]
            chat.keyboard_one_time = bool(markup.get("one_time_keyboard", False))
        elif markup.get("remove_keyboard"):
            chat.reply_keyboard = None
        elif not markup.get("force_reply"):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        return []

    @staticmethod
    def _inline_keyboard(markup: Mapping[str, Any]) -> list[list[JsonObject]]:
        rows = markup.get("inline_keyboard")
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad_request("can't parse inline keyboard markup JSON object")
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise _bad_request("can't parse inline keyboard button: Text is missing")
                data = button.get("callback_data")
                if data is not None:
                    size = len(str(data).encode("utf-8"))
                    if size == 0 or size > CALLBACK_DATA_LIMIT:
                        raise _bad_request("BUTTON_DATA_INVALID")
                elif len(button) == 1:
                    raise _bad_request(
                        "can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard"
                    )
        return [[dict(button) for button in row] for row in rows]

    def _edit_target(self, params: _Params) -> tuple[_Chat, _Message]:
        if params.raw("inline_message_id") is not None:
            raise _bad_request("inline messages are not emulated")
        chat = self._target_chat(params)
        message_id = params.integer("message_id")
        if message_id is None:
            raise _bad_request("message identifier is not specified")
        message = chat.messages.get(message_id)
        if message is None:
            raise _bad_request("message to edit not found")
        if not message.from_bot:
            raise _bad_request("message can't be edited")
        return chat, message

    def _new_inline_keyboard(self, params: _Params) -> list[list[JsonObject]]:
        """An edit's reply_markup; leaving it out removes the inline keyboard, as on Telegram."""
        markup = params.structure("reply_markup")
        if markup is None:
            return []
        if not isinstance(markup, dict) or "inline_keyboard" not in markup:
            raise _bad_request("can't parse inline keyboard markup JSON object")
        return self._inline_keyboard(markup)

    def _finish_edit(
        self,
        chat: _Chat,
        message: _Message,
        *,
        text: str | None,
        entities: list[JsonObject],
        keyboard: list[list[JsonObject]],
    ) -> JsonObject:
        if text == message.text and keyboard == message.inline_keyboard:
            raise _bad_request(NOT_MODIFIED)
        message.text = text
        message.entities = entities
        message.inline_keyboard = keyboard
        message.edit_date = int(self._wall_clock())
        chat.version += 1
        self._chat_changed.notify()
        return self._message_json(chat, message)

    def _sent(self, chat: _Chat, message: _Message) -> JsonObject:
        """Every call that puts a new message of the bot's in a chat ends here: counted, and timed
        against the chat's previous one."""
        self.stats.sent_messages += 1
        now = self._clock()
        if chat.bot_message_at is not None:
            spacing = now - chat.bot_message_at
            if spacing < CHAT_SPACING_SECONDS:
                self.stats.chat_spacing_violations += 1
            if self.stats.min_chat_spacing is None or spacing < self.stats.min_chat_spacing:
                self.stats.min_chat_spacing = spacing
        chat.bot_message_at = now
        self._chat_changed.notify()
        return self._message_json(chat, message)

    def _entities_param(self, params: _Params, name: str) -> list[JsonObject]:
        entities = params.structure(name)
        if entities is None:
            return []
        if not isinstance(entities, list):
            raise _bad_request(f"can't parse {name} JSON object")
        return [entity for entity in entities if isinstance(entity, dict)]

    def _caption(self, params: _Params) -> str | None:
        caption = params.text("caption")
        if caption is not None and len(caption) > CAPTION_LIMIT:
            raise _bad_request("message caption is too long")
        return caption or None

    def _upload(self, params: _Params, name: str, *, kind: str) -> FileInfo:
        upload = params.upload(name)
        if upload is None or upload == "":
            raise _bad_request(f"there is no {name} in the request")
        if isinstance(upload, str):
            known = self._files.get(upload)
            if known is not None:
                return known
            if upload.startswith(("http://", "https://")):
                raise _bad_request("failed to get HTTP URL content")
            raise _bad_request("wrong file identifier/HTTP URL specified")
        content = upload.file.read()
        if len(content) > UPLOAD_LIMIT:
            raise ApiError(413, "Request Entity Too Large")
        mime_type = upload.content_type
        if not mime_type or mime_type == "application/octet-stream":
            mime_type = mimetypes.guess_type(upload.filename)[0] or mime_type
        if kind == "photos":
            if not content:
                raise _bad_request("IMAGE_PROCESS_FAILED")
            return self._store_file(content, kind=kind, file_name=None, mime_type=None)
        if not content:
            raise _bad_request("file must be non-empty")
        return self._store_file(content, kind=kind, file_name=upload.filename, mime_type=mime_type)

    # ----------------------------------------------------------------- Bot API methods

    async def _get_me(self, params: _Params) -> object:
        return {
            **self._bot_user_json(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: _Params) -> object:
        if self._webhook is not None:
            raise ApiError(409, WEBHOOK_IS_ACTIVE)
        allowed = self._allowed_updates_param(params)
        if allowed is not None:
            self._allowed_updates = allowed
        offset = params.integer("offset")
        limit = min(100, max(1, params.integer("limit") or 100))
        timeout = max(0.0, params.number("timeout") or 0.0)
        if offset is not None:
            self._confirm(offset)
        self._poll_ticket += 1
        ticket = self._poll_ticket
        # A newer getUpdates ends a waiting one with 409, as on Telegram.
        self._update_arrived.notify()
        deadline = self._loop_time() + timeout
        while not self._pending and not self._stopping.is_set():
            remaining = deadline - self._loop_time()
            if remaining <= 0:
                break
            await self._update_arrived.wait(remaining)
            # Telegram ends a waiting long poll with 409 when a webhook is set meanwhile.
            if self._webhook is not None:
                raise ApiError(409, TERMINATED_BY_SET_WEBHOOK)
            if self._poll_ticket != ticket:
                raise ApiError(409, GET_UPDATES_CONFLICT)
        batch = [self._pending[index] for index in range(min(limit, len(self._pending)))]
        for update in batch:
            self._redelivered.discard(update.update_id)
        return [update.payload for update in batch]

    def _confirm(self, offset: int) -> None:
        """Forget updates below a positive offset; a negative one keeps the last -offset."""
        if offset < 0:
            while len(self._pending) > -offset:
                self._redelivered.discard(self._pending.popleft().update_id)
            return
        if offset == 0:
            return
        self._confirmed_update_id = max(self._confirmed_update_id, offset - 1)
        if self._redelivered:
            kept = [
                update
                for update in self._pending
                if update.update_id >= offset or update.update_id in self._redelivered
            ]
            self._pending = deque(kept)
            return
        while self._pending and self._pending[0].update_id < offset:
            self._pending.popleft()

    @staticmethod
    def _allowed_updates_param(params: _Params) -> tuple[str, ...] | None:
        """A call's allowed_updates: None when absent or unreadable (the bot's setting stays, as on
        Telegram); () for Telegram's default (an empty list, or no kind Telegram knows); else the
        kinds named, in Telegram's order."""
        if params.raw("allowed_updates") in (None, ""):
            return None
        try:
            names = params.structure("allowed_updates")
        except ApiError:
            return None
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            return None
        wanted = {name.lower() for name in names}
        return tuple(kind for kind in UPDATE_KINDS if kind in wanted)

    def _drop_pending(self) -> None:
        self._pending.clear()
        self._redelivered.clear()
        self._confirmed_update_id = self._next_update_id - 1

    async def _delete_webhook(self, params: _Params) -> object:
        return await self._remove_webhook(drop_pending_updates=params.flag("drop_pending_updates"))

    async def _remove_webhook(self, *, drop_pending_updates: bool) -> _Described:
        """deleteWebhook, or setWebhook with an empty url: delivery stops; the pending updates
        wait for getUpdates unless dropped."""
        async with self._webhook_lock:
            was_set = self._webhook is not None
            await self._stop_delivery()
            self._webhook = None
            if drop_pending_updates:
                self._drop_pending()
        return _Described(True, "Webhook was deleted" if was_set else "Webhook is already deleted")

    async def _set_webhook(self, params: _Params) -> object:
        """setWebhook, checked as Telegram checks it, except that the url may be http:// and on any
        port (Telegram wants HTTPS on port 80, 88, 443 or 8443), so a test's loopback server can
        be the webhook. An empty secret_token means none, as on Telegram; max_connections is
        clamped to 1-100."""
        url = params.text("url") or ""
        drop_pending_updates = params.flag("drop_pending_updates")
        if not url:
            return await self._remove_webhook(drop_pending_updates=drop_pending_updates)
        if not _is_webhook_url(url):
            raise _bad_request("invalid webhook URL specified")
        secret_token = params.text("secret_token") or ""
        if len(secret_token) > SECRET_TOKEN_LIMIT:
            raise _bad_request("secret token is too long")
        if not SECRET_TOKEN_PATTERN.fullmatch(secret_token):
            raise _bad_request("secret token contains unallowed characters")
        requested = params.integer("max_connections")
        max_connections = WEBHOOK_CONNECTIONS_DEFAULT if requested is None else requested
        max_connections = min(WEBHOOK_CONNECTIONS_MAX, max(1, max_connections))
        allowed = self._allowed_updates_param(params)
        async with self._webhook_lock:
            if allowed is not None:
                self._allowed_updates = allowed
            current = self._webhook
            if (
                current is not None
                and (current.url, current.secret_token, current.max_connections)
                == (url, secret_token, max_connections)
                and not drop_pending_updates
            ):
                # Telegram leaves an unchanged webhook alone, its last error included.
                return _Described(True, "Webhook is already set")
            await self._stop_delivery()
            if drop_pending_updates:
                self._drop_pending()
            self._webhook = _Webhook(url, secret_token, max_connections)
            self._update_arrived.notify()  # a waiting long poll ends
            self._start_delivery()
        return _Described(True, "Webhook was set")

    async def _get_webhook_info(self, params: _Params) -> object:
        # Telegram leaves out the optional fields that have no value, in this order.
        webhook = self._webhook
        info: JsonObject = {
            "url": webhook.url if webhook is not None else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if webhook is not None:
            if webhook.last_error_date is not None:
                info["last_error_date"] = webhook.last_error_date
                info["last_error_message"] = webhook.last_error_message
            info["max_connections"] = webhook.max_connections
        if self._allowed_updates:
            info["allowed_updates"] = list(self._allowed_updates)
        return info

    def _commands_key(self, params: _Params) -> tuple[str, str]:
        scope = params.structure("scope")
        scope_key = json.dumps(scope or {"type": "default"}, sort_keys=True)
        return scope_key, params.text("language_code") or ""

    async def _set_my_commands(self, params: _Params) -> object:
        commands = params.structure("commands")
        if not isinstance(commands, list) or not all(
            isinstance(command, dict) and "command" in command and "description" in command
            for command in commands
        ):
            raise _bad_request("can't parse commands JSON object")
        self._commands[self._commands_key(params)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    async def _get_my_commands(self, params: _Params) -> object:
        return self._commands.get(self._commands_key(params), [])

    async def _delete_my_commands(self, params: _Params) -> object:
        self._commands.pop(self._commands_key(params), None)
        return True

    async def _send_message(self, params: _Params) -> object:
        chat = self._target_chat(params)
        text = params.text("text")
        if text is None or not text.strip():
            raise _bad_request("message text is empty")
        if len(text) > MESSAGE_LIMIT:
            raise _bad_request("message is too long")
        keyboard = self._apply_reply_markup(chat, params)
        entities = self._entities_param(params, "entities")
        message = self._add_message(chat, from_bot=True, text=text)
        message.entities = entities
        message.inline_keyboard = keyboard
        return self._sent(chat, message)

    async def _send_document(self, params: _Params) -> object:
        chat = self._target_chat(params)
        caption = self._caption(params)
        document = self._upload(params, "document", kind="documents")
        keyboard = self._apply_reply_markup(chat, params)
        message = self._add_message(chat, from_bot=True, text=caption)
        message.document = document
        message.entities = self._entities_param(params, "caption_entities")
        message.inline_keyboard = keyboard
        return self._sent(chat, message)

    async def _send_photo(self, params: _Params) -> object:
        chat = self._target_chat(params)
        caption = self._caption(params)
        photo = self._upload(params, "photo", kind="photos")
        keyboard = self._apply_reply_markup(chat, params)
        message = self._add_message(chat, from_bot=True, text=caption)
        message.photo = photo
        message.entities = self._entities_param(params, "caption_entities")
        message.inline_keyboard = keyboard
        return self._sent(chat, message)

    async def _edit_message_text(self, params: _Params) -> object:
        chat, message = self._edit_target(params)
        text = params.text("text")
        if text is None or not text.strip():
            raise _bad_request("message text is empty")
        if len(text) > MESSAGE_LIMIT:
            raise _bad_request("MESSAGE_TOO_LONG")
        if message.has_media or message.contact_phone is not None:
            raise _bad_request("there is no text in the message to edit")
        return self._finish_edit(
            chat,
            message,
            text=text,
            entities=self._entities_param(params, "entities"),
            keyboard=self._new_inline_keyboard(params),
        )

    async def _edit_message_caption(self, params: _Params) -> object:
        chat, message = self._edit_target(params)
        if not message.has_media:
            raise _bad_request("there is no caption in the message to edit")
        return self._finish_edit(
            chat,
            message,
            text=self._caption(params),
            entities=self._entities_param(params, "caption_entities"),
            keyboard=self._new_inline_keyboard(params),
        )

    async def _edit_message_reply_markup(self, params: _Params) -> object:
        chat, message = self._edit_target(params)
        return self._finish_edit(
            chat,
            message,
            text=message.text,
            entities=message.entities,
            keyboard=self._new_inline_keyboard(params),
        )

    async def _delete_message(self, params: _Params) -> object:
        chat = self._target_chat(params)
        message_id = params.integer("message_id")
        chat.version += 1
        if message_id is None or chat.messages.pop(message_id, None) is None:
            raise _bad_request("message to delete not found")
        self._chat_changed.notify()
        return True

    async def _answer_callback_query(self, params: _Params) -> object:
        query_id = params.text("callback_query_id")
        query = self._queries.pop(query_id, None) if query_id else None
        if query is None or self._clock() - query.made_at > self._callback_query_ttl:
            raise _bad_request(QUERY_TOO_OLD)
        text = params.text("text")
        if text is not None and len(text) > 200:
            raise _bad_request("MESSAGE_TOO_LONG")
        if not query.answer.done():
            query.answer.set_result(
                PressResult(
                    answered=True,
                    text=text or None,
                    show_alert=params.flag("show_alert"),
                    latency=self._clock() - query.made_at,
                    url=params.text("url"),
                )
            )
        return True

    async def _get_file(self, params: _Params) -> object:
        file_id = params.text("file_id")
        info = self._files.get(file_id) if file_id else None
        if info is None:
            raise _bad_request("invalid file_id")
        return {
            "file_id": info.file_id,
            "file_unique_id": info.file_unique_id,
            "file_size": info.size,
            "file_path": info.file_path,
        }

    async def _send_chat_action(self, params: _Params) -> object:
        chat = self._target_chat(params)
        action = params.text("action")
        if not action:
            raise _bad_request("wrong parameter action in request")
        chat.action = (action, self._clock())
        chat.version += 1
        self._chat_changed.notify()
        return True

    async def _get_chat(self, params: _Params) -> object:
        if params.raw("chat_id") in (None, ""):
            raise _bad_request("chat_id is empty")
        try:
            chat_id = params.integer("chat_id")
        except ApiError:
            raise _bad_request("chat not found") from None
        chat = self._chats.get(chat_id) if chat_id is not None else None
        if chat is None:
            raise _bad_request("chat not found")
        return {
            **chat.person.chat_json(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": True,
                "limited_gifts": True,
                "unique_gifts": True,
                "premium_subscription": True,
                "gifts_from_channels": True,
            },
        }

    async def _close(self, params: _Params) -> object:
        return True

    # ----------------------------------------------------------------- webhook delivery

    def _start_delivery(self) -> None:
        """Start POSTing to the webhook, if one is set and the emulator is serving."""
        if self._webhook is None or self._runner is None or self._stopping.is_set():
            return
        delivery = _Delivery(self._webhook)
        delivery.task = asyncio.create_task(self._deliver(delivery), name=f"webhook {self._webhook.url}")
        self._delivery = delivery

    async def _stop_delivery(self) -> None:
        """End the running delivery: POSTs in flight are cancelled, their updates stay pending."""
        delivery, self._delivery = self._delivery, None
        if delivery is None or delivery.task is None:
            return
        delivery.stopping = True
        self._webhook_wakeup.notify()
        await delivery.task

    async def _deliver(self, delivery: _Delivery) -> None:
        """POST pending updates, oldest first, whenever there is one to POST and a connection
        free; sleeps only until a change or the end of the nearest backoff."""
        webhook = delivery.webhook
        connector = aiohttp.TCPConnector(limit=webhook.max_connections)
        timeout = aiohttp.ClientTimeout(total=self._webhook_timeout)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            try:
                while not delivery.stopping:
                    retry_in = self._start_posts(delivery, session)
                    await self._webhook_wakeup.wait(retry_in)
            finally:
                posts = list(delivery.in_flight.values())
                for post in posts:
                    post.cancel()
                if posts:
                    await asyncio.wait(posts)

    def _start_posts(self, delivery: _Delivery, session: aiohttp.ClientSession) -> float | None:
        """Start a POST for each pending update that is the oldest pending one of its chat and is
        neither in flight nor backing off, up to max_connections in flight; returns seconds until
        the nearest backoff ends, if any."""
        now = self._loop_time()
        retry_in: float | None = None
        # A chat whose oldest pending update is in flight or backing off holds the rest back. A chat
        # with a POST in flight is held from the start: a redeliver() may have put an older update
        # of it ahead of the one in flight.
        held = set(delivery.chats_in_flight)
        for update in self._pending:
            if len(delivery.in_flight) >= delivery.webhook.max_connections:
                break
            if update.chat_id is not None:
                if update.chat_id in held:
                    continue
                held.add(update.chat_id)
            if update.update_id in delivery.in_flight:
                continue
            backoff = delivery.backoff.get(update.update_id)
            if backoff is not None and backoff.not_before > now:
                wait = backoff.not_before - now
                retry_in = wait if retry_in is None else min(retry_in, wait)
                continue
            # Handed out, as by getUpdates: a redeliver() from now on means "POST it once more".
            self._redelivered.discard(update.update_id)
            if update.chat_id is not None:
                delivery.chats_in_flight[update.chat_id] = update.update_id
            delivery.in_flight[update.update_id] = asyncio.create_task(
                self._post(delivery, session, update), name=f"webhook update {update.update_id}"
            )
        return retry_in

    def _webhook_target(self, url: str) -> tuple[str, str]:
        """Where one POST goes, as (scheme://host:port, URL): the webhook's own URL, or with
        webhook_spread the same path and query on a base drawn for this POST."""
        parts = urlsplit(url)
        if not self._webhook_spread:
            return f"{parts.scheme}://{parts.netloc}", url
        base = self._spread_draw.choice(self._webhook_spread)
        scheme, netloc = base.split("://", 1)
        return base, parts._replace(scheme=scheme, netloc=netloc).geturl()

    async def _post(
        self, delivery: _Delivery, session: aiohttp.ClientSession, update: _PendingUpdate
    ) -> None:
        """POST one update: a 2xx confirms it; anything else records the error and backs off."""
        webhook = delivery.webhook
        headers = {SECRET_TOKEN_HEADER: webhook.secret_token} if webhook.secret_token else {}
        base, url = self._webhook_target(webhook.url)
        self.stats.webhook_posts += 1
        try:
            try:
                async with session.post(url, json=update.payload, headers=headers) as response:
                    await response.read()
                    error: str | None = None
                    if not 200 <= response.status <= 299:
                        reason = f" {response.reason}" if response.reason else ""
                        error = f"Wrong response from the webhook: {response.status}{reason}"
            except Exception as failure:  # whatever went wrong, the update stays pending
                error = _webhook_error(failure)
            if error is None:
                self.stats.webhook_deliveries_by_base[base] += 1
                self._webhook_confirmed(delivery, update.update_id)
            else:
                self._webhook_failed(delivery, update.update_id, error)
        finally:
            delivery.in_flight.pop(update.update_id, None)
            if (
                update.chat_id is not None
                and delivery.chats_in_flight.get(update.chat_id) == update.update_id
            ):
                del delivery.chats_in_flight[update.chat_id]
            self._webhook_wakeup.notify()

    def _webhook_confirmed(self, delivery: _Delivery, update_id: int) -> None:
        delivery.backoff.pop(update_id, None)
        if update_id in self._redelivered:
            return  # redeliver() was called while this POST was in flight: it goes out again
        for index, update in enumerate(self._pending):
            if update.update_id == update_id:
                del self._pending[index]
                break
        self._confirmed_update_id = max(self._confirmed_update_id, update_id)

    def _webhook_failed(self, delivery: _Delivery, update_id: int, error: str) -> None:
        self.stats.webhook_failures += 1
        delivery.webhook.last_error_date = int(self._wall_clock())
        delivery.webhook.last_error_message = error
        previous = delivery.backoff.get(update_id)
        failures = 1 if previous is None else previous.failures + 1
        # The exponent is capped so that a webhook down for hours cannot overflow the float.
        delay = min(self._webhook_retry_max, self._webhook_retry_base * 2 ** min(failures - 1, 60))
        delivery.backoff[update_id] = _Backoff(failures, self._loop_time() + delay)

    # ----------------------------------------------------------------- user-side HTTP

    def _add_sandbox_routes(self, app: web.Application) -> None:
        app.router.add_get("/sandbox/users", self._http_people)
        app.router.add_post("/sandbox/users", self._http_add_user)
        app.router.add_post("/sandbox/users/{user_id}/text", self._http_text)
        app.router.add_post("/sandbox/users/{user_id}/contact", self._http_contact)
        app.router.add_post("/sandbox/users/{user_id}/photo", self._http_photo)
        app.router.add_post("/sandbox/users/{user_id}/press", self._http_press)
        app.router.add_get("/sandbox/users/{user_id}/chat", self._http_chat)
        app.router.add_get("/sandbox/files/{file_id}", self._http_file)
        app.router.add_get("/sandbox/stats", self._http_stats)
        app.router.add_post("/sandbox/stats/reset", self._http_reset_stats)
        app.router.add_post("/sandbox/limits", self._http_limits)
        app.router.add_post("/sandbox/chats/{chat_id}/block", self._http_block)

    async def _http_people(self, request: web.Request) -> web.Response:
        return web.json_response({"users": [person.as_json() for person in self.people()]})

    async def _http_add_user(self, request: web.Request) -> web.Response:
        async def act() -> JsonObject:
            body = await _json_body(request)
            self.add_user(
                _required(body, "user_id", int),
                _required(body, "first_name", str),
                username=_optional(body, "username", str),
                last_name=_optional(body, "last_name", str),
                phone_number=_optional(body, "phone_number", str),
            )
            return {"ok": True}

        return await _sandbox_call(act)

    async def _http_text(self, request: web.Request) -> web.Response:
        async def act() -> JsonObject:
            body = await _json_body(request)
            user_id = _path_int(request, "user_id")
            return {"update_id": await self.send_text(user_id, _required(body, "text", str))}

        return await _sandbox_call(act)

    async def _http_contact(self, request: web.Request) -> web.Response:
        async def act() -> JsonObject:
            body = await _json_body(request)
            user_id = _path_int(request, "user_id")
            phone = _optional(body, "phone_number", str) or self._chat(user_id).person.phone_number
            return {"update_id": await self.share_contact(user_id, phone or "")}

        return await _sandbox_call(act)

    async def _http_photo(self, request: web.Request) -> web.Response:
        async def act() -> JsonObject:
            body = await _json_body(request)
            user_id = _path_int(request, "user_id")
            caption = _optional(body, "caption", str)
            return {"update_id": await self.send_photo(user_id, caption=caption)}

        return await _sandbox_call(act)

    async def _http_press(self, request: web.Request) -> web.Response:
        async def act() -> JsonObject:
            body = await _json_body(request)
            timeout = _optional(body, "timeout", float)
            result = await self.press(
                _path_int(request, "user_id"),
                _required(body, "label", str),
                message_id=_optional(body, "message_id", int),
                timeout=10.0 if timeout is None else timeout,
            )
            return result.as_json()

        return await _sandbox_call(act)

    async def _http_chat(self, request: web.Request) -> web.Response:
        async def act() -> JsonObject:
            user_id = _path_int(request, "user_id")
            return {
                "messages": [message.as_json() for message in self.chat(user_id)],
                "reply_keyboard": self.reply_keyboard(user_id),
            }

        return await _sandbox_call(act)

    async def _http_file(self, request: web.Request) -> web.Response:
        info = self._files.get(request.match_info["file_id"])
        if info is None:
            return web.json_response({"error": "no such file"}, status=404)
        return web.Response(body=info.content, content_type=info.mime_type or "application/octet-stream")

    async def _http_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats.as_json())

    async def _http_reset_stats(self, request: web.Request) -> web.Response:
        self.reset_stats()
        return web.json_response({"ok": True})

    async def _http_limits(self, request: web.Request) -> web.Response:
        async def act() -> JsonObject:
            body = await _json_body(request)
            per_second = _optional(body, "per_second", float)
            per_chat = _optional(body, "per_chat_per_second", float)
            self.set_limits(
                enabled=_required(body, "enabled", bool),
                per_second=30.0 if per_second is None else per_second,
                per_chat_per_second=1.0 if per_chat is None else per_chat,
            )
            return {"ok": True}

        return await _sandbox_call(act)

    async def _http_block(self, request: web.Request) -> web.Response:
        async def act() -> JsonObject:
            body = await _json_body(request)
            blocked = _optional(body, "blocked", bool)
            self.block_chat(_path_int(request, "chat_id"), True if blocked is None else blocked)
            return {"ok": True}

        return await _sandbox_call(act)


# --------------------------------------------------------------------------- user-side helpers


async def _sandbox_call(act: Callable[[], Awaitable[JsonObject]]) -> web.Response:
    """Run one user-side action: LookupError -> 404, ValueError/TypeError -> 400."""
    try:
        return web.json_response(await act())
    except LookupError as error:
        return web.json_response({"error": _error_text(error)}, status=404)
    except (ValueError, TypeError) as error:
        return web.json_response({"error": _error_text(error)}, status=400)


def _error_text(error: Exception) -> str:
    # KeyError's str() adds quotes around its message.
    return str(error.args[0]) if error.args else type(error).__name__


async def _json_body(request: web.Request) -> JsonObject:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise ValueError("the body is not JSON") from None
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def _path_int(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except ValueError:
        raise ValueError(f"{name} must be an integer") from None


def _required(body: Mapping[str, Any], name: str, kind: type[T]) -> T:
    value = _optional(body, name, kind)
    if value is None:
        raise ValueError(f"{name} is required")
    return value


def _optional(body: Mapping[str, Any], name: str, kind: type[T]) -> T | None:
    value = body.get(name)
    if value is None:
        return None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if kind is int and isinstance(value, bool):
        raise ValueError(f"{name} must be an integer")
    if not isinstance(value, kind):
        raise ValueError(f"{name} must be of type {kind.__name__}")
    return value
