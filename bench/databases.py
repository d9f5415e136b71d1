"""Throw-away benchmark databases on a PostgreSQL server: each bench names its own with a
prefix, and a database is dropped only if its name carries that prefix (a mistyped URL
never drops anything else)."""

from __future__ import annotations

import uuid


def create_database(server: str, prefix: str) -> str:
    """A new, empty database ``{prefix}{random}`` on ``server`` (a URL without a
    database name); its URL."""
    from sqlalchemy import create_engine, text

    name = f"{prefix}{uuid.uuid4().hex[:10]}"
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{server}/{name}"


def drop_database(url: str, prefix: str) -> None:
    """Drop the database ``url`` names, its sessions ended, if its name has ``prefix``."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    server, name = url.rsplit("/", 1)
    if make_url(url).database != name or not name.startswith(prefix):
        raise ValueError(f"not a benchmark database of this bench ({prefix}…): {name}")
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
