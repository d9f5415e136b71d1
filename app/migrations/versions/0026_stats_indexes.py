"""covering indexes for a program's stats

``app.analytics`` groups a program's purchases, refunds and ledger entries of a period by
day and sums its cards' balances and tiers. On PostgreSQL these indexes carry the columns
those aggregates read (``INCLUDE``), so that they are index-only scans of the period's
slice instead of a visit to the table's page of every row:

- ``purchases (program_id, created_at) INCLUDE (card_id, location_id, amount)``: sales,
  visits, active customers (replaces the plain index of that name);
- ``ledger_entries (merchant_id, created_at) INCLUDE (card_id, kind, points,
  location_id)``: points per day, outstanding points at a past day (replaces it too);
- ``refunds (merchant_id, created_at) INCLUDE (purchase_id, amount)``: refunds per day;
- ``cards (program_id, location_id) INCLUDE (balance, tier, status)``: outstanding
  points now and cards per tier.

Built ``CONCURRENTLY`` outside the migration's transaction (as 0015 does): a live table
keeps taking purchases while they build; an invalid index left by a failed build is
dropped first. A replaced index is dropped only once its successor is built. SQLite gets
the two new indexes without the included columns (it has no ``INCLUDE``).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-05 02:10:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

# name: (table and key columns, included columns); the first two replace plain indexes.
COVERING = {
    "ix_purchases_program_created": (
        "purchases (program_id, created_at)", "card_id, location_id, amount"),
    "ix_ledger_entries_merchant_created": (
        "ledger_entries (merchant_id, created_at)", "card_id, kind, points, location_id"),
    "ix_refunds_merchant_created": (
        "refunds (merchant_id, created_at)", "purchase_id, amount"),
    "ix_cards_program_location_figures": (
        "cards (program_id, location_id)", "balance, tier, status"),
}
NEW = ("ix_refunds_merchant_created", "ix_cards_program_location_figures")
BUILDING = "_building"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        for name in NEW:
            op.execute(f"CREATE INDEX {name} ON {COVERING[name][0]}")
        return
    with op.get_context().autocommit_block():
        for name, (target, included) in COVERING.items():
            built = name + BUILDING if name not in NEW else name
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {built}")
            op.execute(f"CREATE INDEX CONCURRENTLY {built} ON {target} INCLUDE ({included})")
            if built != name:
                op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
                op.execute(f"ALTER INDEX {built} RENAME TO {name}")


def downgrade() -> None:
    for name in NEW:
        op.execute(f"DROP INDEX {name}")
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, (target, _) in COVERING.items():
        if name not in NEW:
            op.execute(f"DROP INDEX {name}")
            op.execute(f"CREATE INDEX {name} ON {target}")
