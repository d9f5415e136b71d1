"""Each request's id and its one log line.

The id is the caller's ``X-Request-Id`` when it is short and plain (a proxy's or a load
balancer's, so that their logs and ours join up), else a new one; every line logged while
the request is answered carries it (``app.logs.REQUEST_ID``), and the answer sends it
back in ``X-Request-Id``. The request's own line names the method, the route pattern
(``/passkit/v1/passes/<pass_type>/<serial>``: never the path, which holds serial numbers,
card tokens and device ids), the status and the duration; no header, query or body.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time

from flask import Flask, Response, g, request

from app.logs import REQUEST_ID

log = logging.getLogger("loyalpass.request")

REQUEST_ID_HEADER = "X-Request-Id"
# What an incoming id may be: what proxies send (UUIDs, hex, dotted or colon-separated
# trace ids), nothing that could forge a log line or carry much.
VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# Probes polled every few seconds: their lines are debug, unless they fail.
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})
# A GET answered "nothing new" (a wallet's poll with no changed pass, 204; a pass or a file
# not modified, 304): the bulk of a large program's traffic, whose lines would say no more
# than the request metrics already count by route and status (route, status, duration:
# a line names no card or device). Debug lines too, unless debug is on.
NOTHING_NEW = frozenset({204, 304})


def install_request_log(app: Flask) -> None:
    """Installed before every other hook: a request another ``before_request`` answers
    (a rate limit) has its id and its line too."""
    app.before_request_funcs.setdefault(None, []).insert(0, _begin)
    app.after_request(_end)  # after_request hooks run last-registered first: ours last
    app.teardown_request(_forget)


def request_id_of(incoming: str | None) -> str:
    """The caller's id when it is acceptable, else a new one (32 hex digits: 128 random
    bits, as a UUID4 has, at a fifth of ``uuid4``'s cost)."""
    if incoming and VALID_REQUEST_ID.fullmatch(incoming):
        return incoming
    return os.urandom(16).hex()


def _begin() -> None:
    g.request_id = request_id_of(request.headers.get(REQUEST_ID_HEADER))
    g.request_id_token = REQUEST_ID.set(g.request_id)
    g.request_started = time.perf_counter()


def _end(response: Response) -> Response:
    request_id = g.get("request_id")
    if request_id is None:  # the hooks before ours did not run: nothing to log
        return response
    response.headers[REQUEST_ID_HEADER] = request_id
    route = request.url_rule.rule if request.url_rule is not None else None
    log_request(request.method, route, response.status_code, g.request_started)
    return response


def log_request(method: str, route: str | None, status: int, started: float) -> None:
    """The request's own line (see above); ``started`` is its ``time.perf_counter()``.
    Also written by ``app.web.wallet_lane`` for the answers it gives without Flask."""
    level = logging.WARNING if status >= 500 else (
        logging.DEBUG if route in QUIET_ROUTES or (method == "GET" and status in NOTHING_NEW)
        else logging.INFO)
    if not log.isEnabledFor(level):
        return
    duration = round((time.perf_counter() - started) * 1000, 1)
    log.log(level, "%s %s %d %.1f ms", method, route or "(no route)", status, duration,
            extra={"method": method, "route": route, "status": status,
                   "duration_ms": duration})


def _forget(_error: BaseException | None) -> None:
    token = g.pop("request_id_token", None)
    if token is not None:
        # Set in another context (a copied one) it raises ValueError, and ends with it.
        with contextlib.suppress(ValueError):
            REQUEST_ID.reset(token)
