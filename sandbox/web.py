"""A chat page in the browser: a person picks who they are and talks to the bot through the emulator."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from importlib import resources
from types import TracebackType
from typing import Any, Self, TypeVar

from aiohttp import web

from sandbox.emulator import BotApiEmulator, ChatMessage, FileInfo, JsonObject, Person

log = logging.getLogger(__name__)
T = TypeVar("T")

PAGE_RESOURCE = "page.html"
# Where ids of people added from the page start when the page picks the id itself.
FIRST_NEW_PERSON_ID = 5001
PRESS_TIMEOUT_SECONDS = 10.0
NAME_LIMIT = 64
TEXT_LIMIT = 4096

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class PageError(Exception):
    """A request the page API refuses: becomes {"error": message} with this status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Role:
    """Someone the page offers to be: a person of the emulator and what they are in the story."""

    user_id: int
    name: str
    label: str

    def as_json(self) -> JsonObject:
        """This role for the page."""
        return {"user_id": self.user_id, "name": self.name, "label": self.label}


def page_html() -> str:
    """The chat page (HTML, CSS and JavaScript in one file, no build step)."""
    return resources.files("sandbox").joinpath(PAGE_RESOURCE).read_text(encoding="utf-8")


def clock_text(when: datetime, zone: tzinfo) -> str:
    """A time as the page shows it: "10:05 PST"."""
    return when.astimezone(zone).strftime("%H:%M %Z")


def message_json(user_id: int, message: ChatMessage, zone: tzinfo = UTC) -> JsonObject:
    """One chat message as the page draws it: no file bytes, a link to a photo instead; its time
    (the emulator's, simulated in the sandbox) in `zone`."""
    return {
        "message_id": message.message_id,
        "from_bot": message.from_bot,
        "text": message.text,
        "edited": message.edited,
        "buttons": [
            [{"label": button.label, "url": button.url} for button in row] for row in message.inline_keyboard
        ],
        "photo": _file_json(user_id, message, message.photo),
        "document": _file_json(user_id, message, message.document),
        "contact_phone": message.contact_phone,
        "date": message.date,
        "time": clock_text(datetime.fromtimestamp(message.date, UTC), zone),
    }


def _file_json(user_id: int, message: ChatMessage, file: FileInfo | None) -> JsonObject | None:
    if file is None:
        return None
    return {
        "name": file.file_name or file.file_path.rsplit("/", 1)[-1],
        "mime_type": file.mime_type,
        "size": file.size,
        "url": f"/api/people/{user_id}/messages/{message.message_id}/file",
    }


class ChatPage:
    """The page and its JSON API, served next to a running emulator.

    Every API call is one of the emulator's in-process user-side verbs, so a person in the
    browser and the simulated people around them share one world. Use as
    ``async with ChatPage(emulator, people=[(1000, "Ada", "admin")]) as page: print(page.url)``.
    Times show in `zone`; with `now` (the simulated clock) the page also shows the time it is.
    """

    def __init__(
        self,
        emulator: BotApiEmulator,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        people: Sequence[tuple[int, str, str]] = (),
        zone: tzinfo = UTC,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self._emulator = emulator
        self._zone = zone
        self._now = now
        self._host = host
        self._port = port
        self._roles = [Role(user_id, name, label) for user_id, name, label in people]
        self._runner: web.AppRunner | None = None
        self._bound_port: int | None = None

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Add the known people the emulator lacks, then bind and serve; port 0 picks a free port."""
        if self._runner is not None:
            return
        known = {person.user_id for person in self._emulator.people()}
        for role in self._roles:
            if role.user_id not in known:
                self._emulator.add_user(role.user_id, role.name)
        runner = web.AppRunner(self.application(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        await site.start()
        self._runner = runner
        self._bound_port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        """Close the server (the emulator keeps running)."""
        if self._runner is None:
            return
        runner, self._runner = self._runner, None
        self._bound_port = None
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
        """The page's address, e.g. "http://127.0.0.1:PORT/"."""
        if self._bound_port is None:
            raise RuntimeError("the chat page is not started")
        return f"http://{self._host}:{self._bound_port}/"

    def application(self) -> web.Application:
        """The aiohttp app: the page at / and the JSON API under /api/."""
        app = web.Application(middlewares=[_json_errors])
        app.router.add_get("/", self._page)
        app.router.add_get("/api/people", self._list_people)
        app.router.add_post("/api/people", self._add_person)
        app.router.add_get("/api/people/{user_id}/chat", self._chat)
        app.router.add_post("/api/people/{user_id}/text", self._text)
        app.router.add_post("/api/people/{user_id}/press", self._press)
        app.router.add_post("/api/people/{user_id}/contact", self._contact)
        app.router.add_post("/api/people/{user_id}/photo", self._photo)
        app.router.add_get("/api/people/{user_id}/messages/{message_id}/file", self._file)
        return app

    # ----------------------------------------------------------------- people

    def roles(self) -> list[Role]:
        """The known roles first, then everyone else the emulator has, by user id."""
        people = {person.user_id: person for person in self._emulator.people()}
        listed = {role.user_id for role in self._roles}
        others = [
            Role(user_id, _display_name(person), "person")
            for user_id, person in sorted(people.items())
            if user_id not in listed
        ]
        return [*self._roles, *others]

    def add_person(self, name: str, user_id: int | None = None) -> Role:
        """A new person in the emulator (the next free id unless one is given)."""
        name = name.strip()
        if not name:
            raise PageError(400, "name is required")
        if len(name) > NAME_LIMIT:
            raise PageError(400, f"name is longer than {NAME_LIMIT} characters")
        taken = {person.user_id for person in self._emulator.people()}
        if user_id is None:
            user_id = max([FIRST_NEW_PERSON_ID - 1, *taken]) + 1
        elif user_id <= 0:
            raise PageError(400, "user_id must be a positive integer")
        elif user_id in taken:
            raise PageError(409, f"user {user_id} already exists; pick them from the list")
        first, _, last = name.partition(" ")
        self._emulator.add_user(user_id, first, last_name=last.strip() or None)
        return Role(user_id, name, "person")

    def _person(self, request: web.Request) -> Person:
        user_id = _path_int(request, "user_id")
        for person in self._emulator.people():
            if person.user_id == user_id:
                return person
        raise PageError(404, f"no person {user_id}; add them first")

    # ----------------------------------------------------------------- handlers

    async def _page(self, request: web.Request) -> web.Response:
        return web.Response(
            text=page_html(), content_type="text/html", charset="utf-8", headers={"Cache-Control": "no-store"}
        )

    async def _list_people(self, request: web.Request) -> web.Response:
        return _ok({"people": [role.as_json() for role in self.roles()]})

    async def _add_person(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        role = self.add_person(_field(body, "name", str), _optional_field(body, "user_id", int))
        return _ok({"person": role.as_json()})

    async def _chat(self, request: web.Request) -> web.Response:
        person = self._person(request)
        user_id = person.user_id
        return _ok(
            {
                "user_id": user_id,
                "name": _display_name(person),
                "messages": [
                    message_json(user_id, message, self._zone) for message in self._emulator.chat(user_id)
                ],
                "reply_keyboard": self._emulator.reply_keyboard(user_id),
                "now": clock_text(self._now(), self._zone) if self._now is not None else None,
            }
        )

    async def _text(self, request: web.Request) -> web.Response:
        person = self._person(request)
        text = _field(await _json_body(request), "text", str)
        if not text.strip():
            raise PageError(400, "text is empty")
        if len(text) > TEXT_LIMIT:
            raise PageError(400, f"text is longer than {TEXT_LIMIT} characters")
        return _ok({"update_id": await self._emulator.send_text(person.user_id, text)})

    async def _press(self, request: web.Request) -> web.Response:
        person = self._person(request)
        body = await _json_body(request)
        label = _field(body, "label", str)
        message_id = _optional_field(body, "message_id", int)
        try:
            result = await self._emulator.press(
                person.user_id, label, message_id=message_id, timeout=PRESS_TIMEOUT_SECONDS
            )
        except LookupError as error:
            raise PageError(404, _error_text(error)) from None
        except ValueError as error:
            raise PageError(400, _error_text(error)) from None
        return _ok(
            {
                "answered": result.answered,
                "text": result.text,
                "show_alert": result.show_alert,
                "url": result.url,
            }
        )

    async def _contact(self, request: web.Request) -> web.Response:
        person = self._person(request)
        phone = _optional_field(await _json_body(request), "phone_number", str) or person.phone_number
        if not phone:
            raise PageError(400, "phone_number is required")
        return _ok({"update_id": await self._emulator.share_contact(person.user_id, phone)})

    async def _photo(self, request: web.Request) -> web.Response:
        person = self._person(request)
        caption = _optional_field(await _json_body(request), "caption", str)
        update_id = await self._emulator.send_photo(person.user_id, caption=caption or None)
        return _ok({"update_id": update_id})

    async def _file(self, request: web.Request) -> web.Response:
        person = self._person(request)
        message_id = _path_int(request, "message_id")
        for message in self._emulator.chat(person.user_id):
            if message.message_id == message_id:
                file = message.photo or message.document
                if file is None:
                    break
                return web.Response(body=file.content, content_type=file.mime_type or "image/png")
        raise PageError(404, f"no file in message {message_id}")


# --------------------------------------------------------------------------- helpers


@web.middleware
async def _json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure of the API is {"error": ...}; nothing ever shows a traceback."""
    try:
        return await handler(request)
    except PageError as error:
        return web.json_response({"error": error.message}, status=error.status)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return web.json_response({"error": error.reason}, status=error.status)
    except Exception:
        log.exception("chat page: %s %s failed", request.method, request.path)
        return web.json_response({"error": "internal error; see the sandbox log"}, status=500)


def _ok(body: JsonObject) -> web.Response:
    return web.json_response(body, headers={"Cache-Control": "no-store"})


def _display_name(person: Person) -> str:
    return f"{person.first_name} {person.last_name}" if person.last_name else person.first_name


def _error_text(error: Exception) -> str:
    # KeyError's str() adds quotes around its message.
    return str(error.args[0]) if error.args else type(error).__name__


async def _json_body(request: web.Request) -> Mapping[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise PageError(400, "the body is not JSON") from None
    if not isinstance(body, dict):
        raise PageError(400, "the body must be a JSON object")
    return body


def _path_int(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except ValueError:
        raise PageError(400, f"{name} must be an integer") from None


def _field(body: Mapping[str, Any], name: str, kind: type[T]) -> T:
    value = _optional_field(body, name, kind)
    if value is None:
        raise PageError(400, f"{name} is required")
    return value


def _optional_field(body: Mapping[str, Any], name: str, kind: type[T]) -> T | None:
    value = body.get(name)
    if value is None or (kind is int and value == ""):
        return None
    if kind is int and isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if isinstance(value, bool) and kind is not bool:
        raise PageError(400, f"{name} must be of type {kind.__name__}")
    if not isinstance(value, kind):
        raise PageError(400, f"{name} must be of type {kind.__name__}")
    return value
