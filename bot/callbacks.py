"""Callback data: every button's payload as a small typed, versioned model of at most 64 bytes."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, ValidationError

VERSION = 1
MAX_BYTES = 64  # Telegram's limit for callback_data


class Act(StrEnum):
    """What a button does; the value is what travels in the callback data."""

    AREA = "area"  # subject: area id (a new driver picks their area)
    APPROVE = "ok"  # subject: driver id (admin)
    REJECT = "no"  # subject: driver id (admin)
    ONLINE = "on"  # subject: 0 (acts for whoever presses)
    OFFLINE = "off"
    ACCEPT = "acc"  # subject: offer id
    DECLINE = "dec"
    WHY_NOT = "wn"  # subject: offer id: why it went to another driver
    PICKUP = "pick"
    RELEASE = "rel"
    DELIVERED = "dlv"
    CANT_DELIVER = "cant"
    REASON = "why"  # arg: a FailReason
    REOPEN = "reo"  # subject: offer id (admin)
    NEW_WINDOW = "nw"  # subject: offer id; arg: a Slot's key (the store's staff or an admin)
    DROP_WAITING = "wx"  # subject: offer id: cancel an order waiting for a new window (same people)
    PAGE = "pg"  # subject: page number; arg: which list, like drivers.pending
    STAFF_CANCEL = "sc"  # subject: offer id (store staff)
    BROADCAST_SEND = "bs"  # subject: broadcast id (admin)
    BROADCAST_DROP = "bx"
    DRAFT = "nd"  # arg: the answer to the current /neworder step
    DRAFT_CONFIRM = "nc"
    DRAFT_CANCEL = "nx"
    LANGUAGE = "lang"  # subject: 0; arg: a Language's code (en, es): what the chat reads from now on


class Button(BaseModel):
    """A pressed button: `1:acc:42` or `1:why:42:absent`. Parsed, never split in a handler."""

    model_config = ConfigDict(frozen=True)

    act: Act
    subject: int = Field(ge=0, lt=2**53)
    arg: str | None = Field(default=None, pattern=r"^[a-z0-9.-]{1,24}$")

    def pack(self) -> str:
        data = f"{VERSION}:{self.act.value}:{self.subject}" + (f":{self.arg}" if self.arg else "")
        if len(data.encode()) > MAX_BYTES:
            raise ValueError(f"callback data over {MAX_BYTES} bytes: {data!r}")
        return data

    @classmethod
    def parse(cls, data: str | None) -> Button | None:
        """The button, or None for anything malformed, oversized, forged or from another version."""
        if not data or len(data.encode()) > MAX_BYTES:
            return None
        parts = data.split(":")
        if len(parts) not in (3, 4) or parts[0] != str(VERSION) or not parts[2].isdigit():
            return None
        try:
            return cls(act=Act(parts[1]), subject=int(parts[2]), arg=parts[3] if len(parts) == 4 else None)
        except (ValueError, ValidationError):
            return None


def pattern(*acts: Act) -> str:
    """A regex for CallbackQueryHandler that routes these actions of the current version."""
    return rf"^{VERSION}:({'|'.join(act.value for act in acts)}):"
