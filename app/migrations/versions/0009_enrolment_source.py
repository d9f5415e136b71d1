"""enrolments attributed to a campaign tag

``cards.location_id`` (since 0001) names the counter whose QR code a customer scanned;
``cards.source`` now keeps the campaign tag of the join link (``?src=flyer-may``: 1 to 32
characters of a-z, 0-9, ``_`` and ``-``), so a merchant sees which counter or flyer
brings customers. A returning customer enrolled in this program from a mailed link keeps
the tag of the join that asked for it: ``card_recovery_links.source`` carries it there.
Both are null for every existing row: nothing was known.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cards", sa.Column("source", sa.String(length=32), nullable=True))
    op.add_column("card_recovery_links",
                  sa.Column("source", sa.String(length=32), nullable=True))


def downgrade() -> None:
    # In place on SQLite too (ALTER TABLE DROP COLUMN): rebuilding ``cards`` would drop
    # the old table and, with foreign keys on, cascade into the rows that refer to it.
    op.drop_column("card_recovery_links", "source")
    op.drop_column("cards", "source")
