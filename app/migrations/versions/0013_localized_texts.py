"""texts per language: a program's name, reward text and terms, an offer's title and body

Each plain column keeps the text in the program's first language (every reader that
wants one string goes on reading it); a nullable JSON column beside it holds
``{language: text}`` when the merchant wrote one per language. Rows from before read as
they did: NULL means the one string is every language's.

Tiers live in ``programs.tiers`` (JSON): each gains a ``key``, the tier's identity that
``cards.tier`` stores and offers target, filled here from its name (the identity it had).
A tier's ``name`` may then be an object of languages. Downgrading puts the key back as the
name (a string, as the old code reads it) and drops the per-language columns; the plain
columns still hold the first language's texts.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

COLUMNS = {"programs": ("name_texts", "reward_texts", "terms_texts"),
           "offers": ("title_texts", "body_texts")}
PROGRAMS = sa.table("programs", sa.column("id", sa.Integer), sa.column("tiers", sa.JSON))


def _rewrite_tiers(change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    connection = op.get_bind()
    for row in connection.execute(sa.select(PROGRAMS.c.id, PROGRAMS.c.tiers)).mappings():
        tiers = row["tiers"] or []
        connection.execute(sa.update(PROGRAMS).where(PROGRAMS.c.id == row["id"])
                           .values(tiers=[change(dict(tier)) for tier in tiers]))


def _keyed(tier: dict[str, Any]) -> dict[str, Any]:
    return {"key": str(tier.get("key") or tier["name"]), **tier}


def _named_by_key(tier: dict[str, Any]) -> dict[str, Any]:
    key = tier.pop("key", None)
    return {**tier, "name": str(key or tier["name"])}


def upgrade() -> None:
    for table, columns in COLUMNS.items():
        for column in columns:
            op.add_column(table, sa.Column(column, sa.JSON(), nullable=True))
    _rewrite_tiers(_keyed)


def downgrade() -> None:
    _rewrite_tiers(_named_by_key)
    # In place (SQLite's ALTER TABLE DROP COLUMN): rebuilding ``programs`` would drop the
    # table every card, location and offer refers to.
    for table, columns in COLUMNS.items():
        for column in columns:
            op.drop_column(table, column)
