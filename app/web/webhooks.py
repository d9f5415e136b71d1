"""Webhooks (``/api/v1/webhooks``): the merchant's endpoints, their delivery log, and
redelivery. Owners and managers only: a delivery's body holds customers' card data."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from app.errors import BadRequest
from app.problem_codes import ProblemCode
from app.validation import MAX_INT32, parse
from app.web.auth import WRITERS, merchant_id, requires
from app.web.context import db, json_response, runtime
from app.web.openapi import documented, query_parameter, response_doc
from app.web.query_args import int_arg
from app.webhooks import service as webhooks
from app.webhooks.schemas import WebhookCreate

blueprint = Blueprint("webhooks", __name__)
MAX_PAGE = 200
ENDPOINT = response_doc("the endpoint", "WebhookEndpoint")
DELIVERY = response_doc("the delivery", "WebhookDelivery")


def _body() -> Any:
    data = request.get_json(silent=True) if request.data else None
    if data is None:
        raise BadRequest("The request needs a JSON object as its body.",
                         code=ProblemCode.MALFORMED_BODY)
    return data


@blueprint.post("/v1/webhooks")
@documented("Register a webhook endpoint for event types; its signing secret is shown once",
            {"201": response_doc("the endpoint, with secret", "NewWebhookEndpoint")},
            body=WebhookCreate,
            refusals=(ProblemCode.WEBHOOK_URL_REFUSED, ProblemCode.WEBHOOK_LIMIT))
@requires(*WRITERS)
def create_webhook() -> Response:
    created = webhooks.create_endpoint(
        db(), merchant_id=merchant_id(), data=parse(WebhookCreate, _body()),
        allow_private=runtime().config.webhooks_allow_private)
    return json_response({**webhooks.endpoint_json(created.endpoint),
                          "secret": created.secret}, 201)


@blueprint.get("/v1/webhooks")
@documented("List webhook endpoints (no secrets)",
            {"200": response_doc("endpoints", "WebhookEndpoints")})
@requires(*WRITERS)
def list_webhooks() -> Response:
    found = webhooks.list_endpoints(db(), merchant_id=merchant_id())
    return json_response({"webhooks": [webhooks.endpoint_json(each) for each in found]})


@blueprint.delete("/v1/webhooks/<int:endpoint_id>")
@documented("Delete a webhook endpoint with its delivery log (pending deliveries are "
            "not sent)", {"200": ENDPOINT})
@requires(*WRITERS)
def delete_webhook(endpoint_id: int) -> Response:
    return json_response(webhooks.delete_endpoint(db(), merchant_id=merchant_id(),
                                                  endpoint_id=endpoint_id))


@blueprint.get("/v1/webhooks/<int:endpoint_id>/deliveries")
@documented("The endpoint's deliveries, newest first",
            {"200": response_doc("deliveries, and the next page's before",
                                 "WebhookDeliveries")},
            query=(query_parameter("limit", "page size (default 50)", 1, MAX_PAGE),
                   query_parameter("before", "the next of the previous page")))
@requires(*WRITERS)
def webhook_deliveries(endpoint_id: int) -> Response:
    limit = int_arg("limit", 50, 1, MAX_PAGE)
    before = int_arg("before", None, 1, MAX_INT32)
    rows, following = webhooks.deliveries(db(), merchant_id=merchant_id(),
                                          endpoint_id=endpoint_id, limit=limit, before=before)
    return json_response({"deliveries": [webhooks.delivery_json(row) for row in rows],
                          "next": following})


# One id per path, as every API path has (``app.web.openapi``): a delivery's id names it.
@blueprint.post("/v1/webhooks/deliveries/<int:delivery_id>/redeliver")
@documented("Send a delivery again, now (the same event id and body, signed anew)",
            {"202": DELIVERY})
@requires(*WRITERS)
def redeliver_webhook(delivery_id: int) -> Response:
    delivery = webhooks.redeliver(db(), merchant_id=merchant_id(), delivery_id=delivery_id)
    return json_response(webhooks.delivery_json(delivery), 202)
