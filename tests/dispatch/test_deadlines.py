"""Which deadlines an offer has in each state."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from dispatch.deadlines import Deadline, Kind, Timing, deadlines_of
from storage.records import Offer

T0 = datetime(2026, 7, 15, 20, 0, tzinfo=UTC)
TIMING = Timing(
    pickup_reminder_lead=timedelta(minutes=15),
    no_show_grace=timedelta(minutes=10),
    delivery_reminder_lead=timedelta(minutes=10),
)
OFFER = Offer(
    id=7,
    store_id=1,
    ref="A1",
    packages=1,
    zone="89109",
    address="x",
    pay_cents=1000,
    pickup_start=T0 + timedelta(hours=1),
    pickup_end=T0 + timedelta(hours=1, minutes=30),
    deliver_by=T0 + timedelta(hours=2),
    pickup_code="1234",
    status="open",
    holder_id=None,
    wave=1,
    created_at=T0,
    next_wave_at=T0 + timedelta(minutes=1),
    expires_at=T0 + timedelta(minutes=10),
)


def kinds(offer: Offer) -> list[tuple[Kind, datetime]]:
    return [(deadline.kind, deadline.when) for deadline in deadlines_of(offer, TIMING)]


def test_an_open_offer_waits_for_its_next_wave_and_its_expiry() -> None:
    assert kinds(OFFER) == [(Kind.WAVE, T0 + timedelta(minutes=1)), (Kind.EXPIRE, T0 + timedelta(minutes=10))]


def test_the_last_wave_leaves_only_the_expiry() -> None:
    assert kinds(replace(OFFER, next_wave_at=None)) == [(Kind.EXPIRE, T0 + timedelta(minutes=10))]


def test_an_accepted_offer_has_its_reminders_and_the_no_show() -> None:
    accepted = replace(OFFER, status="accepted", holder_id=3, next_wave_at=None)
    assert kinds(accepted) == [
        (Kind.PICKUP_REMINDER, T0 + timedelta(minutes=45)),
        (Kind.LATE, T0 + timedelta(minutes=90)),
        (Kind.NO_SHOW, T0 + timedelta(minutes=100)),
    ]


def test_a_reminder_already_sent_is_not_due_again() -> None:
    reminded = replace(OFFER, status="accepted", holder_id=3, pickup_reminded_at=T0, late_reminded_at=T0)
    assert [kind for kind, _ in kinds(reminded)] == [Kind.NO_SHOW]


def test_a_picked_up_offer_waits_for_its_delivery_reminder_only_with_a_deliver_by() -> None:
    picked = replace(OFFER, status="picked_up", holder_id=3)
    assert kinds(picked) == [(Kind.DELIVERY_REMINDER, T0 + timedelta(minutes=110))]
    assert kinds(replace(picked, deliver_by=None)) == []
    assert kinds(replace(picked, delivery_reminded_at=T0)) == []


def test_final_offers_have_no_deadlines() -> None:
    for status in ("delivered", "returned", "cancelled", "expired", "draft"):
        assert kinds(replace(OFFER, status=status)) == []


def test_deadlines_sort_by_time() -> None:
    early = Deadline(T0, Kind.EXPIRE, 9)
    late = Deadline(T0 + timedelta(seconds=1), Kind.WAVE, 1)
    assert sorted([late, early]) == [early, late]


def test_an_offer_taken_after_its_window_gives_the_taker_a_fair_chance() -> None:
    late_taker = replace(
        OFFER,
        status="accepted",
        holder_id=3,
        next_wave_at=None,
        accepted_at=OFFER.pickup_end + timedelta(minutes=5),
    )
    assert kinds(late_taker) == [
        (Kind.LATE, OFFER.pickup_end + timedelta(minutes=15)),  # due a grace period after taking it
        (Kind.NO_SHOW, OFFER.pickup_end + timedelta(minutes=25)),  # released a grace period after that
    ]


def test_no_pickup_reminder_for_an_offer_taken_after_its_moment() -> None:
    taken_late = replace(
        OFFER, status="accepted", holder_id=3, accepted_at=OFFER.pickup_start - timedelta(minutes=5)
    )
    assert [kind for kind, _ in kinds(taken_late)] == [Kind.LATE, Kind.NO_SHOW]


def test_an_open_offer_with_an_award_window_waits_for_the_award_not_the_expiry() -> None:
    collecting = replace(OFFER, award_at=T0 + timedelta(seconds=30))
    assert kinds(collecting) == [
        (Kind.AWARD, T0 + timedelta(seconds=30)),
        (Kind.WAVE, T0 + timedelta(minutes=1)),
    ]


def test_an_award_window_closing_after_the_acceptance_window_is_still_awarded() -> None:
    # The first Accept came just before the offer would have expired: the award decides, not expiry.
    late_window = replace(OFFER, next_wave_at=None, award_at=T0 + timedelta(minutes=10, seconds=20))
    assert kinds(late_window) == [(Kind.AWARD, T0 + timedelta(minutes=10, seconds=20))]


def test_an_award_time_left_on_an_offer_no_longer_open_is_not_a_deadline() -> None:
    taken = replace(OFFER, status="accepted", holder_id=3, next_wave_at=None, award_at=T0)
    assert Kind.AWARD not in [kind for kind, _ in kinds(taken)]
