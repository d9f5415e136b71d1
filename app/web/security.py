"""Security headers, set in one place: an ``after_request`` hook over every response.

Invariants:

- every response says ``X-Content-Type-Options: nosniff`` and
  ``Referrer-Policy: same-origin`` (a card page's URL is its secret: it must never leave
  in a ``Referer`` to Google or anyone else), and ``Strict-Transport-Security`` when the
  public base URL is https;
- every HTML response carries ``CONTENT_SECURITY_POLICY`` (no inline script or style: the
  pages' styles are files served by Flask) and ``X-Frame-Options: DENY``;
- a view marked ``@no_store`` answers ``Cache-Control: no-store``, its errors included
  (the URL that reached it is a secret: no browser, proxy or back button may keep it).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import Flask, Response, g

P = ParamSpec("P")
R = TypeVar("R")

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "img-src 'self'",  # the pages show no data: or remote images
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
# A year; without includeSubDomains, since the operator's other hosts are not ours to pin.
STRICT_TRANSPORT_SECURITY = "max-age=31536000"


def no_store(view: Callable[P, R]) -> Callable[P, R]:
    """Mark a view whose URL is a secret (a card page, a recovery link): its answer, and
    any error it raises, is sent with ``Cache-Control: no-store``."""

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        g.no_store = True
        return view(*args, **kwargs)

    return wrapper


def every_answer_headers(*, https: bool) -> list[tuple[str, str]]:
    """The headers every response carries, whatever its type (see above); also what
    ``app.web.wallet_lane`` adds to the answers it gives without Flask."""
    headers = [("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "same-origin")]
    if https:
        headers.append(("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY))
    return headers


def install_security_headers(app: Flask, *, https: bool) -> None:
    every_answer = every_answer_headers(https=https)

    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        for name, value in every_answer:
            headers[name] = value
        if response.mimetype == "text/html":
            headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
            headers["X-Frame-Options"] = "DENY"
        if g.get("no_store"):
            headers["Cache-Control"] = "no-store"
        return response
