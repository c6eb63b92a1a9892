"""`python -m bench.fairness` keeps its promise: with the default award window, a driver who taps
50 ms after delivery wins at most 1.2× a person's share of the awards; without one, nearly all.

The benchmark's own core runs here on fewer offers (two local days, so "won today" resets once),
seeded: every run plays exactly the same offers and presses.
"""

from __future__ import annotations

from bench.fairness import DRIVERS, TARGET_RATIO, compare

OFFERS = 100


def test_a_fast_tapper_wins_nearly_all_at_once_and_a_fair_share_with_the_window() -> None:
    result = compare(OFFERS, 7)

    instant, window = result.instant, result.window
    assert instant.awarded == window.awarded == OFFERS
    assert len(instant.wins) == len(window.wins) == DRIVERS
    # First Accept wins: the 50 ms tap beats every person.
    assert instant.ratio > 5
    assert instant.share(instant.fast_won) > 0.9
    # The window collects the Accepts and the fairness order decides: speed buys nothing.
    assert window.ratio <= TARGET_RATIO
    assert min(window.human_wins) > 0
    assert result.met
