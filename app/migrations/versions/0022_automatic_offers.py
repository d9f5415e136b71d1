"""automatic offers: rules per program, their settings and what each rule sent

``automation_rules`` holds the rules a program switched on (one per kind), each with its
offer (``offers.automatic``, new, false for every existing offer); ``automation_settings``
a program's weekly cap and pause over budget; ``automation_sends`` one row per rule, card
and occasion (unique: a rerun sends nothing twice). ``card_offers.expires_at`` is when an
offer leaves a card's pass (NULL for existing rows: while the offer lasts).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 01:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("automatic", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table("card_offers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(), nullable=True))
    op.create_table(
        "automation_settings",
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("weekly_cap", sa.Integer(), nullable=False),
        sa.Column("pause_over_budget", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"],
                                name=op.f("fk_automation_settings_merchant_id_merchants")),
        sa.ForeignKeyConstraint(["program_id"], ["programs.id"],
                                name=op.f("fk_automation_settings_program_id_programs")),
        sa.PrimaryKeyConstraint("program_id", name=op.f("pk_automation_settings")),
    )
    op.create_table(
        "automation_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("holdout_percent", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('welcome', 'birthday', 'we_miss_you', 'tier_upgrade')",
                           name=op.f("ck_automation_rules_kind")),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"],
                                name=op.f("fk_automation_rules_merchant_id_merchants")),
        sa.ForeignKeyConstraint(["offer_id"], ["offers.id"],
                                name=op.f("fk_automation_rules_offer_id_offers")),
        sa.ForeignKeyConstraint(["program_id"], ["programs.id"],
                                name=op.f("fk_automation_rules_program_id_programs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_rules")),
        sa.UniqueConstraint("program_id", "kind",
                            name=op.f("uq_automation_rules_program_id")),
    )
    op.create_table(
        "automation_sends",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=64), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("held_out", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["card_id"], ["cards.id"],
                                name=op.f("fk_automation_sends_card_id_cards")),
        sa.ForeignKeyConstraint(["offer_id"], ["offers.id"],
                                name=op.f("fk_automation_sends_offer_id_offers")),
        sa.ForeignKeyConstraint(["rule_id"], ["automation_rules.id"],
                                name=op.f("fk_automation_sends_rule_id_automation_rules")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_sends")),
        sa.UniqueConstraint("rule_id", "card_id", "period",
                            name=op.f("uq_automation_sends_rule_id")),
    )
    op.create_index("ix_automation_sends_card_id", "automation_sends",
                    ["card_id", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_automation_sends_card_id", table_name="automation_sends")
    op.drop_table("automation_sends")
    op.drop_table("automation_rules")
    op.drop_table("automation_settings")
    with op.batch_alter_table("card_offers", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.drop_column("automatic")
