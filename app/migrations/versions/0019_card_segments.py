"""RFM segments: each scored card's scores and segment, and when a program's were computed

``card_segments`` is a table of its own (not columns on the hot ``cards`` rows): the
daily computation rewrites a program's rows whole without touching the cards. It has no
foreign keys: its rows are derived from ``cards`` (never deleted), and checking them, a
trigger per row, was half the time of writing a program's rows.
``segment_refreshes`` holds one row per program computed (its lock and its time). Both
start empty; the worker fills them within a round of starting.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 01:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "card_segments",
        sa.Column("card_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=True),
        sa.Column("recency", sa.SmallInteger(), nullable=False),
        sa.Column("frequency", sa.SmallInteger(), nullable=False),
        sa.Column("monetary", sa.SmallInteger(), nullable=False),
        sa.Column("segment", sa.String(length=16), nullable=False),
        sa.Column("computed_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("recency BETWEEN 1 AND 5 AND frequency BETWEEN 1 AND 5 "
                           "AND monetary BETWEEN 1 AND 5", name=op.f("ck_card_segments_scores")),
        sa.PrimaryKeyConstraint("card_id", name=op.f("pk_card_segments")),
    )
    op.create_index("ix_card_segments_program_id_segment", "card_segments",
                    ["program_id", "segment"], unique=False)
    op.create_table(
        "segment_refreshes",
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(), nullable=True),
        sa.Column("cards", sa.Integer(), nullable=False),
        sa.Column("totals", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["program_id"], ["programs.id"],
                                name=op.f("fk_segment_refreshes_program_id_programs")),
        sa.PrimaryKeyConstraint("program_id", name=op.f("pk_segment_refreshes")),
    )


def downgrade() -> None:
    op.drop_table("segment_refreshes")
    op.drop_index("ix_card_segments_program_id_segment", table_name="card_segments")
    op.drop_table("card_segments")
