"""The durable inbox: every update is stored before it is confirmed, then applied exactly once.

It replaces processed_updates; the ids already applied are kept as done rows, so an update
Telegram sends again after the upgrade is still recognised.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 15:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("chat_key", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("update_id", name=op.f("pk_inbox")),
    )
    op.create_index("ix_inbox_status_chat_key", "inbox", ["status", "chat_key", "update_id"], unique=False)
    op.create_index("ix_inbox_status_done_at", "inbox", ["status", "done_at"], unique=False)
    op.execute(
        "INSERT INTO inbox (update_id, chat_key, kind, payload, status, attempts,"
        " received_at, next_attempt_at, done_at)"
        " SELECT update_id, 0, 'unknown', '{}', 'done', 0, at, at, at FROM processed_updates"
    )
    op.drop_table("processed_updates")


def downgrade() -> None:
    op.create_table(
        "processed_updates",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("update_id", name=op.f("pk_processed_updates")),
    )
    op.execute(
        "INSERT INTO processed_updates (update_id, at)"
        " SELECT update_id, received_at FROM inbox WHERE status <> 'pending'"
    )
    op.drop_index("ix_inbox_status_done_at", table_name="inbox")
    op.drop_index("ix_inbox_status_chat_key", table_name="inbox")
    op.drop_table("inbox")
