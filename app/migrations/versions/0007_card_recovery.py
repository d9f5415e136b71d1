"""card recovery: one-time links for returning customers, the mail queue, card link versions

``cards.link_version`` starts at 0 for every existing card, whose link keeps the MAC it
always had; a reissued link is MACed with its version (``app.wallet.service``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 16:11:59.579993
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "card_recovery_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=True),
        sa.Column("location_id", sa.Integer(), nullable=True),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("requested_from", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["card_id"], ["cards.id"], name=op.f("fk_card_recovery_links_card_id_cards")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"],
            name=op.f("fk_card_recovery_links_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"],
            name=op.f("fk_card_recovery_links_location_id_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"],
            name=op.f("fk_card_recovery_links_merchant_id_merchants"),
        ),
        sa.ForeignKeyConstraint(
            ["program_id"], ["programs.id"],
            name=op.f("fk_card_recovery_links_program_id_programs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_recovery_links")),
    )
    with op.batch_alter_table("card_recovery_links", schema=None) as batch_op:
        batch_op.create_index("ix_card_recovery_links_customer_created",
                              ["customer_id", "created_at"], unique=False)

    op.create_table(
        "mails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("recovery_link_id", sa.Integer(), nullable=True),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("available_at", sa.DateTime(), nullable=False),
        sa.Column("leased_until", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("kind IN ('card_recovery')", name=op.f("ck_mails_kind")),
        sa.CheckConstraint("status IN ('pending', 'sent', 'failed')",
                           name=op.f("ck_mails_status")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_mails_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_mails_merchant_id_merchants")
        ),
        sa.ForeignKeyConstraint(
            ["recovery_link_id"], ["card_recovery_links.id"],
            name=op.f("fk_mails_recovery_link_id_card_recovery_links"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mails")),
    )
    with op.batch_alter_table("mails", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mails_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index("ix_mails_due", ["status", "available_at"], unique=False)

    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("link_version", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.drop_column("link_version")

    with op.batch_alter_table("mails", schema=None) as batch_op:
        batch_op.drop_index("ix_mails_due")
        batch_op.drop_index(batch_op.f("ix_mails_customer_id"))

    op.drop_table("mails")
    with op.batch_alter_table("card_recovery_links", schema=None) as batch_op:
        batch_op.drop_index("ix_card_recovery_links_customer_created")

    op.drop_table("card_recovery_links")
