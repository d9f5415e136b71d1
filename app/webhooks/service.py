"""Webhook endpoints and their delivery log: the use cases behind ``/api/v1/webhooks``
and the dashboard's webhooks page.

Each use case takes the merchant it acts for; an endpoint or delivery of another merchant
is ``NotFound``. Creating an endpoint returns its secret, once: it is never answered
again. Deleting one deletes its subscriptions and its deliveries (pending ones are not
sent). A redelivery queues the delivery again now, with its attempts and its retry
window started afresh: the receiver gets the same body and event id, signed anew.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.clock import iso, utcnow
from app.errors import Conflict, Invalid, NotFound
from app.outbox.messages import wake_after_commit
from app.problem_codes import ProblemCode
from app.webhooks.addresses import AddressRefused, target_of
from app.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookSubscription
from app.webhooks.schemas import WebhookCreate

MAX_ENDPOINTS = 20  # per merchant
SECRET_PREFIX = "whsec_"  # noqa: S105 (how a secret starts, not a secret)


@dataclass(frozen=True)
class NewEndpoint:
    endpoint: WebhookEndpoint
    secret: str  # shown to the merchant this once


def create_endpoint(session: Session, *, merchant_id: int, data: WebhookCreate,
                    allow_private: bool) -> NewEndpoint:
    """Register an endpoint for ``data.events``; its URL is checked as each delivery's
    will be (``app.webhooks.addresses``)."""
    try:
        target_of(data.url, allow_private=allow_private)
    except AddressRefused as refused:
        raise Invalid(f"url: {refused}.", code=ProblemCode.WEBHOOK_URL_REFUSED,
                      errors=[{"field": "url", "message": str(refused)}]) from None
    count = session.scalar(select(func.count()).select_from(WebhookEndpoint)
                           .where(WebhookEndpoint.merchant_id == merchant_id)) or 0
    if count >= MAX_ENDPOINTS:
        raise Conflict(f"A merchant may have {MAX_ENDPOINTS} webhook endpoints; delete one "
                       "first.", code=ProblemCode.WEBHOOK_LIMIT)
    secret = SECRET_PREFIX + secrets.token_hex(24)
    endpoint = WebhookEndpoint(merchant_id=merchant_id, url=data.url, secret=secret,
                               events=list(data.events), created_at=utcnow())
    session.add(endpoint)
    session.flush()
    session.add_all(WebhookSubscription(endpoint_id=endpoint.id, event_type=event_type,
                                        merchant_id=merchant_id) for event_type in data.events)
    session.commit()
    return NewEndpoint(endpoint=endpoint, secret=secret)


def list_endpoints(session: Session, *, merchant_id: int) -> list[WebhookEndpoint]:
    return list(session.scalars(select(WebhookEndpoint)
                                .where(WebhookEndpoint.merchant_id == merchant_id)
                                .order_by(WebhookEndpoint.id)))


def get_endpoint(session: Session, *, merchant_id: int, endpoint_id: int) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.merchant_id != merchant_id:
        raise NotFound("No such webhook endpoint.")
    return endpoint


def delete_endpoint(session: Session, *, merchant_id: int, endpoint_id: int
                    ) -> dict[str, Any]:
    """Delete the endpoint with its subscriptions and deliveries; its JSON as it was."""
    endpoint = get_endpoint(session, merchant_id=merchant_id, endpoint_id=endpoint_id)
    gone = endpoint_json(endpoint)
    session.execute(delete(WebhookSubscription)
                    .where(WebhookSubscription.endpoint_id == endpoint.id))
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id))
    session.delete(endpoint)
    session.commit()
    return gone


def deliveries(session: Session, *, merchant_id: int, endpoint_id: int, limit: int,
               before: int | None) -> tuple[list[WebhookDelivery], int | None]:
    """The endpoint's deliveries, newest first, and the id to ask ``before`` next."""
    endpoint = get_endpoint(session, merchant_id=merchant_id, endpoint_id=endpoint_id)
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
    if before is not None:
        query = query.where(WebhookDelivery.id < before)
    rows = list(session.scalars(query.order_by(WebhookDelivery.id.desc()).limit(limit + 1)))
    following = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], following


def redeliver(session: Session, *, merchant_id: int, delivery_id: int) -> WebhookDelivery:
    """Queue the delivery again, now (the same body and event id)."""
    delivery = session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if delivery is None or delivery.merchant_id != merchant_id:
        raise NotFound("No such webhook delivery.")
    delivery.status, delivery.attempts = "pending", 0
    delivery.available_at, delivery.leased_until = utcnow(), None
    wake_after_commit(session)
    session.commit()
    return delivery


def endpoint_json(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {"id": endpoint.id, "url": endpoint.url, "events": list(endpoint.events),
            "created_at": iso(endpoint.created_at)}


def delivery_json(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": delivery.id, "event_id": delivery.event_id, "type": delivery.event_type,
        "card_id": delivery.card_id, "status": delivery.status,
        "attempts": delivery.attempts, "last_status": delivery.last_status,
        "last_error": delivery.last_error, "created_at": iso(delivery.created_at),
        "sent_at": iso(delivery.sent_at),
        "next_attempt_at": iso(delivery.available_at) if delivery.status == "pending"
        else None,
        "payload": delivery.payload,
    }
