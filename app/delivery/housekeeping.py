"""The worker's periodic jobs: what is held only for a while is let go when its while
is over, what comes due at a time happens, and what is derived daily is derived again.
The jobs: recovery links past their lifetime lose the contact details they proposed and
the client's address (``app.cards.recovery.purge_expired_links``); scheduled offers whose
start has come are published, and offers whose end has passed leave their passes
(``app.offers.schedule``); every program's RFM segments older than a day are computed
again (``app.analytics.segments.refresh_due``: each program locked while it is computed,
so two workers never compute one at once and the second skips it).

The loop runs beside the channels' loops in every worker process and in the inline
worker: a round as it starts, then one about every ``every``; commits do not wake it (its
work comes due with time, not with writes). Each job is idempotent (one statement, or
offers claimed one at a time by a guarded update), so several workers running it at
once do no harm.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from app.analytics.segments import refresh_due
from app.cards.recovery import purge_expired_links
from app.delivery.loop import Loop
from app.offers.schedule import end_due_offers, publish_due_offers

log = logging.getLogger("loyalpass.housekeeping")

# Links live half an hour (``recovery.LINK_LIFETIME``): what an expired one proposed is
# gone at most this long after it expired; an offer starts or ends at most this late.
HOUSEKEEPING_EVERY = timedelta(minutes=1)


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
            published = publish_due_offers(session)
            ended = end_due_offers(session)
        if purged:
            log.info("%s: erased the proposed details of %d expired recovery links",
                     self.name, purged)
        if published or ended:
            log.info("%s: published %d scheduled offers, ended %d", self.name, published,
                     ended)
        with self.sessions() as session:
            refreshed = [done for done in refresh_due(session) if done.ran]
        for done in refreshed:
            log.info("%s: computed the segments of program %d (%d cards)",
                     self.name, done.program_id, done.cards)
        return 0  # nothing more is due until the next round
