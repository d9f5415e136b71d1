"""fraud patterns: where a card was joined from, alerts with evidence, the detector's cursors

``purchases.staff_id`` names the member at the dashboard's cashier screen (a key's
purchases name the key), so that a cashier is known even for a purchase that posted no
entry. ``cards.enrolled_from`` keeps a keyed digest of the address the join form was sent from
(``app.cards.attribution.enrolment_origin``; null for every card before, and for those the
merchant enrols), with an index to count a program's cards joined from one origin in a
while. ``alerts`` gain the staff member at the till, the evidence (JSON) and a key that
makes one pattern in one period one alert (unique per merchant; null for the velocity
refusals, which PostgreSQL and SQLite both let repeat). ``programs.fraud`` holds the
detector's thresholds ({} : every default). ``fraud_cursors`` say how far the detector
has read purchases, ledger entries and cards; starting at 0 it reads all history once.

The cards index is built ``CONCURRENTLY`` on PostgreSQL (as in 0015): a live table of a
million cards keeps taking enrolments while it builds. Adding the nullable column takes
no rewrite.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05 01:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

CARD_INDEX = "ix_cards_enrolled_from"
CARD_INDEX_TARGET = "cards (program_id, enrolled_from, created_at)"


def upgrade() -> None:
    _purchases_staff()
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.add_column(sa.Column("enrolled_from", sa.String(length=32), nullable=True))
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("staff_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("evidence", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("dedupe_key", sa.String(length=200), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_alerts_staff_id_staff"), "staff",
                                    ["staff_id"], ["id"])
        batch_op.create_index("uq_alerts_merchant_dedupe_key", ["merchant_id", "dedupe_key"],
                              unique=True)
    with op.batch_alter_table("programs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fraud", sa.JSON(), server_default="{}", nullable=False))
    op.create_table(
        "fraud_cursors",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_fraud_cursors")),
    )
    if op.get_bind().dialect.name != "postgresql":
        op.execute(f"CREATE INDEX {CARD_INDEX} ON {CARD_INDEX_TARGET}")
        return
    with op.get_context().autocommit_block():
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {CARD_INDEX}")
        op.execute(f"CREATE INDEX CONCURRENTLY {CARD_INDEX} ON {CARD_INDEX_TARGET}")


def _purchases_staff() -> None:
    """``purchases.staff_id``: on PostgreSQL the column takes no rewrite and its foreign key
    is checked without blocking writes (NOT VALID, then VALIDATE: every row is null)."""
    if op.get_bind().dialect.name != "postgresql":
        with op.batch_alter_table("purchases", schema=None) as batch_op:
            batch_op.add_column(sa.Column("staff_id", sa.Integer(), nullable=True))
            batch_op.create_foreign_key(batch_op.f("fk_purchases_staff_id_staff"), "staff",
                                        ["staff_id"], ["id"])
        return
    op.execute("ALTER TABLE purchases ADD COLUMN staff_id integer")
    op.execute("ALTER TABLE purchases ADD CONSTRAINT fk_purchases_staff_id_staff"
               " FOREIGN KEY (staff_id) REFERENCES staff (id) NOT VALID")
    op.execute("ALTER TABLE purchases VALIDATE CONSTRAINT fk_purchases_staff_id_staff")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {CARD_INDEX}")
    else:
        op.execute(f"DROP INDEX {CARD_INDEX}")
    op.drop_table("fraud_cursors")
    # In place on SQLite too: a rebuilt ``programs`` would keep ``contact``'s check as a
    # table constraint, which 0010's in-place drop of the column then trips over.
    op.drop_column("programs", "fraud")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("uq_alerts_merchant_dedupe_key")
        batch_op.drop_constraint(batch_op.f("fk_alerts_staff_id_staff"), type_="foreignkey")
        batch_op.drop_column("dedupe_key")
        batch_op.drop_column("evidence")
        batch_op.drop_column("staff_id")
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.drop_column("enrolled_from")
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_purchases_staff_id_staff"), type_="foreignkey")
        batch_op.drop_column("staff_id")
