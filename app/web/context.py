"""Per-request access to the runtime and to one database session."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from flask import Flask, Response, current_app, g, json
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

from app.db import describe_error
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
    """``<int:…>`` in a route: ASCII digits only, and an id past the database's integer ids
    is a 404 like any other unknown id, instead of a query that fails with a 500.

    The 404 is raised here rather than by refusing the match (werkzeug's ``max``): a rule
    that does not match lets another rule's methods answer, a 405 for an id that is
    merely too large.
    """

    regex = r"[0-9]+"

    def to_python(self, value: str) -> Any:
        # Length first: int() of thousands of digits is slow, and refused past 4,300.
        if len(value) > len(str(MAX_INT32)) or int(value) > MAX_INT32:
            raise NotFound()
        return super().to_python(value)


def install_session_teardown(app: Flask) -> None:
    @app.teardown_appcontext
    def _close_session(_error: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            close_session(session)


def close_session(session: Session) -> None:
    """A request's session closed after its answer (also ``app.web.wallet_lane``'s)."""
    try:
        session.close()  # without a commit this rolls back
    except DBAPIError as error:
        # The connection went away (the server rolled the transaction back as it
        # ended): it is thrown away, and the answer already given stands.
        log.warning("closing the request's session: %s", describe_error(error))
        with contextlib.suppress(DBAPIError):
            session.invalidate()


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers,
                    mimetype="application/json")
