"""The worker's loop that re-signs, after a secret key rotation, the passes handed out
before it (``app.cards.rotation``), at ``LOYALPASS_KEY_ROTATION_PER_MINUTE`` passes a
minute, and keeps the figure of passes still carrying an older key in ``/metrics``.

It runs in every worker process and in the inline worker; its rounds share one pace and
one position through the database, so several workers re-sign no faster than one. Its
pushes go out through the outbox like any change's. Commits do not wake it: it waits as
long as its round said (the pace), or ``IDLE`` once the rotation is over or paused.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from app.cards.rotation import progress, resign_round
from app.clock import utcnow
from app.delivery.loop import Loop
from app.metrics import PASSES_ON_OLD_KEYS
from app.secret_keys import SecretKeys

log = logging.getLogger("loyalpass.rotation")

IDLE = timedelta(minutes=1)  # between rounds once nothing is left (or the pace is 0)
COUNT_EVERY = 60.0  # seconds between counts of the passes left (a scan of the cards)


class KeyRotation(Loop):
    """Re-signs passes at the pace given; ``run_once`` is one round."""

    def __init__(self, sessions: sessionmaker[Session], *, keys: SecretKeys,
                 per_minute: int, name: str,
                 clock: Callable[[], datetime] = utcnow) -> None:
        super().__init__()
        self.sessions = sessions
        self.keys = keys
        self.per_minute = per_minute
        self.name = name
        self.clock = clock
        self.poll_interval = IDLE.total_seconds()
        self._counted_at = 0.0

    def run_once(self) -> int:
        with self.sessions() as session:
            done = resign_round(session, keys=self.keys, per_minute=self.per_minute,
                                now=self.clock())
        if done.resigned:
            log.info("%s: re-signed %d passes with key %s", self.name, done.resigned,
                     self.keys.current_id)
        self.count(force=done.finished)
        if done.wait is None:
            return 0  # over, or paused: the loop looks again in ``poll_interval``
        self._stopping.wait(min(done.wait, IDLE).total_seconds())  # the pace; stop ends it
        return 1

    def count(self, *, force: bool = False) -> None:
        """Set the metric of passes left, at most every ``COUNT_EVERY`` seconds."""
        if not force and time.monotonic() - self._counted_at < COUNT_EVERY:
            return
        self._counted_at = time.monotonic()
        with self.sessions() as session:
            left = progress(session, keys=self.keys, now=self.clock()).remaining
        PASSES_ON_OLD_KEYS.set(left)
