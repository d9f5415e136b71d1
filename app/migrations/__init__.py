"""Alembic migrations, run from inside the package (no alembic.ini needed).

``upgrade(engine)`` brings any database to the newest schema; ``loyalpass db upgrade`` and
``loyalpass serve`` call it. A test compares the migrated schema with the models.

On SQLite, changing a constraint means rebuilding the table (batch mode: copy, drop,
rename), and dropping a table that other rows point at fails while foreign keys are
enforced. So migrations run there with enforcement off, set before the transaction
begins (SQLite ignores the pragma inside one), as SQLite's procedure for altering tables
says; before the commit ``PRAGMA foreign_key_check`` must find nothing broken, or the
whole upgrade rolls back.

On PostgreSQL the upgrade is one transaction too, except where a migration builds indexes
``CONCURRENTLY`` (0015): its autocommit block commits what ran before it, and a failure
after that leaves the database at the last revision it reached.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

HERE = Path(__file__).resolve().parent


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(HERE))
    config.attributes["connection"] = connection
    return config


class BrokenForeignKeys(RuntimeError):
    """A migration left rows pointing at rows that are not there (SQLite)."""


def upgrade(engine: Engine, revision: str = "head") -> None:
    _migrate(engine, lambda config: command.upgrade(config, revision))


def downgrade(engine: Engine, revision: str) -> None:
    """Back to ``revision`` (tests of a migration start from the schema before it)."""
    _migrate(engine, lambda config: command.downgrade(config, revision))


def _migrate(engine: Engine, step: Callable[[AlembicConfig], None]) -> None:
    if engine.dialect.name != "sqlite":
        # Alembic begins the transaction itself (env.py), so that a migration's
        # autocommit block (CREATE INDEX CONCURRENTLY) can commit what ran before it.
        with engine.connect() as connection:
            step(alembic_config(connection))
            connection.commit()
        return
    with engine.connect() as connection:
        # Outside any transaction: the raw connection has not begun one yet.
        connection.connection.driver_connection.execute(  # type: ignore[union-attr]
            "PRAGMA foreign_keys = OFF")
        try:
            with connection.begin():
                step(alembic_config(connection))
                broken = connection.execute(text("PRAGMA foreign_key_check")).all()
                if broken:
                    raise BrokenForeignKeys(
                        f"the migration left {len(broken)} rows pointing at rows that are "
                        f"not there (first in table {broken[0][0]}); nothing was changed")
        finally:
            connection.connection.driver_connection.execute(  # type: ignore[union-attr]
                "PRAGMA foreign_keys = ON")


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
