"""The OpenAPI 3.1 description served at ``/api/openapi.json``, built from the app's routes.

Its paths are the routes the app serves under ``/api/v1`` (``app.url_map``), each path
id as ``{id}``. A view carries its operation's documentation (``@documented``, between the
route and ``requires``: summary, answers, request body, refusals), and the roles come from
its ``requires``: nothing is listed twice. A route without documentation is left out,
and tests/test_openapi_routes.py fails on it (as on a described operation no route serves).

Request schemas come from the same pydantic models that validate the requests, so the
description cannot drift from what the service accepts. Every operation lists every
status the service may answer, from what it is (``Op``): 400 ``malformed_body`` and 413
for a body, 401 and 429 for the key (and repeated failures), 403 when a role may be
refused, 404 for a path id, 422 for a body, a query or a header that is checked, 503 for
the database, and the operation's own refusals; each problem with the problem+json schema,
its ``code`` one of those listed for that status (``app.problem_codes``). The
schemathesis run in the test suite holds the service to it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from flask import Flask
from pydantic import BaseModel

from app.merchants.models import ROLES
from app.problem_codes import ProblemCode
from app.validation import MAX_INT32
from app.web.auth import REQUIRED_ROLES
from app.web.openapi_schemas import ref, response_schemas

API_PREFIX = "/api/v1/"
OPERATION = "openapi_operation"  # the attribute of a view that holds its ``Op``
PROBLEM_JSON = "application/problem+json"
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before sending again",
                               "schema": {"type": "integer"}}}
REPLAYED = {"Idempotency-Replayed": {"description": "true on a replayed answer",
                                     "schema": {"type": "string"}}}
ID = {"name": "id", "in": "path", "required": True,
      "schema": {"type": "integer", "minimum": 1, "maximum": MAX_INT32}}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": True,
    "description": "Printable ASCII, at most 255 characters, unique per merchant; the same "
                   "key and body replay the first answer (with Idempotency-Replayed: true), "
                   f"another body under it is 409 {ProblemCode.IDEMPOTENCY_KEY_REUSED}.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255,
               "pattern": "^[\\x20-\\x7e]+$"},
}
_ROUTE_PARAMETER = re.compile(r"<(?:(\w+):)?\w+>")  # werkzeug's <converter:name>

# A problem the operation may answer besides those every operation of its kind does: its
# code, or its code and when.
Refusal = ProblemCode | tuple[ProblemCode, str]
View = TypeVar("View", bound=Callable[..., Any])


@dataclass(frozen=True)
class Op:
    """One operation: what it answers when it succeeds, and what makes it refuse."""

    summary: str
    answers: dict[str, Any]
    body: type[BaseModel] | None = None  # a JSON body, checked by this model
    body_optional: bool = False
    raw_body: dict[str, Any] | None = None  # a request body that is not JSON (the logo)
    keyed: bool = False  # needs an Idempotency-Key
    query: tuple[dict[str, Any], ...] = ()
    query_refused: bool = True  # a query parameter out of its schema is a 422
    refusals: tuple[Refusal, ...] = ()
    # What a body over the size limit is answered (an import's limit is its own).
    too_large: tuple[ProblemCode, str] = (ProblemCode.PAYLOAD_TOO_LARGE,
                                          "the body is over 4 MiB")
    note: str | None = None  # said after the roles in the operation's description


def documented(summary: str, answers: dict[str, Any], **details: Any
               ) -> Callable[[View], View]:
    """The view's operation in the description (``Op``'s fields); put it between the
    route and ``requires`` (whose roles it reads: a view without them is refused here, as
    the module is imported)."""
    operation = Op(summary, answers, **details)

    def attach(view: View) -> View:
        if not hasattr(view, REQUIRED_ROLES):
            raise TypeError(f"{view.__name__}: put @documented above @requires")
        setattr(view, OPERATION, operation)
        return view

    return attach


def response_doc(description: str, schema: str | None = None,
                 media: str = "application/json", headers: dict[str, Any] | None = None
                 ) -> dict[str, Any]:
    """A response object: a success's description, and its body's schema if it has one."""
    response: dict[str, Any] = {"description": description}
    if schema is not None:
        response["content"] = {media: {"schema": ref(schema)}}
    if headers:
        response["headers"] = headers
    return response


def query_parameter(name: str, description: str, minimum: int = 1,
                    maximum: int = MAX_INT32) -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description,
            "schema": {"type": "integer", "minimum": minimum, "maximum": maximum}}


def _problem_doc(refusals: list[tuple[ProblemCode, str | None]]) -> dict[str, Any]:
    """A problem response object: its codes and when, and the Problem schema with ``code``
    one of them."""
    whens: dict[ProblemCode, list[str]] = {}
    for code, when in refusals:
        whens.setdefault(code, [])
        if when:
            whens[code].append(when)
    description = "; ".join(f"{code}: {' or '.join(said)}" if said else str(code)
                            for code, said in whens.items())
    status = refusals[0][0].status
    if status == ProblemCode.CONFLICT.status:
        description += " (nothing changed)"
    schema = {"allOf": [ref("Problem"), {"properties": {"code": {"enum": list(whens)}}}]}
    response: dict[str, Any] = {"description": description,
                                "content": {PROBLEM_JSON: {"schema": schema}}}
    if status in (ProblemCode.RATE_LIMITED.status, ProblemCode.DATABASE_UNAVAILABLE.status):
        response["headers"] = RETRY_AFTER
    return response


def _refusals(op: Op, roles: tuple[str, ...], has_id: bool) -> dict[str, Any]:
    refused: dict[int, list[tuple[ProblemCode, str | None]]] = {}

    def add(code: ProblemCode, when: str | None = None) -> None:
        assert code.status is not None
        refused.setdefault(code.status, []).append((code, when))

    if op.body is not None:
        add(ProblemCode.MALFORMED_BODY,
            "not JSON, not an object where one is due, or nested deeper than 32 levels")
    add(ProblemCode.UNAUTHORIZED, "no key")
    add(ProblemCode.INVALID_API_KEY, "not a live one")
    if set(roles) != set(ROLES):
        add(ProblemCode.ROLE_FORBIDDEN, f"only {', '.join(roles)} keys")
    if has_id:
        add(ProblemCode.NOT_FOUND, "the id is not the merchant's")
    if op.body is not None or op.raw_body is not None:
        add(*op.too_large)
    if op.body is not None:
        add(ProblemCode.INVALID, "a field of the body (errors names each)")
    if op.query and op.query_refused:
        add(ProblemCode.INVALID, "a query parameter")
    if op.keyed:
        add(ProblemCode.IDEMPOTENCY_KEY_REQUIRED)
        add(ProblemCode.INVALID_IDEMPOTENCY_KEY)
    add(ProblemCode.RATE_LIMITED, "too many failed authentications from the client")
    add(ProblemCode.DATABASE_UNAVAILABLE,
        "send again (a write with the same Idempotency-Key is recorded once)")
    for refusal in op.refusals:
        code, when = (refusal, None) if isinstance(refusal, ProblemCode) else refusal
        add(code, when)
    return {str(status): _problem_doc(refused[status]) for status in sorted(refused)}


def _operation(op: Op, roles: tuple[str, ...], has_id: bool) -> dict[str, Any]:
    said = f"Roles: {', '.join(roles)}" + (f"; {op.note}" if op.note else "") + "."
    operation: dict[str, Any] = {
        "summary": op.summary,
        "description": said,
        "responses": {**op.answers, **_refusals(op, roles, has_id)},
    }
    parameters = [*op.query, *([IDEMPOTENCY_KEY] if op.keyed else [])]
    if parameters:
        operation["parameters"] = parameters
    if op.body is not None:
        operation["requestBody"] = {"required": not op.body_optional, "content": {
            "application/json": {"schema": ref(op.body.__name__)}}}
    elif op.raw_body is not None:
        operation["requestBody"] = op.raw_body
    return operation


@dataclass(frozen=True)
class Routed:
    """An operation the app serves: its path as the description writes it, its method,
    its documentation (None: undocumented) and the roles its ``requires`` admits."""

    path: str
    method: str
    op: Op | None
    roles: tuple[str, ...]


def described_path(rule: str) -> str:
    """A route's path as the description writes it: its one id (``<int:…>``) as ``{id}``."""
    converters = _ROUTE_PARAMETER.findall(rule)
    if len(converters) > 1 or any(converter != "int" for converter in converters):
        raise ValueError(f"{rule}: an API path has at most one parameter, an <int:…> id")
    return _ROUTE_PARAMETER.sub("{id}", rule)


def api_routes(app: Flask) -> Iterator[Routed]:
    """Every operation the app serves under ``/api/v1``, in the order of its routes."""
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(API_PREFIX):
            continue
        view = app.view_functions[rule.endpoint]
        required: tuple[str, ...] = getattr(view, REQUIRED_ROLES, ())
        roles = tuple(role for role in ROLES if role in required)  # in ROLES' order
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield Routed(described_path(rule.rule), method.lower(),
                         getattr(view, OPERATION, None), roles)


def _paths(routes: list[Routed]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for routed in routes:
        if routed.op is None:
            continue  # undocumented: tests/test_openapi_routes.py names it
        has_id = "{id}" in routed.path
        item = paths.setdefault(routed.path, {"parameters": [ID]} if has_id else {})
        item[routed.method] = _operation(routed.op, routed.roles, has_id)
    return paths


@cache
def _components(request_models: tuple[type[BaseModel], ...]) -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for model in request_models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    schemas.update(response_schemas())
    return {
        "schemas": schemas,
        "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
    }


def openapi_document(base_url: str, app: Flask) -> dict[str, Any]:
    routes = list(api_routes(app))
    models = tuple(dict.fromkeys(routed.op.body for routed in routes
                                 if routed.op is not None and routed.op.body is not None))
    return {
        "openapi": "3.1.0",
        "info": {"title": "Loyalpass API", "version": "1"},
        "servers": [{"url": base_url}],
        "security": [{"apiKey": []}],
        "paths": _paths(routes),
        "components": _components(models),
    }
