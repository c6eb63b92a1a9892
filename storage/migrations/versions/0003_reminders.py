"""Reminders: when each reminder to an offer's holder went out, so none is sent twice.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 09:09:06.859533
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pickup_reminded_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("late_reminded_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("delivery_reminded_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.drop_column("delivery_reminded_at")
        batch_op.drop_column("late_reminded_at")
        batch_op.drop_column("pickup_reminded_at")
