"""What a running Loyalpass holds: its config, database engine, sessions, wallet, rate
limits, and the wake-ups of its worker loops (one set per app: tests get fresh ones with
each app, and one app's commits never wake another's loops)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.config import Config
from app.outbox.wakeups import Wakeups
from app.wallet.service import Wallet

if TYPE_CHECKING:
    from app.delivery.loop import Loop
    from app.web.limits import RateLimits


@dataclass(frozen=True)
class Runtime:
    config: Config
    engine: Engine
    sessions: sessionmaker[Session]
    wallet: Wallet
    limits: RateLimits
    wakeups: Wakeups  # watching ``sessions`` (``Wakeups.watch``)
    workers: list[Loop] = field(default_factory=list)

    def stop_workers(self, timeout: float = 15.0) -> None:
        """Stop the loops and wait for the rounds in flight to end."""
        for worker in self.workers:
            worker.stop()
        for worker in self.workers:
            worker.join(timeout)
