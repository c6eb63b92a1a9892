"""An async HTTP client for the emulator's user-side API under /sandbox/."""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import aiohttp

from sandbox.emulator import ChatMessage, EmulatorStats, JsonObject, Person, PressResult


class SandboxError(Exception):
    """The emulator refused a user-side request (404: unknown user or button, 400: bad input)."""

    def __init__(self, status: int, error: str) -> None:
        super().__init__(f"{status}: {error}")
        self.status = status
        self.error = error


@dataclass(frozen=True)
class ChatView:
    """A person's screen: the chat and the reply keyboard under it."""

    messages: list[ChatMessage]
    reply_keyboard: list[list[str]] | None


class SandboxClient:
    """People talking to the bot through a running emulator, over HTTP.

    Use as ``async with SandboxClient(emulator.url) as people: ...``; the verbs mirror
    `BotApiEmulator`'s in-process ones.
    """

    def __init__(self, base_url: str, *, session: aiohttp.ClientSession | None = None) -> None:
        self._base_url = base_url.rstrip("/")
        self._session = session
        self._owns_session = session is None

    async def __aenter__(self) -> Self:
        if self._session is None:
            # A press waits for the bot's answer, so reads may take as long as the press timeout.
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session if this client opened it."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def users(self) -> list[Person]:
        """Everyone the emulator knows."""
        body = await self._call("GET", "/sandbox/users")
        return [Person.from_json(person) for person in body["users"]]

    async def add_user(
        self,
        user_id: int,
        first_name: str,
        *,
        username: str | None = None,
        last_name: str | None = None,
        phone_number: str | None = None,
    ) -> None:
        """A person with a private chat; adding again updates the profile."""
        await self._call(
            "POST",
            "/sandbox/users",
            {
                "user_id": user_id,
                "first_name": first_name,
                "username": username,
                "last_name": last_name,
                "phone_number": phone_number,
            },
        )

    async def send_text(self, user_id: int, text: str) -> int:
        """The person types `text`; returns the update_id."""
        body = await self._call("POST", f"/sandbox/users/{user_id}/text", {"text": text})
        return int(body["update_id"])

    async def share_contact(self, user_id: int, phone_number: str) -> int:
        """The person shares their contact; returns the update_id."""
        path = f"/sandbox/users/{user_id}/contact"
        body = await self._call("POST", path, {"phone_number": phone_number})
        return int(body["update_id"])

    async def send_photo(self, user_id: int, *, caption: str | None = None) -> int:
        """The person sends a photo; returns the update_id."""
        body = await self._call("POST", f"/sandbox/users/{user_id}/photo", {"caption": caption})
        return int(body["update_id"])

    async def press(
        self, user_id: int, label: str, *, message_id: int | None = None, timeout: float = 10.0
    ) -> PressResult:
        """The person presses the button labelled `label` (see `BotApiEmulator.press`)."""
        body = await self._call(
            "POST",
            f"/sandbox/users/{user_id}/press",
            {"label": label, "message_id": message_id, "timeout": timeout},
        )
        return PressResult.from_json(body)

    async def chat_view(self, user_id: int) -> ChatView:
        """The person's chat and reply keyboard in one request."""
        body = await self._call("GET", f"/sandbox/users/{user_id}/chat")
        return ChatView(
            messages=[ChatMessage.from_json(message) for message in body["messages"]],
            reply_keyboard=body.get("reply_keyboard"),
        )

    async def chat(self, user_id: int) -> list[ChatMessage]:
        """The chat as the person sees it, oldest first."""
        return (await self.chat_view(user_id)).messages

    async def reply_keyboard(self, user_id: int) -> list[list[str]] | None:
        """The labels of the person's current reply keyboard, if any."""
        return (await self.chat_view(user_id)).reply_keyboard

    async def stats(self) -> EmulatorStats:
        """The emulator's counters."""
        return EmulatorStats.from_json(await self._call("GET", "/sandbox/stats"))

    async def reset_stats(self) -> None:
        """Zero the emulator's counters."""
        await self._call("POST", "/sandbox/stats/reset")

    async def set_limits(
        self, *, enabled: bool, per_second: float = 30.0, per_chat_per_second: float = 1.0
    ) -> None:
        """Switch Telegram's flood limits on or off."""
        await self._call(
            "POST",
            "/sandbox/limits",
            {
                "enabled": enabled,
                "per_second": per_second,
                "per_chat_per_second": per_chat_per_second,
            },
        )

    async def block_chat(self, chat_id: int, blocked: bool = True) -> None:
        """The person blocks (or unblocks) the bot."""
        await self._call("POST", f"/sandbox/chats/{chat_id}/block", {"blocked": blocked})

    async def _call(self, verb: str, path: str, payload: JsonObject | None = None) -> Any:
        if self._session is None:
            raise RuntimeError("use SandboxClient as an async context manager")
        async with self._session.request(verb, self._base_url + path, json=payload) as response:
            body = await response.json()
            if response.status >= 400:
                error = body.get("error") if isinstance(body, dict) else None
                raise SandboxError(response.status, str(error or response.reason))
            return body
