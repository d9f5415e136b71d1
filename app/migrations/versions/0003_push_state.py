"""push state on registrations, program-wide outbox rows

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 19:10:04.373919
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("program_id", sa.Integer(), nullable=True))
        batch_op.alter_column("card_id", existing_type=sa.INTEGER(), nullable=True)
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_program_id_programs"), "programs", ["program_id"], ["id"]
        )

    with op.batch_alter_table("registrations", schema=None) as batch_op:
        # Existing registrations start idle; the CHECK is not found by autogenerate.
        batch_op.add_column(
            sa.Column("push_status", sa.String(length=16), nullable=False, server_default="idle")
        )
        batch_op.add_column(
            sa.Column("push_generation", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("push_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.create_check_constraint(
            op.f("ck_registrations_push_status"), "push_status IN ('idle', 'pending', 'failed')"
        )
        batch_op.add_column(sa.Column("push_available_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("push_leased_until", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("last_push_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("last_push_result", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("last_push_status", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("last_push_error", sa.Text(), nullable=True))
        batch_op.create_index(
            "ix_registrations_push_due", ["push_status", "push_available_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.drop_index("ix_registrations_push_due")
        batch_op.drop_constraint(op.f("ck_registrations_push_status"), type_="check")
        batch_op.drop_column("last_push_error")
        batch_op.drop_column("last_push_status")
        batch_op.drop_column("last_push_result")
        batch_op.drop_column("last_push_at")
        batch_op.drop_column("push_leased_until")
        batch_op.drop_column("push_available_at")
        batch_op.drop_column("push_attempts")
        batch_op.drop_column("push_generation")
        batch_op.drop_column("push_status")

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_outbox_program_id_programs"), type_="foreignkey")
        batch_op.alter_column("card_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column("program_id")
