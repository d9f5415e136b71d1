"""The wallet's two frequent requests answered below Flask: the device's poll (``GET
…/devices/<device>/registrations/<pass_type>``) and its pass (``GET
…/passes/<pass_type>/<serial>``, whole or a 304), as ``app.web.apple_ws`` answers them.

After an offer reaches 100,000 phones each of them polls and fetches its pass within a
minute. The statements behind them are one prepared statement each
(``app.devices.wallet_reads``); what was left was Flask's own work per request (its
contexts, the URL map, the hooks, the response object), which cost as much as the
statement. So a WSGI middleware in front of Flask answers them with the same service
calls, and adds what Flask's hooks add to every answer.

Invariants:

- It answers only what the views would answer with success: a well-formed poll (no query
  or ``passesUpdatedSince`` alone) of our pass type (204, or 200 with the serial
  numbers), and a well-formed pass request of our pass type whose token matches (304, or
  200 with the signed pass). Everything else, a malformed identifier, another pass type,
  a missing or wrong token, an unknown pass, another method or path, and any error at all
  (the database down included), is handed to Flask unanswered, whose views answer it as
  they always have: the same problem documents, statuses, limits and logs.
- What it answers carries what Flask's hooks add to every answer: the security headers
  (``app.web.security.every_answer_headers``), ``X-Request-Id`` and the request's log
  line (``app.web.request_log``), and the request metrics by route pattern
  (``app.web.operations.count_request``). Its headers and bodies are the views' own
  (``tests/test_wallet_lane.py`` compares them).
- It only reads: a request it began and handed over is answered by Flask from the start,
  and nothing was changed twice.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from werkzeug.http import http_date, parse_date

from app.db import LazySession
from app.devices import service
from app.logs import REQUEST_ID
from app.runtime import Runtime
from app.web import apple_ws
from app.web.context import close_session
from app.web.operations import count_request
from app.web.request_log import REQUEST_ID_HEADER, log_request, request_id_of
from app.web.security import every_answer_headers

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from flask import Flask

log = logging.getLogger("loyalpass.web")

POLL_VIEW, PASS_VIEW = "apple_ws.updated_serials", "apple_ws.latest_pass"  # endpoints
# The query Wallet sends with a poll: nothing, or its last tag (any other: Flask's).
POLL_QUERY = re.compile(r"(?:passesUpdatedSince=(?P<tag>[0-9]{1,19}))?")
STATUS_LINES = {200: "200 OK", 204: "204 NO CONTENT", 304: "304 NOT MODIFIED"}
NO_CACHE = ("Cache-Control", "no-cache")


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""


@dataclass(frozen=True)
class _Route:
    pattern: re.Pattern[str]
    rule: str  # the route's pattern, as Flask's logs and metrics name it
    answer: Callable[[WSGIEnvironment, dict[str, str], LazySession], Answer | None]


class WalletLane:
    """WSGI middleware: the wallet's poll and pass, else ``flask`` (see above)."""

    def __init__(self, app: Flask, flask: WSGIApplication) -> None:
        self.flask = flask
        self._runtime: Runtime = app.extensions["loyalpass"]
        self._dumps = app.json.dumps
        self._every_answer = every_answer_headers(
            https=self._runtime.config.base_url.startswith("https://"))
        rules = {rule.endpoint: rule.rule for rule in app.url_map.iter_rules()}
        self._routes = (_Route(_pattern(rules[POLL_VIEW]), rules[POLL_VIEW], self._poll),
                        _Route(_pattern(rules[PASS_VIEW]), rules[PASS_VIEW], self._pass))

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse
                 ) -> Iterable[bytes]:
        path: str = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") == "GET" and path.startswith(apple_ws.URL_PREFIX):
            for route in self._routes:
                found = route.pattern.fullmatch(path)
                if found is not None:
                    answered = self._answer(route, found.groupdict(), environ)
                    if answered is not None:
                        status, headers, body = answered
                        start_response(status, headers)
                        return [body]
                    break
        return self.flask(environ, start_response)

    def _answer(self, route: _Route, values: dict[str, str], environ: WSGIEnvironment
                ) -> tuple[str, list[tuple[str, str]], bytes] | None:
        started = time.perf_counter()
        request_id = request_id_of(environ.get("HTTP_X_REQUEST_ID"))
        context = REQUEST_ID.set(request_id)
        session = LazySession(self._runtime.sessions)  # on SQLite, or a design not drawn
        answer: Answer | None = None  # also when a worker's exit interrupts it
        try:
            answer = route.answer(environ, values, session)
        except Exception as error:  # Flask's views answer it, as they always have
            log.debug("the wallet lane handed a request to Flask: %s", type(error).__name__)
        finally:
            if session.made is not None:
                close_session(session.made)
            if answer is not None:  # Flask writes its own line for what it answers
                log_request("GET", route.rule, answer.status, started)
            REQUEST_ID.reset(context)
        if answer is None:
            return None
        count_request("GET", route.rule, answer.status, started)
        headers = [*answer.headers, *self._every_answer, (REQUEST_ID_HEADER, request_id)]
        return STATUS_LINES[answer.status], headers, answer.body

    def _poll(self, environ: WSGIEnvironment, values: dict[str, str],
              session: LazySession) -> Answer | None:
        device, pass_type = values["device"], values["pass_type"]
        query = POLL_QUERY.fullmatch(environ.get("QUERY_STRING", ""))
        if (query is None or apple_ws.DEVICE_ID.fullmatch(device) is None
                or pass_type != self._runtime.wallet.pass_type_identifier):
            return None
        result = service.updated_passes(
            self._runtime.held, session, device_library_identifier=device,
            since=service.parse_tag(query["tag"]))
        if result is None:
            return Answer(204, [])
        body = self._dumps({"serialNumbers": result.serial_numbers,
                            "lastUpdated": result.last_updated}).encode()
        return Answer(200, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(body)))], body)

    def _pass(self, environ: WSGIEnvironment, values: dict[str, str],
              session: LazySession) -> Answer | None:
        pass_type, serial = values["pass_type"], values["serial"]
        token = apple_ws.apple_pass_token(environ.get("HTTP_AUTHORIZATION"))
        if (token is None or apple_ws.SERIAL.fullmatch(serial) is None
                or pass_type != self._runtime.wallet.pass_type_identifier):
            return None
        since = parse_date(environ.get("HTTP_IF_MODIFIED_SINCE"))
        latest = service.latest_pass(
            self._runtime.held, session, self._runtime.wallet, serial_number=serial,
            token=token, modified_since=since.replace(tzinfo=None) if since else None)
        if latest.package is None:
            # As Flask sends it: werkzeug leaves Last-Modified out of a 304.
            return Answer(304, [NO_CACHE])
        return Answer(200, [("Last-Modified", http_date(latest.last_modified)), NO_CACHE,
                            ("Content-Type", apple_ws.PKPASS),
                            ("Content-Length", str(len(latest.package)))], latest.package)


def _pattern(rule: str) -> re.Pattern[str]:
    """A Flask rule's pattern (``/a/<name>/b``) as a regular expression whose groups are
    its variables (the default converter: anything but a slash)."""
    return re.compile(re.sub(r"<(\w+)>", r"(?P<\1>[^/]+)", rule))


def install_wallet_lane(app: Flask) -> None:
    """In front of the app's WSGI callable (after its routes are registered)."""
    app.wsgi_app = WalletLane(app, app.wsgi_app)  # type: ignore[method-assign]

