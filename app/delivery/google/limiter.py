"""The shared request limit kept in the database, for deployments without Redis.

``DatabaseSlotReserver`` keeps one row per limit in ``rate_slots``: the moment (Unix
microseconds) from which the next request may go. Each request moves it on by one
interval and takes the slot it held (``INSERT … ON CONFLICT DO UPDATE … RETURNING``, the
same on PostgreSQL and SQLite) in a short transaction of its own, so every worker
process is spaced on one schedule and no sliding second holds more than the rate
(``app.integrations.ratelimit.SlotLimiter``). Time is each machine's clock, as for the
leases: keep the clocks in step (NTP).

``DatabaseWindowCounter`` counts requests per second of the clock in ``rate_windows``
(the limit before the slots; a count per clock second lets two bursts meet across its
edge).
"""

from __future__ import annotations

import time
from typing import cast

from sqlalchemy import BigInteger, Table, bindparam, delete, func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine

from app.google_wallet.models import RateSlot, RateWindow
from app.integrations.ratelimit import WindowCount

WINDOWS = cast(Table, RateWindow.__table__)
SLOTS = cast(Table, RateSlot.__table__)
KEEP_SECONDS = 60


class DatabaseSlotReserver:
    """A ``SlotReserver`` (see ``app.integrations.ratelimit``) on the rate_slots table."""

    def __init__(self, engine: Engine, name: str) -> None:
        self.engine = engine
        self.name = name
        postgres = engine.dialect.name == "postgresql"
        later = func.greatest if postgres else func.max  # SQLite's max() of two is scalar
        now = bindparam("now", type_=BigInteger())
        step = bindparam("step", type_=BigInteger())
        statement = (pg_insert if postgres else sqlite_insert)(SLOTS).values(
            name=bindparam("name"), next_slot=now + step)
        # The slot taken is the one the row held (or now, if that is past); the row moves
        # on by one step.
        self._reserve = statement.on_conflict_do_update(
            index_elements=["name"], set_={"next_slot": later(SLOTS.c.next_slot, now) + step},
        ).returning(SLOTS.c.next_slot)

    def reserve(self, interval: float) -> float:
        now = round(time.time() * 1_000_000)
        step = round(interval * 1_000_000)
        with self.engine.begin() as connection:
            following = connection.scalar(self._reserve,
                                          {"name": self.name, "now": now, "step": step})
        return (int(following or 0) - step - now) / 1_000_000


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
