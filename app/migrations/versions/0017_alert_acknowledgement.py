"""alerts a member acknowledged; Google messages that name their offer

``alerts`` gains who acknowledged an alert and when (a staff member through the
dashboard, or an API key), and an index for a program's alerts newest first.
``google_messages.offer_id`` names the offer a message announces, so an offer's
delivery state counts its own messages. Existing rows keep NULL: old alerts read as
not acknowledged, old messages as no offer's.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 22:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("acknowledged_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("acknowledged_by_staff_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("acknowledged_by_api_key_id", sa.Integer(),
                                      nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_alerts_acknowledged_by_staff_id_staff"),
                                    "staff", ["acknowledged_by_staff_id"], ["id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_alerts_acknowledged_by_api_key_id_api_keys"), "api_keys",
            ["acknowledged_by_api_key_id"], ["id"])
        batch_op.create_index("ix_alerts_program_id", ["program_id", "id"], unique=False)
    with op.batch_alter_table("google_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("offer_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_google_messages_offer_id_offers"),
                                    "offers", ["offer_id"], ["id"])
        batch_op.create_index("ix_google_messages_offer_id", ["offer_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("google_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_google_messages_offer_id")
        batch_op.drop_constraint(batch_op.f("fk_google_messages_offer_id_offers"),
                                 type_="foreignkey")
        batch_op.drop_column("offer_id")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_program_id")
        batch_op.drop_constraint(batch_op.f("fk_alerts_acknowledged_by_api_key_id_api_keys"),
                                 type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_alerts_acknowledged_by_staff_id_staff"),
                                 type_="foreignkey")
        batch_op.drop_column("acknowledged_by_api_key_id")
        batch_op.drop_column("acknowledged_by_staff_id")
        batch_op.drop_column("acknowledged_at")
