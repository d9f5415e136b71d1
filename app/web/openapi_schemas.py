"""JSON Schemas of what the API answers, for the OpenAPI description.

Each mirrors a function that writes a body (``app.web.json_shapes``,
``app.ledger.service``, ``app.ledger.purchases``, ``app.offers.service``,
``app.delivery.deliveries``, ``app.google_wallet.service``, ``app.web.problems``): a field
they may leave null is nullable here, and every field they always write is required.
Objects stay open to new fields. A problem's ``code`` is one of
``app.problem_codes.ProblemCode``. The schemathesis run in the test suite checks every
answer against them.
"""

from __future__ import annotations

from typing import Any, get_args

from app.analytics.models import SEGMENTS
from app.i18n import LOCALES
from app.ledger.models import ALERT_KINDS, ENTRY_KINDS
from app.merchants.fraud_thresholds import SWITCHES, FraudThresholds
from app.merchants.models import ROLES, ContactRule
from app.merchants.schemas import BarcodeFormat
from app.problem_codes import ProblemCode

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


def _problem_schema() -> dict[str, Any]:
    error = record({"field": STRING, "message": STRING})
    code = {"type": "string", "enum": [code.value for code in ProblemCode],
            "description": "stable; each is in the README's table of error codes"}
    return record({"type": STRING, "status": INTEGER, "title": STRING, "detail": STRING,
                   "code": code, "errors": {"type": "array", "items": error}},
                  optional=("errors",))


def _localized_text_schema() -> dict[str, Any]:
    return {"oneOf": [STRING, {"type": "object", "propertyNames": {"enum": list(LOCALES)},
                               "additionalProperties": STRING}],
            "description": "A text as the merchant gave it: one string for every language, "
                           "or an object of language codes to texts. A customer reads their "
                           "language's, else the program's first language's, else the first "
                           "of its other languages that has one."}


def _program_schema() -> dict[str, Any]:
    tier = record({"key": {**STRING, "description": (
                       "the tier's identity: what a card's tier and an offer's audience "
                       "name")},
                   "name": ref("LocalizedText"), "min_spend": INTEGER, "earn_percent": NUMBER})
    colors = record({"background": STRING, "foreground": STRING, "label": STRING})
    limits = record({name: nullable("integer") for name in (
        "purchases_per_card_per_hour", "purchases_per_card_per_day",
        "points_per_cashier_per_day")})
    fraud = record({name: nullable("integer") if name in SWITCHES else INTEGER
                    for name in FraudThresholds.model_fields})
    return record({
        "id": INTEGER, "slug": STRING, "name": ref("LocalizedText"),
        "kind": {"enum": ["points", "stamps"]}, "currency": STRING,
        "country": nullable("string"), "earn_percent": NUMBER, "point_value": INTEGER,
        "welcome_points": INTEGER, "tiers": {"type": "array", "items": tier},
        "stamps_required": nullable("integer"), "reward_text": ref("LocalizedText"),
        "colors": colors, "locales": {"type": "array", "items": STRING},
        "barcode_format": {"enum": list(get_args(BarcodeFormat))}, "limits": limits,
        "fraud": fraud,
        "terms": ref("LocalizedText"), "contact": {"enum": [rule.value for rule in ContactRule]},
        "ask_birthday": BOOLEAN, "terms_url": nullable("string"), "privacy": STRING,
        "privacy_url": nullable("string"), "support_email": nullable("string"),
        "support_phone": nullable("string"), "website": nullable("string"),
        "has_logo": BOOLEAN, "has_strip": BOOLEAN, "has_stamp_icon": BOOLEAN,
        "design_version": INTEGER, "join_url": STRING,
        "qr_url": STRING, "created_at": STRING})


def _card_schema() -> dict[str, Any]:
    customer = record({"name": STRING, "email": nullable("string"),
                       "phone": nullable("string"), "locale": STRING,
                       "marketing_consent": BOOLEAN, "birthday": nullable("string"),
                       "masked": {"type": "boolean", "description": (
                           "true where the role may not read customers whole (an "
                           "analyst): the email and phone masked, no birthday, and the "
                           "card's barcode message, apple_pass_url, card_url and "
                           "google_save_url null")}})
    return record({
        "id": INTEGER, "program_id": INTEGER, "number": STRING, "serial_number": STRING,
        "status": {"enum": ["active", "blocked", "deleted"]}, "balance": INTEGER,
        "tier": nullable("string"), "stamps": INTEGER, "rewards": INTEGER,
        "visits": INTEGER, "lifetime_spend": INTEGER, "last_visit_at": nullable("string"),
        "location_id": {"type": ["integer", "null"], "description": (
            "the location whose join link (counter QR code, poster) the customer used")},
        "source": {"type": ["string", "null"], "description": (
            "the campaign tag of that join link (?src=)")},
        "barcode": record({"format": STRING, "message": nullable("string")}),
        "apple_pass_url": nullable("string"), "card_url": nullable("string"),
        "customer": customer, "created_at": STRING,
        "google_save_url": {"type": ["string", "null"], "description": (
            "https://pay.google.com/gp/v/save/<JWT>; absent while Google Wallet is off, "
            "null for a role that may not act for the customer")},
        "segment": {"anyOf": [_card_segment_schema(), {"type": "null"}], "description": (
            "the customer's RFM segment and scores (1-5, 5 best) as last computed; null "
            "when the card has none (no purchase yet, or not computed since); written by "
            "GET /cards/{id} and the card search")},
    }, optional=("google_save_url", "segment"))


def _card_segment_schema() -> dict[str, Any]:
    return record({"name": {"enum": list(SEGMENTS)}, "recency": INTEGER, "frequency": INTEGER,
                   "monetary": INTEGER, "computed_at": STRING})


def _looked_up_schema() -> dict[str, Any]:
    program = record({"id": INTEGER, "name": STRING, "kind": STRING, "currency": STRING,
                      "point_value": INTEGER, "stamps_required": nullable("integer")})
    coupon = record({
        "id": {**INTEGER, "description": "the coupon's offer: name it as a purchase's "
                                         "`coupon`"},
        "title": STRING, "points": INTEGER, "text": STRING})
    extra = record({"redeemable_points": INTEGER, "redeemable_value": INTEGER,
                    "offers": {"type": "array", "items": ref("Offer")},
                    "coupons": {"type": "array", "items": coupon, "description": (
                        "the coupons the card may use now (published to it, running, "
                        "not used yet)")}, "program": program})
    return {"allOf": [ref("Card"), extra]}


def _purchase_schema() -> dict[str, Any]:
    return record({
        "id": INTEGER, "card_id": INTEGER, "amount": INTEGER, "amount_paid": INTEGER,
        "earned": INTEGER, "bonus": INTEGER, "redeemed": INTEGER, "redeemed_value": INTEGER,
        "stamps_added": INTEGER, "rewards_redeemed": INTEGER, "refunded_amount": INTEGER,
        "balance": INTEGER, "tier": nullable("string"), "stamps": INTEGER, "rewards": INTEGER,
        "location_id": nullable("integer"), "external_id": nullable("string"),
        "created_at": STRING})


def _refund_schema() -> dict[str, Any]:
    return record({
        "id": INTEGER, "purchase_id": INTEGER, "card_id": INTEGER, "amount": INTEGER,
        "refunded_total": INTEGER, "points_reversed": INTEGER, "points_returned": INTEGER,
        "points_forgone": INTEGER, "balance": INTEGER, "tier": nullable("string"),
        "stamps": INTEGER, "created_at": STRING})


def _entry_schema() -> dict[str, Any]:
    return record({
        "id": INTEGER, "kind": {"enum": list(ENTRY_KINDS)},
        "points": INTEGER, "stamps": INTEGER, "rewards": INTEGER,
        "purchase_id": nullable("integer"), "refund_id": nullable("integer"),
        "location_id": nullable("integer"), "api_key_id": nullable("integer"),
        "reason": STRING, "created_at": STRING})


def _api_key_schema() -> dict[str, Any]:
    return record({
        "id": INTEGER, "role": {"enum": list(ROLES)},
        "name": STRING, "location_id": nullable("integer"), "prefix": STRING,
        "created_at": STRING, "last_used_at": nullable("string"),
        "revoked_at": nullable("string")})


def _offer_schema() -> dict[str, Any]:
    return record({
        "id": INTEGER, "program_id": INTEGER, "title": ref("LocalizedText"),
        "body": ref("LocalizedText"),
        "starts_at": STRING, "ends_at": nullable("string"), "audience": {"type": "object"},
        "promotional": BOOLEAN, "status": {"enum": ["draft", "scheduled", "active", "ended"]},
        "published_at": nullable("string"), "ended_at": nullable("string"),
        "mechanic": {"type": ["object", "null"], "description": (
            "what the offer does at the till: {\"type\": \"bonus_points\", \"points\": N}, "
            "{\"type\": \"multiplier\", \"factor\": F}, or {\"type\": \"coupon\", "
            "\"points\": N?, \"text\": T?}; null: text on the pass only")},
        "automatic": {**BOOLEAN, "description": "an automatic offer's (a rule of the "
                                                 "program's automations): sent to one card "
                                                 "at a time"}})


def _automations_schema() -> dict[str, Any]:
    texts = {"enabled": BOOLEAN, "title": {"oneOf": [ref("LocalizedText"), {"type": "null"}]},
             "body": {"oneOf": [ref("LocalizedText"), {"type": "null"}]},
             "holdout_percent": INTEGER, "valid_days": {**INTEGER, "description": (
                 "days a send stays on the customer's pass")},
             "offer_id": {**nullable("integer"), "description": (
                 "the rule's offer (its results: GET /api/v1/offers/{id}/results); null "
                 "until the rule is given a title")}}
    rules = {
        "welcome": record({**texts, "days": INTEGER}),
        "birthday": record({**texts, "when": {"enum": ["day", "week"]}}),
        "we_miss_you": record({**texts, "floor_days": INTEGER, "max_days": INTEGER}),
        "tier_upgrade": record(texts)}
    return record({"program_id": INTEGER, "weekly_cap": {**INTEGER, "description": (
                       "notifying messages a customer may get in seven days")},
                   "pause_over_budget": BOOLEAN, "rules": record(rules)})


def _offer_reach_schema() -> dict[str, Any]:
    delivery = record({"sent": INTEGER, "failed": INTEGER, "pending": INTEGER})
    return record({
        "cards": {**INTEGER, "description": "cards the offer reached (the control group "
                                            "not among them)"},
        "held_out": INTEGER, "devices": INTEGER, "pushes": delivery,
        "google_objects": INTEGER, "google_messages": delivery})


def _offer_results_schema() -> dict[str, Any]:
    """``app.offers.results.OfferResults.as_dict``."""
    metrics = ("visits", "purchases", "spend", "redemptions")
    means = record(dict.fromkeys(metrics, NUMBER))
    group = record({"customers": INTEGER, "before": means, "during": means})
    comparison = record({
        "estimate": {**NUMBER, "description": "treated minus control of the mean change "
                                              "per customer (during − before)"},
        "ci_low": nullable("number"), "ci_high": nullable("number"),
        "p_value": {**nullable("number"), "description": "Welch's t-test; null when a "
                                                         "group has fewer than two customers"},
        "significant": BOOLEAN})
    difference = record({"primary_metric": {"type": "string", "enum": ["spend"]},
                         "confidence": NUMBER, **dict.fromkeys(metrics, comparison)})
    return record({"treated": group, "control": group, "difference": difference,
                   "significant": {**BOOLEAN, "description": "the primary metric's"}})


def _alert_schema() -> dict[str, Any]:
    return record({
        "id": INTEGER, "kind": {"enum": list(ALERT_KINDS), "description": (
            "velocity_limit: a purchase the program's limits refused; repeated_scans, "
            "threshold_amounts, redeem_elsewhere, enrolment_burst: the fraud detector's "
            "patterns (the program's fraud thresholds)")},
        "detail": STRING, "card_id": nullable("integer"),
        "card_number": nullable("string"),
        "program_id": nullable("integer"), "api_key_id": nullable("integer"),
        "staff_id": {**nullable("integer"), "description": (
            "the staff member at the dashboard's cashier screen, when the pattern is a "
            "cashier's")},
        "evidence": {"type": "object", "description": (
            "what the pattern rests on: 'purchases' (each with id, card_id, card_number, "
            "amount, amount_paid, earned, bonus, redeemed, location_id, api_key_id, "
            "created_at) or 'cards' (id, number, created_at, location_id), at most 50, "
            "and the figures the pattern counted; {} for velocity_limit")},
        "location_id": nullable("integer"), "created_at": STRING,
        "acknowledged_at": {**nullable("string"), "description": "null until acknowledged"},
        "acknowledged_by_staff_id": nullable("integer"),
        "acknowledged_by_api_key_id": nullable("integer")})


def _deliveries_schema() -> dict[str, Any]:
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
        "mails": {"type": "array", "items": _mail_schema()}})


def _mail_schema() -> dict[str, Any]:
    return record({
        "id": INTEGER, "kind": {"enum": ["card_recovery"]},
        "program_id": nullable("integer"),
        "status": {"enum": ["pending", "sent", "failed"], "description": (
            "failed: parked after its last attempt, refused for good by the mail server, "
            "or its link used or expired before it could go")},
        "attempts": INTEGER, "next_attempt_at": nullable("string"),
        "created_at": STRING, "sent_at": nullable("string"),
        "last_error": nullable("string")})


def _import_preview_schema() -> dict[str, Any]:
    problem = record({"row": INTEGER, "field": STRING, "code": STRING, "message": STRING,
                      "of_row": {**INTEGER, "description": "the earlier row a duplicate "
                                                           "repeats"}}, optional=("of_row",))
    outcome = record({"row": INTEGER,
                      "outcome": {"enum": ["new_customer", "new_card", "matched"]}})
    return record({
        **{name: INTEGER for name in ("rows", "valid_rows", "problem_rows", "new_customers",
                                       "new_cards", "matched", "points")},
        "columns": {"type": "array", "items": STRING},
        "ignored_columns": {"type": "array", "items": STRING},
        "problems": {"type": "array", "items": problem},
        "outcomes": {"type": "array", "items": outcome}})


def _stats_schema() -> dict[str, Any]:
    wallets = record({"apple": INTEGER, "google": INTEGER})
    counts = {"type": "object", "additionalProperties": INTEGER}
    return record({
        "from": {"type": "string", "format": "date"}, "to": {"type": "string", "format": "date"},
        "location": nullable("integer"), "currency": STRING,
        **{name: INTEGER for name in (
            "point_value", "enrollments", "active_customers_30d", "purchases", "turnover",
            "refunded", "average_check", "points_issued", "points_redeemed", "points_expired",
            "points_adjusted", "points_outstanding", "liability", "customers", "visits")},
        **{name: nullable("number") for name in (
            "reward_cost_share", "visit_frequency", "median_days_between_visits",
            "repeat_purchase_share", "reachable_share")},
        "installs": wallets, "removals": wallets, "tiers": counts, "segments": counts,
        "reach": record({name: INTEGER for name in (
            "cards", "reachable", "failing", "removed", "never_installed")}),
        "cards_counted_at": nullable("string"),
    })


def response_schemas() -> dict[str, Any]:
    from app.web.openapi_webhooks import webhook_schemas  # it builds on this module's


    return {
        "Problem": _problem_schema(), "LocalizedText": _localized_text_schema(),
        "Program": _program_schema(), "Programs": listing("programs", "Program"),
        "Location": record({"id": INTEGER, "program_id": INTEGER, "name": STRING,
                            "address": nullable("string"), "latitude": nullable("number"),
                            "longitude": nullable("number"), "join_url": STRING}),
        "Locations": listing("locations", "Location"),
        "Card": _card_schema(), "LookedUpCard": _looked_up_schema(),
        "ApiKey": _api_key_schema(),
        "NewApiKey": {"allOf": [ref("ApiKey"), record({"api_key": STRING})]},
        "ApiKeys": listing("api_keys", "ApiKey"),
        "Purchase": _purchase_schema(), "Refund": _refund_schema(), "Entry": _entry_schema(),
        "Adjustment": {"allOf": [ref("Entry"), record({"balance": INTEGER})]},
        "Entries": {"allOf": [listing("entries", "Entry"),
                              record({"next": nullable("integer")})]},
        "Cards": {"allOf": [listing("cards", "Card"), record({"next": nullable("integer")})]},
        "Alerts": listing("alerts", "Alert"), "Alert": _alert_schema(),
        "Offer": _offer_schema(), "Offers": listing("offers", "Offer"),
        "Automations": _automations_schema(),
        "Published": record({"cards": INTEGER, "status": {
            "type": "string", "enum": ["published", "scheduled"]}}),
        "EndedOffer": {"allOf": [ref("Offer"), record({"passes": INTEGER})]},
        "OfferReach": _offer_reach_schema(),
        "OfferResults": _offer_results_schema(),
        "CardLink": record({"card_url": STRING}),
        "SegmentRefresh": record({"program_id": INTEGER, "cards": INTEGER,
                                  "refreshed_at": nullable("string"),
                                  "queued": {"type": "boolean"}}),
        "Deliveries": _deliveries_schema(), "Requeued": record({"requeued": INTEGER}),
        "ImportPreview": _import_preview_schema(),
        "ImportSummary": record({name: INTEGER for name in (
            "rows", "skipped_rows", "matched", "created_customers", "created_cards",
            "old_numbers", "points", "consents_given")}),
        "Stats": _stats_schema(),
        "PushCounts": record({"pending": INTEGER, "failed": INTEGER, "delivered": INTEGER,
                              "devices": INTEGER}),
        **webhook_schemas(),
    }
