"""A merchant's webhook endpoints, the event types each takes, and the deliveries.

A delivery is one event to one endpoint: its body is fixed when the change commits
(``payload``: the JSON sent, ``{"id", "type", "created_at", "data"}``), so every attempt
and every redelivery sends the same bytes' content and the same event id. ``card_id``
orders a card's deliveries to an endpoint (a later one waits while an earlier one is
pending); it is not a foreign key, so that erasing a card never waits on its log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utcnow
from app.db import Base
from app.outbox.models import QueuedRow, leased_by_index

DELIVERY_STATES = ("pending", "sent", "failed")


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    # Signs every delivery (``Loyalpass-Signature``); shown to the merchant once.
    secret: Mapped[str] = mapped_column(String(80))
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class WebhookSubscription(Base):
    """That an endpoint takes an event type: what the in-transaction writer joins on
    (by merchant and type), so a change of a merchant without endpoints writes nothing."""

    __tablename__ = "webhook_subscriptions"

    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"),
                                             primary_key=True)
    event_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))

    __table_args__ = (
        Index("ix_webhook_subscriptions_merchant_type", "merchant_id", "event_type"),
    )


class WebhookDelivery(QueuedRow, Base):
    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"))
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    event_id: Mapped[str] = mapped_column(String(40))
    event_type: Mapped[str] = mapped_column(String(32))
    card_id: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    last_status: Mapped[int | None] = mapped_column(Integer)  # the receiver's HTTP status

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status"),
        Index("ix_webhook_deliveries_due", "status", "available_at"),
        leased_by_index("webhook_deliveries"),
        Index("ix_webhook_deliveries_endpoint_card", "endpoint_id", "card_id", "id"),
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"),
    )
