"""One running app's wake-ups (``app.runtime.Runtime.wakeups``): the worker loops to wake
in this process once a transaction that wrote to the outbox commits, and the pacing of
the purchases' NOTIFY.

Invariants: each app holds its own ``Wakeups``, so a commit in one app (one test) never
wakes another app's loops; the after-commit listeners sit on that app's ``sessionmaker``
(``watch``), not on SQLAlchemy's ``Session`` class, so sessions made elsewhere wake
nobody. A session asks to wake by setting ``PENDING_WAKE`` in its ``info``
(``app.outbox.messages.wake_after_commit``): a commit pops it and wakes, a rollback pops
it and wakes nobody. Nothing here depends on a wake-up arriving: the rows are in the
outbox either way, and the loops poll.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

NOTIFY_EVERY = 0.05  # seconds, per app, for purchases (``Wakeups.notify_due``)
LINGER = 0.2  # seconds a woken worker looks again after it ran out of work: > NOTIFY_EVERY
PENDING_WAKE = "loyalpass.outbox_written"  # in session.info: wake once this commits

Waker = Callable[[], None]


class Wakeups:
    """The loops of one app to wake after its commits, and its purchases' NOTIFY pacing."""

    def __init__(self, notify_every: float = NOTIFY_EVERY) -> None:
        self.notify_every = notify_every
        self._wakers: list[Waker] = []
        self._lock = threading.Lock()
        self._notified_at = -notify_every  # time.monotonic() of the last purchase NOTIFY

    def add(self, waker: Waker) -> None:
        with self._lock:
            self._wakers.append(waker)

    def remove(self, waker: Waker) -> None:
        with self._lock:
            if waker in self._wakers:
                self._wakers.remove(waker)

    def wake_now(self) -> None:
        """Wake this app's loops, for a writer that committed its outbox row without a
        session (and whose statement notified the other processes)."""
        with self._lock:
            wakers = list(self._wakers)
        for waker in wakers:
            waker()

    def notify_due(self) -> bool:
        """Whether a purchase should NOTIFY as it commits (``app.outbox.messages``)."""
        return time.monotonic() - self._notified_at >= self.notify_every

    def notify_sent(self) -> None:
        """A purchase's NOTIFY committed (not merely asked for: a write that did not
        commit notified nobody, and the next purchase notifies)."""
        self._notified_at = time.monotonic()

    def watch(self, sessions: sessionmaker[Session]) -> None:
        """Wake this app's loops after the commits of the sessions ``sessions`` makes."""
        event.listen(sessions, "after_commit", self._after_commit)
        event.listen(sessions, "after_rollback", _forget_after_rollback)

    def _after_commit(self, session: Session) -> None:
        if session.info.pop(PENDING_WAKE, False):
            self.wake_now()


def _forget_after_rollback(session: Session) -> None:
    session.info.pop(PENDING_WAKE, None)
