"""Drivers enroll and hold offers: prompts, locked pickups, and admin cards.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 08:48:16.377150
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cards",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("outbox_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox.id"], name=op.f("fk_cards_outbox_id_outbox")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cards")),
    )
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.create_index("ix_cards_kind_subject_id", ["kind", "subject_id"], unique=False)

    with op.batch_alter_table("drivers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("prompt", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("prompt_offer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
        batch_op.add_column(sa.Column("timeouts_in_a_row", sa.Integer(), server_default="0", nullable=False))

    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.create_index("ix_notices_driver_id", ["driver_id"], unique=False)

    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("pickup_locked", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.drop_column("pickup_locked")

    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_index("ix_notices_driver_id")

    with op.batch_alter_table("drivers", schema=None) as batch_op:
        batch_op.drop_column("timeouts_in_a_row")
        batch_op.drop_column("prompt_offer_id")
        batch_op.drop_column("prompt")
        batch_op.drop_column("enrolled_at")

    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.drop_index("ix_cards_kind_subject_id")

    op.drop_table("cards")
