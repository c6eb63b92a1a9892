"""The outbox says what it delivers, not how: its `method` column (a Bot API method name, such as
"sendMessage") becomes `kind`, a storage.records.Delivery value ("message"); the bot chooses
the call (bot.sender.API_METHODS). Rows already queued or sent are converted.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-26 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# Every method name the outbox ever held, and the kind of delivery it made. The values are
# written out, not imported: a migration keeps meaning what it meant when it was written.
KINDS = {
    "sendMessage": "message",
    "editMessageText": "edit",
    "editMessageReplyMarkup": "buttons",
    "sendPhoto": "photo",
    "sendDocument": "document",
    "sendChatAction": "uploading",
}


def _convert(column: str, mapping: dict[str, str]) -> None:
    """Rewrite every value of the outbox column by the mapping (values it does not name stay)."""
    outbox = sa.table("outbox", sa.column(column, sa.String()))
    values = outbox.c[column]
    op.execute(outbox.update().values({column: sa.case(mapping, value=values, else_=values)}))


def _rename(old: str, new: str) -> None:
    # In place, on SQLite too (3.25+ renames a column itself): the table is not copied. A copy
    # would fail with foreign keys enforced, cards and message copies referring to its rows, and
    # would put its indexes back in another order, on which SQLite's choice of plan for the
    # pending calls depends. So the column keeps its type, VARCHAR(32), which holds every kind.
    with op.batch_alter_table("outbox", recreate="never") as table:
        table.alter_column(old, new_column_name=new, existing_type=sa.String(32), existing_nullable=False)


def upgrade() -> None:
    _rename("method", "kind")
    _convert("kind", KINDS)


def downgrade() -> None:
    _convert("kind", {kind: method for method, kind in KINDS.items()})
    _rename("kind", "method")
