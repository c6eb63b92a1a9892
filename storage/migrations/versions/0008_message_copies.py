"""Message copies: every message id a sent call was delivered as.

A send that timed out may still have reached Telegram; when its late answer comes after the
retry's, the chat holds the message twice, and an edit must reach both.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 18:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "message_copies",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column(
            "outbox_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.ForeignKey("outbox.id"),
            nullable=False,
        ),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("outbox_id", "message_id", name="uq_message_copies_outbox_message"),
    )


def downgrade() -> None:
    op.drop_table("message_copies")
