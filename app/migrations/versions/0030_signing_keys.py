"""the secret keys that have been current, and the re-signing of passes after a rotation

``signing_keys``: one row per secret key that has been the current one, by its public id
(``app.secret_keys.key_id``, never the key), with when it became current and how far the
re-signing of the passes handed out before it has come (``app.cards.rotation``). Empty at
first: the first worker round (or ``loyalpass keys``) writes the current key's row,
taking every pass as signed with it when no previous key is configured.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-05 04:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signing_keys",
        sa.Column("key_id", sa.String(length=16), primary_key=True),
        sa.Column("current_since", sa.DateTime(), nullable=False),
        sa.Column("resign_after_card_id", sa.BigInteger(), server_default="0",
                  nullable=False),
        sa.Column("resign_next_at", sa.DateTime(), nullable=True),
        sa.Column("resigned_at", sa.DateTime(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("signing_keys")
