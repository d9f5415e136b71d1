"""The worker's periodic jobs: what is held only for a while is let go when its while
is over, and what is derived daily is derived again. The jobs: recovery links past their
lifetime lose the contact details they proposed and the client's address
(``app.cards.recovery.purge_expired_links``); every program's RFM segments older than a
day are computed again (``app.analytics.segments.refresh_due``: each program locked while
it is computed, so two workers never compute one at once and the second skips it).

The loop runs beside the channels' loops in every worker process and in the inline
worker: a round as it starts, then one about every ``every``; commits do not wake it (its
work comes due with time, not with writes). Each job is idempotent, so several workers
running it at once do no harm.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from app.analytics.segments import refresh_due
from app.cards.recovery import purge_expired_links
from app.delivery.loop import Loop

log = logging.getLogger("loyalpass.housekeeping")

# Links live half an hour (``recovery.LINK_LIFETIME``): what an expired one proposed is
# gone at most this long after it expired.
HOUSEKEEPING_EVERY = timedelta(minutes=5)


class Housekeeping(Loop):
    """Runs the periodic jobs; ``run_once`` is one round of all of them."""

    def __init__(self, sessions: sessionmaker[Session], *, name: str,
                 every: timedelta = HOUSEKEEPING_EVERY) -> None:
        super().__init__()
        self.sessions = sessions
        self.name = name
        self.poll_interval = every.total_seconds()

    def run_once(self) -> int:
        with self.sessions() as session:
            purged = purge_expired_links(session)
        if purged:
            log.info("%s: erased the proposed details of %d expired recovery links",
                     self.name, purged)
        with self.sessions() as session:
            refreshed = [done for done in refresh_due(session) if done.ran]
        for done in refreshed:
            log.info("%s: computed the segments of program %d (%d cards)",
                     self.name, done.program_id, done.cards)
        return 0  # nothing more is due until the next round
