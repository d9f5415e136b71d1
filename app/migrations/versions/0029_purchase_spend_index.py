"""the 12-month spend of a card from the index alone

Every purchase at the till reads the card's spend of the last 12 months (its tier) and
its purchases of the last hour and day (the velocity limits) from ``purchases``
(``app.ledger.purchase_rows.READ_PURCHASE``), and every full pass download and card page
reads the card's visits, last visit and lifetime spend (``app.points.postings
.spend_figures``). ``ix_purchases_card_created`` found the card's purchases, but the
amounts summed were in the table: one page read per purchase, a card's purchases lying
one to a page among everyone else's (20 ms for a card with 610 purchases a year, measured
at 1,000,000 cards). It now carries ``amount_paid`` and ``refunded_paid`` (``INCLUDE``),
so that these sums are index-only scans of the card's slice.

Built ``CONCURRENTLY`` beside the old index and swapped in (as 0026 does): purchases keep
flowing while it builds; an invalid index left by a failed build is dropped first. SQLite
has no ``INCLUDE`` and keeps the plain index.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-05 04:20:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

NAME = "ix_purchases_card_created"
TARGET = "purchases (card_id, created_at)"
INCLUDED = "amount_paid, refunded_paid"
BUILDING = NAME + "_building"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    with op.get_context().autocommit_block():
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {BUILDING}")
        op.execute(f"CREATE INDEX CONCURRENTLY {BUILDING} ON {TARGET} INCLUDE ({INCLUDED})")
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {NAME}")
        op.execute(f"ALTER INDEX {BUILDING} RENAME TO {NAME}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP INDEX {NAME}")
    op.execute(f"CREATE INDEX {NAME} ON {TARGET}")
