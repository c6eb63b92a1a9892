"""Indexes for every filter and order the queries use, then fresh planner statistics.

At a year of pilot data (100,000 offers, half a million notices and events, over a million outbox
rows) the plans of hot queries read whole tables: the copies of an offer to edit, a driver's
deliveries of the day, the day's offers, a period's events, the updates still to apply. Each index
below serves named queries of storage/ (tests/storage/test_query_plans.py checks them).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 19:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# name, table, columns
INDEXES = [
    # Offers.held_by, Offers.delivered_since (day tally), the held count in Drivers.eligible_for.
    ("ix_offers_holder_id_status_finished_at", "offers", ["holder_id", "status", "finished_at"]),
    # Offers of the last day (/offers today), Reports.offers_created (exports).
    ("ix_offers_created_at", "offers", ["created_at"]),
    # A store's orders of today (/orders); counting an area's offers.
    ("ix_offers_store_id_created_at", "offers", ["store_id", "created_at"]),
    # Reports.pickups_per_driver (/export drivers).
    ("ix_offers_picked_up_at", "offers", ["picked_up_at"]),
    # Reports.event_counts and round_ends (/stats): a period's events of some kinds.
    ("ix_events_kind_at", "events", ["kind", "at"]),
    # Reports.drivers (who was sent an offer since), Notices.withdraw_all.
    ("ix_notices_driver_id_created_at", "notices", ["driver_id", "created_at"]),
    # Notices.outbox_row(s): the message to edit when a copy closes.
    ("ix_outbox_notice_id", "outbox", ["notice_id"]),
    # Outbox.last_edit_of, and the foreign-key check when an outbox row is deleted.
    ("ix_outbox_target_id", "outbox", ["target_id"]),
    # The foreign-key check when an outbox row is deleted.
    ("ix_cards_outbox_id", "cards", ["outbox_id"]),
    # Drivers.eligible_for and the area filter of lists: the drivers of an area.
    ("ix_driver_areas_area_id", "driver_areas", ["area_id", "driver_id"]),
    # Drivers.listed and with_status: drivers in a status, newest first.
    ("ix_drivers_status_id", "drivers", ["status", "id"]),
    # Chats.seen and set_reachable: the driver behind a chat.
    ("ix_drivers_chat_id", "drivers", ["chat_id"]),
]

# Rows in a rare state, indexed alone: SQLite keeps no histogram, so once ANALYZE has counted a
# status column it believes 'pending' is as common as 'done', and walks a whole table in id order
# rather than search an index by status. An index of the pending rows only is small and it uses it.
# name, table, columns, which rows
PENDING = [
    # Inbox.claim and has_due: the updates still to apply.
    ("ix_inbox_pending", "inbox", ["update_id"], "status = 'pending'"),
    # Outbox.pending and backlog: the calls still to make.
    ("ix_outbox_pending", "outbox", ["id"], "status = 'pending'"),
]

# Replaced by ix_notices_driver_id_created_at, which starts with the same column.
REPLACED = ("ix_notices_driver_id", "notices", ["driver_id"])


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)
    for name, table, columns, rows in PENDING:
        where = sa.text(rows)
        op.create_index(name, table, columns, unique=False, sqlite_where=where, postgresql_where=where)
    name, table, _ = REPLACED
    op.drop_index(name, table_name=table)
    # SQLite has no statistics until ANALYZE runs: it cannot tell which index narrows a search.
    op.execute("ANALYZE")


def downgrade() -> None:
    name, table, columns = REPLACED
    op.create_index(name, table, columns, unique=False)
    for name, table, _, _ in reversed(PENDING):
        op.drop_index(name, table_name=table)
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
