"""offers that start later and offers that ended

``offers.status`` gains ``scheduled`` (published ahead of its start: the worker publishes
it when it starts) and ``ended`` (its end passed or it was ended by hand: it has left
every pass it was on); ``offers.ended_at`` says when it ended. Existing offers keep their
status: a published offer whose end passed is ended by the worker's next round.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 01:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

NEW_STATUSES = "status IN ('draft', 'scheduled', 'published', 'ended')"
OLD_STATUSES = "status IN ('draft', 'published')"


def upgrade() -> None:
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ended_at", sa.DateTime(), nullable=True))
        batch_op.drop_constraint(batch_op.f("ck_offers_status"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_offers_status"), sa.text(NEW_STATUSES))
        batch_op.create_index("ix_offers_status_starts_at", ["status", "starts_at"],
                              unique=False)


def downgrade() -> None:
    op.execute(sa.text("UPDATE offers SET status = 'published' WHERE status = 'ended'"))
    op.execute(sa.text("UPDATE offers SET status = 'draft' WHERE status = 'scheduled'"))
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.drop_index("ix_offers_status_starts_at")
        batch_op.drop_constraint(batch_op.f("ck_offers_status"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_offers_status"), sa.text(OLD_STATUSES))
        batch_op.drop_column("ended_at")
