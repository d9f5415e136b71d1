"""Every error as ``application/problem+json`` (RFC 9457) with a stable ``code``, one of
``app.problem_codes.ProblemCode``."""

from __future__ import annotations

import logging
import traceback
from typing import Any

from flask import Flask, Response, json
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from werkzeug.exceptions import HTTPException

from app.db import describe_error
from app.errors import Problem, Unavailable
from app.problem_codes import HTTP_LAYER_CODES, ProblemCode

log = logging.getLogger("loyalpass.web")



def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(body), status=int(body["status"]),
                        mimetype="application/problem+json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def install_problem_handlers(app: Flask) -> None:
    @app.errorhandler(Problem)
    def _problem(error: Problem) -> Response:
        if isinstance(error, Unavailable):
            log.warning("database unavailable: %s", describe_error(error.__cause__ or error))
        if error.retry_after is not None:
            return problem_response(error.as_dict(), {"Retry-After": str(error.retry_after)})
        return problem_response(error.as_dict())

    @app.errorhandler(OperationalError)
    @app.errorhandler(DisconnectionError)
    def _database(error: Exception) -> Response:
        # The session's statements: the server went away, a lock or statement timed out,
        # SQLite stayed locked. The transaction did not commit.
        return _problem(_unavailable(error))

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        status = error.code or 500
        body = {
            "type": "about:blank",
            "status": status,
            "title": error.name,
            "detail": error.description or error.name,
            "code": HTTP_LAYER_CODES.get(status, ProblemCode.HTTP_ERROR),
        }
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        return problem_response(body, headers)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        if _from_database(error) and _driver_operational(error):
            # The driver's own, unwrapped (a connection the pool or ``app.sql`` opened):
            # the server is down or restarting, nothing was written; the client may retry.
            return _problem(_unavailable(error))
        if _from_database(error):
            # Where it happened, and what, without the error's text (which may quote a row).
            log.error("unhandled database error: %s\n%s", describe_error(error),
                      "".join(traceback.format_tb(error.__traceback__)).rstrip())
        else:
            log.exception("unhandled error")
        return problem_response({
            "type": "about:blank", "status": 500, "title": "Internal Server Error",
            "detail": "Something went wrong on our side; nothing was changed.",
            "code": ProblemCode.INTERNAL_ERROR,
        })


def _from_database(error: BaseException) -> bool:
    """A SQLAlchemy error from the driver, or the driver's own (``app.sql``'s statements)."""
    module = type(error).__module__
    return isinstance(error, DBAPIError) or module == "sqlite3" or module.startswith("psycopg")


def _driver_operational(error: BaseException) -> bool:
    return any(kind.__name__ == "OperationalError" for kind in type(error).__mro__)


def _unavailable(error: Exception) -> Unavailable:
    problem = Unavailable()
    problem.__cause__ = error
    return problem
