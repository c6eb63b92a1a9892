"""A pickup code is asked per offer, not in one prompt slot per driver.

A driver holding two offers may stand at both counters; each offer remembers that its code
was asked, and a typed code is matched against every offer waiting for one.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 18:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("code_asked_at", sa.DateTime(timezone=True), nullable=True))
    # A code asked through the old prompt slot is still asked.
    op.execute(
        "UPDATE offers SET code_asked_at = CURRENT_TIMESTAMP "
        "WHERE id IN (SELECT prompt_offer_id FROM drivers WHERE prompt = 'code')"
    )
    op.execute("UPDATE drivers SET prompt = NULL, prompt_offer_id = NULL WHERE prompt = 'code'")


def downgrade() -> None:
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.drop_column("code_asked_at")
