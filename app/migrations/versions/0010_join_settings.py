"""join settings: required contact, birthday, terms and privacy; details a returning
customer typed, kept on their recovery link

``programs`` gains ``contact`` (which contact the join form requires: email, phone,
either or both; existing programs keep "either", the rule they had), ``ask_birthday``,
``terms_url``, ``privacy`` and ``privacy_url``; ``customers`` gain ``birthday``;
``card_recovery_links`` gain the ``proposed_*`` details offered to the mailbox's owner.
Programs in hryvnias without a country get "UA", which a program created now gets by
default (``app.merchants.service.default_country``), so customers of existing programs
may type local numbers too.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


CONTACT_CHECK = "contact IN ('email', 'phone', 'either', 'both')"


def upgrade() -> None:
    # Columns are added in place on SQLite too (ALTER TABLE ... ADD COLUMN, with the check
    # on the column): rebuilding ``programs`` would drop the old table, which its cards
    # and locations reference while foreign keys are on.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE programs ADD COLUMN contact VARCHAR(8) DEFAULT 'either' "
                   f"NOT NULL CONSTRAINT ck_programs_contact CHECK ({CONTACT_CHECK})")
    else:
        op.add_column("programs", sa.Column("contact", sa.String(length=8), nullable=False,
                                            server_default="either"))
        op.create_check_constraint(op.f("ck_programs_contact"), "programs", CONTACT_CHECK)
    op.add_column("programs", sa.Column("ask_birthday", sa.Boolean(), nullable=False,
                                        server_default=sa.false()))
    op.add_column("programs", sa.Column("terms_url", sa.String(length=500), nullable=True))
    op.add_column("programs", sa.Column("privacy", sa.Text(), nullable=False,
                                        server_default=""))
    op.add_column("programs", sa.Column("privacy_url", sa.String(length=500), nullable=True))
    op.execute("UPDATE programs SET country = 'UA' WHERE country IS NULL AND currency = 'UAH'")
    op.add_column("customers", sa.Column("birthday", sa.Date(), nullable=True))
    op.add_column("card_recovery_links",
                  sa.Column("proposed_name", sa.String(length=200), nullable=True))
    op.add_column("card_recovery_links",
                  sa.Column("proposed_email", sa.String(length=320), nullable=True))
    op.add_column("card_recovery_links",
                  sa.Column("proposed_phone", sa.String(length=32), nullable=True))
    op.add_column("card_recovery_links",
                  sa.Column("proposed_birthday", sa.Date(), nullable=True))
    op.add_column("card_recovery_links",
                  sa.Column("proposed_consent", sa.Boolean(), nullable=False,
                            server_default=sa.false()))


def downgrade() -> None:
    # Dropped in place (SQLite 3.35+ drops a column with its own check), for the same
    # reason as above.
    for column in ("proposed_consent", "proposed_birthday", "proposed_phone",
                   "proposed_email", "proposed_name"):
        op.drop_column("card_recovery_links", column)
    op.drop_column("customers", "birthday")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(op.f("ck_programs_contact"), "programs", type_="check")
    for column in ("privacy_url", "privacy", "terms_url", "ask_birthday", "contact"):
        op.drop_column("programs", column)
