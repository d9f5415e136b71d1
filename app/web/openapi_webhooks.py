"""JSON Schemas of the webhooks API's answers (``app.webhooks.service``'s
``endpoint_json`` and ``delivery_json``), for the OpenAPI description."""

from __future__ import annotations

from typing import Any

from app.outbox.webhooks import EVENT_TYPES
from app.web.openapi_schemas import INTEGER, STRING, listing, nullable, record, ref
from app.webhooks.models import DELIVERY_STATES


def webhook_schemas() -> dict[str, Any]:
    events = {"type": "array", "items": {"enum": list(EVENT_TYPES)}}
    return {
        "WebhookEndpoint": record({"id": INTEGER, "url": STRING, "events": events,
                                   "created_at": STRING}),
        "NewWebhookEndpoint": {"allOf": [ref("WebhookEndpoint"), record({"secret": STRING})]},
        "WebhookEndpoints": listing("webhooks", "WebhookEndpoint"),
        "WebhookDelivery": record({
            "id": INTEGER, "event_id": STRING, "type": {"enum": list(EVENT_TYPES)},
            "card_id": nullable("integer"), "status": {"enum": list(DELIVERY_STATES)},
            "attempts": INTEGER, "last_status": nullable("integer"),
            "last_error": nullable("string"), "created_at": STRING,
            "sent_at": nullable("string"), "next_attempt_at": nullable("string"),
            "payload": record({"id": STRING, "type": STRING, "created_at": STRING,
                               "data": {"type": "object"}})}),
        "WebhookDeliveries": {"allOf": [listing("deliveries", "WebhookDelivery"),
                                        record({"next": nullable("integer")})]},
    }
