"""Fair offers: accepts are collected for an award window and the offer is awarded by the area's
published fairness order. Each copy keeps when it was delivered and pressed (fast taps), when it
won and what the award saw; an area may have its own window and order; a press answered on
arrival is marked so, so that its turn does not answer it again.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26 00:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("areas") as table:
        table.add_column(sa.Column("award_window_seconds", sa.Integer(), nullable=True))
        table.add_column(sa.Column("fairness_order", sa.String(24), nullable=True))
    with op.batch_alter_table("offers") as table:
        table.add_column(sa.Column("award_at", WHEN, nullable=True))
    with op.batch_alter_table("notices") as table:
        table.add_column(sa.Column("delivered_at", WHEN, nullable=True))
        table.add_column(sa.Column("pressed_at", WHEN, nullable=True))
        table.add_column(sa.Column("press_ms", sa.Integer(), nullable=True))
        table.add_column(sa.Column("won_at", WHEN, nullable=True))
        table.add_column(sa.Column("award_detail", sa.Text(), nullable=True))
    with op.batch_alter_table("drivers") as table:
        table.add_column(sa.Column("fast_taps_told_at", WHEN, nullable=True))
    with op.batch_alter_table("inbox") as table:
        table.add_column(sa.Column("answered_at", WHEN, nullable=True))
    # A driver's last presses (fast-tap share), their awards of a day and their last award.
    op.create_index("ix_notices_driver_id_pressed_at", "notices", ["driver_id", "pressed_at"])
    op.create_index("ix_notices_driver_id_won_at", "notices", ["driver_id", "won_at"])
    # A period's awards and presses (/stats): partial, only the copies that were won or pressed.
    for name, column in (("ix_notices_won_at", "won_at"), ("ix_notices_pressed_at", "pressed_at")):
        only = sa.text(f"{column} IS NOT NULL")
        op.create_index(name, "notices", [column], sqlite_where=only, postgresql_where=only)


def downgrade() -> None:
    op.drop_index("ix_notices_pressed_at", "notices")
    op.drop_index("ix_notices_won_at", "notices")
    op.drop_index("ix_notices_driver_id_won_at", "notices")
    op.drop_index("ix_notices_driver_id_pressed_at", "notices")
    with op.batch_alter_table("inbox") as table:
        table.drop_column("answered_at")
    with op.batch_alter_table("drivers") as table:
        table.drop_column("fast_taps_told_at")
    with op.batch_alter_table("notices") as table:
        for name in ("award_detail", "won_at", "press_ms", "pressed_at", "delivered_at"):
            table.drop_column(name)
    with op.batch_alter_table("offers") as table:
        table.drop_column("award_at")
    with op.batch_alter_table("areas") as table:
        table.drop_column("fairness_order")
        table.drop_column("award_window_seconds")
