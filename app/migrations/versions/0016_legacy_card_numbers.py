"""old card numbers that keep working at the till

A merchant moving from a plastic-card or spreadsheet program imports their customers
(``app.imports``); each card may bring the number it had there. ``legacy_card_numbers``
keeps them, one card per number in a program, and the till's lookup and purchase find a
card by one when no card of the merchant has the number scanned or typed (the index on
``(merchant_id, number)``). No existing row changes.

Revision ID: 0016
Revises: 0013
Create Date: 2026-12-04 22:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "legacy_card_numbers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["card_id"], ["cards.id"],
                                name=op.f("fk_legacy_card_numbers_card_id_cards")),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"],
                                name=op.f("fk_legacy_card_numbers_merchant_id_merchants")),
        sa.ForeignKeyConstraint(["program_id"], ["programs.id"],
                                name=op.f("fk_legacy_card_numbers_program_id_programs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legacy_card_numbers")),
        sa.UniqueConstraint("program_id", "number",
                            name="uq_legacy_card_numbers_program_number"),
    )
    op.create_index("ix_legacy_card_numbers_merchant_number", "legacy_card_numbers",
                    ["merchant_id", "number"])
    op.create_index(op.f("ix_legacy_card_numbers_card_id"), "legacy_card_numbers",
                    ["card_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_legacy_card_numbers_card_id"), table_name="legacy_card_numbers")
    op.drop_index("ix_legacy_card_numbers_merchant_number", table_name="legacy_card_numbers")
    op.drop_table("legacy_card_numbers")
