"""What people read: a pickup window's day unless today, counts in the right number, states in words."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time

import pytest

from bot import keyboards, texts
from bot.i18n import Words
from bot.texts import Catalog, Texts
from dispatch.actors import By, CancelReason
from dispatch.awards import Key
from dispatch.clock import FakeClock
from dispatch.drivers import DriverStatus
from dispatch.lifecycle import Status
from dispatch.localtime import window_to_utc
from dispatch.messages import Messages, Params
from dispatch.offers import Press
from dispatch.views import DayTally, FailReason, OfferView
from dispatch.windows import NewWindow, Over, Slot
from storage.records import Account, Area, Driver, Language, Offer, Store

LAS_VEGAS = Area(id=1, slug="las-vegas", name="Fashion Show", tz="America/Los_Angeles", active=True)
ZARA = Store(id=1, code="FS-ZARA", name="Zara", area_id=1, location="Level 1", active=True)
MARIA = Driver(
    id=7, tg_user_id=3001, chat_id=3001, name="Maria Lopez", username=None, phone=None,
    status=Account.APPROVED, online=True, reachable=True,
)  # fmt: skip
EVENING = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)  # 9:00 PM PST on Wed Nov 25; Nov 26 in UTC


def view_of(day: date, start: time, end: time, status: Status = Status.OPEN) -> OfferView:
    pickup_start, pickup_end = window_to_utc(day, start, end, LAS_VEGAS.tz)
    offer = Offer(
        id=5, store_id=1, ref="A1", packages=1, zone="89109", address="3200 Las Vegas Blvd S",
        pay_cents=1200, pickup_start=pickup_start, pickup_end=pickup_end, deliver_by=None,
        pickup_code="0427", status=status, holder_id=7, wave=1, created_at=EVENING, expires_at=EVENING,
    )  # fmt: skip
    return OfferView(offer=offer, store=ZARA, area=LAS_VEGAS, holder=MARIA)


TONIGHT = view_of(date(2026, 11, 25), time(22, 0), time(22, 30))
TOMORROW = view_of(date(2026, 11, 26), time(14, 0), time(14, 30))


def english(clock: FakeClock | None = None) -> Texts:
    return Texts(Language.EN, clock or FakeClock(EVENING))


def test_a_window_tomorrow_in_the_area_names_its_day_on_every_message() -> None:
    t = english()
    for shown in (
        t.offer_copy(TOMORROW)["text"],
        t.job_card(TOMORROW)["text"],
        t.admin_offer_card(TOMORROW)["text"],
        t.store_accepted(TOMORROW, MARIA)["text"],
        t.pickup_reminder(TOMORROW, 15)["text"],
        texts.offer_line(t, TOMORROW, EVENING),
        texts.order_line(t, TOMORROW, EVENING),
        texts.offer_trail(t, TOMORROW, [], [], EVENING),
    ):
        assert "Thu, Nov 26, 2:00–2:30 PM PST" in shown, shown
    assert "Pickup 10:00–10:30 PM PST\n" in t.offer_copy(TONIGHT)["text"]
    assert "· 10:00–10:30 PM PST ·" in texts.offer_line(t, TONIGHT, EVENING)


def test_the_day_follows_the_clock_not_the_moment_the_offer_was_made() -> None:
    clock = FakeClock(EVENING)
    t = english(clock)
    assert "Pickup Thu, Nov 26, 2:00–2:30 PM PST" in t.job_card(TOMORROW)["text"]
    clock.set(datetime(2026, 11, 26, 16, 0, tzinfo=UTC))  # 8:00 AM PST on Thu Nov 26
    assert "Pickup 2:00–2:30 PM PST ·" in t.job_card(TOMORROW)["text"]


def test_a_spanish_reader_gets_the_window_and_the_pay_in_spanish_formats() -> None:
    t = Texts(Language.ES, FakeClock(EVENING))
    copy = t.offer_copy(TOMORROW)["text"]
    assert t.window(TOMORROW.offer.pickup_start, TOMORROW.offer.pickup_end, LAS_VEGAS.tz, now=EVENING) in copy
    assert "jue, 26 de nov" in copy and "p.m. PST" in copy, copy
    assert t.pay(1200) in copy


@pytest.mark.parametrize("count", [0, 1, 2, 21])
def test_a_count_takes_its_noun_in_the_right_number(count: int) -> None:
    singular, plural = texts.PACKAGES
    assert english().n(texts.PACKAGES, count) == (singular if count == 1 else plural).format(n=count)


def test_counts_read_right_wherever_they_are_shown() -> None:
    t = english()
    one = DriverStatus(driver=MARIA, areas=[LAS_VEGAS], held=[], today=DayTally(deliveries=1, pay_cents=1200))
    today = t.n(texts.TODAY, 1, pay=t.pay(1200))
    assert today == "Today: 1 delivery · $12.00"
    assert today in texts.status_text(t, one, EVENING)
    assert today in t.delivered(TONIGHT, one.today)["text"]
    assert f"{t.n(texts.PACKAGES, 1)} →" in t.offer_copy(TONIGHT)["text"]
    assert t.set_offline(1)["text"].startswith("You missed 1 offer in a row")
    assert t.set_offline(3)["text"].startswith("You missed 3 offers in a row")


def test_every_state_a_person_can_see_reads_as_words() -> None:
    t = english()
    assert set(texts.OFFER_STATES) == set(Status)
    assert set(texts.DRIVER_STATES) == set(Account)
    shown = [*texts.OFFER_STATES.values(), *texts.DRIVER_STATES.values(), *texts.COPY_OUTCOMES.values()]
    assert all("_" not in words for words in shown)
    picked_up = view_of(date(2026, 11, 25), time(22, 0), time(22, 30), status=Status.PICKED_UP)
    for line in (texts.offer_line(t, picked_up, EVENING), texts.order_line(t, picked_up, EVENING)):
        assert f"· {t(texts.OFFER_STATES[Status.PICKED_UP])} ·" in line and "picked_up" not in line, line
    waiting = t(texts.DRIVER_STATES[Account.PENDING])
    assert f"· {waiting}" in texts.driver_line(t, replace(MARIA, status=Account.PENDING))
    assert texts.in_words(t, texts.OFFER_STATES, "on_hold") == "on hold"  # a state added later


def test_english_reads_as_before_the_catalog() -> None:
    """The English catalog is its msgids: the constants render unchanged, with their parameters."""
    t = english()
    assert t(texts.NOT_ALLOWED) == texts.NOT_ALLOWED
    assert t(texts.WELCOME, name="Ana").startswith("Hi Ana! storerun connects")
    assert texts.first_name(t, "  ") == t(texts.THERE)
    assert texts.first_name(t, "Maria Lopez") == "Maria"
    assert texts.press_answer(t, Press.AWARDED) == t(texts.PRESS_ANSWERS[Press.AWARDED])
    assert "(customer not there)" in t.returning(TONIGHT, FailReason.ABSENT)["text"]


def test_a_catalog_makes_each_language_once_and_speaks_the_domains_messages() -> None:
    catalog = Catalog(FakeClock(EVENING))
    assert catalog(Language.ES) is catalog(Language.ES)
    assert catalog(Language.EN).language is Language.EN and catalog(Language.ES).language is Language.ES
    messages: Messages = catalog(Language.EN)  # the protocol the domain renders with
    assert messages.copy_declined(TONIGHT)["text"].endswith(": declined.")


def test_buttons_are_labelled_in_the_readers_words() -> None:
    t = english()
    markup = t.offer_copy(TONIGHT)["reply_markup"]
    labels = [button["text"] for row in markup["inline_keyboard"] for button in row]
    assert labels == [t(keyboards.ACCEPT), t(keyboards.DECLINE)]
    words = Words(Language.EN)
    confirm = keyboards.broadcast(words, 9, 2)["inline_keyboard"][0]
    assert [button["text"] for button in confirm] == [
        words(keyboards.SEND_BROADCAST, n=2),
        words(keyboards.DROP_BROADCAST),
    ]
    cancels = keyboards.staff_cancel(words, [3, 4])
    assert cancels is not None
    assert cancels["inline_keyboard"][1][0]["text"] == words(keyboards.CANCEL_ONE, id=4)
    assert keyboards.pages(words, "drivers", 0, 5) is None
    assert keyboards.ask_phone(words)["keyboard"][1][0]["text"] == words(keyboards.SKIP)


def every_message(t: Texts) -> dict[str, Params]:
    """Each message the domain asks for, made once (with a deadline and a holder, the long forms)."""
    view = replace(TOMORROW, offer=replace(TOMORROW.offer, deliver_by=TOMORROW.offer.pickup_end))
    ask = NewWindow(
        slots=(Slot(view.offer.pickup_start, view.offer.pickup_end),), why=Over.NO_SHOW, driver=MARIA
    )
    tally = DayTally(deliveries=2, pay_cents=2400)
    return {
        "application_card": t.application_card(MARIA, [LAS_VEGAS]),
        "application_decided": t.application_decided(MARIA, [LAS_VEGAS], True, "Ada"),
        "you_are_approved": t.you_are_approved(),
        "you_are_rejected": t.you_are_rejected(),
        "offer_copy": t.offer_copy(view),
        "copy_taken": t.copy_taken(view, why_button=True),
        "copy_declined": t.copy_declined(view),
        "copy_expired": t.copy_expired(view),
        "copy_cancelled": t.copy_cancelled(view),
        "copy_withdrawn": t.copy_withdrawn(view),
        "job_card": t.job_card(view),
        "job_released": t.job_released(view),
        "ask_pickup_code": t.ask_pickup_code(view),
        "wrong_code": t.wrong_code([view, TONIGHT], 2),
        "pickup_locked": t.pickup_locked(view),
        "job_picked_up": t.job_picked_up(view),
        "delivery_card": t.delivery_card(view),
        "fail_reasons": t.fail_reasons(view),
        "delivered": t.delivered(view, tally),
        "delivery_closed": t.delivery_closed(view),
        "returning": t.returning(view, FailReason.ADDRESS),
        "proof_saved": t.proof_saved(view),
        "pickup_reminder": t.pickup_reminder(view, 15),
        "late_reminder": t.late_reminder(view),
        "no_show_released": t.no_show_released(view),
        "job_no_show": t.job_no_show(view),
        "delivery_reminder": t.delivery_reminder(view, 0),
        "set_offline": t.set_offline(3),
        "admin_offer_card": t.admin_offer_card(view),
        "admin_expired": t.admin_expired(view),
        "admin_expired_reoffered": t.admin_expired_reoffered(view),
        "admin_pickup_locked": t.admin_pickup_locked(view),
        "admin_returned": t.admin_returned(view, FailReason.DAMAGED),
        "admin_no_show": t.admin_no_show(view, MARIA),
        "admin_cancelled": t.admin_cancelled(view, By("Ada"), "customer left"),
        "admin_fast_taps": t.admin_fast_taps(MARIA, 4, 10),
        "broadcast": t.broadcast(LAS_VEGAS, "Rain tonight"),
        "broadcast_done": t.broadcast_done(LAS_VEGAS, 9, 1),
        "you_are_suspended": t.you_are_suspended(),
        "you_are_reinstated": t.you_are_reinstated(),
        "store_accepted": t.store_accepted(view, MARIA),
        "store_picked_up": t.store_picked_up(view),
        "store_delivered": t.store_delivered(view),
        "store_proof": t.store_proof(view, "file-1"),
        "store_released": t.store_released(view, no_show=True),
        "store_expired": t.store_expired(view),
        "store_returning": t.store_returning(view, FailReason.ABSENT),
        "store_cancelled": t.store_cancelled(view, None),
        "orders_list": t.orders_list([view, TONIGHT], 5),
        "window_over": t.window_over(view, ask),
        "window_given": t.window_given(view, By("Mia", "Zara")),
        "window_dropped": t.window_dropped(view, By()),
    }


@pytest.mark.parametrize("language", list(Language))
def test_every_message_the_domain_asks_for_renders_in_every_language(language: Language) -> None:
    made = every_message(Texts(language, FakeClock(EVENING)))
    asked = {name for name in vars(Messages) if not name.startswith("_")}
    assert set(made) == asked
    for name, params in made.items():
        words = params.get("text", params.get("caption"))
        assert isinstance(words, str) and words.strip(), name
        assert "{" not in words, (name, words)  # every placeholder filled in


@pytest.mark.parametrize("language", list(Language))
def test_a_driver_without_a_name_is_the_driver_not_there(language: Language) -> None:
    """A blank Telegram name greets as "Hi there!", but a store's notice says "The driver"."""
    t = Texts(language, FakeClock(EVENING))
    nameless = replace(MARIA, name=" ")
    held = replace(TOMORROW, holder=nameless)
    for shown in (
        t.store_accepted(held, nameless)["text"],
        t.store_picked_up(held)["text"],
        texts.order_line(t, held, EVENING),
    ):
        assert t(texts.THE_DRIVER) in shown, shown
        assert t(texts.THERE) not in shown, shown
    assert texts.first_name(t, None) == t(texts.THERE)


@pytest.mark.parametrize("language", list(Language))
def test_who_cancelled_and_why_read_in_the_readers_words(language: Language) -> None:
    """The domain names who did it and why as data and codes; each reader gets them in their words,
    and a person's own reason stays as they typed it."""
    t = Texts(language, FakeClock(EVENING))
    assert texts.by_words(t, By("Ada")) == "Ada"
    assert texts.by_words(t, By("Mia", "Zara")) == t(texts.NAME_AT_STORE, name="Mia", store="Zara")
    assert texts.by_words(t, By()) == t(texts.THE_STORE)
    assert t(texts.THE_STORE) in t.window_dropped(TOMORROW, By())["text"]
    assert t(texts.NO_REASON) in t.store_cancelled(TOMORROW, None)["text"]
    no_time = t.admin_cancelled(TOMORROW, By("Ada"), CancelReason.NO_TIME_LEFT)["text"]
    assert t(texts.CANCEL_REASONS[CancelReason.NO_TIME_LEFT]) in no_time
    assert "customer left" in t.store_cancelled(TOMORROW, "customer left")["text"]


@pytest.mark.parametrize("language", list(Language))
def test_the_trail_puts_the_domains_codes_in_words_and_shows_peoples_words_as_typed(
    language: Language,
) -> None:
    t = Texts(language, FakeClock(EVENING))
    tz = LAS_VEGAS.tz
    assert texts.detail_words(t, "wave=2 drivers=5", tz, EVENING) == " · ".join(
        [t(texts.DETAIL_VALUES["wave"], value="2"), t.n(texts.DETAIL_COUNTS["drivers"], 5)]
    )
    assert texts.detail_words(t, "phone=no", tz, EVENING) == t(texts.YES_NO["phone"]["no"])
    assert texts.detail_words(t, "reason=absent", tz, EVENING) == t(texts.FAIL_REASONS[FailReason.ABSENT])
    no_time = t(texts.CANCEL_REASONS[CancelReason.NO_TIME_LEFT])
    assert texts.detail_words(t, "reason=no_time_left", tz, EVENING) == no_time
    closed = texts.detail_words(
        t, "order=fewest-today closed=2026-11-26T05:00:10.000+00:00 key=won_today", tz, EVENING
    )
    assert t.time(EVENING, tz) in closed and t(texts.KEY_SHORT[Key.WON_TODAY]) in closed
    # A person's own words, a photo's file id, a detail written before codes: as they are.
    for as_typed in ("customer left = gone", "AgACAgIAAxkBAAIB", "wave 1 to 5 drivers", "colour=blue"):
        assert texts.detail_words(t, as_typed, tz, EVENING) == as_typed
