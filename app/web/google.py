"""Google Wallet's save and delete callbacks: ``POST /google/callback``.

Google posts here (each class's ``callbackOptions.url``) when a user saves or deletes one
of our objects. The body's ECv2SigningOnly signatures are the only authentication, so
there is no API key or CSRF check, and nothing is written until they verify.

Statuses: 200 ``{"recorded": true|false}`` (false for a repeated nonce); 400
``invalid_callback`` for a bad signature, an expired or malformed body; 404 when Google
Wallet is off; 413 past 64 KiB; 503 ``google_keys_unavailable`` when Google's root keys
cannot be fetched (Google retries a failed callback).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request

from app.errors import BadRequest, NotFound, PayloadTooLarge, Problem
from app.google_wallet import callbacks
from app.google_wallet.keys import GoogleRootKeys, RootKeysUnavailable
from app.problem_codes import ProblemCode
from app.web.context import db, json_response, runtime
from app.web.jsonbody import loads
from passes.google.callbacks import Callback, CallbackError, verify_callback

blueprint = Blueprint("google", __name__)
log = logging.getLogger("loyalpass.google")

KEYS_EXTENSION = "loyalpass_google_keys"
MAX_BODY = 64 * 1024  # Google's callbacks are well under 4 KiB


class KeysUnavailable(Problem):
    status = 503
    code = ProblemCode.GOOGLE_KEYS_UNAVAILABLE
    title = "Service unavailable"


def init_app(app: Flask) -> None:
    """Create the app's one root keys provider, so its cache outlives each request.

    Nothing is fetched here: start-up must not depend on reaching Google.
    """
    config = app.extensions["loyalpass"].config
    if config.google_enabled:
        app.extensions[KEYS_EXTENSION] = GoogleRootKeys(
            config.google_keys_url, ca_file=config.google_ca_file)


@blueprint.post("/callback")
def callback() -> Response:
    issuer_id = runtime().config.google_issuer_id
    if issuer_id is None:
        raise NotFound("Google Wallet is not enabled on this service.")
    verified = _verified(_callback_bytes(), issuer_id)
    recorded = callbacks.record_callback(db(), callback=verified)
    return json_response({"recorded": recorded})


def _callback_bytes() -> bytes:
    """The raw body, read no further than the limit (the signatures cover exact bytes)."""
    if (request.content_length or 0) > MAX_BODY:
        raise PayloadTooLarge(f"A callback may be at most {MAX_BODY} bytes.")
    body = request.stream.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        raise PayloadTooLarge(f"A callback may be at most {MAX_BODY} bytes.")
    return body


def _verified(body: bytes, issuer_id: str) -> Callback:
    keys: GoogleRootKeys = current_app.extensions[KEYS_EXTENSION]
    now_ms = int(time.time() * 1000)
    try:
        token = _parsed(body)
        return _verify_allowing_rotation(keys, token, issuer_id, now_ms)
    except CallbackError as error:
        log.warning("Google callback refused: %s", error)
        raise BadRequest(f"The callback cannot be trusted: {error}",
                         code=ProblemCode.INVALID_CALLBACK) from None
    except RootKeysUnavailable as error:
        log.error("Google callback not checked: %s", error)
        raise KeysUnavailable("Google's signing keys cannot be fetched now; retry later."
                              ) from None


def _parsed(body: bytes) -> Mapping[str, Any]:
    """The body as JSON, parsed like every other request body (nesting bounded)."""
    try:
        token = loads(body)
    except ValueError:
        raise CallbackError("callback body is not valid JSON") from None
    if not isinstance(token, dict):
        raise CallbackError("callback body is not a JSON object")
    return token


def _verify_allowing_rotation(keys: GoogleRootKeys, body: Mapping[str, Any], issuer_id: str,
                              now_ms: int) -> Callback:
    """Verify with the cached keys, and on failure once more with re-fetched ones: Google
    may have rotated its root key since the document was cached."""
    cached = keys.current(now_ms)
    try:
        return verify_callback(body, root_keys=cached, recipient_id=issuer_id, now_ms=now_ms)
    except CallbackError:
        fresh = keys.refresh_after_failure(now_ms, tried=cached)
        if fresh is None:
            raise
    return verify_callback(body, root_keys=fresh, recipient_id=issuer_id, now_ms=now_ms)
