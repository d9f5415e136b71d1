"""google wallet state: classes, objects, messages, callbacks, shared rate windows

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 21:23:34.991977
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_windows",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("window", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", "window", name=op.f("pk_rate_windows")),
    )
    op.create_table(
        "google_classes",
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("class_id", sa.String(length=160), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("synced_generation", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("available_at", sa.DateTime(), nullable=False),
        sa.Column("leased_until", sa.DateTime(), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("synced_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'synced', 'failed')", name=op.f("ck_google_classes_status")
        ),
        sa.ForeignKeyConstraint(
            ["program_id"], ["programs.id"], name=op.f("fk_google_classes_program_id_programs")
        ),
        sa.PrimaryKeyConstraint("program_id", name=op.f("pk_google_classes")),
        sa.UniqueConstraint("class_id", name=op.f("uq_google_classes_class_id")),
    )
    with op.batch_alter_table("google_classes", schema=None) as batch_op:
        batch_op.create_index("ix_google_classes_due", ["status", "available_at"], unique=False)

    op.create_table(
        "google_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.String(length=200), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=True),
        sa.Column("merchant_id", sa.Integer(), nullable=True),
        sa.Column("event_type", sa.String(length=8), nullable=False),
        sa.Column("class_id", sa.String(length=160), nullable=False),
        sa.Column("object_id", sa.String(length=160), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "event_type IN ('save', 'del')", name=op.f("ck_google_events_event_type")
        ),
        sa.ForeignKeyConstraint(
            ["card_id"], ["cards.id"], name=op.f("fk_google_events_card_id_cards")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_google_events_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_google_events")),
        sa.UniqueConstraint("nonce", name=op.f("uq_google_events_nonce")),
    )
    with op.batch_alter_table("google_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_google_events_card_id"), ["card_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_google_events_merchant_id"), ["merchant_id"], unique=False
        )

    op.create_table(
        "google_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("header", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("notified", sa.Boolean(), nullable=False),
        sa.Column("budget_spent", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("available_at", sa.DateTime(), nullable=False),
        sa.Column("leased_until", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'failed')", name=op.f("ck_google_messages_status")
        ),
        sa.ForeignKeyConstraint(
            ["card_id"], ["cards.id"], name=op.f("fk_google_messages_card_id_cards")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_google_messages")),
    )
    with op.batch_alter_table("google_messages", schema=None) as batch_op:
        batch_op.create_index("ix_google_messages_card_sent", ["card_id", "sent_at"], unique=False)
        batch_op.create_index("ix_google_messages_due", ["status", "available_at"], unique=False)

    op.create_table(
        "google_objects",
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("object_id", sa.String(length=160), nullable=False),
        sa.Column("inserted", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("synced_generation", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("available_at", sa.DateTime(), nullable=False),
        sa.Column("leased_until", sa.DateTime(), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("synced_at", sa.DateTime(), nullable=True),
        sa.Column("saved_at", sa.DateTime(), nullable=True),
        sa.Column("removed_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'synced', 'failed')", name=op.f("ck_google_objects_status")
        ),
        sa.ForeignKeyConstraint(
            ["card_id"], ["cards.id"], name=op.f("fk_google_objects_card_id_cards")
        ),
        sa.ForeignKeyConstraint(
            ["program_id"], ["programs.id"], name=op.f("fk_google_objects_program_id_programs")
        ),
        sa.PrimaryKeyConstraint("card_id", name=op.f("pk_google_objects")),
        sa.UniqueConstraint("object_id", name=op.f("uq_google_objects_object_id")),
    )
    with op.batch_alter_table("google_objects", schema=None) as batch_op:
        batch_op.create_index("ix_google_objects_due", ["status", "available_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_google_objects_program_id"), ["program_id"], unique=False
        )



def downgrade() -> None:
    with op.batch_alter_table("google_objects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_google_objects_program_id"))
        batch_op.drop_index("ix_google_objects_due")

    op.drop_table("google_objects")
    with op.batch_alter_table("google_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_google_messages_due")
        batch_op.drop_index("ix_google_messages_card_sent")

    op.drop_table("google_messages")
    with op.batch_alter_table("google_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_google_events_merchant_id"))
        batch_op.drop_index(batch_op.f("ix_google_events_card_id"))

    op.drop_table("google_events")
    with op.batch_alter_table("google_classes", schema=None) as batch_op:
        batch_op.drop_index("ix_google_classes_due")

    op.drop_table("google_classes")
    op.drop_table("rate_windows")
