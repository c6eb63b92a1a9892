"""How the offer trail names who did a step, for every kind of actor and for rows from before names."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.texts import MESSAGE_LIMIT, offer_trail, who_did
from dispatch.actors import Actor
from dispatch.admin import TrailEvent
from storage.records import Driver, Event, Notice
from tests.bot.test_texts import TOMORROW, english


def step(written: str, name: str | None) -> TrailEvent:
    event = Event(
        id=1, at=datetime(2026, 11, 25, tzinfo=UTC), offer_id=1, actor=written, kind="open", detail=""
    )
    return TrailEvent(event, Actor.parse(written), name)


@pytest.mark.parametrize(
    ("written", "name", "shown"),
    [
        ("admin:5001", "Ada", "admin Ada"),
        ("store:FS-ZARA:7001", "Mia", "store FS-ZARA · Mia"),
        ("driver:42", "Ana Kovač", "driver Ana K. (#42)"),
        ("driver:7", "Maria", "driver Maria (#7)"),
        ("dispatch", None, "dispatch"),
        # Written before storerun kept names or stores: still a role and a person, never a crash.
        ("admin:5001", None, "admin user 5001"),
        ("staff:7001", "Mia", "store staff Mia"),
        ("driver:42", None, "driver #42"),
        ("timer", None, "timer"),
    ],
)
def test_each_step_names_the_role_and_the_person(written: str, name: str | None, shown: str) -> None:
    assert who_did(english(), step(written, name)) == shown


def driver(number: int) -> Driver:
    return Driver(
        id=number,
        tg_user_id=10_000 + number,
        chat_id=10_000 + number,
        name=f"Driver Number {number} Longname",
        username=None,
        phone=None,
        status="approved",
        online=True,
        reachable=True,
    )


def copy_to(number: int, outcome: str, at: datetime) -> tuple[Notice, Driver]:
    notice = Notice(
        id=number,
        offer_id=5,
        driver_id=number,
        chat_id=10_000 + number,
        message_id=None,
        wave=1 + number // 100,
        outcome=outcome,
        created_at=at,
    )
    return notice, driver(number)


def test_an_offer_sent_to_a_thousand_drivers_shows_its_whole_trail_in_one_message() -> None:
    sent_at = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)
    outcomes = ["expired"] * 990 + ["declined"] * 8 + ["taken"]
    copies = [copy_to(number, outcome, sent_at) for number, outcome in enumerate(outcomes, start=1)]
    copies.insert(400, copy_to(1000, "accepted", sent_at))  # the holder's, among the others
    events = []
    for i in range(30):
        named = step(f"driver:{i + 1}", f"Driver Number {i + 1} Longname")
        events.append(replace(named, event=replace(named.event, kind=f"wave{i}", detail=f"step {i}")))

    text = offer_trail(english(), TOMORROW, copies, events, sent_at)

    assert len(text) <= MESSAGE_LIMIT
    trail = text[text.index("\nTrail:\n") :].splitlines()[2:]
    assert len(trail) == 30
    for i, line in enumerate(trail):
        assert line.endswith(f" PST wave{i} by driver Driver L. (#{i + 1}): step {i}")
    assert "1000 copies: no answer in time 990 · declined 8 · " in text
    assert "→ Driver Number 1000 Longname: accepted" in text  # whoever took it is always listed
    assert "→ Driver Number 999 Longname: taken by another driver" in text  # and the last sent
