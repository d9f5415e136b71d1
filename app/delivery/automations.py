"""The worker's loop for automatic offers (``app.automations``): a run as it starts and
about every ``AUTOMATIONS_EVERY`` after; commits do not wake it (its occasions come due
with time). Several workers may run it at once: each send is recorded once
(``automation_sends`` is unique per rule, card and occasion), and the loser of a race
sends nothing.

The clock and the reward-budget predicate are parameters: tests pass their own, and the
app's workers pass ``app.analytics.budget.over_budget`` (the last 30 days' reward cost
against the program's ``reward_budget_percent``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from app.automations.runner import OverBudget, never_over_budget, run_automations
from app.clock import utcnow
from app.delivery.loop import Loop

log = logging.getLogger("loyalpass.automations")

# Occasions come due by the day (a birthday, days away): an hourly run is soon enough,
# and it reads each program's candidates a quarter as often as a run every 15 minutes.
AUTOMATIONS_EVERY = timedelta(hours=1)


class Automations(Loop):
    """Runs every program's automatic offers; ``run_once`` is one run."""

    def __init__(self, sessions: sessionmaker[Session], *, name: str,
                 every: timedelta = AUTOMATIONS_EVERY,
                 clock: Callable[[], datetime] = utcnow,
                 over_budget: OverBudget = never_over_budget) -> None:
        super().__init__()
        self.sessions = sessions
        self.name = name
        self.poll_interval = every.total_seconds()
        self.clock = clock
        self.over_budget = over_budget

    def run_once(self) -> int:
        with self.sessions() as session:
            summary = run_automations(session, now=self.clock(), over_budget=self.over_budget)
        if summary.sent or summary.held_out:
            log.info("%s: %d automatic offers sent, %d held out, %d waiting for the cap",
                     self.name, summary.sent, summary.held_out, summary.capped)
        return 0  # nothing more is due until the next round
