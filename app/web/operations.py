"""Health, readiness and Prometheus metrics for operators."""

from __future__ import annotations

import time

from flask import Blueprint, Flask, Response, g, request
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.delivery.backlog import backlog_families
from app.metrics import HTTP_LATENCY, HTTP_REQUESTS, exposition, method_label
from app.web.context import db, json_response, runtime

blueprint = Blueprint("operations", __name__)


def install_request_metrics(app: Flask) -> None:
    @app.before_request
    def _start_clock() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _count(response: Response) -> Response:
        # The route pattern, not the path: serial numbers must not become label values.
        endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
        count_request(request.method, endpoint, response.status_code,
                      g.pop("metrics_started", None))
        return response


def count_request(method: str, endpoint: str, status: int, started: float | None) -> None:
    """A request answered (``started``: its ``time.perf_counter()``, None if unknown);
    also counted by ``app.web.wallet_lane`` for the answers it gives without Flask."""
    HTTP_REQUESTS.labels(method_label(method), endpoint, str(status)).inc()
    if started is not None:
        HTTP_LATENCY.labels(endpoint).observe(time.perf_counter() - started)


@blueprint.get("/metrics")
def metrics() -> Response:
    # The counters of every process (or this one's) and the channels' backlog, read
    # from the database now: see app.metrics and app.delivery.backlog.
    config = runtime().config
    families = backlog_families(db(), google_budget=config.google_requests_per_second
                                if config.google_enabled else None)
    return Response(exposition(families), mimetype="text/plain; version=0.0.4")


@blueprint.get("/healthz")
def healthz() -> Response:
    return json_response({"status": "ok"})


@blueprint.get("/readyz")
def readyz() -> Response:
    """Ready: the database answers at the latest migration, and the certificates load and
    have more than ``READY_DAYS`` left (each named, with its expiry and the days left)."""
    from app.migrations import current_revision, head_revision
    from app.web.certificates import certificate_health

    certificates = certificate_health()
    named = {one.name: one.as_json() for one in certificates}
    certificates_ready = all(one.ready for one in certificates)
    try:
        db().execute(text("SELECT 1"))
        revision = current_revision(db().connection())
    except SQLAlchemyError:
        return json_response({"status": "unavailable", "database": "down",
                              "certificates": named}, 503)
    head = head_revision()
    ready = revision == head and certificates_ready
    return json_response(
        {"status": "ok" if ready else "unavailable", "database": "up",
         "migration": revision, "expected_migration": head, "certificates": named},
        200 if ready else 503,
    )
