"""wallet events: a card entering or leaving Apple Wallet or Google Wallet, per day

``wallet_events`` gets one row per change of a card's state in a wallet (see
``app.analytics.models``), read by the program's stats per day through the index on
``(program_id, created_at)``. Backfilled from what is known: an Apple install per card
with a live registration, at its first registration's time (past unregistrations were
not recorded, so no removal is invented), and Google's recorded save and delete
callbacks that changed the object's state (a save after a save is not a second install).
No existing row changes.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 01:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_BACKFILL_APPLE = """
INSERT INTO wallet_events (merchant_id, program_id, location_id, card_id, wallet, kind,
                           created_at)
SELECT c.merchant_id, c.program_id, c.location_id, c.id, 'apple', 'installed',
       MIN(r.created_at)
FROM registrations r JOIN cards c ON c.id = r.card_id
GROUP BY c.id, c.merchant_id, c.program_id, c.location_id
"""

_BACKFILL_GOOGLE = """
INSERT INTO wallet_events (merchant_id, program_id, location_id, card_id, wallet, kind,
                           created_at)
SELECT c.merchant_id, c.program_id, c.location_id, c.id, 'google',
       CASE e.event_type WHEN 'save' THEN 'installed' ELSE 'removed' END, e.received_at
FROM (SELECT card_id, event_type, received_at,
             LAG(event_type) OVER (PARTITION BY card_id ORDER BY received_at, id) AS previous
      FROM google_events WHERE card_id IS NOT NULL) e
JOIN cards c ON c.id = e.card_id
WHERE e.previous IS NULL OR e.previous <> e.event_type
"""


def upgrade() -> None:
    op.create_table(
        "wallet_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=True),
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column("wallet", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("wallet IN ('apple', 'google')",
                           name=op.f("ck_wallet_events_wallet")),
        sa.CheckConstraint("kind IN ('installed', 'removed')",
                           name=op.f("ck_wallet_events_kind")),
        sa.ForeignKeyConstraint(["card_id"], ["cards.id"],
                                name=op.f("fk_wallet_events_card_id_cards")),
        sa.ForeignKeyConstraint(["location_id"], ["locations.id"],
                                name=op.f("fk_wallet_events_location_id_locations")),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"],
                                name=op.f("fk_wallet_events_merchant_id_merchants")),
        sa.ForeignKeyConstraint(["program_id"], ["programs.id"],
                                name=op.f("fk_wallet_events_program_id_programs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_events")),
    )
    op.create_index("ix_wallet_events_program_created", "wallet_events",
                    ["program_id", "created_at"])
    op.create_index(op.f("ix_wallet_events_card_id"), "wallet_events", ["card_id"])
    op.execute(_BACKFILL_APPLE)
    op.execute(_BACKFILL_GOOGLE)


def downgrade() -> None:
    op.drop_index(op.f("ix_wallet_events_card_id"), table_name="wallet_events")
    op.drop_index("ix_wallet_events_program_created", table_name="wallet_events")
    op.drop_table("wallet_events")
