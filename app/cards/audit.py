"""The audit trail of a customer's data: who changed what, and when.

Invariants: an event is added in the transaction of the change it records (the use case
commits both or neither); it names the fields changed, never their values, so that the
trail holds no personal data and outlives an erasure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from app.cards.models import AuditActor, AuditEvent, Card, Customer
from app.clock import utcnow


class AuditAction(StrEnum):
    CONTACT_CHANGED = "contact.changed"
    CONSENT_GIVEN = "consent.given"
    CONSENT_WITHDRAWN = "consent.withdrawn"
    DATA_EXPORTED = "data.exported"
    DATA_ERASED = "data.erased"


@dataclass(frozen=True)
class Who:
    """Who acts on a customer's data: the customer, a merchant's API key, or Loyalpass."""

    actor: AuditActor
    api_key_id: int | None = None

    @classmethod
    def customer(cls) -> Who:
        return cls(AuditActor.CUSTOMER)

    @classmethod
    def merchant_key(cls, api_key_id: int) -> Who:
        return cls(AuditActor.MERCHANT_KEY, api_key_id)

    @classmethod
    def system(cls) -> Who:
        return cls(AuditActor.SYSTEM)


def record(session: Session, who: Who, action: AuditAction, *, customer: Customer,
           card: Card | None, fields: Iterable[str] = (), **detail: Any) -> AuditEvent:
    """Add the event to the caller's transaction. ``detail`` must hold no personal value
    (ids, counts and moments only)."""
    event = AuditEvent(merchant_id=customer.merchant_id, actor=who.actor.value,
                       api_key_id=who.api_key_id, action=action.value,
                       customer_id=customer.id, card_id=card.id if card else None,
                       detail={"fields": sorted(fields), **detail}, created_at=utcnow())
    session.add(event)
    return event
