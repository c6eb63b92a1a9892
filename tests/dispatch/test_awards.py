"""The award rule on its own: each key of each published order decides only when the keys before it
tie, the seeded draw anyone can compute again, the key that decided, and how even awards are."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from dispatch.awards import (
    DEFAULT_ORDER,
    ORDERS,
    Key,
    Order,
    Standing,
    deciding_key,
    draw,
    fast_share,
    gini,
    order_of,
    ranked,
)

MORNING = datetime(2026, 7, 15, 16, 0, tzinfo=UTC)


def standing(
    driver_id: int,
    *,
    won_today: int = 0,
    last_award_at: datetime | None = None,
    on_time: float | None = None,
    draw: float = 0.5,
) -> Standing:
    return Standing(driver_id, won_today, last_award_at, on_time, draw)


def winner_of(order: Order, *standings: Standing) -> int:
    return ranked(order, standings)[0].driver_id


# --- the orders as published ---


def test_the_fewest_today_order_is_won_today_then_last_award_then_the_draw() -> None:
    assert ORDERS[Order.FEWEST_TODAY] == (Key.WON_TODAY, Key.LAST_AWARD, Key.DRAW)
    assert DEFAULT_ORDER is Order.FEWEST_TODAY


def test_the_on_time_order_puts_the_on_time_record_first() -> None:
    assert ORDERS[Order.ON_TIME] == (Key.ON_TIME, Key.WON_TODAY, Key.LAST_AWARD, Key.DRAW)


def test_an_area_s_stored_order_name_is_read_and_an_unknown_one_falls_back_to_the_default() -> None:
    assert order_of("on-time") is Order.ON_TIME
    assert order_of("fewest-today") is Order.FEWEST_TODAY
    assert order_of(None) is DEFAULT_ORDER
    assert order_of("fastest-finger") is DEFAULT_ORDER


# --- fewest today: each key in its turn ---


def test_the_driver_with_fewer_offers_won_today_comes_first_whatever_the_later_keys_say() -> None:
    busy = standing(1, won_today=2, last_award_at=None, draw=0.01)  # every later key favours them
    idle = standing(2, won_today=1, last_award_at=MORNING, draw=0.99)
    assert winner_of(Order.FEWEST_TODAY, busy, idle) == 2


def test_with_as_many_won_today_the_longest_since_their_last_award_comes_first() -> None:
    recent = standing(1, won_today=1, last_award_at=MORNING + timedelta(hours=2), draw=0.01)
    waited = standing(2, won_today=1, last_award_at=MORNING, draw=0.99)
    assert winner_of(Order.FEWEST_TODAY, recent, waited) == 2


def test_a_driver_never_awarded_comes_before_one_awarded_long_ago() -> None:
    long_ago = standing(1, last_award_at=MORNING - timedelta(days=300), draw=0.01)
    never = standing(2, last_award_at=None, draw=0.99)
    assert winner_of(Order.FEWEST_TODAY, long_ago, never) == 2


def test_with_the_same_count_and_last_award_the_lower_draw_comes_first() -> None:
    high = standing(1, won_today=1, last_award_at=MORNING, draw=0.7)
    low = standing(2, won_today=1, last_award_at=MORNING, draw=0.2)
    assert winner_of(Order.FEWEST_TODAY, high, low) == 2


def test_the_on_time_record_does_not_count_in_the_fewest_today_order() -> None:
    punctual = standing(1, on_time=1.0, draw=0.9)
    tardy = standing(2, on_time=0.1, draw=0.1)
    assert winner_of(Order.FEWEST_TODAY, punctual, tardy) == 2


def test_the_whole_ranking_follows_the_keys_in_turn() -> None:
    drivers = [
        standing(1, won_today=2, draw=0.0),
        standing(2, won_today=0, last_award_at=MORNING, draw=0.1),
        standing(3, won_today=0, last_award_at=None, draw=0.9),
        standing(4, won_today=0, last_award_at=MORNING, draw=0.05),
    ]
    assert [s.driver_id for s in ranked(Order.FEWEST_TODAY, drivers)] == [3, 4, 2, 1]


# --- on time: the record first, then the rest ---


def test_in_the_on_time_order_the_better_record_wins_over_fewer_won_today() -> None:
    punctual = standing(1, on_time=0.95, won_today=3, draw=0.9)
    tardy = standing(2, on_time=0.6, won_today=0, draw=0.1)
    assert winner_of(Order.ON_TIME, punctual, tardy) == 1


def test_a_newcomer_with_no_pickup_yet_counts_as_always_on_time() -> None:
    newcomer = standing(1, on_time=None, draw=0.9)
    nearly_perfect = standing(2, on_time=0.99, draw=0.1)
    assert winner_of(Order.ON_TIME, newcomer, nearly_perfect) == 1
    perfect = standing(3, on_time=1.0, won_today=1, draw=0.1)
    # Level with a perfect record: the next key (fewest today) decides.
    assert winner_of(Order.ON_TIME, newcomer, perfect) == 1
    assert deciding_key(Order.ON_TIME, newcomer, perfect) is Key.WON_TODAY


def test_in_the_on_time_order_equal_records_fall_through_to_fewest_today() -> None:
    busy = standing(1, on_time=0.8, won_today=2, draw=0.1)
    idle = standing(2, on_time=0.8, won_today=1, draw=0.9)
    assert winner_of(Order.ON_TIME, busy, idle) == 2


def test_standings_that_tie_on_every_key_are_ranked_by_driver_id_so_the_order_is_total() -> None:
    assert [s.driver_id for s in ranked(Order.FEWEST_TODAY, [standing(9), standing(4)])] == [4, 9]


# --- the seeded draw ---


def test_the_draw_is_the_documented_formula_anyone_can_compute_again() -> None:
    digest = hashlib.sha256(b"12:345").digest()
    assert draw(12, 345) == int.from_bytes(digest[:8], "big") / 2**64


def test_the_same_offer_and_driver_always_draw_the_same() -> None:
    assert draw(12, 345) == draw(12, 345)
    assert 0.0 <= draw(12, 345) < 1.0


def test_the_draw_differs_between_offers_and_between_drivers() -> None:
    assert draw(12, 345) != draw(13, 345)
    assert draw(12, 345) != draw(12, 346)
    assert draw(12, 345) != draw(345, 12)  # the offer and the driver are not interchangeable


def test_the_draw_does_not_favour_the_same_driver_on_every_offer() -> None:
    winners = {min((1, 2, 3), key=lambda driver: draw(offer, driver)) for offer in range(1, 60)}
    assert winners == {1, 2, 3}


# --- the key that decided ---


@pytest.mark.parametrize(
    ("order", "winner", "other", "key"),
    [
        (Order.FEWEST_TODAY, standing(1, won_today=0), standing(2, won_today=1), Key.WON_TODAY),
        (Order.FEWEST_TODAY, standing(1), standing(2, last_award_at=MORNING), Key.LAST_AWARD),
        (Order.FEWEST_TODAY, standing(1, draw=0.1), standing(2, draw=0.2), Key.DRAW),
        (Order.ON_TIME, standing(1, on_time=0.9, won_today=2), standing(2, on_time=0.8), Key.ON_TIME),
        (Order.ON_TIME, standing(1, on_time=0.8), standing(2, on_time=0.8, won_today=1), Key.WON_TODAY),
        # The on-time record differs, but the fewest-today order never looks at it.
        (Order.FEWEST_TODAY, standing(1, on_time=0.2, draw=0.1), standing(2, on_time=0.9), Key.DRAW),
    ],
)
def test_the_deciding_key_is_the_first_of_the_order_on_which_the_two_differ(
    order: Order, winner: Standing, other: Standing, key: Key
) -> None:
    assert deciding_key(order, winner, other) is key


def test_two_drivers_level_on_every_key_were_decided_by_the_draw() -> None:
    assert deciding_key(Order.FEWEST_TODAY, standing(1), standing(2)) is Key.DRAW


# --- how even the awards are ---


def test_gini_is_zero_when_everyone_won_as_many() -> None:
    assert gini([3, 3, 3, 3]) == pytest.approx(0.0)
    assert gini([]) == 0.0
    assert gini([0, 0, 0]) == 0.0


def test_gini_is_high_when_one_driver_took_them_all() -> None:
    assert gini([0, 0, 0, 0, 0, 0, 0, 0, 0, 10]) == pytest.approx(0.9)
    assert gini([0, 0, 0, 0, 0, 0, 0, 0, 0, 10]) > gini([1, 1, 2, 2, 4])


def test_gini_does_not_depend_on_the_order_the_counts_come_in() -> None:
    assert gini([5, 0, 1]) == pytest.approx(gini([0, 1, 5]))


def test_fast_share_is_the_share_of_timed_presses_quicker_than_a_person_taps() -> None:
    assert fast_share([100, 700, None, 500, 600], human_min_ms=600) == pytest.approx(2 / 4)
    assert fast_share([], human_min_ms=600) == 0.0
    assert fast_share([None, None], human_min_ms=600) == 0.0
