"""The loop every delivery channel runs in, woken right after commits, and the
PostgreSQL listener that wakes it from other processes.

Run as ``loyalpass worker`` (any number of processes on PostgreSQL, woken by
``LISTEN/NOTIFY``) or, with ``LOYALPASS_WORKER=inline``, as a thread of the web process
woken in-process after each commit. A loop that was woken, or found work, looks once
more ``LINGER`` after it runs out (purchases notify at most every ``NOTIFY_EVERY``: see
``app.outbox.wakeups``). It also polls every ``poll_interval`` seconds for retries that come
due and leases that ran out. ``stop()`` lets the batch in flight finish (its pushes are
sent and recorded) before the loop ends.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from app.db import describe_error
from app.outbox.messages import NOTIFY_CHANNEL
from app.outbox.wakeups import LINGER, Wakeups

log = logging.getLogger("loyalpass.worker")

C = TypeVar("C", bound="Channel")


class Loop:
    """A worker loop: runs ``run_once`` until idle, then waits for a wake-up or the poll."""

    name = "loop"
    poll_interval = 1.0

    def __init__(self) -> None:
        self._wake = threading.Event()
        self._stopping = threading.Event()
        # The app's, whose commits wake this loop while it runs (``make_workers``).
        self.wakeups: Wakeups | None = None

    def run_once(self) -> int:
        raise NotImplementedError

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def run(self) -> None:
        wakeups = self.wakeups
        if wakeups is not None:
            wakeups.add(self.wake)
        lately = True  # woken, or busy, since the last long wait: look again after LINGER
        try:
            while not self.stopping:
                self._wake.clear()
                try:
                    busy = self.run_once()
                except DBAPIError as error:
                    # A deadlock, a lost connection, a locked SQLite: try again shortly.
                    log.warning("%s: database error, retrying: %s", self.name,
                                describe_error(error))
                    busy = 0
                    time.sleep(0.2)
                except Exception:
                    # A bug or a broken setting must not end the loop: the work stays
                    # leased or pending in the database and is tried again.
                    log.exception("%s: round failed; trying again shortly", self.name)
                    busy = 0
                    self._stopping.wait(1.0)
                if busy:
                    lately = True
                elif lately:
                    lately = self._wake.wait(LINGER)
                else:
                    lately = self._wake.wait(self.poll_interval)
        finally:
            if wakeups is not None:
                wakeups.remove(self.wake)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name=f"loyalpass-{self.name}", daemon=True)
        thread.start()
        self._thread = thread
        return thread

    def join(self, timeout: float | None = None) -> None:
        """Wait for the thread ``start`` began (after ``stop``, for its round to end)."""
        thread = getattr(self, "_thread", None)
        if thread is not None:
            thread.join(timeout)


class Channel(Protocol):
    """One delivery channel's round: send what is due, say how much was found."""

    def run_once(self) -> int: ...


class ChannelLoop(Loop, Generic[C]):
    """The loop of a channel that sends apart from the pushes (mail, Google), woken after
    each commit that gave it work and polling for retries that come due, so a slow mail
    server or Google holds up nothing else. A channel's loop says which ``client`` it
    holds, for closing at the end."""

    def __init__(self, channel: C, *, poll_interval: float = 1.0, name: str) -> None:
        super().__init__()
        self.channel = channel
        self.poll_interval = poll_interval
        self.name = name

    def run_once(self) -> int:
        return self.channel.run_once()


class PostgresListener:
    """Wakes workers when a transaction that wrote to the outbox commits (NOTIFY)."""

    def __init__(self, database_url: str, wake: Callable[[], None]) -> None:
        url = make_url(database_url).set(drivername="postgresql")
        self.dsn = url.render_as_string(hide_password=False)
        self.wake = wake
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        import psycopg

        while not self._stopping.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True) as connection:
                    connection.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self.wake()  # anything committed while we were not listening
                    while not self._stopping.is_set():
                        for _ in connection.notifies(timeout=1.0, stop_after=1):
                            self.wake()
            except psycopg.Error as error:
                log.warning("LISTEN connection lost (%s); reconnecting", error)
                time.sleep(1.0)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="loyalpass-listen", daemon=True)
        thread.start()
        return thread
