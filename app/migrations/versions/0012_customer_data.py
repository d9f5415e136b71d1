"""the customer's own data: consent withdrawn, erasure, deleted cards, audit events

A customer may withdraw their marketing consent (``consent_withdrawn_at``) and delete
their data: their personal fields are erased (``erased_at``; the ``reachable`` check now
lets an erased customer have neither email nor phone) and their cards become ``deleted``
(the pass voided for good). ``audit_events`` records who changed a customer's data, what
and when, naming fields, never values.

SQLite cannot alter a CHECK constraint in place: ``customers`` and ``cards`` are rebuilt
(batch mode), which ``app.migrations.upgrade`` runs with foreign keys off and checks
afterwards, as SQLite's own procedure for such changes asks.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-10 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

REACHABLE = "email IS NOT NULL OR phone IS NOT NULL"
REACHABLE_OR_ERASED = "email IS NOT NULL OR phone IS NOT NULL OR erased_at IS NOT NULL"
STATUSES = "status IN ('active', 'blocked')"
STATUSES_WITH_DELETED = "status IN ('active', 'blocked', 'deleted')"


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("consent_withdrawn_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("erased_at", sa.DateTime(), nullable=True))
        batch_op.drop_constraint(op.f("ck_customers_reachable"), type_="check")
        batch_op.create_check_constraint(op.f("ck_customers_reachable"), REACHABLE_OR_ERASED)
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_cards_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_cards_status"), STATUSES_WITH_DELETED)
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=16), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("card_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("actor IN ('customer', 'merchant_key', 'system')",
                           name=op.f("ck_audit_events_actor")),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_keys.id"],
                                name=op.f("fk_audit_events_api_key_id_api_keys")),
        sa.ForeignKeyConstraint(["card_id"], ["cards.id"],
                                name=op.f("fk_audit_events_card_id_cards")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_audit_events_customer_id_customers")),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"],
                                name=op.f("fk_audit_events_merchant_id_merchants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index("ix_audit_events_customer_id_id", ["customer_id", "id"],
                              unique=False)
        batch_op.create_index("ix_audit_events_card_id", ["card_id"], unique=False)


def downgrade() -> None:
    # Deleted cards and erased customers cannot go back to what the old checks allowed:
    # the downgrade refuses (the checks fail) rather than invent data for them.
    op.drop_table("audit_events")
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_cards_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_cards_status"), STATUSES)
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_customers_reachable"), type_="check")
        batch_op.create_check_constraint(op.f("ck_customers_reachable"), REACHABLE)
        batch_op.drop_column("erased_at")
        batch_op.drop_column("consent_withdrawn_at")
