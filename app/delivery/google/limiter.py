"""The shared request limit kept in the database, for deployments without Redis.

Each request adds one to the row of the current second (``INSERT … ON CONFLICT DO
UPDATE … RETURNING``, the same on PostgreSQL and SQLite) in a short transaction of its
own, so every worker process counts against the same window.
"""

from __future__ import annotations

import time
from typing import cast

from sqlalchemy import Table, delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine

from app.google_wallet.models import RateWindow
from app.integrations.ratelimit import WindowCount

WINDOWS = cast(Table, RateWindow.__table__)
KEEP_SECONDS = 60


class DatabaseWindowCounter:
    """A ``WindowCounter`` (see ``app.integrations.ratelimit``) on the rate_windows table."""

    def __init__(self, engine: Engine, name: str) -> None:
        self.engine = engine
        self.name = name
        dialect_insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
        statement = dialect_insert(WINDOWS)
        self._increment = statement.on_conflict_do_update(
            index_elements=["name", "window"],
            set_={"count": WINDOWS.c.count + 1},
        ).returning(WINDOWS.c.count)
        self._last_purge = 0

    def increment(self) -> WindowCount:
        now = time.time()
        window = int(now)
        with self.engine.begin() as connection:
            count = connection.scalar(self._increment,
                                      {"name": self.name, "window": window, "count": 1})
            if window - self._last_purge > KEEP_SECONDS:
                self._last_purge = window
                connection.execute(delete(WINDOWS).where(WINDOWS.c.name == self.name,
                                                         WINDOWS.c.window < window - 10))
        return WindowCount(window=window, count=int(count or 0), remaining=window + 1 - now)
