"""passes signed ahead of their download

``signed_passes``: per card, its own signed part of its pass package as the worker made it
when the card's push left (``app.devices.signing_ahead``), with what it is valid for: the
card's ``pass_last_modified``, what signed it (``made_with``), the design files it follows
(its program's ``design_version`` and the card's ``stamps`` then, and ``design_digest``)
and ``good_until``, indexed for housekeeping's deletion.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-05 10:15:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signed_passes",
        sa.Column("card_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("pass_last_modified", sa.DateTime(), nullable=False),
        sa.Column("made_with", sa.String(length=64), nullable=False),
        sa.Column("design_version", sa.Integer(), nullable=False),
        sa.Column("stamps", sa.Integer(), nullable=False),
        sa.Column("design_digest", sa.String(length=64), nullable=False),
        sa.Column("good_until", sa.DateTime(), nullable=False),
        sa.Column("entries", sa.LargeBinary(), nullable=False),
        sa.Column("directory", sa.LargeBinary(), nullable=False),
        sa.Column("signed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["card_id"], ["cards.id"], ondelete="CASCADE",
                                name=op.f("fk_signed_passes_card_id_cards")),
        sa.PrimaryKeyConstraint("card_id", name=op.f("pk_signed_passes")),
    )
    op.create_index(op.f("ix_signed_passes_good_until"), "signed_passes", ["good_until"])


def downgrade() -> None:
    op.drop_index(op.f("ix_signed_passes_good_until"), table_name="signed_passes")
    op.drop_table("signed_passes")
