"""Per-request access to the runtime and to one database session."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from flask import Flask, Response, current_app, g, json
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from werkzeug.routing import IntegerConverter, Map

from app.runtime import Runtime
from app.validation import MAX_INT32

log = logging.getLogger("loyalpass.web")


def runtime() -> Runtime:
    value: Runtime = current_app.extensions["loyalpass"]
    return value


def db() -> Session:
    session: Session | None = g.get("db_session")
    if session is None:
        session = runtime().sessions()
        g.db_session = session
    return session


class IdConverter(IntegerConverter):
    """``<int:…>`` in a route: an id past the database's integer ids is a 404 like any other
    unknown id, instead of a query that fails with a 500."""

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = None,
                 max: int | None = MAX_INT32, signed: bool = False) -> None:
        super().__init__(map, fixed_digits, min, max, signed)


def install_session_teardown(app: Flask) -> None:
    @app.teardown_appcontext
    def _close_session(_error: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is None:
            return
        try:
            session.close()  # without a commit this rolls back
        except DBAPIError as error:
            # The connection went away (the server rolled the transaction back as it
            # ended): it is thrown away, and the answer already given stands.
            log.warning("closing the request's session: %s", error.orig)
            with contextlib.suppress(DBAPIError):
                session.invalidate()


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers,
                    mimetype="application/json")
