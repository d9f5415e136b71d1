"""Apple's pass update web service, exactly as Apple specifies it, under ``/passkit/v1``.

Statuses: register 201 new / 200 known / 401; list 200 / 204; pass 200 / 304 / 401;
unregister 200 / 401; log 200. Malformed identifiers, bodies and headers get 400 (413 for
oversized logs), never 500.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, request
from werkzeug.http import http_date, parse_date

from app.devices import service
from app.errors import BadRequest, PayloadTooLarge, Unauthorized
from app.metrics import DEVICE_REGISTRATIONS
from app.problem_codes import ProblemCode
from app.validation import text_fault
from app.web.context import db, json_response, runtime

blueprint = Blueprint("apple_ws", __name__)
URL_PREFIX = "/passkit/v1"  # where ``app.web`` registers the blueprint

DEVICE_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
PASS_TYPE_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
SERIAL = re.compile(r"[A-Za-z0-9._-]{1,64}")
PUSH_TOKEN = re.compile(r"[0-9A-Fa-f]{8,256}")
PKPASS = "application/vnd.apple.pkpass"


def _check(pattern: re.Pattern[str], value: str, name: str) -> None:
    if pattern.fullmatch(value) is None:
        raise BadRequest(f"{name} is malformed.", code=ProblemCode.MALFORMED_IDENTIFIER)


def _check_path(device: str | None, pass_type: str, serial: str | None = None) -> None:
    if device is not None:
        _check(DEVICE_ID, device, "deviceLibraryIdentifier")
    _check(PASS_TYPE_ID, pass_type, "passTypeIdentifier")
    if serial is not None:
        _check(SERIAL, serial, "serialNumber")


def apple_pass_token(authorization: str | None) -> str | None:
    """The pass's token from an ``Authorization: ApplePass <token>`` header, or None."""
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme == "ApplePass" and token.strip() else None


def _apple_pass_token() -> str | None:
    return apple_pass_token(request.headers.get("Authorization"))


def _require_our_pass_type(pass_type: str) -> None:
    if pass_type != runtime().wallet.pass_type_identifier:
        raise Unauthorized("This service does not issue passes of that type.")


def _empty(status: int) -> Response:
    response = Response(status=status)
    del response.headers["Content-Type"]  # there is no content (nor a page to protect)
    return response


@blueprint.post("/devices/<device>/registrations/<pass_type>/<serial>")
def register(device: str, pass_type: str, serial: str) -> Response:
    _check_path(device, pass_type, serial)
    token = _apple_pass_token()
    _require_our_pass_type(pass_type)
    body: Any = request.get_json(silent=True)
    push_token = body.get("pushToken") if isinstance(body, dict) else None
    if not isinstance(push_token, str) or PUSH_TOKEN.fullmatch(push_token) is None:
        # Authenticate first so that a stranger learns nothing from a 400.
        service.authenticated_card(db(), serial_number=serial, token=token)
        raise BadRequest("The body must be JSON with a hexadecimal pushToken.",
                         code=ProblemCode.MALFORMED_BODY)
    created = service.register(db(), device_library_identifier=device, serial_number=serial,
                               push_token=push_token, token=token)
    DEVICE_REGISTRATIONS.labels("created" if created else "updated").inc()
    return _empty(201 if created else 200)


@blueprint.delete("/devices/<device>/registrations/<pass_type>/<serial>")
def unregister(device: str, pass_type: str, serial: str) -> Response:
    _check_path(device, pass_type, serial)
    token = _apple_pass_token()
    _require_our_pass_type(pass_type)
    service.unregister(db(), device_library_identifier=device, serial_number=serial,
                       token=token)
    return _empty(200)


@blueprint.get("/devices/<device>/registrations/<pass_type>")
def updated_serials(device: str, pass_type: str) -> Response:
    _check_path(device, pass_type)
    if pass_type != runtime().wallet.pass_type_identifier:
        return _empty(204)
    since = service.parse_tag(request.args.get("passesUpdatedSince"))
    result = service.updated_passes(runtime().held, db, device_library_identifier=device,
                                    since=since)
    if result is None:
        return _empty(204)
    return json_response(
        {"serialNumbers": result.serial_numbers, "lastUpdated": result.last_updated}
    )


@blueprint.get("/passes/<pass_type>/<serial>")
def latest_pass(pass_type: str, serial: str) -> Response:
    _check_path(None, pass_type, serial)
    token = _apple_pass_token()
    _require_our_pass_type(pass_type)
    since = parse_date(request.headers.get("If-Modified-Since"))
    latest = service.latest_pass(
        runtime().held, db, runtime().wallet, serial_number=serial, token=token,
        modified_since=since.replace(tzinfo=None) if since is not None else None)
    headers = {"Last-Modified": http_date(latest.last_modified), "Cache-Control": "no-cache"}
    if latest.package is None:
        unchanged = _empty(304)
        unchanged.headers.update(headers)
        return unchanged
    return Response(latest.package, mimetype=PKPASS, headers=headers)


@blueprint.post("/log")
def log() -> Response:
    limit = runtime().config.log_max_bytes
    if (request.content_length or 0) > limit or len(request.get_data()) > limit:
        raise PayloadTooLarge(f"A log may be at most {limit} bytes.")
    body: Any = request.get_json(silent=True)
    logs = body.get("logs") if isinstance(body, dict) else None
    if not isinstance(logs, list) or not all(
            isinstance(item, str) and text_fault(item, multiline=True) is None for item in logs):
        raise BadRequest("The body must be JSON with a list of strings (text without control"
                         " characters but tabs and line breaks) under logs.",
                         code=ProblemCode.MALFORMED_BODY)
    service.store_log(db(), messages=logs[:100], remote_addr=request.remote_addr,
                      keep_rows=runtime().config.log_keep_rows)
    return _empty(200)

