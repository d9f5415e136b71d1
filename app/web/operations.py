"""Health, readiness and Prometheus metrics for operators."""

from __future__ import annotations

from flask import Blueprint, Response
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.web.context import db, json_response

blueprint = Blueprint("operations", __name__)


@blueprint.get("/healthz")
def healthz() -> Response:
    return json_response({"status": "ok"})


@blueprint.get("/readyz")
def readyz() -> Response:
    from app.migrations import current_revision, head_revision

    try:
        db().execute(text("SELECT 1"))
        revision = current_revision(db().connection())
    except SQLAlchemyError:
        return json_response({"status": "unavailable", "database": "down"}, 503)
    head = head_revision()
    ready = revision == head
    return json_response(
        {"status": "ok" if ready else "unavailable", "database": "up",
         "migration": revision, "expected_migration": head},
        200 if ready else 503,
    )
