"""a program's strip photo and stamp icon

The pass's strip may be a photo the merchant uploads, and a stamp card's stamps may
show the merchant's own icon; both are stored like the logo (the bytes as uploaded and
their media type), absent until uploaded.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 19:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch rebuild): rebuilding programs on SQLite would drop the
    # old table and, with foreign keys on, cascade into what refers to it.
    op.add_column("programs", sa.Column("strip_image", sa.LargeBinary(), nullable=True))
    op.add_column("programs", sa.Column("strip_content_type", sa.String(length=32),
                                        nullable=True))
    op.add_column("programs", sa.Column("stamp_icon", sa.LargeBinary(), nullable=True))
    op.add_column("programs", sa.Column("stamp_icon_content_type", sa.String(length=32),
                                        nullable=True))


def downgrade() -> None:
    for column in ("stamp_icon_content_type", "stamp_icon", "strip_content_type",
                   "strip_image"):
        op.drop_column("programs", column)
