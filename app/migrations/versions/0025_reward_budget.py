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
    with op.batch_alter_table("programs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reward_budget_percent", sa.Numeric(7, 3),
                                      server_default="3", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("programs", schema=None) as batch_op:
        batch_op.drop_column("reward_budget_percent")
