"""staff accounts: sessions that a change ends, removal, location limits, one-time links,
the staff action log, and mails to staff

``staff.session_version`` is raised by a password change, a role or location change and a
removal: the dashboard's sessions carry the number they began with. ``staff_locations``
limits a member to some locations (none: all). ``staff_links`` are the invitation and
password-reset links (the mailed token is the id and a MAC; nothing usable is stored).
``staff_events`` is the staff action log. A mail may now go to a staff member
(``mails.customer_id`` nullable, ``mails.staff_link_id``).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 22:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

OLD_KINDS = "kind IN ('card_recovery')"
NEW_KINDS = "kind IN ('card_recovery', 'staff_invite', 'password_reset')"


def upgrade() -> None:
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_version", sa.Integer(), server_default="0",
                                      nullable=False))
        batch_op.add_column(sa.Column("removed_at", sa.DateTime(), nullable=True))

    op.create_table(
        "staff_locations",
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["location_id"], ["locations.id"], ondelete="CASCADE",
                                name=op.f("fk_staff_locations_location_id_locations")),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], ondelete="CASCADE",
                                name=op.f("fk_staff_locations_staff_id_staff")),
        sa.PrimaryKeyConstraint("staff_id", "location_id", name=op.f("pk_staff_locations")),
    )
    op.create_table(
        "staff_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("purpose IN ('invite', 'reset')", name=op.f("ck_staff_links_purpose")),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"],
                                name=op.f("fk_staff_links_merchant_id_merchants")),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], ondelete="CASCADE",
                                name=op.f("fk_staff_links_staff_id_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_links")),
    )
    op.create_index(op.f("ix_staff_links_staff_id"), "staff_links", ["staff_id"])
    op.create_table(
        "staff_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("actor_staff_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("subject_staff_id", sa.Integer(), nullable=True),
        sa.Column("location_id", sa.Integer(), nullable=True),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["actor_staff_id"], ["staff.id"],
                                name=op.f("fk_staff_events_actor_staff_id_staff")),
        sa.ForeignKeyConstraint(["location_id"], ["locations.id"],
                                name=op.f("fk_staff_events_location_id_locations")),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"],
                                name=op.f("fk_staff_events_merchant_id_merchants")),
        sa.ForeignKeyConstraint(["subject_staff_id"], ["staff.id"],
                                name=op.f("fk_staff_events_subject_staff_id_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_events")),
    )
    op.create_index("ix_staff_events_merchant_id", "staff_events", ["merchant_id", "id"])

    with op.batch_alter_table("mails", schema=None) as batch_op:
        batch_op.alter_column("customer_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("staff_link_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_mails_staff_link_id_staff_links"),
                                    "staff_links", ["staff_link_id"], ["id"],
                                    ondelete="CASCADE")
        batch_op.drop_constraint(batch_op.f("ck_mails_kind"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_mails_kind"), sa.text(NEW_KINDS))


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM mails WHERE staff_link_id IS NOT NULL"))
    with op.batch_alter_table("mails", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_mails_kind"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_mails_kind"), sa.text(OLD_KINDS))
        batch_op.drop_constraint(batch_op.f("fk_mails_staff_link_id_staff_links"),
                                 type_="foreignkey")
        batch_op.drop_column("staff_link_id")
        batch_op.alter_column("customer_id", existing_type=sa.Integer(), nullable=False)
    op.drop_index("ix_staff_events_merchant_id", table_name="staff_events")
    op.drop_table("staff_events")
    op.drop_index(op.f("ix_staff_links_staff_id"), table_name="staff_links")
    op.drop_table("staff_links")
    op.drop_table("staff_locations")
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_column("removed_at")
        batch_op.drop_column("session_version")
