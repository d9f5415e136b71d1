"""offers that act at the till: a mechanic on the offer, the offer an entry names, coupons

``offers.mechanic`` (JSON, NULL for an offer that is text on the pass only) says what the
offer does at the till (``app.offers.mechanics``). ``ledger_entries.offer_id`` names the
offer whose mechanic gave a ``bonus`` entry or took it back in a ``reverse`` one, with a
partial index over the entries that name one (few, on a large table: built
``CONCURRENTLY`` on PostgreSQL, and its foreign key added ``NOT VALID`` then validated,
so that purchases keep being written meanwhile). ``coupon_redemptions``: each coupon a
card used, once per offer and card. Existing rows keep NULL: no entry came from an offer.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 01:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

ENTRY_OFFER_KEY = "fk_ledger_entries_offer_id_offers"
ENTRY_OFFER_INDEX = "ix_ledger_entries_offer_id"


def upgrade() -> None:
    op.add_column("offers", sa.Column("mechanic", sa.JSON(), nullable=True))
    op.create_table(
        "coupon_redemptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column("purchase_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["card_id"], ["cards.id"],
                                name=op.f("fk_coupon_redemptions_card_id_cards")),
        sa.ForeignKeyConstraint(["offer_id"], ["offers.id"],
                                name=op.f("fk_coupon_redemptions_offer_id_offers")),
        sa.ForeignKeyConstraint(["purchase_id"], ["purchases.id"],
                                name=op.f("fk_coupon_redemptions_purchase_id_purchases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupon_redemptions")),
        sa.UniqueConstraint("offer_id", "card_id", name="uq_coupon_redemptions_offer_card"),
    )
    op.create_index("ix_coupon_redemptions_card_id", "coupon_redemptions", ["card_id"])
    op.create_index("ix_coupon_redemptions_purchase_id", "coupon_redemptions",
                    ["purchase_id"])
    if op.get_bind().dialect.name != "postgresql":
        with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
            batch_op.add_column(sa.Column("offer_id", sa.Integer(), nullable=True))
            batch_op.create_foreign_key(ENTRY_OFFER_KEY, "offers", ["offer_id"], ["id"])
        op.create_index(ENTRY_OFFER_INDEX, "ledger_entries", ["offer_id"],
                        sqlite_where=sa.text("offer_id IS NOT NULL"))
        return
    op.add_column("ledger_entries", sa.Column("offer_id", sa.Integer(), nullable=True))
    op.execute(f"ALTER TABLE ledger_entries ADD CONSTRAINT {ENTRY_OFFER_KEY}"
               " FOREIGN KEY (offer_id) REFERENCES offers (id) NOT VALID")
    with op.get_context().autocommit_block():
        op.execute(f"ALTER TABLE ledger_entries VALIDATE CONSTRAINT {ENTRY_OFFER_KEY}")
        # A build that failed half way leaves an invalid index of this name behind.
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {ENTRY_OFFER_INDEX}")
        op.execute(f"CREATE INDEX CONCURRENTLY {ENTRY_OFFER_INDEX} ON ledger_entries"
                   " (offer_id) WHERE offer_id IS NOT NULL")


def downgrade() -> None:
    op.drop_index(ENTRY_OFFER_INDEX, table_name="ledger_entries")
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_constraint(ENTRY_OFFER_KEY, type_="foreignkey")
        batch_op.drop_column("offer_id")
    op.drop_index("ix_coupon_redemptions_purchase_id", table_name="coupon_redemptions")
    op.drop_index("ix_coupon_redemptions_card_id", table_name="coupon_redemptions")
    op.drop_table("coupon_redemptions")
    op.drop_column("offers", "mechanic")
