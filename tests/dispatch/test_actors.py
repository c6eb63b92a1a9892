"""Who did something on the trail: one typed actor, written and read back the same, old rows still read."""

from __future__ import annotations

import pytest

from dispatch.actors import DISPATCH, Actor, Role


@pytest.mark.parametrize(
    ("actor", "written"),
    [
        (Actor.admin(5001), "admin:5001"),
        (Actor.driver(42), "driver:42"),
        (Actor.clerk("FS-ZARA", 7001), "store:FS-ZARA:7001"),
        (DISPATCH, "dispatch"),
    ],
)
def test_every_actor_reads_back_as_it_was_written(actor: Actor, written: str) -> None:
    assert actor.encode() == written
    assert Actor.parse(written) == actor


def test_a_clerk_is_of_a_store_and_an_admin_of_none() -> None:
    clerk = Actor.parse("store:FS-ZARA:7001")
    assert (clerk.role, clerk.store, clerk.id) == (Role.STORE, "FS-ZARA", 7001)
    assert Actor.parse("admin:5001").store is None


def test_rows_written_before_actors_were_typed_still_read() -> None:
    assert Actor.parse("admin:5001") == Actor.admin(5001)
    # A store cancel wrote the clerk's id without the store.
    assert Actor.parse("staff:7001") == Actor(Role.STORE, id=7001)
    assert Actor.parse("staff:7001").encode() == "staff:7001"


@pytest.mark.parametrize(
    "written", ["timer", "admin", "admin:ada", "driver:", "store:FS-ZARA", "chat:12", ""]
)
def test_an_actor_this_version_does_not_know_is_kept_as_written(written: str) -> None:
    actor = Actor.parse(written)
    assert actor.role is Role.OTHER
    assert actor.encode() == written
