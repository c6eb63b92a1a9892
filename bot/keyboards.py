"""Inline and reply keyboards, as the Bot API's JSON (they travel through the outbox)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from bot.callbacks import Act, Button
from dispatch.views import FailReason
from storage.records import Area

Markup = dict[str, Any]

ACCEPT, DECLINE = "Accept", "Decline"
WHY_NOT_ME = "Why not me?"
CONFIRM_PICKUP, RELEASE = "Confirm pickup", "Release"
DELIVERED, CANT_DELIVER = "Delivered", "Can't deliver"
APPROVE, REJECT = "Approve", "Reject"
GO_ONLINE, GO_OFFLINE = "Go online", "Go offline"
REOFFER = "Re-offer"
CANCEL_ORDER = "Cancel order"
SHARE_PHONE, SKIP = "📱 Share my phone", "Skip"
REASONS = {
    FailReason.ABSENT: "Customer not there",
    FailReason.ADDRESS: "Wrong address",
    FailReason.DAMAGED: "Damaged",
    FailReason.OTHER: "Other",
}


def _press(label: str, act: Act, subject: int, arg: str | None = None) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=Button(act=act, subject=subject, arg=arg).pack())


def _inline(*rows: Sequence[InlineKeyboardButton]) -> Markup:
    return InlineKeyboardMarkup([list(row) for row in rows]).to_dict()


def offer(offer_id: int) -> Markup:
    return _inline([_press(ACCEPT, Act.ACCEPT, offer_id), _press(DECLINE, Act.DECLINE, offer_id)])


def why_not(offer_id: int) -> Markup:
    return _inline([_press(WHY_NOT_ME, Act.WHY_NOT, offer_id)])


def job(offer_id: int) -> Markup:
    return _inline([_press(CONFIRM_PICKUP, Act.PICKUP, offer_id), _press(RELEASE, Act.RELEASE, offer_id)])


def delivery(offer_id: int) -> Markup:
    return _inline(
        [_press(DELIVERED, Act.DELIVERED, offer_id), _press(CANT_DELIVER, Act.CANT_DELIVER, offer_id)]
    )


def reasons(offer_id: int) -> Markup:
    return _inline(
        *([_press(label, Act.REASON, offer_id, reason.value)] for reason, label in REASONS.items())
    )


def application(driver_id: int) -> Markup:
    return _inline([_press(APPROVE, Act.APPROVE, driver_id), _press(REJECT, Act.REJECT, driver_id)])


def availability(online: bool) -> Markup:
    """The one button that flips a driver's availability (it acts for whoever presses it)."""
    if online:
        return _inline([_press(GO_OFFLINE, Act.OFFLINE, 0)])
    return _inline([_press(GO_ONLINE, Act.ONLINE, 0)])


def reoffer(offer_id: int) -> Markup:
    return _inline([_press(REOFFER, Act.REOPEN, offer_id)])


def new_window(offer_id: int, slots: Sequence[tuple[str, str]]) -> Markup:
    """A button per new pickup window (label, slot key), two to a row, and Cancel order."""
    buttons = [_press(label, Act.NEW_WINDOW, offer_id, key) for label, key in slots]
    rows = [buttons[at : at + 2] for at in range(0, len(buttons), 2)]
    return _inline(*rows, [_press(CANCEL_ORDER, Act.DROP_WAITING, offer_id)])


def areas(choices: Sequence[Area]) -> Markup:
    return _inline(*([_press(area.name, Act.AREA, area.id)] for area in choices))


def ask_phone() -> Markup:
    keyboard = [[KeyboardButton(SHARE_PHONE, request_contact=True)], [KeyboardButton(SKIP)]]
    return ReplyKeyboardMarkup(keyboard, resize_keyboard=True, one_time_keyboard=True).to_dict()


def remove_reply_keyboard() -> Markup:
    return ReplyKeyboardRemove().to_dict()


PAGE_SIZE = 10
PREVIOUS, NEXT = "◀ Previous", "Next ▶"
SEND_BROADCAST, DROP_BROADCAST = "Send it", "Don't send"
CREATE_ORDER, DROP_ORDER = "Create order", "Cancel"


def pages(key: str, page: int, total: int) -> Markup | None:
    """◀ / ▶ under a long list; None when it fits on one page."""
    last = max(0, (total - 1) // PAGE_SIZE)
    if last == 0:
        return None
    row = []
    if page > 0:
        row.append(_press(PREVIOUS, Act.PAGE, page - 1, key))
    if page < last:
        row.append(_press(NEXT, Act.PAGE, page + 1, key))
    return _inline(row)


def staff_cancel(offer_ids: Sequence[int]) -> Markup | None:
    """A Cancel button per order that may still be cancelled."""
    if not offer_ids:
        return None
    return _inline(*([_press(f"Cancel #{offer_id}", Act.STAFF_CANCEL, offer_id)] for offer_id in offer_ids))


def broadcast(broadcast_id: int, recipients: int) -> Markup:
    return _inline(
        [
            _press(f"{SEND_BROADCAST} ({recipients})", Act.BROADCAST_SEND, broadcast_id),
            _press(DROP_BROADCAST, Act.BROADCAST_DROP, broadcast_id),
        ]
    )


def draft_choices(labels: Sequence[str], values: Sequence[str]) -> Markup:
    """Buttons answering the current /neworder step."""
    return _inline([_press(label, Act.DRAFT, 0, value) for label, value in zip(labels, values, strict=True)])


def draft_confirm() -> Markup:
    return _inline([_press(CREATE_ORDER, Act.DRAFT_CONFIRM, 0), _press(DROP_ORDER, Act.DRAFT_CANCEL, 0)])
