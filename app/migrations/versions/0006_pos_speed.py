"""pos speed: a purchase's card update writes no index

``ix_cards_pass_updated_at`` was the one index on a column that every purchase changes,
so every card update wrote a new entry into each of the card's six indexes. No query
uses it (the web service finds a device's passes through its registrations), and
without it PostgreSQL updates the card in place of the page (a HOT update).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 22:40:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_cards_pass_updated_at", table_name="cards")


def downgrade() -> None:
    op.create_index("ix_cards_pass_updated_at", "cards", ["pass_updated_at"], unique=False)
