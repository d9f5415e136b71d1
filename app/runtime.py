"""What a running Loyalpass holds: its config, database engine, sessions, wallet, the
wake-ups of its worker loops, the connections its purchases hold and the programs' terms
they read (one set per app: tests get fresh ones with each app, and one app's commits
never wake another's loops).

It sits below the web layer (``app.web.context.runtime`` reads it) and names nothing of
it: what only the web layer uses of an app, its rate limits and Google's root keys, the
web layer keeps in the app's extensions itself (``app.web.limits``, ``app.web.google``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.config import Config
from app.ledger.purchase_rows import ProgramTerms
from app.ledger.purchases import Lane
from app.outbox.wakeups import Wakeups
from app.sql import HeldConnections
from app.wallet.service import Wallet

if TYPE_CHECKING:
    from app.delivery.loop import Loop


@dataclass(frozen=True)
class Runtime:
    config: Config
    engine: Engine
    sessions: sessionmaker[Session]
    wallet: Wallet
    wakeups: Wakeups  # watching ``sessions`` (``Wakeups.watch``)
    held: HeldConnections  # to ``engine``'s database, closed with its ``dispose``
    terms: ProgramTerms
    workers: list[Loop] = field(default_factory=list)
    lane: Lane = field(init=False)  # what a purchase uses of the above: built once

    def __post_init__(self) -> None:
        object.__setattr__(self, "lane", Lane(self.held, self.terms, self.wakeups))

    def stop_workers(self, timeout: float = 15.0) -> None:
        """Stop the loops and wait for the rounds in flight to end."""
        for worker in self.workers:
            worker.stop()
        for worker in self.workers:
            worker.join(timeout)
