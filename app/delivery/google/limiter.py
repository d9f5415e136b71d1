"""The shared request limit kept in the database, for deployments without Redis.

``DatabaseSlotReserver`` keeps one row per limit in ``rate_slots``: the moment (Unix
microseconds) from which the next request may go. Each request moves it on by one
interval and takes the slot it held (``INSERT … ON CONFLICT DO UPDATE … RETURNING``, the
same on PostgreSQL and SQLite) in a short transaction of its own, so every worker
process is spaced on one schedule and no sliding second holds more than the rate
(``app.integrations.ratelimit.SlotLimiter``). Time is each machine's clock, as for the
leases: keep the clocks in step (NTP).
"""

from __future__ import annotations

import time
from typing import cast

from sqlalchemy import BigInteger, Table, bindparam, func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine

from app.google_wallet.models import RateSlot

SLOTS = cast(Table, RateSlot.__table__)


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
