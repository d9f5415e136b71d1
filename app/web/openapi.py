"""The OpenAPI 3.1 description served at ``/api/openapi.json``.

Request schemas come from the same pydantic models that validate the requests, so the
description cannot drift from what the service accepts.
"""

from __future__ import annotations

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
from app.merchants.schemas import ApiKeyCreate, LocationCreate, ProgramCreate, ProgramUpdate
from app.offers.schemas import OfferCreate

REQUEST_MODELS: tuple[type[BaseModel], ...] = (
    ProgramCreate, ProgramUpdate, LocationCreate, EnrolmentInput, LookupInput, PurchaseInput,
    RefundInput, AdjustmentInput, BlockInput, ApiKeyCreate, OfferCreate, CardLinkInput,
)
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": True,
    "description": "Unique per merchant; the same key and body replay the first answer "
                   "(with Idempotency-Replayed: true), another body under it is 409.",
    "schema": {"type": "string", "maxLength": 255},
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _body(name: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(name)}}}


def _answer(description: str, schema: str | None = None,
            media: str = "application/json") -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description}
    if schema is not None:
        answer["content"] = {media: {"schema": _ref(schema)}}
    return answer


PROBLEMS = {
    status: _answer(text, "Problem", "application/problem+json")
    for status, text in {"401": "missing or invalid API key", "403": "role not allowed",
                         "404": "not found (or another merchant's)",
                         "422": "invalid field"}.items()
}


def _operation(summary: str, answers: dict[str, Any], body: str | None = None,
               **extra: Any) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "responses": {**answers, **PROBLEMS}}
    if body is not None:
        operation["requestBody"] = _body(body)
    operation.update(extra)
    return operation


ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}


def _paths() -> dict[str, Any]:
    return {
        "/api/v1/programs": {
            "post": _operation("Create a program", {"201": _answer("program", "Program")},
                               "ProgramCreate"),
            "get": _operation("List programs", {"200": _answer("programs")}),
        },
        "/api/v1/programs/{id}": {
            "parameters": [ID],
            "get": _operation("Get a program", {"200": _answer("program", "Program")}),
            "patch": _operation("Change a program", {"200": _answer("program", "Program")},
                                "ProgramUpdate"),
        },
        "/api/v1/programs/{id}/logo": {
            "parameters": [ID],
            "put": _operation("Upload the program's logo (PNG or JPEG body)",
                              {"200": _answer("program", "Program")}),
        },
        "/api/v1/programs/{id}/locations": {
            "parameters": [ID],
            "post": _operation("Add a location", {"201": _answer("location", "Location")},
                               "LocationCreate"),
            "get": _operation("List locations", {"200": _answer("locations")}),
        },
        "/api/v1/programs/{id}/qr.png": {
            "parameters": [ID, {"name": "location", "in": "query",
                                "schema": {"type": "integer"}}],
            "get": _operation("The counter QR code (the join URL)",
                              {"200": {"description": "PNG",
                                       "content": {"image/png": {}}}}),
        },
        "/api/v1/programs/{id}/cards": {
            "parameters": [ID],
            "post": _operation(
                "Enrol a customer (the merchant's own key: a card already enrolled with this "
                "email or phone is returned; the public join form never does that)",
                {"201": _answer("new card", "Card"),
                 "200": _answer("the card already enrolled with this email or phone", "Card")},
                "EnrolmentInput"),
        },
        "/api/v1/cards/{id}": {
            "parameters": [ID],
            "get": _operation("Get a card", {"200": _answer("card", "Card")}),
        },
        "/api/v1/cards/{id}/link": {"parameters": [ID], "post": _operation(
            "Give the card a new customer link (owner, manager): the old card_url and the "
            "pass download under it stop working at once, and the pass is bumped so that "
            "it carries the new link. The body may be left out.",
            {"200": _answer("the new card_url", "CardLink"),
             "400": _answer("the body is not JSON", "Problem", "application/problem+json")},
            requestBody={"required": False, "content": {
                "application/json": {"schema": _ref("CardLinkInput")}}})},
        "/api/v1/api-keys": {
            "post": _operation("Issue a key with a role (owner only); the key is shown once",
                               {"201": _answer("key with api_key")}, "ApiKeyCreate"),
            "get": _operation("List keys (no secrets)", {"200": _answer("keys")}),
        },
        "/api/v1/api-keys/{id}": {"parameters": [ID], "delete": _operation(
            "Revoke a key", {"200": _answer("key")})},
        **_ledger_paths(),
    }


def _refund(operation: dict[str, Any]) -> dict[str, Any]:
    operation["description"] = ("A cashier key bound to a location refunds only purchases "
                                 "made at that location; owner and manager keys, and cashier "
                                 "keys bound to none, refund any of the merchant's purchases.")
    operation["responses"]["403"] = _answer(
        "role_forbidden, or location_forbidden: the purchase was made at another location "
        "than the cashier key's (nothing changed)", "Problem", "application/problem+json")
    return operation


def _ledger_paths() -> dict[str, Any]:
    conflict = {"409": _answer("insufficient_points, redeem_limit, card_blocked, "
                               "idempotency_key_reused, refund_exceeds_purchase", "Problem",
                               "application/problem+json")}
    limited = {"429": _answer("velocity_limit", "Problem", "application/problem+json")}
    keyed = {"parameters": [IDEMPOTENCY_KEY]}
    return {
        "/api/v1/pos/lookup": {"post": _operation(
            "Find a card by its scanned barcode or typed number",
            {"200": _answer("the card, redeemable_points and open offers", "Card")},
            "LookupInput")},
        "/api/v1/pos/purchases": {"post": _operation(
            "Record a purchase, earning and optionally redeeming points",
            {"201": _answer("purchase", "Purchase"), **conflict, **limited},
            "PurchaseInput", **keyed)},
        "/api/v1/pos/purchases/{id}": {"parameters": [ID], "get": _operation(
            "Get a purchase", {"200": _answer("purchase", "Purchase")})},
        "/api/v1/pos/purchases/{id}/refund": {"parameters": [ID], "post": _refund(
            _operation("Refund a purchase, whole (no amount) or in part",
                       {"201": _answer("refund"), **conflict}, "RefundInput", **keyed))},
        "/api/v1/cards/{id}/adjustments": {"parameters": [ID], "post": _operation(
            "Correct a balance with a reason (owner, manager)",
            {"201": _answer("entry"), **conflict}, "AdjustmentInput", **keyed)},
        "/api/v1/cards/{id}/block": {"parameters": [ID], "post": _operation(
            "Block a card: refused at the counter, its pass voided",
            {"200": _answer("card", "Card")}, "BlockInput")},
        "/api/v1/cards/{id}/unblock": {"parameters": [ID], "post": _operation(
            "Unblock a card", {"200": _answer("card", "Card")}, "BlockInput")},
        "/api/v1/cards/{id}/entries": {"parameters": [
            ID, {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 1000}},
            {"name": "before", "in": "query", "schema": {"type": "integer"}}],
            "get": _operation("The card's ledger, newest first",
                              {"200": _answer("entries and the next page's before")})},
        "/api/v1/alerts": {"get": _operation("Fraud alerts, newest first",
                                             {"200": _answer("alerts")})},
        **_delivery_paths(),
        **_offer_paths(),
    }


def _offer_paths() -> dict[str, Any]:
    conflict = {"409": _answer("offer_published, offer_not_started, offer_ended", "Problem",
                               "application/problem+json")}
    return {
        "/api/v1/programs/{id}/offers": {"parameters": [ID], "post": _operation(
            "Create an offer (a draft) for the program's audience",
            {"201": _answer("offer", "Offer")}, "OfferCreate"), "get": _operation(
            "The program's offers, newest first", {"200": _answer("offers")})},
        "/api/v1/offers/{id}": {"parameters": [ID], "get": _operation(
            "An offer", {"200": _answer("offer", "Offer")})},
        "/api/v1/offers/{id}/publish": {"parameters": [ID], "post": _operation(
            "Publish: the offer appears on every targeted pass and their devices are pushed",
            {"202": _answer("how many cards it reached"), **conflict})},
    }


def _delivery_paths() -> dict[str, Any]:
    return {
        "/api/v1/cards/{id}/deliveries": {"parameters": [ID], "get": _operation(
            "What became of the card's updates: per Apple device, its Google object "
            "(null while Google Wallet is off or before the object exists), and the mails "
            "sent to its holder (card recovery links), newest first",
            {"200": _answer("deliveries", "Deliveries")})},
        "/api/v1/cards/{id}/deliveries/retry": {"parameters": [ID], "post": _operation(
            "Requeue the card's parked pushes, Google updates and mails to its holder whose "
            "links are still open (owner, manager)",
            {"200": _answer("how many were requeued")})},
        "/api/v1/pushes": {"get": _operation(
            "The merchant's push counts", {"200": _answer(
                "pending, failed, delivered, devices")})},
    }


def _response_schemas() -> dict[str, Any]:
    string, integer = {"type": "string"}, {"type": "integer"}
    return {
        "Problem": {"type": "object", "required": ["status", "title", "detail", "code"],
                    "properties": {"type": string, "status": integer, "title": string,
                                   "detail": string, "code": string,
                                   "errors": {"type": "array"}}},
        "Program": {"type": "object", "required": ["id", "slug", "join_url"],
                    "properties": {"id": integer, "slug": string, "name": string,
                                   "join_url": string, "qr_url": string}},
        "Purchase": {"type": "object",
                     "required": ["id", "card_id", "amount", "earned", "redeemed", "balance",
                                  "tier"],
                     "properties": {"id": integer, "card_id": integer, "amount": integer,
                                    "amount_paid": integer, "earned": integer,
                                    "bonus": integer, "redeemed": integer,
                                    "balance": integer, "tier": {"type": ["string", "null"]}}},
        "Location": {"type": "object", "required": ["id", "name", "join_url"],
                     "properties": {"id": integer, "name": string, "join_url": string}},
        "Card": {"type": "object",
                 "required": ["id", "number", "serial_number", "status", "balance", "tier",
                              "stamps", "barcode", "apple_pass_url", "card_url"],
                 "properties": {
                     "id": integer, "number": string, "serial_number": string,
                     "status": {"type": "string", "enum": ["active", "blocked"]},
                     "balance": integer, "tier": {"type": ["string", "null"]},
                     "stamps": integer,
                     "barcode": {"type": "object", "properties": {"format": string,
                                                                  "message": string}},
                     "apple_pass_url": string,
                     "google_save_url": {"type": "string", "description": (
                         "https://pay.google.com/gp/v/save/<JWT>; absent while Google "
                         "Wallet is off")},
                     "card_url": string}},
        "Offer": {"type": "object",
                  "required": ["id", "title", "body", "starts_at", "ends_at", "audience",
                               "promotional", "status"],
                  "properties": {"id": integer, "title": string, "body": string,
                                 "starts_at": string, "ends_at": {"type": ["string", "null"]},
                                 "audience": {"type": "object"},
                                 "promotional": {"type": "boolean"},
                                 "status": {"enum": ["draft", "active", "ended"]}}},
        "CardLink": {"type": "object", "required": ["card_url"],
                     "properties": {"card_url": string}},
        "Deliveries": {"type": "object",
                       "required": ["card_id", "deliveries", "google", "mails"],
                       "properties": {
                           "card_id": integer, "pass_version": integer,
                           "deliveries": {"type": "array", "items": {"type": "object"}},
                           "google": {"type": ["object", "null"], "properties": {
                               "object_id": string,
                               "status": {"enum": ["pending", "synced", "failed"]},
                               "inserted": {"type": "boolean"},
                               "last_error": {"type": ["string", "null"]},
                               "saved_at": {"type": ["string", "null"]},
                               "removed_at": {"type": ["string", "null"]},
                               "messages": {"type": "array",
                                            "items": {"type": "object"}}}},
                           "mails": {"type": "array", "items": _mail_schema()}}},
    }


def _mail_schema() -> dict[str, Any]:
    nullable_string = {"type": ["string", "null"]}
    return {"type": "object",
            "required": ["id", "kind", "status", "attempts", "created_at"],
            "properties": {
                "id": {"type": "integer"}, "kind": {"enum": ["card_recovery"]},
                "program_id": {"type": ["integer", "null"]},
                "status": {"enum": ["pending", "sent", "failed"], "description": (
                    "failed: parked after its last attempt, refused for good by the mail "
                    "server, or its link used or expired before it could go")},
                "attempts": {"type": "integer"},
                "next_attempt_at": nullable_string, "created_at": {"type": "string"},
                "sent_at": nullable_string, "last_error": nullable_string}}


@cache
def _components() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for model in REQUEST_MODELS:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    schemas.update(_response_schemas())
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
