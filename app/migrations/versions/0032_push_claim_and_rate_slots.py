"""the pending pushes in claim order, and a shared rate limit kept as the next free slot

``ix_registrations_push_pending``: the pending registrations by ``(push_available_at,
id)``, only those (a partial index), so that a worker's claim reads its batch in order
from the index instead of sorting every pending registration (about 100 ms a claim with
100,000 pending). ``rate_slots``: per shared limit, the moment (Unix microseconds) from
which the next request may go (``app.delivery.google.limiter``): requests are spaced
evenly, so no sliding second holds more than the rate. ``rate_windows``, the count per
second of the clock that the slots replace, is dropped.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-05 07:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None

PENDING = sa.text("push_status = 'pending'")


def upgrade() -> None:
    op.create_index("ix_registrations_push_pending", "registrations",
                    ["push_available_at", "id"], postgresql_where=PENDING,
                    sqlite_where=PENDING)
    op.create_table(
        "rate_slots",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("next_slot", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_rate_slots")),
    )
    op.drop_table("rate_windows")


def downgrade() -> None:
    op.create_table(
        "rate_windows",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("window", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", "window", name=op.f("pk_rate_windows")),
    )
    op.drop_table("rate_slots")
    op.drop_index("ix_registrations_push_pending", table_name="registrations")
