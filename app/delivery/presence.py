"""Which worker processes are alive, so that a dead one's leases are taken over within
seconds (not after the lease runs out), and a live one never loses its own.

Each worker process has a row in ``workers`` (``app.delivery.models``) that its
``Presence`` loop beats every ``BEAT`` second; every lease the process takes names that
row (``leased_by``). On each beat the loop also:

- extends the leases of the batches its process is sending (``guard``) that have less
  than ``EXTEND / 2`` left, so a live worker kept busy by a slow server never loses a
  lease it is using (a batch that failed, its answers unrecorded, is freed instead);
- deletes the rows of workers silent for ``STALE`` seconds (killed, frozen, cut off) and,
  in the same transaction, frees the leases they named: the next round of any worker
  takes them.

A worker that was frozen (SIGSTOP, a long pause) and comes back must not send what
another took over. Before sending, a channel asks (``guard``, ``holds(owner)``): true at once while
this process's last beat is recent (``SURE`` seconds, well inside ``STALE``), else only
after beating its row again, which fails when another worker has deleted it (the leases
are gone: the batch is dropped, unsent, and the process joins again under a new row).
Answers are then recorded only on rows still leased by the same owner. A batch is sent
over time (a server allows so many streams at once; its answers free the next): each push
of it leaves only while the process is still sure of its leases without asking
(``sure_to_send``: its last beat that held is under ``SAFE`` of ``STALE`` old, so no other
worker can have found it silent yet, with a quarter of ``STALE`` to spare for the clocks
and the beat's own time). A process frozen mid-batch sends none of the rest when it
thaws. A send already on the wire when the process froze cannot be called back: the push
may then go twice (at least once, as ever), never two sends started at once by two live
owners.

Time is each machine's clock, as for the leases themselves: keep the clocks in step
(NTP); ``STALE`` leaves seconds of slack. On SQLite (one machine) the same rows serve the
inline worker: a server restarted after a crash frees its former self's leases.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Column, ColumnElement, Table, delete, insert, true, update
from sqlalchemy.orm import Session, sessionmaker

from app.bulk import among
from app.clock import utcnow
from app.delivery.loop import Loop
from app.delivery.models import WorkerProcess
from app.devices.models import Registration
from app.google_wallet.models import GoogleClass, GoogleMessage, GoogleObject
from app.outbox.models import Mail
from app.webhooks.models import WebhookDelivery

log = logging.getLogger("loyalpass.worker")

BEAT = 1.0  # seconds between heartbeats
STALE = timedelta(seconds=5)  # silent this long: dead, its leases are freed
SURE = 2.0  # seconds after a beat during which the process trusts it still holds its leases
SAFE = 0.75  # of STALE: how long after its last beat that held a process still sends
EXTEND = timedelta(seconds=60)  # a live worker's leases never have less than half of this
WORKERS = cast(Table, WorkerProcess.__table__)


@dataclass(frozen=True)
class LeaseColumns:
    """Where a table keeps its lease: the row's key, until when, and by which worker."""

    table: Table
    key: Column[Any]
    until: Column[Any]
    owner: Column[Any]


def _columns(model: Any, prefix: str = "") -> LeaseColumns:
    table = cast(Table, model.__table__)
    [key] = table.primary_key.columns
    return LeaseColumns(table, key, table.c[f"{prefix}leased_until"],
                        table.c[f"{prefix}leased_by"])


REGISTRATIONS = _columns(Registration, "push_")
MAILS = _columns(Mail)
GOOGLE_CLASSES = _columns(GoogleClass)
GOOGLE_OBJECTS = _columns(GoogleObject)
GOOGLE_MESSAGES = _columns(GoogleMessage)
WEBHOOK_DELIVERIES = _columns(WebhookDelivery)
LEASED = (REGISTRATIONS, MAILS, GOOGLE_CLASSES, GOOGLE_OBJECTS, GOOGLE_MESSAGES,
          WEBHOOK_DELIVERIES)


@dataclass(frozen=True)
class Batch:
    """Rows of one table a loop of this process leased and is sending."""

    lease: LeaseColumns
    keys: tuple[int, ...]
    owner: int


class Presence(Loop):
    """One worker process's row in ``workers``: beats it, extends the leases of the
    batches in flight and frees dead workers' (see the module). Channels take
    ``worker_id`` as the owner of their leases and send inside ``guard``."""

    def __init__(self, sessions: sessionmaker[Session], *, name: str = "worker",
                 stale: timedelta = STALE, beat: float = BEAT) -> None:
        super().__init__()
        self.sessions = sessions
        self.name = f"{name}-presence"
        self.process_name = name
        self.stale = stale
        self.poll_interval = beat
        self.sure = min(SURE, stale.total_seconds() / 2)
        self._lock = threading.Lock()
        self._id: int | None = None
        self._beaten = 0.0  # time.monotonic() just before the last beat that held
        self._sending: dict[int, Batch] = {}  # by id(): the batches in flight
        self._failed: list[Batch] = []  # batches whose answers were not recorded

    @property
    def worker_id(self) -> int:
        """This process's row (joining under a new one if it has none, or lost it)."""
        with self._lock:
            if self._id is None:
                self._join()
            assert self._id is not None
            return self._id

    def sure_to_send(self, owner: int) -> bool:
        """Whether the leases taken as ``owner`` are surely still this process's, without
        asking the database: for a sender's loop, right before each push leaves (see the
        module). Never blocks: it reads two values its beats write, without the lock."""
        return (owner == self._id
                and time.monotonic() - self._beaten < SAFE * self.stale.total_seconds())

    def holds(self, owner: int) -> bool:
        """Whether the leases taken as ``owner`` are still this process's, to send now."""
        with self._lock:
            if owner != self._id:
                return False
            if time.monotonic() - self._beaten < self.sure:
                return True
            return self._beat()

    @contextmanager
    def sending(self, batch: Batch) -> Iterator[None]:
        """While the block runs, ``batch``'s leases are extended; if it fails (its answers
        unrecorded), they are freed at the next beat, not left to run out."""
        with self._lock:
            self._sending[id(batch)] = batch
        try:
            yield
        except BaseException:
            self.abandon(batch)
            raise
        finally:
            with self._lock:
                self._sending.pop(id(batch), None)

    def abandon(self, batch: Batch) -> None:
        """Free ``batch``'s leases at the next beat (its answers will not be recorded)."""
        with self._lock:
            self._failed.append(batch)

    def run_once(self) -> int:
        with self._lock:
            if self._id is None or not self._beat():
                self._join()
            sending, failed, self._failed = list(self._sending.values()), self._failed, []
        try:
            with self.sessions() as session:
                _extend(session, sending)
                _release(session, failed)
                session.commit()
        except BaseException:
            with self._lock:
                self._failed.extend(failed)
            raise
        with self.sessions() as session:
            _reap(session, stale=self.stale)
        return 0  # never busy: it beats every ``poll_interval``

    def close(self) -> None:
        """Leave ``workers`` (after the process's loops ended: nothing is leased any more)."""
        with self._lock:
            owner, self._id = self._id, None
        if owner is None:
            return
        with self.sessions() as session:
            _free(session, [owner])
            session.execute(delete(WORKERS).where(WORKERS.c.id == owner))
            session.commit()

    @property
    def client(self) -> Presence:
        """What ``loyalpass worker`` closes once its loops have ended."""
        return self

    def _join(self) -> None:
        now, self._beaten = utcnow(), time.monotonic()
        with self.sessions() as session:
            self._id = session.execute(insert(WORKERS).values(
                name=self.process_name[:128], host=socket.gethostname()[:255],
                pid=os.getpid(), started_at=now, heartbeat_at=now,
            ).returning(WORKERS.c.id)).scalar_one()
            session.commit()
        log.info("%s joined the workers as %d", self.process_name, self._id)

    def _beat(self) -> bool:
        """Beat this process's row; false (and no row) when another worker deleted it."""
        started, now = time.monotonic(), utcnow()
        with self.sessions() as session:
            result = session.execute(update(WORKERS).where(WORKERS.c.id == self._id)
                                     .values(heartbeat_at=now))
            beaten = int(getattr(result, "rowcount", 0) or 0)
            session.commit()
        if beaten:
            self._beaten = started
            return True
        log.warning("%s was silent too long and its leases went to others: joining again",
                    self.process_name)
        self._id = None
        return False


def send_while(presence: Presence | None, owner: int | None) -> Callable[[], bool]:
    """What a sender asks before each push of a batch leases ``owner`` took leaves
    (``Presence.sure_to_send``); always yes for a loop run without a presence."""
    if presence is None or owner is None:
        return lambda: True
    return lambda: presence.sure_to_send(owner)


@contextmanager
def guard(presence: Presence | None, lease: LeaseColumns, keys: Iterable[int],
          owner: int | None) -> Iterator[Callable[[], bool]]:
    """Around sending a leased batch and recording its answers: keeps its leases while it
    runs (``Presence.sending``) and yields ``ours()``, to ask right before each send
    whether the leases are still this process's (when not, the batch is left unsent and
    its leases freed). Without a presence (a loop run on its own, in tests and
    benchmarks) the leases are plain time leases and ``ours()`` is always true."""
    if presence is None or owner is None:
        yield lambda: True
        return
    batch = Batch(lease, tuple(keys), owner)

    def ours() -> bool:
        if presence.holds(owner):
            return True
        presence.abandon(batch)  # taken as a row since deleted: free them for the next round
        log.warning("%s: not sending %d rows of %s: leased before this process was found "
                    "silent", presence.process_name, len(batch.keys), lease.table.name)
        return False

    with presence.sending(batch):
        yield ours


def owned(lease: LeaseColumns, owner: int | None) -> ColumnElement[bool]:
    """The condition an answer is recorded under: the row is still leased by ``owner``
    (anything, for a loop run without a presence)."""
    return lease.owner == owner if owner is not None else true()


def _extend(session: Session, batches: list[Batch]) -> None:
    now = utcnow()
    for batch in batches:
        lease = batch.lease
        session.execute(update(lease.table).where(
            among(session, lease.key, batch.keys), lease.owner == batch.owner,
            lease.until < now + EXTEND / 2).values({lease.until: now + EXTEND}))


def _release(session: Session, batches: list[Batch]) -> None:
    for batch in batches:
        lease = batch.lease
        session.execute(update(lease.table)
                        .where(among(session, lease.key, batch.keys),
                               lease.owner == batch.owner)
                        .values({lease.until: None, lease.owner: None}))
    if batches:
        log.warning("freed the leases of %d batches whose answers could not be recorded",
                    len(batches))


def _reap(session: Session, *, stale: timedelta) -> None:
    """Delete the rows of workers silent for ``stale`` and free their leases, in one
    transaction (a worker that beats meanwhile keeps its row: the delete re-checks)."""
    dead = session.execute(delete(WORKERS)
                           .where(WORKERS.c.heartbeat_at < utcnow() - stale)
                           .returning(WORKERS.c.id, WORKERS.c.name, WORKERS.c.host,
                                      WORKERS.c.pid, WORKERS.c.heartbeat_at)).all()
    if not dead:
        session.rollback()
        return
    freed = _free(session, [row.id for row in dead])
    session.commit()
    for row in dead:
        log.warning("worker %d (%s, pid %d on %s) silent since %s: its leases are freed",
                    row.id, row.name, row.pid, row.host, row.heartbeat_at.isoformat())
    if freed:
        log.warning("freed %d leases of %d dead workers", freed, len(dead))


def _free(session: Session, owners: list[int]) -> int:
    freed = 0
    for lease in LEASED:
        result = session.execute(update(lease.table).where(lease.owner.in_(owners))
                                 .values({lease.until: None, lease.owner: None}))
        freed += int(getattr(result, "rowcount", 0) or 0)
    return freed
