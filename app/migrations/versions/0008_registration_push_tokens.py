"""push tokens belong to registrations

A push token was kept on the device, so whoever registered a pass under a known
``deviceLibraryIdentifier`` with a new token redirected the pushes of every pass that
device had registered before. Each registration now keeps the token it was registered
with (copied from its device here), and ``devices.push_token`` goes: a second copy that
one registration could overwrite for all the others is what made the hole.

SQLite: the column is added and filled, then ``registrations`` is rebuilt to make it
NOT NULL; ``devices`` loses its column in place (ALTER TABLE DROP COLUMN), since
rebuilding it would drop the old table and, with foreign keys on, cascade into its
registrations.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 17:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

def upgrade() -> None:
    op.add_column("registrations", sa.Column("push_token", sa.String(length=256), nullable=True))
    op.execute("UPDATE registrations SET push_token = (SELECT devices.push_token FROM devices"
               " WHERE devices.id = registrations.device_id)")
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.alter_column("push_token", existing_type=sa.String(length=256), nullable=False)
    op.drop_column("devices", "push_token")


def downgrade() -> None:
    op.add_column("devices", sa.Column("push_token", sa.String(length=256), nullable=True))
    # A device had one token: the one its newest registration brought.
    op.execute("UPDATE devices SET push_token = COALESCE((SELECT registrations.push_token"
               " FROM registrations WHERE registrations.device_id = devices.id"
               " ORDER BY registrations.id DESC LIMIT 1), '')")
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("devices", "push_token", existing_type=sa.String(length=256),
                        nullable=False)
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.drop_column("push_token")

