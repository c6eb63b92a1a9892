"""Callback data round-trips, stays within 64 bytes, and anything forged parses to nothing."""

from __future__ import annotations

import re

import pytest

from bot.callbacks import Act, Button, pattern


@pytest.mark.parametrize("act", list(Act))
def test_every_button_round_trips(act: Act) -> None:
    button = Button(act=act, subject=2**53 - 1, arg="customerabsent" if act is Act.REASON else None)
    data = button.pack()
    assert len(data.encode()) <= 64
    assert Button.parse(data) == button


@pytest.mark.parametrize(
    "data",
    [
        None,
        "",
        "1:acc",
        "2:acc:5",  # another version
        "1:steal:5",
        "1:acc:-5",
        "1:acc:5x",
        "1:acc:5:arg:extra",
        "1:why:5:DROP TABLE",
        "1:acc:" + "9" * 70,
        "1:acc:99999999999999999999",
        "v1:accept:99999",
    ],
)
def test_forged_or_stale_data_parses_to_nothing(data: str | None) -> None:
    assert Button.parse(data) is None


def test_pattern_routes_only_its_actions() -> None:
    routes = re.compile(pattern(Act.ACCEPT, Act.DECLINE))
    assert routes.match(Button(act=Act.ACCEPT, subject=1).pack())
    assert not routes.match(Button(act=Act.RELEASE, subject=1).pack())
    assert not routes.match("2:acc:1")
