"""a program's reward budget

``programs.reward_budget_percent``: what rewards may cost as a share of turnover (the
value of the points issued over the amounts paid), 3 unless the merchant says otherwise;
the analytics page draws the program against it. Existing programs get 3.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-05 01:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # In place on SQLite too (ADD COLUMN, DROP COLUMN): rebuilding ``programs`` would copy
    # its column checks into table constraints, which an older migration's in-place drop
    # of ``contact`` then trips over (see 0010).
    op.add_column("programs", sa.Column("reward_budget_percent", sa.Numeric(7, 3),
                                        server_default="3", nullable=False))


def downgrade() -> None:
    op.drop_column("programs", "reward_budget_percent")
