"""JSON Schemas of what the API answers, for the OpenAPI description.

Each mirrors a function that writes a body (``app.web.views``, ``app.ledger.service``,
``app.ledger.purchases``, ``app.offers.service``, ``app.delivery.deliveries``,
``app.google_wallet.service``, ``app.web.problems``): a field they may leave null is
nullable here, and every field they always write is required. Objects stay open to new
fields. The schemathesis run in the test suite checks every answer against them.
"""

from __future__ import annotations

from typing import Any, get_args

from app.ledger.models import ENTRY_KINDS
from app.merchants.models import ROLES
from app.merchants.schemas import BarcodeFormat

STRING: dict[str, Any] = {"type": "string"}
INTEGER: dict[str, Any] = {"type": "integer"}
NUMBER: dict[str, Any] = {"type": "number"}
BOOLEAN: dict[str, Any] = {"type": "boolean"}


def nullable(kind: str) -> dict[str, Any]:
    return {"type": [kind, "null"]}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def record(properties: dict[str, Any], *, optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """An object with these properties, all required but ``optional``."""
    return {"type": "object", "properties": properties,
            "required": [name for name in properties if name not in optional]}


def listing(key: str, item: str) -> dict[str, Any]:
    return record({key: {"type": "array", "items": ref(item)}})


def _problem() -> dict[str, Any]:
    error = record({"field": STRING, "message": STRING})
    return record({"type": STRING, "status": INTEGER, "title": STRING, "detail": STRING,
                   "code": STRING, "errors": {"type": "array", "items": error}},
                  optional=("errors",))


def _program() -> dict[str, Any]:
    tier = record({"name": STRING, "min_spend": INTEGER, "earn_percent": NUMBER})
    colors = record({"background": STRING, "foreground": STRING, "label": STRING})
    limits = record({name: nullable("integer") for name in (
        "purchases_per_card_per_hour", "purchases_per_card_per_day",
        "points_per_cashier_per_day")})
    return record({
        "id": INTEGER, "slug": STRING, "name": STRING,
        "kind": {"enum": ["points", "stamps"]}, "currency": STRING,
        "country": nullable("string"), "earn_percent": NUMBER, "point_value": INTEGER,
        "welcome_points": INTEGER, "tiers": {"type": "array", "items": tier},
        "stamps_required": nullable("integer"), "reward_text": nullable("string"),
        "colors": colors, "locales": {"type": "array", "items": STRING},
        "barcode_format": {"enum": list(get_args(BarcodeFormat))}, "limits": limits,
        "terms": nullable("string"), "support_email": nullable("string"),
        "support_phone": nullable("string"), "website": nullable("string"),
        "has_logo": BOOLEAN, "has_strip": BOOLEAN, "has_stamp_icon": BOOLEAN,
        "design_version": INTEGER, "join_url": STRING,
        "qr_url": STRING, "created_at": STRING})


def _card() -> dict[str, Any]:
    customer = record({"name": STRING, "email": nullable("string"),
                       "phone": nullable("string"), "locale": STRING,
                       "marketing_consent": BOOLEAN})
    return record({
        "id": INTEGER, "program_id": INTEGER, "number": STRING, "serial_number": STRING,
        "status": {"enum": ["active", "blocked"]}, "balance": INTEGER,
        "tier": nullable("string"), "stamps": INTEGER, "rewards": INTEGER,
        "visits": INTEGER, "lifetime_spend": INTEGER, "last_visit_at": nullable("string"),
        "barcode": record({"format": STRING, "message": STRING}),
        "apple_pass_url": STRING, "card_url": STRING, "customer": customer,
        "created_at": STRING,
        "google_save_url": {"type": "string", "description": (
            "https://pay.google.com/gp/v/save/<JWT>; absent while Google Wallet is off")},
    }, optional=("google_save_url",))


def _looked_up() -> dict[str, Any]:
    program = record({"id": INTEGER, "name": STRING, "kind": STRING, "currency": STRING,
                      "point_value": INTEGER, "stamps_required": nullable("integer")})
    extra = record({"redeemable_points": INTEGER, "redeemable_value": INTEGER,
                    "offers": {"type": "array", "items": ref("Offer")}, "program": program})
    return {"allOf": [ref("Card"), extra]}


def _purchase() -> dict[str, Any]:
    return record({
        "id": INTEGER, "card_id": INTEGER, "amount": INTEGER, "amount_paid": INTEGER,
        "earned": INTEGER, "bonus": INTEGER, "redeemed": INTEGER, "redeemed_value": INTEGER,
        "stamps_added": INTEGER, "rewards_redeemed": INTEGER, "refunded_amount": INTEGER,
        "balance": INTEGER, "tier": nullable("string"), "stamps": INTEGER, "rewards": INTEGER,
        "location_id": nullable("integer"), "external_id": nullable("string"),
        "created_at": STRING})


def _refund() -> dict[str, Any]:
    return record({
        "id": INTEGER, "purchase_id": INTEGER, "card_id": INTEGER, "amount": INTEGER,
        "refunded_total": INTEGER, "points_reversed": INTEGER, "points_returned": INTEGER,
        "points_forgone": INTEGER, "balance": INTEGER, "tier": nullable("string"),
        "stamps": INTEGER, "created_at": STRING})


def _entry() -> dict[str, Any]:
    return record({
        "id": INTEGER, "kind": {"enum": list(ENTRY_KINDS)},
        "points": INTEGER, "stamps": INTEGER, "rewards": INTEGER,
        "purchase_id": nullable("integer"), "refund_id": nullable("integer"),
        "location_id": nullable("integer"), "api_key_id": nullable("integer"),
        "reason": STRING, "created_at": STRING})


def _api_key() -> dict[str, Any]:
    return record({
        "id": INTEGER, "role": {"enum": list(ROLES)},
        "name": STRING, "location_id": nullable("integer"), "prefix": STRING,
        "created_at": STRING, "last_used_at": nullable("string"),
        "revoked_at": nullable("string")})


def _offer() -> dict[str, Any]:
    return record({
        "id": INTEGER, "program_id": INTEGER, "title": STRING, "body": STRING,
        "starts_at": STRING, "ends_at": nullable("string"), "audience": {"type": "object"},
        "promotional": BOOLEAN, "status": {"enum": ["draft", "active", "ended"]},
        "published_at": nullable("string")})


def _alert() -> dict[str, Any]:
    return record({
        "id": INTEGER, "kind": STRING, "detail": STRING, "card_id": nullable("integer"),
        "program_id": nullable("integer"), "api_key_id": nullable("integer"),
        "location_id": nullable("integer"), "created_at": STRING})


def _deliveries() -> dict[str, Any]:
    device = record({
        "device": STRING, "registered_at": nullable("string"), "status": STRING,
        "pending": BOOLEAN, "attempts": INTEGER, "next_attempt_at": nullable("string"),
        "last_pushed_at": nullable("string"), "last_result": nullable("string"),
        "last_status": nullable("integer"), "last_error": nullable("string")})
    message = record({
        "id": INTEGER, "kind": STRING, "header": STRING, "status": STRING,
        "notified": BOOLEAN, "budget_spent": BOOLEAN, "sent_at": nullable("string"),
        "last_error": nullable("string")})
    google = record({
        "object_id": STRING, "status": {"enum": ["pending", "synced", "failed"]},
        "inserted": BOOLEAN, "pending": BOOLEAN, "attempts": INTEGER,
        "last_synced_at": nullable("string"), "last_status": nullable("integer"),
        "last_error": nullable("string"), "saved_at": nullable("string"),
        "removed_at": nullable("string"), "messages": {"type": "array", "items": message}})
    return record({
        "card_id": INTEGER, "pass_version": INTEGER,
        "deliveries": {"type": "array", "items": device},
        "google": {"oneOf": [google, {"type": "null"}], "description": (
            "null while Google Wallet is off or before the card's object exists")},
        "mails": {"type": "array", "items": _mail()}})


def _mail() -> dict[str, Any]:
    return record({
        "id": INTEGER, "kind": {"enum": ["card_recovery"]},
        "program_id": nullable("integer"),
        "status": {"enum": ["pending", "sent", "failed"], "description": (
            "failed: parked after its last attempt, refused for good by the mail server, "
            "or its link used or expired before it could go")},
        "attempts": INTEGER, "next_attempt_at": nullable("string"),
        "created_at": STRING, "sent_at": nullable("string"),
        "last_error": nullable("string")})


def response_schemas() -> dict[str, Any]:
    return {
        "Problem": _problem(),
        "Program": _program(), "Programs": listing("programs", "Program"),
        "Location": record({"id": INTEGER, "program_id": INTEGER, "name": STRING,
                            "address": nullable("string"), "latitude": nullable("number"),
                            "longitude": nullable("number"), "join_url": STRING}),
        "Locations": listing("locations", "Location"),
        "Card": _card(), "LookedUpCard": _looked_up(),
        "ApiKey": _api_key(),
        "NewApiKey": {"allOf": [ref("ApiKey"), record({"api_key": STRING})]},
        "ApiKeys": listing("api_keys", "ApiKey"),
        "Purchase": _purchase(), "Refund": _refund(), "Entry": _entry(),
        "Adjustment": {"allOf": [ref("Entry"), record({"balance": INTEGER})]},
        "Entries": {"allOf": [listing("entries", "Entry"),
                              record({"next": nullable("integer")})]},
        "Alerts": listing("alerts", "Alert"), "Alert": _alert(),
        "Offer": _offer(), "Offers": listing("offers", "Offer"),
        "Published": record({"cards": INTEGER}),
        "CardLink": record({"card_url": STRING}),
        "Deliveries": _deliveries(), "Requeued": record({"requeued": INTEGER}),
        "PushCounts": record({"pending": INTEGER, "failed": INTEGER, "delivered": INTEGER,
                              "devices": INTEGER}),
    }
