"""Stage two of sending: push the pending registrations and record what Apple answered.

Claiming leases a batch of due registrations for ``LEASE`` (``FOR UPDATE SKIP LOCKED``
on PostgreSQL), so two workers never push the same one at the same time, and a worker
killed mid-push loses nothing: another worker frees its leases within seconds
(``app.delivery.presence``; without one, the lease runs out) and pushes again (at least
once); a worker that comes back from a freeze pushes and records only what it still
holds. Each registration is pushed at the token it was registered with (never a
token another registration of the device brought); several changed passes registered
with one token get one push. Results are recorded against the generation that was
pushed: a change that arrived meanwhile stays pending. Unregistered and bad tokens
remove the registrations that still carry that token (and the device when it has none
left); retryable answers back off exponentially with jitter, and after ``MAX_ATTEMPTS``
a registration is parked as failed until someone retries it.

Before a batch is pushed, the passes of its cards are signed ahead of their download
(``app.devices.signing_ahead``: once per card, whatever its devices), so that each
device's download after the push is served without a signature; that is only ahead of
time, and a batch whose signing fails is pushed all the same.

Batches overlap: while the sender pushes one, the next is claimed and handed to it and
the one before is recorded (``dispatch``, ``PIPELINE`` batches at the sender at once), so
a fan-out to thousands of devices runs at the APNs connection's speed rather than
waiting for the database between batches.
"""

from __future__ import annotations

import contextlib
import logging
import random
import sys
from collections import defaultdict, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import ColumnElement, Select, Table, bindparam, delete, exists, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.analytics.models import APPLE, REMOVED
from app.cards.models import Card
from app.cards.wallet_events import record_wallet_events
from app.clock import utcnow
from app.delivery.fanout import drain_outbox
from app.delivery.loop import Loop
from app.delivery.presence import REGISTRATIONS as LEASED_REGISTRATIONS
from app.delivery.presence import Presence, guard, owned, send_while
from app.devices.models import Device, Registration
from app.devices.service import has_registration
from app.devices.signing_ahead import sign_ahead
from app.google_wallet.account import GoogleAccount
from app.integrations.apns import PushResult, PushSender, reason_label
from app.metrics import APNS_PUSHES, PASSES_SIGNED_AHEAD
from app.outbox.webhooks import wallet_event
from app.sql import SQL, Raw
from app.wallet.service import Wallet

log = logging.getLogger("loyalpass.push")
worker_log = logging.getLogger("loyalpass.worker")

LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 12
BASE_DELAY = 2.0
MAX_DELAY = 15 * 60.0
PIPELINE = 2  # batches at the sender at once: one is pushed while the last is recorded
ROUND = 20  # most batches one dispatch claims before the worker fans out again
REGISTRATIONS = cast(Table, Registration.__table__)  # Core updates run as executemany


@dataclass(frozen=True)
class Due:
    registration_id: int
    device_id: int
    generation: int
    attempts: int
    token: str
    card_id: int


@dataclass
class DispatchReport:
    claimed: int = 0
    pushed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


def backoff(attempts: int, retry_after: float | None = None) -> float:
    """Seconds before the next try: exponential, capped, with full jitter above half."""
    delay = min(MAX_DELAY, BASE_DELAY * 2 ** max(0, attempts - 1))
    delay = delay / 2 + random.uniform(0, delay / 2)  # noqa: S311 (jitter, not secrecy)
    return float(max(delay, retry_after or 0.0))


def due_query(*, now: datetime, limit: int) -> Select[int, int, int, int, str, int]:
    """The first ``limit`` due registrations, locked (skipping those another worker is
    locking): read in order from the pending ones' own index
    (``ix_registrations_push_pending``: ``(push_available_at, id)`` of the pending only),
    never by sorting every pending registration (100 ms a claim at 100,000 pending)."""
    return (select(Registration.id, Registration.device_id, Registration.push_generation,
                   Registration.push_attempts, Registration.push_token, Registration.card_id)
            .where(Registration.push_status == "pending",
                   Registration.push_available_at <= now,
                   (Registration.push_leased_until.is_(None))
                   | (Registration.push_leased_until < now))
            .order_by(Registration.push_available_at, Registration.id).limit(limit)
            .with_for_update(of=Registration, skip_locked=True))


def claim_due(session: Session, *, limit: int, lease: timedelta = LEASE,
              now: datetime | None = None, owner: int | None = None) -> list[Due]:
    """Lease up to ``limit`` due registrations to the worker ``owner`` (``workers.id``:
    freed at once if it dies, see ``app.delivery.presence``) and commit the lease."""
    now = now or utcnow()
    rows = session.execute(due_query(now=now, limit=limit)).all()
    if rows:
        session.execute(update(Registration)
                        .where(Registration.id.in_([row.id for row in rows]))
                        .values(push_leased_until=now + lease, push_leased_by=owner)
                        .execution_options(synchronize_session=False))
    session.commit()
    return [Due(row.id, row.device_id, row.push_generation, row.push_attempts, row.push_token,
                row.card_id) for row in rows]


def dispatch(session: Session, sender: PushSender, *, topic: str, limit: int = 1000,
             lease: timedelta = LEASE, batches: int = ROUND,
             stopping: Callable[[], bool] | None = None,
             presence: Presence | None = None, wallet: Wallet | None = None
             ) -> DispatchReport:
    """Claim, push and record batches, as long as full ones come (at most ``batches``,
    and none more once ``stopping()``); returns what happened. With ``wallet`` the passes
    of each batch's cards are signed ahead of their download before it is pushed
    (``sign_passes``).

    The bookkeeping overlaps the pushing: while the sender pushes one batch the next is
    already claimed and handed to it, and the one before is recorded, so the connection
    to APNs does not wait for the database between batches (``PIPELINE``). A batch that
    is not full is the last, and is pushed by the calling thread itself. With
    ``presence`` the leases name this process, each batch is pushed only while they are
    still its own and its answers are recorded only on the rows it still leases
    (``app.delivery.presence.guard``)."""
    owner = presence.worker_id if presence is not None else None
    report = DispatchReport()
    sent: deque[_Sent] = deque()
    pushing: ThreadPoolExecutor | None = None
    more, claimed = True, 0
    try:
        while True:
            while more and claimed < batches and len(sent) < PIPELINE:
                due = claim_due(session, limit=limit, lease=lease, owner=owner)
                claimed += 1
                report.claimed += len(due)
                more = len(due) == limit and not (stopping is not None and stopping())
                if more and pushing is None:
                    pushing = ThreadPoolExecutor(PIPELINE, thread_name_prefix="loyalpass-push")
                if due:
                    sent.append(_send(pushing, sender, due, topic, presence, owner,
                                      signing=(session, wallet) if wallet else None))
            if not sent:
                return report
            _record(session, sent.popleft(), report, owner)
    finally:
        failure = sys.exc_info()
        if pushing is not None:  # after an error: the pushes end, their leases are freed
            pushing.shutdown(wait=True)
        while sent:  # unrecorded (an error): their leases freed at the presence's next beat
            sent.popleft().guarded.__exit__(*failure)


def sign_passes(session: Session, wallet: Wallet, due: list[Due]) -> None:
    """Sign and keep the passes of the cards ``due`` names (``app.devices.signing_ahead``),
    so that the devices' downloads after the push find them signed. Only ahead of time:
    if it fails, the database gone included, the pushes still go and each download signs
    its pass."""
    try:
        signed = sign_ahead(session, wallet, card_ids=[item.card_id for item in due])
        session.commit()
    except Exception:  # anything: the pushes must go all the same
        log.warning("passes were not signed ahead; their downloads will sign them",
                    exc_info=True)
        # A lost connection may refuse the rollback too: recording the pushes finds out.
        with contextlib.suppress(Exception):
            session.rollback()
        return
    PASSES_SIGNED_AHEAD.inc(signed)


@dataclass
class _Sent:
    """A claimed batch at the sender: its registrations by token, the results to come,
    and its leases' guard (closed once they are recorded)."""

    by_token: dict[str, list[Due]]
    results: Future[list[PushResult]]
    guarded: ExitStack


def _send(pushing: ThreadPoolExecutor | None, sender: PushSender, due: list[Due],
          topic: str, presence: Presence | None, owner: int | None, *,
          signing: tuple[Session, Wallet] | None) -> _Sent:
    by_token: dict[str, list[Due]] = defaultdict(list)
    for item in due:
        by_token[item.token].append(item)
    guarded = ExitStack()
    ours = guarded.enter_context(guard(presence, LEASED_REGISTRATIONS,
                                       [item.registration_id for item in due], owner))
    if signing is not None:  # under the guard: whatever happens, the leases are freed
        try:
            sign_passes(*signing, due)
        except BaseException:
            guarded.__exit__(*sys.exc_info())
            raise

    def push() -> list[PushResult]:
        # Asked right before the batch goes, in the thread that sends it: a batch handed
        # to the sender waits behind the one before, and a process frozen meanwhile (for
        # longer than it takes to be found silent) must not send what another took over.
        if not ours():  # found silent since it claimed them: left unsent, leases freed
            return []
        # And each push leaves only while the leases are surely still this process's: one
        # frozen while the batch was going sends none of the rest when it thaws.
        return sender.push(list(by_token), topic=topic,
                           send_while=send_while(presence, owner))

    if pushing is not None:
        return _Sent(by_token, pushing.submit(push), guarded)
    results: Future[list[PushResult]] = Future()
    try:
        results.set_result(push())
    except BaseException:
        guarded.__exit__(*sys.exc_info())
        raise
    return _Sent(by_token, results, guarded)


def _record(session: Session, sent: _Sent, report: DispatchReport, owner: int | None
            ) -> None:
    try:
        results = sent.results.result()
        answered = [result for result in results if result.outcome != "unsent"]
        report.pushed += len(answered)
        record_results(session, [(item, result) for result in results
                                 for item in sent.by_token[result.token]], owner=owner)
        count_pushes(answered, sent.by_token)
    except BaseException:
        sent.guarded.__exit__(*sys.exc_info())
        raise
    sent.guarded.close()
    for result in answered:
        report.outcomes[result.outcome] = report.outcomes.get(result.outcome, 0) + 1


def parks(item: Due, result: PushResult) -> bool:
    """Whether a push that was not delivered parks its registration as failed."""
    return result.outcome == "error" or item.attempts + 1 >= MAX_ATTEMPTS


def count_pushes(results: list[PushResult], by_token: dict[str, list[Due]]) -> None:
    """Each push's answer for ``/metrics``, once what it did is committed."""
    for result in results:
        if result.outcome == "delivered":
            outcome = "sent"
        elif result.outcome in ("unregistered", "bad_token"):
            outcome = "unregistered"
        else:
            parked = any(parks(item, result) for item in by_token[result.token])
            outcome = "failed" if parked else "retry"
        APNS_PUSHES.labels(outcome, reason_label(result)).inc()


def record_results(session: Session, pairs: list[tuple[Due, PushResult]],
                   owner: int | None = None) -> None:
    """Record APNs's answers, on the registrations still leased by ``owner`` (another
    worker took over the others, and pushes them itself)."""
    now = utcnow()
    delivered = [item for item, result in pairs if result.outcome == "delivered"]
    gone = [item for item, result in pairs if result.outcome in ("unregistered", "bad_token")]
    again = [(item, result) for item, result in pairs
             if result.outcome in ("retry", "certificate", "error")]
    if any(result.outcome == "certificate" for _, result in again):
        log.error("APNs refused the pass certificate (%s): pushes will be retried; check "
                  "pass.pem and pass.key", next(r.reason for _, r in again
                                                if r.outcome == "certificate"))
    # Never sent (``NOT_SENT_ANY_MORE``): no answer, no attempt; the lease is freed if it
    # is still this worker's, and the registration stays due as it was.
    unsent = [item.registration_id for item, result in pairs if result.outcome == "unsent"]
    ours = owned(LEASED_REGISTRATIONS, owner)
    _record_delivered(session, delivered, now, owner)
    _remove_registrations(session, gone, ours)
    _record_failures(session, again, now, ours)
    if unsent:
        session.execute(update(Registration).where(Registration.id.in_(unsent), ours)
                        .values(push_leased_until=None, push_leased_by=None))
    session.commit()


def _record_delivered(session: Session, items: list[Due], now: datetime,
                      owner: int | None) -> None:
    if not items:
        return
    raw = Raw.of_session(session)
    owned_by = {} if owner is None else {"owner": owner}
    # One statement for the whole batch (PostgreSQL: two arrays; SQLite: executemany in
    # the driver), idle only where no newer change arrived while the push was in flight,
    # and only on the rows this worker still leases.
    if raw.postgres:
        raw.execute(_DELIVERED_ALL[owner is not None], {
            "now": now, "ids": [item.registration_id for item in items],
            "generations": [item.generation for item in items], **owned_by})
    else:
        at = raw.time(now)
        raw.each(_DELIVERED_ONE[owner is not None], [
            {"now": at, "id": item.registration_id, "generation": item.generation,
             **owned_by} for item in items])


_DELIVERED = ("UPDATE registrations SET last_push_at = :now, last_push_result = 'delivered',"
              " last_push_status = 200, last_push_error = NULL, push_leased_until = NULL,"
              " push_leased_by = NULL, push_attempts = 0, push_status = CASE WHEN"
              " registrations.push_generation = {generation} THEN 'idle'"
              " ELSE registrations.push_status END,"
              " push_available_at = CASE WHEN registrations.push_generation = {generation}"
              " THEN NULL ELSE registrations.push_available_at END")
_OWNED = " AND registrations.push_leased_by = :owner"
# {whether the rows must still be leased by :owner: the statement}
_DELIVERED_ALL = {owned: SQL(_DELIVERED.format(generation="pushed.push_generation")
                             + " FROM unnest(CAST(:ids AS integer[]),"
                             " CAST(:generations AS integer[])) AS pushed(id, push_generation)"
                             " WHERE registrations.id = pushed.id" + (_OWNED if owned else ""))
                  for owned in (False, True)}
_DELIVERED_ONE = {owned: SQL(_DELIVERED.format(generation=":generation")
                             + " WHERE registrations.id = :id" + (_OWNED if owned else ""))
                  for owned in (False, True)}


def _remove_registrations(session: Session, items: list[Due],
                          ours: ColumnElement[bool]) -> None:
    if not items:
        return
    # Only while it still carries the refused token: Wallet may have registered the pass
    # again with a new one while this push was in flight.
    removed = _registrations_to_remove(session, items, ours)
    table = REGISTRATIONS
    session.execute(
        table.delete().where(table.c.id == bindparam("rid"),
                             table.c.push_token == bindparam("token"), ours),
        [{"rid": item.registration_id, "token": item.token} for item in items],
    )
    # A card whose last registration this was has left Apple Wallet.
    record_wallet_events(session, card_ids=[gone.card_id for gone in removed], wallet=APPLE,
                         kind=REMOVED, at=utcnow(), where=~has_registration())
    devices = sorted({item.device_id for item in items})
    session.execute(delete(Device).where(
        Device.id.in_(devices), ~exists().where(Registration.device_id == Device.id)))
    for gone in removed:  # the pass is off that device: the merchant's webhooks hear
        wallet_event(session, merchant_id=gone.merchant_id, program_id=gone.program_id,
                     card_id=gone.card_id, wallet="apple", installed=False)
    log.info("removed %d registrations whose device tokens APNs no longer accepts",
             len(items))


@dataclass(frozen=True)
class RemovedPass:
    card_id: int
    merchant_id: int
    program_id: int


def _registrations_to_remove(session: Session, items: list[Due],
                             ours: ColumnElement[bool]) -> list[RemovedPass]:
    """The registrations ``_remove_registrations`` deletes (those still carrying the
    refused token), with their cards' merchant and program."""
    tokens = {item.registration_id: item.token for item in items}
    rows = session.execute(
        select(Registration.id, Registration.push_token, Card.id.label("card_id"),
               Card.merchant_id, Card.program_id)
        .join(Card, Card.id == Registration.card_id)
        .where(Registration.id.in_(list(tokens)), ours)).all()
    return [RemovedPass(card_id=row.card_id, merchant_id=row.merchant_id,
                        program_id=row.program_id)
            for row in rows if row.push_token == tokens[row.id]]


def _record_failures(session: Session, pairs: list[tuple[Due, PushResult]],
                     now: datetime, ours: ColumnElement[bool]) -> None:
    if not pairs:
        return
    table = REGISTRATIONS
    rows = []
    for item, result in pairs:
        attempts = item.attempts + 1
        parked = parks(item, result)
        rows.append({
            "rid": item.registration_id, "attempts": attempts,
            "status": "failed" if parked else "pending",
            "available": now + timedelta(seconds=backoff(attempts, result.retry_after)),
            "result": result.outcome, "code": result.status,
            "error": (result.reason or "")[:500],
        })
    session.execute(
        table.update().where(table.c.id == bindparam("rid"), ours)
        .values(push_attempts=bindparam("attempts"), push_status=bindparam("status"),
                push_available_at=bindparam("available"), push_leased_until=None,
                push_leased_by=None,
                last_push_at=now, last_push_result=bindparam("result"),
                last_push_status=bindparam("code"), last_push_error=bindparam("error")),
        rows,
    )


class Worker(Loop):
    """Fans the outbox out (to devices, and to Google when it is on) and pushes devices."""

    def __init__(self, *, sessions: sessionmaker[Session], sender: PushSender, topic: str,
                 poll_interval: float = 1.0, batch: int = 1000, name: str = "worker",
                 lease: timedelta = LEASE, google: GoogleAccount | None = None,
                 after_fanout: Callable[[], None] | None = None,
                 presence: Presence | None = None, wallet: Wallet | None = None) -> None:
        super().__init__()
        self.sessions = sessions
        self.sender = sender
        self.topic = topic
        self.poll_interval = poll_interval
        self.batch = batch
        self.name = name
        self.lease = lease
        self.google = google
        self.after_fanout = after_fanout
        self.presence = presence
        self.wallet = wallet  # None: passes are not signed ahead (``dispatch``)

    def run_once(self) -> int:
        """One round of fan-out and pushing; returns how much work it found."""
        with self.sessions() as session:
            fanned = drain_outbox(session, limit=self.batch, google=self.google)
            if fanned and self.after_fanout is not None:
                self.after_fanout()
            report = dispatch(session, self.sender, topic=self.topic, limit=self.batch,
                              lease=self.lease, stopping=lambda: self.stopping,
                              presence=self.presence, wallet=self.wallet)
        if report.claimed:
            worker_log.info("%s pushed %d devices: %s", self.name, report.pushed, report.outcomes)
        return fanned + report.claimed

    @property
    def client(self) -> PushSender:
        return self.sender
