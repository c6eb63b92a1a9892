"""What people read: a pickup window's day unless today, counts in the right number, states in words."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time

import pytest

from bot import texts
from bot.texts import TelegramMessages
from dispatch.clock import FakeClock
from dispatch.drivers import DriverStatus
from dispatch.lifecycle import Status
from dispatch.localtime import window_to_utc
from dispatch.views import DayTally, OfferView
from storage.records import Area, Driver, Offer, Store

LAS_VEGAS = Area(id=1, slug="las-vegas", name="Fashion Show", tz="America/Los_Angeles", active=True)
ZARA = Store(id=1, code="FS-ZARA", name="Zara", area_id=1, location="Level 1", active=True)
MARIA = Driver(
    id=7, tg_user_id=3001, chat_id=3001, name="Maria Lopez", username=None, phone=None,
    status="approved", online=True, reachable=True,
)  # fmt: skip
EVENING = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)  # 9:00 PM PST on Wed Nov 25; Nov 26 in UTC


def view_of(day: date, start: time, end: time, status: str = "open") -> OfferView:
    pickup_start, pickup_end = window_to_utc(day, start, end, LAS_VEGAS.tz)
    offer = Offer(
        id=5, store_id=1, ref="A1", packages=1, zone="89109", address="3200 Las Vegas Blvd S",
        pay_cents=1200, pickup_start=pickup_start, pickup_end=pickup_end, deliver_by=None,
        pickup_code="0427", status=status, holder_id=7, wave=1, created_at=EVENING, expires_at=EVENING,
    )  # fmt: skip
    return OfferView(offer=offer, store=ZARA, area=LAS_VEGAS, holder=MARIA)


TONIGHT = view_of(date(2026, 11, 25), time(22, 0), time(22, 30))
TOMORROW = view_of(date(2026, 11, 26), time(14, 0), time(14, 30))


def test_a_window_tomorrow_in_the_area_names_its_day_on_every_message() -> None:
    messages = TelegramMessages(FakeClock(EVENING))
    for shown in (
        messages.offer_copy(TOMORROW)["text"],
        messages.job_card(TOMORROW)["text"],
        messages.admin_offer_card(TOMORROW)["text"],
        messages.store_accepted(TOMORROW, MARIA)["text"],
        messages.pickup_reminder(TOMORROW, 15)["text"],
        texts.offer_line(TOMORROW, EVENING),
        texts.order_line(TOMORROW, EVENING),
        texts.offer_trail(TOMORROW, [], [], EVENING),
    ):
        assert "Thu Nov 26, 2:00–2:30 PM PST" in shown, shown
    assert "Pickup 10:00–10:30 PM PST\n" in messages.offer_copy(TONIGHT)["text"]
    assert "· 10:00–10:30 PM PST ·" in texts.offer_line(TONIGHT, EVENING)


def test_the_day_follows_the_clock_not_the_moment_the_offer_was_made() -> None:
    clock = FakeClock(EVENING)
    messages = TelegramMessages(clock)
    assert "Pickup Thu Nov 26, 2:00–2:30 PM PST" in messages.job_card(TOMORROW)["text"]
    clock.set(datetime(2026, 11, 26, 16, 0, tzinfo=UTC))  # 8:00 AM PST on Thu Nov 26
    assert "Pickup 2:00–2:30 PM PST ·" in messages.job_card(TOMORROW)["text"]


@pytest.mark.parametrize(
    ("count", "shown"), [(0, "0 deliveries"), (1, "1 delivery"), (2, "2 deliveries"), (21, "21 deliveries")]
)
def test_a_count_takes_its_noun_in_the_right_number(count: int, shown: str) -> None:
    assert texts.plural(count, "delivery", "deliveries") == shown


def test_counts_read_right_wherever_they_are_shown() -> None:
    messages = TelegramMessages(FakeClock(EVENING))
    one = DriverStatus(driver=MARIA, areas=[LAS_VEGAS], held=[], today=DayTally(deliveries=1, pay_cents=1200))
    assert "Today: 1 delivery · $12.00" in texts.status_text(one, EVENING)
    assert "Today: 1 delivery · $12.00" in messages.delivered(TONIGHT, one.today)["text"]
    assert "1 package →" in messages.offer_copy(TONIGHT)["text"]
    assert messages.set_offline(1)["text"].startswith("You missed 1 offer in a row")
    assert messages.set_offline(3)["text"].startswith("You missed 3 offers in a row")


def test_every_state_a_person_can_see_reads_as_words() -> None:
    assert set(texts.OFFER_STATES) == set(Status)
    shown = [*texts.OFFER_STATES.values(), *texts.DRIVER_STATES.values(), *texts.COPY_OUTCOMES.values()]
    assert all("_" not in words for words in shown)
    picked_up = view_of(date(2026, 11, 25), time(22, 0), time(22, 30), status=Status.PICKED_UP)
    for line in (texts.offer_line(picked_up, EVENING), texts.order_line(picked_up, EVENING)):
        assert "· picked up ·" in line and "picked_up" not in line, line
    assert "· waiting for approval" in texts.driver_line(replace(MARIA, status="pending"))
