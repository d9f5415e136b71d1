"""The webhook events of the ledger's changes (``app.outbox.webhooks`` writes them).

A purchase writes ``purchase.created``, and ``points.changed`` when its entries move the
balance, and ``tier.changed`` when it moves the card to another tier; a refund writes
``purchase.refunded`` and the same two; an adjustment or an expiry ``points.changed``
(and ``tier.changed`` if any). Each event's ``data`` names the card and its program, and
says the card's figures after the change, so a receiver needs no read back.

The purchase path writes its events in its own statement (``purchase_events`` gives
them as rows); the other use cases call ``card_events`` in their transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.cards.models import Card
from app.outbox.webhooks import (
    POINTS_CHANGED,
    PURCHASE_CREATED,
    TIER_CHANGED,
    event_body,
    new_event_id,
    webhook_event,
)


@dataclass(frozen=True)
class Before:
    """A card's balance and tier before the change."""

    balance: int
    tier: str | None


def points_data(*, card_id: int, program_id: int, change: int, balance: int, reason: str,
                purchase_id: int | None) -> dict[str, Any]:
    return {"card_id": card_id, "program_id": program_id, "change": change,
            "balance": balance, "reason": reason, "purchase_id": purchase_id}


def tier_data(*, card_id: int, program_id: int, tier_from: str | None, tier_to: str | None
              ) -> dict[str, Any]:
    return {"card_id": card_id, "program_id": program_id, "from": tier_from, "to": tier_to}


def purchase_events(purchase: dict[str, Any], *, program_id: int, before: Before,
                    now: datetime) -> list[dict[str, Any]]:
    """A purchase's events as rows (``{"id", "event_type", "payload"}``) for its statement;
    ``purchase`` is the purchase as the API answers it."""
    card_id, balance = purchase["card_id"], purchase["balance"]
    typed: list[tuple[str, dict[str, Any]]] = [
        (PURCHASE_CREATED, {**purchase, "program_id": program_id})]
    if balance != before.balance:
        typed.append((POINTS_CHANGED, points_data(
            card_id=card_id, program_id=program_id, change=balance - before.balance,
            balance=balance, reason="purchase", purchase_id=purchase["id"])))
    if purchase["tier"] != before.tier:
        typed.append((TIER_CHANGED, tier_data(card_id=card_id, program_id=program_id,
                                              tier_from=before.tier,
                                              tier_to=purchase["tier"])))
    rows = []
    for event_type, data in typed:
        event_id = new_event_id()
        rows.append({"id": event_id, "event_type": event_type, "payload": event_body(
            event_id=event_id, event_type=event_type, created_at=now, data=data)})
    return rows


def card_events(session: Session, card: Card, *, before: Before, reason: str,
                purchase_id: int | None = None) -> None:
    """``points.changed`` and ``tier.changed`` for what the caller's change did to the
    card (its figures refreshed already), in the caller's transaction."""
    if card.balance != before.balance:
        webhook_event(session, merchant_id=card.merchant_id, event_type=POINTS_CHANGED,
                      card_id=card.id, data=points_data(
                          card_id=card.id, program_id=card.program_id,
                          change=card.balance - before.balance, balance=card.balance,
                          reason=reason, purchase_id=purchase_id))
    if card.tier != before.tier:
        webhook_event(session, merchant_id=card.merchant_id, event_type=TIER_CHANGED,
                      card_id=card.id, data=tier_data(
                          card_id=card.id, program_id=card.program_id,
                          tier_from=before.tier, tier_to=card.tier))
