"""The worker's periodic jobs: what is held only for a while is let go when its while
is over, what comes due at a time happens, what is derived daily is derived again, and
what happened since the last round is looked at for fraud. The jobs: recovery links past
their lifetime lose the contact details they proposed and the client's address
(``app.cards.recovery.purge_expired_links``); scheduled offers whose start has come are
published, and offers whose end has passed leave their passes (``app.offers.schedule``);
every program's RFM segments older than a day are computed again
(``app.analytics.segments.refresh_due``: each program locked while it is computed, so two
workers never compute one at once and the second skips it); every program's days that are
over are rolled up into the stats' summaries and its cards counted every few minutes
(``app.analytics.rollup.roll_up_due``, each program locked likewise); the fraud detector
reads the
purchases, entries and cards new since its last round and raises alerts
(``app.ledger.fraud_detector.detect_fraud``, up to ``DETECTION_BATCHES`` batches a round);
once a day the log warns of certificates that do not load or expire within weeks
(``app.wallet.expiry``; the start warned already); outbox rows fanned out more than a week
ago are deleted (``app.delivery.fanout.purge_done``, up to ``PURGE_BATCHES`` batches a
round), and so are passes signed ahead past their time
(``app.devices.signing_ahead.forget_signed``, as many batches).

The loop runs beside the channels' loops in every worker process and in the inline
worker: a round as it starts, then one about every ``every``; commits do not wake it (its
work comes due with time, not with writes). Each job is idempotent (one statement, offers
claimed one at a time by a guarded update, the detector's cursors and dedupe keys), so
several workers running it at once do no harm.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from app.analytics.rollup import roll_up_due
from app.analytics.segments import refresh_due
from app.cards.recovery import purge_expired_links
from app.config import Config
from app.delivery.fanout import PURGE_BATCH, purge_done
from app.delivery.loop import Loop
from app.devices.signing_ahead import FORGET_BATCH, forget_signed
from app.ledger.fraud_detector import Detected, detect_fraud
from app.offers.schedule import end_due_offers, publish_due_offers
from app.wallet.expiry import log_certificate_warnings

log = logging.getLogger("loyalpass.housekeeping")

# Links live half an hour (``recovery.LINK_LIFETIME``): what an expired one proposed is
# gone at most this long after it expired; an offer starts or ends at most this late.
HOUSEKEEPING_EVERY = timedelta(minutes=1)
# A round reads at most this many batches (``fraud_detector.BATCH`` ids of each table):
# a long history is caught up over several rounds (run back to back), each short enough
# that the loop stops promptly when asked.
DETECTION_BATCHES = 20
CERTIFICATES_EVERY = timedelta(days=1)  # how often the log warns of expiring certificates
PURGE_BATCHES = 10  # of ``fanout.PURGE_BATCH`` outbox rows: a backlog clears over rounds


class Housekeeping(Loop):
    """Runs the periodic jobs; ``run_once`` is one round of all of them."""

    def __init__(self, sessions: sessionmaker[Session], *, name: str,
                 every: timedelta = HOUSEKEEPING_EVERY, config: Config | None = None,
                 certificates_every: timedelta = CERTIFICATES_EVERY,
                 outbox_batch: int = PURGE_BATCH, outbox_batches: int = PURGE_BATCHES
                 ) -> None:
        super().__init__()
        self.sessions = sessions
        self.name = name
        self.poll_interval = every.total_seconds()
        self.config = config  # None: no certificate reminders (tests of the other jobs)
        self.certificates_every = certificates_every.total_seconds()
        self.outbox_batch, self.outbox_batches = outbox_batch, outbox_batches
        # The start has just warned (``create_app``): the first reminder is a day on.
        self.certificates_due = time.monotonic() + self.certificates_every

    def run_once(self) -> int:
        self.remind_certificates()
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
        with self.sessions() as session:
            rounds = roll_up_due(session)
        rolled = [each for each in rounds if each.days]
        for each in rolled:
            log.info("%s: rolled %d days of program %d up into its stats' summaries",
                     self.name, each.days, each.program_id)
        purged_outbox, more_outbox = self.purge_outbox()
        if purged_outbox:
            log.info("%s: deleted %d outbox rows fanned out over a week ago", self.name,
                     purged_outbox)
        forgotten, more_signed = self.forget_signed()
        if forgotten:
            log.info("%s: deleted %d passes signed ahead past their time", self.name,
                     forgotten)
        detected = self.detect()
        if detected.raised:
            log.info("%s: raised %d fraud alerts", self.name, detected.raised)
        # Busy while the detector has settled rows left or a program has days left to roll
        # up (a long history after the upgrade, a burst of sales): the loop runs again at
        # once instead of in ``every``.
        return 1 if (detected.more or more_outbox or more_signed
                     or any(each.more for each in rounds)) else 0

    def purge_outbox(self) -> tuple[int, bool]:
        """Up to ``outbox_batches`` batches of old fanned-out rows deleted: how many, and
        whether more may remain."""
        return self._in_batches(lambda session: purge_done(session, batch=self.outbox_batch),
                                self.outbox_batch, self.outbox_batches)

    def forget_signed(self) -> tuple[int, bool]:
        """Up to ``PURGE_BATCHES`` batches of passes signed ahead past their time deleted:
        how many, and whether more may remain."""
        return self._in_batches(forget_signed, FORGET_BATCH, PURGE_BATCHES)

    def _in_batches(self, delete: Callable[[Session], int], batch: int, batches: int
                    ) -> tuple[int, bool]:
        """``delete`` run up to ``batches`` times, each batch of at most ``batch`` rows
        committed on its own: how many rows, and whether a full last batch left more."""
        deleted = 0
        with self.sessions() as session:
            for _ in range(batches):
                done = delete(session)
                session.commit()
                deleted += done
                if done < batch:
                    return deleted, False
        return deleted, True

    def remind_certificates(self) -> None:
        """The daily warnings of certificates that need attention, when one is due."""
        if self.config is None or time.monotonic() < self.certificates_due:
            return
        self.certificates_due = time.monotonic() + self.certificates_every
        log_certificate_warnings(self.config)

    def detect(self) -> Detected:
        """Up to ``DETECTION_BATCHES`` rounds of the fraud detector, fewer once it has
        read everything settled: how many alerts they raised, and whether rows remain."""
        raised = 0
        with self.sessions() as session:
            for _ in range(DETECTION_BATCHES):
                detected = detect_fraud(session)
                raised += detected.raised
                if not detected.more:
                    break
        return Detected(raised=raised, more=detected.more)
