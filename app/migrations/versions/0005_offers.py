"""offers and the cards each was published to

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 21:39:57.317857
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=80), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=True),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("promotional", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("status IN ('draft', 'published')", name=op.f("ck_offers_status")),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_offers_merchant_id_merchants")
        ),
        sa.ForeignKeyConstraint(
            ["program_id"], ["programs.id"], name=op.f("fk_offers_program_id_programs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offers")),
    )
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_offers_merchant_id"), ["merchant_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_offers_program_id"), ["program_id"], unique=False)

    op.create_table(
        "card_offers",
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column("held_out", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"], ["cards.id"], name=op.f("fk_card_offers_card_id_cards")
        ),
        sa.ForeignKeyConstraint(
            ["offer_id"], ["offers.id"], name=op.f("fk_card_offers_offer_id_offers")
        ),
        sa.PrimaryKeyConstraint("offer_id", "card_id", name=op.f("pk_card_offers")),
    )
    with op.batch_alter_table("card_offers", schema=None) as batch_op:
        batch_op.create_index("ix_card_offers_card_id", ["card_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("card_offers", schema=None) as batch_op:
        batch_op.drop_index("ix_card_offers_card_id")

    op.drop_table("card_offers")
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_offers_program_id"))
        batch_op.drop_index(batch_op.f("ix_offers_merchant_id"))

    op.drop_table("offers")
