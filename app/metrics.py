"""Prometheus metrics of the service, served at ``/metrics``.

Under gunicorn with several workers, set ``PROMETHEUS_MULTIPROC_DIR`` to an empty folder
so that every worker's counts are added up (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import os

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

HTTP_REQUESTS = Counter(
    "loyalpass_http_requests_total", "HTTP requests answered", ["method", "endpoint", "status"]
)
HTTP_LATENCY = Histogram(
    "loyalpass_http_request_seconds", "Time to answer an HTTP request", ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
PASSES_BUILT = Counter("loyalpass_passes_built_total", "Signed .pkpass packages built")
DEVICE_REGISTRATIONS = Counter(
    "loyalpass_device_registrations_total", "Apple devices registered for pass updates",
    ["result"],
)
PASSES_ON_OLD_KEYS = Gauge(
    "loyalpass_passes_on_previous_keys",
    "Passes that may still carry a previous secret key (re-signing after a rotation)",
    multiprocess_mode="livemostrecent",
)


def exposition() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest()
