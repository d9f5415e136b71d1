"""a purchase updates its card without touching the card's indexes

Every purchase updates its card's row (balance, visits, spend, the pass's stamps).
PostgreSQL can update a row in place of its page ("HOT"), with no new entry in any of the
table's indexes, when no indexed column changes and the page has room for the new
version. The stats index ``ix_cards_program_location_figures`` (0026) included
``balance``, so every purchase changed an indexed column and wrote a new entry into each
of the ten indexes of ``cards``: at a million cards their pages are not in memory, and the
index writes were most of what made a purchase dearer there than on a small program.

- The index now includes ``tier`` and ``status`` only: what the worker's card counts read
  (``app.analytics.reach``). The points outstanding come from the stats' summaries since
  0027; only a program not summed up yet adds its cards' balances from the table.
- ``cards`` is filled to 90 % (``fillfactor``), so a page keeps room for the next version
  of its rows. That applies to pages written from now on: a card on a page filled before
  takes one more update with index entries, after which its page has room.

Measured with ``bench/pos.py --scale-url`` on 1,000,000 cards: HOT updates 8 % of the
cards' updates before, 77-80 % after, PostgreSQL's CPU per purchase 0.99 ms to 0.87 ms.

Built ``CONCURRENTLY`` outside the migration's transaction, as 0026 does: a live table
keeps taking purchases meanwhile, and the old index is dropped once the new one is built.
SQLite has no ``INCLUDE`` and no fill factor: nothing changes there.

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-05 16:40:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None

INDEX = "ix_cards_program_location_figures"
BUILDING = "_building"
FILLFACTOR = 90  # the model's (``app.cards.models.CARDS_FILLFACTOR``) when this was written


def _replace_index(included: str) -> None:
    with op.get_context().autocommit_block():
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}{BUILDING}")
        op.execute(f"CREATE INDEX CONCURRENTLY {INDEX}{BUILDING} ON cards"
                   f" (program_id, location_id) INCLUDE ({included})")
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")
        op.execute(f"ALTER INDEX {INDEX}{BUILDING} RENAME TO {INDEX}")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE cards SET (fillfactor = {FILLFACTOR})")
    _replace_index("tier, status")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE cards RESET (fillfactor)")
    _replace_index("balance, tier, status")
