"""the stats' summaries: days rolled up, visit days, and cards counted

``stats_days`` (partial sums of a program's day at a location), ``visit_days`` and
``location_visit_days`` (a card's days with a purchase and its two previous ones),
``visit_counts`` (those counted per day and days since the previous visits) and
``stats_rollups`` (how far each program is rolled up, and its cards as last counted):
``app.analytics.models`` describes them. They start empty: the worker rolls each program's
history up within its first rounds, and until then the stats read the live tables, as
before. No foreign keys on the derived rows (as ``card_segments``).

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-05 04:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

FIGURES = ("enrollments", "purchases", "gross", "refunded", "issued", "redeemed", "expired",
           "adjusted", "net", "installed_apple", "installed_google", "removed_apple",
           "removed_google")


def _visit_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    return [sa.Column("card_id", sa.Integer(), autoincrement=False, nullable=False),
            sa.Column("day", sa.Integer(), autoincrement=False, nullable=False),
            sa.Column("program_id", sa.Integer(), nullable=False),
            sa.Column("prev_day", sa.Integer(), nullable=True),
            sa.Column("prev2_day", sa.Integer(), nullable=True)]


def upgrade() -> None:
    op.create_table(
        "stats_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=True),
        sa.Column("day", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in FIGURES),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_days")),
    )
    op.create_index("ix_stats_days_program_day", "stats_days", ["program_id", "day"])
    op.create_table(
        "visit_days", *_visit_columns(),
        sa.PrimaryKeyConstraint("card_id", "day", name=op.f("pk_visit_days")),
    )
    op.create_index("ix_visit_days_program_day", "visit_days", ["program_id", "day"],
                    postgresql_include=["prev_day", "prev2_day"])
    op.create_table(
        "location_visit_days", *_visit_columns(),
        sa.Column("location_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("card_id", "location_id", "day",
                                name=op.f("pk_location_visit_days")),
    )
    op.create_index("ix_location_visit_days_program_location_day", "location_visit_days",
                    ["program_id", "location_id", "day"],
                    postgresql_include=["prev_day", "prev2_day"])
    op.create_table(
        "visit_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=True),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("step", sa.SmallInteger(), nullable=False),
        sa.Column("gap", sa.Integer(), nullable=True),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.CheckConstraint("step IN (1, 2)", name=op.f("ck_visit_counts_step")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_counts")),
    )
    op.create_index("ix_visit_counts_program_location_day", "visit_counts",
                    ["program_id", "location_id", "day"],
                    postgresql_include=["step", "gap", "visits"])
    op.create_table(
        "stats_rollups",
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("through_day", sa.Integer(), nullable=True),
        sa.Column("rolled_at", sa.DateTime(), nullable=True),
        sa.Column("counted_at", sa.DateTime(), nullable=True),
        sa.Column("card_counts", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["program_id"], ["programs.id"],
                                name=op.f("fk_stats_rollups_program_id_programs")),
        sa.PrimaryKeyConstraint("program_id", name=op.f("pk_stats_rollups")),
    )


def downgrade() -> None:
    op.drop_table("stats_rollups")
    op.drop_index("ix_visit_counts_program_location_day", table_name="visit_counts")
    op.drop_table("visit_counts")
    op.drop_index("ix_location_visit_days_program_location_day",
                  table_name="location_visit_days")
    op.drop_table("location_visit_days")
    op.drop_index("ix_visit_days_program_day", table_name="visit_days")
    op.drop_table("visit_days")
    op.drop_index("ix_stats_days_program_day", table_name="stats_days")
    op.drop_table("stats_days")
