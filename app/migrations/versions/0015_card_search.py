"""card search: the indexes that find a program's cards by name, email, phone or number

``GET /api/v1/programs/{id}/cards?q=`` (``app.cards.search``) lists a program's cards
newest first and matches fragments of names and emails and the end of a phone number.
On PostgreSQL:

- ``pg_trgm`` (a trusted extension: the database's owner may create it) and a trigram GIN
  index on ``lower(customers.name)`` and one on ``lower(customers.email)``, which serve
  ``LIKE '%fragment%'`` in any script (given a database whose LC_CTYPE knows it:
  ``C.UTF-8`` or ``xx_XX.UTF-8``; under plain ``C``, lower() and pg_trgm know ASCII only);
- a btree on ``(merchant_id, reverse(phone))`` (``text_pattern_ops``, so that a
  ``LIKE 'prefix%'`` may use it under any collation): the reversed digits' prefix is the
  number's end, which is what a cashier types;
- btrees on ``cards (program_id, id)`` and ``(program_id, location_id, id)`` for the
  newest-first pages of a program, and of a location's own cards.

Every index is built ``CONCURRENTLY``, outside the migration's transaction (Alembic's
autocommit block): a live table with a million cards keeps taking purchases and
enrolments while they build (37 to 53 s for a million customers and cards, measured by
bench/search.py). Then the trigram indexes get finer statistics and both tables are
analyzed, so that the planner knows how common a fragment is from the first search.
What ran before the block is committed as it starts. An index left invalid by a failed
build is dropped first when the migration runs again.
SQLite gets only the two ``cards`` indexes (it matches fragments by scanning; the
search's results are the same there).

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-04 22:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

CARD_INDEXES = {
    "ix_cards_program_id_id": "cards (program_id, id)",
    "ix_cards_program_id_location_id_id": "cards (program_id, location_id, id)",
}
CUSTOMER_INDEXES = {
    "ix_customers_name_trigrams": "customers USING gin (lower(name) gin_trgm_ops)",
    "ix_customers_email_trigrams": "customers USING gin (lower(email) gin_trgm_ops)",
    # Not partial: PostgreSQL estimates a condition from an index's statistics only when
    # the index is whole, and a guess of 0.5% made it walk every card for one phone.
    "ix_customers_phone_reversed": "customers (merchant_id, reverse(phone) text_pattern_ops)",
}
# Statistics of the indexed texts, 10 times finer than PostgreSQL's default: how many
# names hold a fragment is estimated from a sample of them, and at 100 a surname borne
# by one customer in a hundred was taken for a rare one (the search then fetched each
# of the 13,000 instead of walking the newest cards: 124 ms instead of 4).
FINE_STATISTICS = ("ix_customers_name_trigrams", "ix_customers_email_trigrams")
STATISTICS_TARGET = 1000


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        for name, target in CARD_INDEXES.items():
            op.execute(f"CREATE INDEX {name} ON {target}")
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    with op.get_context().autocommit_block():
        for name, target in {**CARD_INDEXES, **CUSTOMER_INDEXES}.items():
            # A build that failed half way leaves an invalid index of this name behind.
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
            op.execute(f"CREATE INDEX CONCURRENTLY {name} ON {target}")
        for name in FINE_STATISTICS:
            op.execute(f"ALTER INDEX {name} ALTER COLUMN 1 SET STATISTICS {STATISTICS_TARGET}")
        # The planner knows nothing of the new expressions until they are analyzed, and
        # autovacuum analyzes only after many rows change; ANALYZE blocks no writes.
        op.execute("ANALYZE customers")
        op.execute("ANALYZE cards")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        for name in CARD_INDEXES:
            op.execute(f"DROP INDEX {name}")
        return
    with op.get_context().autocommit_block():
        for name in {**CARD_INDEXES, **CUSTOMER_INDEXES}:
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
    # pg_trgm stays: other objects may have come to use it since.
