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
from bot.i18n import N_, Words
from dispatch.views import FailReason
from storage.records import Area

Markup = dict[str, Any]

# Every label is a catalog message: a keyboard is made in its reader's words (`t`).
ACCEPT, DECLINE = N_("Accept"), N_("Decline")
WHY_NOT_ME = N_("Why not me?")
CONFIRM_PICKUP, RELEASE = N_("Confirm pickup"), N_("Release")
DELIVERED, CANT_DELIVER = N_("Delivered"), N_("Can't deliver")
APPROVE, REJECT = N_("Approve"), N_("Reject")
GO_ONLINE, GO_OFFLINE = N_("Go online"), N_("Go offline")
REOFFER = N_("Re-offer")
CANCEL_ORDER = N_("Cancel order")
SHARE_PHONE, SKIP = N_("📱 Share my phone"), N_("Skip")
REASONS = {
    FailReason.ABSENT: N_("Customer not there"),
    FailReason.ADDRESS: N_("Wrong address"),
    FailReason.DAMAGED: N_("Damaged"),
    FailReason.OTHER: N_("Other"),
}


def _press(label: str, act: Act, subject: int, arg: str | None = None) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=Button(act=act, subject=subject, arg=arg).pack())


def _inline(*rows: Sequence[InlineKeyboardButton]) -> Markup:
    return InlineKeyboardMarkup([list(row) for row in rows]).to_dict()


def offer(t: Words, offer_id: int) -> Markup:
    return _inline([_press(t(ACCEPT), Act.ACCEPT, offer_id), _press(t(DECLINE), Act.DECLINE, offer_id)])


def why_not(t: Words, offer_id: int) -> Markup:
    return _inline([_press(t(WHY_NOT_ME), Act.WHY_NOT, offer_id)])


def job(t: Words, offer_id: int) -> Markup:
    return _inline(
        [_press(t(CONFIRM_PICKUP), Act.PICKUP, offer_id), _press(t(RELEASE), Act.RELEASE, offer_id)]
    )


def delivery(t: Words, offer_id: int) -> Markup:
    return _inline(
        [_press(t(DELIVERED), Act.DELIVERED, offer_id), _press(t(CANT_DELIVER), Act.CANT_DELIVER, offer_id)]
    )


def reasons(t: Words, offer_id: int) -> Markup:
    return _inline(
        *([_press(t(label), Act.REASON, offer_id, reason.value)] for reason, label in REASONS.items())
    )


def application(t: Words, driver_id: int) -> Markup:
    return _inline([_press(t(APPROVE), Act.APPROVE, driver_id), _press(t(REJECT), Act.REJECT, driver_id)])


def availability(t: Words, online: bool) -> Markup:
    """The one button that flips a driver's availability (it acts for whoever presses it)."""
    if online:
        return _inline([_press(t(GO_OFFLINE), Act.OFFLINE, 0)])
    return _inline([_press(t(GO_ONLINE), Act.ONLINE, 0)])


def reoffer(t: Words, offer_id: int) -> Markup:
    return _inline([_press(t(REOFFER), Act.REOPEN, offer_id)])


def new_window(t: Words, offer_id: int, slots: Sequence[tuple[str, str]]) -> Markup:
    """A button per new pickup window (label, slot key), two to a row, and Cancel order."""
    buttons = [_press(label, Act.NEW_WINDOW, offer_id, key) for label, key in slots]
    rows = [buttons[at : at + 2] for at in range(0, len(buttons), 2)]
    return _inline(*rows, [_press(t(CANCEL_ORDER), Act.DROP_WAITING, offer_id)])


def areas(choices: Sequence[Area]) -> Markup:
    return _inline(*([_press(area.name, Act.AREA, area.id)] for area in choices))


def ask_phone(t: Words) -> Markup:
    keyboard = [[KeyboardButton(t(SHARE_PHONE), request_contact=True)], [KeyboardButton(t(SKIP))]]
    return ReplyKeyboardMarkup(keyboard, resize_keyboard=True, one_time_keyboard=True).to_dict()


def remove_reply_keyboard() -> Markup:
    return ReplyKeyboardRemove().to_dict()


PAGE_SIZE = 10
PREVIOUS, NEXT = N_("◀ Previous"), N_("Next ▶")
SEND_BROADCAST, DROP_BROADCAST = N_("Send it ({n})"), N_("Don't send")  # n: how many it goes to
CREATE_ORDER, DROP_ORDER = N_("Create order"), N_("Cancel")
CANCEL_ONE = N_("Cancel #{id}")


def pages(t: Words, key: str, page: int, total: int) -> Markup | None:
    """◀ / ▶ under a long list; None when it fits on one page."""
    last = max(0, (total - 1) // PAGE_SIZE)
    if last == 0:
        return None
    row = []
    if page > 0:
        row.append(_press(t(PREVIOUS), Act.PAGE, page - 1, key))
    if page < last:
        row.append(_press(t(NEXT), Act.PAGE, page + 1, key))
    return _inline(row)


def staff_cancel(t: Words, offer_ids: Sequence[int]) -> Markup | None:
    """A Cancel button per order that may still be cancelled."""
    if not offer_ids:
        return None
    return _inline(
        *([_press(t(CANCEL_ONE, id=offer_id), Act.STAFF_CANCEL, offer_id)] for offer_id in offer_ids)
    )


def broadcast(t: Words, broadcast_id: int, recipients: int) -> Markup:
    return _inline(
        [
            _press(t(SEND_BROADCAST, n=recipients), Act.BROADCAST_SEND, broadcast_id),
            _press(t(DROP_BROADCAST), Act.BROADCAST_DROP, broadcast_id),
        ]
    )


def draft_choices(labels: Sequence[str], values: Sequence[str]) -> Markup:
    """Buttons answering the current /neworder step."""
    return _inline([_press(label, Act.DRAFT, 0, value) for label, value in zip(labels, values, strict=True)])


def draft_confirm(t: Words) -> Markup:
    return _inline(
        [_press(t(CREATE_ORDER), Act.DRAFT_CONFIRM, 0), _press(t(DROP_ORDER), Act.DRAFT_CANCEL, 0)]
    )
