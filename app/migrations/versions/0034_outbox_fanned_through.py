"""an offer's fan-out in chunks: where its outbox row got to

``outbox.fanned_through``: for a row announcing an offer, the last of the offer's cards
(by id) already fanned out while more are left (``app.delivery.fanout``: an offer's cards
are fanned out a few thousand per transaction, so that no till waits on a card locked by
a fan-out to a million cards); null before the row's first chunk and for every other
row.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-05 13:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("fanned_through", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("fanned_through")
