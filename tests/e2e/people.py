"""What people do in the tests, as they would do it: read their chat and press buttons by label."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot import keyboards, texts
from bot.app import StorerunBot
from dispatch.drivers import Availability
from sandbox.emulator import BotApiEmulator, ChatMessage
from tests.e2e.conftest import ADMIN_ID
from tests.e2e.words import ADMIN_OFFER_CARD, EN, YOU_ARE_APPROVED, matches, saying, showing, title_of

LAS_VEGAS = "Fashion Show, Las Vegas Strip"


async def enroll(
    emulator: BotApiEmulator, user_id: int, name: str, *, area: str = LAS_VEGAS, phone: bool = True
) -> None:
    """A new driver signs up: /start, picks the area, shares the phone (or skips)."""
    emulator.add_user(user_id, name, username=name.lower().replace(" ", "_"))
    await emulator.send_text(user_id, "/start")
    await emulator.wait_for_message(user_id, EN(texts.PICK_AREA))
    await emulator.press(user_id, area)
    await emulator.wait_for_message(user_id, EN(texts.ASK_PHONE, area=area))
    await emulator.press(user_id, EN(keyboards.SHARE_PHONE if phone else keyboards.SKIP))
    await emulator.wait_for_message(user_id, EN(texts.APPLIED))


def card_of(emulator: BotApiEmulator, name: str) -> ChatMessage:
    """The admin's application card of this driver."""
    application = matches(texts.APPLICATION, name=name)
    cards = [m for m in emulator.chat(ADMIN_ID) if m.from_bot and application.search(m.text or "")]
    assert cards, emulator.transcript(ADMIN_ID)
    return cards[-1]


async def approve(emulator: BotApiEmulator, name: str, admin: int = ADMIN_ID) -> str | None:
    """The admin approves a driver's application from its card."""
    await emulator.wait_for_message(admin, saying(texts.APPLICATION, name=name))
    result = await emulator.press(admin, EN(keyboards.APPROVE), message_id=card_of(emulator, name).message_id)
    return result.text


async def online_driver(emulator: BotApiEmulator, user_id: int, name: str, *, area: str = LAS_VEGAS) -> None:
    """A driver enrolled, approved and online."""
    await enroll(emulator, user_id, name, area=area)
    await approve(emulator, name)
    await emulator.wait_for_message(user_id, EN(YOU_ARE_APPROVED))
    await emulator.send_text(user_id, "/online")
    await emulator.wait_for_message(user_id, EN(texts.AVAILABILITY[Availability.ONLINE]))


@dataclass(frozen=True)
class CreatedOffer:
    offer_id: int
    pickup_code: str


def offer_line(
    *,
    store: str = "FS-ZARA",
    ref: str = "A123",
    pay: str = "18.50",
    tz: str = "America/Los_Angeles",
    starts_in: timedelta = timedelta(hours=1),
) -> str:
    """A /newoffer line whose pickup window starts a while from now, in the store's local time."""
    start = datetime.now(ZoneInfo(tz)) + starts_in
    end = start + timedelta(minutes=30)
    return (
        f"/newoffer store={store} packages=2 pay={pay} window={start:%H:%M}-{end:%H:%M} "
        f'zone=89109 ref={ref} date={start:%Y-%m-%d} address="3200 Las Vegas Blvd S, Las Vegas, NV 89109"'
    )


async def new_offer(emulator: BotApiEmulator, **line: str) -> CreatedOffer:
    """The admin creates an offer and reads its id and pickup code from the offer card."""
    ref = line.get("ref", "A123")
    await emulator.send_text(ADMIN_ID, offer_line(**line))  # type: ignore[arg-type]
    card = matches(
        ADMIN_OFFER_CARD, ref=ref, title=re.compile(r"#(?P<id>\d+) · .*"), pickup_code=re.compile(r"\d{4}")
    )
    found = card.search((await emulator.wait_for_message(ADMIN_ID, showing(card))).text or "")
    assert found
    return CreatedOffer(int(found.group("id")), found.group("pickup_code"))


def copy_of(emulator: BotApiEmulator, user_id: int, offer_id: int) -> ChatMessage:
    """The driver's copy of an offer (the message first sent with it), as it looks now."""
    copies = [m for m in emulator.chat(user_id) if m.from_bot and title_of(offer_id) in (m.text or "")]
    assert copies, emulator.transcript(user_id)
    return copies[0]


async def seed_online_drivers(
    bot: StorerunBot, emulator: BotApiEmulator, user_ids: range, area: str = "las-vegas"
) -> None:
    """Approved, online drivers put straight into the database (for races and loads, not journeys)."""
    now = bot.clock.now()
    async with bot.db.transaction() as tx:
        found = await tx.areas.by_slug(area)
        assert found is not None
        for user_id in user_ids:
            emulator.add_user(user_id, f"Driver {user_id}")
            driver_id = await tx.drivers.add(user_id, user_id, f"Driver {user_id}", now)
            await tx.drivers.add_area(driver_id, found.id)
            await tx.drivers.set_status(driver_id, ["pending"], "approved")
            await tx.drivers.update(driver_id, online=True, enrolled_at=now)
