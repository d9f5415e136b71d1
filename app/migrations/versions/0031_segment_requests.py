"""segments asked for on demand, computed by the worker

``segment_refreshes.requested_at``: when an owner or manager asked to compute a large
program's segments (more cards than a request may take the time for); the worker's next
round computes them. Null for every existing row.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-05 05:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("segment_refreshes", sa.Column("requested_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column("segment_refreshes", "requested_at")
