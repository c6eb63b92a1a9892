"""Statistics are built like exports: /stats records what was asked (an area, or all of them) and
the numbers and chart are built after it, outside the write lock; `told_at` marks that the numbers
were sent, so a restart sends only the chart.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-25 21:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("export_requests") as table:
        table.add_column(sa.Column("area_slug", sa.String(40), nullable=True))
        table.add_column(sa.Column("told_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("export_requests") as table:
        table.drop_column("told_at")
        table.drop_column("area_slug")
