"""The webhook channel: POSTs each queued delivery (``webhook_deliveries``, written in the
change's transaction by ``app.outbox.webhooks``) to its endpoint after commit, signed.

Each round leases a few due deliveries for ``LEASE`` (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL; SQLite's write lock serialises workers), ends the transaction, sends them
side by side (``CONCURRENCY``), and records each answer. Only a delivery with no earlier
pending delivery of the same card to the same endpoint is due: a card's events reach an
endpoint in the order they happened, one at a time (events of no card, such as
``offer.published``, are not held up). A 2xx answer ends a delivery; anything else (no
answer, a redirect, an address refused) is tried again with exponential backoff
(``retry_delay``) for at least ``RETRY_FOR``, then parked as failed (shown in the
delivery log; a redelivery queues it again). A worker killed mid-send loses nothing:
another worker frees its leases within seconds (``app.delivery.presence``) and the
delivery is sent again (at least once; the event id lets a receiver drop a repeat).

Signature: ``Loyalpass-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`` of
``"<t>.<body>"`` with the endpoint's secret (``signature``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, exists, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from app.clock import utcnow
from app.delivery.loop import ChannelLoop
from app.delivery.presence import WEBHOOK_DELIVERIES as LEASED_DELIVERIES
from app.delivery.presence import Presence, guard, owned
from app.delivery.webhook_client import Reply, WebhookSender
from app.metrics import WEBHOOK_DELIVERIES, count_after_commit
from app.webhooks.models import WebhookDelivery, WebhookEndpoint

log = logging.getLogger("loyalpass.webhooks")

DELIVERIES = cast(Table, WebhookDelivery.__table__)
LEASE = timedelta(minutes=2)  # a round's POSTs, each bounded by the client's timeout
CONCURRENCY = 8
FIRST_DELAY = 30.0  # seconds after the first failure; doubling up to MAX_DELAY
MAX_DELAY = 3600.0
JITTER = 0.2  # each delay is drawn within ±20 % of its nominal value
RETRY_FOR = timedelta(hours=24)
SIGNATURE_HEADER = "Loyalpass-Signature"
USER_AGENT = "Loyalpass-Webhooks/1"


def retry_delay(attempts: int) -> float:
    """Seconds before the next try after ``attempts`` failed ones."""
    nominal = min(MAX_DELAY, FIRST_DELAY * 2 ** max(0, attempts - 1))
    return float(nominal) * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311 (jitter)


def max_attempts() -> int:
    """So many attempts that the last comes at least ``RETRY_FOR`` after the first, with
    every delay at its shortest."""
    attempts, waited = 1, 0.0
    while waited < RETRY_FOR.total_seconds():
        waited += min(MAX_DELAY, FIRST_DELAY * 2 ** (attempts - 1)) * (1 - JITTER)
        attempts += 1
    return attempts


MAX_ATTEMPTS = max_attempts()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Loyalpass-Signature`` header's value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body,
                      hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass(frozen=True)
class Claimed:
    """A delivery this worker leased, with what sending it needs."""

    delivery_id: int
    attempts: int
    url: str
    secret: str
    event_id: str
    event_type: str
    payload: dict[str, Any]


def claim_deliveries(session: Session, *, limit: int, now: datetime,
                     owner: int | None = None) -> list[Claimed]:
    """Lease up to ``limit`` due deliveries (no earlier pending one of the same card to
    the same endpoint) to the worker ``owner`` and commit the lease."""
    earlier = aliased(WebhookDelivery)
    blocked = exists().where(and_(earlier.endpoint_id == WebhookDelivery.endpoint_id,
                                  earlier.card_id == WebhookDelivery.card_id,
                                  earlier.status == "pending",
                                  earlier.id < WebhookDelivery.id))
    rows = session.execute(
        select(WebhookDelivery.id, WebhookDelivery.attempts, WebhookDelivery.event_id,
               WebhookDelivery.event_type, WebhookDelivery.payload, WebhookEndpoint.url,
               WebhookEndpoint.secret)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.status == "pending", WebhookDelivery.available_at <= now,
               WebhookDelivery.leased_until.is_(None) | (WebhookDelivery.leased_until < now),
               ~blocked)
        .order_by(WebhookDelivery.available_at, WebhookDelivery.id).limit(limit)
        .with_for_update(of=WebhookDelivery, skip_locked=True)
    ).all()
    if rows:
        session.execute(update(DELIVERIES).where(DELIVERIES.c.id.in_([row.id for row in rows]))
                        .values(leased_until=now + LEASE, leased_by=owner))
    session.commit()
    return [Claimed(delivery_id=row.id, attempts=row.attempts, url=row.url,
                    secret=row.secret, event_id=row.event_id, event_type=row.event_type,
                    payload=row.payload) for row in rows]


class WebhookSync:
    """One worker's webhook stage; ``run_once`` sends what is due and says how much."""

    def __init__(self, *, sessions: sessionmaker[Session], sender: WebhookSender,
                 batch: int = 50, presence: Presence | None = None) -> None:
        self.presence = presence
        self.sessions = sessions
        self.sender = sender
        self.batch = batch
        self._pool = ThreadPoolExecutor(max_workers=CONCURRENCY,
                                        thread_name_prefix="loyalpass-webhook")

    def run_once(self) -> int:
        owner = self.presence.worker_id if self.presence is not None else None
        with self.sessions() as session:
            claimed = claim_deliveries(session, limit=self.batch, now=utcnow(), owner=owner)
        if not claimed:
            return 0
        with guard(self.presence, LEASED_DELIVERIES, [row.delivery_id for row in claimed],
                   owner) as ours:
            if not ours():
                return len(claimed)
            replies = list(self._pool.map(self.send, claimed))
            with self.sessions() as session:
                for row, reply in zip(claimed, replies, strict=True):
                    _record(session, row, reply, owned(LEASED_DELIVERIES, owner))
                session.commit()
        return len(claimed)

    def send(self, row: Claimed) -> Reply:
        body = json.dumps(row.payload, separators=(",", ":"), ensure_ascii=False).encode()
        return self.sender.post(row.url, body, {
            "Content-Type": "application/json", "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: signature(row.secret, int(time.time()), body),
            "Loyalpass-Event-Id": row.event_id, "Loyalpass-Event-Type": row.event_type})

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.sender.close()


def _record(session: Session, row: Claimed, reply: Reply, ours: ColumnElement[bool]) -> None:
    now = utcnow()
    attempts = row.attempts + 1
    lease_ours = and_(DELIVERIES.c.id == row.delivery_id, ours)
    if reply.delivered:
        session.execute(update(DELIVERIES).where(lease_ours).values(
            status="sent", sent_at=now, attempts=attempts, leased_until=None, leased_by=None,
            last_status=reply.status, last_error=None))
        count_after_commit(session, WEBHOOK_DELIVERIES, "delivered")
        return
    parked = attempts >= MAX_ATTEMPTS
    count_after_commit(session, WEBHOOK_DELIVERIES, "failed" if parked else "retry")
    session.execute(update(DELIVERIES).where(lease_ours).values(
        status="failed" if parked else "pending", attempts=attempts, leased_until=None,
        leased_by=None,
        available_at=now + timedelta(seconds=retry_delay(attempts)),
        last_status=reply.status, last_error=(reply.error or "failed")[:500]))
    if parked:
        log.error("webhook delivery %d parked after %d attempts: %s", row.delivery_id,
                  attempts, reply.error)
    else:
        log.warning("webhook delivery %d failed (attempt %d), trying again later: %s",
                    row.delivery_id, attempts, reply.error)


class WebhookWorker(ChannelLoop[WebhookSync]):
    """Sends the queued webhook deliveries (see ``ChannelLoop``)."""

    @property
    def client(self) -> WebhookSync:
        return self.channel
