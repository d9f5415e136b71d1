"""Sending pending classes, objects and messages to Google, and recording the answers.

Each round leases a few due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's
write lock serialises workers), builds the body from the newest state in the database,
sends it through the client (whose shared limiter keeps the project under Google's
rate), and records the answer against the generation it sent: a change that arrived
meanwhile keeps the row pending, so Google ends on the newest state. Objects wait for
their class, messages for their object. Retryable answers back off with jitter; after
``MAX_ATTEMPTS`` a row is parked as failed, visible with Google's last answer.

A batch of objects or messages is sent by ``senders`` threads at once (each with its own
session), so that the rate is the limiter's, not one request's round trip plus its
bookkeeping: one thread at a time reached 10.7 requests a second against a limit of 18.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, func, literal, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.cards.models import Card
from app.clock import utcnow
from app.delivery.loop import ChannelLoop
from app.delivery.presence import GOOGLE_CLASSES as LEASED_CLASSES
from app.delivery.presence import GOOGLE_MESSAGES as LEASED_MESSAGES
from app.delivery.presence import GOOGLE_OBJECTS as LEASED_OBJECTS
from app.delivery.presence import Presence, guard, owned
from app.delivery.pushes import backoff
from app.google_wallet.account import GoogleAccount
from app.google_wallet.models import GoogleClass, GoogleMessage, GoogleObject
from app.integrations.google import GoogleResult, GoogleWallet
from app.logs import redact
from app.merchants.models import Program
from app.metrics import GOOGLE_MESSAGES, GOOGLE_UPDATES, count_after_commit
from app.offers.service import current_offers
from app.wallet.facts import card_facts
from app.wallet.google_shapes import google_card, google_program
from app.wallet.service import Wallet
from passes.google import loyalty_class, loyalty_object, message, object_patch

log = logging.getLogger("loyalpass.google")

CLASSES = cast(Table, GoogleClass.__table__)
OBJECTS = cast(Table, GoogleObject.__table__)
MESSAGES = cast(Table, GoogleMessage.__table__)
MAX_ATTEMPTS = 12
NOTIFY_BUDGET = 3  # notifying messages per object in 24 hours (Google's limit)
BUDGET_WINDOW = timedelta(hours=24)
LEASE = timedelta(seconds=60)
KINDS = {CLASSES.name: "class", OBJECTS.name: "object", MESSAGES.name: "message"}


@dataclass(frozen=True)
class ClaimedGoogleRow:
    """A Google class, object or message row this worker leased (``key``: its id)."""

    key: int
    generation: int
    attempts: int


def _claim(session: Session, table: Table, key: ColumnElement[Any], *, limit: int,
           now: datetime, ready: ColumnElement[bool] | None = None,
           owner: int | None = None) -> list[ClaimedGoogleRow]:
    """Lease up to ``limit`` due rows of ``table`` to the worker ``owner`` and commit the
    lease."""
    generation = table.c.generation if "generation" in table.c else literal(0)
    query = (select(key.label("key"), generation.label("generation"), table.c.attempts)
             .where(table.c.status == "pending", table.c.available_at <= now,
                    table.c.leased_until.is_(None) | (table.c.leased_until < now))
             .order_by(table.c.available_at).limit(limit)
             .with_for_update(of=table, skip_locked=True))
    if ready is not None:
        query = query.where(ready)
    rows = session.execute(query).all()
    if rows:
        session.execute(update(table).where(key.in_([row.key for row in rows]))
                        .values(leased_until=now + LEASE, leased_by=owner))
    session.commit()
    return [ClaimedGoogleRow(key=int(row.key), generation=int(row.generation),
                    attempts=int(row.attempts)) for row in rows]


@dataclass
class GoogleSync:
    """One worker's Google stage; ``run_once`` sends what is due and says how much."""

    sessions: sessionmaker[Session]
    client: GoogleWallet
    account: GoogleAccount
    wallet: Wallet
    batch: int = 20
    presence: Presence | None = None
    senders: int = 1  # threads sending one batch (each its own session: 1 on SQLite)

    def run_once(self) -> int:
        done = 0
        for stage in (self._classes, self._objects, self._messages):
            with self.sessions() as session:
                done += stage(session)
        return done

    @property
    def _owner(self) -> int | None:
        return self.presence.worker_id if self.presence is not None else None

    # Classes

    def _classes(self, session: Session) -> int:
        owner = self._owner
        claimed = _claim(session, CLASSES, CLASSES.c.program_id, limit=self.batch, now=utcnow(),
                         owner=owner)
        with guard(self.presence, LEASED_CLASSES, [row.key for row in claimed], owner) as ours:
            for row in claimed:
                if not ours():
                    break
                program = session.get(Program, row.key)
                assert program is not None
                view = google_program(program, self.account,
                                      base_url=self.wallet.config.base_url)
                body = loyalty_class(view)
                session.rollback()  # no transaction (no SQLite write lock) while Google answers
                result = self.client.upsert_class(body)
                self._record(session, CLASSES, CLASSES.c.program_id, row, result,
                             owned(LEASED_CLASSES, owner))
        return len(claimed)

    # Objects

    def _objects(self, session: Session) -> int:
        class_ready = select(CLASSES.c.program_id).where(
            CLASSES.c.program_id == OBJECTS.c.program_id, CLASSES.c.synced_generation > 0
        ).exists()
        owner = self._owner
        claimed = _claim(session, OBJECTS, OBJECTS.c.card_id, limit=self.batch,
                         now=utcnow(), ready=class_ready, owner=owner)
        with guard(self.presence, LEASED_OBJECTS, [row.key for row in claimed], owner) as ours:
            self._each(session, claimed, ours, lambda on, row: self._send_object(
                on, row, owned(LEASED_OBJECTS, owner)))
        return len(claimed)

    def _each(self, session: Session, claimed: list[ClaimedGoogleRow],
              ours: Callable[[], bool], send: Callable[[Session, ClaimedGoogleRow], None],
              by: Callable[[ClaimedGoogleRow], Any] | None = None) -> None:
        """``send`` each row while the leases are ours: in this session, or over
        ``senders`` threads each with a session of its own; the rows ``by`` puts together
        (a card's messages) go by one thread, in the order of their keys."""
        if self.senders <= 1 or len(claimed) <= 1:
            for row in sorted(claimed, key=lambda row: row.key):
                if not ours():
                    break
                send(session, row)
            return
        groups: dict[Any, list[ClaimedGoogleRow]] = {}
        for row in sorted(claimed, key=lambda row: row.key):
            groups.setdefault(by(row) if by is not None else row.key, []).append(row)

        def some(rows: list[ClaimedGoogleRow]) -> None:
            with self.sessions() as own:
                for row in rows:
                    if not ours():
                        return
                    send(own, row)

        with ThreadPoolExecutor(min(self.senders, len(groups)),
                                thread_name_prefix="loyalpass-google") as pool:
            for done in [pool.submit(some, rows) for rows in groups.values()]:
                done.result()  # an error ends the round as it would with one thread

    def _send_object(self, session: Session, row: ClaimedGoogleRow,
                     ours: ColumnElement[bool]) -> None:
        state = session.get(GoogleObject, row.key)
        card = session.get(Card, row.key)
        assert state is not None and card is not None
        program = google_program(card.program, self.account,
                                 base_url=self.wallet.config.base_url)
        view = google_card(card, barcode_message=self.wallet.barcode_message(card),
                           customer_url=self.wallet.card_url(card),
                           offers=current_offers(session, card_id=card.id),
                           facts=card_facts(session, card))
        inserted, object_id = state.inserted, state.object_id
        body = object_patch(program, view) if inserted else loyalty_object(program, view)
        session.rollback()  # no transaction (on SQLite: no write lock) while Google answers
        if inserted:
            result = self.client.patch_object(object_id, body)
        else:
            result = self.client.insert_object(body)
        if result.outcome == "not_found" and inserted:
            # Gone from Google (deleted by hand?): insert it again at once.
            session.execute(update(OBJECTS).where(OBJECTS.c.card_id == row.key, ours)
                            .values(inserted=False, leased_until=None, leased_by=None))
            session.commit()
            return
        if result.ok:  # whoever holds it now: Google has the object
            session.execute(update(OBJECTS).where(OBJECTS.c.card_id == row.key)
                            .values(inserted=True))
        self._record(session, OBJECTS, OBJECTS.c.card_id, row, result, ours)

    # Messages

    def _messages(self, session: Session) -> int:
        object_ready = select(OBJECTS.c.card_id).where(
            OBJECTS.c.card_id == MESSAGES.c.card_id, OBJECTS.c.inserted.is_(True)
        ).exists()
        owner = self._owner
        claimed = _claim(session, MESSAGES, MESSAGES.c.id, limit=self.batch, now=utcnow(),
                         ready=object_ready, owner=owner)
        # One card's messages in order, by one thread: the budget of notifying ones is
        # counted message by message, and the phone lists them as they came.
        cards = {key: card_id for key, card_id in session.execute(
            select(MESSAGES.c.id, MESSAGES.c.card_id).where(
                MESSAGES.c.id.in_([row.key for row in claimed])))}
        session.rollback()
        with guard(self.presence, LEASED_MESSAGES, [row.key for row in claimed], owner) as ours:
            self._each(session, claimed, ours, lambda on, row: self._send_message(
                on, row, owned(LEASED_MESSAGES, owner)), by=lambda row: cards.get(row.key))
        return len(claimed)

    def _send_message(self, session: Session, row: ClaimedGoogleRow,
                      ours: ColumnElement[bool]) -> None:
        note = session.get(GoogleMessage, row.key)
        state = session.get(GoogleObject, note.card_id) if note is not None else None
        assert note is not None and state is not None
        now = utcnow()
        spent = session.scalar(select(func.count(MESSAGES.c.id)).where(
            MESSAGES.c.card_id == note.card_id, MESSAGES.c.notified.is_(True),
            MESSAGES.c.sent_at > now - BUDGET_WINDOW)) or 0
        notify = spent < NOTIFY_BUDGET
        object_id, header, body = state.object_id, note.header, note.body
        session.rollback()
        result = self.client.add_message(
            object_id, message(f"loyalpass-{row.key}", header, body, notify=notify))
        if notify and result.outcome == "quota":
            # Google counts differently than we do (a message sent from elsewhere):
            # the customer gets it silently rather than not at all.
            notify = False
            result = self.client.add_message(
                object_id, message(f"loyalpass-{row.key}", header, body, notify=False))
        if result.ok:
            session.execute(update(MESSAGES).where(MESSAGES.c.id == row.key, ours).values(
                status="sent", sent_at=utcnow(), notified=notify, budget_spent=not notify,
                leased_until=None, leased_by=None, last_error=None))
            count_after_commit(session, GOOGLE_UPDATES, "message", "updated")
            count_after_commit(session, GOOGLE_MESSAGES, "notifying" if notify else "silent")
            session.commit()
            if not notify:
                log.info("google: message %d sent silently: the card's %d notifications "
                         "in 24 hours are spent", row.key, NOTIFY_BUDGET)
            return
        self._record(session, MESSAGES, MESSAGES.c.id, row, result, ours)

    # Answers

    def _record(self, session: Session, table: Table, key: ColumnElement[Any],
                row: ClaimedGoogleRow, result: GoogleResult, ours: ColumnElement[bool]) -> None:
        """Google's answer, on the row while it is still this worker's lease (see
        ``app.delivery.presence``: another that took it over sends it itself)."""
        now = utcnow()
        values: dict[str, Any] = {"leased_until": None, "leased_by": None}
        if "last_status" in table.c:
            values["last_status"] = result.status
        if result.ok and "generation" in table.c:
            values.update(synced_generation=row.generation, synced_at=now, attempts=0,
                          last_error=None)
            # Only the generation that was sent is done; a newer one stays pending.
            session.execute(update(table).where(key == row.key, ours,
                                                table.c.generation == row.generation)
                            .values(status="synced", **values))
            session.execute(update(table).where(key == row.key, ours).values(**values))
            count_after_commit(session, GOOGLE_UPDATES, KINDS[table.name], "updated")
        else:
            attempts = row.attempts + 1
            final = result.outcome == "invalid" or attempts >= MAX_ATTEMPTS
            values.update(attempts=attempts, last_error=_result_text(result),
                          status="failed" if final else "pending",
                          available_at=now + timedelta(
                              seconds=backoff(attempts, result.retry_after)))
            session.execute(update(table).where(key == row.key, ours).values(**values))
            outcome = "quota_deferred" if result.outcome == "quota" else "retry"
            count_after_commit(session, GOOGLE_UPDATES, KINDS[table.name],
                               "failed" if final else outcome)
            log.warning("google: %s %d: %s (attempt %d)", table.name, row.key,
                        redact(_result_text(result)), attempts)
        session.commit()


def _result_text(result: GoogleResult) -> str:
    return f"{result.outcome} {result.status or ''} {result.reason or ''}".strip()[:500]


class GoogleWorker(ChannelLoop[GoogleSync]):
    """Sends pending Google classes, objects and messages at Google's pace, through the
    shared limiter (see ``ChannelLoop``), so a slow Google never holds up the pushes."""

    @property
    def client(self) -> GoogleWallet:
        return self.channel.client
