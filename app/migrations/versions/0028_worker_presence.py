"""worker processes and the leases they hold

``workers``: one row per running worker process, its heartbeat refreshed every second
or so. Each lease names the worker holding it (``registrations.push_leased_by``,
``leased_by`` on mails, Google's classes, objects and messages, webhook deliveries and
the outbox), so a worker killed with SIGKILL has its leases freed by another within
seconds instead of after the lease (``app.delivery.presence``). Each of those columns has
a partial index of the rows leased now (few). Nullable columns with no default: an
instant change on PostgreSQL, in place on SQLite; the indexes are built ``CONCURRENTLY``
on PostgreSQL (as 0015 and 0026 do), over rows that are all null.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-05 04:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

# table: its lease's owner column (indexed where set, but for the outbox's: fan-out holds
# row locks, not leases, so nothing is ever leased there).
LEASED = {"registrations": "push_leased_by", "mails": "leased_by",
          "google_classes": "leased_by", "google_objects": "leased_by",
          "google_messages": "leased_by", "webhook_deliveries": "leased_by"}


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=False),
    )
    for table, column in {**LEASED, "outbox": "leased_by"}.items():
        op.add_column(table, sa.Column(column, sa.Integer(), nullable=True))
    if op.get_bind().dialect.name != "postgresql":
        for table, column in LEASED.items():
            op.execute(f"CREATE INDEX ix_{table}_{column} ON {table} ({column}) "
                       f"WHERE {column} IS NOT NULL")
        return
    with op.get_context().autocommit_block():
        for table, column in LEASED.items():
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS ix_{table}_{column}")
            op.execute(f"CREATE INDEX CONCURRENTLY ix_{table}_{column} ON {table} ({column}) "
                       f"WHERE {column} IS NOT NULL")


def downgrade() -> None:
    for table, column in LEASED.items():
        op.execute(f"DROP INDEX ix_{table}_{column}")
    for table, column in {**LEASED, "outbox": "leased_by"}.items():
        op.drop_column(table, column)
    op.drop_table("workers")
