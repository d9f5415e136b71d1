"""What waits in each delivery channel, read from the database when ``/metrics`` is
scraped, as Prometheus gauges.

Read at scrape time rather than kept in gauges the workers set each round, because the
backlog matters most when no worker is working it (all of them dead, stuck, or too few):
a dead worker's gauges would stand still at their last value, or vanish with it, just
then. Read from the database, the figures are the whole deployment's and the same from
whichever web process answers, and they cost one statement per scrape instead of work
in every round of every worker. That statement is served by the index every channel
claims its rows with, ``(status, available_at)``: the pending and failed rows are two
ranges of it (small: the sent rows, nearly all of them, are never read), and the oldest
due row is the first of its range. It runs under a two-second statement timeout on
PostgreSQL, so that a scrape can never pile up behind a busy database.

Channels (``channel`` label): ``changes`` (outbox rows not fanned out yet), ``apple``
(registrations to push), ``google_class``, ``google_object``, ``google_message``,
``mail`` and ``webhook`` (deliveries).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    DateTime,
    Select,
    Table,
    bindparam,
    func,
    literal,
    select,
    text,
    union_all,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.db import describe_error
from app.devices.models import Registration
from app.google_wallet.models import GoogleClass, GoogleMessage, GoogleObject
from app.outbox.models import Mail, OutboxMessage
from app.webhooks.models import WebhookDelivery

log = logging.getLogger("loyalpass.metrics")

STATEMENT_TIMEOUT_MS = 2000
PENDING, FAILED = "pending", "failed"


@dataclass(frozen=True)
class Queue:
    """One channel's table and the columns its rows wait by."""

    channel: str
    status: ColumnElement[str]
    available_at: ColumnElement[datetime | None]


def _queue(channel: str, table: Any, status: str = "status",
           available_at: str = "available_at") -> Queue:
    columns = cast(Table, table.__table__).c
    return Queue(channel, columns[status], columns[available_at])


QUEUES = (
    _queue("changes", OutboxMessage),
    _queue("apple", Registration, "push_status", "push_available_at"),
    _queue("google_class", GoogleClass),
    _queue("google_object", GoogleObject),
    _queue("google_message", GoogleMessage),
    _queue("mail", Mail),
    _queue("webhook", WebhookDelivery),
)


@dataclass(frozen=True)
class ChannelBacklog:
    channel: str
    pending: int  # waiting to be sent: due now, or backing off after a failure
    due: int  # of those, due now (or in a worker's hands)
    oldest_due_at: datetime | None  # since when the longest-waiting due row is due
    failed: int  # parked after the last attempt, until someone retries them

    def oldest_due_age(self, now: datetime) -> float:
        """Seconds the longest-waiting due row has been due; 0 when none is."""
        if self.oldest_due_at is None:
            return 0.0
        return max(0.0, (now - self.oldest_due_at).total_seconds())


Figures = Select[str, int, int, datetime | None, int]
NOW = bindparam("now", type_=DateTime())


def _figures(queue: Queue) -> Figures:
    pending = queue.status == PENDING
    due = pending & (queue.available_at <= NOW)
    return (select(literal(queue.channel).label("channel"),
                   func.count().filter(pending).label("pending"),
                   func.count().filter(due).label("due"),
                   func.min(queue.available_at).filter(due).label("oldest_due_at"),
                   func.count().filter(queue.status == FAILED).label("failed"))
            .where(queue.status.in_((PENDING, FAILED))))


# Every channel's figures, one row each, in one statement (built once: building it costs
# more than the database takes to answer it); ``now`` is bound at each run.
BACKLOG: CompoundSelect[str, int, int, datetime | None, int] = union_all(
    *(_figures(queue) for queue in QUEUES))


def channel_backlog(session: Session, *, now: datetime) -> list[ChannelBacklog]:
    """Each channel's backlog; the transaction ends before it returns."""
    try:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"))
        rows = session.execute(BACKLOG, {"now": now}).all()
    finally:
        session.rollback()
    return [ChannelBacklog(channel=row.channel, pending=int(row.pending), due=int(row.due),
                           oldest_due_at=row.oldest_due_at, failed=int(row.failed))
            for row in rows]


def backlog_families(session: Session, *, google_budget: float | None) -> list[Metric]:
    """The gauges ``/metrics`` adds to the processes' counters: the backlog of every
    channel, whether the database answered, and (Google on) the request budget the
    workers share, a second (``google_budget``)."""
    now = utcnow()
    up = GaugeMetricFamily("loyalpass_database_up",
                           "1 when the database answered the backlog's statement")
    families: list[Metric] = [up]
    if google_budget is not None:
        families.append(GaugeMetricFamily(
            "loyalpass_google_request_budget_per_second",
            "Google Wallet requests a second that all workers together may send "
            "(LOYALPASS_GOOGLE_REQUESTS_PER_SECOND)", value=google_budget))
    try:
        backlog = channel_backlog(session, now=now)
    except SQLAlchemyError as error:
        log.warning("metrics: the backlog could not be read: %s", describe_error(error))
        up.add_metric([], 0)
        return families
    up.add_metric([], 1)
    gauges = {
        "pending": GaugeMetricFamily(
            "loyalpass_outbox_pending", "Rows waiting to be sent (due, or backing off)",
            labels=["channel"]),
        "due": GaugeMetricFamily(
            "loyalpass_outbox_due", "Rows due to be sent now", labels=["channel"]),
        "age": GaugeMetricFamily(
            "loyalpass_outbox_oldest_due_age_seconds",
            "How long the longest-waiting due row has been due (0: none)", labels=["channel"]),
        "failed": GaugeMetricFamily(
            "loyalpass_outbox_failed", "Rows parked as failed after their last attempt",
            labels=["channel"]),
    }
    for channel in backlog:
        gauges["pending"].add_metric([channel.channel], channel.pending)
        gauges["due"].add_metric([channel.channel], channel.due)
        gauges["age"].add_metric([channel.channel], channel.oldest_due_age(now))
        gauges["failed"].add_metric([channel.channel], channel.failed)
    return families + list(gauges.values())
