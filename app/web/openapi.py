"""The OpenAPI 3.1 description served at ``/api/openapi.json``.

Request schemas come from the same pydantic models that validate the requests, so the
description cannot drift from what the service accepts. Every operation lists every
status the service may answer, from what it is (``Op``): 400 ``malformed_body`` and 413
for a body, 401 and 429 for the key (and repeated failures), 403 when a role may be
refused, 404 for a path id, 422 for a body, a query or a header that is checked, 503 for
the database; each problem with the problem+json schema. The schemathesis run in the test
suite holds the service to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pydantic import BaseModel

from app.cards.schemas import CardLinkInput, EnrolmentInput
from app.ledger.schemas import (
    AdjustmentInput,
    BlockInput,
    LookupInput,
    PurchaseInput,
    RefundInput,
)
from app.merchants.models import ROLES
from app.merchants.schemas import ApiKeyCreate, LocationCreate, ProgramCreate, ProgramUpdate
from app.offers.schemas import OfferCreate
from app.validation import MAX_INT32
from app.web.auth import COUNTER, READERS, WRITERS
from app.web.openapi_schemas import ref, response_schemas

REQUEST_MODELS: tuple[type[BaseModel], ...] = (
    ProgramCreate, ProgramUpdate, LocationCreate, EnrolmentInput, LookupInput, PurchaseInput,
    RefundInput, AdjustmentInput, BlockInput, ApiKeyCreate, OfferCreate, CardLinkInput,
)
EVERYONE = tuple(ROLES)
PROBLEM_JSON = "application/problem+json"
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before sending again",
                               "schema": {"type": "integer"}}}
ID = {"name": "id", "in": "path", "required": True,
      "schema": {"type": "integer", "minimum": 1, "maximum": MAX_INT32}}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": True,
    "description": "Printable ASCII, at most 255 characters, unique per merchant; the same "
                   "key and body replay the first answer (with Idempotency-Replayed: true), "
                   "another body under it is 409 idempotency_key_reused.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255,
               "pattern": "^[\\x20-\\x7e]+$"},
}


def _query(name: str, description: str, minimum: int = 1,
           maximum: int = MAX_INT32) -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description,
            "schema": {"type": "integer", "minimum": minimum, "maximum": maximum}}


@dataclass(frozen=True)
class Op:
    """One operation: what it answers when it succeeds, and what makes it refuse."""

    summary: str
    roles: tuple[str, ...]
    answers: dict[str, Any]
    body: str | None = None  # the request model's name; a JSON body
    body_optional: bool = False
    keyed: bool = False  # needs an Idempotency-Key
    query: tuple[dict[str, Any], ...] = ()
    query_refused: bool = True  # a query parameter out of its schema is a 422
    conflicts: str | None = None  # the 409 codes
    not_found: str | None = None  # a 404 besides the path id's
    invalid: str | None = None  # a 422 besides the body's, the query's and the key's
    limited: str | None = None  # a 429 besides repeated failed authentications
    forbidden: str | None = None  # a 403 besides a role's
    extra: dict[str, Any] = field(default_factory=dict)


def _answer(description: str, schema: str | None = None, media: str = "application/json",
            headers: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description}
    if schema is not None:
        answer["content"] = {media: {"schema": ref(schema)}}
    if headers:
        answer["headers"] = headers
    return answer


def _problem(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    return _answer(description, "Problem", PROBLEM_JSON, headers)


def _refusals(op: Op, has_id: bool) -> dict[str, Any]:
    refusals: dict[str, Any] = {}
    if op.body is not None:
        refusals["400"] = _problem("malformed_body: not JSON, not an object where one is due, "
                                   "or nested deeper than 32 levels")
    refusals["401"] = _problem("unauthorized, invalid_api_key: no key, or not a live one")
    refused = [text for text in (
        f"role_forbidden: only {', '.join(op.roles)} keys" if op.roles != EVERYONE else None,
        op.forbidden) if text]
    if refused:
        refusals["403"] = _problem("; ".join(refused))
    found = [text for text in ("the id is not the merchant's" if has_id else None,
                               op.not_found) if text]
    if found:
        refusals["404"] = _problem("not_found: " + "; ".join(found))
    if op.conflicts:
        refusals["409"] = _problem(op.conflicts + " (nothing changed)")
    if op.body is not None or "requestBody" in op.extra:
        refusals["413"] = _problem("payload_too_large: the body is over 4 MiB")
    checked = [text for text in (
        "a field of the body (errors names each)" if op.body else None,
        "a query parameter" if op.query and op.query_refused else None,
        "idempotency_key_required, invalid_idempotency_key" if op.keyed else None,
        op.invalid) if text]
    if checked:
        refusals["422"] = _problem("invalid: " + "; ".join(checked))
    refusals["429"] = _problem("rate_limited: too many failed authentications from the "
                               "client" + (f"; {op.limited}" if op.limited else ""),
                               RETRY_AFTER)
    refusals["503"] = _problem("database_unavailable: send again (a write with the same "
                               "Idempotency-Key is recorded once)", RETRY_AFTER)
    return refusals


def _operation(op: Op, has_id: bool) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": op.summary,
        "description": f"Roles: {', '.join(op.roles)}.",
        "responses": {**op.answers, **_refusals(op, has_id)},
    }
    parameters = [*op.query, *([IDEMPOTENCY_KEY] if op.keyed else [])]
    if parameters:
        operation["parameters"] = parameters
    if op.body is not None:
        operation["requestBody"] = {"required": not op.body_optional, "content": {
            "application/json": {"schema": ref(op.body)}}}
    operation.update(op.extra)
    return operation


def _paths() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for path, methods in _operations().items():
        has_id = "{id}" in path
        item: dict[str, Any] = {"parameters": [ID]} if has_id else {}
        item.update({method: _operation(op, has_id) for method, op in methods.items()})
        paths[path] = item
    return paths


def _artwork(name: str, what: str, program: dict[str, Any]) -> dict[str, Op]:
    """Upload (PUT) and removal (DELETE) of one kind of the program's pass artwork."""
    media = ("image/png", "image/jpeg")
    return {
        "put": Op(f"Upload the program's {name}: {what}; every pass is redrawn with it",
                  WRITERS, {"200": program},
                  invalid="not a readable PNG or JPEG, or too small or large "
                          "(errors: (body))",
                  extra={"requestBody": {"required": True, "content": {
                      kind: {"schema": {"type": "string", "format": "binary"}}
                      for kind in media}}}),
        "delete": Op(f"Remove the program's {name}: the passes return to the drawn "
                     "default", WRITERS, {"200": program}),
    }


def _operations() -> dict[str, dict[str, Op]]:
    card, program = _answer("the card", "Card"), _answer("the program", "Program")
    return {
        "/api/v1/programs": {
            "post": Op("Create a program", WRITERS, {"201": program}, "ProgramCreate",
                       conflicts="slug_taken"),
            "get": Op("List programs", READERS, {"200": _answer("programs", "Programs")})},
        "/api/v1/programs/{id}": {
            "get": Op("Get a program", READERS, {"200": program}),
            "patch": Op("Change a program", WRITERS, {"200": program}, "ProgramUpdate")},
        "/api/v1/programs/{id}/logo": {"put": Op(
            "Upload the program's logo: a PNG or JPEG of 16 to 4096 pixels a side, decoded "
            "in full", WRITERS, {"200": program},
            invalid="not a readable PNG or JPEG, or too small or large (errors: (body))",
            extra={"requestBody": {"required": True, "content": {
                media: {"schema": {"type": "string", "format": "binary"}}
                for media in ("image/png", "image/jpeg")}}})},
        "/api/v1/programs/{id}/strip": _artwork(
            "strip photo", "the photo behind the balance on the pass: a PNG or JPEG of at "
            "least 375×123 and at most 4096 pixels a side (1125×369 is sharp on every "
            "phone), up to 5 MiB, decoded in full", program),
        "/api/v1/programs/{id}/stamp-icon": _artwork(
            "stamp icon", "the icon in each stamp of a stamp card: a PNG or JPEG of 16 to "
            "4096 pixels a side, up to 1 MiB, decoded in full (a transparent PNG is drawn "
            "as a silhouette in the program's colours)", program),
        "/api/v1/programs/{id}/locations": {
            "post": Op("Add a location", WRITERS, {"201": _answer("location", "Location")},
                       "LocationCreate"),
            "get": Op("List locations", READERS, {"200": _answer("locations", "Locations")})},
        "/api/v1/programs/{id}/qr.png": {"get": Op(
            "The counter QR code (the join URL)", EVERYONE,
            {"200": {"description": "PNG", "content": {"image/png": {}}}},
            query=(_query("location", "one of the program's locations"),),
            query_refused=False, not_found="no such location in the program (any other "
                                           "value of location)")},
        "/api/v1/programs/{id}/cards": {"post": Op(
            "Enrol a customer (the merchant's own key: a card already enrolled with this "
            "email or phone is returned; the public join form never does that)", COUNTER,
            {"201": _answer("new card", "Card"),
             "200": _answer("the card already enrolled with this email or phone", "Card")},
            "EnrolmentInput")},
        "/api/v1/cards/{id}": {"get": Op("Get a card", EVERYONE, {"200": card})},
        "/api/v1/cards/{id}/link": {"post": Op(
            "Give the card a new customer link: the old card_url and the pass download under "
            "it stop working at once, and the pass is bumped so that it carries the new "
            "link. The body may be left out.", WRITERS,
            {"200": _answer("the new card_url", "CardLink")}, "CardLinkInput",
            body_optional=True)},
        "/api/v1/api-keys": {
            "post": Op("Issue a key with a role; the key is shown once", ("owner",),
                       {"201": _answer("the key, with api_key", "NewApiKey")},
                       "ApiKeyCreate", not_found="no such location"),
            "get": Op("List keys (no secrets)", ("owner",),
                      {"200": _answer("keys", "ApiKeys")})},
        "/api/v1/api-keys/{id}": {"delete": Op("Revoke a key", ("owner",),
                                               {"200": _answer("the key", "ApiKey")})},
        **_ledger_operations(), **_offer_operations(), **_delivery_operations(),
    }


def _ledger_operations() -> dict[str, dict[str, Op]]:
    replayed = {"Idempotency-Replayed": {"description": "true on a replayed answer",
                                         "schema": {"type": "string"}}}
    card = _answer("the card", "Card")
    return {
        "/api/v1/pos/lookup": {"post": Op(
            "Find a card by its scanned barcode or typed number", EVERYONE,
            {"200": _answer("the card, redeemable points and open offers", "LookedUpCard")},
            "LookupInput", not_found="unknown_barcode")},
        "/api/v1/pos/purchases": {"post": Op(
            "Record a purchase, earning and optionally redeeming points", COUNTER,
            {"201": _answer("the purchase", "Purchase", headers=replayed)}, "PurchaseInput",
            keyed=True, not_found="unknown_barcode", invalid="unknown_location",
            conflicts="insufficient_points, redeem_limit, insufficient_rewards, card_blocked,"
                      " idempotency_key_reused",
            limited="velocity_limit: the program's purchase limits",
            forbidden="location_forbidden: a cashier key bound to a location named another",
            extra={"description": f"Roles: {', '.join(COUNTER)}; a cashier key bound to a "
                   "location records purchases there only (403 location_forbidden)."})},
        "/api/v1/pos/purchases/{id}": {"get": Op(
            "Get a purchase", EVERYONE, {"200": _answer("the purchase", "Purchase")})},
        "/api/v1/pos/purchases/{id}/refund": {"post": Op(
            "Refund a purchase, whole (no body or no amount) or in part", COUNTER,
            {"201": _answer("the refund", "Refund", headers=replayed)}, "RefundInput",
            body_optional=True, keyed=True,
            conflicts="refund_exceeds_purchase, idempotency_key_reused",
            forbidden="location_forbidden: a cashier key bound to a location, for a purchase "
                      "made at another location or at none (nothing changed)",
            extra={"description": f"Roles: {', '.join(COUNTER)}; a cashier key bound to a "
                   "location refunds only purchases made at that location (403 "
                   "location_forbidden, nothing changed); owner and manager keys, and "
                   "cashier keys bound to none, refund any of the merchant's purchases."})},
        "/api/v1/cards/{id}/adjustments": {"post": Op(
            "Correct a balance with a reason", WRITERS,
            {"201": _answer("the entry and the new balance", "Adjustment", headers=replayed)},
            "AdjustmentInput", keyed=True,
            conflicts="insufficient_points, idempotency_key_reused")},
        "/api/v1/cards/{id}/block": {"post": Op(
            "Block a card: refused at the counter, its pass voided", WRITERS, {"200": card},
            "BlockInput", body_optional=True)},
        "/api/v1/cards/{id}/unblock": {"post": Op(
            "Unblock a card", WRITERS, {"200": card}, "BlockInput", body_optional=True)},
        "/api/v1/cards/{id}/entries": {"get": Op(
            "The card's ledger, newest first", EVERYONE,
            {"200": _answer("entries, and the next page's before", "Entries")},
            query=(_query("limit", "page size (default 50)", 1, 1000),
                   _query("before", "the next of the previous page")))},
        "/api/v1/alerts": {"get": Op(
            "Fraud alerts, newest first", READERS, {"200": _answer("alerts", "Alerts")},
            query=(_query("limit", "how many (default 100)", 1, 1000),))},
    }


def _offer_operations() -> dict[str, dict[str, Op]]:
    offer = _answer("the offer", "Offer")
    return {
        "/api/v1/programs/{id}/offers": {
            "post": Op("Create an offer (a draft) for the program's audience", WRITERS,
                       {"201": offer}, "OfferCreate",
                       invalid="segments_unavailable, an unknown tier"),
            "get": Op("The program's offers, newest first", READERS,
                      {"200": _answer("offers", "Offers")})},
        "/api/v1/offers/{id}": {"get": Op("An offer", READERS, {"200": offer})},
        "/api/v1/offers/{id}/publish": {"post": Op(
            "Publish: the offer appears on every targeted pass and their devices are pushed",
            WRITERS, {"202": _answer("how many cards it reached", "Published")},
            conflicts="offer_published, offer_not_started, offer_ended")},
    }


def _delivery_operations() -> dict[str, dict[str, Op]]:
    return {
        "/api/v1/cards/{id}/deliveries": {"get": Op(
            "What became of the card's updates: per Apple device, its Google object (null "
            "while Google Wallet is off or before the object exists), and the mails sent to "
            "its holder (card recovery links), newest first", READERS,
            {"200": _answer("deliveries", "Deliveries")})},
        "/api/v1/cards/{id}/deliveries/retry": {"post": Op(
            "Requeue the card's parked pushes, Google updates and the mails to its holder "
            "whose links are still open", WRITERS,
            {"200": _answer("how many were requeued", "Requeued")})},
        "/api/v1/pushes": {"get": Op(
            "The merchant's push counts", READERS,
            {"200": _answer("pending, failed, delivered, devices", "PushCounts")})},
    }


@cache
def _components() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for model in REQUEST_MODELS:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    schemas.update(response_schemas())
    return {
        "schemas": schemas,
        "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
    }


def openapi_document(base_url: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Loyalpass API", "version": "1"},
        "servers": [{"url": base_url}],
        "security": [{"apiKey": []}],
        "paths": _paths(),
        "components": _components(),
    }
