"""Migrations that convert data: a database with rows from before upgrades (and downgrades) right."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import inspect, select

from storage import schema
from storage.db import Database
from storage.records import Delivery

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
WHEN = schema.UtcDateTime()

# The outbox as revision 0013 left it: Bot API method names.
OLD_OUTBOX = sa.table(
    "outbox",
    sa.column("id", sa.Integer()),
    sa.column("lane", sa.Integer()),
    sa.column("chat_id", sa.BigInteger()),
    sa.column("method", sa.String()),
    sa.column("payload", sa.Text()),
    sa.column("target_id", sa.Integer()),
    sa.column("status", sa.String()),
    sa.column("attempts", sa.Integer()),
    sa.column("not_before", WHEN),
    sa.column("created_at", WHEN),
    sa.column("message_id", sa.BigInteger()),
)
CARDS = sa.table(
    "cards",
    sa.column("kind", sa.String()),
    sa.column("subject_id", sa.Integer()),
    sa.column("chat_id", sa.BigInteger()),
    sa.column("outbox_id", sa.Integer()),
    sa.column("created_at", WHEN),
)
COPIES = sa.table(
    "message_copies",
    sa.column("outbox_id", sa.Integer()),
    sa.column("message_id", sa.BigInteger()),
    sa.column("created_at", WHEN),
)

# Every method the outbox ever held, by row id, and the kind it becomes. Rows 2 and 3 edit row 1.
METHODS = {
    1: ("sendMessage", Delivery.MESSAGE),
    2: ("editMessageText", Delivery.EDIT),
    3: ("editMessageReplyMarkup", Delivery.BUTTONS),
    4: ("sendPhoto", Delivery.PHOTO),
    5: ("sendDocument", Delivery.DOCUMENT),
    6: ("sendChatAction", Delivery.UPLOADING),
}


async def _outbox_at_0013(db: Database) -> None:
    """Sent and pending calls of every method, an edit's target, a card and a second copy that
    refer to them (so the table a migration rebuilds has rows pointing at it)."""
    await db.upgrade("0013")
    rows = [
        {
            "id": row_id,
            "lane": 0,
            "chat_id": 7001,
            "method": method,
            "payload": "{}",
            "target_id": 1 if method.startswith("edit") else None,
            "status": "sent" if row_id < 4 else "pending",
            "attempts": 1 if row_id < 4 else 0,
            "not_before": NOW,
            "created_at": NOW,
            "message_id": 500 + row_id if row_id < 4 else None,
        }
        for row_id, (method, _) in METHODS.items()
    ]
    async with db.transaction() as tx:
        await tx.connection.execute(OLD_OUTBOX.insert(), rows)
        card = {"kind": "job", "subject_id": 1, "chat_id": 7001, "outbox_id": 1, "created_at": NOW}
        await tx.connection.execute(CARDS.insert().values(card))
        await tx.connection.execute(COPIES.insert().values(outbox_id=1, message_id=900, created_at=NOW))


async def _outbox_indexes(db: Database) -> dict[str, tuple[str, ...]]:
    async with db.connection() as connection:
        indexes = await connection.run_sync(lambda sync: inspect(sync).get_indexes("outbox"))
    return {index["name"] or "": tuple(str(name) for name in index["column_names"]) for index in indexes}


async def test_outbox_methods_become_kinds_and_back(database_url: str) -> None:
    db = Database.connect(database_url)
    try:
        await _outbox_at_0013(db)
        indexes = await _outbox_indexes(db)

        await db.upgrade("0014")
        async with db.read() as tx:
            o = schema.outbox
            kinds = dict((await tx.connection.execute(select(o.c.id, o.c.kind).order_by(o.c.id))).all())
            targets = dict((await tx.connection.execute(select(o.c.id, o.c.target_id))).all())
            pending = [row.id for row in await tx.outbox.pending()]
            last_edit = await tx.outbox.last_edit_of(1)
            copies = await tx.outbox.copies_of(1)
            cards = await tx.cards.of("job", 1)
        assert kinds == {row_id: kind for row_id, (_, kind) in METHODS.items()}
        assert all(type(kind) is Delivery for kind in kinds.values())
        assert targets == {1: None, 2: 1, 3: 1, 4: None, 5: None, 6: None}
        assert pending == [4, 5, 6]
        assert last_edit is not None and (last_edit.id, last_edit.kind) == (3, Delivery.BUTTONS)
        assert copies == [900] and [card.outbox_id for card in cards] == [1]
        assert await _outbox_indexes(db) == indexes

        await db.downgrade("0013")
        async with db.read() as tx:
            query = select(OLD_OUTBOX.c.id, OLD_OUTBOX.c.method).order_by(OLD_OUTBOX.c.id)
            methods = dict((await tx.connection.execute(query)).all())
        assert methods == {row_id: method for row_id, (method, _) in METHODS.items()}
        assert await _outbox_indexes(db) == indexes
    finally:
        await db.close()


async def test_the_outbox_is_renamed_in_place_on_sqlite(sqlite_url: str) -> None:
    """Not copied into a new table: its indexes stay as they were, in their order, on which
    SQLite's choice of plan for the pending calls depends (see tests/storage/test_query_plans.py)."""

    async def outbox_sql(db: Database) -> list[tuple[str, str]]:
        query = sa.text("SELECT name, sql FROM sqlite_master WHERE tbl_name = 'outbox' ORDER BY rowid")
        async with db.read() as tx:
            return [(name, sql) for name, sql in (await tx.connection.execute(query)).all()]

    db = Database.connect(sqlite_url)
    try:
        await _outbox_at_0013(db)
        before = await outbox_sql(db)
        await db.upgrade("0014")
        after = await outbox_sql(db)
    finally:
        await db.close()
    assert [name for name, _ in after] == [name for name, _ in before]
    assert after[1:] == before[1:]  # every index as it was
    assert after[0][1] == before[0][1].replace("method VARCHAR(32)", "kind VARCHAR(32)")
