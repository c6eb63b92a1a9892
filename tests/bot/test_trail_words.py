"""How the offer trail names who did a step, for every kind of actor and for rows from before names."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.texts import who_did
from dispatch.actors import Actor
from dispatch.admin import TrailEvent
from storage.records import Event


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
    assert who_did(step(written, name)) == shown
