"""People's first names as last seen: a new name replaces the old one, the same name writes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from storage import schema
from storage.db import Database

NOW = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)


async def test_the_latest_first_name_is_kept_and_an_unchanged_one_is_not_rewritten(db: Database) -> None:
    async with db.transaction() as tx:
        await tx.people.seen({5001: "Ada", 7001: "Mia"}, NOW)
    async with db.transaction() as tx:
        await tx.people.seen({5001: "Ada", 7001: "Mila"}, NOW + timedelta(hours=1))
    async with db.read() as tx:
        assert await tx.people.first_names([5001, 7001, 9999]) == {5001: "Ada", 7001: "Mila"}
        named_at = dict(
            (await tx.connection.execute(select(schema.people.c.user_id, schema.people.c.named_at))).all()
        )
    assert named_at == {5001: NOW, 7001: NOW + timedelta(hours=1)}
