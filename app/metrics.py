"""Prometheus metrics of the service: what an operator watches, served at ``/metrics`` by
the web processes and on ``--metrics-port`` by ``loyalpass worker``.

Two kinds. Counters each process keeps of what it did: HTTP requests and their latency by
route pattern, passes built, registrations, pushes by result, Google updates and
requests, mails, webhook deliveries, ledger entries and operations. A count that a
transaction makes true is counted once that transaction commits (``count_after_commit``
on the sessions ``watch_commits`` watches): a purchase rolled back counts nothing. And
the backlog of every channel, read from the database when ``/metrics`` is scraped
(``app.delivery.backlog``), handed to ``exposition`` as ready metric families.

Labels are low-cardinality only: route patterns, HTTP methods from a fixed list, results,
kinds, Apple's documented reasons. Never a serial number, token, card, merchant or path.

Several processes (gunicorn's workers, ``loyalpass worker`` processes on the same host):
set ``PROMETHEUS_MULTIPROC_DIR`` to an empty folder, the same for all, before they start.
Each process then writes its counts there and ``/metrics`` adds up every process's,
dead ones included (counters keep what they counted); see the README's "Metrics".
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

# Without it every counter brings a ``_created`` series (its creation time) beside it:
# twice the series for nothing an operator reads (multiprocess mode never has them).
disable_created_metrics()  # type: ignore[no-untyped-call]

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
HTTP_REQUESTS = Counter(
    "loyalpass_http_requests_total", "HTTP requests answered", ["method", "endpoint", "status"]
)
HTTP_LATENCY = Histogram(
    "loyalpass_http_request_seconds", "Time to answer an HTTP request", ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
PASSES_BUILT = Counter("loyalpass_passes_built_total", "Signed .pkpass packages built")
PASSES_SIGNED_AHEAD = Counter("loyalpass_passes_signed_ahead_total",
                              "Passes signed by the worker ahead of their download")
PASSES_SERVED_SIGNED = Counter("loyalpass_passes_served_signed_ahead_total",
                               "Pass downloads served from a pass signed ahead")
DEVICE_REGISTRATIONS = Counter(
    "loyalpass_device_registrations_total", "Apple devices registered for pass updates",
    ["result"],
)
PASSES_ON_OLD_KEYS = Gauge(
    "loyalpass_passes_on_previous_keys",
    "Passes that may still carry a previous secret key (re-signing after a rotation)",
    multiprocess_mode="livemostrecent",
)
APNS_PUSHES = Counter(
    "loyalpass_apns_pushes_total",
    "Pushes APNs answered, by what became of the registrations (sent, unregistered: "
    "removed, retry: later, failed: parked) and Apple's reason",
    ["result", "reason"],
)
GOOGLE_UPDATES = Counter(
    "loyalpass_google_updates_total",
    "Google Wallet classes, objects and messages sent, by result (updated, retry, "
    "quota_deferred: Google's quota, tried later; failed: parked)",
    ["kind", "result"],
)
GOOGLE_MESSAGES = Counter(
    "loyalpass_google_messages_total",
    "Messages added to Google passes: notifying, or silent once the pass's 3 notifications "
    "in 24 hours are spent",
    ["notification"],
)
GOOGLE_REQUESTS = Counter(
    "loyalpass_google_requests_total",
    "Requests sent to Google Wallet's API (the project's budget is about 20 a second), by "
    "outcome", ["outcome"],
)
GOOGLE_RATE_LIMIT_WAIT = Counter(
    "loyalpass_google_rate_limit_wait_seconds_total",
    "Time spent waiting for the shared Google request budget",
)
MAIL_DELIVERIES = Counter(
    "loyalpass_mails_total",
    "Mails handed to the mail server, by result (sent, retry, failed: parked, unsent: "
    "its link closed or it could not be written)", ["result"],
)
WEBHOOK_DELIVERIES = Counter(
    "loyalpass_webhook_deliveries_total",
    "Webhook POSTs, by result (delivered, retry, failed: parked after 24 hours)", ["result"],
)
LEDGER_ENTRIES = Counter(
    "loyalpass_ledger_entries_total",
    "Ledger entries committed, by kind (earn, redeem, bonus, welcome, adjust, reverse, "
    "expire)", ["kind"],
)
LEDGER_WRITES = Counter(
    "loyalpass_ledger_writes_total",
    "Ledger operations committed (purchase, refund, adjustment, expiration)", ["operation"],
)

PENDING = "loyalpass.metrics_pending"  # in session.info: counts to add once it commits


def method_label(method: str) -> str:
    """The HTTP method, or ``other``: a client may send any token as a method."""
    return method if method in HTTP_METHODS else "other"


def count_after_commit(session: Session, counter: Counter, *labels: str,
                       amount: float = 1.0) -> None:
    """Add ``amount`` to ``counter`` (with ``labels``) when the session's transaction
    commits; nothing if it rolls back. The session must come from sessions that
    ``watch_commits`` watches (the app's do)."""
    session.info.setdefault(PENDING, []).append((counter, labels, amount))


def watch_commits(sessions: sessionmaker[Session]) -> None:
    event.listen(sessions, "after_commit", _count_committed)
    event.listen(sessions, "after_rollback", _forget_rolled_back)


def _count_committed(session: Session) -> None:
    for counter, labels, amount in session.info.pop(PENDING, ()):
        (counter.labels(*labels) if labels else counter).inc(amount)


def _forget_rolled_back(session: Session) -> None:
    session.info.pop(PENDING, None)


class _Families(Collector):
    """Metric families computed by the caller for one scrape (the backlog)."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self.families


class _ThisProcess(Collector):
    """The default registry's metrics: this process's counters."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROCESS_VARIABLE) or None


def exposition(families: Iterable[Metric] = ()) -> bytes:
    """The text ``/metrics`` serves: every process's counts (with
    ``PROMETHEUS_MULTIPROC_DIR``) or this process's, and ``families``."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir():
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_ThisProcess())
    registry.register(_Families(families))
    return generate_latest(registry)


def serve(port: int, host: str) -> tuple[Any, threading.Thread]:
    """Serve this process's metrics over HTTP on ``host:port`` (any path answers), in a
    daemon thread; the server's ``shutdown()`` stops it. OSError when the port is taken."""
    return start_http_server(port, addr=host, registry=REGISTRY)


def forget_process(pid: int) -> None:
    """What a process that ends leaves in ``PROMETHEUS_MULTIPROC_DIR`` that must not
    outlive it (live gauges); its counters stay and keep counting in the sums."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
