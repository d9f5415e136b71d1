"""What a merchant sends to register a webhook endpoint."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from app.validation import LINE, Body
from app.webhooks.addresses import MAX_URL_LENGTH

EventType = Literal["card.created", "card.installed", "card.removed", "purchase.created",
                    "purchase.refunded", "points.changed", "tier.changed", "offer.published"]


class WebhookCreate(Body):
    url: Annotated[str, Field(min_length=1, max_length=MAX_URL_LENGTH), LINE]
    events: Annotated[list[EventType], Field(min_length=1, max_length=8)]

    @field_validator("events")
    @classmethod
    def _once_each(cls, events: list[str]) -> list[str]:
        if len(set(events)) != len(events):
            raise ValueError("names an event type twice")
        return events
